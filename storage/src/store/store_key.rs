//! The store key in use, and replacing it while the daemon runs (`modtag keys rotate
//! store`). What is sealed to the store key is small since intakes have keys of their own
//! (see `ring`): the ring key files, the cases, the outbox records (and the files of copies
//! that belong to no intake), the accounts and the statusmøde series, and intakes from
//! before their own keys (given one first, see `rekey`).
//!
//! A rotation records the new key's fingerprint in `meta` (`store_key_rotating`) before
//! anything is sealed to it, then switches: records are sealed to the new key from then on,
//! and read with whichever of the two they are sealed to. Commits in flight are waited for
//! (they hold the blind-index key for reading, see `Inner::blind`), then every value still
//! sealed to the old key is sealed again, one compare-and-swap at a time, so a commit that
//! changes a record meanwhile is never undone. At the end `store_key_id` names the new key.
//!
//! Both keys are needed until then: with the keys in the data directory the new one is
//! `store.key.next`, renamed over `store.key` at the end; with `[keys]` it is
//! `next_store_key` (or given in the request, then named there before a restart). An open
//! that finds a rotation under way finishes it, and refuses to start without the new key.
//! Backups taken before stay sealed to the old key: the kommune's key escrow keeps it as
//! long as they are kept.

use std::sync::Arc;

use jiff::Timestamp;
use openpgp::Cert;
use sequoia_openpgp as openpgp;

use super::batch::Batch;
use super::{Store, StoreKeys, StoreRotation};
use crate::audit::{Event, EventKind};
use crate::keys::{armor_secret, put_in_place, write_next, STORE_KEY, STORE_KEY_NEXT};
use crate::keyspace::*;
use crate::StoreError;

/// The fingerprint of the store key everything is sealed to.
const STORE_KEY_ID: &[u8] = b"store_key_id";
/// The fingerprint of the key a rotation under way moves to.
const STORE_KEY_ROTATING: &[u8] = b"store_key_rotating";
/// `reseal:<spool name>` → the hash of an outbox copy's file sealed again, until the new
/// file is in place (an open finishes the replacement, see `Spool::settle_replacements`).
const RESEAL_PREFIX: &str = "reseal:";

impl StoreKeys {
    /// The key that opens `bytes`.
    pub fn for_bytes(&self, bytes: &[u8]) -> &Cert {
        match &self.previous {
            Some(p) if crate::crypto::sealed_to(p, bytes) => p,
            _ => &self.current,
        }
    }

    /// Both keys, the current first.
    pub fn all(&self) -> Vec<&Cert> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .collect()
    }
}

fn id(key: &Cert) -> Vec<u8> {
    key.fingerprint().to_hex().into_bytes()
}

/// The meta key under which an outbox copy's resealed file's hash waits (see above).
pub(super) fn reseal_key(spool_name: &str) -> String {
    format!("{RESEAL_PREFIX}{spool_name}")
}

/// The keys the store is under, from the key given and the next one (if any): both while a
/// rotation is to be finished. Refuses a key the store is not under.
pub(super) fn settle(
    dir: &std::path::Path,
    meta: &sled::Tree,
    given: &Cert,
    next: Option<&Cert>,
) -> Result<StoreKeys, StoreError> {
    let in_dir = dir.join(STORE_KEY).exists();
    let only = |k: &Cert| StoreKeys {
        current: k.clone(),
        previous: None,
    };
    if let Some(rotating) = meta.get(STORE_KEY_ROTATING)? {
        return match next.filter(|n| id(n) == rotating.as_ref()) {
            Some(n) => Ok(StoreKeys {
                current: n.clone(),
                previous: Some(given.clone()),
            }),
            None => Err(StoreError::Key(format!(
                "a store key rotation to {} was interrupted and that key is not given: put it back as {} in the data directory, or name it as [keys] next_store_key",
                String::from_utf8_lossy(&rotating),
                STORE_KEY_NEXT
            ))),
        };
    }
    let Some(stored) = meta.get(STORE_KEY_ID)? else {
        // A store from before the id was kept is under the key it was always opened with.
        meta.insert(STORE_KEY_ID, id(given))?;
        return Ok(only(given));
    };
    if stored.as_ref() == id(given) {
        return Ok(only(given));
    }
    match next.filter(|n| stored.as_ref() == id(n)) {
        // Done, but the new key not yet in the old one's place.
        Some(n) if in_dir => {
            put_in_place(dir, STORE_KEY_NEXT, STORE_KEY)?;
            Ok(only(n))
        }
        Some(n) => {
            tracing::warn!("the store is under [keys] next_store_key: make that key store_key and remove next_store_key");
            Ok(only(n))
        }
        None => Err(StoreError::Key(format!(
            "the store is sealed to store key {}, not to the one given: a rotation's new key was not put in place. With [keys], seal the key the rotation moved to as the store key credential",
            String::from_utf8_lossy(&stored)
        ))),
    }
}

