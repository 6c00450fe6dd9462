//! The backup file: a data directory's trees, message files and (when asked) key files as
//! one stream, with a manifest of hashes at its end, the whole encrypted to the store key
//! (see `store::backup` for what goes in and in which order, and `deploy/README.md`).
//!
//! Inside the encryption the stream is `MAGIC`, then frames:
//!
//! | tag | frame |
//! |---|---|
//! | `E` | a tree entry: u16 tree name length, name, u32 key length, key, u32 value length, value |
//! | `F` | a spool file: u16 name length, name, u64 length, bytes |
//! | `K` | a key file of the data directory: as `F` |
//! | `M` | the manifest, last: u32 length, JSON |
//!
//! An increment (`kind: "increment"`) has the same frames; its tree entries replace the
//! standby's, and the pseudo-tree `gone` names intakes erased since (see `standby`).
//!
//! Each tree's entries, and each file, are hashed as they are written; the reader hashes them
//! again and refuses a stream whose manifest disagrees, or that ends before its manifest (a
//! backup cut short is never taken for a whole one).

use std::collections::BTreeMap;
use std::io::{Read, Write};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::StoreError;

const MAGIC: &[u8] = b"MODTAG-BACKUP-1\n";

/// What a backup (or a keyring export) holds, written last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// `backup`, or `keyring` (the item keys and the ring key alone: see `ring`).
    pub kind: String,
    pub modtag_version: String,
    pub created_at: Timestamp,
    /// The audit log's size and head hash (hex) the backup holds.
    pub audit_size: u64,
    pub audit_head: String,
    /// The ring key the backup's item keys are wrapped under.
    pub ring_epoch: Option<u32>,
    /// Whether the key files that open intakes are in it (`--include-keys`).
    pub includes_keys: bool,
    /// Where a standby that holds this goes on from: the audit log's size read before
    /// anything was copied; the next increment is taken `--since` it (see
    /// `store::backup`). Absent in backups from before increments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// An increment's: the position of the standby it follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
    pub trees: BTreeMap<String, Tally>,
    /// Spool files by name: SHA-256 (hex).
    pub files: BTreeMap<String, String>,
    /// Key files by name: SHA-256 (hex).
    pub key_files: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub entries: u64,
    /// SHA-256 (hex) over each entry as framed.
    pub sha256: String,
}

/// One frame, as read.
pub enum Part {
    Entry {
        tree: String,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    File {
        name: String,
        bytes: Vec<u8>,
    },
    KeyFile {
        name: String,
        bytes: Vec<u8>,
    },
}

#[derive(Default)]
struct Hashes {
    trees: BTreeMap<String, (u64, Sha256)>,
    files: BTreeMap<String, String>,
    key_files: BTreeMap<String, String>,
}

impl Hashes {
    fn entry(&mut self, tree: &str, key: &[u8], value: &[u8]) {
        let (n, h) = self.trees.entry(tree.to_string()).or_default();
        *n += 1;
        h.update((key.len() as u32).to_be_bytes());
        h.update(key);
        h.update((value.len() as u32).to_be_bytes());
        h.update(value);
    }

    fn tallies(&self) -> BTreeMap<String, Tally> {
        self.trees
            .iter()
            .map(|(name, (n, h))| {
                (
                    name.clone(),
                    Tally {
                        entries: *n,
                        sha256: hex::encode(h.clone().finalize()),
                    },
                )
            })
            .collect()
    }
}

/// Writes frames to `out`, hashing as it goes.
pub struct Writer<W: Write> {
    out: W,
    hashes: Hashes,
}

fn io_err(e: std::io::Error) -> StoreError {
    StoreError::Io {
        path: "backup".into(),
        source: e,
    }
}

impl<W: Write> Writer<W> {
    pub fn new(mut out: W) -> Result<Writer<W>, StoreError> {
        out.write_all(MAGIC).map_err(io_err)?;
        Ok(Writer {
            out,
            hashes: Hashes::default(),
        })
    }

