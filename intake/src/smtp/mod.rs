//! SMTP intake: [`session`] is the protocol (sans IO), [`data`] the DATA phase, [`server`]
//! the tokio listener around them.

pub mod data;
pub mod limits;
pub mod server;
pub mod session;
pub mod tls;
