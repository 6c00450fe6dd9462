//! The store on a real sled directory: what is committed and flushed survives a reopen,
//! nothing readable reaches disk, and the audit chain detects a changed byte.

use jiff::Timestamp;
use modtag_storage::audit::offline::verify_offline;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::keys::DataKeys;
use modtag_storage::records::{Case, Channel};
use modtag_storage::store::Batch;
use modtag_storage::Store;

mod common;
use common::*;

#[test]
fn committed_batches_survive_reopen_encrypted_and_chained() {
    let dir = tempfile::tempdir().unwrap();
    let now = Timestamp::now();
    let marker = b"MARKER-7f3a9c-plaintext";
    {
        let (keys, created) = DataKeys::init_or_load(dir.path(), None).unwrap();
        let keys = keys.with_auditors(vec![auditor()]);
        assert_eq!(created.len(), 4, "store, checkpoint, blind-index and signing keys are created on first start (no audit key: that comes from the configuration; no shared API token)");
        let store = Store::open(dir.path(), keys, Timestamp::now()).unwrap();
        let r1 = store.next_reference(now).unwrap();
        let r2 = store.next_reference(now).unwrap();
        assert!(r1.starts_with("MT-") && r1.ends_with("000001"), "{r1}");
        assert!(r2.ends_with("000002"), "{r2}");
        let mut b = Batch::new();
        b.message(&r1, [b"Subject: x\r\n\r\n".as_slice(), marker].concat())
            .item(item(&r1, now))
            .case(Case {
                case_number: "SAG-1".into(),
                cpr: "120315-4321".into(),
                child_name: "Emil Hansen".into(),
                raadgiver: "anna.kristensen".into(),
                area: None,
                institution: None,
                open: true,
                overgang: None,
            })
            .audit(Event::new(EventKind::Received, "system", "intake").reference(&r1));
        store.commit(b, now).unwrap();
        store.flush().unwrap();
    }
    let raw = all_bytes(dir.path());
    for secret in [
        &marker[..],
        b"Bekymring for Emil",
        b"120315-4321",
        b"1203154321",
        b"Emil Hansen",
        b"SAG-1\"",
        b"received\",\"actor",
    ] {
        assert!(
            !contains(&raw, secret),
            "plaintext {:?} found on disk",
            String::from_utf8_lossy(secret)
        );
    }
    {
        let store = reopen(dir.path());
        let items = store.items().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].cprs, ["120315-4321"]);
        assert!(contains(
            &store.message(&items[0].reference).unwrap().unwrap(),
            marker
        ));
        let cases = store.cases_for_cpr("1203154321").unwrap();
        assert_eq!(cases.len(), 1);
        assert_eq!(cases[0].raadgiver, "anna.kristensen");
        assert!(store.cases_for_cpr("1203154322").unwrap().is_empty());
        assert_eq!(store.verify_audit().unwrap().entries, 1);
    }
    assert_eq!(verify_offline(dir.path(), &[], None).unwrap().entries, 1);
}

#[test]
fn a_second_open_of_a_live_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let keys = test_keys(dir.path());
    let _store = Store::open(dir.path(), keys, Timestamp::now()).unwrap();
    let err = verify_offline(dir.path(), &[], None).unwrap_err();
    assert!(err.to_string().contains("in use"), "{err}");
}

#[test]
fn secret_files_readable_by_others_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    DataKeys::init_or_load(dir.path(), None).unwrap();
    let token = dir.path().join("blind-index.key");
    assert_eq!(
        std::fs::metadata(&token).unwrap().permissions().mode() & 0o777,
        0o600
    );
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = DataKeys::load(dir.path(), None).err().expect("refused");
    assert!(err.to_string().contains("chmod 600"), "{err}");
}

