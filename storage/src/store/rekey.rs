//! Intakes stored before each had a key of its own (sealed to the store key) are given one:
//! the record and the message file sealed again under it, a few at a time while the daemon
//! runs, so that erasing them is crypto-shredding too (see `ring`).
//!
//! The message's new file is written beside the old (`<reference>.pgp.new`), its hash
//! committed with the item's key, and the file put in place only once that is durable; an
//! open in between finishes or drops it (`Spool::settle_replacements`), and a read in the
//! moment between takes the new file by its hash.

use jiff::Timestamp;

use super::batch::Batch;
use super::Store;
use crate::StoreError;

/// Set in `meta` once no intake is left without a key of its own (none is made without).
const REKEYED: &[u8] = b"legacy_rekeyed";

impl Store {
    /// Gives at most `limit` intakes without a key of their own one each; returns how many.
    pub fn rekey_legacy(&self, limit: usize, now: Timestamp) -> Result<usize, StoreError> {
        self.check()?;
        let i = &self.inner;
        if i.trees.meta.contains_key(REKEYED)? {
            return Ok(0);
        }
        let mut n = 0;
        for reference in i.trees.items.iter().keys() {
            let reference = String::from_utf8_lossy(&reference?).into_owned();
            if i.trees.item_keys.contains_key(reference.as_bytes())? {
                continue;
            }
            if n == limit {
                return Ok(n);
            }
            let _guard = self.lock_item(&reference);
            let Some(item) = self.item(&reference)? else {
                continue;
            };
            let message = self.message(&reference)?;
            let mut b = Batch::new();
            b.item(item);
            if let Some(m) = &message {
                b.resealed.push((reference.clone(), m.clone()));
            }
            self.commit(b, now)?;
            self.flush()?;
            if message.is_some() {
                i.spool.replace(&reference)?;
            }
            n += 1;
        }
        i.spool.sync_dir()?;
        i.trees.meta.insert(REKEYED, b"1")?;
        self.flush()?;
        Ok(n)
    }
}
