//! What a person sees of one intake (issue 25): one pure function, [`view`], which the desk's
//! item page, the API and (through the API) the CLI all use, so no handler decides on its own
//! what to leave out.
//!
//! - The desk that owns the intake (Modtagelsen and its leader for underretninger and LÆ 165,
//!   Journalen for TRIVSEL+ and postfordeling; the døgnvagt for an intake handed to it out of
//!   hours by an escalation) and the case's rådgiver see it whole.
//! - Every other recipient sees what the decision sent them: the reference, the dates, the
//!   trin in the barometer's words, the screening and recommendation, the outcome, the
//!   consent, whom else it went to by role only, and the original (text, subject, sender,
//!   attachments) only when the reporter is a professional and the copy carried it. Never a
//!   citizen's or an anonymous reporter's identity; the CPR masked; no tasks, route notes,
//!   sender checks, transport, case number or the child's earlier intakes.
//! - Someone a new assessment no longer sends it to sees only that, and when.
//!
//! The mail copy follows the same rules ([`gets_whole`], [`gets_original`]), so what a person
//! reads in the desk is what their encrypted copy said.

use jiff::Timestamp;
use modtag_router::cpr::Cpr;
use modtag_storage::records::{DecisionRecord, Item, RoutedTo, Transport};

use super::{desk_kinds, Person};

/// Roles on the institution's side of trin 0-2: they get the original only when the person
/// deciding chose to attach it (and never a citizen's).
pub const INSTITUTION_ROLES: [&str; 3] = ["lokal_leder", "boerneskoleraadgiver", "privat_leder"];

/// Roles whose copy is the whole intake: the desks' own mailboxes and leader, and the case's
/// rådgiver, who takes the case on.
const WHOLE: [&str; 4] = ["modtagelsen", "modtagelsen_leder", "journalen", "raadgiver"];

/// How `p` sees an intake.
#[derive(Debug, Clone, PartialEq)]
pub enum Sight {
    /// All of it: the owning desk, or the case's rådgiver.
    Full,
    /// What the decision sent them as `role`; the original only when `original`.
    Sent { role: String, original: bool },
    /// It was sent to them, and a new assessment at `at` no longer sends it.
    Ended { at: Timestamp },
}

/// An intake as one person may see it: `item` holds only what `sight` allows (everything
/// else empty), so whatever renders it cannot show more.
#[derive(Debug, Clone)]
pub struct View {
    pub sight: Sight,
    pub item: Item,
}

impl View {
    /// Whether the message's text and attachments may be read again for this person.
    pub fn reads_original(&self) -> bool {
        match &self.sight {
            Sight::Full => true,
            Sight::Sent { original, .. } => *original,
            Sight::Ended { .. } => false,
        }
    }
}

/// Whether a copy for `role` is the whole intake.
pub fn gets_whole(role: &str) -> bool {
    WHOLE.contains(&role)
}

/// Whether a copy for `role` carries the original message: always for [`gets_whole`] roles;
/// otherwise only a professional's, and on the institution's side only when the decision
/// chose to attach it and the sender is known (issue 26: "som fagperson" is anyone's to
/// write, and a citizen's identity must never reach an institution on such a claim).
pub fn gets_original(role: &str, item: &Item) -> bool {
    if gets_whole(role) {
        return true;
    }
    let professional = item.understanding.reporter.kind == "professional";
    let attached = item.decision.as_ref().is_some_and(|d| d.attach_original);
    if INSTITUTION_ROLES.contains(&role) {
        professional && attached && item.sender_known()
    } else {
        professional
    }
}

/// Whether `p` works `item` (decides, corrects, closes, books): the desk of its kind, or the
/// døgnvagt an escalation handed it to outside office hours.
pub fn works(p: &Person, item: &Item) -> bool {
    desk_kinds(p).contains(&item.kind) || handed_to(p, item)
}

/// An underretning the escalation gave to this member of the døgnvagt: outside office hours
/// Modtagelsen's assessment is theirs, until it is made (by them, or by Modtagelsen, after
/// which what the decision routes decides, as for anyone).
fn handed_to(p: &Person, item: &Item) -> bool {
    let escalated = p
        .directory_id
        .as_ref()
        .is_some_and(|me| item.escalations.iter().any(|e| e.to.contains(me)));
    let still_theirs =
        item.state.awaits_assessment() || item.decision.as_ref().is_some_and(|d| d.actor == p.user);
    p.has("doegnvagt") && item.kind.routing() == "underretning" && escalated && still_theirs
}

/// Who the intake's routing sends it to now, with their role: the decision's recipients, or
/// before any decision the rådgiver the mechanical rule forwarded it to (the only copy that
/// goes out without one).
fn routed_now(item: &Item) -> Vec<(&str, &str)> {
    match &item.decision {
        Some(d) => d
            .recipients
            .iter()
            .map(|r| (r.person.as_str(), r.role.as_str()))
            .collect(),
        None => item
            .sent_to
            .iter()
            .map(|p| (p.as_str(), "raadgiver"))
            .collect(),
    }
}

