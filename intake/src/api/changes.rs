//! Changing an intake: the decision, a corrected kind, a confirmed sender, a task done,
//! closing. The rules are `workflow::change`'s and `workflow::decide`'s; each change goes
//! through `App::change`, so it is durable before the answer and the outbox is woken.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use jiff::Timestamp;
use modtag_config::Kind;
use modtag_storage::audit::EventKind;
use modtag_storage::records::{Item, TaskOutcome};
use modtag_storage::store::Batch;

use super::auth::Caller;
use super::error::{json_body, ApiError};
use super::state::ApiState;
use super::types::{
    CloseBody, Closed, DecisionBody, DecisionView, JournalBody, JournalisedView, KindBody,
    KindCorrected, NoteAdded, NoteBody, SenderBody, SenderConfirmedView, TaskBody, TaskDone,
};
use crate::workflow::change::{self, Refusal, Who};
use crate::workflow::decide::{self, DecideError};
use crate::workflow::{kvittering, participants};

/// Runs a rule of `workflow::change` on one intake for `caller`, durable before the answer;
/// the refusal in the API's words.
pub async fn change_item<T: serde::Serialize + Send + 'static>(
    state: &ApiState,
    caller: &Caller,
    reference: &str,
    event: modtag_storage::audit::EventKind,
    rule: impl FnOnce(&mut Item, &str, Timestamp) -> Result<T, Refusal> + Send + 'static,
) -> Result<T, ApiError> {
    Ok(apply_rule(state, caller, reference, event, rule).await?)
}

/// Runs a rule of `workflow::change` on one intake for `caller` (the API's handlers and the
/// pages alike, each saying a refusal in its own words), durable before the answer.
pub async fn apply_rule<T: serde::Serialize + Send + 'static>(
    state: &ApiState,
    caller: &Caller,
    reference: &str,
    event: modtag_storage::audit::EventKind,
    rule: impl FnOnce(&mut Item, &str, Timestamp) -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    let (person, actor) = (caller.person.clone(), caller.actor.clone());
    let purpose = caller.purpose_or("assessment").to_string();
    let (r, now) = (reference.to_string(), state.now());
    let done = state
        .app
        .change(move |store| {
            let who = Who {
                person: &person,
                actor: &actor,
                purpose: &purpose,
            };
            change::item(store, &r, (&who, event), now, rule)
        })
        .await?;
    Ok(done)
}

