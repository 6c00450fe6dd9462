//! The sled database and its operations.
//!
//! Every change is a [`Batch`]: records are encrypted to the store key, audit payloads to
//! the auditors' certificate, then one sled transaction writes them all, with the audit
//! chain extended inside that transaction. Nothing from a batch is visible until all of it
//! is; nothing is acknowledged until [`Store::flush`] returns. After a failed flush the store
//! is poisoned and refuses further work until restarted (we never retry an fsync).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use sha2::Sha256;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

use crate::audit::{self, Entry, Event};
use crate::crypto;
use crate::keys::DataKeys;
use crate::records::{Case, Item, ItemState, ItemSummary, OutboxEntry};
use crate::spool::Spool;
use crate::StoreError;
use sequoia_openpgp as openpgp;

const T_MESSAGES: &str = "messages";
const T_ITEMS: &str = "items";
const T_CASES: &str = "cases";
const T_CASE_INDEX: &str = "case_index";
/// Blind index of intakes by child: HMAC(CPR) ‖ reference → nothing.
const T_ITEM_INDEX: &str = "item_index";
/// Each intake's [`ItemSummary`] in clear (JSON), reference → summary: no personal data. The
/// escalation pass and the triage list decrypt only the items in the states they show, and
/// the SLA report and `/metrics` decrypt nothing.
const T_ITEM_STATE: &str = "item_state";
const T_OUTBOX: &str = "outbox";
/// The outbox's schedule, in clear but without personal data: `d` ‖ due time ‖ id → nothing
/// (what is due, in order), `i` ‖ id → due time (to move an entry), `f` ‖ id → failure
/// time for entries that failed for good, and `a` ‖ id → time queued for entries that were
/// tried and are waiting to be tried again. Lets the outbox worker decrypt only what is due
/// instead of every entry on every round, and counts failures without decrypting.
const T_OUTBOX_SCHED: &str = "outbox_sched";
const T_AUDIT: &str = "audit";
const T_META: &str = "meta";

const AUDIT_HEAD: &[u8] = b"audit_head";
/// The audit Merkle tree's right edge (size and perfect-subtree roots), kept with the head.
const AUDIT_FRONTIER: &[u8] = b"audit_frontier";
/// Signed checkpoints of the audit tree: tree size (u64 BE) → signed note.
const T_CHECKPOINTS: &str = "checkpoints";

/// The directory inside a data directory that holds the sled database.
pub const DB_DIR: &str = "db";

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    messages: sled::Tree,
    items: sled::Tree,
    cases: sled::Tree,
    case_index: sled::Tree,
    item_index: sled::Tree,
    item_state: sled::Tree,
    outbox: sled::Tree,
    outbox_sched: sled::Tree,
    audit: sled::Tree,
    meta: sled::Tree,
    checkpoints: sled::Tree,
    keys: DataKeys,
    /// The auditors' certificates; replaced when the configuration is reloaded.
    auditors: std::sync::RwLock<Vec<openpgp::Cert>>,
    spool: Spool,
    poisoned: AtomicBool,
    /// Last reference number handed out, per year.
    refseq: std::sync::Mutex<std::collections::HashMap<i16, u64>>,
    flusher: Flusher,
    /// The session key that records at rest are sealed under now (see [`crypto::Sealer`]).
    sealer: std::sync::Mutex<Option<Arc<crypto::Sealer>>>,
    /// Session keys recovered when reading records (see [`crypto::SessionKeyCache`]).
    opened: crypto::SessionKeyCache,
    /// Striped locks for reading, changing and writing back one item (see
    /// [`Store::lock_item`]).
    item_locks: [std::sync::Mutex<()>; ITEM_LOCK_STRIPES],
}

const ITEM_LOCK_STRIPES: usize = 64;

/// Holds one item (and the others of its stripe) against concurrent read-modify-write
/// until it is dropped.
pub struct ItemGuard<'a> {
    _held: std::sync::MutexGuard<'a, ()>,
}

/// Group-commit state: see [`Store::flush`].
#[derive(Default)]
struct Flusher {
    state: std::sync::Mutex<FlushState>,
    done: std::sync::Condvar,
}

#[derive(Default)]
struct FlushState {
    requested: u64,
    completed: u64,
    running: bool,
    failed: bool,
}

/// Changes that commit together or not at all.
#[derive(Default)]
pub struct Batch {
    /// A message as parts whose concatenation is the stored message.
    messages: Vec<(String, Vec<Vec<u8>>)>,
    items: Vec<Item>,
    cases: Vec<Case>,
    outbox_put: Vec<OutboxEntry>,
    outbox_delete: Vec<u64>,
    events: Vec<Event>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }
    /// Stores a raw message under its reference.
    pub fn message(&mut self, reference: &str, raw: Vec<u8>) -> &mut Self {
        self.messages.push((reference.to_string(), vec![raw]));
        self
    }
    /// Stores `header` followed by `raw` (our trace header in front of a received message)
    /// without copying them into one buffer.
    pub fn message_with_header(
        &mut self,
        reference: &str,
        header: Vec<u8>,
        raw: Vec<u8>,
    ) -> &mut Self {
        self.messages
            .push((reference.to_string(), vec![header, raw]));
        self
    }
    pub fn item(&mut self, item: Item) -> &mut Self {
        self.items.push(item);
        self
    }
    pub fn case(&mut self, case: Case) -> &mut Self {
        self.cases.push(case);
        self
    }
    pub fn outbox(&mut self, entry: OutboxEntry) -> &mut Self {
        self.outbox_put.push(entry);
        self
    }
    pub fn outbox_done(&mut self, id: u64) -> &mut Self {
        self.outbox_delete.push(id);
        self
    }
    pub fn audit(&mut self, event: Event) -> &mut Self {
        self.events.push(event);
        self
    }
}

