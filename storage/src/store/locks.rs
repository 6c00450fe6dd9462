//! The store's locks and the one order they are taken in. [`Locks`] holds every lock that
//! is held while another is taken, its fields declared in that order: whoever holds one
//! takes only those declared after it, so no two threads wait on each other. The fields are
//! private, so this file is the only place they are taken, each by a method named for what
//! it is for; what a commit holds is one type, [`CommitLocks`], taken by one method.
//!
//! 1. `key_rotation`: one key rotation (store, blind-index) from start to end, as both
//!    rewrite the cases. A store key rotation commits, and gives older intakes keys of
//!    their own (item locks, commits) inside it.
//! 2. `new_accounts`: an account added (checked for its id and e-mail, then committed).
//! 3. `items`: an item (or several: each stripe once, in stripe order) from reading it
//!    until its batch is committed and flushed.
//! 4. `blind`: the blind-index key. A commit reads it from computing its index keys until
//!    its transaction is applied; its rotation writes it (reading the items meanwhile,
//!    which takes the ring after it).
//! 5. `ring`: the ring keys. A commit reads them from wrapping a new item key until its
//!    transaction is applied, so a rotation never misses a key wrapped under the old one.
//!
//! After these come the locks held only for a moment, never around one of the above:
//! `Inner`'s sealer (which reads the store keys while held), the store keys, the auditors,
//! the checkpoint key, the reference counters, the kvittering counts, and the group
//! commit's state, which is let go while sled flushes. Last of all sled's own lock, which
//! a commit's transaction takes holding 4 and 5.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::ring::Ring;

const ITEM_LOCK_STRIPES: usize = 64;

/// The locks held around others, in the order they are taken (see the module's text).
/// A panic while one is held leaves nothing half-written (a batch commits or not), so a
/// poisoned lock is taken as it is.
pub(super) struct Locks {
    key_rotation: Mutex<()>,
    new_accounts: Mutex<()>,
    items: [Mutex<()>; ITEM_LOCK_STRIPES],
    blind: RwLock<[u8; 32]>,
    ring: RwLock<Ring>,
}

/// Holds one item (and the others of its stripe) against concurrent read-modify-write
/// until it is dropped.
pub struct ItemGuard<'a> {
    _held: MutexGuard<'a, ()>,
}

/// What a commit holds from sealing until its transaction is applied: the blind-index key,
/// then the ring, both for reading. Only [`Locks::commit`] makes one, so it takes them in
/// that order.
pub(super) struct CommitLocks<'a> {
    // Fields are dropped in the order declared: the ring is let go first, the reverse of
    // the order they were taken in.
    ring: RwLockReadGuard<'a, Ring>,
    blind: RwLockReadGuard<'a, [u8; 32]>,
}

impl CommitLocks<'_> {
    pub fn blind(&self) -> &[u8; 32] {
        &self.blind
    }

    pub fn ring(&self) -> &Ring {
        &self.ring
    }
}

/// The lock stripe of an item.
fn stripe_of(reference: &str) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    reference.hash(&mut h);
    (h.finish() % ITEM_LOCK_STRIPES as u64) as usize
}

fn take<T>(lock: &Mutex<T>) -> MutexGuard<'_, T> {
    lock.lock().unwrap_or_else(|e| e.into_inner())
}

impl Locks {
    pub fn new(blind: [u8; 32], ring: Ring) -> Locks {
        Locks {
            key_rotation: Mutex::new(()),
            new_accounts: Mutex::new(()),
            items: std::array::from_fn(|_| Mutex::new(())),
            blind: RwLock::new(blind),
            ring: RwLock::new(ring),
        }
    }

    /// 1: held by a key rotation from start to end.
    pub fn key_rotation(&self) -> MutexGuard<'_, ()> {
        take(&self.key_rotation)
    }

    /// 2: held while an account is added.
    pub fn new_account(&self) -> MutexGuard<'_, ()> {
        take(&self.new_accounts)
    }

    /// 3: one item's stripe.
    pub fn item(&self, reference: &str) -> ItemGuard<'_> {
        ItemGuard {
            _held: take(&self.items[stripe_of(reference)]),
        }
    }

    /// 3: the stripes of several items, each once, in stripe order.
    pub fn items(&self, references: &[&str]) -> Vec<ItemGuard<'_>> {
        let mut stripes: Vec<usize> = references.iter().map(|r| stripe_of(r)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        stripes
            .into_iter()
            .map(|s| ItemGuard {
                _held: take(&self.items[s]),
            })
            .collect()
    }

    /// 4: the blind-index key, for a lookup.
    pub fn blind(&self) -> RwLockReadGuard<'_, [u8; 32]> {
        self.blind.read().unwrap_or_else(|e| e.into_inner())
    }

    /// 4: the blind-index key, to replace it (or, taken and let go, to wait out every
    /// commit that holds it).
    pub fn blind_mut(&self) -> RwLockWriteGuard<'_, [u8; 32]> {
        self.blind.write().unwrap_or_else(|e| e.into_inner())
    }

    /// 4 then 5: what a commit holds until its transaction is applied.
    pub fn commit(&self) -> CommitLocks<'_> {
        let blind = self.blind();
        CommitLocks {
            ring: self.ring(),
            blind,
        }
    }

    /// 5: the ring, to wrap and unwrap item keys, or to copy its keys.
    pub fn ring(&self) -> RwLockReadGuard<'_, Ring> {
        self.ring.read().unwrap_or_else(|e| e.into_inner())
    }

    /// 5: the ring, to add, retire or seal again its keys.
    pub fn ring_mut(&self) -> RwLockWriteGuard<'_, Ring> {
        self.ring.write().unwrap_or_else(|e| e.into_inner())
    }
}
