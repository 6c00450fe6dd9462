//! The group commit: see [`Store::flush`].

use std::sync::atomic::Ordering;

use super::Store;
use crate::StoreError;

impl Store {
    /// Makes every batch committed before the call durable (group commit). Blocking: from
    /// async code call it through `spawn_blocking`. On failure the store is poisoned.
    ///
    /// Only one `Db::flush` runs at a time: concurrent flushes in sled 0.34 can deadlock
    /// (sled issue #1308, seen here under load in release builds). Callers share one through
    /// a [`crate::group::Group`]. The message files the batches name are already durable,
    /// names and all (see [`crate::spool`]).
    pub fn flush(&self) -> Result<(), StoreError> {
        let db = || self.inner.dir.join(crate::keyspace::DB_DIR);
        let step = |name| {
            crate::failpoint::step(name)
                .map_err(|source| StoreError::NotDurable { path: db(), source })
        };
        let result = self.inner.flusher.run(
            || self.is_poisoned(),
            || {
                // Files whose records were removed by the batches this flush covers.
                let unlinked =
                    std::mem::take(&mut *self.inner.unlinked.lock().expect("unlinked lock"));
                step("flush.db")?;
                self.inner.db.flush().map_err(StoreError::from)?;
                // sled makes a flush "stable" with sync_file_range, which a power cut
                // does not respect (issue 32).
                step("flush.log")?;
                (self.inner.log_file.sync_all())
                    .map_err(|source| StoreError::Io { path: db(), source })?;
                for name in &unlinked {
                    self.inner.spool.remove(name);
                }
                Ok(())
            },
        );
        result.map_err(|e| {
            self.inner.poisoned.store(true, Ordering::SeqCst);
            match e {
                StoreError::Sled(e) => self.storage_failed(e),
                other => other,
            }
        })
    }
}