type Abort = ConflictableTransactionError<StoreError>;

fn is_locked(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock
        || io.to_string().contains("lock"))
}

impl Store {
    /// Opens (or creates) the database in `data_dir/db`.
    pub fn open(data_dir: &Path, keys: DataKeys) -> Result<Store, StoreError> {
        let db = open_db(data_dir)?;
        let t = |name: &str| db.open_tree(name);
        let spool = Spool::open(data_dir)?;
        let messages = t(T_MESSAGES)?;
        // Files whose record never committed (a crash between file and transaction).
        let orphans = spool.clean(|r| messages.contains_key(r.as_bytes()).unwrap_or(true))?;
        if orphans > 0 {
            tracing::info!(
                orphans,
                "removed message files of intakes that never committed"
            );
        }
        let inner = Inner {
            spool,
            messages,
            items: t(T_ITEMS)?,
            cases: t(T_CASES)?,
            case_index: t(T_CASE_INDEX)?,
            item_index: t(T_ITEM_INDEX)?,
            item_state: t(T_ITEM_STATE)?,
            outbox: t(T_OUTBOX)?,
            outbox_sched: t(T_OUTBOX_SCHED)?,
            audit: t(T_AUDIT)?,
            meta: t(T_META)?,
            checkpoints: t(T_CHECKPOINTS)?,
            db,
            auditors: std::sync::RwLock::new(keys.audit.clone()),
            keys,
            poisoned: AtomicBool::new(false),
            refseq: Default::default(),
            flusher: Flusher::default(),
            sealer: Default::default(),
            opened: Default::default(),
            item_locks: std::array::from_fn(|_| std::sync::Mutex::new(())),
        };
        let store = Store {
            inner: Arc::new(inner),
        };
        store.schedule_unscheduled()?;
        store.summarise_unindexed_items()?;
        Ok(store)
    }

    /// Writes the summaries of items stored before the index existed (once, at open).
    fn summarise_unindexed_items(&self) -> Result<(), StoreError> {
        let i = &self.inner;
        if i.items.is_empty() || !i.item_state.is_empty() {
            return Ok(());
        }
        for item in self.items()? {
            i.item_state
                .insert(item.reference.as_bytes(), summary_json(&item)?)?;
        }
        i.db.flush()?;
        Ok(())
    }

    /// Puts outbox entries written before the schedule existed into it (once, at open).
    fn schedule_unscheduled(&self) -> Result<(), StoreError> {
        let i = &self.inner;
        if i.outbox.is_empty() || !i.outbox_sched.is_empty() {
            return Ok(());
        }
        for entry in self.outbox()?.into_iter().filter(|e| e.failed.is_none()) {
            let due = time_key(entry.next_attempt);
            i.outbox_sched.insert(sched_due_key(&due, entry.id), &[])?;
            i.outbox_sched.insert(sched_id_key(entry.id), &due)?;
        }
        i.db.flush()?;
        Ok(())
    }

    /// Encrypts audit payloads from now on to `certs` (public parts only).
    pub fn set_auditors(&self, certs: Vec<openpgp::Cert>) {
        *self.auditors_lock() = certs
            .into_iter()
            .map(|c| c.strip_secret_key_material())
            .collect();
    }

    /// Fingerprints of the auditors' certificates in use.
    pub fn auditor_fingerprints(&self) -> Vec<String> {
        self.auditors_lock()
            .iter()
            .map(|c| c.fingerprint().to_hex())
            .collect()
    }

