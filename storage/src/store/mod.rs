//! The sled database and its operations, one concern per file: [`batch`] (what commits
//! together), `commit` (writing a batch atomically, the audit chain with it), `flush` (the
//! group commit), and the reads per tree (`items`, `cases`, `outbox`, `audit_log`).
//!
//! Every change is a [`Batch`]: records are encrypted to the store key, audit payloads to
//! the auditors' certificate, then one sled transaction writes them all, with the audit
//! chain extended inside that transaction. Nothing from a batch is visible until all of it
//! is; nothing is acknowledged until [`Store::flush`] returns. After a failed flush the store
//! is poisoned and refuses further work until restarted (we never retry an fsync).
//!
//! The types live here; the other files only add methods, so that none of them imports
//! another's and this file imports none of them but [`batch`], `trees` (the trees, each
//! named once, and the one transaction over them) and `locks` (the locks, in the one order
//! they are taken), which import nothing from it.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use jiff::Timestamp;
use sequoia_openpgp as openpgp;

use crate::crypto;
use crate::keys::DataKeys;
use crate::keyspace::*;
use crate::spool::Spool;
use crate::StoreError;

mod audit_log;
mod auditors;
pub(crate) mod backup;
pub mod batch;
mod blind;
mod cases;
pub mod check;
mod commit;
mod erase;
mod flush;
mod handed;
mod item_keys;
mod items;
mod locks;
mod outbox;
mod rekey;
mod store_key;
mod trees;
mod users;

pub use crate::keyspace::DB_DIR;
pub use batch::Batch;
pub use locks::ItemGuard;
use locks::Locks;
use trees::Trees;

/// Hands out outbox ids. The workflow computes a batch of effects without touching the
/// store, but a queued copy needs its id while it is composed (its MIME boundary carries
/// it); this is the one thing it asks for. The [`Store`] hands out sled's monotonic ids;
/// a test can count.
/// What planning takes from the store: outbox ids, and the signature on a copy.
pub trait IdSource {
    fn next_id(&self) -> Result<u64, StoreError>;

    /// `plaintext` encrypted to `certs` (armored, for mail), signed with the data
    /// directory's signing key where there is one.
    fn encrypt_copy(
        &self,
        certs: &[&openpgp::Cert],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        crypto::encrypt_armored(certs, plaintext)
    }
}

impl IdSource for Store {
    fn next_id(&self) -> Result<u64, StoreError> {
        Store::next_id(self)
    }

    fn encrypt_copy(
        &self,
        certs: &[&openpgp::Cert],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        match &self.inner.keys.signing {
            Some(signer) => crypto::sign_encrypt_armored(certs, signer, plaintext),
            None => crypto::encrypt_armored(certs, plaintext),
        }
    }
}

