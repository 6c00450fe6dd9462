//! The changes a desk makes on the item page besides the decision: a corrected kind, a
//! confirmed sender, a task done (an underretningsmøde called, a tilbagemelding given or
//! withheld, a kvittering sent by hand), the tilbagemelding approved, and closing. Each form
//! is checked here, in Danish, and then changes the intake by the same rule the API uses
//! (`workflow::change`, through `change_item`), so the page and `modtag triage` lock, refuse
//! and audit alike. After a post, back to the item page (a reload does not change anything
//! twice).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use modtag_config::Kind;
use modtag_storage::audit::EventKind;
use modtag_storage::records::TaskOutcome;
use serde::Deserialize;

use super::kept::Kept;
use super::session::{csrf_field, Posted};
use super::signin::{page, storage_trouble, MessagePage};
use crate::api::auth::Caller;
use crate::api::changes::apply_rule;
use crate::api::state::ApiState;
use crate::workflow::change::{self, Refusal};
use crate::workflow::tilbagemelding::{self, NotSent};

#[derive(Deserialize)]
pub struct Change {
    #[serde(default)]
    csrf: String,
    /// The corrected kind, or the task's kind.
    #[serde(default)]
    art: String,
    /// `udfoert` or `undladt` (a tilbagemelding withheld).
    #[serde(default)]
    udfald: String,
    #[serde(default)]
    begrundelse: String,
    /// The tilbagemelding's letter, as the person approved it, and the assessment it was
    /// written from (`tilbagemelding::written_from`).
    #[serde(default)]
    brev: String,
    #[serde(default)]
    vurdering: String,
}

#[derive(Deserialize)]
pub struct Sender {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    hvordan: String,
}

#[derive(Deserialize)]
pub struct Journal {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    system: String,
    #[serde(default)]
    dokument: String,
}

csrf_field!(Change, Sender, Journal);

/// After a change: on to `next`; refused, the item page again with the reason at the form
/// and what was typed in it (issue 29), in Danish.
async fn then<T>(
    state: &ApiState,
    caller: &Caller,
    reference: &str,
    done: Result<T, Refusal>,
    (next, kept): (&str, Kept),
) -> Response {
    let (status, text) = match done {
        Ok(_) => return Redirect::to(next).into_response(),
        Err(Refusal::Store(e)) => return storage_trouble(e),
        Err(Refusal::NoIntake(r)) => {
            let text = format!("Der er ingen henvendelse {r}, som du arbejder med.");
            let title = "Det kunne ikke lade sig gøre";
            return page(
                StatusCode::NOT_FOUND,
                MessagePage { title, text: &text }.render(),
            );
        }
        Err(Refusal::Forbidden(s)) => (StatusCode::FORBIDDEN, s.da),
        Err(Refusal::Conflict(s)) => (StatusCode::CONFLICT, s.da),
        Err(Refusal::Invalid(s)) => (StatusCode::UNPROCESSABLE_ENTITY, s.da),
    };
    refused(state, caller, reference, kept.refused(status, text)).await
}

/// The item page again, the form refused before anything was tried.
async fn refused(state: &ApiState, caller: &Caller, reference: &str, kept: Kept) -> Response {
    super::item::show(state, caller, reference, Some(kept)).await
}

const MISSING: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

/// `POST /koe/{reference}/art`: the kind corrected, with a reason.
pub async fn kind(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    Posted(caller, f): Posted<Change>,
) -> Response {
    let kept = Kept::new("art", [("begrundelse", f.begrundelse.clone())]);
    if f.begrundelse.trim().is_empty() {
        let kept = kept.refused(MISSING, "Skriv, hvorfor arten rettes.");
        return refused(&state, &caller, &reference, kept).await;
    }
    let Some(kind) = Kind::parse(&f.art) else {
        let kept = kept.refused(MISSING, "Vælg en af arterne på listen.");
        return refused(&state, &caller, &reference, kept).await;
    };
    let rule = change::correct_kind(&caller.person, kind, &f.begrundelse);
    let done = apply_rule(&state, &caller, &reference, EventKind::KindCorrected, rule).await;
    // Another kind may belong to another desk: back to the queue, where it has left or stays.
    then(&state, &caller, &reference, done, ("/koe", kept)).await
}