/// Reference allocation racing with a stream of transactions never hands out a reference
/// twice, and what was committed is remembered across a restart.
#[test]
fn reference_allocation_racing_transactions_is_unique() {
    let dir = tempfile::tempdir().unwrap();
    let keys = test_keys(dir.path());
    let store = Store::open(dir.path(), keys, Timestamp::now()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut threads = Vec::new();
    for t in 0..8 {
        let (store, tx) = (store.clone(), tx.clone());
        threads.push(std::thread::spawn(move || {
            let now = Timestamp::now();
            for _ in 0..3000 {
                if t % 2 == 0 {
                    tx.send(Some(store.next_reference(now).unwrap())).unwrap();
                } else {
                    // An empty batch still runs a transaction (sled's exclusive lock).
                    store.commit(Batch::new(), now).unwrap();
                    tx.send(None).unwrap();
                }
            }
        }));
    }
    drop(tx);
    let mut refs = Vec::new();
    let mut done = 0;
    while let Ok(r) = rx.recv_timeout(std::time::Duration::from_secs(30)) {
        done += 1;
        refs.extend(r);
    }
    assert_eq!(done, 8 * 3000, "threads deadlocked");
    // Each thread's clone of the store must be gone before it is opened again (the channel
    // can close before a finished thread has dropped its clone).
    for t in threads {
        t.join().unwrap();
    }
    let n = refs.len();
    refs.sort();
    refs.dedup();
    assert_eq!(refs.len(), n, "a reference was handed out twice");

    // Committed references are remembered across a restart; unused ones may be skipped.
    let now = Timestamp::now();
    let r = store.next_reference(now).unwrap();
    let mut b = Batch::new();
    b.item(item(&r, now));
    store.commit(b, now).unwrap();
    store.flush().unwrap();
    drop(store);
    let store = reopen(dir.path());
    assert!(store.next_reference(Timestamp::now()).unwrap() > r);
}

/// Regression: concurrent `flush_async` calls deadlocked sled 0.34 under load (sled issue
/// #1308; 20 SMTP sessions in the benchmark). Many threads committing and flushing at once
/// must all finish, and share flushes.
#[test]
fn concurrent_commit_and_flush_all_complete() {
    let dir = tempfile::tempdir().unwrap();
    let keys = test_keys(dir.path());
    let store = Store::open(dir.path(), keys, Timestamp::now()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..20 {
        let (store, tx) = (store.clone(), tx.clone());
        std::thread::spawn(move || {
            for _ in 0..25 {
                let now = Timestamp::now();
                let r = store.next_reference(now).unwrap();
                let mut b = Batch::new();
                b.message(&r, b"x".to_vec()).item(item(&r, now));
                store.commit(b, now).unwrap();
                store.flush().unwrap();
                tx.send(r).unwrap();
            }
        });
    }
    drop(tx);
    let mut n = 0;
    while rx.recv_timeout(std::time::Duration::from_secs(60)).is_ok() {
        n += 1;
    }
    assert_eq!(n, 500, "commit + flush threads deadlocked");
}

#[test]
fn message_files_are_checked_and_orphans_removed() {
    let dir = tempfile::tempdir().unwrap();
    let now = Timestamp::now();
    let (r1, r2);
    {
        let keys = test_keys(dir.path());
        let store = Store::open(dir.path(), keys, Timestamp::now()).unwrap();
        r1 = store.next_reference(now).unwrap();
        r2 = store.next_reference(now).unwrap();
        for r in [&r1, &r2] {
            let mut b = Batch::new();
            b.message(r, format!("Subject: {r}\r\n\r\nbody").into_bytes())
                .item(item(r, now));
            store.commit(b, now).unwrap();
        }
        store.flush().unwrap();
    }
    let spool = dir.path().join("spool");
    // A file left by a crash before its transaction committed, and a half-written one.
    std::fs::write(spool.join("MT-2026-999999.pgp"), b"orphan").unwrap();
    std::fs::write(spool.join("MT-2026-999998.pgp.tmp"), b"half").unwrap();
    // Someone swaps one message file for another.
    std::fs::copy(
        spool.join(format!("{r1}.pgp")),
        spool.join(format!("{r2}.pgp")),
    )
    .unwrap();

    let store = reopen(dir.path());
    let mut names: Vec<String> = std::fs::read_dir(&spool)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [format!("{r1}.pgp"), format!("{r2}.pgp")],
        "orphans are removed at open"
    );
    assert!(contains(
        &store.message(&r1).unwrap().unwrap(),
        r1.as_bytes()
    ));
    let err = store.message(&r2).unwrap_err();
    assert!(
        err.to_string().contains("does not match its recorded hash"),
        "{err}"
    );
}

/// The outbox schedule: only what is due is read, in order; a retry moves an entry, a
/// delivery removes it, and the schedule survives a reopen.
#[test]
fn outbox_schedule_reads_only_what_is_due() {
    use modtag_storage::records::OutboxEntry;
    let dir = tempfile::tempdir().unwrap();
    let keys = test_keys(dir.path());
    let store = Store::open(dir.path(), keys, Timestamp::now()).unwrap();
    let now: Timestamp = "2026-11-23T12:00:00Z".parse().unwrap();
    // Large enough for a file of its own (a small one is kept in the record).
    let message = "x".repeat(10_000);
    let entry = |id: u64, due: Timestamp| OutboxEntry {
        next_attempt: due,
        ..OutboxEntry::new(
            id,
            "MT-2026-000001",
            (
                "modtagelsen",
                "modtagelsen",
                "modtagelsen@kommune.localhost",
            ),
            message.clone(),
            now,
        )
    };
    let mut b = Batch::new();
    b.outbox(entry(1, now + jiff::SignedDuration::from_secs(60)))
        .outbox(entry(2, now - jiff::SignedDuration::from_secs(60)))
        .outbox(entry(3, now));
    store.commit(b, now).unwrap();
    let ids = |s: &Store, at: Timestamp| -> Vec<u64> {
        (s.outbox_due(at, 10).unwrap().entries.iter())
            .map(|e| e.id)
            .collect()
    };
    assert_eq!(ids(&store, now), [2, 3]);
    assert_eq!(
        store.outbox_next_due().unwrap(),
        Some(now - jiff::SignedDuration::from_secs(60))
    );
    // A failed attempt moves entry 2 an hour on (as the worker does: the entry it read,
    // put back); a delivery removes entry 3, and its message file with it.
    let mut two = store.outbox_entry(2).unwrap().unwrap();
    assert_eq!(
        two.message, message,
        "the message is read back from the spool"
    );
    two.next_attempt = now + jiff::SignedDuration::from_secs(3600);
    let spooled = |id: u64| {
        dir.path()
            .join(format!("spool/outbox-{id:016x}.pgp"))
            .exists()
    };
    assert!(spooled(2) && spooled(3));
    // Delivered as the worker records it: the entry as read, whose message has a file.
    let three = store.outbox_entry(3).unwrap().unwrap();
    let mut b = Batch::new();
    b.outbox(two).outbox_done_entry(&three);
    store.commit(b, now).unwrap();
    store.flush().unwrap();
    assert!(!spooled(3), "the delivered entry's file goes with it");
    assert!(ids(&store, now).is_empty());
    assert_eq!(ids(&store, now + jiff::SignedDuration::from_secs(120)), [1]);
    drop(store);
    let store = reopen(dir.path());
    assert_eq!(
        ids(&store, now + jiff::SignedDuration::from_secs(7200)),
        [1, 2]
    );
    assert_eq!(store.outbox_len(), 2);

    // Entry 2 was tried once and waits: counted as deferred since it was queued.
    let mut tried = entry(2, now + jiff::SignedDuration::from_secs(3600));
    tried.attempts = 1;
    let mut b = Batch::new();
    b.outbox(tried);
    store.commit(b, now).unwrap();
    assert_eq!(store.outbox_deferred().unwrap(), (1, Some(now)));

    // Entry 1 fails for good: kept and counted, never due again, also after a reopen.
    let mut failed = entry(1, now);
    failed.failed = Some(now);
    let mut b = Batch::new();
    b.outbox(failed);
    store.commit(b, now).unwrap();
    store.flush().unwrap();
    let later = now + jiff::SignedDuration::from_secs(7200);
    assert_eq!(ids(&store, later), [2]);
    assert_eq!((store.outbox_len(), store.outbox_failed()), (2, 1));
    drop(store);
    let store = reopen(dir.path());
    assert_eq!(ids(&store, later), [2]);
    assert_eq!(store.outbox_failed(), 1);
    let kept = store.outbox().unwrap();
    assert_eq!(kept.iter().find(|e| e.id == 1).unwrap().failed, Some(now));
    // Removing it clears its failure mark; delivering entry 2 its deferral.
    let mut b = Batch::new();
    b.outbox_done(1).outbox_done(2);
    store.commit(b, now).unwrap();
    assert_eq!((store.outbox_len(), store.outbox_failed()), (0, 0));
    assert_eq!(store.outbox_deferred().unwrap(), (0, None));
}

/// A thousand tamperings with the audit log, as someone with root could do them directly in
/// sled: single-byte changes, deleted entries, swapped entries, and truncations or rollbacks
/// with the head, the tree edge and the stored checkpoints made to match. Every one is
/// detected; the truncations and rollbacks by the checkpoint kept elsewhere.
#[test]
fn a_thousand_tamperings_are_all_detected() {
    use rand::{Rng, SeedableRng};
    let dir = tempfile::tempdir().unwrap();
    let keys = test_keys(dir.path());
    let key = keys.checkpoint.verifying_key();
    let store = Store::open(dir.path(), keys, Timestamp::now()).unwrap();
    let now = Timestamp::now();
    // 60 entries in 20 commits, checkpoints along the way; the last one is "kept elsewhere".
    let mut kept = String::new();
    for i in 0..20 {
        let mut b = Batch::new();
        for k in 0..3 {
            b.audit(
                Event::new(EventKind::Viewed, "tester", "test")
                    .reference(&format!("MT-2026-{:06}", i * 3 + k)),
            );
        }
        store.commit(b, now).unwrap();
        if i % 5 == 4 {
            kept = store.write_checkpoint("test/audit").unwrap().unwrap();
        }
    }
    store.flush().unwrap();
    drop(store);

    let db = open_sled(dir.path());
    let audit = db.open_tree("audit").unwrap();
    let meta = db.open_tree("meta").unwrap();
    let cps = db.open_tree("checkpoints").unwrap();
    let external = [kept];
    let ok = modtag_storage::audit::offline::verify_db(&db, &[key], &external).unwrap();
    assert_eq!((ok.entries, ok.checkpoints), (60, 5));

    let snapshot = |t: &sled::Tree| -> Vec<(sled::IVec, sled::IVec)> {
        t.iter().map(Result::unwrap).collect()
    };
    let restore = |t: &sled::Tree, s: &[(sled::IVec, sled::IVec)]| {
        t.clear().unwrap();
        for (k, v) in s {
            t.insert(k, v).unwrap();
        }
    };
    let (a0, m0, c0) = (snapshot(&audit), snapshot(&meta), snapshot(&cps));
    let mut rng = rand::rngs::StdRng::seed_from_u64(6962);
    let mut kinds = [0usize; 4];
    for round in 0..1000 {
        let kind = round % 4;
        kinds[kind] += 1;
        match kind {
            0 => {
                // One byte of one entry.
                let (k, v) = &a0[rng.gen_range(0..a0.len())];
                let mut v = v.to_vec();
                let at = rng.gen_range(0..v.len());
                v[at] ^= 1 << rng.gen_range(0..8);
                audit.insert(k, v).unwrap();
            }
            1 => {
                // An entry removed.
                let (k, _) = &a0[rng.gen_range(0..a0.len())];
                audit.remove(k).unwrap();
            }
            2 => {
                // Two entries swapped.
                let i = rng.gen_range(0..a0.len());
                let j = (i + rng.gen_range(1..a0.len())) % a0.len();
                audit.insert(&a0[i].0, a0[j].1.clone()).unwrap();
                audit.insert(&a0[j].0, a0[i].1.clone()).unwrap();
            }
            _ => {
                // Truncated or rolled back to an earlier size, made self-consistent: the
                // head, the tree edge and the stored checkpoints of that size.
                let keep = rng.gen_range(0..a0.len() - 1);
                let mut frontier = modtag_storage::merkle::Frontier::default();
                let mut last = None;
                for (k, v) in &a0[keep..] {
                    audit.remove(k).unwrap();
                    let _ = v;
                }
                for (_, v) in &a0[..keep] {
                    let e = modtag_storage::audit::Entry::decode(v).unwrap();
                    frontier.push(e.leaf_hash());
                    last = Some(e);
                }
                let mut head = (keep as u64).to_be_bytes().to_vec();
                head.extend_from_slice(&last.map_or([0u8; 32], |e| e.hash));
                meta.insert("audit_head", head).unwrap();
                meta.insert("audit_frontier", frontier.encode()).unwrap();
                for (k, _) in &c0 {
                    if u64::from_be_bytes(k.as_ref().try_into().unwrap()) > keep as u64 {
                        cps.remove(k).unwrap();
                    }
                }
            }
        }
        let result = modtag_storage::audit::offline::verify_db(&db, &[key], &external);
        assert!(
            result.is_err(),
            "round {round} (kind {kind}) was not detected"
        );
        if kind == 3 {
            // Without the checkpoint kept elsewhere such a log looks whole: that is why a
            // copy is mailed to the auditors.
            let alone = modtag_storage::audit::offline::verify_db(&db, &[key], &[]);
            let err = result.unwrap_err().what;
            assert!(alone.is_ok(), "{err}");
            assert!(err.contains("truncated or rolled back"), "{err}");
        }
        restore(&audit, &a0);
        restore(&meta, &m0);
        restore(&cps, &c0);
    }
    assert!(kinds.iter().all(|k| *k == 250));
    assert!(modtag_storage::audit::offline::verify_db(&db, &[key], &external).is_ok());
}

/// Retention deletes old payloads but keeps their hashes: the log, its tree and a checkpoint
/// from before still verify, and the deletion is itself an entry.
#[test]
fn retention_deletes_payloads_and_the_log_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let keys = test_keys(dir.path());
    let key = keys.checkpoint.verifying_key();
    let store = Store::open(dir.path(), keys, Timestamp::now()).unwrap();
    let old: Timestamp = "2020-01-01T00:00:00Z".parse().unwrap();
    let now: Timestamp = "2026-11-23T12:00:00Z".parse().unwrap();
    for (t, n) in [(old, 3), (now, 2)] {
        let mut b = Batch::new();
        for i in 0..n {
            b.audit(Event::new(EventKind::Viewed, "tester", "test").reference(&format!("MT-{i}")));
        }
        store.commit(b, t).unwrap();
    }
    let kept = store.write_checkpoint("test/audit").unwrap().unwrap();
    let cutoff: Timestamp = "2021-01-01T00:00:00Z".parse().unwrap();
    assert_eq!(store.apply_audit_retention(cutoff, now).unwrap(), 3);
    assert_eq!(store.apply_audit_retention(cutoff, now).unwrap(), 0, "once");
    drop(store);

    let db = open_sled(dir.path());
    let report = modtag_storage::audit::offline::verify_db(&db, &[key], &[kept]).unwrap();
    assert_eq!(report.entries, 6, "five events and the retention entry");
    let entries: Vec<modtag_storage::audit::Entry> = db
        .open_tree("audit")
        .unwrap()
        .iter()
        .map(|kv| modtag_storage::audit::Entry::decode(&kv.unwrap().1).unwrap())
        .collect();
    let shredded: Vec<bool> = entries.iter().map(|e| e.payload.is_empty()).collect();
    assert_eq!(shredded, [true, true, true, false, false, false]);
    assert_eq!(entries[5].kind, "retention");
}

