//! Integration tests of `modtag-intake`'s public pieces without the network.

mod corpus;
mod escalation;
mod session;