/// `POST /koe/{reference}/afsender`: a person confirms who an unverified sender is.
pub async fn sender(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    Posted(caller, f): Posted<Sender>,
) -> Response {
    let kept = Kept::new("afsender", [("hvordan", f.hvordan.clone())]);
    if f.hvordan.trim().is_empty() {
        let why = "Skriv, hvordan du ved, hvem der sendte henvendelsen.";
        return refused(&state, &caller, &reference, kept.refused(MISSING, why)).await;
    }
    let done = crate::api::changes::confirmed_sender(&state, &caller, &reference, &f.hvordan).await;
    let next = format!("/koe/{reference}");
    then(&state, &caller, &reference, done, (&next, kept)).await
}

/// `POST /koe/{reference}/journaliseret`: where the intake was filed (issue 31).
pub async fn journalised(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    Posted(caller, f): Posted<Journal>,
) -> Response {
    let kept = Kept::new(
        "journal",
        [
            ("system", f.system.clone()),
            ("dokument", f.dokument.clone()),
        ],
    );
    if f.system.trim().is_empty() || f.dokument.trim().is_empty() {
        let why = "Skriv sagssystemet og dokumentets id.";
        return refused(&state, &caller, &reference, kept.refused(MISSING, why)).await;
    }
    let rule = change::journalise(&f.system, &f.dokument);
    let done = apply_rule(&state, &caller, &reference, EventKind::Journalised, rule).await;
    let next = format!("/koe/{reference}#journaliseret");
    then(&state, &caller, &reference, done, (&next, kept)).await
}

/// `POST /koe/{reference}/opgave`: an open task done, or a tilbagemelding withheld.
pub async fn task(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    Posted(caller, f): Posted<Change>,
) -> Response {
    let withheld = f.udfald == "undladt";
    let kept = Kept::new(
        "opgave",
        [
            ("art", f.art.clone()),
            ("begrundelse", f.begrundelse.clone()),
        ],
    );
    if withheld && f.begrundelse.trim().is_empty() {
        let why = "En tilbagemelding undlades kun med en begrundelse: at den ville skade barnet.";
        return refused(&state, &caller, &reference, kept.refused(MISSING, why)).await;
    }
    let outcome = if withheld {
        TaskOutcome::Withheld
    } else {
        TaskOutcome::Done
    };
    let rule = change::task(&f.art, outcome, Some(&f.begrundelse));
    let done = apply_rule(&state, &caller, &reference, EventKind::TaskDone, rule).await;
    let next = format!("/koe/{reference}#opgaver");
    then(&state, &caller, &reference, done, (&next, kept)).await
}

/// `POST /koe/{reference}/tilbagemelding`: the letter, approved, to the reporter.
pub async fn feedback(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    Posted(caller, f): Posted<Change>,
) -> Response {
    let (cfg, now) = (state.app.policy.cfg(), state.now());
    let (r, actor, person) = (
        reference.clone(),
        caller.actor.clone(),
        caller.person.clone(),
    );
    let works =
        move |item: &modtag_storage::records::Item| crate::access::view::works(&person, item);
    let letter = f.brev.clone();
    let sent = state
        .app
        .change(move |store| {
            let letter = (f.brev.as_str(), f.vurdering.as_str());
            tilbagemelding::send(store, &cfg, &r, letter, &actor, works, now)
        })
        .await;
    let why = match sent {
        Ok(Ok(())) => return Redirect::to(&format!("/koe/{reference}")).into_response(),
        Err(e) => return storage_trouble(e),
        Ok(Err(NotSent::Unproven(why))) => format!("Tilbagemeldingen blev ikke sendt. {why}"),
        Ok(Err(why)) => not_sent(why).to_string(),
    };
    let kept = Kept::new("tilbagemelding", [("brev", letter)]).refused(MISSING, why);
    refused(&state, &caller, &reference, kept).await
}

/// Why a tilbagemelding was not sent, as the person reads it.
fn not_sent(why: NotSent) -> &'static str {
    match why {
        NotSent::Empty => "Brevet er tomt.",
        NotSent::Changed => {
            "Tilbagemeldingen blev ikke sendt: vurderingen er ændret, siden brevet blev \
             skrevet. Læs det nye udkast på henvendelsen, og godkend det igen."
        }
        NotSent::NoOutcome => {
            "Tilbagemeldingen blev ikke sendt: vurderingen har intet udfald af screeningen. \
             Vurder igen, og vælg udfaldet."
        }
        NotSent::Unproven(why) => why,
        NotSent::NoAddress => {
            "Underretteren har ingen e-mailadresse: send brevet på anden vis, og marker \
             opgaven udført."
        }
        NotSent::NoTask => "Der er ingen åben tilbagemelding på henvendelsen.",
        NotSent::NotFound => "Der er ingen henvendelse med den reference, som du arbejder med.",
    }
}

