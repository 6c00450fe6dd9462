//! SMTP intake: [`session`] is the protocol (sans IO: no sockets, no clock, no storage),
//! with [`data`] the DATA phase, [`params`] the parameters smtp-proto misreads, and
//! [`config`] what it knows of the configuration, `answers` what the loop tells it; [`server`] is the tokio listener around it,
//! which answers the session's questions with [`limits`] (session caps, message rate, the
//! storage check); [`stats`] its counters for `/metrics`; [`tls`] the STARTTLS setup.

mod answers;
pub mod config;
pub mod data;
pub mod limits;
mod params;
pub mod server;
pub mod session;
pub mod stats;
pub mod tls;