    fn auditors_lock(&self) -> std::sync::RwLockWriteGuard<'_, Vec<openpgp::Cert>> {
        self.inner.auditors.write().expect("auditors lock")
    }

    pub fn keys(&self) -> &DataKeys {
        &self.inner.keys
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
            None => read_u64(&self.inner.meta, &refseq_key(year))? + 1,
        };
        counters.insert(year, next);
        Ok(format!("MT-{year}-{next:06}"))
    }

    /// A new id for an outbox entry.
    pub fn next_id(&self) -> Result<u64, StoreError> {
        Ok(self.inner.db.generate_id()?)
    }

    fn seal<T: serde::Serialize>(&self, value: &T) -> Result<Vec<u8>, StoreError> {
        let json = serde_json::to_vec(value).map_err(|e| StoreError::Crypto(e.to_string()))?;
        self.sealer()?.seal(&[&json])
    }

    /// The current sealer, replaced once it has lived its time.
    fn sealer(&self) -> Result<Arc<crypto::Sealer>, StoreError> {
        let mut current = self.inner.sealer.lock().expect("sealer lock");
        match current.as_ref() {
            Some(s) if !s.is_stale() => Ok(s.clone()),
            _ => {
                let fresh = Arc::new(crypto::Sealer::new(&[&self.inner.keys.store])?);
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
        let plain = crypto::decrypt_cached(&self.inner.keys.store, bytes, Some(&self.inner.opened))
            .map_err(|e| corrupt(e.to_string()))?;
        serde_json::from_slice(&plain).map_err(|e| corrupt(e.to_string()))
    }

    /// The keyed hash of a CPR (ten digits) under the blind-index key: lets us find a child's
    /// cases without any plaintext CPR in a key.
    pub fn blind(&self, cpr_digits: &str) -> [u8; 32] {
        blind_hash(&self.inner.keys.blind, cpr_digits)
    }

    /// Writes a batch atomically. Not yet durable: call [`Store::flush`] before telling
    /// anyone it happened.
    pub fn commit(&self, batch: Batch, now: Timestamp) -> Result<(), StoreError> {
        self.check()?;
        // Message files are written (and fsynced) first; the transaction records their
        // hashes. If anything after that fails, the files are removed again.
        let mut messages = Vec::new();
        let result = (|| {
            for (r, parts) in &batch.messages {
                let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
                let ciphertext = self.sealer()?.seal(&parts)?;
                let hash = self.inner.spool.write(r, &ciphertext)?;
                messages.push((r.clone(), hash.to_vec()));
            }
            self.commit_sealed(&batch, &messages, now)
        })();
        if result.is_err() {
            for (r, _) in &batch.messages {
                self.inner.spool.remove(r);
            }
        }
        result
    }

    fn commit_sealed(
        &self,
        batch: &Batch,
        messages: &[(String, Vec<u8>)],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        // Encrypt outside the transaction: it is the expensive part, and a transaction
        // closure may run more than once.
        let mut items = Vec::new();
        let mut item_keys = Vec::new();
        for item in &batch.items {
            items.push((
                item.reference.clone(),
                summary_json(item)?,
                self.seal(item)?,
            ));
            for cpr in &item.cprs {
                let digits: String = cpr.chars().filter(char::is_ascii_digit).collect();
                let mut key = self.blind(&digits).to_vec();
                key.extend_from_slice(item.reference.as_bytes());
                item_keys.push(key);
            }
        }
        let mut cases = Vec::new();
        for case in &batch.cases {
            let digits: String = case.cpr.chars().filter(char::is_ascii_digit).collect();
            let mut key = self.blind(&digits).to_vec();
            key.extend_from_slice(case.case_number.as_bytes());
            cases.push((case.case_number.clone(), key, self.seal(case)?));
        }
        let mut outbox = Vec::new();
        for entry in &batch.outbox_put {
            // A failed entry is kept but leaves the schedule.
            let due = match entry.failed {
                None => Ok(time_key(entry.next_attempt)),
                Some(at) => Err(time_key(at)),
            };
            // Tried and not yet delivered: when it was queued, for the age of the oldest.
            let deferred =
                (entry.attempts > 0 && entry.failed.is_none()).then(|| time_key(entry.created));
            outbox.push((entry.id, due, deferred, self.seal(entry)?));
        }
        let mut sealed_events = Vec::new();
        for event in &batch.events {
            let json = serde_json::to_vec(event).map_err(|e| StoreError::Crypto(e.to_string()))?;
            let auditors = self.inner.auditors.read().expect("auditors lock").clone();
            if auditors.is_empty() {
                return Err(StoreError::Key(
                    "no auditors' certificate to encrypt the audit log to: set [audit] auditor_certs".into(),
                ));
            }
            let refs: Vec<&openpgp::Cert> = auditors.iter().collect();
            sealed_events.push((event.kind, crypto::encrypt(&refs, &json)?));
        }

        let i = &self.inner;
        let result = (
            &i.messages,
            &i.items,
            &i.cases,
            &i.case_index,
            &i.outbox,
            &i.audit,
            &i.meta,
            &i.item_index,
            &i.outbox_sched,
            &i.item_state,
        )
            .transaction(|(tm, ti, tc, tci, to, ta, tmeta, tii, tos, tis)| {
                for key in &item_keys {
                    tii.insert(key.as_slice(), &[])?;
                }
                for (r, c) in messages {
                    tm.insert(r.as_bytes(), c.as_slice())?;
                }
                for (r, summary, c) in &items {
                    ti.insert(r.as_bytes(), c.as_slice())?;
                    tis.insert(r.as_bytes(), summary.as_slice())?;
                    if let Some((year, n)) = parse_reference(r) {
                        let key = refseq_key(year);
                        let stored = tmeta
                            .get(key.as_bytes())?
                            .and_then(|v| v.as_ref().try_into().ok())
                            .map(u64::from_be_bytes);
                        if stored.is_none_or(|s| s < n) {
                            tmeta.insert(key.as_bytes(), &n.to_be_bytes())?;
                        }
                    }
                }
                for (number, key, c) in &cases {
                    // A case whose CPR changed must not stay findable under the old one.
                    if let Some(old) = tci.get(number.as_bytes())? {
                        if old.as_ref() != key.as_slice() {
                            tc.remove(old)?;
                        }
                    }
                    tci.insert(number.as_bytes(), key.as_slice())?;
                    tc.insert(key.as_slice(), c.as_slice())?;
                }
                for (id, due, deferred, c) in &outbox {
                    to.insert(&id.to_be_bytes(), c.as_slice())?;
                    unschedule(tos, *id)?;
                    if let Some(queued) = deferred {
                        tos.insert(sched_deferred_key(*id).as_slice(), queued.as_slice())?;
                    }
                    match due {
                        Ok(due) => {
                            tos.insert(sched_due_key(due, *id).as_slice(), &[])?;
                            tos.insert(sched_id_key(*id).as_slice(), due.as_slice())?;
                        }
                        Err(failed) => {
                            tos.insert(sched_failed_key(*id).as_slice(), failed.as_slice())?;
                        }
                    }
                }
                for id in &batch.outbox_delete {
                    to.remove(&id.to_be_bytes())?;
                    unschedule(tos, *id)?;
                }
                append_audit(ta, tmeta, &sealed_events, now)?;
                Ok(())
            });
        match result {
            Ok(()) => Ok(()),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(self.storage_failed(e)),
        }
    }

    fn storage_failed(&self, e: sled::Error) -> StoreError {
        // An IO error inside sled may have left its log in an unknown state: stop writing.
        if matches!(e, sled::Error::Io(_)) {
            self.inner.poisoned.store(true, Ordering::SeqCst);
        }
        let full = matches!(&e, sled::Error::Io(io) if io.raw_os_error() == Some(28));
        if full {
            StoreError::Full(e.to_string())
        } else {
            StoreError::Sled(e)
        }
    }

    /// Makes every batch committed before the call durable (group commit). Blocking: from
    /// async code call it through `spawn_blocking`. On failure the store is poisoned.
    ///
    /// Only one `Db::flush` runs at a time: concurrent flushes in sled 0.34 can deadlock
    /// (sled issue #1308, seen here under load in release builds). Callers take a ticket; a
    /// leader flushes for every ticket issued before it started, the others wait for it.
    pub fn flush(&self) -> Result<(), StoreError> {
        let f = &self.inner.flusher;
        let mut st = f.state.lock().expect("flusher lock");
        st.requested += 1;
        let ticket = st.requested;
        loop {
            if st.failed || self.is_poisoned() {
                return Err(StoreError::Poisoned);
            }
            if st.completed >= ticket {
                return Ok(());
            }
            if st.running {
                st = f.done.wait(st).expect("flusher lock");
                continue;
            }
            st.running = true;
            let target = st.requested;
            drop(st);
            let result = self
                .inner
                .spool
                .sync_dir()
                .and_then(|_| self.inner.db.flush().map_err(StoreError::from));
            st = f.state.lock().expect("flusher lock");
            st.running = false;
            match result {
                Ok(_) => st.completed = target,
                Err(e) => {
                    st.failed = true;
                    self.inner.poisoned.store(true, Ordering::SeqCst);
                    f.done.notify_all();
                    return Err(match e {
                        StoreError::Sled(e) => self.storage_failed(e),
                        other => other,
                    });
                }
            }
            f.done.notify_all();
        }
    }

    /// Locks `reference` for a read-modify-write: hold the guard from reading the item until
    /// its batch is committed. Without it a person's decision and the escalation pass (or
    /// two decisions at once) could each read the item and the later write undo the earlier
    /// one. One daemon owns the database (sled's file lock), so a lock in memory suffices.
    pub fn lock_item(&self, reference: &str) -> ItemGuard<'_> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        reference.hash(&mut h);
        let stripe = (h.finish() % ITEM_LOCK_STRIPES as u64) as usize;
        // A panic while holding it leaves no half-written item (the batch commits or not).
        ItemGuard {
            _held: self.inner.item_locks[stripe]
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        }
    }

    pub fn item(&self, reference: &str) -> Result<Option<Item>, StoreError> {
        match self.inner.items.get(reference.as_bytes())? {
            Some(v) => Ok(Some(self.open_sealed(T_ITEMS, reference.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    /// Every item, in reference order.
    pub fn items(&self) -> Result<Vec<Item>, StoreError> {
        self.inner
            .items
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                self.open_sealed(T_ITEMS, &k, &v)
            })
            .collect()
    }

    /// The items whose state `keep` accepts, by reference: only those are decrypted.
    pub fn items_where(&self, keep: impl Fn(ItemState) -> bool) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        for kv in self.inner.item_state.iter() {
            let (k, v) = kv?;
            if !keep(parse_summary(&k, &v)?.state) {
                continue;
            }
            if let Some(v) = self.inner.items.get(&k)? {
                out.push(self.open_sealed(T_ITEMS, &k, &v)?);
            }
        }
        Ok(out)
    }

    /// Every intake's summary, by reference, without decrypting anything.
    pub fn summaries(&self) -> Result<Vec<ItemSummary>, StoreError> {
        self.inner
            .item_state
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                parse_summary(&k, &v)
            })
            .collect()
    }

    /// The raw message of `reference`, decrypted in memory.
    pub fn message(&self, reference: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.inner.messages.get(reference.as_bytes())? {
            Some(hash) => {
                let v = self.inner.spool.read(reference, &hash)?;
                let store_key = &self.inner.keys.store;
                let plain = crypto::decrypt_cached(store_key, &v, Some(&self.inner.opened))
                    .map_err(|e| StoreError::Corrupt {
                        tree: T_MESSAGES,
                        key: reference.to_string(),
                        why: e.to_string(),
                    })?;
                Ok(Some(plain))
            }
            None => Ok(None),
        }
    }

    /// Cases of the child with this CPR (ten digits), open or not.
    pub fn cases_for_cpr(&self, cpr_digits: &str) -> Result<Vec<Case>, StoreError> {
        let prefix = self.blind(cpr_digits);
        self.inner
            .cases
            .scan_prefix(prefix)
            .map(|kv| {
                let (k, v) = kv?;
                self.open_sealed(T_CASES, &k, &v)
            })
            .collect()
    }

    /// References of every intake that named this CPR (ten digits), in reference order.
    pub fn items_for_cpr(&self, cpr_digits: &str) -> Result<Vec<String>, StoreError> {
        let prefix = self.blind(cpr_digits);
        self.inner
            .item_index
            .scan_prefix(prefix)
            .map(|kv| {
                let (k, _) = kv?;
                Ok(String::from_utf8_lossy(&k[32..]).into_owned())
            })
            .collect()
    }

    pub fn case(&self, case_number: &str) -> Result<Option<Case>, StoreError> {
        let Some(key) = self.inner.case_index.get(case_number.as_bytes())? else {
            return Ok(None);
        };
        match self.inner.cases.get(&key)? {
            Some(v) => Ok(Some(self.open_sealed(
                T_CASES,
                case_number.as_bytes(),
                &v,
            )?)),
            None => Ok(None),
        }
    }

    /// Every case in the registry, in case-number order.
    pub fn cases(&self) -> Result<Vec<Case>, StoreError> {
        let mut out = Vec::new();
        for kv in self.inner.case_index.iter() {
            let (number, _) = kv?;
            if let Some(c) = self.case(&String::from_utf8_lossy(&number))? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Outbox entries due at `now` (at most `limit`), earliest first: only these are
    /// decrypted.
    pub fn outbox_due(&self, now: Timestamp, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut upper = vec![b'd'];
        upper.extend_from_slice(&time_key(now));
        upper.extend_from_slice(&u64::MAX.to_be_bytes());
        let mut out = Vec::new();
        for kv in self
            .inner
            .outbox_sched
            .range(b"d".to_vec()..=upper)
            .take(limit)
        {
            let (k, _) = kv?;
            let id: [u8; 8] = k[17..25].try_into().unwrap_or_default();
            if let Some(v) = self.inner.outbox.get(id)? {
                out.push(self.open_sealed(T_OUTBOX, &id, &v)?);
            }
        }
        Ok(out)
    }

    /// When the next outbox entry falls due, if any is waiting.
    pub fn outbox_next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let Some((k, _)) = self
            .inner
            .outbox_sched
            .scan_prefix(b"d")
            .next()
            .transpose()?
        else {
            return Ok(None);
        };
        Ok(from_time_key(&k[1..17]))
    }

    /// How many entries are in the outbox, failed ones included.
    pub fn outbox_len(&self) -> usize {
        self.inner.outbox.len()
    }

    /// How many outbox entries failed for good (kept, no longer tried).
    pub fn outbox_failed(&self) -> usize {
        self.inner.outbox_sched.scan_prefix(b"f").count()
    }

    /// Entries tried at least once and still waiting (temporary failures), and when the
    /// oldest of them was queued: for monitoring a relay that is down, without decrypting.
    pub fn outbox_deferred(&self) -> Result<(usize, Option<Timestamp>), StoreError> {
        let mut n = 0;
        let mut oldest: Option<Timestamp> = None;
        for kv in self.inner.outbox_sched.scan_prefix(b"a") {
            let (_, queued) = kv?;
            n += 1;
            if let Some(t) = from_time_key(&queued) {
                oldest = Some(oldest.map_or(t, |o| o.min(t)));
            }
        }
        Ok((n, oldest))
    }

    /// The entries that failed for good, in id order: only these are decrypted.
    pub fn outbox_failed_entries(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut out = Vec::new();
        for kv in self.inner.outbox_sched.scan_prefix(b"f") {
            let (k, _) = kv?;
            let id = u64::from_be_bytes(k[1..9].try_into().unwrap_or_default());
            out.extend(self.outbox_entry(id)?);
        }
        Ok(out)
    }

    /// One outbox entry by id.
    pub fn outbox_entry(&self, id: u64) -> Result<Option<OutboxEntry>, StoreError> {
        let key = id.to_be_bytes();
        match self.inner.outbox.get(key)? {
            Some(v) => Ok(Some(self.open_sealed(T_OUTBOX, &key, &v)?)),
            None => Ok(None),
        }
    }

    /// Every outbox entry, in id order.
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        self.inner
            .outbox
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                self.open_sealed(T_OUTBOX, &k, &v)
            })
            .collect()
    }

    /// Verifies the audit chain of this open store.
    pub fn verify_audit(&self) -> Result<audit::Report, audit::Broken> {
        let key = self.inner.keys.checkpoint.verifying_key();
        verify_trees(
            &self.inner.audit,
            &self.inner.meta,
            &self.inner.checkpoints,
            &key,
            &[],
        )
        .map(|(r, _)| r)
    }

    /// Size and root of the audit tree now.
    pub fn audit_tree(&self) -> Result<crate::merkle::Frontier, StoreError> {
        Ok(match self.inner.meta.get(AUDIT_FRONTIER)? {
            Some(v) => crate::merkle::Frontier::decode(&v).ok_or(StoreError::Corrupt {
                tree: T_META,
                key: "audit_frontier".into(),
                why: "malformed".into(),
            })?,
            None => crate::merkle::Frontier::default(),
        })
    }

    /// Signs and stores a checkpoint of the audit tree as it is, unless one of this size
    /// exists or the tree is empty; returns the signed note if one was written. Call
    /// [`Store::flush`] before sending it anywhere.
    pub fn write_checkpoint(&self, origin: &str) -> Result<Option<String>, StoreError> {
        self.check()?;
        let f = self.audit_tree()?;
        if f.size == 0 || self.inner.checkpoints.contains_key(f.size.to_be_bytes())? {
            return Ok(None);
        }
        let note = crate::checkpoint::Checkpoint {
            origin: origin.to_string(),
            size: f.size,
            root: f.root(),
        }
        .sign(&self.inner.keys.checkpoint);
        self.inner
            .checkpoints
            .insert(f.size.to_be_bytes(), note.as_bytes())?;
        Ok(Some(note))
    }

    /// Retention: deletes the payloads of audit entries older than `cutoff` (their hashes
    /// stay, so the chain, the tree and every checkpoint still verify) and records the
    /// deletion as an entry of its own. Returns how many payloads were deleted.
    pub fn apply_audit_retention(
        &self,
        cutoff: Timestamp,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        self.check()?;
        let mut shredded = 0;
        for kv in self.inner.audit.iter() {
            let (k, v) = kv?;
            let e = Entry::decode(&v).map_err(|why| StoreError::Corrupt {
                tree: T_AUDIT,
                key: format!("{:?}", k.as_ref()),
                why,
            })?;
            if e.time() >= cutoff {
                break;
            }
            if e.shredded.is_none() {
                // Compare-and-swap: an entry is never changed in any other way.
                let _ =
                    self.inner
                        .audit
                        .compare_and_swap(&k, Some(&v), Some(e.shred().encode()))?;
                shredded += 1;
            }
        }
        if shredded > 0 {
            let mut b = Batch::new();
            b.audit(
                Event::new("retention", "system", "retention").details(serde_json::json!({
                    "payloads_deleted": shredded,
                    "older_than": cutoff.to_string(),
                })),
            );
            self.commit(b, now)?;
            self.flush()?;
        }
        Ok(shredded)
    }

    /// The latest signed checkpoint, if any.
    pub fn latest_checkpoint(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .inner
            .checkpoints
            .last()?
            .map(|(_, v)| String::from_utf8_lossy(&v).into_owned()))
    }
}

