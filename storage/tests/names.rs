//! The child's name in the blind index (issue 29): found again by its normalised form or by
//! first and last name, never in clear on disk, and gone with an erased intake.

use jiff::Timestamp;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::store::Batch;
use modtag_storage::Store;

mod common;
use common::*;

const A: &str = "MT-2026-000001";
const B: &str = "MT-2026-000002";

#[test]
fn a_child_is_found_by_name_and_the_name_is_not_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), test_keys(dir.path()), Timestamp::now()).unwrap();
    let now: Timestamp = "2026-11-23T12:00:00Z".parse().unwrap();
    for (r, name) in [(A, "Ingeborg Rask Sørensen"), (B, "Vilhelm Ørsted")] {
        let mut it = item(r, now);
        it.add_child_name(name);
        // The same name again, written otherwise, is one name.
        it.add_child_name(&name.to_uppercase());
        assert_eq!(it.child_names.len(), 1);
        let mut b = Batch::new();
        b.message(r, b"Subject: x\r\n\r\nx\r\n".to_vec())
            .item(it)
            .audit(Event::new(EventKind::Received, "smtp", "modtagelse").reference(r));
        store.commit(b, now).unwrap();
    }
    store.flush().unwrap();

    for search in [
        "Ingeborg Rask Sørensen",
        "  ingeborg   RASK sørensen. ",
        "Ingeborg Sørensen",
    ] {
        assert_eq!(store.items_for_child_name(search).unwrap(), [A], "{search}");
    }
    assert_eq!(store.items_for_child_name("vilhelm ørsted").unwrap(), [B]);
    for nothing in ["Ingeborg", "Rask Sørensen", "", "--"] {
        assert!(
            store.items_for_child_name(nothing).unwrap().is_empty(),
            "{nothing}"
        );
    }
    let disk = all_bytes(dir.path());
    for name in [
        "Ingeborg",
        "ingeborg",
        "Sørensen",
        "sørensen",
        "Ørsted",
        "ørsted",
    ] {
        assert!(!contains(&disk, name.as_bytes()), "{name} in clear on disk");
    }

    let erased = Event::new(EventKind::Erased, "tester", "fejlsendt");
    assert!(store.erase(A, erased, now).unwrap());
    assert!(store
        .items_for_child_name("Ingeborg Sørensen")
        .unwrap()
        .is_empty());
    assert!(store
        .items_for_child_name("Ingeborg Rask Sørensen")
        .unwrap()
        .is_empty());
    assert_eq!(store.items_for_child_name("Vilhelm Ørsted").unwrap(), [B]);
}
