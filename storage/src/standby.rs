//! Applying an increment (see `store::backup`) to a standby: a stopped data directory
//! restored from a backup, kept minutes behind the running daemon, that takes over when its
//! server dies (see `deploy/README.md`).
//!
//! The standby keeps its **position** in `meta`: the position of the backup or increment it
//! holds. An increment applies only to the standby at the position it was taken `--since`;
//! one missed or applied twice is refused, saying which `--since` to take instead. It is
//! read twice: once to check it whole (every frame against its manifest, its audit entries
//! the same as the standby's where they overlap and chained onto its head after), then to
//! apply it. The position moves only at the end, so an apply a crash interrupted is simply
//! applied again.
//!
//! Applying writes the intakes it carries over the standby's and removes those it names
//! `gone`; replaces the small trees, the outbox's files and the ring key files with its own;
//! appends the audit entries, and deletes the payloads of those the running daemon's
//! retention deleted. The clear summaries, the blind index and the outbox
//! schedule are emptied: the standby's first start rebuilds them, as after a restore.

use std::collections::BTreeSet;
use std::path::Path;

use openpgp::Cert;
use sequoia_openpgp as openpgp;

use crate::backup::{Manifest, Part, Reader};
use crate::keyspace::*;
use crate::restore::broken;
use crate::store::backup::GONE;
use crate::StoreError;

/// In `meta`: the position of what the standby holds (u64 BE).
pub const POSITION: &[u8] = STANDBY_POSITION;

/// The trees an increment replaces whole (and `meta` key by key, see `apply`).
const WHOLE: [&str; 5] = [T_ITEM_KEYS, T_CASES, T_CASE_INDEX, T_OUTBOX, T_USERS];
/// What the standby's first start rebuilds.
const DERIVED: [&str; 3] = [T_ITEM_STATE, T_ITEM_INDEX, T_OUTBOX_SCHED];

#[derive(Debug, Clone)]
pub struct Applied {
    pub manifest: Manifest,
    /// Intakes written (new or changed).
    pub intakes: usize,
    /// Intakes erased on the running daemon, removed here.
    pub gone: Vec<String>,
    /// Audit entries appended.
    pub audit_entries: u64,
    /// Payloads of audit entries the running daemon's retention deleted, deleted here too.
    pub audit_payloads_deleted: u64,
}

/// The standby's position: `None` for a data directory that holds no backup taken by a
/// version that ships increments.
pub fn position(meta: &sled::Tree) -> Result<Option<u64>, StoreError> {
    get_u64(meta, POSITION)
}

/// Applies the increment in `file` to the stopped standby in `dir` (see the module). `now`
/// says which year's reference counter jumps too (see [`crate::restore::REFERENCE_GAP`]).
pub fn apply(
    store_key: &Cert,
    file: &Path,
    dir: &Path,
    now: jiff::Timestamp,
) -> Result<Applied, StoreError> {
    // A restore cut off in it left part of a backup, whatever position its meta says.
    crate::restore::refuse_if_restoring(dir)?;
    let opened = open_db(dir)?;
    let db = &opened.db;
    let meta = db.open_tree(T_META)?;
    let Some(at) = position(&meta)? else {
        return Err(StoreError::Key(format!(
            "{} holds no standby position: restore a backup taken by this version into it first (`modtag backup restore`)",
            dir.display()
        )));
    };
    let checked = check(store_key, file, db)?;
    let manifest = &checked.manifest;
    if manifest.since != Some(at) {
        return Err(StoreError::Key(format!(
            "this increment follows position {}, and the standby is at {at}: take the next one with `modtag backup create FILE --since {at}`",
            manifest.since.map_or("(none)".into(), |s| s.to_string())
        )));
    }

    for tree in WHOLE.iter().chain(&DERIVED) {
        db.open_tree(tree)?.clear()?;
    }
    let spool = crate::spool::Spool::open(dir)?;
    let mut reader = Reader::new(crate::crypto::decrypting_reader(store_key, open(file)?)?)?;
    let (mut intakes, mut gone) = (0, Vec::new());
    let mut files = BTreeSet::new();
    let mut key_files = BTreeSet::new();
    loop {
        match reader.part()? {
            Ok(Part::Entry { tree, key, .. }) if tree == GONE => {
                let reference = String::from_utf8_lossy(&key).into_owned();
                db.open_tree(T_ITEMS)?.remove(&key)?;
                db.open_tree(T_MESSAGES)?.remove(&key)?;
                spool.remove(&reference);
                gone.push(reference);
            }
            // The standby's own position is not the running daemon's.
            Ok(Part::Entry { tree, key, .. }) if tree == T_META && key == POSITION => {}
            Ok(Part::Entry { tree, key, value }) => {
                intakes += usize::from(tree == T_ITEMS);
                db.open_tree(&tree)?.insert(key, value)?;
            }
            Ok(Part::File { name, bytes }) => {
                let name = name.strip_suffix(".pgp").unwrap_or(&name).to_string();
                spool.write_replacement(&name, &bytes)?;
                spool.replace(&name)?;
                files.insert(name);
            }
            Ok(Part::KeyFile { name, bytes }) => {
                let next = format!("{name}.new");
                crate::keys::write_next(dir, &next, &bytes)?;
                crate::keys::put_in_place(dir, &next, &name)?;
                key_files.insert(name);
            }
            Err(_) => break,
        }
    }
    // What the running daemon no longer has: meta keys, delivered copies, retired ring keys.
    for k in meta.iter().keys() {
        let k = k?;
        if k.as_ref() != POSITION && !checked.meta_keys.contains(k.as_ref()) {
            meta.remove(k)?;
        }
    }
    for name in list(&dir.join(crate::spool::SPOOL_DIR))? {
        if let Some(stem) = name.strip_suffix(".pgp") {
            if stem.starts_with("outbox-") && !files.contains(stem) {
                spool.remove(stem);
            }
        }
    }
    for name in list(dir)? {
        if crate::ring::is_ring_file(&name) && !key_files.contains(&name) {
            let _ = std::fs::remove_file(dir.join(&name));
        }
    }
    let shredded = shred_as_the_primary(db)?;
    crate::restore::skip_references(db, now)?;
    db.flush()?;
    spool.sync_dir()?;
    crate::keys::sync_dir(dir)?;
    let position = manifest.position.unwrap_or(manifest.audit_size);
    meta.insert(POSITION, &position.to_be_bytes())?;
    db.flush()?;
    Ok(Applied {
        manifest: checked.manifest,
        intakes,
        gone,
        audit_entries: checked.new_entries,
        audit_payloads_deleted: shredded,
    })
}

