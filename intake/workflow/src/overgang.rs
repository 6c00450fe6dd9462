//! Flow 4 (issue 16): a child's case in Familieafdelingen moves back to a trin-2 TRIVSEL+
//! forløb. Refused, with every reason at once, until both consents are recorded (to
//! activate the beslutningstræ; to share the current forløb's information), the measures
//! have ended, and the first TRIVSEL+ meeting falls within `first_meeting_days` with
//! `notice_days`' notice. Then the tree's `overgang` rules route it as any trin-2 forløb
//! (the rådgiver, who attends to hand over, and the lokal leder, or on the folkeskole area
//! the Børneskolerådgivere), each gets the hand-over encrypted to their
//! certificate, and both are invited to the first meeting by calendar, organized by the
//! rådgiver. Once per return from trin 3/4: the case records it, and the same overgang
//! posted again sends nothing; a new one needs measures that ended after it.
//! A plan like every workflow step: the effects go into a `Batch`.

use jiff::civil::{Date, DateTime};
use jiff::Timestamp;
use modtag_config::Loaded;
use modtag_config::RouteKind;
use modtag_router::{calendar, deadline, route, startmoede, Facts};
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::forloeb::OvergangSent;
use modtag_storage::records::{Case, Consent, OutboxEntry};
use modtag_storage::store::{Batch, IdSource};
use modtag_storage::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::compose::{self, PlainTo};
use crate::ical::{self, Invitation};

/// What the person records for the overgang (the API's body).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OvergangInput {
    /// Consent to activate the beslutningstræ on trin 2.
    pub consent: Option<ConsentInput>,
    /// Consent to share the current forløb's information.
    pub consent_share: Option<ConsentInput>,
    /// The day the measures on trin 3/4 ended.
    pub measures_ended: Option<Date>,
    /// The first TRIVSEL+ meeting, local time (`2026-12-10T09:00`), and how long it is.
    pub first_meeting: Option<DateTime>,
    pub minutes: Option<u16>,
    pub place: Option<String>,
    pub note: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsentInput {
    /// Who gave it (`forældre`, `den unge` ...) and how (`skriftligt`, `mundtligt` ...).
    pub given_by: String,
    pub how: String,
    /// When; now when left out.
    pub at: Option<Timestamp>,
}

/// What the overgang did, for the answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Activated {
    pub case_number: String,
    pub first_meeting: String,
    /// Directory ids told and invited, with their roles.
    pub recipients: Vec<(String, String)>,
    pub invitations: usize,
    /// Sent before, at this time (the same overgang posted again): nothing was sent now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub already: Option<Timestamp>,
}

fn consent(c: &Option<ConsentInput>, scope: &str, now: Timestamp) -> Option<Consent> {
    c.as_ref()
        .filter(|c| !c.given_by.trim().is_empty() && !c.how.trim().is_empty())
        .map(|c| Consent {
            given_by: c.given_by.trim().to_string(),
            how: c.how.trim().to_string(),
            at: c.at.unwrap_or(now),
            scope: scope.to_string(),
        })
}

