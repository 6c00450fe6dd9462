//! The item page (`/koe/{reference}`): the text as escaped plain text (HTML mail shown as
//! its text), the reading (kind and why, reporter, CPR and CVR, akut signals, notes), the
//! sender and its checks, the attachments with type and size as downloads only (a flagged
//! one behind a warning), the child's earlier intakes and the suggested case. Only for a
//! person whose desk it is or to whom it was sent; opening it is audited before anything
//! is read, as the API's view is.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use modtag_config::Kind;
use modtag_router::deadline;
use modtag_storage::records::{Item, ItemState, TaskKind};

use super::kept::Kept;
use super::queue::{row, Row};
use super::session::SignedIn;
use super::signin::{page, storage_trouble, MessagePage};
use crate::access::view::Sight;
use crate::api::auth::Caller;
use crate::api::state::{load_item, ApiState};
use crate::words::{self, When};

#[derive(Template)]
#[template(path = "item.html")]
struct ItemPage<'a> {
    csrf: &'a str,
    /// The desk's notes: who and when, and the text.
    staff_notes: Vec<(String, &'a str)>,
    summary: Row,
    kind_reason: &'a str,
    subject: &'a str,
    from: &'a str,
    reporter: String,
    cprs: Vec<String>,
    cvrs: Vec<String>,
    akut: &'a [String],
    notes: &'a [String],
    original: Option<String>,
    tls: &'a str,
    attachments: Vec<super::sent::AttachmentRow>,
    /// A refused form's reason and text.
    kept: &'a Kept,
    /// A forwarded TRIVSEL+'s names the directory did not match, for Journalen to resolve.
    names_left: Vec<super::names::NameLeft>,
    /// The child's other intakes (issue 29).
    history: super::history::History,
    suggestions: &'a [String],
    case_number: Option<&'a str>,
    text: &'a str,
    /// The person works this intake's desk: the decision (or a new one), the kind, the tasks
    /// and closing are theirs.
    /// The case system that takes files (`[journal.hook]`), and the packages sent to it.
    journal_hook: Option<String>,
    dropped: Vec<String>,
    works: bool,
    decision: Option<DecisionLines>,
    /// Decisions a later one replaced, with why.
    earlier_decisions: Vec<String>,
    tasks: Vec<TaskLine>,
    /// Where an approved tilbagemelding goes, in words.
    reply_to: String,
    /// The intake's Digital Post letters and what became of each (issue 30).
    letters: Vec<String>,
    /// Where it was filed (issue 31), and whether the person may record it.
    journalised: Option<String>,
    may_journalise: bool,
    /// The kinds to correct to (id, name, the current one).
    kinds: Vec<(&'static str, &'static str, bool)>,
    may_close: bool,
    closed: bool,
    /// Who closed it, when and why.
    closed_note: Option<String>,
    /// A TRIVSEL+: Journalen passes it on to the leaders rather than assessing it.
    trivsel: bool,
    /// Who has taken it over ("modtaget"), and whether the person may still say so.
    taken_over: Vec<String>,
    may_take_over: bool,
    /// A private institution's TRIVSEL+ forløb: its steps and what the person may do.
    forloeb: Option<super::forloeb::View>,
    /// How the sender is known, in words (issue 26).
    sender_trust: String,
    /// The sender is unverified, and the person works the desk: they may confirm it.
    may_confirm_sender: bool,
    /// The reporter's one-time address link, in words, when the kvittering carried one.
    address_link: Option<String>,
}

/// Where the reporter's one-time address link stands, as the desk says it.
fn address_link_words(item: &Item, now: jiff::Timestamp) -> Option<String> {
    let p = item.address_proof.as_ref()?;
    Some(match (p.confirmed_at, p.token_sha256.is_some()) {
        (Some(at), _) => format!(
            "bekræftet af underretteren med engangslinket {}: adressen er underretterens \
             (at underretteren er fagperson, er kun, hvad underretningen siger)",
            deadline::spoken(at, now)
        ),
        (None, true) if p.expires > now => format!(
            "sendt med kvitteringen, ikke brugt endnu (virker til {})",
            deadline::spoken(p.expires, now)
        ),
        (None, _) => "sendt med kvitteringen, udløbet uden at blive brugt".into(),
    })
}