/// Items are found by state without decrypting the others, and a store written before the
/// state index existed gets it built when it opens.
#[test]
fn items_by_state_and_the_index_built_for_older_stores() {
    use modtag_storage::records::ItemState::*;
    let dir = tempfile::tempdir().unwrap();
    let keys = test_keys(dir.path());
    let store = Store::open(dir.path(), keys, Timestamp::now()).unwrap();
    let now = Timestamp::now();
    let mut refs = Vec::new();
    for state in [AwaitingAssessment, Closed, Routed, AwaitingAssessment] {
        let r = store.next_reference(now).unwrap();
        let mut it = item(&r, now);
        it.state = state;
        let mut b = Batch::new();
        b.item(it);
        store.commit(b, now).unwrap();
        refs.push(r);
    }
    // A later change of state moves the item in the index.
    let mut moved = store.item(&refs[3]).unwrap().unwrap();
    moved.state = Assessed;
    let mut b = Batch::new();
    b.item(moved);
    store.commit(b, now).unwrap();
    store.flush().unwrap();
    let found = |s: &Store, states: &[modtag_storage::records::ItemState]| -> Vec<String> {
        s.items_where(|state| states.contains(&state))
            .unwrap()
            .into_iter()
            .map(|i| i.reference)
            .collect()
    };
    assert_eq!(found(&store, &[AwaitingAssessment]), [refs[0].clone()]);
    assert_eq!(found(&store, &[Closed]), [refs[1].clone()]);
    assert_eq!(
        found(&store, &[Routed, Assessed]),
        [refs[2].clone(), refs[3].clone()]
    );
    drop(store);
    {
        let db = open_sled(dir.path());
        assert!(db.drop_tree("item_state").unwrap());
        db.flush().unwrap();
    }
    let store = reopen(dir.path());
    assert_eq!(found(&store, &[AwaitingAssessment]), [refs[0].clone()]);
    assert_eq!(found(&store, &[Assessed]), [refs[3].clone()]);
    // The summaries (what reports count) come without decrypting, and carry no personal
    // data: not the subject, not the CPR.
    let summaries = store.summaries().unwrap();
    let states: Vec<_> = summaries.iter().map(|s| s.state).collect();
    assert_eq!(states, [AwaitingAssessment, Closed, Routed, Assessed]);
    assert!(summaries
        .iter()
        .all(|s| s.kind == modtag_storage::records::Kind::Underretning && s.received_at == now));
    let raw = serde_json::to_string(&summaries).unwrap();
    assert!(!raw.contains("Emil") && !raw.contains("120315"), "{raw}");
}