/// The overgang of `case` as a batch, or every reason it is refused (in Danish).
pub fn plan(
    ids: &dyn IdSource,
    cfg: &Loaded,
    case: &Case,
    input: &OvergangInput,
    actor: &str,
    now: Timestamp,
) -> Result<Result<(Batch, Activated), Vec<String>>, StoreError> {
    let activate = consent(
        &input.consent,
        "aktivering af beslutningstræet på trin 2",
        now,
    );
    let share = consent(&input.consent_share, "deling af forløbets oplysninger", now);
    if let Some(sent) = case.overgang.as_ref().filter(|s| !new_episode(s, input)) {
        return Ok(sent_before(case, sent, input));
    }
    let mut refused = refusals(cfg, input, activate.is_some(), share.is_some(), now);
    let facts = Facts {
        kind: RouteKind::Overgang,
        trin: Some(2),
        area: case.area.clone(),
        institution: case.institution.clone(),
        raadgiver: Some(case.raadgiver.clone()),
        existing_case: true,
        consent: activate.is_some(),
        consent_share: share.is_some(),
        ..Facts::default()
    };
    let decision = route(&facts, &cfg.tree, &cfg.directory);
    // The tværfaglige team on trin 2 needs its contact (the lokal leder, or the
    // Børneskolerådgivere) besides the rådgiver who hands over.
    let team = (decision.recipients.iter()).any(|r| r.person != case.raadgiver);
    if refused.is_empty() && !team {
        refused.push(format!(
            "Beslutningstræet finder ingen til det tværfaglige team på trin 2 for sagens institution: {}",
            decision
                .refused
                .as_deref()
                .unwrap_or("ret sagens institution i sagssystemet, og indlæs sagerne igen.")
        ));
    }
    if !refused.is_empty() {
        return Ok(Err(refused));
    }
    let start = input.first_meeting.expect("checked above");
    let end =
        start + jiff::Span::new().minutes(i64::from(input.minutes.unwrap_or(90).clamp(15, 480)));
    let place = input
        .place
        .clone()
        .unwrap_or_else(|| cfg.config.trivsel.place.clone());
    let mut batch = Batch::new();
    let when = start.strftime("%d.%m.%Y kl. %H:%M").to_string();
    for entry in handovers(
        ids,
        cfg,
        case,
        input,
        &decision.recipients,
        (&when, &place),
        now,
    )? {
        batch.outbox(entry);
    }
    let invitations = invite(
        ids,
        cfg,
        case,
        &decision.recipients,
        (start, end),
        &place,
        &mut batch,
        now,
    )?;
    let recipients: Vec<(String, String)> = decision
        .recipients
        .iter()
        .map(|r| (r.person.clone(), r.role.clone()))
        .collect();
    batch.audit(
        Event::new(EventKind::OvergangActivated, actor, "overgang").details(json!({
            "case_number": case.case_number,
            "consent": activate,
            "consent_share": share,
            "measures_ended": input.measures_ended,
            "first_meeting": start.to_string(),
            "recipients": recipients,
            "tree_hash": decision.tree_hash,
            "note": input.note,
        })),
    );
    let first_meeting = start.strftime("%Y-%m-%dT%H:%M").to_string();
    let mut case = case.clone();
    case.overgang = Some(OvergangSent {
        at: now,
        by: actor.to_string(),
        first_meeting: first_meeting.clone(),
        recipients: recipients.clone(),
    });
    batch.case(case.clone());
    Ok(Ok((
        batch,
        Activated {
            case_number: case.case_number,
            first_meeting,
            recipients,
            invitations,
            already: None,
        },
    )))
}

/// Whether the measures ended after the last overgang's first meeting (so after it was
/// sent, too): the child was back on trin 3/4 since (a child may move between the trin more
/// than once), and this is a new overgang, not the last one posted again nor a way to move
/// its meeting, which is still ahead while no such day can be given (a day in the future is
/// refused on its own).
fn new_episode(sent: &OvergangSent, input: &OvergangInput) -> bool {
    let Some(met) = first_meeting_day(sent) else {
        return false;
    };
    let handed_over = sent.at.to_zoned(calendar::tz()).date();
    input
        .measures_ended
        .is_some_and(|d| d > met.max(handed_over))
}

/// The day of the last overgang's first meeting.
fn first_meeting_day(sent: &OvergangSent) -> Option<Date> {
    sent.first_meeting.get(..10)?.parse().ok()
}

