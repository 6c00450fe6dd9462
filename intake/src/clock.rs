//! The one clock of the daemon. Everything that decides by the time (deadlines, escalation,
//! retries, audit times) asks a [`Clock`] handed to it, never `Timestamp::now()` itself, so
//! that tests can run the workflow at a fixed or advancing time instead of sleeping.

use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

#[derive(Clone, Debug, Default)]
pub struct Clock(Inner);

#[derive(Clone, Debug, Default)]
enum Inner {
    #[default]
    System,
    /// A test's clock: stands still until set or advanced.
    Manual(Arc<Mutex<Timestamp>>),
}

impl Clock {
    /// The system's wall clock (UTC).
    pub fn system() -> Clock {
        Clock(Inner::System)
    }

    /// A clock that shows `at` until it is moved with [`Clock::set`] or [`Clock::advance`].
    pub fn manual(at: Timestamp) -> Clock {
        Clock(Inner::Manual(Arc::new(Mutex::new(at))))
    }

    pub fn now(&self) -> Timestamp {
        match &self.0 {
            Inner::System => Timestamp::now(),
            Inner::Manual(t) => *t.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Moves a manual clock to `at`; the system clock cannot be moved (ignored).
    pub fn set(&self, at: Timestamp) {
        if let Inner::Manual(t) = &self.0 {
            *t.lock().unwrap_or_else(|e| e.into_inner()) = at;
        }
    }

    /// Moves a manual clock forward by `by`.
    pub fn advance(&self, by: SignedDuration) {
        if let Inner::Manual(t) = &self.0 {
            let mut t = t.lock().unwrap_or_else(|e| e.into_inner());
            *t += by;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let t0: Timestamp = "2026-11-30T08:00:00Z".parse().unwrap();
        let c = Clock::manual(t0);
        let copy = c.clone();
        assert_eq!(c.now(), t0);
        copy.advance(SignedDuration::from_hours(2));
        assert_eq!(
            c.now(),
            t0 + SignedDuration::from_hours(2),
            "clones share one time"
        );
        c.set(t0);
        assert_eq!(copy.now(), t0);
    }
}
