//! Checking and restoring a backup (see `backup` and `store::backup`), offline: neither
//! needs a running daemon, both need the store key the backup is encrypted to.
//!
//! A restore writes a new data directory from the backup. The intakes' keys come from the
//! backup when no intake was erased since (its ring key is in it, `--include-keys`, or in
//! the data directory it is restored into), and otherwise from a **keyring** exported
//! after the backup (`Store::export_keyring`, from the running daemon or the standby): an
//! intake the keyring has no key for was erased after the backup was taken, and is left out
//! of the restored directory, record, message and queued copies alike.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use openpgp::Cert;
use sequoia_openpgp as openpgp;

use crate::backup::{Manifest, Part, Reader};
use crate::keyspace::*;
use crate::records::OutboxEntry;
use crate::ring::Ring;
use crate::StoreError;

/// The trees a backup may carry (what `Store::backup` writes).
pub(crate) const TREES: [&str; 10] = [
    T_ITEMS,
    T_MESSAGES,
    T_ITEM_KEYS,
    T_CASES,
    T_CASE_INDEX,
    T_OUTBOX,
    T_USERS,
    T_META,
    T_AUDIT,
    T_CHECKPOINTS,
];

#[derive(Debug, Clone)]
pub struct Checked {
    pub manifest: Manifest,
    pub items: u64,
    pub messages: u64,
    pub outbox: u64,
    pub audit: crate::audit::Report,
}

#[derive(Debug, Clone)]
pub struct Restored {
    pub manifest: Manifest,
    pub items: usize,
    /// Intakes erased after the backup was taken (no key in the keyring): left out.
    pub erased_since: Vec<String>,
}

pub(crate) fn broken(why: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        tree: "backup",
        key: String::new(),
        why: why.into(),
    }
}

/// Reads a whole backup: every frame against the manifest, every message file against the
/// hash its record keeps, and the audit log (chain, Merkle tree, its checkpoints under the
/// backup's checkpoint key). Writes only the audit trees, to a temporary database.
pub fn check(store_key: &Cert, backup: impl Read + Send + Sync) -> Result<Checked, StoreError> {
    let mut reader = Reader::new(crate::crypto::decrypting_reader(store_key, backup)?)?;
    let scratch = tempdir()?;
    let db = sled::Config::new()
        .temporary(true)
        .path(scratch.join("audit"))
        .open()?;
    let mut messages = BTreeMap::new();
    let (mut items, mut outbox) = (0, 0);
    let mut checkpoint_pub = None;
    let mut retired = String::new();
    let manifest = loop {
        match reader.part()? {
            Ok(Part::Entry { tree, key, value }) => match tree.as_str() {
                T_AUDIT | T_META | T_CHECKPOINTS => {
                    db.open_tree(&tree)?.insert(key, value)?;
                }
                T_MESSAGES => {
                    messages.insert(String::from_utf8_lossy(&key).into_owned(), value);
                }
                T_ITEMS => items += 1,
                T_OUTBOX => outbox += 1,
                _ => {}
            },
            Ok(Part::KeyFile { name, bytes }) if name == crate::keys::CHECKPOINT_PUB => {
                checkpoint_pub = Some(String::from_utf8_lossy(&bytes).trim().to_string());
            }
            Ok(Part::KeyFile { name, bytes }) if name == crate::keys::CHECKPOINT_RETIRED => {
                retired = String::from_utf8_lossy(&bytes).into_owned();
            }
            Ok(_) => {}
            Err(m) => break m,
        }
    };
    let _ = std::fs::remove_dir_all(&scratch);
    if manifest.kind != "backup" {
        return Err(not_a("backup", &manifest.kind));
    }
    for (reference, hash) in &messages {
        let file = manifest.files.get(&format!("{reference}.pgp"));
        if file.map(String::as_str) != Some(hex::encode(hash).as_str()) {
            return Err(broken(format!(
                "the message file of {reference} is missing or does not match its record"
            )));
        }
    }
    // The keys the log's checkpoints were signed with: those retired, then the one in use.
    let mut keys = Vec::new();
    for line in retired.lines().filter(|l| !l.trim().is_empty()) {
        keys.push(crate::checkpoint::parse_public(line).map_err(broken)?);
    }
    keys.push(
        crate::checkpoint::parse_public(
            checkpoint_pub
                .as_deref()
                .ok_or_else(|| broken("the backup holds no checkpoint.pub"))?,
        )
        .map_err(broken)?,
    );
    let audit = crate::audit::offline::verify_db(&db, &keys, &[]).map_err(|b| {
        broken(format!(
            "the audit log does not verify at entry {}: {}",
            b.seq, b.what
        ))
    })?;
    Ok(Checked {
        manifest,
        items,
        messages: messages.len() as u64,
        outbox,
        audit,
    })
}

