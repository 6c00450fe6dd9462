//! Reading the outbox through its clear schedule, so only what is due is decrypted.

use jiff::Timestamp;

use super::Store;
use crate::keyspace::*;
use crate::outbox::{damage, OutboxRead};
use crate::records::OutboxEntry;
use crate::StoreError;

impl Store {
    /// An entry as stored, with its message read back from the spool.
    pub(super) fn outbox_open(&self, key: &[u8], bytes: &[u8]) -> Result<OutboxEntry, StoreError> {
        let mut entry: OutboxEntry = self.open_sealed(T_OUTBOX, key, bytes)?;
        let name = crate::spool::Spool::outbox_name(entry.id);
        let corrupt = |why: String| StoreError::Corrupt {
            tree: T_OUTBOX,
            key: name.clone(),
            why,
        };
        let sealed = match (&entry.message_sha256, &entry.message_sealed) {
            (Some(hash), _) => {
                let hash = hex::decode(hash).map_err(|e| corrupt(e.to_string()))?;
                self.inner.spool.read(&name, &hash)?
            }
            (None, Some(sealed)) => sealed.clone(),
            // From before the spool: the message is in the record.
            (None, None) => return Ok(entry),
        };
        let plain = self
            .open_for(&entry.reference, &sealed)
            .map_err(|e| corrupt(e.to_string()))?;
        entry.message = String::from_utf8(plain).map_err(|e| corrupt(e.to_string()))?;
        Ok(entry)
    }

    /// Outbox entries due at `now` (at most `limit`), earliest first: only these are
    /// decrypted.
    pub fn outbox_due(&self, now: Timestamp, limit: usize) -> Result<OutboxRead, StoreError> {
        let mut upper = vec![b'd'];
        upper.extend_from_slice(&time_key(now));
        upper.extend_from_slice(&u64::MAX.to_be_bytes());
        let mut due = OutboxRead::default();
        for kv in self
            .inner
            .trees
            .outbox_sched
            .range(b"d".to_vec()..=upper)
            .take(limit)
        {
            let (k, _) = kv?;
            let id: [u8; 8] = k[17..25].try_into().unwrap_or_default();
            let id = u64::from_be_bytes(id);
            let key = id.to_be_bytes();
            let Some(v) = self.inner.trees.outbox.get(key)? else {
                continue;
            };
            // Queued by this process and not changed since: its copy in clear (`handed`).
            match self.inner.handed.take(id, &v) {
                Some(entry) => due.entries.push(entry),
                None => match self.outbox_read(&key, v) {
                    Ok(entry) => {
                        self.unreadable().remove(&id);
                        due.entries.extend(entry);
                    }
                    Err(e) if damage(&e).is_some() => {
                        self.unreadable().entry(id).or_insert(now);
                        due.unreadable.push((id, e));
                    }
                    // The store's trouble, not the entry's: the whole read fails as before.
                    Err(e) => return Err(e),
                },
            }
        }
        Ok(due)
    }

    fn unreadable(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<u64, Timestamp>> {
        self.inner
            .outbox_unreadable
            .lock()
            .expect("unreadable lock")
    }

    /// Puts off entry `id` until `until`, by its clear schedule alone (its record is not
    /// read): one that could not be read. Nothing if it is no longer scheduled. Not
    /// flushed: lost, the entry is only due again.
    pub fn outbox_postpone(&self, id: u64, until: Timestamp) -> Result<(), StoreError> {
        self.check()?;
        let due = time_key(until);
        self.transaction(|t| {
            let sched = t.outbox_sched;
            let Some(old) = sched.get(sched_id_key(id))? else {
                return Ok(());
            };
            if let Ok(old) = <[u8; 16]>::try_from(old.as_ref()) {
                sched.remove(sched_due_key(&old, id))?;
            }
            sched.insert(sched_due_key(&due, id), &[])?;
            sched.insert(sched_id_key(id), &due)?;
            Ok(())
        })
    }

    /// Gives entry `id` up, by its clear schedule alone: it leaves the schedule and counts
    /// as failed for good (retention sweeps it with the others). For one that has not been
    /// readable for long. Nothing if it is no longer scheduled.
    pub fn outbox_give_up(&self, id: u64, now: Timestamp) -> Result<(), StoreError> {
        self.check()?;
        let failed = time_key(now);
        self.transaction(|t| {
            if t.outbox_sched.get(sched_id_key(id))?.is_none() {
                return Ok(());
            }
            unschedule(t.outbox_sched, id)?;
            t.outbox_sched.insert(sched_failed_key(id), &failed)?;
            Ok(())
        })?;
        self.unreadable().remove(&id);
        Ok(())
    }

    /// Since when entry `id` has not been readable, if it is not (in memory: since this
    /// process first met it so).
    pub fn outbox_unreadable_since(&self, id: u64) -> Option<Timestamp> {
        self.unreadable().get(&id).copied()
    }

    /// How many scheduled entries have been unreadable since `since` or before (kept in
    /// memory: after a restart, counted again once they fall due).
    pub fn outbox_unreadable(&self, since: Timestamp) -> usize {
        let sched = &self.inner.trees.outbox_sched;
        let mut ids = self.unreadable();
        ids.retain(|id, _| sched.contains_key(sched_id_key(*id)).unwrap_or(true));
        ids.values().filter(|first| **first <= since).count()
    }

    /// When the next outbox entry falls due, if any is waiting.
    pub fn outbox_next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let Some((k, _)) = self
            .inner
            .trees
            .outbox_sched
            .scan_prefix(b"d")
            .next()
            .transpose()?
        else {
            return Ok(None);
        };
        Ok(from_time_key(&k[1..17]))
    }