/// Where an approved tilbagemelding goes, in words: the organisation's Digital Post when
/// the reporter signed in with MitID Erhverv (issue 30), else the reporter's address.
fn reply_to(cfg: &modtag_config::Loaded, item: &Item) -> String {
    match (&cfg.config.digital_post, &item.signed_in) {
        (Some(_), Some(org)) => format!(
            "til {}s digitale postkasse (CVR {}) med Digital Post",
            org.organisation, org.cvr
        ),
        _ => "til underretterens e-mailadresse".into(),
    }
}

/// A task as the item page shows it: open with its form, or done by whom and when.
struct TaskLine {
    kind: &'static str,
    name: &'static str,
    due: Option<String>,
    done: Option<String>,
    /// Feedback may be withheld (with a reason: it would harm the child).
    may_withhold: bool,
    /// The tilbagemelding's letter as modtag drafts it, when it can go by e-mail, and the
    /// assessment it is written from (the form carries it back).
    draft: Option<String>,
    written_from: String,
    /// The reporter gave an address, but the right or the address is not proven: why
    /// (issue 26).
    unproven: Option<&'static str>,
    /// A tilbagemelding's: the outcome the assessment recorded, in words, which the draft
    /// is written from; or what is missing for one (issue 27).
    outcome: Option<String>,
    missing: Option<&'static str>,
    /// A tilbagemelding's letter exactly as it was sent.
    letter: Option<String>,
}

/// A decision as the item page shows it: the assessment itself, and where it went.
struct DecisionLines {
    summary: String,
    assessment: crate::words::assessment::Assessment,
    recipients: Vec<String>,
}

pub async fn item(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    SignedIn(caller): SignedIn,
) -> Response {
    show(&state, &caller, &reference, None).await
}

/// The item page for `caller`, with a refused form's reason and text when `kept`.
pub(super) async fn show(
    state: &ApiState,
    caller: &Caller,
    reference: &str,
    kept: Option<Kept>,
) -> Response {
    let not_for_you = || {
        page(
            StatusCode::NOT_FOUND,
            MessagePage {
                title: "Ikke fundet",
                text: "Der er ingen henvendelse med den reference, som du har adgang til.",
            }
            .render(),
        )
    };
    // One answer for "no such intake" and "not yours": a reference is not a way to learn
    // which intakes exist.
    let (item, view) = match load_item(state, reference).await {
        Ok(item) => match caller.view(&item) {
            Some(view) => (item, view),
            None => return not_for_you(),
        },
        Err(crate::api::error::ApiError::Refused(StatusCode::NOT_FOUND, _)) => {
            return not_for_you()
        }
        Err(e) => return e.into_response(),
    };
    let text = match crate::api::items::open(state, caller, &view).await {
        Ok(text) => text,
        Err(crate::api::error::ApiError::Store(e)) => return storage_trouble(e),
        Err(e) => return e.into_response(),
    };
    let now = state.now();
    // The forløb's steps come from the whole item (the leaders it waits for are in its
    // decision); they name staff, never the reporter.
    let forloeb = || super::forloeb::view(&state.app.policy.cfg(), caller, &item, now);
    match (&view.sight, kept) {
        (Sight::Full, kept) => {
            let history = match super::history::of(state, caller, &item).await {
                Ok(h) => h,
                Err(crate::api::error::ApiError::Store(e)) => return storage_trouble(e),
                Err(e) => return e.into_response(),
            };
            let cfg = state.app.policy.cfg();
            let text = text.as_deref().unwrap_or_default();
            let kept = kept.unwrap_or_else(|| Kept::new("", []));
            render(&cfg, caller, &item, text, (forloeb(), history, kept), now)
        }
        (Sight::Sent { role, .. }, kept) => super::sent::render(
            caller.session.as_ref().map_or("", |s| s.csrf.as_str()),
            &view.item,
            role,
            text.as_deref(),
            (forloeb(), kept.unwrap_or_else(|| Kept::new("", []))),
            now,
        ),
        // A refused form of a person who no longer sees the intake: the reason alone.
        (_, Some(kept)) => page(
            kept.status,
            MessagePage {
                title: "Det kunne ikke lade sig gøre",
                text: &kept.error,
            }
            .render(),
        ),
        (Sight::Ended { at }, None) => page(
            StatusCode::OK,
            MessagePage {
                title: "Ikke længere sendt til dig",
                text: &format!(
                    "{reference} er ikke længere sendt til dig: en ny vurdering {} sendte den \
                     ikke til dig igen.",
                    deadline::spoken(*at, now)
                ),
            }
            .render(),
        ),
    }
}