/// The data directory's ring. The first is made for a store with no item keys yet; a store
/// whose item keys are under a ring key it lacks (a copy restored without the keyring) is
/// refused: giving it a new ring would hide that nothing in it opens.
fn open_ring(
    dir: &Path,
    store_keys: &StoreKeys,
    item_keys: &sled::Tree,
) -> Result<crate::ring::Ring, StoreError> {
    let mut ring = crate::ring::Ring::open(dir, &store_keys.all())?;
    let mut missing = std::collections::BTreeSet::new();
    let mut count = 0usize;
    for kv in item_keys.iter() {
        let (_, v) = kv?;
        let epoch = crate::ring::Ring::epoch_of(&v);
        if epoch.is_none_or(|e| !ring.has(e)) {
            missing.insert(epoch.unwrap_or(0));
            count += 1;
        }
    }
    if !missing.is_empty() {
        return Err(StoreError::Key(format!(
            "{count} intakes' keys are wrapped under ring key(s) {} that {} does not hold: restore a backup with `modtag backup restore --keyring-from`, or put the ring-N.key files back",
            missing.iter().map(|e| crate::ring::file_name(*e)).collect::<Vec<_>>().join(", "),
            dir.display()
        )));
    }
    if ring.is_empty() {
        ring.add(&store_keys.current)?;
    }
    Ok(ring)
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    /// sled's log file, fsynced after each of sled's flushes: sled itself makes a flush
    /// "stable" with `sync_file_range`, which a power cut does not respect (the page cache
    /// reached the disk's cache, no further, and the file's size may not be recorded);
    /// only its background thread fsyncs, every half second (issue 32).
    log_file: std::fs::File,
    /// Held while the store is open (see `keyspace::Opened`).
    _lock: std::fs::File,
    trees: Trees,
    /// The locks held around others: the key rotation's, new accounts', the items', the
    /// blind-index key and the ring keys (see `locks` for the order they are taken in).
    locks: Locks,
    /// The keys as given at open; the store keys in use are `store_keys`.
    keys: DataKeys,
    /// The store key records are sealed to, and while a rotation runs the one it replaces
    /// (see `store_key`).
    store_keys: std::sync::RwLock<Arc<StoreKeys>>,
    /// The key that signs checkpoints now (replaced by `Store::rotate_checkpoint_key`).
    checkpoint_key: std::sync::RwLock<ed25519_dalek::SigningKey>,
    /// The auditors' certificates (replaced when the configuration is reloaded), and their
    /// keys' agreements of the last second.
    auditors: auditors::Auditors,
    spool: Spool,
    /// The data directory (for its free space).
    dir: std::path::PathBuf,
    poisoned: AtomicBool,
    /// Last reference number handed out, per year.
    refseq: std::sync::Mutex<std::collections::HashMap<i16, u64>>,
    /// The group commit ([`Store::flush`]).
    flusher: crate::group::Group,
    /// The transactions of the commits of the moment, run as one.
    combined: crate::group::Combiner<commit::Writes, commit::Applied>,
    /// Message files whose records a commit removed, removed by the flush that makes that
    /// durable.
    unlinked: std::sync::Mutex<Vec<String>>,
    /// Added to sled's ids (see [`id_offset`]).
    id_offset: u64,
    /// Outbox entries committed since the store opened (see [`Store::outbox_queued`]).
    queued: std::sync::atomic::AtomicU64,
    /// New outbox entries in clear for the outbox worker (see `handed`).
    handed: handed::Handed,
    /// Scheduled outbox entries the last read of what was due could not read, and when
    /// that was first seen.
    outbox_unreadable: std::sync::Mutex<std::collections::HashMap<u64, jiff::Timestamp>>,
    /// The session key that records at rest are sealed under now (see [`crypto::Sealer`]).
    sealer: std::sync::Mutex<Option<Arc<crypto::Sealer>>>,
    /// Session keys recovered when reading records (see [`crypto::SessionKeyCache`]).
    opened: crypto::SessionKeyCache,
    /// Kvitteringer to unproven addresses counted as they are planned, by address and UTC
    /// day (see [`Store::reserve_kvittering`]).
    kvittering_counts: std::sync::Mutex<(String, std::collections::HashMap<[u8; 32], usize>)>,
}

/// What is added to sled's ids to make an outbox id. sled counts in its own files, which a
/// restored database (or a standby's) starts afresh, so its ids can come round to one an
/// entry waiting in the outbox already has; a new entry would then take that one's place
/// and its message. The offset is raised at open past the outbox's highest id and kept in
/// `meta` (carried by a backup), never lowered: ids only grow.
fn id_offset(db: &sled::Db, trees: &Trees) -> Result<u64, StoreError> {
    let stored = get_u64(&trees.meta, ID_OFFSET)?.unwrap_or(0);
    let highest = match trees.outbox.last()? {
        Some((k, _)) => k.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0),
        None => return Ok(stored),
    };
    let offset = stored.max((highest + 1).saturating_sub(db.generate_id()?));
    if offset != stored {
        trees.meta.insert(ID_OFFSET, &offset.to_be_bytes())?;
    }
    Ok(offset)
}

/// What a commit seals intakes' data with: each reference's own key, read from
/// `item_keys` or made new (then written by the commit's transaction), with the ring its
/// `CommitLocks` hold. Methods in `item_keys`.
pub(super) struct ItemSealers<'a> {
    store: &'a Store,
    ring: &'a crate::ring::Ring,
    known: std::collections::HashMap<String, openpgp::crypto::SessionKey>,
    /// Keys made by this commit: reference → wrapped key.
    new: Vec<(String, Vec<u8>)>,
}

/// The store keys a store holds: records are sealed to `current`; while a rotation runs
/// `previous` still opens what is not sealed again yet (see `store_key`).
pub(super) struct StoreKeys {
    pub current: openpgp::Cert,
    pub previous: Option<openpgp::Cert>,
}

/// What a store key rotation sealed again.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StoreRotation {
    pub records: usize,
    pub files: usize,
    pub ring_keys: usize,
    /// In the data directory: the old key's file, left for the administrator to take to
    /// the escrow.
    pub retired: Option<String>,
}

