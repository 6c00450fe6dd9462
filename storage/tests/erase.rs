//! Erasure by crypto-shredding on a real sled directory: an erased intake's record, message
//! and queued copies are gone, and the copies an older snapshot holds open with nothing the
//! data directory has left; the audit log still verifies.

use jiff::Timestamp;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::OutboxEntry;
use modtag_storage::ring::Ring;
use modtag_storage::store::Batch;
use modtag_storage::Store;

mod common;
use common::*;

const A: &str = "MT-2026-000001";
const B: &str = "MT-2026-000002";

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn an_erased_intake_opens_nowhere_and_the_log_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let keys = test_keys(dir.path());
    let checkpoint_key = keys.checkpoint.verifying_key();
    let store_key = keys.store.clone();
    let store = Store::open(dir.path(), keys, Timestamp::now()).unwrap();
    let now: Timestamp = "2026-11-23T12:00:00Z".parse().unwrap();
    for r in [A, B] {
        let mut b = Batch::new();
        b.message(
            r,
            format!("Subject: Bekymring {r}\r\n\r\nEmil\r\n").into_bytes(),
        )
        .item(item(r, now))
        .outbox(OutboxEntry::new(
            store.next_id().unwrap(),
            r,
            ("raadgiver", "ra", "ra@localhost"),
            format!("copy of {r}"),
            now,
        ))
        .audit(Event::new(EventKind::Received, "smtp", "modtagelse").reference(r));
        store.commit(b, now).unwrap();
    }
    store.flush().unwrap();
    let cpr = "1203154321";
    assert_eq!(store.items_for_cpr(cpr).unwrap(), [A, B]);

    // What a snapshot taken now holds (a backup holds no ring key: see `ring`).
    let snapshot = tempfile::tempdir().unwrap();
    copy_dir(&dir.path().join("db"), &snapshot.path().join("db"));
    copy_dir(&dir.path().join("spool"), &snapshot.path().join("spool"));

    let erased = Event::new(EventKind::Erased, "tester", "fejlsendt")
        .details(serde_json::json!({"reason": "sendt til forkert kommune"}));
    assert!(store.erase(A, erased.clone(), now).unwrap());
    assert!(!store.erase(A, erased, now).unwrap(), "once");
    assert_eq!(
        store.rotate_ring("tester", now).unwrap(),
        1,
        "B's key wrapped again"
    );

    // Gone from every reading, with its copy; the other intake is whole.
    assert!(store.item(A).unwrap().is_none());
    assert!(store.message(A).unwrap().is_none());
    assert_eq!(store.items_for_cpr(cpr).unwrap(), [B]);
    assert!(store.outbox().unwrap().iter().all(|e| e.reference == B));
    assert!(!dir.path().join(format!("spool/{A}.pgp")).exists());
    assert_eq!(store.item(B).unwrap().unwrap().reference, B);
    assert!(contains(&store.message(B).unwrap().unwrap(), b"Emil"));
    assert!(!dir.path().join("ring-1.key").exists());
    assert!(dir.path().join("ring-2.key").exists());

    // The snapshot's copy of A: sealed to no certificate, so the store key alone cannot
    // open it, and its wrapped key is under a ring key that no longer exists.
    let old_file = std::fs::read(snapshot.path().join(format!("spool/{A}.pgp"))).unwrap();
    assert!(modtag_storage::crypto::decrypt(&store_key, &old_file).is_err());
    let live_ring = Ring::open(dir.path(), &[&store_key]).unwrap();
    let old_db = sled::open(snapshot.path().join("db")).unwrap();
    let old_keys = old_db.open_tree("item_keys").unwrap();
    for r in [A, B] {
        let wrapped = old_keys
            .get(r)
            .unwrap()
            .expect("the snapshot holds its wrapped key");
        assert_eq!(Ring::epoch_of(&wrapped), Some(1));
        assert!(live_ring.unwrap(r, &wrapped).unwrap().is_none());
    }
    drop(old_db);
    drop(store);

    // The log verifies with the erasure in it, and the store opens again.
    let db = open_sled(dir.path());
    let report = modtag_storage::audit::offline::verify_db(&db, &[checkpoint_key], &[]).unwrap();
    let kinds = audit_kinds(&db);
    assert_eq!(report.entries, kinds.len() as u64);
    assert_eq!(
        kinds,
        ["received", "received", "erased", "ring_rotated"].map(String::from)
    );
    drop(db);
    let store = reopen(dir.path());
    assert!(store.item(A).unwrap().is_none());
    assert!(store.item(B).unwrap().is_some());
}

