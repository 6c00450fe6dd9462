//! The one way a person's change reaches an intake: [`item`] takes the intake's lock, reads
//! it, refuses whoever does not work its desk, lets the rule change it, and commits it with
//! its audit entry in one batch. The rules themselves ([`correct_kind`], [`confirm_sender`],
//! [`close`], [`task`]) are here too, so the API, the pages and (through the API) the CLI
//! refuse alike. The caller makes the commit durable and wakes the outbox
//! (`modtag_intake::app::App::change`), before it answers anyone.

use jiff::Timestamp;
use modtag_config::Kind;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::{Item, ItemState, SenderConfirmed, StaffNote, TaskKind, TaskOutcome};
use modtag_storage::store::Batch;
use modtag_storage::{Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::access::{self, Person};

/// Why a change was not made; nothing was written.
#[derive(Debug)]
pub enum Refusal {
    /// No such intake, or none this person has any reason to know of.
    NoIntake(String),
    /// Another desk's intake, or a change this person may not make.
    Forbidden(Said),
    /// The intake is not in a state that allows it.
    Conflict(Said),
    /// What was asked is not a change that can be made.
    Invalid(Said),
    Store(StoreError),
}

/// A refusal in the API's words (English, for scripts and the CLI) and the desk's (Danish,
/// for the person at the page).
#[derive(Debug)]
pub struct Said {
    pub en: String,
    pub da: String,
}

fn said(en: impl Into<String>, da: impl Into<String>) -> Said {
    Said {
        en: en.into(),
        da: da.into(),
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        Refusal::Store(e)
    }
}

/// Who changes, why (the audit's purpose), and what the audit entry is called.
pub struct Who<'a> {
    pub person: &'a Person,
    pub actor: &'a str,
    pub purpose: &'a str,
}

/// Under the intake's lock: reads it, refuses unless `who` works its desk, lets `rule`
/// change it, and commits it with an audit entry `event` whose details are what `rule`
/// returns (which is also the answer).
pub fn item<T: Serialize>(
    store: &Store,
    reference: &str,
    (who, event): (&Who, EventKind),
    now: Timestamp,
    rule: impl FnOnce(&mut Item, &str, Timestamp) -> Result<T, Refusal>,
) -> Result<T, Refusal> {
    let _held = store.lock_item(reference);
    let mut item = store
        .item(reference)?
        .ok_or_else(|| Refusal::NoIntake(reference.to_string()))?;
    works(who.person, &item)?;
    let outcome = rule(&mut item, who.actor, now)?;
    let details = serde_json::to_value(&outcome).unwrap_or_default();
    let mut b = Batch::new();
    b.audit(
        Event::new(event, who.actor, who.purpose)
            .reference(reference)
            .details(details),
    );
    b.item(item);
    store.commit(b, now)?;
    Ok(outcome)
}

/// Refuses unless `person` works `item`'s desk: as for no such intake to someone with no
/// reason to see it at all (a reference is not a way to learn which intakes exist); as
/// another desk's to a recipient, who may read what was sent to them.
pub fn works(person: &Person, item: &Item) -> Result<(), Refusal> {
    if access::view::works(person, item) {
        return Ok(());
    }
    if access::view::sight(person, item).is_none() {
        return Err(Refusal::NoIntake(item.reference.clone()));
    }
    Err(Refusal::Forbidden(another_desk(&item.reference)))
}

/// Why a person who was sent an intake may not change it, in both words.
pub fn another_desk(reference: &str) -> Said {
    said(
        format!("{reference} is worked by another desk; you may read what was sent to you"),
        format!(
            "{reference} behandles af en anden enhed; du kan læse det, der blev sendt til dig."
        ),
    )
}

#[derive(Debug, Serialize, Deserialize)]
pub struct KindCorrected {
    pub reference: String,
    pub from: Kind,
    pub kind: Kind,
}