impl Store {
    /// The data directory the store lives in.
    pub fn data_dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Opens (or creates) the database in `data_dir/db`. `now` is the time of the audit
    /// entry that ends a store key rotation a crash interrupted, if there is one.
    pub fn open(data_dir: &Path, keys: DataKeys, now: Timestamp) -> Result<Store, StoreError> {
        crate::restore::refuse_if_restoring(data_dir)?;
        let Opened { db, lock } = open_db(data_dir)?;
        let log_path = data_dir.join(crate::keyspace::DB_DIR).join("db");
        let log_file = std::fs::File::open(&log_path).map_err(|source| StoreError::Io {
            path: log_path,
            source,
        })?;
        let spool = Spool::open(data_dir)?;
        let trees = Trees::open(&db)?;
        let (messages, meta) = (&trees.messages, &trees.meta);
        // An intake's message sealed again under its own key (see `rekey`), or an outbox
        // copy's to a new store key (see `store_key`), interrupted.
        spool.settle_replacements(|r| {
            let outbox = store_key::reseal_key(r);
            messages
                .get(r.as_bytes())
                .ok()
                .flatten()
                .or_else(|| meta.get(outbox.as_bytes()).ok().flatten())
                .map(|h| h.to_vec())
        })?;
        // Files whose record never committed (a crash between file and transaction).
        let orphans = spool.clean(|r| match r.strip_prefix("outbox-") {
            Some(id) => u64::from_str_radix(id, 16)
                .map(|id| trees.outbox.contains_key(id.to_be_bytes()).unwrap_or(true))
                .unwrap_or(false),
            None => messages.contains_key(r.as_bytes()).unwrap_or(true),
        })?;
        if orphans > 0 {
            tracing::info!(
                orphans,
                "removed message files of intakes that never committed"
            );
        }
        let store_keys = store_key::settle(data_dir, meta, &keys.store, keys.store_next.as_ref())?;
        // With [keys], the ring keys live apart too (issue 25): any left in the data
        // directory (from before, or a restore or standby written there) move first.
        let ring_dir = match &keys.ring_dir {
            Some(apart) => {
                let moved = crate::ring::Ring::move_apart(data_dir, apart)?;
                if moved > 0 {
                    tracing::info!(moved, "ring keys moved out of the data directory");
                }
                apart.clone()
            }
            None => data_dir.to_path_buf(),
        };
        let ring = open_ring(&ring_dir, &store_keys, &trees.item_keys)?;
        let blind = blind::settle_key(data_dir, meta, keys.blind)?;
        let id_offset = id_offset(&db, &trees)?;
        let inner = Inner {
            id_offset,
            trees,
            locks: Locks::new(blind, ring),
            spool,
            dir: data_dir.to_path_buf(),
            store_keys: std::sync::RwLock::new(Arc::new(store_keys)),
            db,
            log_file,
            _lock: lock,
            auditors: auditors::Auditors::new(keys.audit.clone()),
            checkpoint_key: std::sync::RwLock::new(keys.checkpoint.clone()),
            keys,
            poisoned: AtomicBool::new(false),
            refseq: Default::default(),
            flusher: Default::default(),
            combined: Default::default(),
            unlinked: Default::default(),
            queued: Default::default(),
            handed: Default::default(),
            outbox_unreadable: Default::default(),
            sealer: Default::default(),
            opened: Default::default(),
            kvittering_counts: Default::default(),
        };
        let store = Store {
            inner: Arc::new(inner),
        };
        store.schedule_unscheduled()?;
        store.summarise_unindexed_items()?;
        store.finish_rotation()?;
        // A rotation a crash interrupted (nothing to do otherwise).
        store.finish_store_rotation("system", now)?;
        // What opening created (the database's files, the spool, keys) is named in
        // directories a power cut would otherwise take back: made durable before anything
        // is acknowledged (issue 32's forgetful disk found a first start lost whole).
        for dir in [
            data_dir.join(crate::keyspace::DB_DIR),
            data_dir.join(crate::spool::SPOOL_DIR),
            ring_dir,
            data_dir.to_path_buf(),
        ] {
            crate::keys::sync_dir(&dir)?;
        }
        Ok(store)
    }

