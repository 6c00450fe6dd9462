//! `modtag-intake`: everything that talks to the outside world, and the `modtag` binary.
//!
//! - [`smtp`]: the SMTP listener; its protocol core is a sans-IO state machine.
//! - [`understand`]: reading a message for triage: kind, reporter, CPR/CVR, attachments,
//!   forwards, encrypted mail (mail-parser, sequoia).
//! - [`intake`]: turning a received message into a stored, audited intake (one batch).
//! - [`triage`]: a person's decision, routed by `modtag-router`, queued for delivery.
//! - [`escalation`]: deadline notices for unassessed items, from the store (restart-safe).
//! - [`delivery`]: composing PGP/MIME copies and the outbox worker that sends them.
//! - [`http`]: the versioned JSON API (axum).
//! - [`cases`]: the case registry CSV import.
//! - [`policy`]: the running configuration, directory and beslutningstræ, reloaded atomically.
//! - [`report`]: `report sla` and the Prometheus metrics (aggregates only).
//! - [`daemon`]: `modtag serve`, wiring it all with ordered shutdown.
//! - [`client`]: the CLI's client for a running daemon.

pub mod audit_cli;
pub mod cases;
pub mod checkpoints;
pub mod client;
pub mod daemon;
pub mod delivery;
pub mod escalation;
pub mod explain;
pub mod http;
pub mod http_server;
pub mod intake;
pub mod policy;
pub mod report;
pub mod sender_auth;
pub mod simulate;
pub mod smtp;
pub mod triage;
pub mod understand;

/// Makes committed batches durable without blocking the async runtime (the store's group
/// commit waits on a condition variable).
pub(crate) async fn flush(store: &modtag_storage::Store) -> Result<(), modtag_storage::StoreError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.flush())
        .await
        .unwrap_or(Err(modtag_storage::StoreError::Poisoned))
}
