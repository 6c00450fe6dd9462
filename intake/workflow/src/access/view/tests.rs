//! The table of who sees what of an intake (issue 25), and how a sender's trust changes it
//! (issue 26).

use super::*;
use modtag_config::{Channel, Kind};
use modtag_storage::records::{
    Consent, EarlierIntake, Escalation, ItemState, Reporter, RevisedDecision, Task, TaskKind,
};

fn person(id: &str, roles: &[&str]) -> Person {
    Person {
        user: id.into(),
        directory_id: Some(id.into()),
        roles: roles.iter().map(|r| r.to_string()).collect(),
    }
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn routed(role: &str, person: &str) -> RoutedTo {
    RoutedTo {
        role: role.into(),
        person: person.into(),
        rule: format!("regel-{role}"),
    }
}

/// An underretning from a reporter of `kind`, decided on trin 2 with consent and sent to
/// a rådgiver, a lokal leder, the Børneskolerådgivere, the leader of PPR and the
/// døgnvagt; `attach` says whether the original was attached for the institution's side.
/// Ida (lokal leder) was sent it by an earlier decision and is no longer.
fn intake(kind: &str, attach: bool) -> Item {
    let mut item = Item::received(
        "MT-2026-000001",
        Channel::Underretning,
        Kind::Underretning,
        t("2026-12-01T09:00:00Z"),
        t("2026-12-02T09:00:00Z"),
        Transport {
            peer: "192.0.2.7".into(),
            tls: "TLSv1.3".into(),
            ..Transport::default()
        },
    );
    item.state = ItemState::Routed;
    // The sender proven (DMARC): what a professional's report may carry depends on it.
    item.sender_trust = modtag_storage::records::SenderTrust::Authenticated;
    item.subject = Some("Bekymring for Emil".into());
    item.from = Some("Nabo Hansen <nabo@example.org>".into());
    item.cprs = vec!["120315-4321".into()];
    item.attachments = vec![Default::default()];
    item.case_number = Some("SAG-1".into());
    item.understanding.reporter = Reporter {
        kind: modtag_config::ReporterKind::parse(kind).expect("a reporter kind"),
        name: Some("Nabo Hansen".into()),
        email: Some("nabo@example.org".into()),
        reason: "why".into(),
        ..Reporter::default()
    };
    item.earlier = vec![EarlierIntake {
        reference: "MT-2025-000009".into(),
        received_at: t("2025-01-01T00:00:00Z"),
        kind: Kind::Underretning,
    }];
    item.tasks = vec![Task {
        kind: TaskKind::IndkaldUnderretningsmoede,
        created: t("2026-12-01T10:00:00Z"),
        due: None,
        done_at: None,
        done_by: None,
        outcome: None,
        letter: None,
        reason: None,
    }];
    item.transition(
        ItemState::Routed,
        "modt",
        t("2026-12-01T10:00:00Z"),
        "routed",
    );
    let decision = |at: &str, recipients: Vec<RoutedTo>| DecisionRecord {
        at: t(at),
        actor: "modt".into(),
        existing_case: true,
        case_number: Some("SAG-1".into()),
        trin: Some(2),
        consent: true,
        area: Some("dagtilbud".into()),
        institution: Some("solsikken".into()),
        akut: false,
        out_of_hours: false,
        udskoling: false,
        note: "Screening: trivsel falder.".into(),
        consent_record: Some(Consent {
            given_by: "forældre".into(),
            how: "mundtligt".into(),
            at: t("2026-12-01T09:30:00Z"),
            scope: "kontakt til lokal leder".into(),
        }),
        tree_hash: "abc".into(),
        recipients,
        actions: vec!["require_consent".into(), "recommend_trivselplus".into()],
        refused: None,
        screening_outcome: Some("trivselplus_anbefalet".into()),
        attach_original: attach,
        names_added: Vec::new(),
    };
    item.earlier_decisions = vec![RevisedDecision {
        decision: decision("2026-12-01T10:00:00Z", vec![routed("lokal_leder", "ida")]),
        replaced_at: t("2026-12-01T11:00:00Z"),
        replaced_by: "modt".into(),
        reason: "forkert institution".into(),
    }];
    item.decision = Some(decision(
        "2026-12-01T11:00:00Z",
        vec![
            routed("raadgiver", "anna"),
            routed("lokal_leder", "mette"),
            routed("boerneskoleraadgiver", "bsr"),
            routed("leder_ppr", "karen"),
            routed("doegnvagt", "dv"),
        ],
    ));
    item.sent_to = ["ida", "anna", "mette", "bsr", "karen", "dv"]
        .map(String::from)
        .to_vec();
    item
}

/// What a person of each role sees, for every reporter kind, with and without the
/// original attached: (person, expected sight for professional-attached,
/// professional-not-attached, citizen, anonymous), as "full", "sent+original",
/// "sent", "ended" or "none".
#[test]
fn every_role_by_reporter_and_decision() {
    let rows: [(Person, [&str; 4]); 12] = [
        (person("modtagelsen", &["modtagelsen"]), ["full"; 4]),
        (person("lene", &["modtagelsen_leder"]), ["full"; 4]),
        (person("journalen", &["journalen"]), ["none"; 4]),
        (person("anna", &["raadgiver"]), ["full"; 4]),
        (
            person("mette", &["lokal_leder"]),
            ["sent+original", "sent", "sent", "sent"],
        ),
        (
            person("bsr", &["boerneskoleraadgiver"]),
            ["sent+original", "sent", "sent", "sent"],
        ),
        (
            person("karen", &["leder_ppr"]),
            ["sent+original", "sent+original", "sent", "sent"],
        ),
        (
            person("dv", &["doegnvagt"]),
            ["sent+original", "sent+original", "sent", "sent"],
        ),
        (person("ida", &["lokal_leder"]), ["ended"; 4]),
        (person("peter", &["lokal_leder"]), ["none"; 4]),
        (person("bo", &["raadgiver"]), ["none"; 4]),
        (
            Person {
                user: "it".into(),
                directory_id: None,
                roles: vec!["admin".into(), "auditor".into()],
            },
            ["none"; 4],
        ),
    ];
    let cases = [
        ("professional", true),
        ("professional", false),
        ("citizen", true),
        ("anonymous", true),
    ];
    for (p, expected) in &rows {
        for ((kind, attach), want) in cases.iter().zip(expected) {
            let item = intake(kind, *attach);
            let v = view(p, &item);
            let got = match v.as_ref().map(|v| &v.sight) {
                None => "none",
                Some(Sight::Full) => "full",
                Some(Sight::Sent { original: true, .. }) => "sent+original",
                Some(Sight::Sent { .. }) => "sent",
                Some(Sight::Ended { .. }) => "ended",
            };
            assert_eq!(got, *want, "{} on a {kind} report, attach {attach}", p.user);
            let Some(v) = v else { continue };
            if got == "full" {
                assert_eq!(v.item.cprs, ["120315-4321"]);
                continue;
            }
            check_cut(&v, kind, p);
        }
    }
}

/// What a recipient's (or former recipient's) view leaves out.
fn check_cut(v: &View, kind: &str, p: &Person) {
    let i = &v.item;
    let who = format!("{} on a {kind} report", p.user);
    assert!(
        i.cprs.iter().all(|c| c == "120315-XXXX"),
        "{who}: {:?}",
        i.cprs
    );
    assert!(
        i.tasks.is_empty() && i.history.is_empty(),
        "{who}: tasks, notes"
    );
    assert!(
        i.transport.peer.is_empty() && i.transport.tls.is_empty(),
        "{who}"
    );
    assert!(i.case_number.is_none() && i.earlier.is_empty(), "{who}");
    assert!(i.earlier_decisions.is_empty(), "{who}: replaced decisions");
    assert!(i.understanding.reporter.reason.is_empty(), "{who}");
    assert!(i.sent_to.len() <= 1, "{who}: {:?}", i.sent_to);
    let shows_reporter = i.understanding.reporter.name.is_some()
        || i.understanding.reporter.email.is_some()
        || i.from.is_some();
    // A citizen's or anonymous reporter's identity never reaches a recipient.
    if kind != "professional" {
        assert!(!shows_reporter && i.subject.is_none(), "{who}");
        assert!(i.attachments.is_empty(), "{who}");
    }
    assert_eq!(shows_reporter, v.reads_original(), "{who}");
    assert_eq!(!i.attachments.is_empty(), v.reads_original(), "{who}");
    match &v.sight {
        Sight::Sent { .. } => {
            let d = i.decision.as_ref().expect("the decision they were sent");
            assert_eq!(d.trin, Some(2));
            assert_eq!(d.note, "Screening: trivsel falder.");
            assert_eq!(
                d.screening_outcome.as_deref(),
                Some("trivselplus_anbefalet")
            );
            assert_eq!(d.consent_record.as_ref().unwrap().given_by, "forældre");
            assert_eq!(d.actions, ["recommend_trivselplus"]);
            // The others by role only.
            assert!(d
                .recipients
                .iter()
                .all(|r| r.person.is_empty() && r.rule.is_empty()));
            assert_eq!(d.recipients.len(), 5);
            assert!(d.case_number.is_none() && d.tree_hash.is_empty());
        }
        Sight::Ended { at } => {
            assert_eq!(
                *at,
                t("2026-12-01T11:00:00Z"),
                "when the new assessment came"
            );
            assert!(
                i.decision.is_none() && i.cprs.is_empty(),
                "{who}: nothing more"
            );
        }
        Sight::Full => unreachable!(),
    }
}

/// Issue 26: a professional's original reaches the institution only from a sender the
/// transport proved or a person confirmed.
#[test]
fn an_unverified_professional_s_original_stays_with_the_kommune() {
    use modtag_storage::records::{SenderConfirmed, SenderTrust};
    let mette = person("mette", &["lokal_leder"]);
    let karen = person("karen", &["leder_ppr"]);
    let mut item = intake("professional", true);
    item.sender_trust = SenderTrust::Unverified;
    let original = |p: &Person, i: &Item| view(p, i).unwrap().reads_original();
    assert!(
        !original(&mette, &item),
        "the institution: the screening only"
    );
    assert!(original(&karen, &item), "a kommune leader: as before");
    item.sender_confirmed = Some(SenderConfirmed {
        by: "modt".into(),
        at: t("2026-12-01T10:30:00Z"),
        how: "ringet til skolen".into(),
    });
    assert!(original(&mette, &item), "confirmed by a person");
    // A forward: the confirmed sender is the school that forwarded it, and the "fagperson"
    // is only what the forwarded text says.
    item.understanding.original = Some(Default::default());
    assert!(!original(&mette, &item), "a forward's claim stays a claim");
}

#[test]
fn the_doegnvagt_works_what_an_escalation_handed_it() {
    let dv = person("dv", &["doegnvagt"]);
    let mut item = intake("citizen", false);
    item.decision = None;
    item.earlier_decisions.clear();
    item.sent_to.clear();
    item.state = ItemState::AwaitingAssessment;
    assert!(view(&dv, &item).is_none() && !works(&dv, &item));
    item.escalations.push(Escalation {
        stage: 3,
        at: t("2026-12-01T07:00:00Z"),
        to: vec!["lene".into(), "dv".into()],
        roles: Vec::new(),
    });
    assert_eq!(view(&dv, &item).unwrap().sight, Sight::Full);
    assert!(works(&dv, &item));
    // Another member of staff with the role, not notified, still has no reason.
    assert!(view(&person("dv2", &["doegnvagt"]), &item).is_none());
    // Once Modtagelsen has assessed it and routed it elsewhere, the hand-over is over.
    let mut assessed = intake("citizen", false);
    assessed.escalations = item.escalations.clone();
    assessed.decision.as_mut().unwrap().recipients = vec![routed("modtagelsen", "modtagelsen")];
    assessed.sent_to = vec!["modtagelsen".into()];
    assert!(view(&dv, &assessed).is_none() && !works(&dv, &assessed));
    // One the døgnvagt assessed itself stays its to see and to assess again.
    assessed.decision.as_mut().unwrap().actor = "dv".into();
    assert_eq!(view(&dv, &assessed).unwrap().sight, Sight::Full);
}

#[test]
fn the_mechanical_rule_sends_to_the_raadgiver_until_an_assessment_does_not() {
    let anna = person("anna", &["raadgiver"]);
    let mut item = intake("professional", false);
    item.decision = None;
    item.earlier_decisions.clear();
    item.sent_to = vec!["anna".into()];
    item.state = ItemState::AutoLinked;
    assert_eq!(view(&anna, &item).unwrap().sight, Sight::Full);
    let mut decided = intake("professional", false);
    decided.earlier_decisions.clear();
    decided.decision.as_mut().unwrap().recipients = vec![routed("modtagelsen", "modtagelsen")];
    decided.sent_to = vec!["anna".into(), "modtagelsen".into()];
    assert_eq!(
        view(&anna, &decided).unwrap().sight,
        Sight::Ended {
            at: t("2026-12-01T11:00:00Z")
        }
    );
    assert!(!routed_to(&decided, "anna") && routed_to(&decided, "modtagelsen"));
}