/// Whether the intake's routing sends it to `me` (a directory id) now.
pub fn routed_to(item: &Item, me: &str) -> bool {
    routed_now(item).iter().any(|(who, _)| *who == me)
}

/// How `p` sees `item`, or `None` when they have no reason to see it at all.
pub fn sight(p: &Person, item: &Item) -> Option<Sight> {
    if works(p, item) {
        return Some(Sight::Full);
    }
    let me = p.directory_id.as_deref()?;
    if let Some((_, role)) = routed_now(item).into_iter().find(|(who, _)| *who == me) {
        return Some(if role == "raadgiver" {
            Sight::Full
        } else {
            Sight::Sent {
                role: role.to_string(),
                original: gets_original(role, item),
            }
        });
    }
    item.sent_to.iter().any(|s| s == me).then(|| Sight::Ended {
        at: ended_at(item, me),
    })
}

/// When the routing stopped sending `item` to `me`: the assessment after the last decision
/// that named them (or the first assessment, for the rådgiver the mechanical rule chose).
fn ended_at(item: &Item, me: &str) -> Timestamp {
    let mut decisions: Vec<(&DecisionRecord, Timestamp)> = item
        .earlier_decisions
        .iter()
        .map(|e| (&e.decision, e.replaced_at))
        .collect();
    if let Some(d) = &item.decision {
        decisions.push((d, d.at));
    }
    let named = |d: &DecisionRecord| d.recipients.iter().any(|r| r.person == me);
    match decisions.iter().rposition(|(d, _)| named(d)) {
        Some(i) => decisions[i].1,
        None => decisions.first().map_or(item.received_at, |(d, _)| d.at),
    }
}

/// What `p` may see of `item`, or `None` (then say "not found", as for no such intake).
pub fn view(p: &Person, item: &Item) -> Option<View> {
    let sight = sight(p, item)?;
    let item = match &sight {
        Sight::Full => item.clone(),
        Sight::Sent { original, .. } => as_sent(item, p.directory_id.as_deref(), *original),
        Sight::Ended { .. } => bare(item),
    };
    Some(View { sight, item })
}

/// CPR numbers as lists and recipients may see them (`DDMMYY-XXXX`); one masked already
/// stays as it is.
pub fn masked(cprs: &[String]) -> Vec<String> {
    cprs.iter()
        .filter_map(|c| match Cpr::parse(c) {
            Some(cpr) => Some(cpr.masked()),
            None => c.ends_with("-XXXX").then(|| c.clone()),
        })
        .collect()
}

/// The reference and dates only.
fn bare(item: &Item) -> Item {
    let mut out = Item::received(
        &item.reference,
        item.channel,
        item.kind,
        item.received_at,
        item.deadline,
        Transport::default(),
    );
    out.state = item.state;
    out
}

/// What a recipient's copy said, as an item.
fn as_sent(item: &Item, me: Option<&str>, original: bool) -> Item {
    let mut out = bare(item);
    out.cprs = masked(&item.cprs);
    out.understanding.reporter.kind = item.understanding.reporter.kind.clone();
    if original {
        // The original names its (professional) writer, so the item may too.
        out.understanding.reporter = item.understanding.reporter.clone();
        out.understanding.reporter.reason = String::new();
        out.subject = item.subject.clone();
        out.from = item.from.clone();
        out.attachments = item.attachments.clone();
    }
    out.decision = item.decision.as_ref().map(as_sent_decision);
    // The forløb is the leaders' to answer in; it holds the staff they and the institution
    // named, not the reporter.
    out.forloeb = item.forloeb.clone();
    out.taken_over = item
        .taken_over
        .iter()
        .filter(|t| Some(t.person.as_str()) == me)
        .cloned()
        .collect();
    out.sent_to = me.map(str::to_string).into_iter().collect();
    out
}

/// The decision as a recipient reads it: the trin, the screening and recommendation, the
/// outcome, the consent, and the others it went to by role only. Every field is named here
/// on purpose (no `..d.clone()`): a field added to the record later does not reach a
/// recipient until someone decides it may.
fn as_sent_decision(d: &DecisionRecord) -> DecisionRecord {
    let mut roles: Vec<RoutedTo> = Vec::new();
    for r in &d.recipients {
        if !roles.iter().any(|k| k.role == r.role) {
            roles.push(RoutedTo {
                role: r.role.clone(),
                person: String::new(),
                rule: String::new(),
            });
        }
    }
    DecisionRecord {
        at: d.at,
        actor: d.actor.clone(),
        existing_case: false,
        case_number: None,
        trin: d.trin,
        consent: d.consent,
        area: d.area.clone(),
        institution: d.institution.clone(),
        akut: d.akut,
        out_of_hours: d.out_of_hours,
        udskoling: d.udskoling,
        note: d.note.clone(),
        consent_record: d.consent_record.clone(),
        tree_hash: String::new(),
        recipients: roles,
        actions: d
            .actions
            .iter()
            .filter(|a| a.starts_with("recommend_"))
            .cloned()
            .collect(),
        refused: None,
        screening_outcome: d.screening_outcome.clone(),
        attach_original: d.attach_original,
    }
}

#[cfg(test)]
mod tests {
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
            kind: kind.into(),
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
}
