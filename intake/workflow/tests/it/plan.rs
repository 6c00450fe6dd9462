//! The workflow's functional core without a store: what receiving and deciding an intake
//! mean, computed at a fixed time from what storage would have said (`Known`), checked in the
//! batch they return.

use std::cell::Cell;

use jiff::{Timestamp, ToSpan};
use modtag_config::{Channel, Kind};
use modtag_smtp::session::Envelope;
use modtag_storage::audit::EventKind;
use modtag_storage::records::{
    Case, EarlierIntake, ItemState, SenderTrust, SenderVerdicts, TaskKind,
};
use modtag_storage::store::{Batch, IdSource};
use modtag_storage::StoreError;
use modtag_workflow::understand::Reader;
use modtag_workflow::{accept, decide};

/// Outbox ids counted from 1, as a store would hand them out.
#[derive(Default)]
struct Counter(Cell<u64>);

impl IdSource for Counter {
    fn next_id(&self) -> Result<u64, StoreError> {
        self.0.set(self.0.get() + 1);
        Ok(self.0.get())
    }
}

const MESSAGE: &[u8] = b"From: Peter Larsen <kontor@bakkeskolen.dk>\r\n\
Subject: Bekymring for Emil\r\n\r\n\
Emil 120315-4321 kom sulten i skole igen i dag.\r\n\r\nMvh Peter Larsen, skoleleder\r\n";

/// The message as the SMTP listener hands it over, its sender authenticated (DMARC pass)
/// as the school's mail server would have it.
fn received() -> accept::Received {
    let mut rx = unverified();
    rx.sender_auth = Some(SenderVerdicts {
        spf: "pass".into(),
        dkim: "pass".into(),
        dmarc: "pass".into(),
    });
    rx
}

/// The same with nothing proven about the sender (no DMARC, no partner over TLS).
fn unverified() -> accept::Received {
    accept::Received {
        envelope: Envelope {
            helo: "mail.bakkeskolen.dk".into(),
            mail_from: "kontor@bakkeskolen.dk".into(),
            rcpt_to: vec!["underretning@localhost".into()],
            channel: Channel::Underretning,
            tls: None,
        },
        peer: "192.0.2.7".into(),
        tls: "none".into(),
        raw: Vec::new(),
        sender_auth: None,
        signed_in: None,
    }
}

/// The time every plan here is made at.
fn now() -> Timestamp {
    "2026-03-02T09:00:00Z".parse().unwrap()
}

/// `MESSAGE` received at `now()` with what storage would know, planned with the embedded
/// configuration.
fn accepted(known: accept::Known, ids: &Counter) -> (modtag_config::Loaded, Batch) {
    accepted_from(received(), known, ids)
}

fn accepted_from(
    rx: accept::Received,
    known: accept::Known,
    ids: &Counter,
) -> (modtag_config::Loaded, Batch) {
    accepted_under(modtag_config::load_embedded().unwrap(), rx, known, ids)
}

fn accepted_under(
    cfg: modtag_config::Loaded,
    rx: accept::Received,
    known: accept::Known,
    ids: &Counter,
) -> (modtag_config::Loaded, Batch) {
    let reading = Reader::with_key(&cfg, None).read(MESSAGE, Channel::Underretning);
    let batch = accept::plan(&cfg, known, rx, MESSAGE.to_vec(), reading, ids, now()).unwrap();
    (cfg, batch)
}

fn kinds(batch: &Batch) -> Vec<EventKind> {
    batch.events().iter().map(|e| e.kind).collect()
}

#[test]
fn a_professionals_report_on_a_child_with_one_open_case_is_linked_at_a_fixed_time() {
    let now = now();
    let known = accept::Known {
        reference: "MT-2026-000042".into(),
        earlier: vec![EarlierIntake {
            reference: "MT-2026-000007".into(),
            received_at: now - 72.hours(),
            kind: Kind::Underretning,
        }],
        open_cases: vec![Case {
            case_number: "SAG-100".into(),
            cpr: "120315-4321".into(),
            child_name: "Emil Hansen".into(),
            raadgiver: "anna.kristensen".into(),
            area: Some("skole".into()),
            institution: Some("bakkeskolen".into()),
            open: true,
            overgang: None,
        }],
        forloeb: None,
        kvitteringer_today: 0,
    };
    let ids = Counter::default();
    let (_, batch) = accepted(known, &ids);

    let item = &batch.items()[0];
    assert_eq!(item.reference, "MT-2026-000042");
    assert_eq!(item.deadline, now + 24.hours(), "24 hours from receipt");
    assert_eq!(item.state, ItemState::AutoLinked);
    assert_eq!(item.case_number.as_deref(), Some("SAG-100"));
    assert_eq!(item.earlier.len(), 1, "the child's earlier intake");
    assert_eq!(item.sent_to, ["anna.kristensen"]);
    assert!(
        kinds(&batch).starts_with(&[
            EventKind::Received,
            EventKind::Parsed,
            EventKind::CaseLinked
        ]),
        "{:?}",
        kinds(&batch)
    );
    // The rådgiver's copy and the kvittering, numbered by the id source, not the store.
    let to: Vec<(&str, u64)> = batch
        .outbox_entries()
        .iter()
        .map(|e| (e.role.as_str(), e.id))
        .collect();
    assert_eq!(to, [("raadgiver", 1), ("reporter", 2)], "{to:?}");
    assert!(batch.outbox_entries().iter().all(|e| e.created == now));
    assert_eq!(item.sender_trust, SenderTrust::Authenticated);
}