fn refseq_key(year: i16) -> String {
    format!("refseq/{year}")
}

/// `MT-2026-000123` → `(2026, 123)`.
fn parse_reference(r: &str) -> Option<(i16, u64)> {
    let rest = r.strip_prefix("MT-")?;
    let (year, n) = rest.split_once('-')?;
    Some((year.parse().ok()?, n.parse().ok()?))
}

fn read_u64(tree: &sled::Tree, key: &str) -> Result<u64, StoreError> {
    Ok(tree
        .get(key.as_bytes())?
        .and_then(|v| v.as_ref().try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0))
}

/// sled's page cache. Its default (1 GiB) let the daemon grow to 2 GiB under a load of
/// 500 KB messages; encrypted messages are written once and rarely read, so a small cache
/// costs little.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

fn open_db(data_dir: &Path) -> Result<sled::Db, StoreError> {
    sled::Config::new()
        .path(data_dir.join(DB_DIR))
        .cache_capacity(CACHE_BYTES)
        .open()
        .map_err(|e| {
            if is_locked(&e) {
                StoreError::Locked
            } else {
                StoreError::Sled(e)
            }
        })
}

fn decode_head(v: &[u8]) -> Option<(u64, [u8; 32])> {
    if v.len() != 40 {
        return None;
    }
    Some((
        u64::from_be_bytes(v[..8].try_into().ok()?),
        v[8..].try_into().ok()?,
    ))
}

