//! A private institution's TRIVSEL+ forløb after Journalen's forward (issue 16, flow 2,
//! steps 3-5), as plans on the item like every workflow step: each leader's answer with the
//! staff who join goes to the institution's registered address (its leader in the
//! directory: encrypted to a certificate, else only over TLS); the private leader's list of
//! participants is linked; the administration books the first meeting in an allotted slot
//! and everyone is invited by calendar; a step left too long reminds its owner.
//!
//! Never sends and never reads the clock: the effects go into the caller's `Batch`.

use jiff::civil::DateTime;
use jiff::{SignedDuration, Timestamp};
use modtag_config::{Channel, Kind, Loaded};
use modtag_router::{deadline, startmoede};
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::forloeb::{
    Cancelled, Forloeb, LeaderAnswer, Meeting, Participant, ParticipantList, StepReminder,
};
use modtag_storage::records::{Item, OutboxEntry};
use modtag_storage::store::{Batch, IdSource};
use modtag_storage::{Store, StoreError};
use serde_json::json;

use crate::delivery::compose::{self, PlainTo};
use crate::delivery::ical::{self, Invitation};
use crate::understand::Reading;

/// Where a forløb stands: whose move it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The leaders forwarded to are to answer with their staff.
    Answers,
    /// Every leader has answered: the private leader sends the list of participants.
    List,
    /// The list is in: the administration (Journalen) books the first meeting.
    Booking,
    /// The first meeting is booked.
    Booked,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Answers => "svar",
            Step::List => "deltagerliste",
            Step::Booking => "booking",
            Step::Booked => "booket",
        }
    }
}

/// The leaders a forløb waits for: those Journalen's forward went to.
pub fn leaders(item: &Item) -> Vec<String> {
    item.decision
        .iter()
        .flat_map(|d| d.recipients.iter().map(|r| r.person.clone()))
        .collect()
}

pub fn step(item: &Item, f: &Forloeb) -> Step {
    if f.meeting.as_ref().is_some_and(|m| m.cancelled.is_none()) {
        Step::Booked
    } else if !f.lists.is_empty() {
        Step::Booking
    } else if leaders(item)
        .iter()
        .all(|l| f.answers.iter().any(|a| &a.person == l))
    {
        Step::List
    } else {
        Step::Answers
    }
}

fn remind_after(cfg: &Loaded) -> SignedDuration {
    SignedDuration::from_hours(cfg.config.trivsel.remind_after_days * 24)
}

/// After a step: the next one's owner is reminded if it waits too long.
fn advanced(cfg: &Loaded, item: &mut Item, now: Timestamp) {
    let Some(mut f) = item.forloeb.take() else {
        return;
    };
    f.step_due = (step(item, &f) != Step::Booked).then(|| now + remind_after(cfg));
    item.forloeb = Some(f);
}

/// Journalen's forward begins the forløb: a private institution's TRIVSEL+ that went to
/// at least one leader.
pub fn begin(cfg: &Loaded, item: &mut Item, now: Timestamp) {
    let private = item
        .decision
        .as_ref()
        .and_then(|d| cfg.directory.institution(d.institution.as_deref()?))
        .is_some_and(|i| i.area.starts_with("privat_"));
    if private && item.forloeb.is_none() && !leaders(item).is_empty() {
        item.forloeb = Some(Forloeb::default());
        advanced(cfg, item, now);
    }
}

/// The participant-list mailbox's address, for the institution to send its list to.
pub fn list_address(cfg: &Loaded) -> Option<&str> {
    cfg.config
        .mailboxes
        .iter()
        .find(|m| m.channel == Channel::Deltagerliste)
        .map(|m| m.address.as_str())
}

/// The private institution's leader: its registered address (directory person).
fn institution_leader<'a>(cfg: &'a Loaded, item: &Item) -> Option<&'a modtag_config::Person> {
    let id = item.decision.as_ref()?.institution.as_deref()?;
    cfg.directory.person(&cfg.directory.institution(id)?.leader)
}