/// The closed vocabularies are stored by name: each name is the serde name, reads back, and
/// no two audit event kinds share one.
#[test]
fn vocabularies_are_stored_by_their_names() {
    use modtag_storage::records::{TaskKind, TaskOutcome};
    for k in TaskKind::ALL {
        assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        assert_eq!(
            serde_json::from_value::<TaskKind>(k.as_str().into()).unwrap(),
            *k
        );
    }
    for o in TaskOutcome::ALL {
        assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
    }
    let mut names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
    assert!(names.contains(&"received") && names.contains(&"delivery_failed"));
    names.sort();
    let n = names.len();
    names.dedup();
    assert_eq!(names.len(), n, "two event kinds share a name");
}

/// The desk's lists read the clear summaries and the blind index: the intakes sent to a
/// person are found without decrypting others, and no staff id lies in clear. A store
/// written before the summaries held the channel and the index held "sent to" is filled in
/// once, at open.
#[test]
fn summaries_and_the_sent_to_index_serve_the_desk_and_are_filled_in_for_older_stores() {
    let dir = tempfile::tempdir().unwrap();
    let now = Timestamp::now();
    let store = Store::open(dir.path(), test_keys(dir.path()), Timestamp::now()).unwrap();
    let mut sent = item("MT-2026-000001", now);
    sent.channel = Channel::Trivselplus;
    sent.sent_to = vec!["mette.joergensen".into()];
    let mut b = Batch::new();
    b.item(sent);
    b.item(item("MT-2026-000002", now));
    store.commit(b, now).unwrap();
    store.flush().unwrap();
    let check = |store: &Store| {
        assert_eq!(
            store.items_sent_to("mette.joergensen").unwrap(),
            vec!["MT-2026-000001".to_string()]
        );
        assert!(store.items_sent_to("bo.nielsen").unwrap().is_empty());
        let summaries = store.summaries_by_reference().unwrap();
        assert_eq!(summaries.len(), 2);
        assert_eq!(summaries[0].0, "MT-2026-000001");
        assert_eq!(summaries[0].1.channel, Some(Channel::Trivselplus));
        let items = store
            .items_by_reference(&["MT-2026-000002".into(), "MT-2026-999999".into()])
            .unwrap();
        assert_eq!(items.len(), 1, "a reference with no item is left out");
    };
    check(&store);
    drop(store);
    assert!(!contains(&all_bytes(dir.path()), b"mette.joergensen"));

    // As an older modtag left it: summaries without the channel, no "sent to" keys.
    {
        let db = open_sled(dir.path());
        db.open_tree("meta")
            .unwrap()
            .remove("summaries_version")
            .unwrap();
        let state = db.open_tree("item_state").unwrap();
        for kv in state.iter() {
            let (k, v) = kv.unwrap();
            let mut summary: serde_json::Value = serde_json::from_slice(&v).unwrap();
            summary.as_object_mut().unwrap().remove("channel");
            state
                .insert(k, serde_json::to_vec(&summary).unwrap())
                .unwrap();
        }
        let index = db.open_tree("item_index").unwrap();
        let cpr_keys = index.len();
        index.clear().unwrap();
        db.flush().unwrap();
        assert_eq!(cpr_keys, 3, "two CPR keys and one 'sent to' key");
    }
    check(&reopen(dir.path()));
}

