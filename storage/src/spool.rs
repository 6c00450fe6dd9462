//! Encrypted message files: `DATA/spool/<reference>.pgp`.
//!
//! Raw messages are kept out of sled because sled 0.34 holds written values in memory
//! whatever its cache setting (measured: 1,000 × 500 KB values kept 500 MB resident). A file
//! is written and fsynced, and its name made durable, before the sled transaction that
//! records its SHA-256: sled may make a transaction durable on its own (its flush every half
//! second, a full log buffer written out), and a record must never outlive its file. So a
//! `250` after the group commit covers both. A file whose record never committed (a crash
//! in between) is removed when the store opens.
//!
//! **Names made ahead.** Syncing the directory for each message cost a third of intake's
//! rate at 20 KB (BENCHMARKS.md, "Power cuts"). References and outbox ids count up, so a
//! name that was not made ahead is created together with the next [`AHEAD`] names of its
//! sequence, empty, and the directory synced once (shared by the writers of the moment,
//! [`Group`]); the messages that follow find their names durable and need only their own
//! fsync. Empty files no record names are removed at open like any other. Their handles are
//! kept until they are written (opening each again by name cost 3 % of intake's CPU), for
//! the last [`KEPT`] names made: not every name is written (outbox ids are shared with
//! copies kept in their records and with letters, a reference can go unused), so older
//! ones are let go and their empty files removed, and a writer that comes for one after all
//! creates it as one never made ahead.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::group::Group;
use crate::StoreError;

pub const SPOOL_DIR: &str = "spool";

/// How many names of a sequence are made ahead with each directory sync.
pub const AHEAD: u64 = 64;

/// How many names made ahead are kept known (and open), the newest: four runs.
pub const KEPT: usize = 4 * AHEAD as usize;