/// A file of another kind than the command takes, saying which command takes it.
pub(crate) fn not_a(expected: &str, kind: &str) -> StoreError {
    let takes = match kind {
        "backup" => "`backup verify` and `backup restore` take it",
        "keyring" => "give it to `backup restore --keyring`",
        "increment" => "`backup apply` checks and applies it on the standby",
        _ => "it is no modtag file",
    };
    let a = |w: &str| match w.starts_with(['a', 'e', 'i', 'o', 'u']) {
        true => format!("an {w}"),
        false => format!("a {w}"),
    };
    StoreError::Key(format!(
        "this file is {}, not {}: {takes}",
        a(kind),
        a(expected)
    ))
}

fn tempdir() -> Result<std::path::PathBuf, StoreError> {
    let dir = std::env::temp_dir().join(format!(
        "modtag-check-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(io(&dir))?;
    Ok(dir)
}

/// The item keys and ring key of a keyring export.
struct Keyring {
    manifest: Manifest,
    keys: Vec<(Vec<u8>, Vec<u8>)>,
    ring_file: Option<(String, Vec<u8>)>,
}

fn read_keyring(store_key: &Cert, input: impl Read + Send + Sync) -> Result<Keyring, StoreError> {
    let mut reader = Reader::new(crate::crypto::decrypting_reader(store_key, input)?)?;
    let mut keys = Vec::new();
    let mut ring_file = None;
    let manifest = loop {
        match reader.part()? {
            Ok(Part::Entry { tree, key, value }) if tree == T_ITEM_KEYS => keys.push((key, value)),
            Ok(Part::KeyFile { name, bytes }) if crate::ring::is_ring_file(&name) => {
                ring_file = Some((name, bytes))
            }
            Ok(_) => return Err(broken("a keyring holds item keys and a ring key only")),
            Err(m) => break m,
        }
    };
    if manifest.kind != "keyring" {
        return Err(not_a("keyring", &manifest.kind));
    }
    Ok(Keyring {
        manifest,
        keys,
        ring_file,
    })
}

/// Restores `backup` into `dir` (which must not exist, or be empty), with the intakes' keys
/// from `keyring` when one is given (see the module). `now` says which year's reference
/// counter jumps too (see [`REFERENCE_GAP`]).
pub fn restore(
    store_key: &Cert,
    backup: impl Read + Send + Sync,
    keyring: Option<impl Read + Send + Sync>,
    dir: &Path,
    now: jiff::Timestamp,
) -> Result<Restored, StoreError> {
    // A restore that fails (a keyring missing, a damaged file, a full disk) or is cut off
    // leaves no half-restored data directory that `serve` could be started on, and the
    // same directory can be given again.
    if !dir.exists() {
        return restore_beside(store_key, backup, keyring, dir, now);
    }
    let _held = claim(dir, dir)?;
    let ours = dir.join(RESTORING);
    if data_in(dir).map_err(io(dir))? > 0 && !ours.exists() {
        return Err(StoreError::Key(format!(
            "{} is not empty: restore into a new directory",
            dir.display()
        )));
    }
    // An empty directory that exists (perhaps a volume's mount point, which cannot be
    // renamed onto) is restored in place under a mark that `Store::open` refuses, and
    // emptied again if the restore fails; one marked is a restore cut off, done again.
    if !empty(dir) {
        return Err(StoreError::Key(format!(
            "{} holds a restore that was cut off and could not be emptied: empty it, and restore again",
            dir.display()
        )));
    }
    crate::keys::write_secret(&ours, b"a restore is under way or was cut off\n")?;
    crate::keys::sync_dir(dir)?;
    let restored = write_restore(store_key, backup, keyring, dir, now).inspect_err(|_| {
        empty(dir);
    })?;
    std::fs::remove_file(&ours).map_err(io(&ours))?;
    crate::keys::sync_dir(dir)?;
    Ok(restored)
}

/// The name of the mark of a restore in place under way (see [`restore`]).
pub const RESTORING: &str = "RESTORE-UNDER-WAY";

/// Refuses a data directory a restore is writing into, or was cut off in: nothing may
/// open it, nor make keys in it, until a restore into it is done again.
pub fn refuse_if_restoring(dir: &Path) -> Result<(), StoreError> {
    match dir.join(RESTORING).exists() {
        true => Err(StoreError::Key(format!(
            "{}: a backup restore into it is under way or was cut off: restore into it again",
            dir.display()
        ))),
        false => Ok(()),
    }
}

/// An exclusive lock on the directory a restore writes into (its staging directory, or the
/// data directory restored in place), held until the restore is done: two restores into
/// one directory would otherwise write into the same files, and one clear what the other
/// wrote. The lock is on what is at `path` still after it was taken: one removed and made
/// again by another restore in between is that other's.
fn claim(path: &Path, dir: &Path) -> Result<std::fs::File, StoreError> {
    use std::os::unix::fs::MetadataExt;
    let gone = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => under_way(dir),
        _ => io(path)(e),
    };
    let f = std::fs::File::open(path).map_err(gone)?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(under_way(dir)),
        Err(std::fs::TryLockError::Error(e)) => return Err(io(path)(e)),
    }
    let (held, now) = (
        f.metadata().map_err(io(path))?,
        std::fs::metadata(path).map_err(gone)?,
    );
    match (held.dev(), held.ino()) == (now.dev(), now.ino()) {
        true => Ok(f),
        false => Err(under_way(dir)),
    }
}

