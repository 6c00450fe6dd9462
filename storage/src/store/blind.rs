//! The blind-index key in use, and replacing it while the daemon runs: every "cpr:" and
//! "sent:" entry of the intakes' index and every case's key are written again under the new
//! key in one transaction, with the key's id in `meta`.
//!
//! With the keys in the data directory, the new key is written beside the old
//! (`blind-index.key.next`) before the transaction and renamed over it after, and an open
//! that finds the index under the next key finishes the rename. With `[keys]` apart the new
//! key comes from the administrator, who then seals it as the blind-index credential; a
//! store opened with the old key after that is refused with that message, never searched
//! with the wrong key.

use jiff::Timestamp;

use super::batch::Batch;
use super::Store;
use crate::audit::{Event, EventKind};
use crate::keys::{put_in_place, read_secret, write_next, BLIND_KEY};
use crate::keyspace::*;
use crate::StoreError;

const BLIND_NEXT: &str = "blind-index.key.next";

/// The key the index is under: `given`, or the next key a rotation left (then put in
/// place). Refuses a key the index is not under.
pub(super) fn settle_key(
    dir: &std::path::Path,
    meta: &sled::Tree,
    given: [u8; 32],
) -> Result<[u8; 32], StoreError> {
    let next = dir.join(BLIND_NEXT);
    let stored = match meta.get(BLIND_KEY_ID)? {
        // A store from before the id was kept is under the key it was always opened with.
        None => {
            meta.insert(BLIND_KEY_ID, &blind_key_id(&given))?;
            return Ok(given);
        }
        Some(id) => id,
    };
    if stored.as_ref() == blind_key_id(&given) {
        let _ = std::fs::remove_file(&next);
        return Ok(given);
    }
    if let Ok(text) = read_secret(&next) {
        let key: Option<[u8; 32]> = hex::decode(String::from_utf8_lossy(&text).trim())
            .ok()
            .and_then(|b| b.try_into().ok());
        if let Some(key) = key.filter(|k| stored.as_ref() == blind_key_id(k)) {
            put_in_place(dir, BLIND_NEXT, BLIND_KEY)?;
            return Ok(key);
        }
    }
    Err(StoreError::Key(
        "the blind index is written under another blind-index key than the one given: a rotation's new key was not put in place. With [keys], seal the key [keys] next_blind_index_key names (the one `modtag keys rotate blind-index` took) as the blind-index credential".into(),
    ))
}

impl Store {
    /// The blind-index key, held for reading while the guard lives.
    pub(super) fn blind_key(&self) -> std::sync::RwLockReadGuard<'_, [u8; 32]> {
        self.inner.locks.blind()
    }

    /// Replaces the blind-index key: `new`, or (with the keys in the data directory) a
    /// fresh one. Commits wait meanwhile (a few seconds for 100,000 intakes); lookups then
    /// find under the new key. Returns how many index entries and cases were written again.
    pub fn rotate_blind_key(
        &self,
        new: Option<[u8; 32]>,
        actor: &str,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        self.check()?;
        let _one = self.inner.locks.key_rotation();
        let i = &self.inner;
        let in_dir = i.dir.join(BLIND_KEY).exists();
        let new = match (new, in_dir) {
            (Some(k), _) => k,
            (None, true) => rand::random(),
            (None, false) => {
                return Err(StoreError::Key(
                    "with [keys] the new blind-index key is a file you place on the server: make one with `modtag keys init DIR`, name it as [keys] next_blind_index_key, run `modtag config reload`, and rotate again".into(),
                ))
            }
        };
        if in_dir {
            write_next(&i.dir, BLIND_NEXT, hex::encode(new).as_bytes())?;
        }
        let mut key = i.locks.blind_mut();
        let old_index: Vec<sled::IVec> =
            i.trees.item_index.iter().keys().collect::<Result<_, _>>()?;
        let mut new_index = Vec::new();
        for item in self.items()? {
            new_index.extend(item_index_keys(&new, &item));
        }
        let mut cases = Vec::new();
        for case in self.cases()? {
            let Some(old_key) = i.trees.case_index.get(case.case_number.as_bytes())? else {
                continue;
            };
            let Some(sealed) = i.trees.cases.get(&old_key)? else {
                continue;
            };
            cases.push((
                case.case_number.clone(),
                old_key,
                case_key(&new, &case),
                sealed,
            ));
        }
        let id = blind_key_id(&new);
        self.transaction(|t| {
            for k in &old_index {
                t.item_index.remove(k)?;
            }
            for k in &new_index {
                t.item_index.insert(k.as_slice(), &[])?;
            }
            for (number, old_key, new_key, sealed) in &cases {
                t.cases.remove(old_key)?;
                t.cases.insert(new_key.as_slice(), sealed)?;
                t.case_index.insert(number.as_bytes(), new_key.as_slice())?;
            }
            t.meta.insert(BLIND_KEY_ID, &id)?;
            Ok(())
        })?;
        self.flush()?;
        *key = new;
        drop(key);
        if in_dir {
            put_in_place(&i.dir, BLIND_NEXT, BLIND_KEY)?;
        }
        let n = new_index.len() + cases.len();
        let mut b = Batch::new();
        b.audit(
            Event::new(EventKind::KeyRotated, actor, "nøgleskift").details(serde_json::json!({
                "key": "blind-index",
                "entries_rewritten": n,
            })),
        );
        self.commit(b, now)?;
        self.flush()?;
        Ok(n)
    }
}