/// The forløb a participant list belongs to: the reference in its subject, else the one
/// open forløb of the sender's institution (by a CVR in the text, the sender's domain or
/// leader's address) still without a list, the list's names deciding between several.
pub fn find_forloeb(
    store: &Store,
    cfg: &Loaded,
    reading: &Reading,
) -> Result<Option<(String, &'static str)>, StoreError> {
    if let Some(r) = reading.subject.as_deref().and_then(reference_in) {
        if store.item(&r)?.is_some_and(|i| i.forloeb.is_some()) {
            return Ok(Some((r, "reference")));
        }
    }
    let sender = reading
        .from
        .as_deref()
        .and_then(participant_address)
        .unwrap_or_default();
    let domain = sender.rsplit_once('@').map_or("", |(_, d)| d);
    let by_cvr = reading
        .understanding
        .cvrs
        .iter()
        .find_map(|c| c.institution.clone());
    let by_sender = cfg.directory.institutions.values().find(|i| {
        i.domains
            .iter()
            .any(|d| domain.eq_ignore_ascii_case(d) || domain.ends_with(&format!(".{d}")))
            || cfg
                .directory
                .person(&i.leader)
                .is_some_and(|p| !sender.is_empty() && p.email.eq_ignore_ascii_case(&sender))
    });
    let Some(institution) = by_cvr.or_else(|| by_sender.map(|i| i.id.clone())) else {
        return Ok(None);
    };
    // Only open forløb wait for a step: their clear summaries say so, nothing else is read.
    let refs: Vec<String> = store
        .summaries_by_reference()?
        .into_iter()
        .filter(|(_, s)| s.kind == Kind::Trivselplus && s.state.is_open() && s.step_due.is_some())
        .map(|(r, _)| r)
        .collect();
    let items = store.items_by_reference(&refs)?;
    let waiting: Vec<&Item> = items
        .iter()
        .filter(|i| {
            i.decision.as_ref().and_then(|d| d.institution.as_deref()) == Some(&institution)
                && i.forloeb.as_ref().is_some_and(|f| f.lists.is_empty())
        })
        .collect();
    if let [one] = waiting.as_slice() {
        return Ok(Some((one.reference.clone(), "cvr")));
    }
    let text = reading.text.to_lowercase();
    let named: Vec<&&Item> = waiting
        .iter()
        .filter(|i| {
            let known = i
                .forloeb
                .as_ref()
                .map(known_participants)
                .unwrap_or_default();
            !known.is_empty() && known.iter().all(|p| text.contains(&p.email.to_lowercase()))
        })
        .collect();
    Ok(match named.as_slice() {
        [one] => Some((one.reference.clone(), "cvr og navne")),
        _ => None,
    })
}

/// An intake reference (`MT-2026-000123`) in a subject.
fn reference_in(subject: &str) -> Option<String> {
    let b = subject.as_bytes();
    (0..b.len().saturating_sub(13)).find_map(|i| {
        let w = &b[i..i + 14];
        let digits = |r: std::ops::Range<usize>| w[r].iter().all(u8::is_ascii_digit);
        (w[..3].eq_ignore_ascii_case(b"MT-") && digits(3..7) && w[7] == b'-' && digits(8..14))
            .then(|| String::from_utf8_lossy(w).to_ascii_uppercase())
    })
}

fn participant_address(from: &str) -> Option<String> {
    let word = from
        .split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | '(' | ')'))
        .find(|w| w.contains('@'))?;
    Some(word.parse::<lettre::Address>().ok()?.to_string())
}

/// Lines of `Navn <e-post>` (or `Navn, e-post`), one person each, as a person types them in
/// a form; an error names the line and what is wrong.
pub fn parse_participants(text: &str) -> Result<Vec<Participant>, String> {
    let mut out: Vec<Participant> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let p = participant(line).ok_or_else(|| {
            format!(
                "Linje {}: skriv navn og e-postadresse, fx \"Anne Jensen <anne.jensen@kommune.dk>\".",
                n + 1
            )
        })?;
        if !out.iter().any(|o| o.email.eq_ignore_ascii_case(&p.email)) {
            out.push(p);
        }
    }
    if out.is_empty() {
        return Err("Skriv mindst én deltager med navn og e-postadresse.".into());
    }
    Ok(out)
}

