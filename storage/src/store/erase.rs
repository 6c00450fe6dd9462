//! Erasure by crypto-shredding (see `ring`): an intake's key, record, summary, index
//! entries and message file go in one commit, its queued copies with them; then the ring
//! rotates, so the wrapped key that an old log segment or backup may still hold opens
//! nothing either.

use jiff::Timestamp;

use super::batch::{Batch, Erased};
use super::trees::{Abort, Tx};
use super::Store;
use crate::audit::{Event, EventKind};
use crate::keyspace::*;
use crate::ring::Ring;
use crate::StoreError;

impl Store {
    /// Erases `reference`, recording `event` (which names the rule or the person's reason)
    /// in the same commit. False when there is no such intake. Durable when it returns;
    /// call [`Store::rotate_ring`] after one or many erasures to make old copies unreadable.
    pub fn erase(&self, reference: &str, event: Event, now: Timestamp) -> Result<bool, StoreError> {
        self.check()?;
        let _guard = self.lock_item(reference);
        let Some(item) = self.item(reference)? else {
            return Ok(false);
        };
        let mut batch = Batch::new();
        // The records alone (each copy's file is not needed to find them).
        let entries: Vec<crate::records::OutboxEntry> =
            self.all_sealed(self.inner.trees.outbox.iter(), T_OUTBOX)?;
        for entry in entries {
            if entry.reference == reference {
                batch.outbox_done_entry(&entry);
            }
        }
        batch.erased.push(Erased { item });
        batch.audit(event.reference(reference));
        self.commit(batch, now)?;
        self.flush()?;
        // The file after the commit: a crash between leaves a file with no record, which
        // the next open removes.
        self.inner.spool.remove(reference);
        Ok(true)
    }

    /// Replaces the ring key: a new one is made durable, every intake's key is wrapped
    /// under it, and the old one is deleted. Intake goes on meanwhile (new keys are
    /// wrapped under the new ring key). Returns how many keys were wrapped again.
    pub fn rotate_ring(&self, actor: &str, now: Timestamp) -> Result<usize, StoreError> {
        self.check()?;
        // The erasures this rotation covers: those committed before its new ring key.
        let owed = self.inner.trees.meta.get(RING_OWED)?;
        let epoch = {
            let mut ring = self.inner.locks.ring_mut();
            ring.add(&self.store_keys().current)?
        };
        let n = self.finish_rotation()?;
        let mut batch = Batch::new();
        batch.audit(
            Event::new(EventKind::RingRotated, actor, "sletning").details(serde_json::json!({
                "ring": epoch,
                "keys_rewrapped": n,
            })),
        );
        self.commit(batch, now)?;
        // Not owed any more, unless an erasure came after the new ring key was made (its
        // own rotation, or the next retention run, covers it).
        let meta = &self.inner.trees.meta;
        let _ = meta.compare_and_swap(RING_OWED, owed, None::<&[u8]>)?;
        self.flush()?;
        Ok(n)
    }

    /// Whether an erasure has not yet been followed by a ring rotation (one failed): an
    /// older copy of the data still opens what was erased.
    pub fn ring_owed(&self) -> Result<bool, StoreError> {
        Ok(self.inner.trees.meta.contains_key(RING_OWED)?)
    }

    /// Wraps every key that is not under the current ring key again, makes that durable,
    /// and deletes the older ring keys (also what finishes a rotation a crash interrupted).
    pub(super) fn finish_rotation(&self) -> Result<usize, StoreError> {
        let (current, retiring) = {
            let ring = self.inner.locks.ring();
            (ring.current(), ring.retiring())
        };
        if retiring.is_empty() {
            return Ok(0);
        }
        let mut n = 0;
        let tree = &self.inner.trees.item_keys;
        for kv in tree.iter() {
            let (k, v) = kv?;
            if Ring::epoch_of(&v) != current {
                n += usize::from(self.rewrap(&k, current)?);
            }
        }
        self.flush()?;
        let mut ring = self.inner.locks.ring_mut();
        for epoch in retiring {
            ring.retire(epoch)?;
        }
        Ok(n)
    }

    /// Wraps item key `k` under the current ring key if it is under an older one. Another
    /// rotation may run at the same time (another person's erasure): the value is read
    /// under the ring's lock, which no retirement passes, and a swap that meets a value
    /// changed meanwhile reads it again, so that no key is left under a ring key that one
    /// of them is about to retire. False when there was nothing to do (erased, or wrapped
    /// under `current` by the other).
    fn rewrap(&self, k: &[u8], current: Option<u32>) -> Result<bool, StoreError> {
        let tree = &self.inner.trees.item_keys;
        loop {
            let ring = self.inner.locks.ring();
            let Some(v) = tree.get(k)? else {
                return Ok(false);
            };
            let epoch = Ring::epoch_of(&v);
            if epoch == current || epoch == ring.current() {
                return Ok(false);
            }
            let reference = String::from_utf8_lossy(k).into_owned();
            let Some(key) = ring.unwrap(&reference, &v)? else {
                return Err(StoreError::Corrupt {
                    tree: T_ITEM_KEYS,
                    key: reference,
                    why: "its ring key is gone".into(),
                });
            };
            let rewrapped = ring.wrap(&reference, &key)?;
            drop(ring);
            if (tree.compare_and_swap(k, Some(&v), Some(rewrapped))?).is_ok() {
                return Ok(true);
            }
        }
    }

    /// Removes a delivery that failed for good at `failed_at` (as
    /// [`Store::outbox_failed_at`] listed it), recording `event`. False, and nothing
    /// removed, when it is no longer failed since then: an operator put it back in the
    /// queue after the listing (it may even have failed again, later).
    pub fn remove_failed_delivery(
        &self,
        id: u64,
        failed_at: Timestamp,
        event: Event,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let _held = self.lock_outbox_entry(id);
        if self.outbox_failed_since(id)? != Some(failed_at) {
            return Ok(false);
        }
        let mut batch = Batch::new();
        batch.outbox_done(id).audit(event);
        self.commit(batch, now)?;
        self.flush()?;
        Ok(true)
    }
}

/// In a commit's transaction, the intakes it erases (`reference`, their blind-index keys):
/// each key goes, and with it every copy of its data; the ring key is marked owed.
pub(super) fn in_transaction(t: &Tx<'_>, erased: &[(String, Vec<Vec<u8>>)]) -> Result<(), Abort> {
    for (reference, index_keys) in erased {
        let r = reference.as_bytes();
        t.item_keys.remove(r)?;
        t.messages.remove(r)?;
        t.items.remove(r)?;
        t.item_state.remove(r)?;
        for key in index_keys {
            t.item_index.remove(key.as_slice())?;
        }
    }
    if !erased.is_empty() {
        // A value no earlier erasure set: a rotation that read an older one cannot clear it.
        let n = (t.meta.get(RING_ERASURES)?)
            .and_then(|v| v.as_ref().try_into().ok())
            .map_or(0, u64::from_be_bytes);
        let next = (n + 1).to_be_bytes();
        t.meta.insert(RING_ERASURES, &next)?;
        t.meta.insert(RING_OWED, &next)?;
    }
    Ok(())
}