fn append_audit(
    audit: &TransactionalTree,
    meta: &TransactionalTree,
    events: &[(&'static str, Vec<u8>)],
    now: Timestamp,
) -> Result<(), Abort> {
    if events.is_empty() {
        return Ok(());
    }
    let (mut seq, mut prev) = match meta.get(AUDIT_HEAD)? {
        Some(v) => decode_head(&v).ok_or_else(|| {
            Abort::Abort(StoreError::Corrupt {
                tree: T_META,
                key: "audit_head".into(),
                why: "malformed".into(),
            })
        })?,
        None => (0, [0u8; 32]),
    };
    let mut frontier = match meta.get(AUDIT_FRONTIER)? {
        Some(v) => crate::merkle::Frontier::decode(&v).ok_or_else(|| {
            Abort::Abort(StoreError::Corrupt {
                tree: T_META,
                key: "audit_frontier".into(),
                why: "malformed".into(),
            })
        })?,
        None => crate::merkle::Frontier::default(),
    };
    for (kind, payload) in events {
        seq += 1;
        let entry = Entry::new(seq, now, kind, payload.clone(), prev);
        audit.insert(&seq.to_be_bytes(), entry.encode())?;
        frontier.push(entry.leaf_hash());
        prev = entry.hash;
    }
    let mut head = seq.to_be_bytes().to_vec();
    head.extend_from_slice(&prev);
    meta.insert(AUDIT_HEAD, head)?;
    meta.insert(AUDIT_FRONTIER, frontier.encode())?;
    Ok(())
}

/// Verifies the chain, the Merkle tree and every checkpoint: those stored with the log and
/// `external` ones kept elsewhere (each must be signed by `key` and be extended by today's
/// log, shown with an RFC 9162 consistency proof). Returns the leaves too.
fn verify_trees(
    audit: &sled::Tree,
    meta: &sled::Tree,
    stored: &sled::Tree,
    key: &ed25519_dalek::VerifyingKey,
    external: &[String],
) -> Result<(audit::Report, Vec<crate::merkle::Hash>), audit::Broken> {
    let broken = |seq: u64, what: String| audit::Broken { seq, what };
    let head = match meta.get(AUDIT_HEAD) {
        Ok(Some(v)) => {
            Some(decode_head(&v).ok_or(broken(0, "the recorded head is malformed".into()))?)
        }
        Ok(None) => None,
        Err(e) => return Err(broken(0, e.to_string())),
    };
    let mut leaves = Vec::new();
    let mut report = audit::verify(
        audit.iter().map(|kv| {
            kv.map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(StoreError::from)
        }),
        head,
        &mut leaves,
    )?;
    let n = leaves.len() as u64;
    let root = crate::merkle::root(&leaves);
    report.root = hex::encode(root);
    // The recorded right edge must describe the same tree.
    if let Ok(Some(v)) = meta.get(AUDIT_FRONTIER) {
        let f = crate::merkle::Frontier::decode(&v)
            .ok_or(broken(0, "the recorded tree edge is malformed".into()))?;
        if f.size != n || f.root() != root {
            return Err(broken(n, format!(
                "the recorded tree (size {}) does not match the entries (size {n}): entries were changed or removed",
                f.size
            )));
        }
    }
    // Stored checkpoints, then the ones kept elsewhere.
    let mut notes: Vec<(String, String)> = Vec::new();
    for kv in stored.iter() {
        let (k, v) = kv.map_err(|e| broken(0, e.to_string()))?;
        let size = k.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0);
        notes.push((
            format!("stored checkpoint {size}"),
            String::from_utf8_lossy(&v).into_owned(),
        ));
    }
    for (i, note) in external.iter().enumerate() {
        notes.push((format!("checkpoint file {}", i + 1), note.clone()));
    }
    for (what, note) in &notes {
        let cp = crate::checkpoint::Checkpoint::verify(note, key)
            .map_err(|e| broken(0, format!("{what}: {e}")))?;
        if cp.size > n {
            return Err(broken(n + 1, format!(
                "{what} is of a log with {} entries, but this log has {n}: entries were removed (truncated or rolled back)",
                cp.size
            )));
        }
        let old_root = crate::merkle::root(&leaves[..cp.size as usize]);
        let proof = crate::merkle::consistency_proof(&leaves, cp.size as usize);
        if old_root != cp.root
            || !crate::merkle::verify_consistency(cp.size, n, &cp.root, &root, &proof)
        {
            return Err(broken(
                cp.size,
                format!(
                    "{what} (size {}) is not extended by this log: entries up to {} were changed",
                    cp.size, cp.size
                ),
            ));
        }
        report.checkpoints += 1;
    }
    Ok((report, leaves))
}

/// Verifies the audit trees of an open sled database (for tests that tamper with it as
/// someone with root could).
pub fn verify_db(
    db: &sled::Db,
    key: &ed25519_dalek::VerifyingKey,
    external: &[String],
) -> Result<audit::Report, audit::Broken> {
    let t = |name: &str| {
        db.open_tree(name).map_err(|e| audit::Broken {
            seq: 0,
            what: e.to_string(),
        })
    };
    verify_trees(&t(T_AUDIT)?, &t(T_META)?, &t(T_CHECKPOINTS)?, key, external).map(|(r, _)| r)
}

/// The checkpoint key of a data directory (`checkpoint.pub`), for offline verification.
pub fn checkpoint_key(data_dir: &Path) -> Result<ed25519_dalek::VerifyingKey, VerifyError> {
    let path = data_dir.join(crate::keys::CHECKPOINT_PUB);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| VerifyError::Open(format!("{}: {e}", path.display())))?;
    crate::checkpoint::parse_public(&text)
        .map_err(|e| VerifyError::Open(format!("{}: {e}", path.display())))
}