/// A case whose overgang was sent: the same one posted again (a second click, a reload)
/// is answered as it was, with nothing sent; another first meeting is refused, since the
/// hand-over and the invitations are out.
fn sent_before(
    case: &Case,
    sent: &OvergangSent,
    input: &OvergangInput,
) -> Result<(Batch, Activated), Vec<String>> {
    let asked = (input.first_meeting).map(|t| t.strftime("%Y-%m-%dT%H:%M").to_string());
    if asked.as_deref() != Some(sent.first_meeting.as_str()) {
        return Err(vec![format!(
            "Sag {} overgik allerede til trin 2 den {}, med første møde {}: overdragelsen og \
             invitationerne er sendt og sendes ikke igen. Skal mødet flyttes, så aftal det med \
             deltagerne. Har barnet siden været på trin 3/4 igen, så angiv den dag, de nye \
             foranstaltninger sluttede (senere end {}).",
            case.case_number,
            deadline::dated(sent.at),
            deadline::local_dated(&sent.first_meeting),
            first_meeting_day(sent)
                .map_or_else(String::new, |d| d.strftime("%d.%m.%Y").to_string()),
        )]);
    }
    Ok((
        Batch::new(),
        Activated {
            case_number: case.case_number.clone(),
            first_meeting: sent.first_meeting.clone(),
            recipients: sent.recipients.clone(),
            invitations: 0,
            already: Some(sent.at),
        },
    ))
}

/// Every reason, known before routing, that the overgang cannot happen yet: a consent not
/// recorded, measures not ended, a first meeting missing, too soon or too late, or on a
/// closed day. All at once, so that the person can mend them in one go.
fn refusals(
    cfg: &Loaded,
    input: &OvergangInput,
    activate: bool,
    share: bool,
    now: Timestamp,
) -> Vec<String> {
    let mut refused = Vec::new();
    if !activate {
        refused.push(
            "Samtykket til at aktivere beslutningstræet mangler (hvem gav det, og hvordan).".into(),
        );
    }
    if !share {
        refused.push("Samtykket til at dele det nuværende forløbs oplysninger mangler (hvem gav det, og hvordan).".into());
    }
    let today = now.to_zoned(calendar::tz()).date();
    match input.measures_ended {
        None => refused.push(
            "Foranstaltningerne skal være afsluttet først: angiv den dag, de sluttede.".into(),
        ),
        Some(d) if d > today => refused.push(format!(
            "Foranstaltningerne slutter {}: overgangen kan først ske derefter.",
            d.strftime("%d.%m.%Y")
        )),
        Some(_) => {}
    }
    let rules = &cfg.config.trivsel;
    match input.first_meeting {
        None => refused.push(format!(
            "Angiv det første TRIVSEL+-møde: inden for {} dage, med mindst {} dages varsel.",
            rules.first_meeting_days, rules.notice_days
        )),
        Some(start) => {
            if let Err(why) = startmoede::within(rules, start.date(), now, now) {
                refused.push(why);
            }
            if calendar::closed(start.date(), &cfg.directory.calendar) {
                refused.push(format!(
                    "{} er en lukkedag: vælg en hverdag.",
                    start.date().strftime("%d.%m.%Y")
                ));
            }
        }
    }
    refused
}

/// One message per recipient: the hand-over, encrypted, to those with a certificate; to
/// those without, a notice that names the case and the meeting and nothing of the child.
fn handovers(
    ids: &dyn IdSource,
    cfg: &Loaded,
    case: &Case,
    input: &OvergangInput,
    recipients: &[modtag_router::Recipient],
    (when, place): (&str, &str),
    now: Timestamp,
) -> Result<Vec<OutboxEntry>, StoreError> {
    let organizer = cfg.directory.person(&case.raadgiver);
    let mut entries = Vec::new();
    for r in recipients {
        let Some(person) = cfg.directory.person(&r.person) else {
            continue;
        };
        let to = PlainTo {
            role: &r.role,
            person: &person.id,
            email: &person.email,
        };
        let subject = format!("Overgang til trin 2: sag {}", case.case_number);
        let entry = match &person.cert {
            // The hand-over itself, with the child, only encrypted.
            Some(cert) => compose::private_entry(
                ids,
                cfg,
                &case.case_number,
                to,
                Some(cert),
                &subject,
                &handover(
                    case,
                    organizer.map_or(&case.raadgiver, |p| &p.name),
                    when,
                    place,
                    input,
                ),
                now,
            )?,
            None => compose::plain_entry(
                ids,
                cfg,
                &case.case_number,
                to,
                &subject,
                &format!(
                    "Sag {} overgår til et TRIVSEL+-forløb på trin 2. Første møde {when}, {place}. \
                     Oplysningerne om barnet får du af rådgiveren.\n",
                    case.case_number
                ),
                now,
            )?,
        };
        entries.push(entry);
    }
    Ok(entries)
}

