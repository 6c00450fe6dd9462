//! Each intake's own key, and the ring key that wraps them: what makes erasure
//! crypto-shredding.
//!
//! An intake's record and message file are sealed under a random key of its own (see
//! `crypto::Sealer::with_key`), with nothing sealed to the store key. That item key is kept
//! wrapped (AES-256-GCM, the reference as associated data) under the current **ring key**, in
//! the `item_keys` tree. Erasing an intake removes its wrapped key, and then the ring
//! *rotates*: a new ring key is written, every remaining item key is wrapped again under it,
//! and the old ring key file is deleted. From then on the erased intake's ciphertext, in
//! sled's log, in the spool, in any backup taken before, has no key anywhere: the wrapped
//! key that may linger in an old log segment or a backup is under a ring key that no longer
//! exists.
//!
//! Ring keys are files `ring-<epoch>.key` in the data directory (0600), each the 32-byte
//! key encrypted to the store key, so a copy of the data directory without the store key
//! opens nothing. Backups never hold them unless asked (`backup create --include-keys`): a
//! restore takes the ring and the item keys from the running daemon or the standby, which
//! have forgotten what was erased since (see `deploy/README.md`).
//!
//! Rotation is crash-safe by order: the new ring file is durable before any key is
//! re-wrapped under it, and the old one is deleted only after every key is re-wrapped and
//! flushed. Each wrapped key names its epoch, so a store opened with two ring files
//! finishes the rotation.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use openpgp::crypto::SessionKey;
use openpgp::Cert;
use rand::RngCore;
use sequoia_openpgp as openpgp;

use crate::StoreError;

const PREFIX: &str = "ring-";
const SUFFIX: &str = ".key";
const NONCE: usize = 12;
/// A ring key file sealed again to a new store key, before it takes the file's place.
const RESEALED: &str = ".new";

/// The ring keys a data directory holds, by epoch.
pub struct Ring {
    dir: PathBuf,
    keys: BTreeMap<u32, [u8; 32]>,
}

/// A ring key file's name.
pub fn file_name(epoch: u32) -> String {
    format!("{PREFIX}{epoch}{SUFFIX}")
}

/// Whether `name` is a ring key file's name (for the report of unused key files).
pub fn is_ring_file(name: &str) -> bool {
    epoch_of_name(name).is_some()
}

fn epoch_of_name(name: &str) -> Option<u32> {
    name.strip_prefix(PREFIX)?
        .strip_suffix(SUFFIX)?
        .parse()
        .ok()
}

/// A fresh random item key.
pub fn new_item_key() -> SessionKey {
    let mut k = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut k);
    SessionKey::from(&k[..])
}

