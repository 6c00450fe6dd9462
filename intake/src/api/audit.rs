//! The audit log for auditors over the API: a copy of the entries as stored (their payloads
//! stay encrypted to the auditors; the daemon cannot read them), the head and the stored
//! checkpoints, so `modtag audit verify --live` and `audit read --live` can check and read
//! the running daemon's log without stopping it and without trusting it.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use base64::Engine;
use modtag_storage::audit::{Event, EventKind};
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::error::ApiError;
use super::state::{audit, ApiState};
use super::types::{AuditEntryView, AuditPage};
use crate::access::Action;
use crate::app::blocking;

/// Entries per page at most.
const PAGE: usize = 1000;

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    after: u64,
    /// The head the copy began at; the current head when left out (the first page).
    until: Option<u64>,
    limit: Option<usize>,
}

pub async fn log(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Query(q): Query<PageQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    caller.require(Action::AuditCopy)?;
    let store = state.app.store.clone();
    let limit = q.limit.unwrap_or(PAGE).clamp(1, PAGE);
    let (page, until) = blocking(move || {
        let head = store.audit_head()?.unwrap_or((0, [0; 32]));
        let until = q.until.unwrap_or(head.0).min(head.0);
        // The hash of entry `until`: the head's, or the stored entry's for an older head.
        let head_hash = if until == head.0 {
            head.1
        } else {
            let stored = store.audit_page(until.saturating_sub(1), until, 1)?;
            stored
                .first()
                .and_then(|(_, v)| modtag_storage::audit::Entry::decode(v).ok())
                .map_or([0; 32], |e| e.hash)
        };
        let entries = store.audit_page(q.after, until, limit)?;
        let checkpoints = if q.after == 0 {
            store
                .stored_checkpoints(until)?
                .into_iter()
                .map(|(_, note)| note)
                .collect()
        } else {
            Vec::new()
        };
        let more = entries.last().is_some_and(|(seq, _)| *seq < until);
        let b64 = base64::engine::general_purpose::STANDARD;
        Ok::<_, modtag_storage::StoreError>((
            AuditPage {
                until,
                head_hash: hex::encode(head_hash),
                entries: entries
                    .into_iter()
                    .map(|(seq, v)| AuditEntryView {
                        seq,
                        entry: b64.encode(v),
                    })
                    .collect(),
                checkpoints,
                more,
            },
            until,
        ))
    })
    .await?;
    // Copying the log is itself logged (once per page; the entries stay unreadable here).
    let event = Event::new(
        EventKind::AuditCopied,
        &caller.actor,
        caller.purpose_or("audit"),
    )
    .details(json!({ "after": q.after, "until": until, "entries": page.entries.len() }));
    audit(&state, event).await?;
    Ok(Json(page))
}
