//! SMTP intake's IO: [`server`] is the tokio listener around `modtag-smtp`'s sans-IO
//! session, which answers the session's questions with the crate's limits (session caps,
//! message rate) and [`disk`] (the storage check); [`tls`] the STARTTLS setup. The protocol
//! modules are re-exported so the rest of the crate names them in one place.

pub mod disk;
pub mod server;
pub mod tls;

pub use modtag_smtp::{config, data, limits, session, stats};