/// Every line of a mail that holds a name and an address: the private leader's list.
pub fn find_participants(text: &str) -> Vec<Participant> {
    let mut out: Vec<Participant> = Vec::new();
    for line in text.lines().filter_map(|l| participant(l.trim())) {
        if !out
            .iter()
            .any(|o| o.email.eq_ignore_ascii_case(&line.email))
        {
            out.push(line);
        }
    }
    out
}

fn participant(line: &str) -> Option<Participant> {
    let line = line.trim_start_matches(['-', '*', '•', ' ']);
    let word = line
        .split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | '(' | ')'))
        .find(|w| w.contains('@'))?;
    let email = participant_address(word.trim_matches(['.', ':']))?;
    let name: String = line
        .replace(word, " ")
        .chars()
        .filter(|c| !matches!(c, '<' | '>' | ',' | ';' | '(' | ')' | ':') && !c.is_control())
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty() && name.chars().count() <= 200).then_some(Participant { name, email })
}

/// What the leader's answer tells the private institution; no child, only the staff.
fn answer_text(
    cfg: &Loaded,
    item: &Item,
    leader: &str,
    staff: &[Participant],
    note: &str,
) -> String {
    let names: Vec<String> = staff
        .iter()
        .map(|p| format!("  {} <{}>", p.name, p.email))
        .collect();
    format!(
        "Svar på jeres TRIVSEL+ ({reference}) fra {leader}.\n\n\
         Disse medarbejdere deltager i det tværfaglige udførerteam:\n{names}\n{note}\n\
         Når I har navnene fra alle lederne, sender I listen over deltagere til {to} \
         med referencen {reference} i emnet. Administrationen booker derefter det første møde.\n",
        reference = item.reference,
        names = names.join("\n"),
        note = if note.trim().is_empty() {
            String::new()
        } else {
            format!("\nBesked fra lederen:\n{}\n", note.trim())
        },
        to = list_address(cfg).unwrap_or("kommunens adresse for deltagerlister"),
    )
}

/// A leader's answer (step 3): recorded on the forløb and sent to the institution. A second
/// answer from the same leader replaces the staff and is sent again.
#[allow(clippy::too_many_arguments)]
pub fn answer(
    ids: &dyn IdSource,
    cfg: &Loaded,
    item: &mut Item,
    leader: &str,
    user: &str,
    staff: Vec<Participant>,
    note: &str,
    batch: &mut Batch,
    now: Timestamp,
) -> Result<Result<(), String>, StoreError> {
    if item.forloeb.is_none() || !leaders(item).iter().any(|l| l == leader) {
        return Ok(Err("Forløbet venter ikke på et svar fra dig.".into()));
    }
    let Some(to) = institution_leader(cfg, item) else {
        return Ok(Err(
            "Institutionen har ingen leder med adresse i kataloget: bed Journalen svare.".into(),
        ));
    };
    let leader_name = cfg
        .directory
        .person(leader)
        .map_or(leader.to_string(), |p| p.name.clone());
    let text = answer_text(cfg, item, &leader_name, &staff, note);
    let entry = compose::private_entry(
        ids,
        cfg,
        &item.reference,
        PlainTo {
            role: "privat_leder",
            person: &to.id,
            email: &to.email,
        },
        to.cert.as_ref(),
        &format!("Svar på TRIVSEL+ {}", item.reference),
        &text,
        now,
    )?;
    let encrypted = !entry.require_tls;
    batch.audit(
        Event::new(EventKind::LeaderAnswered, user, "trivselplus")
            .reference(&item.reference)
            .details(json!({
                "leader": leader, "staff": staff.len(), "to": to.id,
                "encrypted": encrypted, "outbox_id": entry.id,
            })),
    );
    let f = item.forloeb.as_mut().expect("checked above");
    f.answers.retain(|a| a.person != leader);
    f.answers.push(LeaderAnswer {
        person: leader.to_string(),
        user: user.to_string(),
        at: now,
        staff,
        outbox_id: entry.id,
        encrypted,
    });
    batch.outbox(entry);
    advanced(cfg, item, now);
    Ok(Ok(()))
}

