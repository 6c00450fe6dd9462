//! How modtag's data is laid out in sled: the trees, and how keys are made. Shared by the
//! running store and the offline readers (`audit::offline`), which open the same database
//! of a stopped daemon.

use std::path::Path;

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use sha2::Sha256;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use crate::records::Item;
use crate::summary::ItemSummary;
use crate::StoreError;

pub(crate) const T_MESSAGES: &str = "messages";
pub(crate) const T_ITEMS: &str = "items";
pub(crate) const T_CASES: &str = "cases";
pub(crate) const T_CASE_INDEX: &str = "case_index";
/// Blind index of intakes by child, HMAC("cpr:" CPR) ‖ reference → nothing, and by the
/// directory person they were sent to, HMAC("sent:" id) ‖ reference → nothing.
pub(crate) const T_ITEM_INDEX: &str = "item_index";
/// Each intake's [`ItemSummary`] in clear (JSON), reference → summary: no personal data. The
/// escalation pass and the triage list decrypt only the items in the states they show, and
/// the SLA report and `/metrics` decrypt nothing.
pub(crate) const T_ITEM_STATE: &str = "item_state";
/// Each intake's own key, reference → key wrapped under the ring key (see `ring`).
pub(crate) const T_ITEM_KEYS: &str = "item_keys";
pub(crate) const T_OUTBOX: &str = "outbox";
/// The outbox's schedule, in clear but without personal data: `d` ‖ due time ‖ id → nothing
/// (what is due, in order), `i` ‖ id → due time (to move an entry), `f` ‖ id → failure
/// time for entries that failed for good, and `a` ‖ id → time queued for entries that were
/// tried and are waiting to be tried again. Lets the outbox worker decrypt only what is due
/// instead of every entry on every round, and counts failures without decrypting.
pub(crate) const T_OUTBOX_SCHED: &str = "outbox_sched";
pub(crate) const T_AUDIT: &str = "audit";
/// Built-in accounts, id → `User` (encrypted).
pub(crate) const T_USERS: &str = "users";
pub(crate) const T_META: &str = "meta";
/// When each intake last changed (or was erased), reference → stamp (u64 BE): the audit
/// log's size when the commit began, plus one. A standby's increment ships the intakes
/// stamped after the position it holds (see `store::backup`). No personal data.
pub(crate) const T_CHANGES: &str = "changes";

pub(crate) const AUDIT_HEAD: &[u8] = b"audit_head";
/// The audit Merkle tree's right edge (size and perfect-subtree roots), kept with the head.
pub(crate) const AUDIT_FRONTIER: &[u8] = b"audit_frontier";
/// Set by each commit that erases to the erasures' count then ([`RING_ERASURES`], so that
/// no value comes twice); cleared by a ring rotation that read it before making its new
/// ring key, only if it still holds what that rotation read. While set, an older copy (a
/// backup) still opens what was erased, and the daily retention run replaces the ring key
/// even when it erases nothing itself.
pub(crate) const RING_OWED: &[u8] = b"ring_owed";
/// How many commits erased (u64 BE), never reset: what [`RING_OWED`] is set to.
pub(crate) const RING_ERASURES: &[u8] = b"ring_erasures";
/// Signed checkpoints of the audit tree: tree size (u64 BE) → signed note.
pub(crate) const T_CHECKPOINTS: &str = "checkpoints";

/// The directory inside a data directory that holds the sled database.
pub const DB_DIR: &str = "db";

pub(crate) fn refseq_key(year: i16) -> String {
    format!("refseq/{year}")
}

/// `MT-2026-000123` → `(2026, 123)`.
pub(crate) fn parse_reference(r: &str) -> Option<(i16, u64)> {
    let rest = r.strip_prefix("MT-")?;
    let (year, n) = rest.split_once('-')?;
    Some((year.parse().ok()?, n.parse().ok()?))
}

pub(crate) fn read_u64(tree: &sled::Tree, key: &str) -> Result<u64, StoreError> {
    Ok(get_u64(tree, key)?.unwrap_or(0))
}

/// The u64 (BE) under `key`, if there is one.
pub(crate) fn get_u64(tree: &sled::Tree, key: impl AsRef<[u8]>) -> Result<Option<u64>, StoreError> {
    Ok(tree
        .get(key)?
        .and_then(|v| v.as_ref().try_into().ok())
        .map(u64::from_be_bytes))
}

/// sled's page cache. Its default (1 GiB) let the daemon grow to 2 GiB under a load of
/// 500 KB messages; encrypted messages are written once and rarely read, so a small cache
/// costs little.
pub(crate) const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// A data directory's database, and the lock that says this process holds it.
pub(crate) struct Opened {
    pub db: sled::Db,
    /// An exclusive `flock` on `db/`, held as long as the database is open: a second modtag
    /// (or an offline command while the daemon runs) is told [`StoreError::Locked`] by the
    /// lock itself, not by reading sled's error text.
    pub lock: std::fs::File,
}