struct Checked {
    manifest: Manifest,
    meta_keys: BTreeSet<Vec<u8>>,
    new_entries: u64,
}

/// Reads the whole increment without writing anything: its frames against its manifest,
/// and its audit entries against the standby's log (the same where they overlap, chained
/// onto its head after).
fn check(store_key: &Cert, file: &Path, db: &sled::Db) -> Result<Checked, StoreError> {
    let audit = db.open_tree(T_AUDIT)?;
    let (mut size, mut prev) = match db.open_tree(T_META)?.get(AUDIT_HEAD)? {
        Some(v) => {
            decode_head(&v).ok_or_else(|| broken("the standby's audit head is malformed"))?
        }
        None => (0, [0; 32]),
    };
    let mut meta_keys = BTreeSet::new();
    let mut new_entries = 0;
    let mut reader = Reader::new(crate::crypto::decrypting_reader(store_key, open(file)?)?)?;
    let manifest = loop {
        match reader.part()? {
            Ok(Part::Entry { tree, key, value }) => match tree.as_str() {
                T_AUDIT => {
                    let seq = key
                        .as_slice()
                        .try_into()
                        .map(u64::from_be_bytes)
                        .unwrap_or(0);
                    if seq <= size {
                        // By hash: retention may have deleted the payload on one side.
                        let same = audit.get(&key)?.is_some_and(|ours| {
                            let hash =
                                |b: &[u8]| crate::audit::Entry::decode(b).map(|e| e.hash).ok();
                            hash(&ours).is_some() && hash(&ours) == hash(&value)
                        });
                        if !same {
                            return Err(broken(format!(
                                "audit entry {seq} differs from the standby's: this increment is from another log"
                            )));
                        }
                        continue;
                    }
                    let entry = crate::audit::Entry::decode(&value).map_err(broken)?;
                    if seq != size + 1 || entry.prev != prev {
                        return Err(broken(format!(
                            "audit entry {seq} does not follow the standby's log at {size}"
                        )));
                    }
                    (size, prev) = (seq, entry.hash);
                    new_entries += 1;
                }
                T_META => {
                    meta_keys.insert(key);
                }
                t if t == GONE || crate::restore::TREES.contains(&t) => {}
                t => return Err(broken(format!("unknown tree {t:?}"))),
            },
            Ok(_) => {}
            Err(m) => break m,
        }
    };
    if manifest.kind != "increment" {
        return Err(crate::restore::not_a("increment", &manifest.kind));
    }
    if size != manifest.audit_size {
        return Err(broken(format!(
            "the increment's audit log ends at {size}, its manifest says {}",
            manifest.audit_size
        )));
    }
    Ok(Checked {
        manifest,
        meta_keys,
        new_entries,
    })
}

/// Deletes the payloads of the standby's audit entries up to the last one the running
/// daemon's retention deleted (its `meta`, just applied): the standby keeps no payload the
/// running daemon no longer has. The hashes stay, so the log verifies as before.
fn shred_as_the_primary(db: &sled::Db) -> Result<u64, StoreError> {
    let meta = db.open_tree(T_META)?;
    let Some(upto) = get_u64(&meta, AUDIT_SHREDDED_UPTO)? else {
        return Ok(0);
    };
    let audit = db.open_tree(T_AUDIT)?;
    let mut n = 0;
    for kv in audit.range(..=upto.to_be_bytes()) {
        let (k, v) = kv?;
        let e = crate::audit::Entry::decode(&v).map_err(broken)?;
        if e.shredded.is_none() {
            audit.insert(k, e.shred().encode())?;
            n += 1;
        }
    }
    Ok(n)
}

fn open(file: &Path) -> Result<std::io::BufReader<std::fs::File>, StoreError> {
    std::fs::File::open(file)
        .map(std::io::BufReader::new)
        .map_err(|source| StoreError::Io {
            path: file.to_path_buf(),
            source,
        })
}

fn list(dir: &Path) -> Result<Vec<String>, StoreError> {
    let io = |source| StoreError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        names.push(
            entry
                .map_err(io)?
                .file_name()
                .to_string_lossy()
                .into_owned(),
        );
    }
    Ok(names)
}
