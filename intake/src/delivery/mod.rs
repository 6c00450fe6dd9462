//! Onward delivery: the copies and invitations are composed by `modtag-workflow`
//! ([`compose`], [`ical`]); here the durable outbox sends them ([`outbox`]).

pub use modtag_workflow::{compose, ical};
mod fates;
pub mod notices;
pub mod outbox;
pub mod receipts;
mod relay;
pub mod sf1601;
mod transaction;