/// The hand-over the rådgiver and the trin-2 team's contact get (encrypted): the child, the
/// case, the consents and the first meeting.
fn handover(
    case: &Case,
    raadgiver: &str,
    when: &str,
    place: &str,
    input: &OvergangInput,
) -> String {
    let c = |c: &Option<ConsentInput>| {
        c.as_ref()
            .map_or(String::new(), |c| format!("{}, {}", c.given_by, c.how))
    };
    format!(
        "Overgang fra Familieafdelingen til et TRIVSEL+-forløb på trin 2.\n\n\
         Barn: {} ({})\nSag: {}\nRådgiver: {raadgiver} (deltager i det første møde og overdrager)\n\
         Samtykke til at aktivere beslutningstræet: {}\n\
         Samtykke til at dele forløbets oplysninger: {}\n\
         Foranstaltningerne sluttede: {}\n\
         Første TRIVSEL+-møde: {when}, {place}\n{}",
        case.child_name,
        case.cpr,
        case.case_number,
        c(&input.consent),
        c(&input.consent_share),
        input
            .measures_ended
            .map_or(String::new(), |d| d.strftime("%d.%m.%Y").to_string()),
        if input.note.trim().is_empty() {
            String::new()
        } else {
            format!("\nBemærkning: {}\n", input.note.trim())
        },
    )
}

/// The first meeting's invitation, organized by the rådgiver, to everyone routed; it names
/// the case number only.
#[allow(clippy::too_many_arguments)]
fn invite(
    ids: &dyn IdSource,
    cfg: &Loaded,
    case: &Case,
    to: &[modtag_router::Recipient],
    (start, end): (DateTime, DateTime),
    place: &str,
    batch: &mut Batch,
    now: Timestamp,
) -> Result<usize, StoreError> {
    let organizer = cfg.directory.person(&case.raadgiver);
    let people: Vec<ical::Person> = to
        .iter()
        .filter_map(|r| cfg.directory.person(&r.person))
        .map(|p| ical::Person {
            name: &p.name,
            email: &p.email,
        })
        .collect();
    let uid = format!(
        "overgang-{}-{}@{}",
        case.case_number.to_ascii_lowercase(),
        start.strftime("%Y%m%d"),
        cfg.config.smtp.hostname
    );
    let summary = format!("TRIVSEL+ første møde (sag {})", case.case_number);
    let description = format!("Overgang til trin 2. Sted: {place}.");
    let ics = ical::calendar(&Invitation {
        uid: &uid,
        sequence: 0,
        cancel: false,
        summary: &summary,
        description: &description,
        start,
        end,
        organizer: ical::Person {
            name: organizer.map_or("Rådgiveren", |p| &p.name),
            email: organizer.map_or(cfg.config.relay.from.as_str(), |p| &p.email),
        },
        attendees: &people,
        stamp: now,
    });
    let text = format!(
        "{summary}\n{}\n{place}\n\nInvitationen er vedhæftet som kalenderaftale.\n",
        start.strftime("%d.%m.%Y kl. %H:%M")
    );
    let mail = compose::InvitationMail {
        uid: &uid,
        subject: &summary,
        text: &text,
        ics: &ics,
    };
    for p in &people {
        let to = PlainTo {
            role: "overgang",
            person: "deltager",
            email: p.email,
        };
        batch.outbox(compose::invitation_entry(
            ids,
            cfg,
            &case.case_number,
            to,
            &mail,
            now,
        )?);
    }
    Ok(people.len())
}