fn render(
    cfg: &modtag_config::Loaded,
    caller: &Caller,
    item: &Item,
    text: &str,
    (forloeb, history, kept): (Option<super::forloeb::View>, super::history::History, Kept),
    now: jiff::Timestamp,
) -> Response {
    let mut summary = row(item, now);
    summary.repeated = history.repeated;
    let u = &item.understanding;
    let reporter = words::reporter(&u.reporter);
    let original = u.original.as_ref().map(words::original);
    let attachments = super::sent::attachment_rows(&item.attachments);
    let csrf = caller.session.as_ref().map_or("", |s| s.csrf.as_str());
    page(
        kept.status,
        ItemPage {
            kept: &kept,
            names_left: match crate::access::view::works(&caller.person, item) {
                true => super::names::left(cfg, item),
                false => Vec::new(),
            },
            csrf,
            summary,
            kind_reason: &u.kind_reason,
            subject: item.subject.as_deref().unwrap_or("(intet emne)"),
            from: item.from.as_deref().unwrap_or("(ukendt)"),
            reporter,
            cprs: item.cprs.clone(),
            cvrs: u
                .cvrs
                .iter()
                .map(|c| match (&c.institution, c.valid) {
                    (Some(i), _) => format!("{} ({i})", c.number),
                    (None, true) => c.number.clone(),
                    (None, false) => format!("{} (ugyldigt)", c.number),
                })
                .collect(),
            akut: &u.akut,
            notes: &u.notes,
            original,
            tls: &item.transport.tls,
            attachments,
            history,
            suggestions: &item.suggestions,
            case_number: item.case_number.as_deref(),
            text,
            forloeb,
            staff_notes: (item.staff_notes.iter())
                .map(|n| {
                    (
                        format!("{}, {}", n.by, deadline::spoken(n.at, now)),
                        n.text.as_str(),
                    )
                })
                .collect(),
            taken_over: item
                .taken_over
                .iter()
                .map(|t| format!("{} ({}), {}", t.person, t.user, deadline::spoken(t.at, now)))
                .collect(),
            // Modtagelsen (or Journalen) does not take over from itself.
            may_take_over: !crate::access::view::works(&caller.person, item)
                && caller.person.directory_id.as_ref().is_some_and(|me| {
                    item.sent_to.contains(me) && !item.taken_over.iter().any(|t| &t.person == me)
                }),
            works: crate::access::view::works(&caller.person, item),
            sender_trust: words::trust(item, When::Spoken(now)),
            address_link: address_link_words(item, now),
            may_confirm_sender: crate::access::view::works(&caller.person, item)
                && !item.sender_known(),
            earlier_decisions: replaced(item, now),
            tasks: task_lines(cfg, item, now),
            reply_to: reply_to(cfg, item),
            letters: (item.letters.iter())
                .map(|l| words::letters::words(l, When::Spoken(now)))
                .collect(),
            journalised: item
                .journalised
                .as_ref()
                .map(|j| words::filed(j, When::Spoken(now))),
            journal_hook: cfg.config.journal.hook.as_ref().map(|h| h.system.clone()),
            dropped: (item.journal_dropped.iter())
                .map(|d| words::dropped(d, When::Spoken(now)))
                .collect(),
            may_journalise: crate::access::view::works(&caller.person, item)
                && item.state != ItemState::AwaitingAssessment,
            kinds: Kind::ALL
                .iter()
                .map(|k| (k.as_str(), words::kind_name(*k), *k == item.kind))
                .collect(),
            may_close: item.state.can_become(ItemState::Closed),
            closed: item.state == ItemState::Closed,
            closed_note: closed_note(item, now),
            trivsel: item.kind == Kind::Trivselplus,
            decision: item.decision.as_ref().map(|d| DecisionLines {
                summary: words::decision(d, When::Spoken(now)),
                assessment: words::assessment::of(d, When::Spoken(now)),
                recipients: d
                    .recipients
                    .iter()
                    .map(|r| words::recipient(cfg, r))
                    .collect(),
            }),
        }
        .render(),
    )
}

