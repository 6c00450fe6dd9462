//! Onward delivery: composing encrypted copies ([`compose`]), calendar invitations
//! ([`ical`]), and sending them from the durable outbox ([`outbox`]).

pub mod compose;
pub mod ical;
pub mod outbox;
