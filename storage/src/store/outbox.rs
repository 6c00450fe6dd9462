//! Reading the outbox through its clear schedule, so only what is due is decrypted.

use jiff::Timestamp;

use super::Store;
use crate::keyspace::*;
use crate::records::OutboxEntry;
use crate::StoreError;

/// The outbox entries due, and those due that could not be read.
#[derive(Debug, Default)]
pub struct Due {
    pub entries: Vec<OutboxEntry>,
    /// Due entries whose record or message could not be read (damaged, or its file gone),
    /// by id, and why: reported, and put off ([`Store::outbox_postpone`]) rather than
    /// holding up every copy due with them.
    pub unreadable: Vec<(u64, StoreError)>,
}

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
    pub fn outbox_due(&self, now: Timestamp, limit: usize) -> Result<Due, StoreError> {
        let mut upper = vec![b'd'];
        upper.extend_from_slice(&time_key(now));
        upper.extend_from_slice(&u64::MAX.to_be_bytes());
        let mut due = Due::default();
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
                    Err(e) => {
                        self.unreadable().insert(id);
                        due.unreadable.push((id, e));
                    }
                },
            }
        }
        Ok(due)
    }

    fn unreadable(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<u64>> {
        self.inner
            .outbox_unreadable
            .lock()
            .expect("unreadable lock")
    }

    /// Puts off entry `id` until `until`, by its clear schedule alone (its record is not
    /// read): one that could not be read. Nothing if it is no longer scheduled. Not
    /// flushed: lost, the entry is only due again.
    pub fn outbox_postpone(&self, id: u64, until: Timestamp) -> Result<(), StoreError> {
        use sled::transaction::TransactionError;
        let due = time_key(until);
        (self.inner.trees.outbox_sched)
            .transaction(|t| {
                let Some(old) = t.get(sched_id_key(id))? else {
                    return Ok(());
                };
                if let Ok(old) = <[u8; 16]>::try_from(old.as_ref()) {
                    t.remove(sched_due_key(&old, id))?;
                }
                t.insert(sched_due_key(&due, id), &[])?;
                t.insert(sched_id_key(id), &due)?;
                Ok(())
            })
            .map_err(|e: TransactionError<StoreError>| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(e) => self.storage_failed(e),
            })
    }

    /// How many scheduled entries the last reads of what was due could not read.
    pub fn outbox_unreadable(&self) -> usize {
        let sched = &self.inner.trees.outbox_sched;
        let mut ids = self.unreadable();
        ids.retain(|id| sched.contains_key(sched_id_key(*id)).unwrap_or(true));
        ids.len()
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
    pub fn outbox_failed_entries(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut out = Vec::new();
        for kv in self.inner.trees.outbox_sched.scan_prefix(b"f") {
            let (k, _) = kv?;
            let id = u64::from_be_bytes(k[1..9].try_into().unwrap_or_default());
            out.extend(self.outbox_entry(id)?);
        }
        Ok(out)
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