/// An outbox entry's message lives in the spool, not in sled (sled 0.34 keeps written values
/// resident): the record stays small, the message reads back whole, a delivery removes the
/// file, and a file whose entry never committed is removed at the next open.
#[test]
fn outbox_messages_live_in_the_spool_not_in_sled() {
    use modtag_storage::records::OutboxEntry;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), test_keys(dir.path()), Timestamp::now()).unwrap();
    let now: Timestamp = "2026-11-23T12:00:00Z".parse().unwrap();
    let message = "X".repeat(200_000);
    let mut b = Batch::new();
    b.outbox(OutboxEntry::new(
        7,
        "MT-2026-000001",
        (
            "raadgiver",
            "anna.kristensen",
            "anna.kristensen@kommune.localhost",
        ),
        message.clone(),
        now,
    ));
    store.commit(b, now).unwrap();
    store.flush().unwrap();
    assert_eq!(store.outbox_entry(7).unwrap().unwrap().message, message);
    drop(store);
    {
        let db = sled::open(dir.path().join("db")).unwrap();
        let record = db
            .open_tree("outbox")
            .unwrap()
            .get(7u64.to_be_bytes())
            .unwrap()
            .unwrap();
        assert!(
            record.len() < 10_000,
            "the record holds no message: {} bytes",
            record.len()
        );
    }
    let orphan = dir.path().join(format!("spool/outbox-{:016x}.pgp", 99u64));
    std::fs::write(&orphan, b"left by a crash").unwrap();
    let store = reopen(dir.path());
    assert!(
        !orphan.exists(),
        "a file without an entry is removed at open"
    );
    let file = dir.path().join(format!("spool/outbox-{:016x}.pgp", 7u64));
    assert!(file.exists());
    let mut b = Batch::new();
    b.outbox_done(7);
    store.commit(b, now).unwrap();
    assert!(
        file.exists(),
        "kept until the record's removal is durable (a power cut could bring the record back)"
    );
    store.flush().unwrap();
    assert!(!file.exists(), "delivered: its message file goes with it");
}