/// A rotation that a crash interrupted (two ring keys on disk) is finished at open, and the
/// old ring key deleted only then.
#[test]
fn an_interrupted_rotation_is_finished_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let store_key = {
        let keys = test_keys(dir.path());
        let store_key = keys.store.clone();
        let store = Store::open(dir.path(), keys, Timestamp::now()).unwrap();
        let now: Timestamp = "2026-11-23T12:00:00Z".parse().unwrap();
        let mut b = Batch::new();
        b.message(A, b"Subject: x\r\n\r\nEmil\r\n".to_vec())
            .item(item(A, now));
        store.commit(b, now).unwrap();
        store.flush().unwrap();
        store_key
    };
    // The new ring key was written; nothing was wrapped under it yet.
    let mut ring = Ring::open(dir.path(), &[&store_key]).unwrap();
    assert_eq!(ring.add(&store_key).unwrap(), 2);
    let store = reopen(dir.path());
    assert!(!dir.path().join("ring-1.key").exists());
    assert!(contains(&store.message(A).unwrap().unwrap(), b"Emil"));
    drop(store);
    // And a data directory that lost its ring key is refused, not given a new one.
    std::fs::remove_file(dir.path().join("ring-2.key")).unwrap();
    let err = match try_reopen(dir.path()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("opened without its ring key"),
    };
    assert!(err.contains("ring-2.key"), "{err}");
}

/// The blind-index key replaced while the store is open: a child's intakes and cases are
/// found as before, no index entry is under the old key, and a store opened with the old
/// key (the new one not put in place) is refused; one that finds the rotation's next key
/// beside it puts it in place.
#[test]
fn a_rotated_blind_index_key_finds_the_same_and_the_old_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), test_keys(dir.path()), Timestamp::now()).unwrap();
    let now: Timestamp = "2026-11-23T12:00:00Z".parse().unwrap();
    let mut b = Batch::new();
    for r in [A, B] {
        b.message(r, b"Subject: x\r\n\r\nEmil\r\n".to_vec())
            .item(item(r, now));
    }
    b.case(case("S-1", "120315-4321", "Emil"));
    store.commit(b, now).unwrap();
    store.flush().unwrap();
    drop(store);
    let old_key = std::fs::read(dir.path().join("blind-index.key")).unwrap();
    let old_index = raw_keys(dir.path(), &["item_index", "cases"]);
    assert_eq!(old_index.len(), 3, "two index entries and a case");

    let store = reopen(dir.path());
    assert_eq!(store.rotate_blind_key(None, "tester", now).unwrap(), 3);
    assert_eq!(store.items_for_cpr("1203154321").unwrap(), [A, B]);
    assert_eq!(
        store.cases_for_cpr("1203154321").unwrap()[0].case_number,
        "S-1"
    );
    assert_eq!(store.case("S-1").unwrap().unwrap().child_name, "Emil");
    // New intakes are indexed under the new key too.
    let c = "MT-2026-000003";
    let mut b = Batch::new();
    b.message(c, b"Subject: y\r\n\r\nEmil\r\n".to_vec())
        .item(item(c, now));
    store.commit(b, now).unwrap();
    store.flush().unwrap();
    assert_eq!(store.items_for_cpr("1203154321").unwrap(), [A, B, c]);
    drop(store);
    let new_index = raw_keys(dir.path(), &["item_index", "cases"]);
    assert_eq!(new_index.len(), 4);
    assert!(old_index.iter().all(|k| !new_index.contains(k)));
    let current = std::fs::read(dir.path().join("blind-index.key")).unwrap();
    assert_ne!(current, old_key);

    // Opened with the old key (as with [keys] before the new credential is sealed).
    std::fs::remove_file(dir.path().join("blind-index.key")).unwrap();
    modtag_storage::keys::write_secret(&dir.path().join("blind-index.key"), &old_key).unwrap();
    let err = match try_reopen(dir.path()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("opened with the old blind-index key"),
    };
    assert!(err.contains("next_blind_index_key"), "{err}");
    // The rotation's next key beside it (a crash before the rename): put in place.
    modtag_storage::keys::write_secret(&dir.path().join("blind-index.key.next"), &current).unwrap();
    let store = reopen(dir.path());
    assert_eq!(store.items_for_cpr("1203154321").unwrap().len(), 3);
    assert_eq!(
        std::fs::read(dir.path().join("blind-index.key")).unwrap(),
        current
    );
}

