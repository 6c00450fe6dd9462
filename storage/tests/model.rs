//! The store against a plain in-memory model (issue 32): random sequences of new intakes
//! (item and message), changes, erasures, reads and reopens; after every step the store
//! holds exactly what the model holds, each intake and message reading back as written,
//! and the audit log verifies. Shrunk to the shortest failing sequence by proptest.
//! 64 sequences per run, 512 with `MODTAG_SLOW_TESTS=1`; `PROPTEST_CASES` overrides.

use std::collections::BTreeMap;

use jiff::Timestamp;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::store::Batch;
use modtag_storage::Store;
use proptest::prelude::*;

mod common;
use common::*;

#[derive(Debug, Clone)]
enum Op {
    /// A new intake with this message body.
    New(Vec<u8>),
    /// The `n`th intake (modulo how many there are) gets a new subject.
    Change(usize, String),
    Erase(usize),
    Read(usize),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..2048).prop_map(Op::New),
        3 => (any::<usize>(), "[a-zæøå ]{0,40}").prop_map(|(n, s)| Op::Change(n, s)),
        1 => any::<usize>().prop_map(Op::Erase),
        3 => any::<usize>().prop_map(Op::Read),
        1 => Just(Op::Reopen),
    ]
}

/// What the model says an intake is: its subject and its message.
type Model = BTreeMap<String, (Option<String>, Vec<u8>)>;

fn pick(model: &Model, n: usize) -> Option<String> {
    (!model.is_empty()).then(|| model.keys().nth(n % model.len()).unwrap().clone())
}

fn agrees(store: &Store, model: &Model) -> Result<(), TestCaseError> {
    let refs: Vec<String> = store
        .items()
        .unwrap()
        .into_iter()
        .map(|i| i.reference)
        .collect();
    prop_assert_eq!(&refs, &model.keys().cloned().collect::<Vec<_>>());
    for (r, (subject, message)) in model {
        prop_assert_eq!(&store.item(r).unwrap().unwrap().subject, subject);
        let read = store.message(r).unwrap();
        prop_assert_eq!(read.as_ref(), Some(message));
    }
    prop_assert!(
        store.verify_audit().is_ok(),
        "the audit log does not verify"
    );
    Ok(())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let now = Timestamp::now();
    let mut store = Some(Store::open(dir.path(), test_keys(dir.path()), now).unwrap());
    let mut model = Model::new();
    for op in ops {
        let s = store.as_ref().unwrap();
        match op {
            Op::New(body) => {
                let r = s.next_reference(now).unwrap();
                let mut b = Batch::new();
                b.message(&r, body.clone()).item(item(&r, now));
                s.commit(b, now).unwrap();
                s.flush().unwrap();
                model.insert(r, (Some("Bekymring for Emil".into()), body));
            }
            Op::Change(n, subject) => {
                let Some(r) = pick(&model, n) else { continue };
                let mut it = s.item(&r).unwrap().unwrap();
                it.subject = Some(subject.clone());
                let mut b = Batch::new();
                b.item(it);
                s.commit(b, now).unwrap();
                s.flush().unwrap();
                model.get_mut(&r).unwrap().0 = Some(subject);
            }
            Op::Erase(n) => {
                let Some(r) = pick(&model, n) else { continue };
                let event = Event::new(EventKind::Erased, "test", "retention");
                prop_assert!(s.erase(&r, event, now).unwrap());
                model.remove(&r);
                prop_assert!(s.item(&r).unwrap().is_none());
                prop_assert!(s.message(&r).unwrap().is_none());
            }
            Op::Read(n) => {
                let Some(r) = pick(&model, n) else { continue };
                prop_assert_eq!(&s.item(&r).unwrap().unwrap().subject, &model[&r].0);
            }
            Op::Reopen => {
                drop(store.take());
                store = Some(reopen(dir.path()));
            }
        }
        agrees(store.as_ref().unwrap(), &model)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: match (std::env::var("PROPTEST_CASES").ok(), std::env::var_os("MODTAG_SLOW_TESTS")) {
            (Some(n), _) => n.parse().unwrap_or(64),
            (None, Some(_)) => 512,
            (None, None) => 64,
        },
        ..ProptestConfig::default()
    })]
    #[test]
    fn the_store_holds_what_the_model_holds(ops in proptest::collection::vec(op(), 1..30)) {
        run(ops)?;
    }
}
