//! A private institution's TRIVSEL+ forløb after Journalen's forward (issue 16, flow 2,
//! steps 3-5), as plans on the item like every workflow step: each leader's answer with the
//! staff who join goes to the institution's registered address (its leader in the
//! directory: encrypted to a certificate, else only over TLS); the private leader's list of
//! participants is linked (found by [`super::participants`]); the administration books the
//! first meeting ([`super::booking`]); a step left too long reminds its owner.
//!
//! Never sends and never reads the clock: the effects go into the caller's `Batch`.

use jiff::{SignedDuration, Timestamp};
use modtag_config::{Channel, Loaded};
use modtag_router::{deadline, startmoede};
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::forloeb::{Forloeb, LeaderAnswer, Participant, ParticipantList, StepReminder};
use modtag_storage::records::{Item, OutboxEntry};
use modtag_storage::store::{Batch, IdSource};
use modtag_storage::StoreError;
use serde_json::json;

use crate::compose::{self, PlainTo};

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

/// The leaders a forløb waits for: those Journalen's forward sent it to by the names in
/// its subject (not Journalen's own copy).
pub fn leaders(item: &Item) -> Vec<String> {
    item.decision
        .iter()
        .flat_map(|d| {
            d.recipients
                .iter()
                .filter(|r| r.rule == modtag_router::route::NAMES_RULE)
                .map(|r| r.person.clone())
        })
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
pub(super) fn advanced(cfg: &Loaded, item: &mut Item, now: Timestamp) {
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
pub fn institution_leader<'a>(cfg: &'a Loaded, item: &Item) -> Option<&'a modtag_config::Person> {
    let id = item.decision.as_ref()?.institution.as_deref()?;
    cfg.directory.person(&cfg.directory.institution(id)?.leader)
}

/// A letter to the private institution: to its CVR's Digital Post when `[digital_post]`
/// is configured and the institution has a CVR (recorded on the item as a letter), otherwise
/// by mail to its leader (OpenPGP, or TLS-only in clear).
pub fn to_institution(
    ids: &dyn IdSource,
    cfg: &Loaded,
    item: &mut Item,
    leader: &modtag_config::Person,
    subject: &str,
    text: &str,
    now: Timestamp,
) -> Result<OutboxEntry, StoreError> {
    let to = PlainTo {
        role: "privat_leder",
        person: &leader.id,
        email: &leader.email,
    };
    let institution = (item.decision.as_ref())
        .and_then(|d| d.institution.as_deref())
        .and_then(|id| cfg.directory.institution(id));
    let cvr = institution.and_then(|i| Some((i.cvr.as_deref()?, i.name.as_str())));
    let (Some(dp), Some(cvr)) = (&cfg.config.digital_post, cvr) else {
        return compose::private_entry(
            ids,
            cfg,
            &item.reference,
            to,
            leader.cert.as_ref(),
            subject,
            text,
            now,
        );
    };
    crate::memo::entry(ids, dp, item, to, cvr, subject, text, now)
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
    // A leader may have no one to send ("Ingen medarbejdere fra mig", issue 29).
    let who = match names.is_empty() {
        true => {
            format!("Ingen medarbejdere fra {leader} deltager i det tværfaglige udførerteam.\n")
        }
        false => format!(
            "Disse medarbejdere deltager i det tværfaglige udførerteam:\n{}\n",
            names.join("\n")
        ),
    };
    format!(
        "Svar på jeres TRIVSEL+ ({reference}) fra {leader}.\n\n\
         {who}{note}\n\
         Når I har navnene fra alle lederne, sender I listen over deltagere til {to} \
         med referencen {reference} i emnet. Administrationen booker derefter det første møde.\n",
        reference = item.reference,
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
    let entry = to_institution(
        ids,
        cfg,
        item,
        to,
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
