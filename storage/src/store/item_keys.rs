//! Each intake's own key (see `ring`): sealing an intake's record, message and outbox
//! copies under it, and opening them again.

use openpgp::crypto::SessionKey;
use sequoia_openpgp as openpgp;

use super::{ItemSealers, Store};
use crate::crypto::{self, Sealer};
use crate::keyspace::*;
use crate::StoreError;

impl Store {
    /// The sealers of one commit, with the `ring` its `CommitLocks` hold.
    pub(super) fn item_sealers<'a>(&'a self, ring: &'a crate::ring::Ring) -> ItemSealers<'a> {
        ItemSealers {
            store: self,
            ring,
            known: Default::default(),
            new: Vec::new(),
        }
    }

    /// The key of `reference`, if it has one (intakes from before keys of their own have
    /// none: their data is sealed to the store key).
    pub(super) fn item_key(&self, reference: &str) -> Result<Option<SessionKey>, StoreError> {
        let ring = self.inner.locks.ring();
        unwrap_key(&self.inner.trees.item_keys, &ring, reference)
    }

    /// `bytes`, sealed under `reference`'s key or (older) to the store key, opened.
    pub(super) fn open_for(&self, reference: &str, bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
        let keys = self.store_keys();
        let store_key = keys.for_bytes(bytes);
        match self.item_key(reference)? {
            Some(k) => crypto::decrypt_with(store_key, &k, bytes, Some(&self.inner.opened)),
            None => crypto::decrypt_cached(store_key, bytes, Some(&self.inner.opened)),
        }
    }

    /// An item record, opened with its own key.
    pub(super) fn open_item<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
        bytes: &[u8],
    ) -> Result<T, StoreError> {
        let reference = String::from_utf8_lossy(key);
        let corrupt = |why: String| StoreError::Corrupt {
            tree: T_ITEMS,
            key: reference.to_string(),
            why,
        };
        let plain = self
            .open_for(&reference, bytes)
            .map_err(|e| corrupt(e.to_string()))?;
        serde_json::from_slice(&plain).map_err(|e| corrupt(e.to_string()))
    }
}

fn unwrap_key(
    tree: &sled::Tree,
    ring: &crate::ring::Ring,
    reference: &str,
) -> Result<Option<SessionKey>, StoreError> {
    match tree.get(reference.as_bytes())? {
        Some(wrapped) => match ring.unwrap(reference, &wrapped)? {
            Some(k) => Ok(Some(k)),
            None => Err(StoreError::Corrupt {
                tree: T_ITEM_KEYS,
                key: reference.to_string(),
                why: "its ring key is gone".into(),
            }),
        },
        None => Ok(None),
    }
}

impl ItemSealers<'_> {
    /// The key of `reference`; made (and wrapped, for the commit to write) when `create`
    /// and it has none.
    fn key(&mut self, reference: &str, create: bool) -> Result<Option<SessionKey>, StoreError> {
        if let Some(k) = self.known.get(reference) {
            return Ok(Some(k.clone()));
        }
        let key = match unwrap_key(&self.store.inner.trees.item_keys, self.ring, reference)? {
            Some(k) => k,
            None if create => {
                let k = crate::ring::new_item_key();
                self.new
                    .push((reference.to_string(), self.ring.wrap(reference, &k)?));
                k
            }
            None => return Ok(None),
        };
        self.known.insert(reference.to_string(), key.clone());
        Ok(Some(key))
    }

    /// Gives `reference` a key of its own now if it has none, so copies queued in the same
    /// commit are sealed under it too.
    pub(super) fn ensure(&mut self, reference: &str) -> Result<(), StoreError> {
        self.key(reference, true).map(|_| ())
    }

    /// `parts` sealed under `reference`'s own key (made if it has none yet).
    pub(super) fn seal(&mut self, reference: &str, parts: &[&[u8]]) -> Result<Vec<u8>, StoreError> {
        let key = self.key(reference, true)?.expect("created");
        Sealer::with_key(key).seal(parts)
    }

    /// `parts` sealed under `reference`'s key if it is an intake's, else to the store key
    /// (an outbox copy of a meeting, which belongs to no intake).
    pub(super) fn seal_if_keyed(
        &mut self,
        reference: &str,
        parts: &[&[u8]],
    ) -> Result<Vec<u8>, StoreError> {
        match self.key(reference, false)? {
            Some(key) => Sealer::with_key(key).seal(parts),
            None => self.store.sealer()?.seal(parts),
        }
    }

    /// The keys this commit made, wrapped: reference → wrapped key.
    pub(super) fn new_keys(&self) -> &[(String, Vec<u8>)] {
        &self.new
    }
}
