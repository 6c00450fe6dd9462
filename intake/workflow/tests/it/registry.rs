//! The case registry's import against a real store: counts, and a case an overgang holds
//! does not hold up an import that leaves it as it is.

use std::sync::mpsc;
use std::time::Duration;

use jiff::Timestamp;
use modtag_storage::keys::DataKeys;
use modtag_storage::records::Case;
use modtag_storage::Store;
use modtag_workflow::registry::import;

fn case(n: &str, raadgiver: &str) -> Case {
    Case {
        case_number: n.into(),
        cpr: "120315-4321".into(),
        child_name: "Emil Jensen".into(),
        raadgiver: raadgiver.into(),
        area: Some("Nord".into()),
        institution: None,
        open: true,
        overgang: None,
    }
}

#[test]
fn an_import_locks_only_the_cases_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, _) = DataKeys::init_or_load(dir.path(), None).unwrap();
    let auditors = modtag_config::load_embedded().unwrap().auditors;
    let store = Store::open(dir.path(), keys.with_auditors(auditors), Timestamp::now()).unwrap();
    let now: Timestamp = "2026-12-07T09:00:00Z".parse().unwrap();
    let registry = || ["2026-1", "2026-2", "2026-3"].map(|n| case(n, "raadgiver-a"));
    let first = import(&store, registry().to_vec(), "journal", "test", now).unwrap();
    assert_eq!((first.added, first.updated, first.unchanged), (3, 0, 0));

    // An overgang of the first case under way (its lock held) while the next day's
    // registry comes in with only the second case changed: the import does not wait.
    let held = store.lock_cases(&["2026-1"]);
    let (done, finished) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut next = registry().to_vec();
            next[1].raadgiver = "raadgiver-b".into();
            done.send(import(&store, next, "journal", "test", now).unwrap())
                .unwrap();
        });
        let counts = finished.recv_timeout(Duration::from_secs(30));
        drop(held);
        let counts = counts.expect("the import waited for a case it does not change");
        assert_eq!((counts.added, counts.updated, counts.unchanged), (0, 1, 2));
    });
    assert_eq!(
        store.case("2026-2").unwrap().unwrap().raadgiver,
        "raadgiver-b"
    );
}
