//! What the running daemon shares: the store, the running policy, the clock, and the signal
//! that wakes the outbox worker. It sits at the bottom of the crate: listeners and workers
//! import it, it imports none of them, and each worker is handed only the parts it uses.

use std::sync::Arc;

use modtag_storage::{Store, StoreError};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::policy::Policy;

pub struct App {
    pub store: Store,
    /// Configuration, directory, beslutningstræ and reader, swapped as one on reload.
    pub policy: Policy,
    pub clock: Clock,
    /// Message bytes in memory across the listeners (`[smtp] max_memory_bytes`).
    pub memory: Arc<crate::memory::MemoryBudget>,
    /// Wakes the outbox worker after new copies are queued.
    pub wake: Arc<Notify>,
}

/// Makes committed batches durable without blocking the async runtime (the store's group
/// commit waits on a condition variable).
pub async fn flush(store: &Store) -> Result<(), StoreError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.flush())
        .await
        .unwrap_or(Err(StoreError::Poisoned))
}

/// Runs storage work (sled and OpenPGP are blocking) off the async runtime.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("blocking task panicked")
}