    /// Writes the summaries and blind-index keys of items stored before they held what they
    /// hold now (the summary's channel, the "sent to" keys): once, at open, recorded in
    /// `meta` so that later opens decrypt nothing.
    fn summarise_unindexed_items(&self) -> Result<(), StoreError> {
        let i = &self.inner;
        let current = i.trees.meta.get(SUMMARIES_VERSION)?.as_deref() == Some(SUMMARIES_CURRENT);
        // A store from before the summaries existed at all has items and no summaries.
        if current && (i.trees.items.is_empty() || !i.trees.item_state.is_empty()) {
            return Ok(());
        }
        for item in self.items()? {
            i.trees
                .item_state
                .insert(item.reference.as_bytes(), summary_json(&item)?)?;
            for key in item_index_keys(&*self.blind_key(), &item) {
                i.trees.item_index.insert(key, &[])?;
            }
        }
        i.trees.meta.insert(SUMMARIES_VERSION, SUMMARIES_CURRENT)?;
        i.db.flush()?;
        Ok(())
    }

    /// Puts the outbox's entries into its schedule when it has none: entries written
    /// before the schedule existed, and a restored store or a standby, whose schedule is
    /// not copied (once, at open). As a commit schedules them: due, tried and waiting, or
    /// failed for good.
    fn schedule_unscheduled(&self) -> Result<(), StoreError> {
        let i = &self.inner;
        if i.trees.outbox.is_empty() || !i.trees.outbox_sched.is_empty() {
            return Ok(());
        }
        for entry in self.outbox()? {
            if let Some(at) = entry.failed {
                i.trees
                    .outbox_sched
                    .insert(sched_failed_key(entry.id), &time_key(at))?;
                continue;
            }
            if entry.attempts > 0 {
                i.trees
                    .outbox_sched
                    .insert(sched_deferred_key(entry.id), &time_key(entry.created))?;
            }
            let due = time_key(entry.next_attempt);
            i.trees
                .outbox_sched
                .insert(sched_due_key(&due, entry.id), &[])?;
            i.trees.outbox_sched.insert(sched_id_key(entry.id), &due)?;
        }
        i.db.flush()?;
        Ok(())
    }

    /// Encrypts audit payloads from now on to `certs` (public parts only).
    pub fn set_auditors(&self, certs: Vec<openpgp::Cert>) {
        let certs = certs.into_iter().map(|c| c.strip_secret_key_material());
        self.inner.auditors.set(certs.collect());
    }

    /// Fingerprints of the auditors' certificates in use.
    pub fn auditor_fingerprints(&self) -> Vec<String> {
        (self.inner.auditors.certs().iter())
            .map(|c| c.fingerprint().to_hex())
            .collect()
    }

    /// Drops the audit entries' key agreement once it is a second old
    /// (`crypto::agreement::Recipients`): the daemon calls it every second, so that its
    /// key-encryption key does not stay in memory while no commit comes to replace it.
    pub fn forget_old_agreements(&self) {
        self.inner.auditors.forget_old();
    }

    /// How many outbox entries commits have queued or put back since the store opened: a
    /// change across a commit tells its caller the outbox has news.
    pub fn outbox_queued(&self) -> u64 {
        self.inner.queued.load(Ordering::SeqCst)
    }

    pub fn is_poisoned(&self) -> bool {
        self.inner.poisoned.load(Ordering::SeqCst)
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.is_poisoned() {
            Err(StoreError::Poisoned)
        } else {
            Ok(())
        }
    }

    /// Allocates the next reference of the year of `now`: `MT-2026-000123`.
    ///
    /// The counter lives in memory, seeded from disk, and each commit that stores an item
    /// records its number inside the commit's own transaction. So an acknowledged
    /// reference is never reused after a crash; at most an unused one is skipped, and no
    /// separate disk write is needed per message.
    pub fn next_reference(&self, now: Timestamp) -> Result<String, StoreError> {
        self.check()?;
        let year = now.to_zoned(jiff::tz::TimeZone::UTC).year();
        let mut counters = self.inner.refseq.lock().expect("reference counter lock");
        let next = match counters.get(&year) {
            Some(n) => n + 1,
            None => read_u64(&self.inner.trees.meta, &refseq_key(year))? + 1,
        };
        counters.insert(year, next);
        Ok(format!("MT-{year}-{next:06}"))
    }

    /// A new id for an outbox entry.
    pub fn next_id(&self) -> Result<u64, StoreError> {
        Ok(self.inner.db.generate_id()? + self.inner.id_offset)
    }

