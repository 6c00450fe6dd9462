//! Integration tests of `modtag-intake`'s public pieces without the network.

mod corpus;
mod decide;
mod escalation;
mod forloeb;
mod plan;
mod retention;
