//! `modtag-smtp`: the SMTP protocol as modtag speaks it, sans IO (no sockets, no clock,
//! no storage). [`session`] is the state machine, with [`data`] the DATA phase, `params` the
//! parameters smtp-proto misreads, [`config`] what it knows of the configuration, and
//! `answers` what the loop tells it; [`limits`] the session caps and message rate the loop
//! consults (in memory, time passed in); [`stats`] the counters for `/metrics`.
//!
//! It depends on smtp-proto and modtag-config only (and memchr, for the DATA phase);
//! `tests/e2e/crates.rs` keeps it so.

mod answers;
pub mod config;
pub mod data;
pub mod limits;
mod params;
pub mod session;
pub mod stats;