/// The private leader's list (step 4), received as intake `list`, linked to this forløb.
pub fn link_list(
    cfg: &Loaded,
    item: &mut Item,
    list: &str,
    linked_by: &str,
    participants: Vec<Participant>,
    batch: &mut Batch,
    now: Timestamp,
) {
    batch.audit(
        Event::new(EventKind::ParticipantsLinked, linked_by, "trivselplus")
            .reference(&item.reference)
            .details(json!({ "list": list, "participants": participants.len() })),
    );
    if let Some(f) = item.forloeb.as_mut() {
        f.lists.push(ParticipantList {
            reference: list.to_string(),
            at: now,
            linked_by: linked_by.to_string(),
            participants,
        });
    }
    advanced(cfg, item, now);
}

/// Everyone known so far: the staff from the leaders' answers, then the list's people.
pub fn known_participants(f: &Forloeb) -> Vec<Participant> {
    let mut out: Vec<Participant> = Vec::new();
    let all = f
        .answers
        .iter()
        .flat_map(|a| &a.staff)
        .chain(f.lists.iter().flat_map(|l| &l.participants));
    for p in all {
        if !out.iter().any(|o| o.email.eq_ignore_ascii_case(&p.email)) {
            out.push(p.clone());
        }
    }
    out
}

/// Books (or moves) the first meeting (step 5) in the slot starting at `start`, and queues
/// an invitation to every participant and the private leader. `Err` says, in Danish, why
/// the slot or the list cannot be used; nothing is then changed.
#[allow(clippy::too_many_arguments)]
pub fn book(
    ids: &dyn IdSource,
    cfg: &Loaded,
    item: &mut Item,
    start: DateTime,
    participants: Vec<Participant>,
    actor: &str,
    batch: &mut Batch,
    now: Timestamp,
) -> Result<Result<(), String>, StoreError> {
    let Some(f) = item.forloeb.as_ref() else {
        return Ok(Err(
            "Der er intet TRIVSEL+-forløb at booke et møde til.".into()
        ));
    };
    let rules = &cfg.config.trivsel;
    let end = match startmoede::check(rules, start, item.received_at, now, &cfg.directory.calendar)
    {
        Ok(end) => end,
        Err(why) => return Ok(Err(why)),
    };
    let Some(private) = institution_leader(cfg, item) else {
        return Ok(Err(
            "Institutionens leder er ikke i kataloget, så den private leder kan ikke indkaldes."
                .into(),
        ));
    };
    let sequence = f.meeting.as_ref().map_or(0, |m| m.sequence + 1);
    let uid = format!(
        "trivselplus-{}@{}",
        item.reference.to_ascii_lowercase(),
        cfg.config.smtp.hostname
    );
    let meeting = Meeting {
        start: start.strftime("%Y-%m-%dT%H:%M").to_string(),
        end: end.strftime("%Y-%m-%dT%H:%M").to_string(),
        place: rules.place.clone(),
        participants,
        booked_by: actor.to_string(),
        booked_at: now,
        uid,
        sequence,
        cancelled: None,
    };
    let count = invite(ids, cfg, item, &meeting, private, false, batch, now)?;
    batch.audit(
        Event::new(EventKind::MeetingBooked, actor, "trivselplus")
            .reference(&item.reference)
            .details(json!({
                "start": meeting.start, "end": meeting.end, "sequence": sequence,
                "participants": meeting.participants.len(), "invitations": count,
            })),
    );
    item.forloeb.as_mut().expect("checked above").meeting = Some(meeting);
    advanced(cfg, item, now);
    Ok(Ok(()))
}

