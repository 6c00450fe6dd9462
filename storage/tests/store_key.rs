//! Replacing the store key while the store is open (`modtag keys rotate store`), and an
//! open that finds a rotation a crash interrupted.

mod common;

use common::*;
use jiff::Timestamp;
use modtag_storage::crypto::sealed_to;
use modtag_storage::keys::{read_store_key, STORE_KEY, STORE_KEY_NEXT};
use modtag_storage::records::OutboxEntry;
use modtag_storage::store::Batch;
use modtag_storage::Store;

const A: &str = "MT-2026-000001";
/// A statusmøde's copy belongs to no intake: its file is sealed to the store key.
const MEETING: &str = "statusmoede-2026";

fn now() -> Timestamp {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

/// A meeting's invitation too large to be kept in its outbox record: it gets a file.
fn invitation() -> String {
    format!("indkaldelse til statusmøde{}", ".".repeat(10_000))
}

/// An intake with its message, a case, and three queued copies: one of the intake (under
/// its own key) and two of a meeting (to the store key), one in a file, one small enough to
/// be kept sealed in its record.
fn fill(store: &Store) {
    let now = now();
    let copy = |id: u64, reference: &str, text: &str| {
        OutboxEntry::new(
            id,
            reference,
            ("leder", "leder", "leder@kommune.localhost"),
            text.into(),
            now,
        )
    };
    let mut b = Batch::new();
    b.message(A, b"Subject: x\r\n\r\nEmil\r\n".to_vec())
        .item(item(A, now))
        .case(case("S-1", "120315-4321", "Emil"))
        .outbox(copy(1, A, "kopi af underretningen"))
        .outbox(copy(2, MEETING, &invitation()))
        .outbox(copy(3, MEETING, "påmindelse om statusmøde"));
    store.commit(b, now).unwrap();
    store.flush().unwrap();
}

/// What a reader sees, unchanged by any rotation.
fn assert_reads(store: &Store) {
    assert!(contains(&store.message(A).unwrap().unwrap(), b"Emil"));
    assert_eq!(store.item(A).unwrap().unwrap().cprs, ["120315-4321"]);
    assert_eq!(store.case("S-1").unwrap().unwrap().child_name, "Emil");
    let copies: Vec<String> = store
        .outbox()
        .unwrap()
        .into_iter()
        .map(|e| e.message)
        .collect();
    assert_eq!(
        copies,
        [
            "kopi af underretningen".to_string(),
            invitation(),
            "påmindelse om statusmøde".into()
        ]
    );
}

/// The small copy's message, as sealed in its outbox record (the record opened with `key`).
fn inline_copy(dir: &std::path::Path, key: &sequoia_openpgp::Cert) -> Vec<u8> {
    let db = open_sled(dir);
    let record = db
        .open_tree("outbox")
        .unwrap()
        .get(3u64.to_be_bytes())
        .unwrap()
        .unwrap();
    let plain = modtag_storage::crypto::decrypt(key, &record).unwrap();
    let entry: OutboxEntry = serde_json::from_slice(&plain).unwrap();
    assert!(entry.message_sha256.is_none() && entry.message.is_empty());
    entry.message_sealed.expect("kept sealed in the record")
}

/// Every value of every tree, every spool file and every ring key file still sealed to
/// `key`, by name.
fn sealed_to_key(dir: &std::path::Path, key: &sequoia_openpgp::Cert) -> Vec<String> {
    let mut out = Vec::new();
    let db = open_sled(dir);
    for name in db.tree_names() {
        for kv in db.open_tree(&name).unwrap().iter() {
            let (k, v) = kv.unwrap();
            if sealed_to(key, &v) {
                out.push(format!(
                    "{}:{}",
                    String::from_utf8_lossy(&name),
                    String::from_utf8_lossy(&k)
                ));
            }
        }
    }
    drop(db);
    for path in walk(dir)
        .into_iter()
        .filter(|p| !p.starts_with(dir.join("db")))
    {
        if sealed_to(key, &std::fs::read(&path).unwrap()) {
            out.push(path.display().to_string());
        }
    }
    out
}

/// The store key replaced while the store is open: everything reads as before, nothing in
/// the data directory is sealed to the old key any more, the new key has taken the old
/// one's place, and the old key alone no longer opens the store.
#[test]
fn a_rotated_store_key_reads_the_same_and_nothing_is_left_under_the_old() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), test_keys(dir.path()), Timestamp::now()).unwrap();
    fill(&store);
    let old_bytes = std::fs::read(dir.path().join(STORE_KEY)).unwrap();
    let old = read_store_key(&dir.path().join(STORE_KEY)).unwrap();
    drop(store);
    let before = sealed_to_key(dir.path(), &old);
    assert!(sealed_to(&old, &inline_copy(dir.path(), &old)));
    assert!(
        before.iter().any(|n| n.starts_with("cases:"))
            && before.iter().any(|n| n.starts_with("outbox:"))
            && before.iter().any(|n| n.ends_with(".pgp"))
            && before.iter().any(|n| n.ends_with("ring-1.key")),
        "the test must start with records, a copy's file and the ring sealed to the store key: {before:?}"
    );

    let store = reopen(dir.path());
    // Read before the rotation, put back after it (as the outbox does with an attempt):
    // the record must keep the copy as the rotation sealed it again, not as it was read.
    let stale = store.outbox_entry(3).unwrap().unwrap();
    let done = store.rotate_store_key(None, "tester", now()).unwrap();
    let mut b = Batch::new();
    b.outbox_again(stale);
    store.commit(b, now()).unwrap();
    store.flush().unwrap();
    assert_eq!((done.files, done.ring_keys), (1, 1), "{done:?}");
    // The old key left beside for the escrow (backups taken before need it).
    let retired = dir
        .path()
        .join(done.retired.as_deref().expect("the old key's file"));
    assert_eq!(std::fs::read(&retired).unwrap(), old_bytes);
    assert!(done.records >= 3, "{done:?}");
    assert_reads(&store);
    // New records are sealed to the new key.
    let mut b = Batch::new();
    b.case(case("S-2", "010101-1234", "Ida"));
    store.commit(b, now()).unwrap();
    store.flush().unwrap();
    drop(store);
    let kinds = audit_kinds(&open_sled(dir.path()));
    // Begun and done.
    let rotated = kinds.iter().filter(|k| *k == "key_rotated").count();
    assert_eq!(rotated, 2, "{kinds:?}");

    assert_eq!(sealed_to_key(dir.path(), &old), Vec::<String>::new());
    assert!(!dir.path().join(STORE_KEY_NEXT).exists());
    let new = read_store_key(&dir.path().join(STORE_KEY)).unwrap();
    assert_ne!(new.fingerprint(), old.fingerprint());
    // Inside its record, where the scan above cannot see it.
    let inline = inline_copy(dir.path(), &new);
    assert!(sealed_to(&new, &inline) && !sealed_to(&old, &inline));
    let store = reopen(dir.path());
    assert_reads(&store);
    assert_eq!(store.case("S-2").unwrap().unwrap().child_name, "Ida");
    drop(store);

    // The old key given again (as with [keys] before the new credential is sealed).
    std::fs::remove_file(dir.path().join(STORE_KEY)).unwrap();
    modtag_storage::keys::write_secret(&dir.path().join(STORE_KEY), &old_bytes).unwrap();
    let err = match try_reopen(dir.path()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("opened with the old store key"),
    };
    assert!(err.contains(&new.fingerprint().to_hex()), "{err}");
}