    pub fn entry(&mut self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.hashes.entry(tree, key, value);
        let mut head = vec![b'E'];
        head.extend((tree.len() as u16).to_be_bytes());
        head.extend(tree.as_bytes());
        head.extend((key.len() as u32).to_be_bytes());
        head.extend(key);
        head.extend((value.len() as u32).to_be_bytes());
        self.out.write_all(&head).map_err(io_err)?;
        self.out.write_all(value).map_err(io_err)
    }

    fn blob(&mut self, tag: u8, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let mut head = vec![tag];
        head.extend((name.len() as u16).to_be_bytes());
        head.extend(name.as_bytes());
        head.extend((bytes.len() as u64).to_be_bytes());
        self.out.write_all(&head).map_err(io_err)?;
        self.out.write_all(bytes).map_err(io_err)
    }

    pub fn file(&mut self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.hashes
            .files
            .insert(name.to_string(), hex::encode(Sha256::digest(bytes)));
        self.blob(b'F', name, bytes)
    }

    pub fn key_file(&mut self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.hashes
            .key_files
            .insert(name.to_string(), hex::encode(Sha256::digest(bytes)));
        self.blob(b'K', name, bytes)
    }

    /// Fills in the manifest's hashes from what was written, writes it, and hands back the
    /// stream (to be finished by its owner) and the manifest.
    pub fn finish(mut self, mut manifest: Manifest) -> Result<(W, Manifest), StoreError> {
        manifest.trees = self.hashes.tallies();
        manifest.files = std::mem::take(&mut self.hashes.files);
        manifest.key_files = std::mem::take(&mut self.hashes.key_files);
        let json = serde_json::to_vec(&manifest)?;
        self.out.write_all(b"M").map_err(io_err)?;
        self.out
            .write_all(&(json.len() as u32).to_be_bytes())
            .map_err(io_err)?;
        self.out.write_all(&json).map_err(io_err)?;
        Ok((self.out, manifest))
    }
}

/// Reads frames from a (decrypted) backup stream, checking each against the manifest.
pub struct Reader<R: Read> {
    input: R,
    hashes: Hashes,
}

fn broken(why: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        tree: "backup",
        key: String::new(),
        why: why.into(),
    }
}

/// Names the stream may give a file: no directories, nothing hidden.
fn plain_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(broken(format!(
            "a file name in the backup is not plain: {name:?}"
        )))
    }
}