/// The audit trees of a stopped daemon's data directory (or a copy).
struct OfflineAudit {
    audit: sled::Tree,
    meta: sled::Tree,
    checkpoints: sled::Tree,
}

fn open_offline(data_dir: &Path) -> Result<OfflineAudit, VerifyError> {
    if !data_dir.join(DB_DIR).exists() {
        return Err(VerifyError::Open(format!(
            "{}: no modtag database here (expected {}/)",
            data_dir.display(),
            DB_DIR
        )));
    }
    let db = open_db(data_dir).map_err(|e| VerifyError::Open(e.to_string()))?;
    let t = |name: &str| {
        db.open_tree(name)
            .map_err(|e| VerifyError::Open(e.to_string()))
    };
    Ok(OfflineAudit {
        audit: t(T_AUDIT)?,
        meta: t(T_META)?,
        checkpoints: t(T_CHECKPOINTS)?,
    })
}

/// Verifies the audit log of a data directory whose daemon is stopped (or a copy of it):
/// chain, tree, stored checkpoints, and checkpoints kept elsewhere. Needs no secret key; the
/// checkpoint key is `key`, or the data directory's `checkpoint.pub`.
pub fn verify_offline(
    data_dir: &Path,
    external: &[String],
    key: Option<ed25519_dalek::VerifyingKey>,
) -> Result<audit::Report, VerifyError> {
    let key = match key {
        Some(k) => k,
        None => checkpoint_key(data_dir)?,
    };
    let o = open_offline(data_dir)?;
    verify_trees(&o.audit, &o.meta, &o.checkpoints, &key, external)
        .map(|(r, _)| r)
        .map_err(VerifyError::Broken)
}