/// A person corrects the kind that reading gave an intake; audited with both kinds.
pub async fn correct_kind(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(reference): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<KindCorrected>, ApiError> {
    let input: KindBody = json_body(&body, "{\"kind\": ..., \"reason\": ...}")?;
    let Some(kind) = Kind::parse(&input.kind) else {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        return Err(ApiError::unprocessable(format!(
            "unknown kind {:?}; use one of {}",
            input.kind,
            names.join(", ")
        )));
    };
    let rule = change::correct_kind(&caller.person, kind, &input.reason);
    let done = change_item(&state, &caller, &reference, EventKind::KindCorrected, rule).await?;
    Ok(Json(done))
}

/// A person confirms who an unverified sender is ("Afsender bekræftet af ...", issue 26):
/// what depends on the sender (a professional's rights, a participant list) then applies as
/// for one the transport proved. Audited with how they know.
pub async fn confirm_sender(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(reference): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<SenderConfirmedView>, ApiError> {
    let input: SenderBody = json_body(&body, "{\"how\": \"how you know who sent it\"}")?;
    Ok(Json(
        confirmed_sender(&state, &caller, &reference, &input.how).await?,
    ))
}

/// The sender confirmed, and what waited for it: a kvittering left to a person goes, and a
/// participant list held for its sender joins its forløb.
pub async fn confirmed_sender(
    state: &ApiState,
    caller: &Caller,
    reference: &str,
    how: &str,
) -> Result<SenderConfirmedView, Refusal> {
    let rule = change::confirm_sender(how);
    let done = apply_rule(state, caller, reference, EventKind::SenderConfirmed, rule).await?;
    let cfg = state.app.policy.cfg();
    let reader = state.app.policy.current().reader.clone();
    let (r, actor, now) = (reference.to_string(), caller.actor.clone(), state.now());
    state
        .app
        .change(move |store| -> Result<(), Refusal> {
            let held = store.lock_item(&r);
            if let Some(mut item) = store.item(&r)? {
                let mut batch = Batch::new();
                if kvittering::after_confirmation(&cfg, &mut item, store, &mut batch, now)? {
                    batch.item(item);
                    store.commit(batch, now)?;
                }
            }
            drop(held);
            participants::join_confirmed(store, &cfg, &reader, &r, &actor, now)?;
            Ok(())
        })
        .await?;
    Ok(done)
}

/// A note on the intake by a person of its desk (issue 29); audited without its text.
pub async fn note(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(reference): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<NoteAdded>, ApiError> {
    let input: NoteBody = json_body(&body, "{\"text\": ...}")?;
    let rule = change::note(&input.text);
    let done = change_item(&state, &caller, &reference, EventKind::NoteAdded, rule).await?;
    Ok(Json(done))
}

/// Closes an assessed intake, with a reason.
pub async fn close(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(reference): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Closed>, ApiError> {
    let input: CloseBody = json_body(&body, "{\"reason\": ...}")?;
    let rule = change::close(&input.reason);
    let done = change_item(&state, &caller, &reference, EventKind::Closed, rule).await?;
    Ok(Json(done))
}

/// Records where an intake was filed (issue 31): the case system and the document id.
pub async fn journalise(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(reference): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<JournalisedView>, ApiError> {
    let input: JournalBody = json_body(&body, "{\"system\": \"eDoc\", \"document_id\": ...}")?;
    let rule = change::journalise(&input.system, &input.document_id);
    let done = change_item(&state, &caller, &reference, EventKind::Journalised, rule).await?;
    Ok(Json(done))
}

/// Marks an open task done (or, for feedback, withheld with a reason).
pub async fn task(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(reference): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<TaskDone>, ApiError> {
    let input: TaskBody = json_body(&body, "{\"kind\", \"outcome\", \"reason\"}")?;
    let outcome = match input.outcome.as_str() {
        "done" => TaskOutcome::Done,
        "withheld" => TaskOutcome::Withheld,
        _ => return Err(ApiError::unprocessable("outcome is done or withheld")),
    };
    let rule = change::task(&input.kind, outcome, input.reason.as_deref());
    let done = change_item(&state, &caller, &reference, EventKind::TaskDone, rule).await?;
    Ok(Json(done))
}

/// Records a person's assessment and routes it; answers with whom it went to and why.
pub async fn decide(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(reference): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<DecisionView>, ApiError> {
    let mut input: DecisionBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("decision body is not valid: {e}")))?;
    // Everyone decides in their own name: the body's actor, if any, is not believed.
    input.actor = caller.actor.clone();
    let cfg = state.app.policy.cfg();
    let (r, now) = (reference.clone(), state.now());
    let works = decide::worked_by(caller.person.clone());
    let (decision, item_state) = state
        .app
        .change(move |store| decide::decide(store, &cfg, &r, &input, works, now))
        .await
        .map_err(|e| match e {
            DecideError::NotFound(r) => ApiError::no_intake(&r),
            e @ DecideError::NotYourDesk(_) => {
                ApiError::Refused(axum::http::StatusCode::FORBIDDEN, e.to_string())
            }
            e @ (DecideError::Invalid(_) | DecideError::UnknownCase(_)) => {
                ApiError::unprocessable(e.to_string())
            }
            e @ DecideError::AlreadyDecided(_) => ApiError::conflict(e.to_string()),
            DecideError::Store(e) => ApiError::Store(e),
        })?;
    let mut v = DecisionView::of(&decision);
    v.reference = Some(reference);
    v.state = Some(item_state.as_str().into());
    Ok(Json(v))
}