    fn seal<T: serde::Serialize>(&self, value: &T) -> Result<Vec<u8>, StoreError> {
        let json = serde_json::to_vec(value)?;
        self.sealer()?.seal(&[&json])
    }

    /// The current sealer, replaced once it has lived its time.
    fn sealer(&self) -> Result<Arc<crypto::Sealer>, StoreError> {
        let mut current = self.inner.sealer.lock().expect("sealer lock");
        match current.as_ref() {
            Some(s) if !s.is_stale() => Ok(s.clone()),
            _ => {
                let fresh = Arc::new(crypto::Sealer::new(&[&self.store_keys().current])?);
                *current = Some(fresh.clone());
                Ok(fresh)
            }
        }
    }

    fn open_sealed<T: serde::de::DeserializeOwned>(
        &self,
        tree: &'static str,
        key: &[u8],
        bytes: &[u8],
    ) -> Result<T, StoreError> {
        let corrupt = |why: String| StoreError::Corrupt {
            tree,
            key: String::from_utf8_lossy(key).into_owned(),
            why,
        };
        let keys = self.store_keys();
        let plain = crypto::decrypt_cached(keys.for_bytes(bytes), bytes, Some(&self.inner.opened))
            .map_err(|e| corrupt(e.to_string()))?;
        serde_json::from_slice(&plain).map_err(|e| corrupt(e.to_string()))
    }

    /// The record under `key` in `tree` (named `name` in errors), decrypted.
    fn sealed_at<T: serde::de::DeserializeOwned>(
        &self,
        tree: &sled::Tree,
        name: &'static str,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        match tree.get(key)? {
            Some(v) => Ok(Some(self.open_sealed(name, key, &v)?)),
            None => Ok(None),
        }
    }

    /// Every record `entries` gives (a whole tree, or a prefix of one), decrypted, in key
    /// order.
    fn all_sealed<T: serde::de::DeserializeOwned>(
        &self,
        entries: sled::Iter,
        name: &'static str,
    ) -> Result<Vec<T>, StoreError> {
        entries
            .map(|kv| {
                let (k, v) = kv?;
                self.open_sealed(name, &k, &v)
            })
            .collect()
    }

    /// The keyed hash of a CPR (ten digits) under the blind-index key: lets us find a child's
    /// cases without any plaintext CPR in a key.
    pub fn blind(&self, cpr_digits: &str) -> [u8; 32] {
        blind_hash(&*self.blind_key(), cpr_digits)
    }

    /// Locks `reference` for a read-modify-write: hold the guard from reading the item until
    /// its batch is committed. Without it a person's decision and the escalation pass (or
    /// two decisions at once) could each read the item and the later write undo the earlier
    /// one. One daemon owns the database (sled's file lock), so a lock in memory suffices.
    pub fn lock_item(&self, reference: &str) -> ItemGuard<'_> {
        self.inner.locks.item(reference)
    }

    /// Locks outbox entry `id` against another change that reads it first: an operator's
    /// re-queue and retention's removal of a failed delivery each check the entry is still
    /// failed, then write.
    pub fn lock_outbox_entry(&self, id: u64) -> ItemGuard<'_> {
        self.inner.locks.item(&format!("outbox {id}"))
    }

    /// Locks several items at once, for a batch that changes them together: each stripe
    /// once, in stripe order, so two such batches cannot wait on each other and two
    /// references sharing a stripe do not wait on themselves. Take it instead of, never on
    /// top of, [`Store::lock_item`].
    pub fn lock_items<'a>(&'a self, references: &[&str]) -> Vec<ItemGuard<'a>> {
        self.inner.locks.items(references)
    }

    /// Locks cases of the registry (by case number) for a read-modify-write of their
    /// records: an overgang and the registry's import each read a case and write it back
    /// whole. As [`Store::lock_items`], never on top of another item lock.
    pub fn lock_cases<'a>(&'a self, case_numbers: &[&str]) -> Vec<ItemGuard<'a>> {
        let names: Vec<String> = case_numbers.iter().map(|n| format!("case {n}")).collect();
        self.lock_items(&names.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// A forløb's item and the meeting slot it books (its start, as written), locked
    /// together: two bookings of one slot are serialised, so the second reads the first's
    /// summary and is refused; bookings of different slots go on side by side.
    pub fn lock_booking<'a>(&'a self, reference: &str, slot: &str) -> Vec<ItemGuard<'a>> {
        self.lock_items(&[reference, &format!("slot {slot}")])
    }
}
