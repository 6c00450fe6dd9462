//! `[retention]` at fixed times, on the embedded demo's rules (intakes linked to a case 180
//! days after they last changed, once recorded as journalised, postfordeling and TRIVSEL+ 90 days after closing, failed
//! deliveries 30 days): a dry run only lists, a run erases what is due and nothing else,
//! rotates the ring key, and an intake still awaiting its assessment is never erased.

use jiff::{Timestamp, ToSpan};
use modtag_config::Channel;
use modtag_storage::keys::DataKeys;
use modtag_storage::records::{Item, ItemState, Kind, OutboxEntry, Transport};
use modtag_storage::store::Batch;
use modtag_storage::Store;
use modtag_workflow::retention;

fn intake(reference: &str, kind: Kind, at: Timestamp, to: &[ItemState]) -> Item {
    let mut item = Item::received(
        reference,
        Channel::Underretning,
        kind,
        at,
        at + 24.hours(),
        Transport::default(),
    );
    for state in to {
        item.transition(*state, "modtagelsen", at, "test");
    }
    item
}

/// A store in `dir` with the demo's auditors, its ring keys in `ring` (else in `dir`).
fn open(
    cfg: &modtag_config::Loaded,
    dir: &std::path::Path,
    ring: Option<&std::path::Path>,
) -> Store {
    let (mut keys, _) = DataKeys::init_or_load(dir, None).unwrap();
    keys.ring_dir = ring.map(|r| r.to_path_buf());
    Store::open(
        dir,
        keys.with_auditors(cfg.auditors.clone()),
        Timestamp::now(),
    )
    .unwrap()
}

#[test]
fn due_intakes_and_failed_deliveries_go_and_the_rest_stays() {
    let cfg = modtag_config::load_embedded().unwrap();
    let rules = &cfg.config.retention;
    let dir = tempfile::tempdir().unwrap();
    let store = open(&cfg, dir.path(), None);
    let t0: Timestamp = "2026-01-05T09:00:00Z".parse().unwrap();
    use ItemState::*;
    let mut journalised = intake(
        "MT-2026-000001",
        Kind::Underretning,
        t0,
        &[Assessed, Routed],
    );
    journalised.case_number = Some("S-2026-0001".into());
    let post = intake(
        "MT-2026-000002",
        Kind::Postfordeling,
        t0,
        &[Assessed, Closed],
    );
    let unlinked = intake(
        "MT-2026-000003",
        Kind::Underretning,
        t0,
        &[Assessed, Routed],
    );
    let waiting = intake("MT-2026-000004", Kind::Postfordeling, t0, &[]);
    let mut b = Batch::new();
    for item in [journalised, post, unlinked, waiting] {
        b.message(&item.reference, b"Subject: x\r\n\r\nEmil\r\n".to_vec())
            .item(item);
    }
    let mut failed = OutboxEntry::new(
        store.next_id().unwrap(),
        "MT-2026-000003",
        ("raadgiver", "ra", "ra@localhost"),
        "copy".into(),
        t0,
    );
    failed.failed = Some(t0);
    b.outbox(failed.clone());
    // Another, in a message file of its own (over 8 KiB), which gets damaged on disk: it
    // cannot be read, and must neither stop the sweep nor stay.
    let mut damaged = OutboxEntry {
        id: store.next_id().unwrap(),
        message: "x".repeat(10_000),
        ..failed.clone()
    };
    damaged.failed = Some(t0);
    b.outbox(damaged.clone());
    store.commit(b, t0).unwrap();
    store.flush().unwrap();
    let file = format!("outbox-{:016x}.pgp", damaged.id);
    std::fs::write(dir.path().join("spool").join(file), b"damaged").unwrap();
    assert_eq!(store.outbox_failed_entries().unwrap().unreadable.len(), 1);

    let refs = |r: &retention::RetentionReport| {
        r.erased
            .iter()
            .map(|e| (e.reference.clone(), e.rule.clone()))
            .collect::<Vec<_>>()
    };
    // After 31 days: only the failed delivery is due.
    let r = retention::run(&store, rules, "system", t0 + (31 * 24).hours(), false).unwrap();
    assert!(r.erased.is_empty() && !r.ring_rotated);
    assert_eq!(r.deliveries_removed, [failed.id, damaged.id]);
    assert!(store.outbox_entry(failed.id).unwrap().is_none());
    assert!(store.outbox_failed_at().unwrap().is_empty());
    let file = format!("outbox-{:016x}.pgp", damaged.id);
    assert!(!dir.path().join("spool").join(file).exists());

    // After 91 days the closed postfordeling; a dry run says so and erases nothing.
    let at = t0 + (91 * 24).hours();
    let dry = retention::run(&store, rules, "system", at, true).unwrap();
    assert_eq!(
        refs(&dry),
        [("MT-2026-000002".into(), "postfordeling".into())]
    );
    assert!(store.item("MT-2026-000002").unwrap().is_some());
    let r = retention::run(&store, rules, "system", at, false).unwrap();
    assert_eq!(refs(&r), refs(&dry));
    assert!(r.ring_rotated);
    assert!(store.item("MT-2026-000002").unwrap().is_none());
    assert!(store.message("MT-2026-000002").unwrap().is_none());

    // After 181 days the one linked to a case is due by its days, but its rule requires the
    // record (issue 31): kept, and listed as waiting, until a person records where it was
    // filed. Then it goes.
    let at = t0 + (181 * 24).hours();
    let r = retention::run(&store, rules, "system", at, false).unwrap();
    assert!(r.erased.is_empty() && !r.ring_rotated, "{r:?}");
    assert_eq!(r.waiting[0].reference, "MT-2026-000001");
    let mut filed = store.item("MT-2026-000001").unwrap().unwrap();
    filed.journalised = Some(modtag_storage::journal::Journalised {
        system: "eDoc".into(),
        document_id: "2026-1".into(),
        by: "modtagelsen".into(),
        at: t0,
    });
    let mut b = Batch::new();
    b.item(filed);
    store.commit(b, t0).unwrap();
    let r = retention::run(&store, rules, "system", at, false).unwrap();
    assert_eq!(
        refs(&r),
        [("MT-2026-000001".into(), "journaliseret".into())]
    );
    assert!(r.waiting.is_empty());
    // The routed one without a case, and the one that still awaits its assessment, stay
    // whatever the time.
    let r = retention::run(&store, rules, "system", t0 + (3650 * 24).hours(), false).unwrap();
    assert!(r.erased.is_empty());
    for kept in ["MT-2026-000003", "MT-2026-000004"] {
        assert!(store.item(kept).unwrap().is_some(), "{kept}");
        assert!(store.message(kept).unwrap().is_some(), "{kept}");
    }
    // One ring key remains: the one the kept intakes are wrapped under.
    let rings: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ring-"))
        .collect();
    assert_eq!(rings, ["ring-3.key"]);
}

