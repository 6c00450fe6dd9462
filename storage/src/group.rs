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
