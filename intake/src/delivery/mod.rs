//! Onward delivery: composing encrypted copies ([`compose`]) and sending them from the
//! durable outbox ([`outbox`]).

pub mod compose;
pub mod outbox;