/// A crash just after the rotation began (the new key beside the old, the store told, not
/// one record sealed again): the next open finishes it; without the new key it is refused.
#[test]
fn an_interrupted_store_key_rotation_is_finished_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), test_keys(dir.path()), Timestamp::now()).unwrap();
    fill(&store);
    drop(store);
    let old = read_store_key(&dir.path().join(STORE_KEY)).unwrap();
    let new = modtag_storage::keys::generate_key("next store key").unwrap();
    let db = open_sled(dir.path());
    db.open_tree("meta")
        .unwrap()
        .insert("store_key_rotating", new.fingerprint().to_hex().as_bytes())
        .unwrap();
    db.flush().unwrap();
    drop(db);

    let err = match try_reopen(dir.path()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("opened a rotation under way without its new key"),
    };
    assert!(err.contains(STORE_KEY_NEXT), "{err}");

    let armored = modtag_storage::keys::armor_secret(&new).unwrap();
    modtag_storage::keys::write_secret(&dir.path().join(STORE_KEY_NEXT), &armored).unwrap();
    let store = reopen(dir.path());
    assert_reads(&store);
    drop(store);
    assert_eq!(sealed_to_key(dir.path(), &old), Vec::<String>::new());
    assert_eq!(
        read_store_key(&dir.path().join(STORE_KEY))
            .unwrap()
            .fingerprint(),
        new.fingerprint()
    );
    assert!(!dir.path().join(STORE_KEY_NEXT).exists());
}

/// The outbox worker is handed new copies in clear by the commit that queued them (issue
/// 33); a copy the store key's rotation sealed again since is read from its record instead,
/// as the rotation left it.
#[test]
fn a_copy_sealed_again_since_it_was_queued_is_read_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), test_keys(dir.path()), Timestamp::now()).unwrap();
    fill(&store);
    store.rotate_store_key(None, "tester", now()).unwrap();
    let later = now() + jiff::SignedDuration::from_hours(1);
    let due = store.outbox_due(later, 64).unwrap().entries;
    let copy = due
        .iter()
        .find(|e| e.id == 3)
        .expect("the small copy is due");
    assert_eq!(copy.message, "påmindelse om statusmøde");
    drop(store);
    let new = read_store_key(&dir.path().join(STORE_KEY)).unwrap();
    assert_eq!(
        copy.message_sealed.as_deref(),
        Some(inline_copy(dir.path(), &new).as_slice()),
        "the copy as the rotation sealed it again, not as it was queued"
    );
}
