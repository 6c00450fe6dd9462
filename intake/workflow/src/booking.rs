//! A TRIVSEL+ forløb's first meeting (issue 16, flow 2 step 5): booked by the
//! administration in an allotted slot within the 14-day and 5-day rules
//! (`router::startmoede`), moved (SEQUENCE one on) or cancelled (`METHOD:CANCEL`), with an
//! iCalendar invitation to every participant and the private leader. Plans only, like every
//! workflow step.

use jiff::civil::{Date, DateTime};
use jiff::Timestamp;
use modtag_config::Loaded;
use modtag_router::startmoede;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::forloeb::{Cancelled, Meeting, Participant};
use modtag_storage::records::Item;
use modtag_storage::store::{Batch, IdSource};
use modtag_storage::Store;
use modtag_storage::StoreError;
use serde_json::json;

use super::forloeb::{advanced, institution_leader};
use crate::compose;
use crate::ical::{self, Invitation};

/// The addresses among `participants` that are neither a person's of the directory, in the
/// kommune's own domains (those of its staff: the directory's people who lead no
/// institution, for a private leader's domain, even gmail.com, is not the kommune's), nor
/// in one of the forløb's institution's registered domains: invitations go there only when
/// Journalen has confirmed them (issue 26: a list from anyone offered an attacker's
/// addresses, and the invitations went to them).
pub fn unknown_addresses(cfg: &Loaded, item: &Item, participants: &[Participant]) -> Vec<String> {
    let domain = |e: &str| e.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
    let institution = item
        .decision
        .as_ref()
        .and_then(|d| d.institution.as_deref())
        .and_then(|i| cfg.directory.institution(i));
    let known = |email: &str| {
        let d = domain(email);
        let leads = |id: &str| cfg.directory.institutions.values().any(|i| i.leader == id);
        cfg.directory.people.values().any(|p| {
            p.email.eq_ignore_ascii_case(email) || (!leads(&p.id) && domain(&p.email) == d)
        }) || institution.is_some_and(|i| {
            i.domains.iter().any(|own| {
                d.as_deref()
                    .is_some_and(|d| d.eq_ignore_ascii_case(own) || d.ends_with(&format!(".{own}")))
            })
        })
    };
    participants
        .iter()
        .filter(|p| !known(&p.email))
        .map(|p| p.email.clone())
        .collect()
}

/// What Journalen has confirmed for a booking: addresses outside the directory and the
/// institution, and that a participant's other meeting at the time does not matter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Confirmed {
    pub addresses: bool,
    pub clashes: bool,
}

/// Another meeting in modtag someone is invited to (a statusmøde), for a booking's check.
#[derive(Debug, Clone)]
pub struct Busy {
    pub email: String,
    pub what: String,
    pub start: DateTime,
    pub end: DateTime,
}

/// The statusmøder on `day` and who is invited to each (none cancelled).
pub fn busy_on(store: &Store, cfg: &Loaded, day: Date) -> Result<Vec<Busy>, StoreError> {
    let year = if day.month() >= 8 {
        day.year()
    } else {
        day.year() - 1
    };
    let Some(series) = store.series(year)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for m in series.meetings.iter().filter(|m| !m.cancelled) {
        let (Ok(start), Ok(end)) = (m.start.parse::<DateTime>(), m.end.parse::<DateTime>()) else {
            continue;
        };
        if start.date() != day {
            continue;
        }
        for person in m.members.iter().filter_map(|id| cfg.directory.person(id)) {
            out.push(Busy {
                email: person.email.clone(),
                what: format!("statusmøde ({})", m.team),
                start,
                end,
            });
        }
    }
    Ok(out)
}

/// Participants with another modtag meeting overlapping `start`-`end`, in words.
fn clashes(
    participants: &[Participant],
    busy: &[Busy],
    (start, end): (DateTime, DateTime),
) -> Vec<String> {
    (busy.iter())
        .filter(|b| b.start < end && start < b.end)
        .filter_map(|b| {
            let p = participants
                .iter()
                .find(|p| p.email.eq_ignore_ascii_case(&b.email))?;
            Some(format!(
                "{} har {} kl. {}-{}",
                p.name,
                b.what,
                b.start.strftime("%H:%M"),
                b.end.strftime("%H:%M")
            ))
        })
        .collect()
}

