//! What the store's tests share: an item, the auditors' key, and opening a data directory
//! again or raw.
#![allow(dead_code)]

use jiff::Timestamp;
use modtag_storage::keys::DataKeys;
use modtag_storage::records::{Channel, Item, Kind, Transport};
use modtag_storage::Store;

pub fn item(reference: &str, now: Timestamp) -> Item {
    let mut it = Item::received(
        reference,
        Channel::Underretning,
        Kind::Underretning,
        now,
        now,
        Transport::default(),
    );
    it.subject = Some("Bekymring for Emil".into());
    it.cprs = vec!["120315-4321".into()];
    it
}

/// The auditors' certificate the tests encrypt the log to (its secret stays here).
pub fn auditor() -> sequoia_openpgp::Cert {
    static KEY: std::sync::OnceLock<sequoia_openpgp::Cert> = std::sync::OnceLock::new();
    KEY.get_or_init(|| modtag_storage::keys::generate_key("test auditors").unwrap())
        .clone()
}

pub fn test_keys(dir: &std::path::Path) -> DataKeys {
    let (keys, _) = DataKeys::init_or_load(dir, None).unwrap();
    keys.with_auditors(vec![auditor()])
}

/// Opens a store again after dropping it in the same process: sled's background flusher
/// may hold the directory lock for a moment after the drop.
pub fn reopen(dir: &std::path::Path) -> Store {
    try_reopen(dir).unwrap_or_else(|e| panic!("{e}"))
}

/// Opens a store again as [`reopen`] does, with what the open answers (for a refusal).
pub fn try_reopen(dir: &std::path::Path) -> Result<Store, modtag_storage::StoreError> {
    for _ in 0..100 {
        let keys = DataKeys::load(dir, None)?.with_auditors(vec![auditor()]);
        match Store::open(dir, keys, Timestamp::now()) {
            Err(modtag_storage::StoreError::Locked) => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            other => return other,
        }
    }
    panic!("the store stayed locked after it was dropped");
}

/// The raw sled database, as someone with root would open it (same lock caveat as above).
pub fn open_sled(dir: &std::path::Path) -> sled::Db {
    for _ in 0..100 {
        if let Ok(db) = sled::open(dir.join("db")) {
            return db;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the database stayed locked");
}

pub fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in walk(dir) {
        out.extend(std::fs::read(entry).unwrap());
    }
    out
}

pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files.extend(walk(&p));
        } else {
            files.push(p);
        }
    }
    files
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The kinds of the audit entries in `db`, in order (kinds are stored in clear).
pub fn audit_kinds(db: &sled::Db) -> Vec<String> {
    db.open_tree("audit")
        .unwrap()
        .iter()
        .map(|kv| {
            modtag_storage::audit::Entry::decode(&kv.unwrap().1)
                .unwrap()
                .kind
        })
        .collect()
}

/// Commits intake number `n` with its message and audit entry; its reference.
pub fn commit_intake(store: &Store, n: u64, now: Timestamp) -> String {
    use modtag_storage::audit::{Event, EventKind};
    let r = format!("MT-2026-{n:06}");
    let mut b = modtag_storage::store::Batch::new();
    b.message(&r, format!("Subject: {r}\r\n\r\nEmil {n}\r\n").into_bytes())
        .item(item(&r, now))
        .audit(Event::new(EventKind::Received, "smtp", "modtagelse").reference(&r));
    store.commit(b, now).unwrap();
    store.flush().unwrap();
    r
}

/// An open case of the child with `cpr`.
pub fn case(number: &str, cpr: &str, child_name: &str) -> modtag_storage::records::Case {
    modtag_storage::records::Case {
        case_number: number.into(),
        cpr: cpr.into(),
        child_name: child_name.into(),
        raadgiver: "ra".into(),
        area: None,
        institution: None,
        open: true,
        overgang: None,
    }
}

/// A store in `dir` holding two deliveries (ids 1 and 2, of MT-2026-000001) that failed for
/// good at `now`, each large enough for a message file of its own; flushed.
pub fn with_failed_copies(dir: &std::path::Path, now: Timestamp) -> Store {
    use modtag_storage::records::OutboxEntry;
    let store = Store::open(dir, test_keys(dir), Timestamp::now()).unwrap();
    let to = (
        "modtagelsen",
        "modtagelsen",
        "modtagelsen@kommune.localhost",
    );
    let mut b = modtag_storage::store::Batch::new();
    for id in [1, 2] {
        let mut e = OutboxEntry::new(id, "MT-2026-000001", to, "x".repeat(10_000), now);
        e.failed = Some(now);
        b.outbox(e);
    }
    store.commit(b, now).unwrap();
    store.flush().unwrap();
    store
}