impl<R: Read> Reader<R> {
    pub fn new(mut input: R) -> Result<Reader<R>, StoreError> {
        let mut magic = [0u8; MAGIC.len()];
        input
            .read_exact(&mut magic)
            .map_err(|_| broken("not a modtag backup (it is too short)"))?;
        if magic != MAGIC {
            return Err(broken("not a modtag backup (or a newer format)"));
        }
        Ok(Reader {
            input,
            hashes: Hashes::default(),
        })
    }

    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::new();
        (&mut self.input)
            .take(n)
            .read_to_end(&mut out)
            .map_err(io_err)?;
        if out.len() as u64 != n {
            return Err(broken("the backup ends in the middle of a frame"));
        }
        Ok(out)
    }

    fn u16(&mut self) -> Result<u64, StoreError> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]) as u64)
    }
    fn u32(&mut self) -> Result<u64, StoreError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes(b.try_into().expect("4 bytes")) as u64)
    }
    fn u64(&mut self) -> Result<u64, StoreError> {
        let b = self.bytes(8)?;
        Ok(u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }
    fn name(&mut self) -> Result<String, StoreError> {
        let n = self.u16()?;
        String::from_utf8(self.bytes(n)?).map_err(|_| broken("a name is not UTF-8"))
    }

    /// The next part, or the manifest once every part has been read and checked against it.
    pub fn part(&mut self) -> Result<Result<Part, Manifest>, StoreError> {
        let tag = self.bytes(1).map_err(|_| {
            broken("the backup ends before its manifest: it was cut short, do not use it")
        })?[0];
        match tag {
            b'E' => {
                let tree = self.name()?;
                let n = self.u32()?;
                let key = self.bytes(n)?;
                let n = self.u32()?;
                let value = self.bytes(n)?;
                self.hashes.entry(&tree, &key, &value);
                Ok(Ok(Part::Entry { tree, key, value }))
            }
            b'F' | b'K' => {
                let name = self.name()?;
                plain_name(&name)?;
                let n = self.u64()?;
                let bytes = self.bytes(n)?;
                let hash = hex::encode(Sha256::digest(&bytes));
                if tag == b'F' {
                    self.hashes.files.insert(name.clone(), hash);
                    Ok(Ok(Part::File { name, bytes }))
                } else {
                    self.hashes.key_files.insert(name.clone(), hash);
                    Ok(Ok(Part::KeyFile { name, bytes }))
                }
            }
            b'M' => {
                let n = self.u32()?;
                let manifest: Manifest = serde_json::from_slice(&self.bytes(n)?)
                    .map_err(|e| broken(format!("the manifest is not readable: {e}")))?;
                let mut rest = [0u8; 1];
                if self.input.read(&mut rest).map_err(io_err)? != 0 {
                    return Err(broken("the backup goes on after its manifest"));
                }
                let tallies = self.hashes.tallies();
                for (name, tally) in &manifest.trees {
                    if tallies.get(name) != Some(tally) {
                        return Err(broken(format!(
                            "tree {name}: the entries do not match the manifest"
                        )));
                    }
                }
                if tallies.len() != manifest.trees.len()
                    || self.hashes.files != manifest.files
                    || self.hashes.key_files != manifest.key_files
                {
                    return Err(broken("the files do not match the manifest"));
                }
                Ok(Err(manifest))
            }
            other => Err(broken(format!("unknown frame {other:#04x}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            kind: "backup".into(),
            modtag_version: "test".into(),
            created_at: Timestamp::UNIX_EPOCH,
            audit_size: 0,
            audit_head: String::new(),
            ring_epoch: Some(1),
            includes_keys: false,
            position: None,
            since: None,
            trees: Default::default(),
            files: Default::default(),
            key_files: Default::default(),
        }
    }

    fn read_all(bytes: &[u8]) -> Result<(usize, Manifest), StoreError> {
        let mut r = Reader::new(bytes)?;
        let mut parts = 0;
        loop {
            match r.part()? {
                Ok(_) => parts += 1,
                Err(m) => return Ok((parts, m)),
            }
        }
    }

    #[test]
    fn a_stream_reads_back_and_any_change_or_cut_is_refused() {
        let mut w = Writer::new(Vec::new()).unwrap();
        w.entry("items", b"MT-1", b"sealed").unwrap();
        w.entry("items", b"MT-2", b"sealed too").unwrap();
        w.file("MT-1.pgp", b"message").unwrap();
        w.key_file("checkpoint.pub", b"pub").unwrap();
        let (bytes, written) = w.finish(manifest()).unwrap();
        let (parts, read) = read_all(&bytes).unwrap();
        assert_eq!((parts, &read), (4, &written));
        assert_eq!(read.trees["items"].entries, 2);
        // A flipped byte anywhere in the frames, or the stream cut anywhere, is refused.
        let manifest_at = bytes.len() - serde_json::to_vec(&written).unwrap().len() - 5;
        for i in MAGIC.len()..manifest_at {
            let mut bad = bytes.clone();
            bad[i] ^= 0x20;
            assert!(read_all(&bad).is_err(), "flipped byte {i}");
        }
        for cut in 0..bytes.len() {
            assert!(read_all(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        // A file named to escape the directory is refused.
        let mut w = Writer::new(Vec::new()).unwrap();
        w.file("../store.key", b"x").unwrap();
        let (bytes, _) = w.finish(manifest()).unwrap();
        assert!(read_all(&bytes).is_err());
    }
}