fn under_way(dir: &Path) -> StoreError {
    StoreError::Key(format!(
        "{}: another restore into it is under way; wait for it to end",
        dir.display()
    ))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { path, source }
}

/// Whether an entry of a directory restored into is data: not its file system's own
/// `lost+found` (a volume's mount point), nor the restore's mark.
fn is_data(name: &std::ffi::OsStr) -> bool {
    name != "lost+found" && name != RESTORING
}

/// How many entries of `dir` are data (see [`is_data`]).
fn data_in(dir: &Path) -> std::io::Result<usize> {
    let mut n = 0;
    for entry in std::fs::read_dir(dir)? {
        n += usize::from(is_data(&entry?.file_name()));
    }
    Ok(n)
}

/// Removes what is in `dir` but its file system's `lost+found` and the restore's mark,
/// which goes last, once nothing else is left (and stays, so that no daemon opens what is
/// left, if anything could not be removed). Whether it is empty now.
fn empty(dir: &Path) -> bool {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let _ = match is_data(&entry.file_name()) {
            false => continue,
            true if path.is_dir() => std::fs::remove_dir_all(&path),
            true => std::fs::remove_file(&path),
        };
    }
    if data_in(dir).map_or(true, |n| n > 0) || crate::keys::sync_dir(dir).is_err() {
        return false;
    }
    let _ = std::fs::remove_file(dir.join(RESTORING));
    crate::keys::sync_dir(dir).is_ok()
}