pub(crate) fn open_db(data_dir: &Path) -> Result<Opened, StoreError> {
    let dir = data_dir.join(DB_DIR);
    let io = |source| StoreError::Io {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    private(&dir)?;
    let lock = std::fs::File::open(&dir).map_err(io)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(StoreError::Locked),
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    let db = sled::Config::new()
        .path(&dir)
        .cache_capacity(CACHE_BYTES)
        .open()
        .map_err(|e| {
            if sled_still_closing(&e) {
                StoreError::Locked
            } else {
                StoreError::Sled(e)
            }
        })?;
    Ok(Opened { db, lock })
}

/// Makes `dir` and everything under it the owner's only (directories 0700, files 0600),
/// whatever the umask they were made under: the database files hold only ciphertext, but
/// which references exist and when they changed is no one else's to read (issue 25; with
/// the documented `chmod 711` on the data directory, `nobody` could read them).
pub(crate) fn private(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, source }
    };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io(&path))?;
        if kind.is_dir() {
            private(&path)?;
        } else if kind.is_file() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(io(&path))?;
        }
    }
    Ok(())
}

pub(crate) fn decode_head(v: &[u8]) -> Option<(u64, [u8; 32])> {
    if v.len() != 40 {
        return None;
    }
    Some((
        u64::from_be_bytes(v[..8].try_into().ok()?),
        v[8..].try_into().ok()?,
    ))
}

/// A timestamp as 16 bytes that sort like the time (i128 nanoseconds, sign bit flipped).
pub(crate) fn time_key(t: Timestamp) -> [u8; 16] {
    ((t.as_nanosecond() as u128) ^ (1u128 << 127)).to_be_bytes()
}

pub(crate) fn from_time_key(b: &[u8]) -> Option<Timestamp> {
    let raw: [u8; 16] = b.try_into().ok()?;
    let n = (u128::from_be_bytes(raw) ^ (1u128 << 127)) as i128;
    Timestamp::from_nanosecond(n).ok()
}

pub(crate) fn sched_due_key(due: &[u8; 16], id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(25);
    k.push(b'd');
    k.extend_from_slice(due);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

pub(crate) fn sched_id_key(id: u64) -> Vec<u8> {
    let mut k = vec![b'i'];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// `meta` key: which summaries and blind-index keys every stored item has. Raised when they
/// gain something, so that the store fills it in for older items once, at open.
pub(crate) const SUMMARIES_VERSION: &str = "summaries_version";
pub(crate) const SUMMARIES_CURRENT: &[u8] = b"4";

pub(crate) fn summary_json(item: &Item) -> Result<Vec<u8>, StoreError> {
    Ok(serde_json::to_vec(&ItemSummary::of(item))?)
}

pub(crate) fn parse_summary(key: &[u8], v: &[u8]) -> Result<ItemSummary, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt {
        tree: T_ITEM_STATE,
        key: String::from_utf8_lossy(key).into_owned(),
        why: e.to_string(),
    })
}