/// Decisions a later one replaced, each with who replaced it, when and why.
fn replaced(item: &Item, now: jiff::Timestamp) -> Vec<String> {
    item.earlier_decisions
        .iter()
        .map(|e| {
            format!(
                "{}; erstattet {} af {}: {}",
                words::decision(&e.decision, When::Spoken(now)),
                deadline::spoken(e.replaced_at, now),
                e.replaced_by,
                e.reason
            )
        })
        .collect()
}

/// Who closed it, when and why.
fn closed_note(item: &Item, now: jiff::Timestamp) -> Option<String> {
    (item.history.iter().rev())
        .find(|t| t.to == ItemState::Closed)
        .map(|t| {
            format!(
                "Lukket {} af {}: {}",
                deadline::spoken(t.at, now),
                t.actor,
                t.note
            )
        })
}

/// The tasks a decision made, with the tilbagemelding's draft, what keeps it from going by
/// mail, or what is missing for one.
fn task_lines(cfg: &modtag_config::Loaded, item: &Item, now: jiff::Timestamp) -> Vec<TaskLine> {
    use crate::workflow::tilbagemelding;
    let proven = tilbagemelding::proven_address(cfg, item).is_some()
        || tilbagemelding::to_organisation(cfg, item).is_some();
    let outcome = tilbagemelding::recorded_outcome(item).map(modtag_config::vocab::outcome_words);
    item.tasks
        .iter()
        .map(|t| TaskLine {
            kind: t.kind.as_str(),
            name: words::task_name(t.kind),
            due: t.due.map(|t| deadline::spoken(t, now)),
            done: words::task_done(t, When::Spoken(now)),
            may_withhold: t.kind == TaskKind::Tilbagemelding,
            draft: (t.kind == TaskKind::Tilbagemelding && t.done_at.is_none() && proven)
                .then(|| tilbagemelding::draft(item))
                .flatten(),
            unproven: (t.kind == TaskKind::Tilbagemelding
                && t.done_at.is_none()
                && outcome.is_some()
                && item.understanding.reporter.email.is_some())
            .then(|| tilbagemelding::unproven(cfg, item))
            .flatten(),
            written_from: tilbagemelding::written_from(item).unwrap_or_default(),
            outcome: outcome
                .filter(|_| t.kind == TaskKind::Tilbagemelding)
                .map(str::to_string),
            missing: (t.kind == TaskKind::Tilbagemelding
                && t.done_at.is_none()
                && outcome.is_none())
            .then_some(
                "Vurderingen har intet udfald af screeningen, så der er intet at fortælle \
             underretteren endnu. Tilbagemeldingen kan skrives, når en vurdering har \
             registreret udfaldet (vurder igen, og vælg udfaldet).",
            ),
            letter: t.letter.clone(),
        })
        .collect()
}