/// A small copy (a kvittering) is kept sealed in its record, not in a file of its own (issue
/// 33): no spool file is written for it, its text is nowhere in the clear, it reads back
/// whole, put back after a failed attempt it keeps its message, and a delivery removes it.
#[test]
fn a_small_outbox_message_is_kept_sealed_in_its_record() {
    use modtag_storage::records::OutboxEntry;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), test_keys(dir.path()), Timestamp::now()).unwrap();
    let now: Timestamp = "2026-11-23T12:00:00Z".parse().unwrap();
    let message = "Subject: Kvittering for modtagelse\r\n\r\nKære Mette Jørgensen\r\n".repeat(20);
    // Files with something in them (the spool makes empty names ahead).
    let spool_files = || {
        std::fs::read_dir(dir.path().join("spool"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().metadata().unwrap().len() > 0)
            .count()
    };
    let files_before = spool_files();
    let mut b = Batch::new();
    b.message("MT-2026-000001", b"Subject: x\r\n\r\nEmil\r\n".to_vec())
        .item(item("MT-2026-000001", now))
        .outbox(OutboxEntry::new(
            7,
            "MT-2026-000001",
            ("reporter", "reporter", "mette@example.org"),
            message.clone(),
            now,
        ));
    store.commit(b, now).unwrap();
    store.flush().unwrap();
    assert_eq!(spool_files(), files_before + 1, "the intake's message only");
    assert!(!dir
        .path()
        .join(format!("spool/outbox-{:016x}.pgp", 7u64))
        .exists());
    let mut entry = store.outbox_entry(7).unwrap().unwrap();
    assert_eq!(entry.message, message);
    entry.attempts = 1;
    entry.last_error = Some("relay replied 451".into());
    let mut b = Batch::new();
    b.outbox_again(entry);
    store.commit(b, now).unwrap();
    store.flush().unwrap();
    let entry = store.outbox_entry(7).unwrap().unwrap();
    assert_eq!((entry.attempts, entry.message), (1, message));
    drop(store);
    assert!(!contains(
        &all_bytes(dir.path()),
        "Mette Jørgensen".as_bytes()
    ));
    let store = reopen(dir.path());
    let mut b = Batch::new();
    b.outbox_done(7);
    store.commit(b, now).unwrap();
    store.flush().unwrap();
    assert!(store.outbox_entry(7).unwrap().is_none());
    assert_eq!(spool_files(), files_before + 1);
}

