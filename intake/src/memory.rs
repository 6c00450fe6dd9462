//! Message bytes held in memory across the listeners (SMTP sessions and the public forms),
//! within `[smtp] max_memory_bytes` (issue 17): past it new messages are told to come back
//! (SMTP `452 4.3.1`, HTTP `503`), rather than the process running out of memory.

/// The budget: each session's or submission's [`Lease`] grows with the message it holds
/// and is given back when it is done. Past it, SMTP refuses a new message with 452 at
/// `MAIL FROM` and drops one that outgrows its place (refused at its end); a form gets 503.
pub struct MemoryBudget {
    limit: usize,
    used: std::sync::atomic::AtomicUsize,
}

impl MemoryBudget {
    pub fn new(limit: usize) -> std::sync::Arc<MemoryBudget> {
        std::sync::Arc::new(MemoryBudget {
            limit,
            used: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    pub fn used(&self) -> usize {
        self.used.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn try_add(&self, n: usize) -> bool {
        use std::sync::atomic::Ordering;
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                u.checked_add(n).filter(|t| *t <= self.limit)
            })
            .is_ok()
    }

    fn sub(&self, n: usize) {
        self.used.fetch_sub(n, std::sync::atomic::Ordering::AcqRel);
    }
}

/// One session's share of the [`MemoryBudget`]; given back when dropped.
pub struct Lease {
    budget: std::sync::Arc<MemoryBudget>,
    held: usize,
}

impl Lease {
    pub fn new(budget: std::sync::Arc<MemoryBudget>) -> Lease {
        Lease { budget, held: 0 }
    }

    /// Holds `n` bytes in all, if the budget has room; false (nothing changed) if not.
    pub fn grow_to(&mut self, n: usize) -> bool {
        if n <= self.held {
            return true;
        }
        if self.budget.try_add(n - self.held) {
            self.held = n;
            true
        } else {
            false
        }
    }

    /// Holds no more than `n` bytes.
    pub fn shrink_to(&mut self, n: usize) {
        if n < self.held {
            self.budget.sub(self.held - n);
            self.held = n;
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.budget.sub(self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_budget_is_shared_and_given_back() {
        let budget = MemoryBudget::new(100);
        let mut a = Lease::new(budget.clone());
        let mut b = Lease::new(budget.clone());
        assert!(a.grow_to(60));
        assert!(!b.grow_to(50), "60 + 50 is past 100");
        assert!(b.grow_to(40));
        assert_eq!(budget.used(), 100);
        a.shrink_to(10);
        assert!(b.grow_to(90));
        drop(b);
        assert_eq!(budget.used(), 10);
        drop(a);
        assert_eq!(budget.used(), 0);
    }
}