#[derive(Deserialize)]
pub struct Note {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    notat: String,
}

csrf_field!(Note);

/// `POST /koe/{reference}/notat`: a note on the intake.
pub async fn note(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    Posted(caller, f): Posted<Note>,
) -> Response {
    let kept = Kept::new("notat", [("notat", f.notat.clone())]);
    let rule = change::note(&f.notat);
    let done = apply_rule(&state, &caller, &reference, EventKind::NoteAdded, rule).await;
    let next = format!("/koe/{reference}#notater");
    then(&state, &caller, &reference, done, (&next, kept)).await
}

/// `POST /koe/{reference}/luk`: closed, with a reason.
pub async fn close(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    Posted(caller, f): Posted<Change>,
) -> Response {
    let kept = Kept::new("luk", [("begrundelse", f.begrundelse.clone())]);
    if f.begrundelse.trim().is_empty() {
        let why = "Skriv, hvorfor henvendelsen lukkes.";
        return refused(&state, &caller, &reference, kept.refused(MISSING, why)).await;
    }
    let rule = change::close(&f.begrundelse);
    let done = apply_rule(&state, &caller, &reference, EventKind::Closed, rule).await;
    let next = format!("/koe/{reference}");
    then(&state, &caller, &reference, done, (&next, kept)).await
}

#[derive(Deserialize)]
pub struct Resolve {
    #[serde(default)]
    csrf: String,
    /// The name as the subject wrote it.
    #[serde(default)]
    navn: String,
    /// The directory id Journalen says it means.
    #[serde(default)]
    person: String,
}

csrf_field!(Resolve);

/// `POST /koe/{reference}/navn`: Journalen says whom a name left unmatched means; the
/// person gets the forward too.
pub async fn resolve_name(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    Posted(caller, f): Posted<Resolve>,
) -> Response {
    let kept = Kept::new("navn", [("person", f.person.clone())]);
    let again = |kept: Kept, why: &str| {
        let kept = kept.refused(StatusCode::UNPROCESSABLE_ENTITY, why);
        super::item::show(&state, &caller, &reference, Some(kept))
    };
    let item = match crate::api::state::load_item(&state, &reference).await {
        Ok(item) if crate::access::view::works(&caller.person, &item) => item,
        Ok(_) | Err(crate::api::error::ApiError::Refused(StatusCode::NOT_FOUND, _)) => {
            return super::item::show(&state, &caller, &reference, None).await
        }
        Err(e) => return e.into_response(),
    };
    let cfg = state.app.policy.cfg();
    let Some(name) = super::names::left(&cfg, &item)
        .into_iter()
        .find(|n| n.written == f.navn)
    else {
        return again(kept, "Navnet er ikke længere uafklaret.").await;
    };
    let Some((_, who)) = name.candidates.iter().find(|(id, _)| *id == f.person) else {
        return again(kept, "Vælg en af lederne på listen.").await;
    };
    let d = item
        .decision
        .as_ref()
        .expect("a name is left only after the forward");
    let input = crate::workflow::decide::DecisionInput {
        actor: caller.actor.clone(),
        area: d.area.clone(),
        institution: d.institution.clone(),
        udskoling: d.udskoling,
        note: d.note.clone(),
        revise: Some(format!("«{}» i emnet er {who}", f.navn)),
        names_added: vec![modtag_storage::records::NameAdded {
            written: f.navn.clone(),
            person: f.person.clone(),
        }],
        ..Default::default()
    };
    let (r, now) = (reference.clone(), state.now());
    let works = crate::workflow::decide::worked_by(caller.person.clone());
    let decided = (state.app)
        .change(move |store| crate::workflow::decide::decide(store, &cfg, &r, &input, works, now))
        .await;
    match decided {
        Ok(_) => Redirect::to(&format!("/koe/{reference}")).into_response(),
        Err(crate::workflow::decide::DecideError::Store(e)) => storage_trouble(e),
        Err(e) => again(kept, &format!("Det kunne ikke lade sig gøre: {e}")).await,
    }
}