/// An RFC 9162 inclusion proof for entry `seq` in the tree of the whole log, with the latest
/// signed checkpoint when it is of that tree.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InclusionProof {
    pub seq: u64,
    pub leaf_index: u64,
    pub tree_size: u64,
    /// Hex.
    pub leaf_hash: String,
    pub root_hash: String,
    pub inclusion_path: Vec<String>,
    pub checkpoint: Option<String>,
}

pub fn prove_offline(data_dir: &Path, seq: u64) -> Result<InclusionProof, VerifyError> {
    let key = checkpoint_key(data_dir)?;
    let o = open_offline(data_dir)?;
    let (_, leaves) =
        verify_trees(&o.audit, &o.meta, &o.checkpoints, &key, &[]).map_err(VerifyError::Broken)?;
    let n = leaves.len() as u64;
    if seq == 0 || seq > n {
        return Err(VerifyError::Open(format!(
            "the log has entries 1 to {n}; there is no entry {seq}"
        )));
    }
    let latest = o
        .checkpoints
        .last()
        .ok()
        .flatten()
        .filter(|(k, _)| k.as_ref() == n.to_be_bytes())
        .map(|(_, v)| String::from_utf8_lossy(&v).into_owned());
    let i = (seq - 1) as usize;
    Ok(InclusionProof {
        seq,
        leaf_index: seq - 1,
        tree_size: n,
        leaf_hash: hex::encode(leaves[i]),
        root_hash: hex::encode(crate::merkle::root(&leaves)),
        inclusion_path: crate::merkle::inclusion_proof(&leaves, i)
            .iter()
            .map(hex::encode)
            .collect(),
        checkpoint: latest,
    })
}