fn account(id: &str, email: &str, now: Timestamp) -> modtag_storage::records::User {
    modtag_storage::records::User {
        id: id.into(),
        email: email.into(),
        roles: vec!["modtagelsen".into()],
        password: String::new(),
        totp_secret: String::new(),
        totp_last_step: None,
        disabled: false,
        created: now,
        epoch: 0,
        tokens: Vec::new(),
        enrolment: None,
    }
}

/// Accounts change by compare-and-swap (issue 25): a change racing another is redone on the
/// account as the other left it, so none is undone; an id and an e-mail (in any case) make
/// one account only.
#[test]
fn account_changes_are_compared_and_swapped_and_an_email_is_one_account() {
    let dir = tempfile::tempdir().unwrap();
    let now = Timestamp::now();
    let store = Store::open(dir.path(), test_keys(dir.path()), Timestamp::now()).unwrap();
    let add = |u| store.add_user(u, Batch::new(), now).unwrap();
    assert_eq!(add(account("lene", "lene@x", now)), Ok(()));
    assert_eq!(
        add(account("lene", "other@x", now)),
        Err(modtag_storage::Taken::Id)
    );
    assert_eq!(
        add(account("lene2", "LENE@X", now)),
        Err(modtag_storage::Taken::Email)
    );

    // Sixteen threads each take "their" step while one disables: every step taken is one
    // more than the last (none lost), and the disable stays.
    std::thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(|| {
                store
                    .change_user("lene", now, |u, b| {
                        let mut u = u.unwrap();
                        u.totp_last_step = Some(u.totp_last_step.unwrap_or(0) + 1);
                        b.user(u);
                        Ok::<_, modtag_storage::StoreError>(())
                    })
                    .unwrap()
            });
        }
        s.spawn(|| {
            store
                .change_user("lene", now, |u, b| {
                    let mut u = u.unwrap();
                    u.disabled = true;
                    b.user(u);
                    Ok::<_, modtag_storage::StoreError>(())
                })
                .unwrap()
        });
    });
    let lene = store.user("lene").unwrap().unwrap();
    assert_eq!(lene.totp_last_step, Some(16), "no change undone by another");
    assert!(lene.disabled, "the disable stays");
    // A change that writes nothing commits nothing.
    let before = store.audit_tree().unwrap().size;
    store
        .change_user("lene", now, |_, _| Ok::<_, modtag_storage::StoreError>(()))
        .unwrap();
    assert_eq!(store.audit_tree().unwrap().size, before);
}

/// Issue 33: the commits of the moment run as one sled transaction. One refused there (an
/// account changed since it was read) is refused alone and tried again by its caller; the
/// intakes committed beside it are each there with their message, and the audit log holds
/// every entry of theirs in one chain that verifies.
#[test]
fn a_commit_refused_beside_others_leaves_them_committed() {
    let dir = tempfile::tempdir().unwrap();
    let now = Timestamp::now();
    let store = Store::open(dir.path(), test_keys(dir.path()), now).unwrap();
    store
        .add_user(account("lene", "lene@x", now), Batch::new(), now)
        .unwrap()
        .unwrap();
    let before = store.verify_audit().unwrap().entries;
    let refs: Vec<String> = std::thread::scope(|s| {
        let steps: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let mut done = 0;
                    while done < 20 {
                        // Eight racers on one account can each lose change_user's 32
                        // rounds on a busy machine: a lost race is tried again here, any
                        // other error fails the test.
                        match store.change_user("lene", now, |u, b| {
                            let mut u = u.unwrap();
                            u.totp_last_step = Some(u.totp_last_step.unwrap_or(0) + 1);
                            b.user(u)
                                .audit(Event::new(EventKind::Received, "lene", "step"));
                            Ok::<_, modtag_storage::StoreError>(())
                        }) {
                            Ok(()) => done += 1,
                            Err(modtag_storage::StoreError::Changed(_)) => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                })
            })
            .collect();
        let intakes: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    (0..40)
                        .map(|_| {
                            let r = store.next_reference(now).unwrap();
                            let mut b = Batch::new();
                            b.message(&r, r.clone().into_bytes()).item(item(&r, now));
                            b.audit(Event::new(EventKind::Received, "system", "t").reference(&r));
                            b.audit(Event::new(EventKind::Parsed, "system", "t").reference(&r));
                            store.commit(b, now).unwrap();
                            store.flush().unwrap();
                            r
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        steps.into_iter().for_each(|t| t.join().unwrap());
        intakes
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    });
    assert_eq!(
        store.user("lene").unwrap().unwrap().totp_last_step,
        Some(160)
    );
    for r in &refs {
        assert!(store.item(r).unwrap().is_some(), "{r} is missing");
        assert_eq!(
            store.message(r).unwrap().as_deref(),
            Some(r.as_bytes()),
            "{r}'s message"
        );
    }
    let report = store.verify_audit().unwrap();
    assert_eq!(report.entries, before + 160 + 2 * 320);
}

