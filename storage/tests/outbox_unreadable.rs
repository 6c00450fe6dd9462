//! One outbox entry that cannot be read (its message file gone or damaged) must not hold up
//! the copies due with it: they are read, it is reported by id, put off by its schedule
//! alone, and counted until it reads again or leaves the outbox.

use jiff::{SignedDuration, Timestamp};
use modtag_storage::records::OutboxEntry;
use modtag_storage::store::Batch;
use modtag_storage::{Store, StoreError};

mod common;
use common::*;

#[test]
fn an_unreadable_copy_does_not_hold_up_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), test_keys(dir.path()), Timestamp::now()).unwrap();
    let now: Timestamp = "2026-12-07T12:00:00Z".parse().unwrap();
    // Large enough for a file of its own (a small one is kept in the record).
    let message = "x".repeat(10_000);
    let entry = |id: u64| {
        let to = (
            "modtagelsen",
            "modtagelsen",
            "modtagelsen@kommune.localhost",
        );
        OutboxEntry::new(id, "MT-2026-000001", to, message.clone(), now)
    };
    let mut b = Batch::new();
    b.outbox(entry(1)).outbox(entry(2)).outbox(entry(3));
    store.commit(b, now).unwrap();
    store.flush().unwrap();
    let stored: Vec<u64> = store.outbox().unwrap().iter().map(|e| e.id).collect();
    let damaged = dir
        .path()
        .join("spool")
        .join(format!("outbox-{:016x}.pgp", stored[1]));
    std::fs::write(&damaged, b"not what was written").unwrap();

    let due = store.outbox_due(now, 64).unwrap();
    let read: Vec<u64> = due.entries.iter().map(|e| e.id).collect();
    assert_eq!(read, [stored[0], stored[2]], "the readable copies are due");
    assert!(due.entries.iter().all(|e| e.message == message));
    assert_eq!(due.unreadable.len(), 1);
    let (id, why) = &due.unreadable[0];
    assert_eq!(*id, stored[1]);
    assert!(matches!(why, StoreError::Corrupt { .. }), "said why: {why}");
    assert_eq!(store.outbox_unreadable(now), 1);
    assert_eq!(
        store.outbox_unreadable(now - SignedDuration::from_secs(1)),
        0,
        "not since before it was first seen"
    );

    // Put off by its schedule: not due now, due again later; still counted meanwhile.
    store
        .outbox_postpone(stored[1], now + SignedDuration::from_mins(5))
        .unwrap();
    let due = store.outbox_due(now, 64).unwrap();
    assert!(due.unreadable.is_empty(), "read again at once");
    assert_eq!(due.entries.len(), 2);
    assert_eq!(store.outbox_unreadable(now), 1);
    let later = store
        .outbox_due(now + SignedDuration::from_mins(5), 64)
        .unwrap();
    assert_eq!(later.unreadable.len(), 1, "due again when put off to");

    assert_eq!(store.outbox_unreadable_since(stored[1]), Some(now));

    // Given up after long enough: failed for good, by its schedule alone, no longer due
    // nor counted as unreadable, and listed by when it failed (for retention).
    let later = now + SignedDuration::from_hours(1);
    store.outbox_give_up(stored[1], later).unwrap();
    assert_eq!(store.outbox_unreadable(Timestamp::MAX), 0);
    assert!(store.outbox_due(later, 64).unwrap().unreadable.is_empty());
    assert_eq!(store.outbox_failed_at().unwrap(), [(stored[1], later)]);
    assert_eq!(store.outbox_failed_entries().unwrap().unreadable.len(), 1);
}

/// The failed deliveries' list reads what it can and names the rest; retention goes by the
/// clear schedule, so a damaged failed entry is swept like any other.
#[test]
fn a_failed_copy_that_cannot_be_read_is_named_and_still_listed_by_when() {
    let dir = tempfile::tempdir().unwrap();
    let now: Timestamp = "2026-12-07T12:00:00Z".parse().unwrap();
    let store = with_failed_copies(dir.path(), now);
    let at = store.outbox_failed_at().unwrap();
    assert_eq!(at.len(), 2);
    assert!(at.iter().all(|(_, when)| *when == now));
    let damaged = dir
        .path()
        .join("spool")
        .join(format!("outbox-{:016x}.pgp", at[0].0));
    std::fs::remove_file(&damaged).unwrap();
    let read = store.outbox_failed_entries().unwrap();
    assert_eq!(read.entries.len(), 1);
    assert_eq!(read.unreadable.len(), 1);
    assert_eq!(read.unreadable[0].0, at[0].0);
    assert_eq!(
        store.outbox_failed_at().unwrap(),
        at,
        "listed by when all the same"
    );
}