/// Issue 26: "som fagperson" and a CPR are anyone's to write. From a sender nothing proves,
/// the one open case is a suggestion for Modtagelsen, and nothing goes to the rådgiver.
#[test]
fn an_unverified_senders_claim_forwards_nothing_to_a_caseworker() {
    let known = accept::Known {
        reference: "MT-2026-000044".into(),
        open_cases: vec![Case {
            case_number: "SAG-100".into(),
            cpr: "120315-4321".into(),
            child_name: "Emil Hansen".into(),
            raadgiver: "anna.kristensen".into(),
            area: Some("skole".into()),
            institution: Some("bakkeskolen".into()),
            open: true,
            overgang: None,
        }],
        ..Default::default()
    };
    let ids = Counter::default();
    let (_, batch) = accepted_from(unverified(), known, &ids);
    let item = &batch.items()[0];
    assert_eq!(item.sender_trust, SenderTrust::Unverified);
    assert_eq!(item.state, ItemState::AwaitingAssessment);
    assert_eq!(item.suggestions, ["SAG-100"]);
    assert!(item.sent_to.is_empty() && item.case_number.is_none());
    assert!(batch.outbox_entries().iter().all(|e| e.role != "raadgiver"));
}

#[test]
fn a_decision_is_planned_from_what_was_read() {
    let known = accept::Known {
        reference: "MT-2026-000043".into(),
        ..Default::default()
    };
    let ids = Counter::default();
    let (cfg, batch) = accepted(known, &ids);
    let item = batch.items()[0].clone();
    assert_eq!(item.state, ItemState::AwaitingAssessment);

    let later = now() + 3.hours();
    let input: decide::DecisionInput =
        serde_json::from_value(serde_json::json!({ "actor": "Lene Holm", "trin": 4 })).unwrap();
    let known = decide::Known {
        item: item.clone(),
        case: None,
        raw: MESSAGE.to_vec(),
    };
    let (batch, decision, state) = decide::plan(&cfg, known, &input, &ids, later).unwrap();
    assert_eq!(state, ItemState::Routed);
    assert!(!decision.recipients.is_empty());
    let decided = &batch.items()[0];
    assert_eq!(decided.decision.as_ref().unwrap().at, later);
    assert!(decided
        .tasks
        .iter()
        .any(|t| t.kind == TaskKind::IndkaldUnderretningsmoede));
    assert_eq!(kinds(&batch)[0], EventKind::Decided);
    assert_eq!(batch.outbox_entries().len(), decision.recipients.len());

    // The same plan refuses a second decision without a reason, as the store-backed one does.
    let known = decide::Known {
        item: decided.clone(),
        case: None,
        raw: MESSAGE.to_vec(),
    };
    assert!(matches!(
        decide::plan(&cfg, known, &input, &ids, later),
        Err(decide::DecideError::AlreadyDecided(_))
    ));
}

/// Whether a decision falls outside office hours comes from the directory's calendar: an
/// akut decision at night reaches the døgnvagt without anyone ticking a box; by day not.
#[test]
fn the_calendar_says_when_the_doegnvagt_is_told() {
    let ids = Counter::default();
    let known = accept::Known {
        reference: "MT-2026-000044".into(),
        ..Default::default()
    };
    let (cfg, batch) = accepted(known, &ids);
    let item = batch.items()[0].clone();
    let input: decide::DecisionInput = serde_json::from_value(
        serde_json::json!({ "actor": "Lene Holm", "trin": 4, "akut": true }),
    )
    .unwrap();
    let routed_at = |at: Timestamp| {
        let known = decide::Known {
            item: item.clone(),
            case: None,
            raw: MESSAGE.to_vec(),
        };
        let (batch, decision, _) = decide::plan(&cfg, known, &input, &ids, at).unwrap();
        let people: Vec<String> = decision
            .recipients
            .iter()
            .map(|r| r.person.clone())
            .collect();
        (
            people,
            batch.items()[0].decision.as_ref().unwrap().out_of_hours,
        )
    };
    // Monday 2 March 2026: 10:00 and 23:00 in Copenhagen.
    let (by_day, ooh) = routed_at("2026-03-02T09:00:00Z".parse().unwrap());
    assert!(
        !ooh && !by_day.contains(&"doegnvagten".to_string()),
        "{by_day:?}"
    );
    let (at_night, ooh) = routed_at("2026-03-02T22:00:00Z".parse().unwrap());
    assert!(
        ooh && at_night.contains(&"doegnvagten".to_string()),
        "{at_night:?}"
    );
}