/// The latest stored checkpoint of a stopped daemon's data directory.
pub fn checkpoint_offline(data_dir: &Path) -> Result<Option<String>, VerifyError> {
    let o = open_offline(data_dir)?;
    Ok(o.checkpoints
        .last()
        .map_err(|e| VerifyError::Open(e.to_string()))?
        .map(|(_, v)| String::from_utf8_lossy(&v).into_owned()))
}

/// Every audit entry of a stopped daemon's data directory, in order (payloads encrypted).
pub fn entries_offline(data_dir: &Path) -> Result<Vec<Entry>, VerifyError> {
    let o = open_offline(data_dir)?;
    o.audit
        .iter()
        .map(|kv| {
            let (_, v) = kv.map_err(|e| VerifyError::Open(e.to_string()))?;
            Entry::decode(&v).map_err(VerifyError::Open)
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot open the data directory: {0}")]
    Open(String),
    #[error(transparent)]
    Broken(audit::Broken),
}

/// A timestamp as 16 bytes that sort like the time (i128 nanoseconds, sign bit flipped).
fn time_key(t: Timestamp) -> [u8; 16] {
    ((t.as_nanosecond() as u128) ^ (1u128 << 127)).to_be_bytes()
}

fn from_time_key(b: &[u8]) -> Option<Timestamp> {
    let raw: [u8; 16] = b.try_into().ok()?;
    let n = (u128::from_be_bytes(raw) ^ (1u128 << 127)) as i128;
    Timestamp::from_nanosecond(n).ok()
}

fn sched_due_key(due: &[u8; 16], id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(25);
    k.push(b'd');
    k.extend_from_slice(due);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn sched_id_key(id: u64) -> Vec<u8> {
    let mut k = vec![b'i'];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn summary_json(item: &Item) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(&ItemSummary::of(item)).map_err(|e| StoreError::Crypto(e.to_string()))
}

fn parse_summary(key: &[u8], v: &[u8]) -> Result<ItemSummary, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt {
        tree: T_ITEM_STATE,
        key: String::from_utf8_lossy(key).into_owned(),
        why: e.to_string(),
    })
}

fn sched_deferred_key(id: u64) -> Vec<u8> {
    let mut k = vec![b'a'];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn sched_failed_key(id: u64) -> Vec<u8> {
    let mut k = vec![b'f'];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// Removes an outbox entry's place in the schedule (or its failure mark), if it has one.
fn unschedule(
    tos: &TransactionalTree,
    id: u64,
) -> Result<(), ConflictableTransactionError<StoreError>> {
    tos.remove(sched_failed_key(id).as_slice())?;
    tos.remove(sched_deferred_key(id).as_slice())?;
    if let Some(old) = tos.remove(sched_id_key(id).as_slice())? {
        if let Ok(due) = <[u8; 16]>::try_from(old.as_ref()) {
            tos.remove(sched_due_key(&due, id).as_slice())?;
        }
    }
    Ok(())
}

/// HMAC-SHA-256 of a CPR under the blind-index key.
fn blind_hash(key: &[u8], cpr_digits: &str) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"cpr:");
    mac.update(cpr_digits.as_bytes());
    mac.finalize().into_bytes().into()
}

/// References of the intakes about a CPR (ten digits), from a stopped daemon's data
/// directory: through the blind index, with the directory's blind-index key.
pub fn references_for_cpr_offline(
    data_dir: &Path,
    cpr_digits: &str,
) -> Result<Vec<String>, VerifyError> {
    let path = data_dir.join(crate::keys::BLIND_KEY);
    let text = crate::keys::read_secret(&path).map_err(|e| VerifyError::Open(e.to_string()))?;
    let key = hex::decode(String::from_utf8_lossy(&text).trim())
        .map_err(|_| VerifyError::Open(format!("{}: not a hex key", path.display())))?;
    let db = open_db(data_dir).map_err(|e| VerifyError::Open(e.to_string()))?;
    let index = db
        .open_tree(T_ITEM_INDEX)
        .map_err(|e| VerifyError::Open(e.to_string()))?;
    index
        .scan_prefix(blind_hash(&key, cpr_digits))
        .map(|kv| {
            let (k, _) = kv.map_err(|e| VerifyError::Open(e.to_string()))?;
            Ok(String::from_utf8_lossy(&k[32..]).into_owned())
        })
        .collect()
}
