//! Deliveries the relay refused for good, and queueing them again.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::store::Batch;
use serde_json::json;

use super::auth::Caller;
use super::error::ApiError;
use super::state::{audit, ApiState};
use super::types::{FailedDelivery, Requeued};
use crate::access::Action;
use crate::app::blocking;

/// Which intake, to whom (role and directory id), and the relay's answer; the copy itself is
/// not shown. Audited.
pub async fn failed(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
) -> Result<Json<Vec<FailedDelivery>>, ApiError> {
    failed_deliveries(&state, &caller).await.map(Json)
}

/// The failed deliveries for `caller` (the API's and the page's), audited.
pub async fn failed_deliveries(
    state: &ApiState,
    caller: &Caller,
) -> Result<Vec<FailedDelivery>, ApiError> {
    caller.require(Action::OutboxFailed)?;
    let store = state.app.store.clone();
    let read = blocking(move || store.outbox_failed_entries()).await?;
    // One that cannot be read is named in the log and left out, not the whole list.
    for (id, e) in &read.unreadable {
        let what = modtag_storage::outbox::damage(e).unwrap_or("it cannot be read");
        tracing::error!(outbox_id = id, "a failed delivery cannot be read ({what})");
    }
    let entries = read.entries;
    let event = Event::new(
        EventKind::OutboxListed,
        &caller.actor,
        caller.purpose_or("delivery"),
    )
    .details(json!({ "failed": entries.len() }));
    audit(state, event).await?;
    Ok(entries
        .into_iter()
        .map(|e| FailedDelivery {
            id: e.id,
            reference: e.reference,
            role: e.role,
            person: e.person,
            attempts: e.attempts,
            failed: e.failed,
            error: e.last_error,
        })
        .collect())
}

/// Puts a failed delivery back in the queue (after the address or the relay was put right).
pub async fn retry(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Requeued>, ApiError> {
    requeue(&state, &caller, &id).await.map(Json)
}

/// Queues failed delivery `id` again for `caller` (the API's and the page's), audited.
pub async fn requeue(state: &ApiState, caller: &Caller, id: &str) -> Result<Requeued, ApiError> {
    caller.require(Action::OutboxRetry)?;
    let Ok(id) = id.parse::<u64>() else {
        return Err(ApiError::bad_request(format!(
            "{id:?} is not an outbox id (see GET /api/v1/outbox/failed)"
        )));
    };
    let actor = caller.actor.clone();
    let purpose = caller.purpose_or("delivery").to_string();
    let now = state.now();
    let reference = state
        .app
        .change(move |store| -> Result<String, ApiError> {
            // One retry of an entry at a time: a second, read before the first was written,
            // would record a retry of an entry no longer failed (and could write back one the
            // worker has since delivered).
            let _held = store.lock_outbox_entry(id);
            let Some(mut entry) = store.outbox_entry(id)? else {
                return Err(ApiError::not_found(format!(
                    "no outbox entry {id} (it may have been delivered)"
                )));
            };
            if entry.failed.is_none() {
                return Err(ApiError::conflict(format!(
                    "outbox entry {id} has not failed: it is still being tried"
                )));
            }
            entry.failed = None;
            entry.next_attempt = now;
            let mut b = Batch::new();
            b.audit(
                Event::new(EventKind::DeliveryRetried, &actor, &purpose)
                    .reference(&entry.reference)
                    .details(json!({ "id": id, "role": entry.role, "person": entry.person })),
            );
            let reference = entry.reference.clone();
            b.outbox_again(entry);
            store.commit(b, now)?;
            Ok(reference)
        })
        .await?;
    Ok(Requeued {
        id,
        reference,
        queued: true,
    })
}