    /// How many entries are in the outbox, failed ones included.
    pub fn outbox_len(&self) -> usize {
        self.inner.trees.outbox.len()
    }

    /// How many outbox entries failed for good (kept, no longer tried).
    pub fn outbox_failed(&self) -> usize {
        self.inner.trees.outbox_sched.scan_prefix(b"f").count()
    }

    /// Entries tried at least once and still waiting (temporary failures), and when the
    /// oldest of them was queued: for monitoring a relay that is down, without decrypting.
    pub fn outbox_deferred(&self) -> Result<(usize, Option<Timestamp>), StoreError> {
        let mut n = 0;
        let mut oldest: Option<Timestamp> = None;
        for kv in self.inner.trees.outbox_sched.scan_prefix(b"a") {
            let (_, queued) = kv?;
            n += 1;
            if let Some(t) = from_time_key(&queued) {
                oldest = Some(oldest.map_or(t, |o| o.min(t)));
            }
        }
        Ok((n, oldest))
    }

    /// The entries that failed for good, in id order: only these are decrypted.
    pub fn outbox_failed_entries(&self) -> Result<OutboxRead, StoreError> {
        let mut out = OutboxRead::default();
        for (id, _) in self.outbox_failed_at()? {
            match self.outbox_entry(id) {
                Ok(entry) => out.entries.extend(entry),
                Err(e) if damage(&e).is_some() => out.unreadable.push((id, e)),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The entries that failed for good, by id, and when, from the clear schedule alone
    /// (nothing is decrypted, so a damaged entry is listed too).
    pub fn outbox_failed_at(&self) -> Result<Vec<(u64, Timestamp)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.inner.trees.outbox_sched.scan_prefix(b"f") {
            let (k, v) = kv?;
            let id = u64::from_be_bytes(k[1..9].try_into().unwrap_or_default());
            out.extend(from_time_key(&v).map(|at| (id, at)));
        }
        Ok(out)
    }

    /// When entry `id` failed for good, by the clear schedule; none if it has not.
    pub fn outbox_failed_since(&self, id: u64) -> Result<Option<Timestamp>, StoreError> {
        let at = self.inner.trees.outbox_sched.get(sched_failed_key(id))?;
        Ok(at.and_then(|v| from_time_key(&v)))
    }

    /// One outbox entry by id.
    pub fn outbox_entry(&self, id: u64) -> Result<Option<OutboxEntry>, StoreError> {
        let key = id.to_be_bytes();
        match self.inner.trees.outbox.get(key)? {
            Some(v) => self.outbox_read(&key, v),
            None => Ok(None),
        }
    }

    /// The entry whose record under `key` was read as `v`, opened; read again if a store
    /// key rotation changed it meanwhile.
    fn outbox_read(&self, key: &[u8; 8], v: sled::IVec) -> Result<Option<OutboxEntry>, StoreError> {
        let key = *key;
        match self.outbox_open(&key, &v) {
            Ok(entry) => Ok(Some(entry)),
            // Its copy's file sealed again meanwhile (a store key rotation, see
            // `store_key`): the record read first named the old file. Read both again.
            Err(_) if self.inner.trees.outbox.get(key)?.as_ref() != Some(&v) => {
                match self.inner.trees.outbox.get(key)? {
                    Some(v) => Ok(Some(self.outbox_open(&key, &v)?)),
                    None => Ok(None),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Every outbox entry, in id order.
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        self.inner
            .trees
            .outbox
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                self.outbox_open(&k, &v)
            })
            .collect()
    }
}