/// Books (or moves) the first meeting (step 5) in the slot starting at `start` (unless
/// another forløb holds it: `taken`), and queues
/// an invitation to every participant and the private leader. `Err` says, in Danish, why
/// the slot or the list cannot be used; nothing is then changed. An address outside the
/// directory and the institution's domains, or a participant `busy` with another modtag
/// meeting then, is refused unless `confirmed`.
#[allow(clippy::too_many_arguments)]
pub fn book(
    ids: &dyn IdSource,
    cfg: &Loaded,
    item: &mut Item,
    (start, taken, busy): (DateTime, &[DateTime], &[Busy]),
    (participants, confirmed): (Vec<Participant>, Confirmed),
    actor: &str,
    batch: &mut Batch,
    now: Timestamp,
) -> Result<Result<(), String>, StoreError> {
    let Some(f) = item.forloeb.as_ref() else {
        return Ok(Err(
            "Der er intet TRIVSEL+-forløb at booke et møde til.".into()
        ));
    };
    // The same booking posted again (a second click, a reload of the answer): it stands,
    // and no one is invited twice.
    let standing = f.meeting.as_ref().filter(|m| m.cancelled.is_none());
    if standing.is_some_and(|m| {
        m.start == start.strftime("%Y-%m-%dT%H:%M").to_string()
            && same_people(&m.participants, &participants)
    }) {
        return Ok(Ok(()));
    }
    let unknown = unknown_addresses(cfg, item, &participants);
    if !unknown.is_empty() && !confirmed.addresses {
        return Ok(Err(format!(
            "Disse adresser er hverken i kataloget eller institutionens: {}. Tjek, at de er \
             rigtige, og sæt flueben i «Jeg har bekræftet adresserne», eller fjern dem.",
            unknown.join(", ")
        )));
    }
    let rules = &cfg.config.trivsel;
    let end = match startmoede::check(
        rules,
        start,
        (item.received_at, now),
        &cfg.directory.calendar,
        taken,
    ) {
        Ok(end) => end,
        Err(why) => return Ok(Err(why)),
    };
    let clash = clashes(&participants, busy, (start, end));
    if !clash.is_empty() && !confirmed.clashes {
        return Ok(Err(format!(
            "Mødet falder sammen med andre møder i modtag: {}. Vælg en anden tid, eller sæt \
             flueben i «Book alligevel».",
            clash.join("; ")
        )));
    }
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
    let before = f.meeting.as_ref().filter(|m| m.cancelled.is_none());
    let dropped = match before {
        Some(before) => uninvite_dropped(ids, cfg, item, (before, &meeting), batch, now)?,
        None => 0,
    };
    batch.audit(
        Event::new(EventKind::MeetingBooked, actor, "trivselplus")
            .reference(&item.reference)
            .details(json!({
                "start": meeting.start, "end": meeting.end, "sequence": sequence,
                "participants": meeting.participants.len(), "invitations": count,
                "cancellations_to_dropped": dropped,
                "unknown_addresses_confirmed": unknown.len(),
            })),
    );
    item.forloeb.as_mut().expect("checked above").meeting = Some(meeting);
    advanced(cfg, item, now);
    Ok(Ok(()))
}

/// The same people, in any order, their addresses and names in any case and spacing.
fn same_people(a: &[Participant], b: &[Participant]) -> bool {
    let key = |people: &[Participant]| {
        let mut k: Vec<(String, String)> = (people.iter())
            .map(|p| {
                let name = p.name.split_whitespace().collect::<Vec<_>>().join(" ");
                (p.email.to_lowercase(), name.to_lowercase())
            })
            .collect();
        k.sort();
        k
    };
    key(a) == key(b)
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
    send(ids, cfg, item, meeting, (people, true), cancel, batch, now)
}

/// Those a moved meeting no longer has (issue 29): each gets the cancellation of the
/// meeting as it was (its UID, the new SEQUENCE), so it leaves their calendar; no one else
/// is sent it. The number sent.
fn uninvite_dropped(
    ids: &dyn IdSource,
    cfg: &Loaded,
    item: &Item,
    (before, after): (&Meeting, &Meeting),
    batch: &mut Batch,
    now: Timestamp,
) -> Result<usize, StoreError> {
    let stays =
        |email: &str| (after.participants.iter()).any(|p| p.email.eq_ignore_ascii_case(email));
    let dropped: Vec<(&str, &str)> = (before.participants.iter())
        .filter(|p| !stays(&p.email))
        .map(|p| (p.name.as_str(), p.email.as_str()))
        .collect();
    if dropped.is_empty() {
        return Ok(0);
    }
    let old = Meeting {
        sequence: after.sequence,
        ..before.clone()
    };
    send(ids, cfg, item, &old, (dropped, false), true, batch, now)
}

/// The mails of an invitation (or its cancellation) to `people`, and a copy to the
/// organizer when `organizer_copy`.
#[allow(clippy::too_many_arguments)]
fn send(
    ids: &dyn IdSource,
    cfg: &Loaded,
    item: &Item,
    meeting: &Meeting,
    (people, organizer_copy): (Vec<(&str, &str)>, bool),
    cancel: bool,
    batch: &mut Batch,
    now: Timestamp,
) -> Result<usize, StoreError> {
    let organizer = cfg.directory.with_role("journalen").into_iter().next();
    let (org_name, org_email) = organizer
        .map_or(("Journalen", cfg.config.relay.from.as_str()), |p| {
            (p.name.as_str(), p.email.as_str())
        });
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
    if organizer_copy {
        to.push((org_name, org_email));
    }
    let mail = compose::InvitationMail {
        uid: &meeting.uid,
        subject: &subject,
        text: &text,
        ics: &ics,
    };
    for (_, email) in &to {
        let to = compose::PlainTo {
            role: "opstartsmoede",
            person: "deltager",
            email,
        };
        batch.outbox(compose::invitation_entry(
            ids,
            cfg,
            &item.reference,
            to,
            &mail,
            now,
        )?);
    }
    Ok(to.len())
}
