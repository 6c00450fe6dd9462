//! A standby kept by increments, on real sled directories: an increment brings the intakes
//! committed and erased since the standby's position, and its audit log verifies; one
//! applied again after a crash before the position moved gives the same standby; the
//! primary's audit retention reaches the standby's copies; one that
//! does not follow the position, or comes from a log the standby no longer shares, is
//! refused.

use jiff::Timestamp;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::keys::STORE_KEY;
use modtag_storage::standby::{apply, POSITION};
use modtag_storage::Store;

mod common;
use common::*;

fn now() -> Timestamp {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

/// The increment since `since`, in a file.
fn increment(store: &Store, since: u64, dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let mut bytes = Vec::new();
    store.increment(&mut bytes, since, now()).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn set_position(dir: &std::path::Path, position: u64) {
    let db = open_sled(dir);
    db.open_tree("meta")
        .unwrap()
        .insert(POSITION, &position.to_be_bytes())
        .unwrap();
    db.flush().unwrap();
}

#[test]
fn increments_keep_a_standby_and_one_out_of_turn_is_refused() {
    let primary_dir = tempfile::tempdir().unwrap();
    let keys = test_keys(primary_dir.path());
    let store_key = keys.store.clone();
    let checkpoint_key = keys.checkpoint.verifying_key();
    let primary = Store::open(primary_dir.path(), keys, Timestamp::now()).unwrap();
    let first: Vec<String> = (1..=3).map(|n| commit_intake(&primary, n, now())).collect();
    // Copies of the second intake: one tried and waiting, one failed for good.
    let copy = |id: u64| {
        modtag_storage::records::OutboxEntry::new(
            id,
            &first[1],
            ("leder", "leder", "leder@kommune.localhost"),
            "kopi".into(),
            now(),
        )
    };
    let mut b = modtag_storage::store::Batch::new();
    b.outbox(modtag_storage::records::OutboxEntry {
        attempts: 1,
        ..copy(1)
    })
    .outbox(modtag_storage::records::OutboxEntry {
        attempts: 3,
        failed: Some(now()),
        ..copy(2)
    });
    primary.commit(b, now()).unwrap();
    primary.flush().unwrap();

    // Seeded from a backup with its keys.
    let mut seed = Vec::new();
    primary.backup(&mut seed, true, now()).unwrap();
    let work = tempfile::tempdir().unwrap();
    let standby = work.path().join("standby");
    let restored = modtag_storage::restore::restore(
        &store_key,
        seed.as_slice(),
        None::<&[u8]>,
        &standby,
        Timestamp::now(),
    )
    .unwrap();
    std::fs::copy(primary_dir.path().join(STORE_KEY), standby.join(STORE_KEY)).unwrap();
    let position = restored.manifest.position.unwrap();

    // One new, one erased (and the ring rotated: the standby needs the new ring key).
    let new = commit_intake(&primary, 4, now());
    primary
        .erase(
            &first[0],
            Event::new(EventKind::Erased, "tester", "test"),
            now(),
        )
        .unwrap();
    primary.rotate_ring("tester", now()).unwrap();
    primary.write_checkpoint("test/audit").unwrap();
    let inc = increment(&primary, position, work.path(), "1.mti");
    let applied = apply(&store_key, &inc, &standby, Timestamp::now()).unwrap();
    assert_eq!(applied.gone, [first[0].clone()]);
    assert_eq!(applied.intakes, 1, "only what changed: {applied:?}");
    let next = applied.manifest.position.unwrap();
    assert!(next > position);

    let check = |label: &str| {
        let db = open_sled(&standby);
        let report =
            modtag_storage::audit::offline::verify_db(&db, &[checkpoint_key], &[]).unwrap();
        assert_eq!(report.entries, applied.manifest.audit_size, "{label}");
        drop(db);
        let s = reopen(&standby);
        // The outbox's schedule is rebuilt: Modtagelsen sees the failed copy, monitoring
        // the waiting one.
        assert_eq!(s.outbox_failed(), 1, "{label}");
        assert_eq!(
            s.outbox_failed_entries().unwrap().entries[0].id,
            2,
            "{label}"
        );
        assert_eq!(s.outbox_deferred().unwrap().0, 1, "{label}");
        assert!(s.item(&first[0]).unwrap().is_none(), "{label}");
        assert!(!standby
            .join("spool")
            .join(format!("{}.pgp", first[0]))
            .exists());
        for r in [&first[1], &first[2], &new] {
            assert!(
                contains(&s.message(r).unwrap().unwrap(), b"Emil"),
                "{label}: {r}"
            );
        }
    };
    check("applied");

    // A crash after the writes and before the position moved: applied again, the same.
    set_position(&standby, position);
    let again = apply(&store_key, &inc, &standby, Timestamp::now()).unwrap();
    assert_eq!(again.manifest.position, Some(next));
    check("applied again");

    // A standby a restore was cut off in holds part of a backup: no increment goes onto it.
    let mark = standby.join(modtag_storage::restore::RESTORING);
    std::fs::write(&mark, b"").unwrap();
    set_position(&standby, position);
    let refused = apply(&store_key, &inc, &standby, Timestamp::now()).unwrap_err();
    assert!(
        refused.to_string().contains("restore into it again"),
        "{refused}"
    );
    std::fs::remove_file(&mark).unwrap();
    apply(&store_key, &inc, &standby, Timestamp::now()).unwrap();
    check("applied after the mark");

    // Files of the other kind are refused, saying which command takes them.
    let seed_file = work.path().join("seed.mtb");
    std::fs::write(&seed_file, &seed).unwrap();
    let err = apply(&store_key, &seed_file, &standby, Timestamp::now())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not an increment") && err.contains("backup restore"),
        "{err}"
    );
    let inc_bytes = std::fs::read(&inc).unwrap();
    let err = modtag_storage::restore::check(&store_key, inc_bytes.as_slice())
        .unwrap_err()
        .to_string();
    assert!(err.contains("backup apply"), "{err}");

    // The same one once more (the position has moved): refused, saying what to take.
    let err = apply(&store_key, &inc, &standby, Timestamp::now())
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("--since {next}")), "{err}");

    // The primary's audit retention deletes old payloads: the standby's copies go too, and
    // its log still verifies.
    let later = now() + jiff::SignedDuration::from_hours(1);
    assert!(primary.apply_audit_retention(later, later).unwrap() > 0);
    let inc = increment(&primary, next, work.path(), "2.mti");
    let applied = apply(&store_key, &inc, &standby, Timestamp::now()).unwrap();
    assert!(applied.audit_payloads_deleted > 0, "{applied:?}");
    let next = applied.manifest.position.unwrap();
    let db = open_sled(&standby);
    modtag_storage::audit::offline::verify_db(&db, &[checkpoint_key], &[]).unwrap();
    let kept: Vec<String> = db
        .open_tree("audit")
        .unwrap()
        .iter()
        .map(|kv| modtag_storage::audit::Entry::decode(&kv.unwrap().1).unwrap())
        .filter(|e| e.shredded.is_none())
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kept,
        ["retention"],
        "only the retention run's own entry keeps its payload"
    );
    drop(db);

    // A standby that took mail of its own no longer shares the primary's log.
    let s = reopen(&standby);
    commit_intake(&s, 50_000, now());
    drop(s);
    commit_intake(&primary, 5, now());
    let inc = increment(&primary, next, work.path(), "3.mti");
    let err = apply(&store_key, &inc, &standby, Timestamp::now())
        .unwrap_err()
        .to_string();
    assert!(err.contains("another log"), "{err}");
}
