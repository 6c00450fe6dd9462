//! `modtag-workflow`: what receiving, reading, assessing and waiting mean for an intake, and
//! who may see what of it. No IO of its own: no sockets, no runtime, no SMTP client, and the
//! time always given as a value. Each step reads what it needs from the store first,
//! computes one `Batch` of effects, and hands it back to be committed; `tests/e2e/crates.rs`
//! fails if its `Cargo.toml` names tokio, axum, hyper, lettre or sled, or if it imports
//! `modtag-intake`.
//!
//! - [`accept`]: a received message becomes an item (with [`autolink`], [`kvittering`] and
//!   the akut notice).
//! - [`change`]: the one way a person's change reaches an intake, and the rules for a
//!   corrected kind, a confirmed sender, a task and closing.
//! - [`decide`]: a person's assessment, routed by the beslutningstræ.
//! - [`escalation`]: the 12/18/22-hour notices, akut's short clock and the hand-over to the
//!   døgnvagt at closing time.
//! - [`forloeb`]: a private institution's TRIVSEL+ forløb from the leaders' answers to the
//!   first meeting, with reminders; [`participants`] the list and the forløb it joins;
//!   [`booking`] the first meeting and its invitations.
//! - [`overgang`]: a case moving back to a trin-2 TRIVSEL+ forløb (flow 4).
//! - [`retention`]: erasing what `[retention]` says is due, and one intake on a person's
//!   reason (crypto-shredding).
//! - [`tilbagemelding`]: the letter to a professional reporter, drafted and approved.
//! - [`understand`]: reading a message: kind, reporter, CPR/CVR, attachments, forwards,
//!   encrypted mail.
//! - [`access`]: need-to-know, what one person sees of one intake.
//! - [`compose`] the PGP/MIME copies and plain notices, [`ical`] calendar invitations,
//!   [`meetings`] the statusmøder's invitations for a school year.
//! - [`report`] the SLA figures, [`simulate`] a candidate beslutningstræ replayed.
//! - [`address`] and [`token`]: an address the outbox can send to; one-time tokens.

pub mod accept;
pub mod access;
pub mod address;
pub mod autolink;
pub mod booking;
pub mod change;
pub mod compose;
pub mod decide;
pub mod escalation;
pub mod forloeb;
pub mod ical;
pub mod journal;
pub mod kvittering;
pub mod meetings;
pub mod memo;
pub mod overgang;
pub mod participants;
pub mod registry;
pub mod report;
pub mod retention;
pub mod simulate;
pub mod tilbagemelding;
pub mod token;
pub mod understand;
