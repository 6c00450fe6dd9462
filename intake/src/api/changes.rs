//! Changing an intake: the decision, a corrected kind, a task done, closing. Each change
//! locks the item, commits it with its audit entry in one batch, and is durable before the
//! answer.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use jiff::Timestamp;
use modtag_config::Kind;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::{Item, ItemState, SenderConfirmed, TaskKind, TaskOutcome};
use modtag_storage::store::Batch;
use serde::Serialize;

use super::auth::{require_work, Caller};
use super::error::{json_body, ApiError};
use super::state::{durable, ApiState};
use super::types::{
    CloseBody, Closed, DecisionBody, DecisionView, KindBody, KindCorrected, SenderBody,
    SenderConfirmedView, TaskBody, TaskDone,
};
use crate::app::blocking;
use crate::workflow::decide::{self, DecideError};

/// Loads an item under its lock, lets `change` modify it (or refuse), and commits it with an
/// audit entry whose details are what `change` returns; that is also the answer.
async fn modify<T: Serialize + Send + 'static>(
    state: &ApiState,
    caller: &Caller,
    reference: &str,
    event: EventKind,
    change: impl FnOnce(&mut Item, &str, Timestamp) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.app.store.clone();
    let clock = state.app.clock.clone();
    let actor = caller.actor.clone();
    let purpose = caller.purpose_or("assessment").to_string();
    let r = reference.to_string();
    let person = caller.person.clone();
    let done = blocking(move || -> Result<T, ApiError> {
        let _held = store.lock_item(&r);
        let mut item = store.item(&r)?.ok_or_else(|| ApiError::no_intake(&r))?;
        require_work(&person, &item)?;
        let now = clock.now();
        let outcome = change(&mut item, &actor, now)?;
        let details = serde_json::to_value(&outcome).unwrap_or_default();
        let mut b = Batch::new();
        b.audit(
            Event::new(event, &actor, &purpose)
                .reference(&r)
                .details(details),
        );
        b.item(item);
        store.commit(b, now)?;
        Ok(outcome)
    })
    .await?;
    durable(state).await?;
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
    if input.reason.trim().is_empty() {
        return Err(ApiError::unprocessable("a correction needs a reason"));
    }
    let r = reference.clone();
    let desk = crate::access::desk_kinds(&caller.person);
    let done = modify(
        &state,
        &caller,
        &reference,
        EventKind::KindCorrected,
        move |item, actor, now| {
            // The kind decides the desk: only the desk's own people correct it (not the
            // døgnvagt, which holds an intake for a night), and an akut intake awaiting
            // assessment stays Modtagelsen's (issue 27 review).
            if !desk.contains(&item.kind) {
                return Err(ApiError::forbidden(
                    "only the desk the intake is on corrects its kind",
                ));
            }
            let to_journalen = matches!(kind, Kind::Trivselplus | Kind::Postfordeling);
            if to_journalen && item.akut() && item.state.awaits_assessment() {
                return Err(ApiError::conflict(
                    "an akut intake awaiting assessment stays on Modtagelsen's desk: assess it first",
                ));
            }
            let from = std::mem::replace(&mut item.kind, kind);
            let st = item.state;
            item.transition(
                st,
                actor,
                now,
                &format!("kind {from} → {kind}: {}", input.reason),
            );
            Ok(KindCorrected {
                reference: r,
                from,
                kind,
            })
        },
    )
    .await?;
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
    let how = input.how.trim().to_string();
    if how.is_empty() || how.chars().count() > 500 || how.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "say in one line how you know who sent it (e.g. called the school back)",
        ));
    }
    let r = reference.clone();
    let done = modify(
        &state,
        &caller,
        &reference,
        EventKind::SenderConfirmed,
        move |item, actor, now| {
            if item.sender_known() {
                return Err(ApiError::conflict(format!(
                    "the sender of {} is known already",
                    item.reference
                )));
            }
            item.sender_confirmed = Some(SenderConfirmed {
                by: actor.to_string(),
                at: now,
                how: how.clone(),
            });
            Ok(SenderConfirmedView {
                reference: r,
                by: actor.to_string(),
                how,
            })
        },
    )
    .await?;
    // A kvittering left to a person for want of a known sender goes now.
    let (store, cfg) = (state.app.store.clone(), state.app.policy.cfg());
    let (r, now) = (reference.clone(), state.now());
    let kvittering = blocking(move || -> Result<bool, ApiError> {
        let _held = store.lock_item(&r);
        let Some(mut item) = store.item(&r)? else {
            return Ok(false);
        };
        let mut batch = Batch::new();
        if !crate::workflow::kvittering::after_confirmation(
            &cfg, &mut item, &store, &mut batch, now,
        )? {
            return Ok(false);
        }
        batch.item(item);
        store.commit(batch, now)?;
        Ok(true)
    })
    .await?;
    if kvittering {
        durable(&state).await?;
        state.app.wake.notify_one();
    }
    // A participant list held for its sender joins its forløb now.
    let (store, cfg) = (state.app.store.clone(), state.app.policy.cfg());
    let reader = state.app.policy.current().reader.clone();
    let (r, actor, now) = (reference.clone(), caller.actor.clone(), state.now());
    let joined = blocking(move || {
        crate::workflow::participants::join_confirmed(&store, &cfg, &reader, &r, &actor, now)
    })
    .await?;
    if joined.is_some() {
        durable(&state).await?;
    }
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
    if input.reason.trim().is_empty() {
        return Err(ApiError::unprocessable("closing needs a reason"));
    }
    let r = reference.clone();
    let done = modify(
        &state,
        &caller,
        &reference,
        EventKind::Closed,
        move |item, actor, now| {
            if !item.state.can_become(ItemState::Closed) {
                return Err(ApiError::conflict(format!(
                    "{} is {}: only an assessed intake can be closed",
                    item.reference,
                    item.state.as_str()
                )));
            }
            let from = item.state.as_str();
            item.transition(ItemState::Closed, actor, now, &input.reason);
            Ok(Closed {
                reference: r,
                from: from.into(),
                state: "closed".into(),
            })
        },
    )
    .await?;
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
    let reason_given = input
        .reason
        .as_deref()
        .is_some_and(|r| !r.trim().is_empty());
    let kind = TaskKind::parse(&input.kind);
    if outcome == TaskOutcome::Withheld && (kind != Some(TaskKind::Tilbagemelding) || !reason_given)
    {
        return Err(ApiError::unprocessable(
            "only feedback (tilbagemelding) can be withheld, and only with a reason: that it would harm the child",
        ));
    }
    let r = reference.clone();
    let done = modify(
        &state,
        &caller,
        &reference,
        EventKind::TaskDone,
        move |item, actor, now| {
            // Given another way is still given from what was decided: with no outcome
            // recorded there was nothing to tell (issue 27 review). Withholding needs none.
            let given = kind == Some(TaskKind::Tilbagemelding) && outcome == TaskOutcome::Done;
            if given && crate::workflow::tilbagemelding::recorded_outcome(item).is_none() {
                return Err(ApiError::unprocessable(
                    "the assessment recorded no screening outcome: there is nothing to tell the \
                     reporter yet; assess again with the outcome first",
                ));
            }
            let open = kind.and_then(|k| {
                item.tasks
                    .iter_mut()
                    .find(|t| t.kind == k && t.done_at.is_none())
            });
            let (Some(t), Some(kind)) = (open, kind) else {
                return Err(ApiError::conflict(format!(
                    "{} has no open task {:?}",
                    item.reference, input.kind
                )));
            };
            t.done_at = Some(now);
            t.done_by = Some(actor.to_string());
            t.outcome = Some(outcome);
            if reason_given {
                t.reason = input.reason.clone();
            }
            if kind == TaskKind::Kvittering {
                if let Some(k) = item.kvittering.as_mut() {
                    k.sent_at = Some(now);
                    k.sent_by = Some(actor.to_string());
                }
            }
            Ok(TaskDone {
                reference: r,
                task: kind,
                outcome,
            })
        },
    )
    .await?;
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
    let store = state.app.store.clone();
    let cfg = state.app.policy.cfg();
    let now = state.now();
    let r = reference.clone();
    let works = decide::worked_by(caller.person.clone());
    let (decision, item_state) =
        blocking(move || decide::decide(&store, &cfg, &r, &input, works, now))
            .await
            .map_err(|e| match e {
                DecideError::NotFound(r) => ApiError::no_intake(&r),
                e @ DecideError::NotYourDesk(_) => {
                    ApiError::Refused(axum::http::StatusCode::FORBIDDEN, e.to_string())
                }
                e @ DecideError::Invalid(_) => ApiError::unprocessable(e.to_string()),
                e @ DecideError::AlreadyDecided(_) => ApiError::conflict(e.to_string()),
                DecideError::Store(e) => ApiError::Store(e),
            })?;
    durable(&state).await?;
    state.app.wake.notify_one();
    let mut v = DecisionView::of(&decision);
    v.reference = Some(reference);
    v.state = Some(item_state.as_str().into());
    Ok(Json(v))
}