/// Issue 26: intakes accepted at the same moment each see the kvitteringer the others are
/// about to send, whatever the spelling of the address; a new day starts a new count.
#[test]
fn kvitteringer_to_one_mailbox_are_counted_as_they_are_planned() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), test_keys(dir.path()), Timestamp::now()).unwrap();
    let now: Timestamp = "2026-12-06T10:00:00Z".parse().unwrap();
    let spellings = ["offer@x.dk", "OFFER@X.DK", "offer+a@x.dk", "\"offer\"@x.dk"];
    let mut seen: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|n| {
                let store = &store;
                s.spawn(move || store.reserve_kvittering(spellings[n % 4], now).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    seen.sort();
    assert_eq!(
        seen,
        (0..16).collect::<Vec<_>>(),
        "each saw the ones before"
    );
    let tomorrow = now + jiff::SignedDuration::from_hours(24);
    assert_eq!(store.reserve_kvittering("offer@x.dk", tomorrow).unwrap(), 0);
    assert_eq!(store.reserve_kvittering("other@x.dk", tomorrow).unwrap(), 0);
}

/// A copy being tried when its intake is erased (helper-16's attack, issue 32): the outcome
/// recorded after the erasure must not bring the entry back without its file, or the outbox
/// stops reading ("cannot read the outbox") for every copy due with it, for good.
#[test]
fn a_copy_put_back_after_its_intake_was_erased_stays_gone() {
    use modtag_storage::records::OutboxEntry;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), test_keys(dir.path()), Timestamp::now()).unwrap();
    let now: Timestamp = "2026-11-23T12:00:00Z".parse().unwrap();
    let r = store.next_reference(now).unwrap();
    let mut b = Batch::new();
    b.message(&r, b"Bekymring".to_vec()).item(item(&r, now));
    b.outbox(OutboxEntry::new(
        9,
        &r,
        ("reporter", "reporter", "a@example.org"),
        "Kvittering".into(),
        now,
    ));
    store.commit(b, now).unwrap();
    store.flush().unwrap();

    // The outbox reads the entry and hands it to a slow relay; meanwhile the intake goes.
    let mut tried = store.outbox_entry(9).unwrap().unwrap();
    let erased = Event::new(EventKind::Erased, "tester", "test").reference(&r);
    assert!(store.erase(&r, erased, now).unwrap());
    // The relay answers 451: the attempt is recorded and the entry put back.
    tried.attempts += 1;
    let mut b = Batch::new();
    b.outbox_again(tried);
    store.commit(b, now).unwrap();
    store.flush().unwrap();
    assert!(
        store.outbox_entry(9).unwrap().is_none(),
        "the erased copy came back"
    );
    assert!(store
        .outbox_due(now + jiff::SignedDuration::from_hours(1), 64)
        .unwrap()
        .entries
        .is_empty());
    drop(store);
    assert!(reopen(dir.path()).outbox().unwrap().is_empty());
}

/// sled counts its ids in its own files, which a restored database (or a standby's) starts
/// afresh: a new outbox id must still never be one an entry waiting in the outbox has (the
/// new entry would take its place, and its message).
#[test]
fn a_new_outbox_id_is_past_every_stored_one() {
    let dir = tempfile::tempdir().unwrap();
    let now = Timestamp::now();
    let store = Store::open(dir.path(), test_keys(dir.path()), now).unwrap();
    // As a restore leaves it: an entry with an id this database's counter never reached.
    let far = store.next_id().unwrap() + 10_000_000;
    let to = ("reporter", "reporter", "a@example.org");
    let waiting =
        modtag_storage::records::OutboxEntry::new(far, "MT-2026-000001", to, "x".into(), now);
    let mut b = Batch::new();
    b.outbox(waiting);
    store.commit(b, now).unwrap();
    store.flush().unwrap();
    drop(store);
    let store = reopen(dir.path());
    let next = store.next_id().unwrap();
    assert!(next > far, "{next} must be past {far}");
    drop(store);
    // And stays past it at the next open, with nothing waiting any more.
    let store = reopen(dir.path());
    let mut b = Batch::new();
    b.outbox_done(far);
    store.commit(b, now).unwrap();
    store.flush().unwrap();
    drop(store);
    assert!(reopen(dir.path()).next_id().unwrap() > next);
}
