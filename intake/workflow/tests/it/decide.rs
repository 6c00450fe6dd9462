//! Decisions racing each other and the escalation pass on one intake, in threads on one
//! store: one decision stands and nothing a person decided is written over.

use std::sync::{Arc, Barrier};

use jiff::{Timestamp, ToSpan};
use modtag_storage::keys::DataKeys;
use modtag_storage::records::{Item, ItemState, Transport};
use modtag_storage::store::Batch;
use modtag_storage::Store;
use modtag_workflow::decide::{decide, DecideError, DecisionInput};

fn store_with_item(dir: &std::path::Path, received: Timestamp) -> Store {
    let (keys, _) = DataKeys::init_or_load(dir, None).unwrap();
    let keys = keys.with_auditors(modtag_config::load_embedded().unwrap().auditors);
    let store = Store::open(dir, keys, Timestamp::now()).unwrap();
    let item = Item::received(
        "MT-2026-000001",
        modtag_config::Channel::Underretning,
        modtag_config::Kind::Underretning,
        received,
        received + 24.hours(),
        Transport::default(),
    );
    let mut b = Batch::new();
    b.message(
        "MT-2026-000001",
        b"From: a@example.org\r\nSubject: Bekymring\r\n\r\nTekst\r\n".to_vec(),
    )
    .item(item);
    store.commit(b, received).unwrap();
    store
}

fn input(actor: &str) -> DecisionInput {
    serde_json::from_value(serde_json::json!({ "actor": actor, "trin": 3 })).unwrap()
}

#[test]
fn racing_decisions_and_escalation_leave_one_decision() {
    let cfg = Arc::new(modtag_config::load_embedded().unwrap());
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Timestamp::now() - 13.hours();
        let store = store_with_item(dir.path(), t0);
        let start = Arc::new(Barrier::new(9));
        let mut deciders = Vec::new();
        for n in 0..8 {
            let (store, cfg, start) = (store.clone(), cfg.clone(), start.clone());
            deciders.push(std::thread::spawn(move || {
                start.wait();
                decide(
                    &store,
                    &cfg,
                    "MT-2026-000001",
                    &input(&format!("r{n}")),
                    |_| Ok(()),
                    Timestamp::now(),
                )
            }));
        }
        // The escalation pass (12 h are past) runs in the middle of them.
        start.wait();
        modtag_workflow::escalation::tick(&store, &cfg, Timestamp::now()).unwrap();
        let results: Vec<_> = deciders.into_iter().map(|h| h.join().unwrap()).collect();
        let won = results.iter().filter(|r| r.is_ok()).count();
        let errs: Vec<String> = results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|e| e.to_string())
            .collect();
        assert_eq!(won, 1, "round {round}: {won} decisions stood; {errs:?}");
        assert!(results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, DecideError::AlreadyDecided(_))));
        let item = store.item("MT-2026-000001").unwrap().unwrap();
        assert!(
            item.decision.is_some(),
            "round {round}: the decision was written over"
        );
        assert_ne!(item.state, ItemState::AwaitingAssessment, "round {round}");
        let assessed = item
            .history
            .iter()
            .filter(|h| h.to == ItemState::Assessed)
            .count();
        assert_eq!(assessed, 1, "round {round}");
    }
}
