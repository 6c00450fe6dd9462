//! Encrypted message files: `DATA/spool/<reference>.pgp`.
//!
//! Raw messages are kept out of sled because sled 0.34 holds written values in memory
//! whatever its cache setting (measured: 1,000 × 500 KB values kept 500 MB resident). A file
//! is written and fsynced, and then its directory, before the sled transaction that records
//! its SHA-256 (sled may make a transaction durable on its own, and a record must never
//! outlive its file's name), so a `250` after the group commit covers both. A
//! file whose record never committed (a crash in between) is removed when the store opens.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::StoreError;

pub const SPOOL_DIR: &str = "spool";

pub struct Spool {
    dir: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| {
        if source.raw_os_error() == Some(28) {
            StoreError::Full(format!("{}: {source}", path.display()))
        } else {
            StoreError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }
}

/// Writes `bytes` to `path` (0600) and syncs it; `new_only` refuses an existing file,
/// otherwise it is replaced. Returns the SHA-256 of `bytes`.
fn write_synced(path: &Path, bytes: &[u8], new_only: bool) -> Result<[u8; 32], StoreError> {
    let written = (|| {
        crate::failpoint::step("spool.write")?;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(new_only)
            .create(!new_only)
            .truncate(!new_only)
            .mode(0o600)
            .open(path)?;
        f.write_all(bytes)?;
        Ok(f)
    })()
    .map_err(|e| (e, false))
    .and_then(|f| {
        crate::failpoint::step("spool.fsync")
            .and_then(|()| f.sync_data())
            .map_err(|e| (e, true))
    });
    if let Err((e, syncing)) = written {
        // A partial file on a full disk must not hold on to the space it took.
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            let _ = fs::remove_file(path);
        }
        return Err(match syncing {
            true => StoreError::NotDurable {
                path: path.to_path_buf(),
                source: e,
            },
            false => io(path)(e),
        });
    }
    Ok(Sha256::digest(bytes).into())
}

impl Spool {
    pub fn open(data_dir: &Path) -> Result<Spool, StoreError> {
        let dir = data_dir.join(SPOOL_DIR);
        if !dir.exists() {
            fs::DirBuilder::new()
                .mode(0o700)
                .create(&dir)
                .map_err(io(&dir))?;
        }
        Ok(Spool { dir })
    }

    fn path(&self, reference: &str) -> PathBuf {
        self.dir.join(format!("{reference}.pgp"))
    }

    /// Writes `ciphertext` durably under `reference`; returns its SHA-256.
    ///
    /// Written in place, not through a temporary and a rename: a file only counts once the
    /// transaction that records its hash has committed, after this fsync, and a file without
    /// a record (a crash in between) is removed at the next open. That saves a rename per
    /// message. `create_new` keeps an existing file from being overwritten.
    pub fn write(&self, reference: &str, ciphertext: &[u8]) -> Result<[u8; 32], StoreError> {
        write_synced(&self.path(reference), ciphertext, true)
    }

    fn replacement(&self, reference: &str) -> PathBuf {
        self.dir.join(format!("{reference}.pgp.new"))
    }

    /// Writes `ciphertext` durably as the replacement of `reference`'s file (an intake's
    /// message sealed again under its own key); returns its SHA-256. It takes the file's
    /// place with [`Spool::replace`] once the record holds its hash; an open between the two
    /// finishes the replacement when the record holds its hash and drops it otherwise
    /// ([`Spool::settle_replacements`]).
    pub fn write_replacement(
        &self,
        reference: &str,
        ciphertext: &[u8],
    ) -> Result<[u8; 32], StoreError> {
        write_synced(&self.replacement(reference), ciphertext, false)
    }

    /// Puts the replacement of `reference` in its place.
    pub fn replace(&self, reference: &str) -> Result<(), StoreError> {
        let path = self.path(reference);
        fs::rename(self.replacement(reference), &path).map_err(io(&path))
    }

    /// Drops the replacement of `reference` (its record did not commit).
    pub fn drop_replacement(&self, reference: &str) {
        let _ = fs::remove_file(self.replacement(reference));
    }

    /// At open: each replacement whose hash the record holds (`recorded`) takes its file's
    /// place; any other is dropped.
    pub fn settle_replacements(
        &self,
        recorded: impl Fn(&str) -> Option<Vec<u8>>,
    ) -> Result<(), StoreError> {
        for entry in fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let entry = entry.map_err(io(&self.dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(reference) = name.strip_suffix(".pgp.new") else {
                continue;
            };
            let bytes = fs::read(entry.path()).map_err(io(&entry.path()))?;
            if recorded(reference).as_deref() == Some(Sha256::digest(&bytes).as_slice()) {
                self.replace(reference)?;
            } else {
                self.drop_replacement(reference);
            }
        }
        self.sync_dir()
    }

    /// Makes new names in the spool durable (before a transaction names them: see
    /// `Store::sync_spool_dir`).
    pub fn sync_dir(&self) -> Result<(), StoreError> {
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))
    }

    /// Reads the file of `reference` and checks it against the recorded hash.
    pub fn read(&self, reference: &str, hash: &[u8]) -> Result<Vec<u8>, StoreError> {
        let path = self.path(reference);
        let bytes = fs::read(&path).map_err(io(&path))?;
        if Sha256::digest(&bytes).as_slice() != hash {
            // Sealed again and recorded, not yet in its place (a moment in `rekey`).
            if let Ok(replacement) = fs::read(self.replacement(reference)) {
                if Sha256::digest(&replacement).as_slice() == hash {
                    return Ok(replacement);
                }
            }
            return Err(StoreError::Corrupt {
                tree: "spool",
                key: reference.to_string(),
                why: "the message file does not match its recorded hash".into(),
            });
        }
        Ok(bytes)
    }

    /// The spool name of outbox entry `id`'s message.
    pub fn outbox_name(id: u64) -> String {
        format!("outbox-{id:016x}")
    }

    pub fn remove(&self, reference: &str) {
        let _ = fs::remove_file(self.path(reference));
    }

    /// Removes files (and leftover temporaries) for which `known` says no record exists.
    pub fn clean(&self, known: impl Fn(&str) -> bool) -> Result<usize, StoreError> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let entry = entry.map_err(io(&self.dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let keep = name.strip_suffix(".pgp").is_some_and(&known);
            if !keep {
                let _ = fs::remove_file(entry.path());
                removed += 1;
            }
        }
        Ok(removed)
    }
}