/// The kind reading gave is corrected, with a reason. The kind decides the desk: only the
/// desk's own people correct it (not the døgnvagt, which holds an intake for a night), and
/// an akut intake awaiting assessment stays Modtagelsen's (issue 27).
pub fn correct_kind(
    person: &Person,
    kind: Kind,
    reason: &str,
) -> impl FnOnce(&mut Item, &str, Timestamp) -> Result<KindCorrected, Refusal> {
    let desk = access::desk_kinds(person);
    let reason = reason.trim().to_string();
    move |item, actor, now| {
        if reason.is_empty() {
            return Err(Refusal::Invalid(said(
                "a correction needs a reason",
                "Skriv, hvorfor arten rettes.",
            )));
        }
        if !desk.contains(&item.kind) {
            return Err(Refusal::Forbidden(said(
                "only the desk the intake is on corrects its kind",
                "Kun den enhed, henvendelsen ligger hos, kan rette dens art.",
            )));
        }
        let to_journalen = matches!(kind, Kind::Trivselplus | Kind::Postfordeling);
        if to_journalen && item.akut() && item.state.awaits_assessment() {
            return Err(Refusal::Conflict(said(
                "an akut intake awaiting assessment stays on Modtagelsen's desk: assess it first",
                "En akut henvendelse, der afventer vurdering, bliver hos Modtagelsen: vurder den \
                 først.",
            )));
        }
        let from = std::mem::replace(&mut item.kind, kind);
        let st = item.state;
        item.transition(st, actor, now, &format!("kind {from} → {kind}: {reason}"));
        Ok(KindCorrected {
            reference: item.reference.clone(),
            from,
            kind,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SenderConfirmedView {
    pub reference: String,
    pub by: String,
    pub how: String,
}

/// A person confirms who an unverified sender is ("Afsender bekræftet af ...", issue 26),
/// saying in one line how they know.
pub fn confirm_sender(
    how: &str,
) -> impl FnOnce(&mut Item, &str, Timestamp) -> Result<SenderConfirmedView, Refusal> {
    let how = how.trim().to_string();
    move |item, actor, now| {
        if how.is_empty() || how.chars().count() > 500 || how.chars().any(char::is_control) {
            return Err(Refusal::Invalid(said(
                "say in one line how you know who sent it (e.g. called the school back)",
                "Skriv på én linje, hvordan du ved, hvem der sendte den (fx ringet skolen op).",
            )));
        }
        if item.sender_known() {
            return Err(Refusal::Conflict(said(
                format!("the sender of {} is known already", item.reference),
                format!("Afsenderen af {} er allerede kendt.", item.reference),
            )));
        }
        item.sender_confirmed = Some(SenderConfirmed {
            by: actor.to_string(),
            at: now,
            how: how.clone(),
        });
        Ok(SenderConfirmedView {
            reference: item.reference.clone(),
            by: actor.to_string(),
            how,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct JournalisedView {
    pub reference: String,
    pub system: String,
    pub document_id: String,
    pub by: String,
}

/// A value a person or a case system gives on one line: a system's name, a document id, a
/// reference: not empty, no control character, at most 200 characters.
pub(crate) fn one_line(s: &str) -> bool {
    !s.is_empty() && s.chars().count() <= 200 && !s.chars().any(char::is_control)
}

/// A person records where an intake was filed (issue 31, "journaliseret"): the case system
/// and the document id, each on one line. Recorded again, it replaces the earlier record
/// (a correction), and the audit entry keeps both.
pub fn journalise(
    system: &str,
    document_id: &str,
) -> impl FnOnce(&mut Item, &str, Timestamp) -> Result<JournalisedView, Refusal> {
    let (system, document_id) = (system.trim().to_string(), document_id.trim().to_string());
    move |item, actor, now| {
        if !one_line(&system) || !one_line(&document_id) {
            return Err(Refusal::Invalid(said(
                "give the case system and the document id, each on one line",
                "Skriv sagssystemet og dokumentets id, hver på én linje.",
            )));
        }
        if item.state == modtag_storage::records::ItemState::AwaitingAssessment {
            return Err(Refusal::Conflict(said(
                format!(
                    "{} is not assessed yet: assess it before it is filed",
                    item.reference
                ),
                format!(
                    "{} er ikke vurderet endnu: vurder den, før den journaliseres.",
                    item.reference
                ),
            )));
        }
        item.journalised = Some(modtag_storage::journal::Journalised {
            system: system.clone(),
            document_id: document_id.clone(),
            by: actor.to_string(),
            at: now,
        });
        Ok(JournalisedView {
            reference: item.reference.clone(),
            system,
            document_id,
            by: actor.to_string(),
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Closed {
    pub reference: String,
    pub from: String,
    pub state: String,
}

/// An assessed intake is closed, with a reason.
pub fn close(reason: &str) -> impl FnOnce(&mut Item, &str, Timestamp) -> Result<Closed, Refusal> {
    let reason = reason.trim().to_string();
    move |item, actor, now| {
        if reason.is_empty() {
            return Err(Refusal::Invalid(said(
                "closing needs a reason",
                "Skriv, hvorfor henvendelsen lukkes.",
            )));
        }
        if !item.state.can_become(ItemState::Closed) {
            return Err(Refusal::Conflict(said(
                format!(
                    "{} is {}: only an assessed intake can be closed",
                    item.reference,
                    item.state.as_str()
                ),
                format!(
                    "{} kan ikke lukkes: kun en vurderet henvendelse lukkes.",
                    item.reference
                ),
            )));
        }
        let from = item.state.as_str();
        item.transition(ItemState::Closed, actor, now, &reason);
        Ok(Closed {
            reference: item.reference.clone(),
            from: from.into(),
            state: "closed".into(),
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct TaskDone {
    pub reference: String,
    pub task: TaskKind,
    pub outcome: TaskOutcome,
}

/// An open task is done, or (only a tilbagemelding, only with a reason: that it would harm
/// the child) withheld.
pub fn task(
    kind: &str,
    outcome: TaskOutcome,
    reason: Option<&str>,
) -> impl FnOnce(&mut Item, &str, Timestamp) -> Result<TaskDone, Refusal> {
    let (asked, kind) = (kind.to_string(), TaskKind::parse(kind));
    let reason = reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    move |item, actor, now| {
        let withheld = outcome == TaskOutcome::Withheld;
        if withheld && (kind != Some(TaskKind::Tilbagemelding) || reason.is_none()) {
            return Err(Refusal::Invalid(said(
                "only feedback (tilbagemelding) can be withheld, and only with a reason: that it would harm the child",
                "Kun en tilbagemelding kan undlades, og kun med en begrundelse: at den ville skade barnet.",
            )));
        }
        // Given another way is still given from what was decided: with no outcome recorded
        // there was nothing to tell (issue 27). Withholding needs none.
        let given = kind == Some(TaskKind::Tilbagemelding) && !withheld;
        if given && crate::tilbagemelding::recorded_outcome(item).is_none() {
            return Err(Refusal::Invalid(said(
                "the assessment recorded no screening outcome: there is nothing to tell the \
                 reporter yet; assess again with the outcome first",
                "Vurderingen har intet udfald af screeningen, så der er intet at fortælle \
                 underretteren endnu: vurder igen, og vælg udfaldet.",
            )));
        }
        let open =
            kind.and_then(|k| (item.tasks.iter_mut()).find(|t| t.kind == k && t.done_at.is_none()));
        let (Some(t), Some(kind)) = (open, kind) else {
            return Err(Refusal::Conflict(said(
                format!("{} has no open task {asked:?}", item.reference),
                format!("{} har ingen åben opgave af den art.", item.reference),
            )));
        };
        t.done_at = Some(now);
        t.done_by = Some(actor.to_string());
        t.outcome = Some(outcome);
        if reason.is_some() {
            t.reason = reason;
        }
        if kind == TaskKind::Kvittering {
            if let Some(k) = item.kvittering.as_mut() {
                k.sent_at = Some(now);
                k.sent_by = Some(actor.to_string());
            }
        }
        Ok(TaskDone {
            reference: item.reference.clone(),
            task: kind,
            outcome,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct NoteAdded {
    pub reference: String,
    pub by: String,
    /// How long it is; its text is on the item, not in the audit entry's details.
    pub chars: usize,
}

/// The longest note, in characters: a note is a few lines, not a document.
pub const NOTE_MAX_CHARS: usize = 5000;

/// A person of the desk writes a note on the intake (kept in order, internal).
pub fn note(text: &str) -> impl FnOnce(&mut Item, &str, Timestamp) -> Result<NoteAdded, Refusal> {
    let text = text.trim().replace("\r\n", "\n");
    move |item, actor, now| {
        let chars = text.chars().count();
        if chars == 0 {
            return Err(Refusal::Invalid(said(
                "a note needs text",
                "Skriv noget i notatet.",
            )));
        }
        if chars > NOTE_MAX_CHARS || text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(Refusal::Invalid(said(
                format!("a note is at most {NOTE_MAX_CHARS} characters of text"),
                format!("Et notat er højst {NOTE_MAX_CHARS} tegn tekst."),
            )));
        }
        item.staff_notes.push(StaffNote {
            by: actor.to_string(),
            at: now,
            text,
        });
        Ok(NoteAdded {
            reference: item.reference.clone(),
            by: actor.to_string(),
            chars,
        })
    }
}