/// Cancels the booked meeting: everyone invited gets the cancellation (`METHOD:CANCEL`, the
/// same UID, the next SEQUENCE); the forløb waits for a new booking.
#[allow(clippy::too_many_arguments)]
pub fn cancel(
    ids: &dyn IdSource,
    cfg: &Loaded,
    item: &mut Item,
    actor: &str,
    reason: &str,
    batch: &mut Batch,
    now: Timestamp,
) -> Result<Result<(), String>, StoreError> {
    let Some(mut meeting) = item
        .forloeb
        .as_ref()
        .and_then(|f| f.meeting.clone())
        .filter(|m| m.cancelled.is_none())
    else {
        return Ok(Err("Der er intet booket møde at aflyse.".into()));
    };
    let Some(private) = institution_leader(cfg, item) else {
        return Ok(Err("Institutionens leder er ikke i kataloget.".into()));
    };
    meeting.sequence += 1;
    meeting.cancelled = Some(Cancelled {
        by: actor.to_string(),
        at: now,
        reason: reason.to_string(),
    });
    let count = invite(ids, cfg, item, &meeting, private, true, batch, now)?;
    batch.audit(
        Event::new(EventKind::MeetingCancelled, actor, "trivselplus")
            .reference(&item.reference)
            .details(
                json!({ "start": meeting.start, "sequence": meeting.sequence,
                "cancellations": count, "reason": reason }),
            ),
    );
    item.forloeb.as_mut().expect("checked above").meeting = Some(meeting);
    advanced(cfg, item, now);
    Ok(Ok(()))
}

/// One mail per attendee (and the organizer, Journalen, for its calendar), each with the
/// whole invitation. It names the meeting by the reference only: no child.
#[allow(clippy::too_many_arguments)]
fn invite(
    ids: &dyn IdSource,
    cfg: &Loaded,
    item: &Item,
    meeting: &Meeting,
    private: &modtag_config::Person,
    cancel: bool,
    batch: &mut Batch,
    now: Timestamp,
) -> Result<usize, StoreError> {
    let organizer = cfg.directory.with_role("journalen").into_iter().next();
    let (org_name, org_email) = organizer
        .map_or(("Journalen", cfg.config.relay.from.as_str()), |p| {
            (p.name.as_str(), p.email.as_str())
        });
    let mut people: Vec<(&str, &str)> = meeting
        .participants
        .iter()
        .map(|p| (p.name.as_str(), p.email.as_str()))
        .collect();
    if !people
        .iter()
        .any(|(_, e)| e.eq_ignore_ascii_case(&private.email))
    {
        people.push((&private.name, &private.email));
    }
    let attendees: Vec<ical::Person> = people
        .iter()
        .map(|(name, email)| ical::Person { name, email })
        .collect();
    let summary = format!("TRIVSEL+ opstartsmøde ({})", item.reference);
    let description = format!(
        "Første møde i det tværfaglige udførerteam for TRIVSEL+ {}. Sted: {}.",
        item.reference, meeting.place
    );
    let parse = |s: &str| s.parse::<DateTime>().expect("stored as a civil time");
    let ics = ical::calendar(&Invitation {
        uid: &meeting.uid,
        sequence: meeting.sequence,
        cancel,
        summary: &summary,
        description: &description,
        start: parse(&meeting.start),
        end: parse(&meeting.end),
        organizer: ical::Person {
            name: org_name,
            email: org_email,
        },
        attendees: &attendees,
        stamp: now,
    });
    let text = format!(
        "{}{summary}\n{} {}-{}\n{}\n\nInvitationen er vedhæftet som kalenderaftale.\n",
        if cancel { "AFLYST: " } else { "" },
        &meeting.start[..10],
        &meeting.start[11..],
        &meeting.end[11..],
        meeting.place,
    );
    let subject = if cancel {
        format!("Aflyst: {summary}")
    } else {
        summary.clone()
    };
    let mut to: Vec<(&str, &str)> = people;
    to.push((org_name, org_email));
    for (_, email) in &to {
        let id = ids.next_id()?;
        let message = compose::invitation(cfg, &meeting.uid, id, email, &subject, &text, &ics, now);
        batch.outbox(OutboxEntry::new(
            id,
            &item.reference,
            ("opstartsmoede", "deltager", email),
            message,
            now,
        ));
    }
    Ok(to.len())
}

