//! Integration tests of `modtag-workflow`: its plans against a real store, without the network.

mod corpus;
mod decide;
mod escalation;
mod forloeb;
mod plan;
mod registry;
mod retention;