impl Ring {
    /// Reads every ring key in `dir`, each opened with the first of `store_keys` it is
    /// encrypted to (two while a store key rotation runs). None yet is an empty ring: the
    /// store adds the first.
    pub fn open(dir: &Path, store_keys: &[&Cert]) -> Result<Ring, StoreError> {
        let mut keys = BTreeMap::new();
        let io = |source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        };
        for entry in fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // Sealed again to a new store key, not yet in place: the file itself is whole.
            if name
                .strip_suffix(RESEALED)
                .is_some_and(|n| epoch_of_name(n).is_some())
            {
                let _ = fs::remove_file(entry.path());
                continue;
            }
            let Some(epoch) = epoch_of_name(&name) else {
                continue;
            };
            let sealed = crate::keys::read_secret(&entry.path())?;
            let key = store_keys
                .iter()
                .find(|k| crate::crypto::sealed_to(k, &sealed))
                .unwrap_or(&store_keys[0]);
            let plain = crate::crypto::decrypt(key, &sealed).map_err(|e| {
                StoreError::Key(format!(
                    "{}: cannot be opened with the store key: {e}",
                    name
                ))
            })?;
            let key: [u8; 32] = plain
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Key(format!("{name}: not a ring key (wrong length)")))?;
            keys.insert(epoch, key);
        }
        Ok(Ring {
            dir: dir.to_path_buf(),
            keys,
        })
    }

    /// The sealed file of ring key `epoch`, as it is on disk (for a backup or keyring).
    pub fn file(&self, epoch: u32) -> Result<Vec<u8>, StoreError> {
        let path = self.dir.join(file_name(epoch));
        fs::read(&path).map_err(|source| StoreError::Io { path, source })
    }

    /// Moves the ring key files in `from` (the data directory) to `to` (`[keys] ring_dir`),
    /// each written and made durable there before it is removed here, so a crash leaves
    /// every key in one place or both. Returns how many moved.
    pub fn move_apart(from: &Path, to: &Path) -> Result<usize, StoreError> {
        use std::os::unix::fs::PermissionsExt;
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        fs::create_dir_all(to).map_err(io(to))?;
        fs::set_permissions(to, fs::Permissions::from_mode(0o700)).map_err(io(to))?;
        let mut moved = Vec::new();
        for entry in fs::read_dir(from).map_err(io(from))? {
            let entry = entry.map_err(io(from))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_ring_file(&name) {
                continue;
            }
            let target = to.join(&name);
            if !target.exists() {
                crate::keys::write_secret(&target, &crate::keys::read_secret(&entry.path())?)?;
            }
            moved.push(entry.path());
        }
        if moved.is_empty() {
            return Ok(0);
        }
        crate::keys::sync_dir(to)?;
        for path in &moved {
            fs::remove_file(path).map_err(io(path))?;
        }
        crate::keys::sync_dir(from)?;
        Ok(moved.len())
    }

    pub fn has(&self, epoch: u32) -> bool {
        self.keys.contains_key(&epoch)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The epoch new item keys are wrapped under.
    pub fn current(&self) -> Option<u32> {
        self.keys.keys().next_back().copied()
    }

    /// The epochs older than the current one (a rotation left unfinished).
    pub fn retiring(&self) -> Vec<u32> {
        let current = self.current();
        self.keys
            .keys()
            .copied()
            .filter(|e| Some(*e) != current)
            .collect()
    }

    /// Writes a new ring key durably (encrypted to `store_key`) and makes it current.
    pub fn add(&mut self, store_key: &Cert) -> Result<u32, StoreError> {
        let epoch = self.current().unwrap_or(0) + 1;
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        let sealed = crate::crypto::encrypt(&[store_key], &key)?;
        // Written beside and renamed into place, and taken away again if anything fails: a
        // disk that fails (or fills) half-way leaves no truncated key that `open` refuses,
        // nor a file in the way of the next rotation's number.
        let path = self.dir.join(file_name(epoch));
        let next = self.dir.join(format!("{}.adding", file_name(epoch)));
        let _ = fs::remove_file(&next);
        let placed = crate::keys::write_secret(&next, &sealed).and_then(|()| {
            fs::rename(&next, &path).map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?;
            self.sync_dir()
        });
        if let Err(e) = placed {
            let _ = fs::remove_file(&next);
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        self.keys.insert(epoch, key);
        Ok(epoch)
    }

    /// Encrypts every ring key file again to `store_key` (a store key rotation): each is
    /// written beside and renamed over, so a crash leaves a whole file under one key or the
    /// other. Returns how many.
    pub fn reseal(&self, store_key: &Cert) -> Result<usize, StoreError> {
        for (epoch, key) in &self.keys {
            let path = self.dir.join(file_name(*epoch));
            let next = self.dir.join(format!("{}{RESEALED}", file_name(*epoch)));
            let _ = fs::remove_file(&next);
            crate::keys::write_secret(&next, &crate::crypto::encrypt(&[store_key], key)?)?;
            fs::rename(&next, &path).map_err(|source| StoreError::Io { path, source })?;
        }
        self.sync_dir()?;
        Ok(self.keys.len())
    }

    /// Deletes the ring key of `epoch` for good (once nothing is wrapped under it).
    pub fn retire(&mut self, epoch: u32) -> Result<(), StoreError> {
        let path = self.dir.join(file_name(epoch));
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(StoreError::Io { path, source }),
        }
        self.sync_dir()?;
        self.keys.remove(&epoch);
        Ok(())
    }

    fn sync_dir(&self) -> Result<(), StoreError> {
        crate::keys::sync_dir(&self.dir)
    }

    /// `item_key` of `reference` wrapped under the current ring key: epoch (u32 BE) ‖ nonce ‖
    /// ciphertext and tag.
    pub fn wrap(&self, reference: &str, item_key: &SessionKey) -> Result<Vec<u8>, StoreError> {
        let epoch = self
            .current()
            .ok_or_else(|| StoreError::Key("no ring key to wrap item keys under".into()))?;
        let cipher = Aes256Gcm::new_from_slice(&self.keys[&epoch]).expect("32-byte key");
        let mut nonce = [0u8; NONCE];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &item_key[..],
                    aad: reference.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Crypto("wrapping an item key failed".into()))?;
        let mut out = epoch.to_be_bytes().to_vec();
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The epoch a wrapped key is under.
    pub fn epoch_of(wrapped: &[u8]) -> Option<u32> {
        Some(u32::from_be_bytes(wrapped.get(..4)?.try_into().ok()?))
    }

    /// The item key of `reference`; `None` when its ring key is gone (the intake was erased
    /// after this copy was taken).
    pub fn unwrap(
        &self,
        reference: &str,
        wrapped: &[u8],
    ) -> Result<Option<SessionKey>, StoreError> {
        let bad = || StoreError::Corrupt {
            tree: "item_keys",
            key: reference.to_string(),
            why: "the wrapped item key does not open".into(),
        };
        let epoch = Ring::epoch_of(wrapped).ok_or_else(bad)?;
        let Some(ring_key) = self.keys.get(&epoch) else {
            return Ok(None);
        };
        if wrapped.len() < 4 + NONCE {
            return Err(bad());
        }
        let cipher = Aes256Gcm::new_from_slice(ring_key).expect("32-byte key");
        let plain = cipher
            .decrypt(
                Nonce::from_slice(&wrapped[4..4 + NONCE]),
                Payload {
                    msg: &wrapped[4 + NONCE..],
                    aad: reference.as_bytes(),
                },
            )
            .map_err(|_| bad())?;
        Ok(Some(SessionKey::from(&plain[..])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retired_ring_key_opens_nothing_it_wrapped() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::keys::generate_key("store <s@localhost>").unwrap();
        let mut ring = Ring::open(dir.path(), &[&store]).unwrap();
        assert!(ring.is_empty());
        assert_eq!(ring.add(&store).unwrap(), 1);
        let key = new_item_key();
        let wrapped = ring.wrap("MT-2026-000001", &key).unwrap();
        assert_eq!(
            &ring.unwrap("MT-2026-000001", &wrapped).unwrap().unwrap()[..],
            &key[..]
        );
        // Bound to its reference: moved to another, it does not open.
        assert!(ring.unwrap("MT-2026-000002", &wrapped).is_err());
        // The ring is read back from its file.
        let again = Ring::open(dir.path(), &[&store]).unwrap();
        assert!(again.unwrap("MT-2026-000001", &wrapped).unwrap().is_some());
        // Rotated and retired: what was wrapped under epoch 1 has no key.
        assert_eq!(ring.add(&store).unwrap(), 2);
        assert_eq!(ring.retiring(), vec![1]);
        ring.retire(1).unwrap();
        assert!(ring.unwrap("MT-2026-000001", &wrapped).unwrap().is_none());
        let reopened = Ring::open(dir.path(), &[&store]).unwrap();
        assert_eq!(reopened.current(), Some(2));
        assert!(reopened
            .unwrap("MT-2026-000001", &wrapped)
            .unwrap()
            .is_none());
        // Another store key cannot open the ring file.
        let other = crate::keys::generate_key("other <o@localhost>").unwrap();
        assert!(Ring::open(dir.path(), &[&other]).is_err());
    }
}