pub struct Spool {
    dir: PathBuf,
    /// Names made ahead and not yet written.
    ahead: std::sync::Mutex<Ahead>,
    /// Held by whoever creates or removes names made ahead (or creates one that was not),
    /// so that no writer meets a file made ahead that it does not know of; `ahead` is held
    /// only for a moment, so the writers of names already made do not wait while a whole
    /// run is created (64 files, a couple of milliseconds).
    making: std::sync::Mutex<()>,
    /// The directory's sync, shared by the writers that need it at once.
    synced: Group,
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

/// Creates `path` empty (0600), never over an existing file.
fn create_empty(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// A name made ahead: its file, open for writing, and whether its directory entry is
/// durable yet (the writer that made it is still syncing the directory when not).
struct MadeAhead {
    file: fs::File,
    durable: bool,
    /// Which run made it: a name let go and made again by a later run is only made
    /// durable by that run's directory sync, not by the first run's.
    run: u64,
}

/// The names made ahead and not yet written, and the order the last [`KEPT`] were made in.
#[derive(Default)]
struct Ahead {
    names: std::collections::HashMap<String, MadeAhead>,
    made: std::collections::VecDeque<String>,
    /// Runs made so far.
    runs: u64,
}

impl Ahead {
    /// Adds a run of names just made, returning its number and the names made before the
    /// last [`KEPT`] that are still unwritten, now let go: their empty files are to be
    /// removed before `making` is let go (a writer creates a name it does not find here
    /// under `making` too, so it never meets one of them half removed).
    fn add(&mut self, made: Vec<(String, fs::File)>) -> (u64, Vec<String>) {
        self.runs += 1;
        let run = self.runs;
        for (name, file) in made {
            self.made.push_back(name.clone());
            let durable = false;
            self.names.insert(name, MadeAhead { file, durable, run });
        }
        let mut gone = Vec::new();
        while self.made.len() > KEPT {
            let Some(old) = self.made.pop_front() else {
                break;
            };
            if self.names.remove(&old).is_some() {
                gone.push(old);
            }
        }
        (run, gone)
    }
}

/// A message file's name about to be written, new and empty either way.
enum Fresh {
    MadeAhead(MadeAhead),
    /// Created just now, by this handle.
    Created(fs::File),
}

/// Opens `path` for writing (0600), emptied if it exists.
fn open_emptied(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Writes `bytes` to `path`, reached by `open`, and syncs its contents (not its name).
/// Returns the SHA-256 of `bytes`.
fn write_synced(
    path: &Path,
    open: impl FnOnce() -> std::io::Result<fs::File>,
    bytes: &[u8],
) -> Result<[u8; 32], StoreError> {
    let written = (|| {
        crate::failpoint::step("spool.write")?;
        let mut f = open()?;
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
        let _ = fs::remove_file(path);
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
        Ok(Spool {
            dir,
            ahead: Default::default(),
            making: Default::default(),
            synced: Group::default(),
        })
    }

    fn path(&self, reference: &str) -> PathBuf {
        self.dir.join(format!("{reference}.pgp"))
    }

    /// Writes `ciphertext` durably under `reference`, name and all; returns its SHA-256.
    ///
    /// Written in place, not through a temporary and a rename: a file only counts once the
    /// transaction that records its hash has committed, and a file without a record (a
    /// crash in between) is removed at the next open. A name made ahead needs only the
    /// file's fsync; any other is created (never over an existing file: that is an error)
    /// with the next names of its sequence, and the directory synced once for them all.
    pub fn write(&self, reference: &str, ciphertext: &[u8]) -> Result<[u8; 32], StoreError> {
        let path = self.path(reference);
        let take = || {
            self.ahead
                .lock()
                .expect("ahead lock")
                .names
                .remove(reference)
        };
        let fresh = match take() {
            Some(made) => Fresh::MadeAhead(made),
            None => {
                // Not made yet, or being made: once no one is making names, it is known
                // or not made at all.
                let _making = self.making.lock().expect("making lock");
                match take() {
                    Some(made) => Fresh::MadeAhead(made),
                    None => Fresh::Created(create_empty(&path).map_err(io(&path))?),
                }
            }
        };
        // Either way the file is new and empty, written through the handle that created it.
        let (hash, made) = match fresh {
            Fresh::Created(file) => (write_synced(&path, || Ok(file), ciphertext)?, None),
            Fresh::MadeAhead(MadeAhead { file, durable, .. }) => {
                (write_synced(&path, || Ok(file), ciphertext)?, Some(durable))
            }
        };
        let (run, next) = match made {
            Some(true) => return Ok(hash),
            // Made by a writer still syncing the directory: a sync of our own (shared).
            Some(false) => (0, Vec::new()),
            None => self.make_ahead(reference),
        };
        self.sync_names().inspect_err(|_| self.remove(reference))?;
        let mut ahead = self.ahead.lock().expect("ahead lock");
        for name in next {
            match ahead.names.get_mut(&name) {
                Some(made) if made.run == run => made.durable = true,
                _ => {}
            }
        }
        Ok(hash)
    }

    /// Creates the next [`AHEAD`] names after `name` in its sequence (the counter at its
    /// end: hexadecimal for outbox copies, decimal for references), empty; those that
    /// exist already are left alone. Returns the run's number and the names it made, noted
    /// as not yet durable (before `making` is let go, so that no writer meets a made file it
    /// does not know of).
    fn make_ahead(&self, name: &str) -> (u64, Vec<String>) {
        let (prefix, digits, radix) = match name.strip_prefix("outbox-") {
            Some(hex) => ("outbox-", hex, 16),
            None => {
                let at = name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
                (&name[..at], &name[at..], 10)
            }
        };
        let Ok(n) = u64::from_str_radix(digits, radix) else {
            return (0, Vec::new());
        };
        let width = digits.len();
        let _making = self.making.lock().expect("making lock");
        // Writers that met no made name at once each make the names after theirs: what
        // another made already is known here, and not tried again (a failed create each,
        // two per message at 20 sessions).
        let wanted: Vec<String> = {
            let ahead = self.ahead.lock().expect("ahead lock");
            (1..=AHEAD)
                .filter_map(|i| n.checked_add(i))
                .map(|m| match radix {
                    16 => format!("{prefix}{m:0width$x}"),
                    _ => format!("{prefix}{m:0width$}"),
                })
                .filter(|next| !ahead.names.contains_key(next))
                .collect()
        };
        let made: Vec<(String, fs::File)> = (wanted.into_iter())
            .filter_map(|next| {
                create_empty(&self.path(&next))
                    .ok()
                    .map(|file| (next, file))
            })
            .collect();
        let names = made.iter().map(|(name, _)| name.clone()).collect();
        let (run, gone) = (self.ahead.lock().expect("ahead lock")).add(made);
        for name in gone {
            let _ = fs::remove_file(self.path(&name));
        }
        (run, names)
    }

    /// Makes the names created so far durable: one directory sync for every writer waiting
    /// at the moment. A failure is [`StoreError::NotDurable`] (the store stops).
    fn sync_names(&self) -> Result<(), StoreError> {
        self.synced
            .run(
                || false,
                || {
                    crate::failpoint::step("spool.dir").map_err(|source| {
                        StoreError::NotDurable {
                            path: self.dir.clone(),
                            source,
                        }
                    })?;
                    self.sync_dir()
                },
            )
            .map_err(|e| match e {
                StoreError::Io { path, source } => StoreError::NotDurable { path, source },
                other => other,
            })
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
        let path = self.replacement(reference);
        let hash = write_synced(&path, || open_emptied(&path), ciphertext)?;
        self.sync_names()?;
        Ok(hash)
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

    /// Makes the spool's names as they are now durable.
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
            // Sealed again and recorded, not yet in its place (a moment in `rekey`)...
            if let Ok(replacement) = fs::read(self.replacement(reference)) {
                if Sha256::digest(&replacement).as_slice() == hash {
                    return Ok(replacement);
                }
            }
            // ...or put in its place since the first read.
            if let Ok(again) = fs::read(&path) {
                if Sha256::digest(&again).as_slice() == hash {
                    return Ok(again);
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

    /// Removes files (and leftover temporaries) for which `known` says no record exists;
    /// returns how many held something (empty ones are names made ahead).
    pub fn clean(&self, known: impl Fn(&str) -> bool) -> Result<usize, StoreError> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let entry = entry.map_err(io(&self.dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let keep = name.strip_suffix(".pgp").is_some_and(&known);
            if !keep {
                let held = entry.metadata().is_ok_and(|m| m.len() > 0);
                let _ = fs::remove_file(entry.path());
                removed += usize::from(held);
            }
        }
        *self.ahead.lock().expect("ahead lock") = Ahead::default();
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty_files(dir: &Path) -> usize {
        (fs::read_dir(dir).unwrap())
            .filter(|e| e.as_ref().unwrap().metadata().unwrap().len() == 0)
            .count()
    }

    /// Names made ahead that are never written (ids taken by copies kept in their records,
    /// say) are let go after [`KEPT`]: their handles closed and their files removed, and a
    /// writer that comes for one after all still gets its name.
    #[test]
    fn names_made_ahead_and_never_written_are_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let spool_dir = dir.path().join(SPOOL_DIR);
        // Every 100th id written: each write makes the 64 after it, none of them used.
        for n in 0..10u64 {
            spool.write(&Spool::outbox_name(n * 100), b"x").unwrap();
        }
        assert_eq!(spool.ahead.lock().unwrap().names.len(), KEPT);
        assert_eq!(empty_files(&spool_dir), KEPT, "older empty files removed");
        assert!(!spool_dir
            .join(format!("{}.pgp", Spool::outbox_name(1)))
            .exists());
        // A name let go is written as one never made ahead; one still kept, through its
        // handle. Both read back.
        for n in [1, 901] {
            let name = Spool::outbox_name(n);
            let hash = spool.write(&name, b"late").unwrap();
            assert_eq!(spool.read(&name, &hash).unwrap(), b"late");
        }
    }
}