/// Reminds the owner of a step left too long (at most once per `remind_after_days`):
/// leaders who have not answered, the private leader for the list, Journalen for the
/// booking. Plain notices with the reference, dates and where to act; nothing else.
pub fn remind(
    ids: &dyn IdSource,
    cfg: &Loaded,
    item: &mut Item,
    batch: &mut Batch,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let Some(f) = item.forloeb.as_ref() else {
        return Ok(false);
    };
    if f.step_due.is_none_or(|due| due > now) {
        return Ok(false);
    }
    let st = step(item, f);
    let url = cfg.config.http.desk_url();
    let r = &item.reference;
    let latest = startmoede::window(&cfg.config.trivsel, item.received_at, now).1;
    let (people, subject, body): (Vec<&modtag_config::Person>, String, String) =
        match st {
            Step::Answers => (
                leaders(item)
                    .iter()
                    .filter(|l| !f.answers.iter().any(|a| &a.person == *l))
                    .filter_map(|l| cfg.directory.person(l))
                    .collect(),
                format!("Påmindelse: TRIVSEL+ {r} venter på dit svar"),
                format!(
                "TRIVSEL+ {r} blev sendt til dig {}.\nSvar med de medarbejdere, der deltager i \
                 det tværfaglige udførerteam:\n\n{url}/koe/{r}\n",
                item.decision.as_ref().map_or(String::new(), |d| deadline::local(d.at))
            ),
            ),
            Step::List => (
                institution_leader(cfg, item).into_iter().collect(),
                format!("Påmindelse: deltagerlisten til TRIVSEL+ {r}"),
                format!(
                "Kommunen mangler listen over deltagere til TRIVSEL+ {r}.\nSend den til {} med \
                 {r} i emnet. Det første møde skal holdes senest {}.\n",
                list_address(cfg).unwrap_or("kommunens adresse for deltagerlister"),
                latest.strftime("%d.%m.%Y")
            ),
            ),
            Step::Booking => (
                cfg.directory.with_role("journalen"),
                format!("Påmindelse: book det første møde for TRIVSEL+ {r}"),
                format!(
                "Deltagerlisten til TRIVSEL+ {r} er modtaget. Book det første møde senest {}:\n\n\
                 {url}/koe/{r}/moede\n",
                latest.strftime("%d.%m.%Y")
            ),
            ),
            Step::Booked => (Vec::new(), String::new(), String::new()),
        };
    let mut to = Vec::new();
    for p in people {
        let entry = compose::plain_entry(
            ids,
            cfg,
            r,
            PlainTo {
                role: st.name(),
                person: &p.id,
                email: &p.email,
            },
            &subject,
            &body,
            now,
        )?;
        batch.outbox(entry);
        to.push(p.id.clone());
    }
    batch.audit(
        Event::new(EventKind::StepReminded, "system", "trivselplus")
            .reference(r)
            .details(json!({ "step": st.name(), "to": to })),
    );
    let f = item.forloeb.as_mut().expect("checked above");
    f.reminders.push(StepReminder {
        step: st.name().to_string(),
        at: now,
        to,
    });
    f.step_due = (st != Step::Booked).then(|| now + remind_after(cfg));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participants_from_a_form_and_from_a_mail() {
        let typed = "Anne Jensen <anne.jensen@kommune.dk>\n\n  Bo Ås, bo.aas@kommune.dk\n";
        let got = parse_participants(typed).unwrap();
        assert_eq!(
            got,
            vec![
                Participant {
                    name: "Anne Jensen".into(),
                    email: "anne.jensen@kommune.dk".into()
                },
                Participant {
                    name: "Bo Ås".into(),
                    email: "bo.aas@kommune.dk".into()
                },
            ]
        );
        let e = parse_participants("Anne Jensen <anne.jensen@kommune.dk>\nBo uden adresse")
            .unwrap_err();
        assert!(e.starts_with("Linje 2"), "{e}");
        assert!(parse_participants(" \n").is_err());
        assert!(
            parse_participants("<anne@kommune.dk>").is_err(),
            "a name is needed"
        );

        let mail = "Hej\r\n\r\nHer er deltagerne:\r\n- Anne Jensen (anne.jensen@kommune.dk)\r\n\
                    * Ole Krog: leder@mariehoenen.dk\r\nVenlig hilsen\r\nOle\r\n";
        let found = find_participants(mail);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[1].name, "Ole Krog");
    }

    #[test]
    fn a_reference_is_found_in_a_subject() {
        assert_eq!(
            reference_in("Sv: Deltagere til mt-2026-000123, tak").as_deref(),
            Some("MT-2026-000123")
        );
        assert_eq!(reference_in("MT-2026-00012"), None);
        assert_eq!(reference_in("Deltagere"), None);
    }
}