impl Store {
    /// The store keys, as they are now.
    pub(super) fn store_keys(&self) -> Arc<StoreKeys> {
        self.inner
            .store_keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_store_keys(&self, keys: StoreKeys) {
        *self
            .inner
            .store_keys
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
        // Records are sealed to the new key from the next commit on.
        *self.inner.sealer.lock().expect("sealer lock") = None;
    }

    /// Replaces the store key with `new` (with `[keys]`: given, or named as
    /// `next_store_key`), or with a fresh one in the data directory. Intake goes on
    /// meanwhile; returns what was sealed again.
    pub fn rotate_store_key(
        &self,
        new: Option<Cert>,
        actor: &str,
        now: Timestamp,
    ) -> Result<StoreRotation, StoreError> {
        self.check()?;
        let _one = self.inner.locks.key_rotation();
        let i = &self.inner;
        let old = self.store_keys();
        if old.previous.is_some() {
            return Err(StoreError::Key(
                "a store key rotation is under way already".into(),
            ));
        }
        let in_dir = i.dir.join(STORE_KEY).exists();
        // The next key named at start, unless a rotation since has put it in use.
        let named =
            (i.keys.store_next.clone()).filter(|k| k.fingerprint() != old.current.fingerprint());
        let new = match (new, named, in_dir) {
            (Some(k), _, _) | (None, Some(k), _) => k,
            (None, None, true) => crate::keys::generate_key("modtag store key")?,
            (None, None, false) => {
                return Err(StoreError::Key(
                    "with [keys] the new store key is a file you place on the server: make one with `modtag keys init DIR`, name it as [keys] next_store_key, run `modtag config reload`, and rotate again".into(),
                ))
            }
        };
        if !new.is_tsk() {
            return Err(StoreError::Key(
                "the new store key holds no secret key".into(),
            ));
        }
        if new.fingerprint() == old.current.fingerprint() {
            return Err(StoreError::Key(
                "the new store key is the one in use".into(),
            ));
        }
        if in_dir {
            write_next(&i.dir, STORE_KEY_NEXT, &armor_secret(&new)?)?;
        }
        // Durable before anything is sealed to the new key: an open after a crash knows it
        // needs both.
        i.trees.meta.insert(STORE_KEY_ROTATING, id(&new))?;
        // Begun and done are each an audit entry: one that is begun and never done is a
        // rotation to finish (the next start does).
        let mut b = Batch::new();
        b.audit(
            Event::new(EventKind::KeyRotated, actor, "nøgleskift").details(serde_json::json!({
                "key": "store",
                "step": "begun",
                "from": old.current.fingerprint().to_hex(),
                "to": new.fingerprint().to_hex(),
            })),
        );
        self.commit(b, now)?;
        self.flush()?;
        self.set_store_keys(StoreKeys {
            current: new,
            previous: Some(old.current.clone()),
        });
        // Commits that took a sealer before the switch hold the blind-index key for
        // reading until they are applied: once it is ours, none is left.
        drop(i.locks.blind_mut());
        self.finish_store_rotation(actor, now)
    }

    /// Seals everything still sealed to the previous store key again to the current one,
    /// and then records the current as the store's key (also what finishes a rotation a
    /// crash interrupted, at open).
    pub(super) fn finish_store_rotation(
        &self,
        actor: &str,
        now: Timestamp,
    ) -> Result<StoreRotation, StoreError> {
        let i = &self.inner;
        let keys = self.store_keys();
        let Some(old) = keys.previous.clone() else {
            return Ok(StoreRotation::default());
        };
        let mut done = StoreRotation::default();
        // Intakes from before their own keys: given one (their data then opens with it).
        while self.rekey_legacy(1000, now)? > 0 {}
        done.ring_keys = i.locks.ring_mut().reseal(&keys.current)?;
        for (tree, name) in [
            (&i.trees.cases, T_CASES),
            (&i.trees.users, T_USERS),
            (&i.trees.meta, T_META),
            (&i.trees.items, T_ITEMS),
        ] {
            for kv in tree.iter() {
                let (k, _) = kv?;
                done.records += self.reseal_record(tree, name, &k, &old)?;
            }
        }
        for kv in i.trees.outbox.iter() {
            let (k, _) = kv?;
            let (records, files) = self.reseal_outbox(&k, &old)?;
            done.records += records;
            done.files += files;
        }
        i.spool.sync_dir()?;
        i.trees.meta.insert(STORE_KEY_ID, id(&keys.current))?;
        i.trees.meta.remove(STORE_KEY_ROTATING)?;
        self.flush()?;
        if i.dir.join(STORE_KEY_NEXT).exists() {
            // The old key stays beside, linked before the new one takes its name, for the
            // backups taken before: the administrator takes it to the escrow (every start
            // reports it until then).
            let name = format!("{STORE_KEY}.retired-{}", old.fingerprint().to_hex());
            let retired = i.dir.join(&name);
            if !retired.exists() {
                std::fs::hard_link(i.dir.join(STORE_KEY), &retired).map_err(|source| {
                    StoreError::Io {
                        path: retired,
                        source,
                    }
                })?;
            }
            put_in_place(&i.dir, STORE_KEY_NEXT, STORE_KEY)?;
            done.retired = Some(name);
        }
        self.set_store_keys(StoreKeys {
            current: keys.current.clone(),
            previous: None,
        });
        let mut b = Batch::new();
        b.audit(
            Event::new(EventKind::KeyRotated, actor, "nøgleskift").details(serde_json::json!({
                "key": "store",
                "step": "done",
                "from": old.fingerprint().to_hex(),
                "to": keys.current.fingerprint().to_hex(),
                "records_resealed": done.records,
                "files_resealed": done.files,
                "ring_keys_resealed": done.ring_keys,
            })),
        );
        self.commit(b, now)?;
        self.flush()?;
        Ok(done)
    }

    /// `plain` sealed to the current store key.
    fn seal_plain(&self, plain: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.sealer()?.seal(&[plain])
    }

    /// Seals the value under `key` again if it is sealed to `old`; retried when a commit
    /// changed it meanwhile (what that commit wrote is sealed to the new key already).
    fn reseal_record(
        &self,
        tree: &sled::Tree,
        name: &'static str,
        key: &[u8],
        old: &Cert,
    ) -> Result<usize, StoreError> {
        loop {
            let Some(value) = tree.get(key)? else {
                return Ok(0);
            };
            if !crate::crypto::sealed_to(old, &value) {
                return Ok(0);
            }
            let plain = crate::crypto::decrypt_cached(old, &value, Some(&self.inner.opened))
                .map_err(|e| StoreError::Corrupt {
                    tree: name,
                    key: String::from_utf8_lossy(key).into_owned(),
                    why: e.to_string(),
                })?;
            let sealed = self.seal_plain(&plain)?;
            if tree
                .compare_and_swap(key, Some(value), Some(sealed))?
                .is_ok()
            {
                return Ok(1);
            }
        }
    }

    /// An outbox record sealed again, and its copy's file when that is sealed to `old` (a
    /// copy that belongs to no intake): the new file is written beside, its hash committed
    /// with the record (and in `meta` for an open that must finish the replacement), then
    /// put in place. Returns (records, files).
    fn reseal_outbox(&self, key: &[u8], old: &Cert) -> Result<(usize, usize), StoreError> {
        let i = &self.inner;
        loop {
            let Some(value) = i.trees.outbox.get(key)? else {
                return Ok((0, 0));
            };
            if !crate::crypto::sealed_to(old, &value) {
                return Ok((0, 0));
            }
            let mut entry: crate::records::OutboxEntry = self.open_sealed(T_OUTBOX, key, &value)?;
            let spool_name = crate::spool::Spool::outbox_name(entry.id);
            let mut replaced = false;
            // A small copy of no intake, sealed in the record: sealed again with it.
            if let Some(inline) = entry.message_sealed.as_mut() {
                if crate::crypto::sealed_to(old, inline) {
                    *inline = self.seal_plain(&crate::crypto::decrypt(old, inline)?)?;
                }
            }
            if let Some(hash) = entry
                .message_sha256
                .as_deref()
                .and_then(|h| hex::decode(h).ok())
            {
                let file = match i.spool.read(&spool_name, &hash) {
                    Ok(file) => file,
                    // Delivered (record and file gone) or changed meanwhile: look again.
                    Err(_) if i.trees.outbox.get(key)?.as_deref() != Some(&value[..]) => continue,
                    Err(e) => return Err(e),
                };
                if crate::crypto::sealed_to(old, &file) {
                    let plain = crate::crypto::decrypt(old, &file)?;
                    let new_hash = i
                        .spool
                        .write_replacement(&spool_name, &self.seal_plain(&plain)?)?;
                    entry.message_sha256 = Some(hex::encode(new_hash));
                    replaced = true;
                }
            }
            let sealed = self.seal(&entry)?;
            let reseal = reseal_key(&spool_name);
            let applied = self.transaction(|t| {
                if t.outbox.get(key)?.as_deref() != Some(&value[..]) {
                    return Ok(false);
                }
                t.outbox.insert(key, sealed.as_slice())?;
                if let (true, Some(h)) = (replaced, &entry.message_sha256) {
                    t.meta
                        .insert(reseal.as_bytes(), hex::decode(h).unwrap_or_default())?;
                }
                Ok(true)
            })?;
            if !applied {
                if replaced {
                    i.spool.drop_replacement(&spool_name);
                }
                continue;
            }
            if replaced {
                self.flush()?;
                i.spool.replace(&spool_name)?;
                i.trees.meta.remove(reseal.as_bytes())?;
            }
            return Ok((1, replaced as usize));
        }
    }
}
