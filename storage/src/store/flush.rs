//! The group commit: see [`Store::flush`], and [`Group`], which it and the spool's
//! directory sync before each transaction share.

use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex};

use super::Store;
use crate::StoreError;

/// One blocking operation run for many callers at once: each caller takes a ticket; a
/// leader runs the operation for every ticket issued before it started, the others wait
/// for it (or, arriving during a run, for the next). A failure fails every caller from
/// then on: what the operation was to make durable may be lost whatever a retry says.
#[derive(Default)]
pub(super) struct Group {
    state: Mutex<GroupState>,
    done: Condvar,
}

#[derive(Default)]
struct GroupState {
    requested: u64,
    completed: u64,
    running: bool,
    failed: bool,
}

impl Group {
    /// Returns once `op` has run, to the end, after this call began (by this caller or
    /// another). `stopped` says the store was poisoned meanwhile.
    pub(super) fn run(
        &self,
        stopped: impl Fn() -> bool,
        mut op: impl FnMut() -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut st = self.state.lock().expect("group lock");
        st.requested += 1;
        let ticket = st.requested;
        loop {
            if st.failed || stopped() {
                return Err(StoreError::Poisoned);
            }
            if st.completed >= ticket {
                return Ok(());
            }
            if st.running {
                st = self.done.wait(st).expect("group lock");
                continue;
            }
            st.running = true;
            let target = st.requested;
            drop(st);
            let result = op();
            st = self.state.lock().expect("group lock");
            st.running = false;
            match result {
                Ok(()) => st.completed = target,
                Err(e) => {
                    st.failed = true;
                    self.done.notify_all();
                    return Err(e);
                }
            }
            self.done.notify_all();
        }
    }
}

impl Store {
    /// Makes every batch committed before the call durable (group commit). Blocking: from
    /// async code call it through `spawn_blocking`. On failure the store is poisoned.
    ///
    /// Only one `Db::flush` runs at a time: concurrent flushes in sled 0.34 can deadlock
    /// (sled issue #1308, seen here under load in release builds). Callers share one through
    /// a [`Group`]. The message files the batches name are already durable, names and all
    /// (see [`Store::commit`]).
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

    /// Makes the names of new message files durable before a transaction names them: sled
    /// may make the transaction durable by itself (its own flush, every half second, or a
    /// log buffer written out), and a record must never outlive its file. Shared by the
    /// commits that run at once ([`Group`]). On failure the store is poisoned.
    pub(super) fn sync_spool_dir(&self) -> Result<(), StoreError> {
        let spool = || self.inner.dir.join(crate::spool::SPOOL_DIR);
        let result = self.inner.spool_synced.run(
            || self.is_poisoned(),
            || {
                crate::failpoint::step("spool.dir").map_err(|source| StoreError::NotDurable {
                    path: spool(),
                    source,
                })?;
                self.inner.spool.sync_dir()
            },
        );
        if result.is_err() {
            self.inner.poisoned.store(true, Ordering::SeqCst);
        }
        result.map_err(|e| match e {
            StoreError::Io { path, source } => StoreError::NotDurable { path, source },
            other => other,
        })
    }
}
