//! `modtag-intake`: everything that talks to the outside world, and the `modtag` binary.
//! The rules it applies are `modtag-workflow`'s and `modtag-router`'s; here they meet
//! sockets, the clock and the runtime.
//!
//! The folders are the architecture (see `ARCHITECTURE.md`):
//! - [`app`], [`clock`], [`memory`], [`policy`] at the bottom: what the running daemon
//!   shares (`App::change` commits a handler's change, makes it durable and wakes the
//!   outbox), its one clock, the memory budget for messages, and the running configuration.
//! - [`daemon`]: `modtag serve`: the data directory, the listeners, the workers, and their
//!   ordered shutdown.
//! - [`smtp`]: the SMTP listener around `modtag-smtp`'s sans-IO session, STARTTLS and the
//!   storage check; [`public`]: the public forms on their own listener.
//! - [`api`]: the versioned JSON API (axum), one file per resource, and the HTTP listener;
//!   [`web`]: the desk's pages over the same state; [`identity`]: accounts, sessions, TOTP,
//!   OpenID Connect and enrolment.
//! - [`deadlines`], [`checkpoints`], [`delivery`]: the workers (escalation, signed
//!   checkpoints and retention, the outbox).
//! - [`cases`], [`explain`], [`sender_auth`], [`audit_cli`], [`tls`]: one job each;
//!   [`workflow`] and the re-exports below name `modtag-workflow`'s modules where the rest
//!   of the crate looks for them.
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
pub mod journal;
pub mod memory;
pub mod policy;
pub mod public;
pub mod sender_auth;
pub mod smtp;
pub mod tls;
pub mod web;
pub mod words;
pub mod workflow;
pub mod xml;

pub use modtag_workflow::{access, meetings, report, simulate, understand};