/// The keys of `trees` in a closed store, raw.
fn raw_keys(dir: &std::path::Path, trees: &[&str]) -> Vec<Vec<u8>> {
    let db = open_sled(dir);
    let mut out = Vec::new();
    for t in trees {
        for k in db.open_tree(t).unwrap().iter().keys() {
            out.push(k.unwrap().to_vec());
        }
    }
    out
}

/// Intakes written by an earlier version (sealed to the store key) are given keys of their
/// own: they read back the same, their message files no longer open with the store key,
/// and erasing one is crypto-shredding like any other.
#[test]
fn intakes_of_an_earlier_version_get_keys_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/store-v1/data"),
        dir.path(),
    );
    use std::os::unix::fs::PermissionsExt;
    for f in [
        "store.key",
        "blind-index.key",
        "checkpoint.key",
        "signing.key",
    ] {
        let p = dir.path().join(f);
        if p.exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    let keys = modtag_storage::keys::DataKeys::load(dir.path(), None)
        .unwrap()
        .with_auditors(vec![auditor()]);
    let store_key = keys.store.clone();
    let store = Store::open(dir.path(), keys, Timestamp::now()).unwrap();
    let before: Vec<(String, String, Vec<u8>)> = store
        .items()
        .unwrap()
        .into_iter()
        .map(|i| {
            let m = store.message(&i.reference).unwrap().unwrap();
            (i.reference.clone(), serde_json::to_string(&i).unwrap(), m)
        })
        .collect();
    assert_eq!(before.len(), 5);
    let file = |r: &str| std::fs::read(dir.path().join(format!("spool/{r}.pgp"))).unwrap();
    assert!(modtag_storage::crypto::decrypt(&store_key, &file(&before[0].0)).is_ok());

    let now: Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
    assert_eq!(store.rekey_legacy(2, now).unwrap(), 2, "a few at a time");
    assert_eq!(store.rekey_legacy(100, now).unwrap(), 3);
    assert_eq!(store.rekey_legacy(100, now).unwrap(), 0, "once");
    for (r, item, message) in &before {
        let again = store.item(r).unwrap().unwrap();
        assert_eq!(&serde_json::to_string(&again).unwrap(), item);
        assert_eq!(&store.message(r).unwrap().unwrap(), message);
        assert!(
            modtag_storage::crypto::decrypt(&store_key, &file(r)).is_err(),
            "{r}"
        );
        assert!(!dir.path().join(format!("spool/{r}.pgp.new")).exists());
    }
    let gone = &before[0].0;
    assert!(store
        .erase(gone, Event::new(EventKind::Erased, "tester", "test"), now)
        .unwrap());
    store.rotate_ring("tester", now).unwrap();
    drop(store);
    // A crash after the new file's hash was committed but before it took its place: the
    // open puts it there. A replacement whose record never committed is dropped.
    let (kept, _, message) = &before[1];
    let path = dir.path().join(format!("spool/{kept}.pgp"));
    let resealed = std::fs::read(&path).unwrap();
    std::fs::write(dir.path().join(format!("spool/{kept}.pgp.new")), &resealed).unwrap();
    std::fs::write(&path, b"the file as it was before").unwrap();
    let (other, _, _) = &before[2];
    std::fs::write(
        dir.path().join(format!("spool/{other}.pgp.new")),
        b"never committed",
    )
    .unwrap();
    let store = reopen(dir.path());
    assert_eq!(&store.message(kept).unwrap().unwrap(), message);
    assert_eq!(std::fs::read(&path).unwrap(), resealed);
    assert!(!dir.path().join(format!("spool/{other}.pgp.new")).exists());
    assert!(store.message(other).unwrap().is_some());
    assert!(store.item(gone).unwrap().is_none());
    assert_eq!(store.items().unwrap().len(), 4);
}

