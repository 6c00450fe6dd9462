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

impl App {
    /// The one way a change reaches the store from a listener or a page: `f` plans and
    /// commits (under the item's lock, off the async runtime: sled and OpenPGP block), the
    /// commit is made durable before anyone is answered, and the outbox is woken for what
    /// the change queued. A handler that changes the store calls this, never `commit`,
    /// `flush` or the wake by hand.
    pub async fn change<T, E>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        // Planned, committed and flushed in one trip off the runtime (issue 33: a second
        // hand-off for the flush cost a thread wake-up each way).
        let done = blocking(move || {
            let done = f(&store)?;
            store.flush()?;
            Ok::<T, E>(done)
        })
        .await?;
        self.wake.notify_one();
        Ok(done)
    }
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