/// A person's erasure whose ring key cannot be replaced (here its directory is away) is
/// still an erasure: said as done with the ring key owed, not as "nothing changed". The
/// next retention run (the daemon's daily one) replaces it though it erases nothing; one
/// whose own replacement fails reports what it erased, with the key still owed.
#[test]
fn an_erasure_whose_ring_key_cannot_be_replaced_is_owed_until_a_run_replaces_it() {
    let cfg = modtag_config::load_embedded().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rings = tempfile::tempdir().unwrap();
    let (ring, away) = (rings.path().join("ring"), rings.path().join("away"));
    std::fs::create_dir(&ring).unwrap();
    let store = open(&cfg, dir.path(), Some(&ring));
    let t0: Timestamp = "2026-01-05T09:00:00Z".parse().unwrap();
    let (r, closed) = ("MT-2026-000001", "MT-2026-000002");
    let mut b = Batch::new();
    b.item(intake(r, Kind::Underretning, t0, &[ItemState::Assessed]));
    let to_close = [ItemState::Assessed, ItemState::Routed, ItemState::Closed];
    b.item(intake(closed, Kind::Postfordeling, t0, &to_close));
    store.commit(b, t0).unwrap();
    store.flush().unwrap();
    let ring_files = || {
        let mut n: Vec<_> = (std::fs::read_dir(&ring).unwrap())
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    let before = ring_files();

    std::fs::rename(&ring, &away).unwrap();
    let done = retention::erase_one(&store, r, "forkert kommune", "lene", "sletning", t0).unwrap();
    assert!(
        matches!(done, retention::Erasure::RingNotReplaced(_)),
        "{done:?}"
    );
    assert!(store.item(r).unwrap().is_none(), "erased all the same");
    assert!(store.ring_owed().unwrap());
    let again = retention::erase_one(&store, r, "igen", "lene", "sletning", t0).unwrap();
    assert!(
        matches!(again, retention::Erasure::NoSuchIntake),
        "{again:?}"
    );

    // A run that erases (the closed postfordeling, 91 days on) while the ring is still away:
    // its erasure reported, the key owed, no error.
    let rules = &cfg.config.retention;
    let at = t0 + (91 * 24).hours();
    let run = retention::run(&store, rules, "system", at, false).unwrap();
    assert_eq!(run.erased.len(), 1, "{run:?}");
    assert!(!run.ring_rotated && run.ring_owed.is_some(), "{run:?}");
    assert!(store.item(closed).unwrap().is_none());

    // The ring back: the next run erases nothing, and replaces the ring key all the same.
    std::fs::rename(&away, &ring).unwrap();
    let dry = retention::run(&store, rules, "system", at, true).unwrap();
    assert!(!dry.ring_rotated, "a dry run changes nothing: {dry:?}");
    assert!(store.ring_owed().unwrap());
    let run = retention::run(&store, rules, "system", at, false).unwrap();
    assert!(run.erased.is_empty() && run.ring_rotated, "{run:?}");
    assert!(run.ring_owed.is_none(), "{run:?}");
    assert!(!store.ring_owed().unwrap());
    assert_ne!(ring_files(), before, "a new ring key replaced the old");
    let run = retention::run(&store, rules, "system", at, false).unwrap();
    assert!(!run.ring_rotated, "nothing owed any more: {run:?}");
}
