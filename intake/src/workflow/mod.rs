//! The workflow: what receiving, assessing and waiting mean for an intake. Each step reads
//! what it needs from storage first, computes one `Batch` of effects, and hands it back to
//! be committed; none of them talks to the network, and the time is always given.
//!
//! - [`accept`]: a received message becomes an item (with [`autolink`], [`kvittering`] and
//!   the akut notice).
//! - [`decide`]: a person's assessment, routed by the beslutningstræ.
//! - [`escalation`]: the 12/18/22-hour notices for what is not yet assessed.
//! - [`forloeb`]: a private institution's TRIVSEL+ forløb from the leaders' answers to the
//!   first meeting, with reminders; [`participants`] the list and the forløb it joins;
//!   [`booking`] the first meeting and its invitations.
//! - [`overgang`]: a case moving back to a trin-2 TRIVSEL+ forløb (flow 4).
//! - [`retention`]: erasing what `[retention]` says is due, and one intake on a person's
//!   reason (crypto-shredding).
//! - [`tilbagemelding`]: the letter to a professional reporter, drafted and approved.

pub mod accept;
pub mod autolink;
pub mod booking;
pub mod decide;
pub mod escalation;
pub mod forloeb;
pub mod kvittering;
pub mod overgang;
pub mod participants;
pub mod retention;
pub mod tilbagemelding;
