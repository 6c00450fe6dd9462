//! `modtag-intake`: everything that talks to the outside world, and the `modtag` binary.
//!
//! The folders are the architecture (see `ARCHITECTURE.md`):
//! - [`app`] and [`clock`] at the bottom: what the running daemon shares, and its one clock.
//! - [`smtp`]: the SMTP listener; its protocol core is a sans-IO state machine.
//! - [`understand`]: reading a message for triage: kind, reporter, CPR/CVR, attachments,
//!   forwards, encrypted mail (mail-parser, sequoia).
//! - [`workflow`]: accepting a message, a person's decision, escalation: each reads what it
//!   needs, computes one batch of effects, and has it committed.
//! - [`delivery`]: composing PGP/MIME copies and the outbox worker that sends them.
//! - [`api`]: the versioned JSON API (axum), one file per resource, and its listener.
//! - [`policy`]: the running configuration, directory and beslutningstræ, reloaded atomically.
//! - [`cases`], [`report`], [`simulate`], [`explain`], [`checkpoints`], [`sender_auth`],
//!   [`audit_cli`], [`tls`]: one job each.
//! - [`daemon`]: `modtag serve`, wiring it all with ordered shutdown.
//!
//! The CLI (`cli/`, `commands/`, `render/`) belongs to the binary (`main.rs`).

pub mod api;
pub mod app;
pub mod audit_cli;
pub mod cases;
pub mod checkpoints;
pub mod clock;
pub mod daemon;
pub mod deadlines;
pub mod delivery;
pub mod explain;
pub mod identity;
pub mod memory;
pub mod policy;
pub mod public;
pub mod sender_auth;
pub mod smtp;
pub mod tls;
pub mod web;
pub mod workflow;

pub use modtag_workflow::{access, meetings, report, simulate, understand};