pub(crate) fn sched_deferred_key(id: u64) -> Vec<u8> {
    let mut k = vec![b'a'];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

pub(crate) fn sched_failed_key(id: u64) -> Vec<u8> {
    let mut k = vec![b'f'];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// Removes an outbox entry's place in the schedule (or its failure mark), if it has one.
pub(crate) fn unschedule(
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

/// HMAC-SHA-256 under the blind-index key of `parts`, one after the other: every key part of
/// the blind index, each kind behind its own domain prefix.
fn keyed(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA-256 of a CPR under the blind-index key.
pub(crate) fn blind_hash(key: &[u8], cpr_digits: &str) -> [u8; 32] {
    keyed(key, &[b"cpr:", cpr_digits.as_bytes()])
}

/// The blind index's key part for a child's name in its normalised form (see
/// `names::normalised_name`): domain-separated from the CPR's, no name in clear.
pub(crate) fn name_hash(key: &[u8], normalised: &str) -> [u8; 32] {
    keyed(key, &[b"navn:", normalised.as_bytes()])
}

/// The blind index's key parts for a child's name: the whole normalised name and, when it
/// has middle names, the first and last name alone (how a person searches).
pub(crate) fn name_hashes(key: &[u8], name: &str) -> Vec<[u8; 32]> {
    let full = crate::names::normalised_name(name);
    let words: Vec<&str> = full.split(' ').collect();
    let mut forms = vec![full.clone()];
    if words.len() > 2 {
        forms.push(format!("{} {}", words[0], words[words.len() - 1]));
    }
    (forms.iter())
        .filter(|f| !f.is_empty())
        .map(|f| name_hash(key, f))
        .collect()
}

/// The blind index's key part for the intakes sent to a directory person ("Sendt til mig"):
/// domain-separated from a CPR's, so the two never meet, and no staff id lies in clear.
pub(crate) fn sent_hash(key: &[u8], person: &str) -> [u8; 32] {
    keyed(key, &[b"sent:", person.as_bytes()])
}

/// The blind index's key part for the kvitteringer sent to an address on a day (issue 26:
/// a typed address gets a few a day at most): domain-separated, no address in clear.
pub(crate) fn kvittering_hash(key: &[u8], address: &str, day: &str) -> [u8; 32] {
    keyed(
        key,
        &[
            b"kvittering:",
            mailbox_of(address).as_bytes(),
            b"|",
            day.as_bytes(),
        ],
    )
}

/// The blind index's key part for a reporter's one-time address link, from the SHA-256 of
/// its token (issue 26): the link finds its intake, and the index holds no token.
pub(crate) fn address_link_hash(key: &[u8], token_sha256: &str) -> [u8; 32] {
    keyed(key, &[b"adresse:", token_sha256.as_bytes()])
}

/// The blind index's key part for a Digital Post letter, from its MeMo message UUID
/// (issue 30): a receipt from KOMBIT names the UUID, and finds its intake by it.
pub(crate) fn letter_hash(key: &[u8], message_uuid: &str) -> [u8; 32] {
    keyed(key, &[b"brev:", message_uuid.as_bytes()])
}

/// The mailbox an address reaches, as the kvittering count goes by: case, quotes around the
/// local part and a `+tag` all reach the same mailbox, so none makes a new count.
pub(crate) fn mailbox_of(address: &str) -> String {
    let address = address.trim().to_lowercase();
    let (local, domain) = address.rsplit_once('@').unwrap_or((&address, ""));
    let local = local.trim_matches('"');
    let local = local.split_once('+').map_or(local, |(l, _)| l);
    format!("{local}@{}", domain.trim_end_matches('.'))
}

/// The UTC day of `at`, as the kvittering count goes by.
pub(crate) fn day_of(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d").to_string()
}

/// A case's key in the `cases` tree: the blind hash of its child's CPR, then its number
/// (so a child's cases are found by prefix without a CPR in clear).
pub(crate) fn case_key(blind_key: &[u8], case: &crate::records::Case) -> Vec<u8> {
    let digits: String = case.cpr.chars().filter(char::is_ascii_digit).collect();
    let mut key = blind_hash(blind_key, &digits).to_vec();
    key.extend_from_slice(case.case_number.as_bytes());
    key
}

/// Names the blind-index key the index is written under, without revealing it: kept in
/// `meta`, so a store opened with another key (a rotation whose new key was not put in
/// place) is refused instead of finding nothing.
pub(crate) const BLIND_KEY_ID: &[u8] = b"blind_key_id";
/// The last audit entry whose payload retention deleted (u64 BE): a standby deletes its
/// copies' payloads up to it too (see `standby`).
pub(crate) const AUDIT_SHREDDED_UPTO: &[u8] = b"audit_shredded_upto";
/// A standby's position (u64 BE): see `standby`.
pub(crate) const STANDBY_POSITION: &[u8] = b"standby_position";
/// In `meta`: what is added to sled's ids (`store::id_offset`).
pub(crate) const ID_OFFSET: &[u8] = b"id_offset";

pub(crate) fn blind_key_id(key: &[u8]) -> [u8; 32] {
    keyed(key, &[b"modtag blind-index key id"])
}

/// An intake's keys in the blind index: one per CPR it names, one or two per name of the
/// child, one per person it was sent to, one per Digital Post letter,
/// one for the address and day its kvittering went to by itself, and one for its reporter's
/// address link.
pub(crate) fn item_index_keys(blind_key: &[u8], item: &Item) -> Vec<Vec<u8>> {
    let cprs = item.cprs.iter().map(|cpr| {
        let digits: String = cpr.chars().filter(char::is_ascii_digit).collect();
        blind_hash(blind_key, &digits)
    });
    let people = item.sent_to.iter().map(|p| sent_hash(blind_key, p));
    let kvittering = item.kvittering.as_ref().and_then(|k| {
        let (to, at) = (k.to.as_deref()?, k.sent_at?);
        Some(kvittering_hash(blind_key, to, &day_of(at)))
    });
    let link = item
        .address_proof
        .as_ref()
        .and_then(|p| p.token_sha256.as_deref())
        .map(|t| address_link_hash(blind_key, t));
    let names = (item.child_names.iter()).flat_map(|n| name_hashes(blind_key, n));
    let letters = (item.letters.iter()).map(|l| letter_hash(blind_key, &l.message_uuid));
    cprs.chain(people)
        .chain(names)
        .chain(letters)
        .chain(kvittering)
        .chain(link)
        .map(|h| {
            let mut key = h.to_vec();
            key.extend_from_slice(item.reference.as_bytes());
            key
        })
        .collect()
}

/// Our lock is free, yet sled's own lock on its files is held: only sled's background
/// threads of a database this process just closed can hold it, for a moment (a restart is a
/// new process, and another process would hold our lock too). sled 0.34 reports that only
/// as text (`could not acquire lock on ...`, kind `Other`), so the text is all there is.
fn sled_still_closing(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.kind() == std::io::ErrorKind::Other
        && io.to_string().starts_with("could not acquire lock"))
}
