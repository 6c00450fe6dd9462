//! SMTP intake: [`session`] is the protocol (sans IO), [`data`] the DATA phase, [`server`]
//! the tokio listener around them, [`stats`] its counters for `/metrics`.

pub mod data;
pub mod limits;
pub mod server;
pub mod session;
pub mod stats;
pub mod tls;
