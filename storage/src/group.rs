//! [`Group`]: one blocking operation (an fsync) shared by the callers that need it at the
//! same time: the group commit, and the spool directory's sync.

use std::sync::{Condvar, Mutex};

use crate::StoreError;

/// One blocking operation run for many callers at once: each caller takes a ticket; a
/// leader runs the operation for every ticket issued before it started, the others wait
/// for it (or, arriving during a run, for the next). A failure fails every caller from
/// then on: what the operation was to make durable may be lost whatever a retry says.
#[derive(Default)]
pub(crate) struct Group {
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
    pub(crate) fn run(
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

/// Jobs of many callers run together: each caller queues its job; one of them (the
/// leader) takes every job queued so far and runs them as one (the commits of the moment
/// in one sled transaction, and their flush: sled writes out its log buffer twice for every
/// transaction, each write a wake-up of its IO threads; issue 33). Each caller gets its own
/// job's result, `R`.
pub(crate) struct Combiner<J, R> {
    state: Mutex<CombinerState<J, R>>,
    done: Condvar,
}

struct CombinerState<J, R> {
    queue: Vec<(u64, J)>,
    results: std::collections::HashMap<u64, R>,
    issued: u64,
    running: bool,
}

impl<J, R> Default for Combiner<J, R> {
    fn default() -> Self {
        Combiner {
            state: Mutex::new(CombinerState {
                queue: Vec::new(),
                results: Default::default(),
                issued: 0,
                running: false,
            }),
            done: Condvar::new(),
        }
    }
}

impl<J, R> Combiner<J, R> {
    /// Queues `job` and returns its result once it has run, by this caller or another.
    /// `apply` runs a set of jobs and gives each its result by number; a job it gives none
    /// (it panicked) gets `failed()`.
    pub(crate) fn run(
        &self,
        job: J,
        apply: impl Fn(Vec<(u64, J)>) -> Vec<(u64, R)>,
        failed: impl Fn() -> R,
    ) -> R {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.issued += 1;
        let id = st.issued;
        st.queue.push((id, job));
        loop {
            if let Some(result) = st.results.remove(&id) {
                return result;
            }
            if st.running {
                st = self.done.wait(st).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            st.running = true;
            let jobs = std::mem::take(&mut st.queue);
            drop(st);
            let ids: Vec<u64> = jobs.iter().map(|(id, _)| *id).collect();
            let outcomes = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| apply(jobs)))
                .unwrap_or_default();
            st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.running = false;
            st.results.extend(outcomes);
            // A job `apply` gave no result for fails rather than waits for ever.
            for id in ids {
                st.results.entry(id).or_insert_with(&failed);
            }
            self.done.notify_all();
        }
    }
}