/// Issue 26: a typed address gets at most a few kvitteringer a day by themselves; past
/// that a person sends it. An authenticated sender is not limited. The kommune sets how
/// many (`[kvittering] max_per_unproven_address_per_day`, three unless it says).
#[test]
fn a_typed_address_gets_a_few_kvitteringer_a_day_at_most() {
    let embedded = modtag_config::load_embedded().unwrap();
    let limit = embedded.config.kvittering.max_per_unproven_address_per_day;
    assert_eq!(limit, 3);
    let known = |n| accept::Known {
        reference: "MT-2026-000045".into(),
        kvitteringer_today: n,
        ..Default::default()
    };
    let ids = Counter::default();
    let (_, batch) = accepted_from(unverified(), known(limit - 1), &ids);
    let k = batch.items()[0].kvittering.clone().unwrap();
    assert!(!k.manual && k.to.as_deref() == Some("kontor@bakkeskolen.dk"));
    let (_, batch) = accepted_from(unverified(), known(limit), &ids);
    let item = &batch.items()[0];
    assert!(
        item.kvittering.as_ref().unwrap().manual,
        "a person sends it"
    );
    assert!(batch.outbox_entries().iter().all(|e| e.role != "reporter"));
    assert!(item.tasks.iter().any(|t| t.kind == TaskKind::Kvittering));
    let (_, batch) = accepted_from(received(), known(limit + 10), &ids);
    assert!(!batch.items()[0].kvittering.as_ref().unwrap().manual);
    // A kommune that raised it: the fourth goes by itself; one that set 0: not even the first.
    let mut raised = embedded.clone();
    raised.config.kvittering.max_per_unproven_address_per_day = 10;
    let (_, batch) = accepted_under(raised, unverified(), known(limit), &ids);
    assert!(!batch.items()[0].kvittering.as_ref().unwrap().manual);
    let mut none = embedded;
    none.config.kvittering.max_per_unproven_address_per_day = 0;
    let (_, batch) = accepted_under(none, unverified(), known(0), &ids);
    let item = &batch.items()[0];
    assert!(item.kvittering.as_ref().unwrap().manual);
    assert!(item.tasks.iter().any(|t| t.kind == TaskKind::Kvittering
        && t.reason
            .as_deref()
            .is_some_and(|r| r.contains("sent by hand here"))));
}

/// Flow 4 more than once: a child handed back to trin 2, later on trin 3/4 again, is handed
/// back again once the new measures have ended; the first overgang posted again is not.
#[test]
fn a_child_back_on_trin_3_4_again_moves_to_trin_2_again() {
    use modtag_storage::forloeb::OvergangSent;
    use modtag_workflow::overgang::{plan, ConsentInput, OvergangInput};
    let cfg = modtag_config::load_embedded().unwrap();
    let now = now();
    let case = Case {
        case_number: "SAG-300".into(),
        cpr: "120315-4321".into(),
        child_name: "Emil Hansen".into(),
        raadgiver: "anna.kristensen".into(),
        area: Some("skole".into()),
        institution: Some("bakkeskolen".into()),
        open: true,
        overgang: Some(OvergangSent {
            at: "2025-09-01T10:00:00Z".parse().unwrap(),
            by: "anna".into(),
            first_meeting: "2025-09-09T09:00".into(),
            recipients: vec![],
        }),
    };
    let consent = || {
        Some(ConsentInput {
            given_by: "forældre".into(),
            how: "skriftligt".into(),
            at: None,
        })
    };
    let input = |ended: &str| OvergangInput {
        consent: consent(),
        consent_share: consent(),
        measures_ended: Some(ended.parse().unwrap()),
        first_meeting: Some("2026-03-10T09:00".parse().unwrap()),
        ..OvergangInput::default()
    };
    let ids = Counter::default();
    // The measures that ended before the first hand-over, or before its first meeting:
    // that overgang again (or a way to move its meeting), refused.
    for ended in ["2025-08-29", "2025-09-05", "2025-09-09"] {
        let again = plan(&ids, &cfg, &case, &input(ended), "anna", now).unwrap();
        let why = again.err().expect("the same overgang is not sent twice");
        assert!(
            why[0].contains("overgik allerede til trin 2")
                && why[0].contains("senere end 09.09.2025"),
            "{ended}: {why:?}"
        );
    }
    // Measures that ended since: a new overgang, sent and recorded.
    let (batch, done) = plan(&ids, &cfg, &case, &input("2026-02-27"), "anna", now)
        .unwrap()
        .expect("a new overgang");
    assert!(done.already.is_none() && done.invitations > 0, "{done:?}");
    assert!(!batch.outbox_entries().is_empty());
}
