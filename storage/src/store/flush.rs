//! The group commit: see [`Store::flush`].

use std::sync::atomic::Ordering;

use super::Store;
use crate::StoreError;

impl Store {
    /// Makes every batch committed before the call durable (group commit). Blocking: from
    /// async code call it through `spawn_blocking`. On failure the store is poisoned.
    ///
    /// Only one `Db::flush` runs at a time: concurrent flushes in sled 0.34 can deadlock
    /// (sled issue #1308, seen here under load in release builds). Callers take a ticket; a
    /// leader flushes for every ticket issued before it started, the others wait for it.
    pub fn flush(&self) -> Result<(), StoreError> {
        let f = &self.inner.flusher;
        let mut st = f.state.lock().expect("flusher lock");
        st.requested += 1;
        let ticket = st.requested;
        loop {
            if st.failed || self.is_poisoned() {
                return Err(StoreError::Poisoned);
            }
            if st.completed >= ticket {
                return Ok(());
            }
            if st.running {
                st = f.done.wait(st).expect("flusher lock");
                continue;
            }
            st.running = true;
            let target = st.requested;
            drop(st);
            let result = self
                .inner
                .spool
                .sync_dir()
                .and_then(|_| self.inner.db.flush().map_err(StoreError::from))
                .and_then(|_| {
                    self.inner
                        .log_file
                        .sync_all()
                        .map_err(|source| StoreError::Io {
                            path: self.inner.dir.join(crate::keyspace::DB_DIR),
                            source,
                        })
                });
            st = f.state.lock().expect("flusher lock");
            st.running = false;
            match result {
                Ok(_) => st.completed = target,
                Err(e) => {
                    st.failed = true;
                    self.inner.poisoned.store(true, Ordering::SeqCst);
                    f.done.notify_all();
                    return Err(match e {
                        StoreError::Sled(e) => self.storage_failed(e),
                        other => other,
                    });
                }
            }
            f.done.notify_all();
        }
    }
}