/// [`restore`] into a new directory: written beside its place and renamed into it when
/// whole, so that not even a restore cut off half-way leaves one.
fn restore_beside(
    store_key: &Cert,
    backup: impl Read + Send + Sync,
    keyring: Option<impl Read + Send + Sync>,
    dir: &Path,
    now: jiff::Timestamp,
) -> Result<Restored, StoreError> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let staging = parent.join(format!(".{}.restoring", name.unwrap_or_default()));
    if staging.exists() {
        // Left by a restore that was cut off (ours by its name), unless another restore
        // into the same directory holds it now: its lock says which.
        let _other = claim(&staging, dir)?;
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&parent)
        .map_err(io(&parent))?;
    // Made here and not found: another restore that made it meanwhile is refused the same.
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => under_way(dir),
            _ => io(&staging)(e),
        })?;
    let _held = claim(&staging, dir)?;
    let placed = write_restore(store_key, backup, keyring, &staging, now).and_then(|restored| {
        std::fs::rename(&staging, dir).map_err(io(dir))?;
        Ok(restored)
    });
    if placed.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    let restored = placed?;
    crate::keys::sync_dir(&parent)?;
    Ok(restored)
}

/// [`restore`] into the new directory `dir`.
fn write_restore(
    store_key: &Cert,
    backup: impl Read + Send + Sync,
    keyring: Option<impl Read + Send + Sync>,
    dir: &Path,
    now: jiff::Timestamp,
) -> Result<Restored, StoreError> {
    let keyring = keyring.map(|k| read_keyring(store_key, k)).transpose()?;
    let opened = open_db(dir)?;
    let db = &opened.db;
    crate::spool::Spool::open(dir)?;
    let spool_dir = dir.join(crate::spool::SPOOL_DIR);
    let mut reader = Reader::new(crate::crypto::decrypting_reader(store_key, backup)?)?;
    let manifest = loop {
        match reader.part()? {
            Ok(Part::Entry { tree, key, value }) => {
                if !TREES.contains(&tree.as_str()) {
                    return Err(broken(format!("unknown tree {tree:?}")));
                }
                // The keyring's keys replace the backup's (never both in the new log).
                if tree == T_ITEM_KEYS && keyring.is_some() {
                    continue;
                }
                db.open_tree(&tree)?.insert(key, value)?;
            }
            Ok(Part::File { name, bytes }) => write_unsynced(&spool_dir.join(name), &bytes)?,
            Ok(Part::KeyFile { name, bytes }) => {
                if crate::ring::is_ring_file(&name) && keyring.is_some() {
                    continue;
                }
                crate::keys::write_secret(&dir.join(name), &bytes)?;
            }
            Err(m) => break m,
        }
    };
    if manifest.kind != "backup" {
        return Err(not_a("backup", &manifest.kind));
    }
    let item_keys = db.open_tree(T_ITEM_KEYS)?;
    if let Some(k) = &keyring {
        if k.manifest.audit_size < manifest.audit_size {
            return Err(StoreError::Key(
                "the keyring is older than the backup: export it again from the running daemon or the standby (`modtag backup keyring`)".into(),
            ));
        }
        for (key, value) in &k.keys {
            item_keys.insert(key.as_slice(), value.as_slice())?;
        }
        if let Some((name, bytes)) = &k.ring_file {
            crate::keys::write_secret(&dir.join(name), bytes)?;
        }
    }
    let ring = Ring::open(dir, &[store_key])?;
    let items = db.open_tree(T_ITEMS)?;
    let mut erased_since = Vec::new();
    for kv in items.iter() {
        let (k, v) = kv?;
        let reference = String::from_utf8_lossy(&k).into_owned();
        let has_key = match item_keys.get(&k)? {
            Some(wrapped) => match ring.unwrap(&reference, &wrapped)? {
                Some(_) => true,
                None if keyring.is_none() => {
                    return Err(StoreError::Key(format!(
                        "the backup's intakes are under {}, which is not in it: an intake was erased since, so restore with --keyring (from `modtag backup keyring` on the running daemon or the standby)",
                        Ring::epoch_of(&wrapped).map_or("a ring key".into(), crate::ring::file_name)
                    )))
                }
                None => false,
            },
            None => false,
        };
        // Without a key of its own an intake is either from before such keys (sealed to
        // the store key, and kept) or erased since (and left out).
        if !has_key && crate::crypto::decrypt(store_key, &v).is_err() {
            erased_since.push(reference);
        }
    }
    if !erased_since.is_empty() {
        drop_erased(db, store_key, &spool_dir, &erased_since)?;
    }
    sync_filesystem(&spool_dir)?;
    skip_references(db, now)?;
    // Where increments for a standby go on from (see `standby`).
    if let Some(position) = manifest.position {
        db.open_tree(T_META)?
            .insert(STANDBY_POSITION, &position.to_be_bytes())?;
    }
    db.flush()?;
    Ok(Restored {
        manifest,
        items: items.len(),
        erased_since,
    })
}