/// Retention removes a failed delivery by when the listing said it failed: one an operator
/// put back in the queue after the listing stays, with its message file; one still failed
/// goes, with its file.
#[test]
fn a_failed_delivery_put_back_meanwhile_is_not_removed() {
    let dir = tempfile::tempdir().unwrap();
    let now: Timestamp = "2026-12-07T12:00:00Z".parse().unwrap();
    let store = with_failed_copies(dir.path(), now);
    let listed = store.outbox_failed_at().unwrap();
    assert_eq!(listed.len(), 2);
    let file = |id: u64| {
        dir.path()
            .join("spool")
            .join(format!("outbox-{id:016x}.pgp"))
    };

    // The operator's retry, between retention's listing and its removal.
    let (kept, removed) = (listed[0].0, listed[1].0);
    let mut again = store.outbox_entry(kept).unwrap().unwrap();
    again.failed = None;
    again.next_attempt = now;
    let mut b = Batch::new();
    b.outbox_again(again);
    store.commit(b, now).unwrap();

    let later = now + jiff::SignedDuration::from_hours(24 * 31);
    let event = || Event::new(EventKind::DeliveryRemoved, "retention", "sletning");
    for (id, at) in &listed {
        let gone = store
            .remove_failed_delivery(*id, *at, event(), later)
            .unwrap();
        assert_eq!(gone, *id == removed, "entry {id}");
    }
    let entry = store
        .outbox_entry(kept)
        .unwrap()
        .expect("the retried copy stays");
    assert!(entry.failed.is_none());
    assert_eq!(entry.message, "x".repeat(10_000));
    assert_eq!(store.outbox_due(later, 64).unwrap().entries.len(), 1);
    assert!(file(kept).exists());
    assert!(store.outbox_entry(removed).unwrap().is_none());
    assert!(store.outbox_failed_at().unwrap().is_empty());
    store.flush().unwrap();
    assert!(!file(removed).exists(), "its file goes with it");
}

/// Erasures at the same moment, each replacing the ring key as a person's erasure does:
/// every one succeeds (none is told "its ring key is gone" because another rotation retired
/// the key it had just read a wrapped key under), the others stay readable.
#[test]
fn erasures_at_once_each_rotate_the_ring_without_tripping_over_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), test_keys(dir.path()), Timestamp::now()).unwrap();
    let now: Timestamp = "2026-12-07T12:00:00Z".parse().unwrap();
    let refs: Vec<String> = (1..=200).map(|n| format!("MT-2026-{n:06}")).collect();
    for chunk in refs.chunks(50) {
        let mut b = Batch::new();
        for r in chunk {
            b.message(r, format!("Subject: {r}\r\n\r\nEmil\r\n").into_bytes())
                .item(item(r, now));
        }
        store.commit(b, now).unwrap();
    }
    store.flush().unwrap();
    let erased: Vec<&String> = refs.iter().step_by(25).collect();
    std::thread::scope(|s| {
        let runs: Vec<_> = (erased.iter())
            .map(|r| {
                let store = &store;
                s.spawn(move || {
                    let event = Event::new(EventKind::Erased, "retention", "sletning");
                    assert!(store.erase(r, event, now).unwrap());
                    store.rotate_ring("retention", now)
                })
            })
            .collect();
        for run in runs {
            run.join().unwrap().expect("the rotation");
        }
    });
    for r in &refs {
        let found = store.item(r).unwrap();
        assert_eq!(found.is_none(), erased.contains(&r), "{r}");
    }
}