/// A message file of a restore: a new 0600 file, written without an fsync of its own
/// ([`sync_filesystem`] makes them all durable at the end: an fsync per file was most of a
/// restore's time).
fn write_unsynced(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(io(path))
}

/// Makes everything written to the filesystem that holds `dir` durable (`syncfs(2)`),
/// names included; it reports a failed write-back since Linux 5.8.
fn sync_filesystem(dir: &Path) -> Result<(), StoreError> {
    use std::os::fd::AsRawFd;
    let io = |source| StoreError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let d = std::fs::File::open(dir).map_err(io)?;
    // SAFETY: syncfs takes an open descriptor, which `d` holds for the call.
    if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    Ok(())
}

/// How far a restored store's references jump past the backup's last: the daemon that
/// was lost went on giving references after the backup, and a kvittering may have told a
/// reporter one of them; none may be given again to another message. (A kommune receives
/// far fewer than this many intakes between two backups.)
pub const REFERENCE_GAP: u64 = 10_000;

/// Moves every year's reference counter (this year's too) `REFERENCE_GAP` on.
pub(crate) fn skip_references(db: &sled::Db, now: jiff::Timestamp) -> Result<(), StoreError> {
    let meta = db.open_tree(T_META)?;
    let this_year = now.to_zoned(jiff::tz::TimeZone::UTC).year();
    let mut years: Vec<i16> = meta
        .scan_prefix("refseq/")
        .keys()
        .filter_map(|k| k.ok())
        .filter_map(|k| String::from_utf8_lossy(&k)["refseq/".len()..].parse().ok())
        .collect();
    years.push(this_year);
    years.dedup();
    for year in years {
        let key = refseq_key(year);
        let next = read_u64(&meta, &key)? + REFERENCE_GAP;
        meta.insert(key.as_bytes(), &next.to_be_bytes())?;
    }
    Ok(())
}

/// Leaves the intakes erased since the backup out of the restored directory.
fn drop_erased(
    db: &sled::Db,
    store_key: &Cert,
    spool_dir: &Path,
    erased: &[String],
) -> Result<(), StoreError> {
    let (items, messages, outbox) = (
        db.open_tree(T_ITEMS)?,
        db.open_tree(T_MESSAGES)?,
        db.open_tree(T_OUTBOX)?,
    );
    for r in erased {
        items.remove(r.as_bytes())?;
        messages.remove(r.as_bytes())?;
        let _ = std::fs::remove_file(spool_dir.join(format!("{r}.pgp")));
    }
    for kv in outbox.iter() {
        let (k, v) = kv?;
        let plain = crate::crypto::decrypt(store_key, &v)?;
        let entry: OutboxEntry = serde_json::from_slice(&plain)?;
        if erased.contains(&entry.reference) {
            outbox.remove(&k)?;
            let name = crate::spool::Spool::outbox_name(entry.id);
            let _ = std::fs::remove_file(spool_dir.join(format!("{name}.pgp")));
        }
    }
    Ok(())
}
