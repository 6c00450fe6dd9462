//! Reading intakes: the queue, one intake, one attachment. Every read is audited before
//! anything is returned.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use jiff::Timestamp;
use modtag_config::Channel;
use modtag_router::deadline;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::{Item, ItemState};
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::error::ApiError;
use super::state::{audit, load_item, reread, ApiState};
use super::types::{ItemList, ItemSummaryView, ItemView};
use crate::access::view::{masked, Sight, View};
use crate::app::blocking;
use crate::workflow::escalation::overdue;

/// The list view: no subject, no names, CPR masked.
fn summary(item: &Item, now: Timestamp) -> ItemSummaryView {
    ItemSummaryView {
        reference: item.reference.clone(),
        channel: item.channel,
        kind: item.kind,
        received_at: deadline::rfc3339(item.received_at),
        deadline: deadline::rfc3339(item.deadline),
        deadline_local: deadline::local(item.deadline),
        state: item.state.as_str().into(),
        cpr: masked(&item.cprs),
        case_number: item.case_number.clone(),
        suggestions: item.suggestions.clone(),
        attachments: item.attachments.len(),
        flagged_attachments: item
            .attachments
            .iter()
            .filter(|a| a.flagged.is_some())
            .count(),
        akut: item.akut(),
        reporter: item.understanding.reporter.kind.to_string(),
        parse_error: item.parse_error.is_some(),
        overdue: overdue(item, now),
        repeated: item.repeated,
        earlier: item.earlier.len(),
        open_tasks: item.tasks.iter().filter(|t| t.done_at.is_none()).count(),
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    channel: Option<String>,
    #[serde(default)]
    all: bool,
}

pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<ItemList>, ApiError> {
    let channel = match q.channel.as_deref() {
        None => None,
        Some(c) => Some(Channel::parse(c).ok_or_else(|| {
            ApiError::bad_request("channel must be underretning, trivselplus or postfordeling")
        })?),
    };
    let event = Event::new(
        EventKind::Listed,
        &caller.actor,
        caller.purpose_or("triage"),
    )
    .details(json!({ "channel": q.channel, "all": q.all }));
    audit(&state, event).await?;
    let store = state.app.store.clone();
    let all = q.all;
    let items = blocking(move || {
        if all {
            store.items()
        } else {
            // Open items only, found through the state index: closed ones are not decrypted.
            store.items_where(ItemState::is_open)
        }
    })
    .await?;
    let now = state.now();
    let mut items: Vec<View> = items
        .iter()
        .filter(|i| all || i.state.is_open())
        .filter(|i| channel.is_none_or(|c| i.channel == c))
        // Need-to-know: the caller's desk, and of what was sent to them what it said (an
        // intake a new assessment no longer sends them is not theirs to list).
        .filter_map(|i| caller.view(i))
        .filter(|v| !matches!(v.sight, Sight::Ended { .. }))
        .collect();
    // Akut first, above every deadline (issue 27): awaiting assessment on a desk, or sent
    // to the caller; then what awaits assessment, by its deadline; then the rest.
    items.sort_by_key(|v| {
        let waiting = v.item.state.awaits_assessment();
        let leads = v.item.akut() && (waiting || matches!(v.sight, Sight::Sent { .. }));
        (!leads, !waiting, v.item.deadline, v.item.reference.clone())
    });
    let items = items.iter().map(|v| summary(&v.item, now)).collect();
    Ok(Json(ItemList { items }))
}

pub async fn show(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<ItemView>, ApiError> {
    let view = caller.require_view(load_item(&state, &reference).await?)?;
    let text = open(&state, &caller, &view).await?;
    Ok(Json(item_view(view, text, state.now())))
}

/// The API's body for what `view` lets its person see (everything it leaves out is empty).
fn item_view(view: View, text: Option<String>, now: Timestamp) -> ItemView {
    let s = summary(&view.item, now);
    let (access, role, ended_at) = match &view.sight {
        Sight::Full => ("full", None, None),
        Sight::Sent { role, .. } => ("sent", Some(role.clone()), None),
        Sight::Ended { at } => ("ended", None, Some(deadline::rfc3339(*at))),
    };
    let full = view.sight == Sight::Full;
    let item = view.item;
    ItemView {
        sender_trust: full.then(|| item.sender_trust.as_str().to_string()),
        sender_confirmed: item.sender_confirmed.clone().filter(|_| full),
        address_confirmed_at: (item.address_proof.as_ref())
            .and_then(|p| p.confirmed_at)
            .filter(|_| full),
        journalised: item.journalised.clone().filter(|_| full),
        access: access.into(),
        role,
        ended_at,
        reference: s.reference,
        channel: s.channel,
        kind: s.kind,
        received_at: s.received_at,
        deadline: s.deadline,
        deadline_local: s.deadline_local,
        state: s.state,
        cpr: s.cpr,
        cpr_full: item.cprs,
        case_number: s.case_number,
        suggestions: s.suggestions,
        attachments: s.attachments,
        flagged_attachments: s.flagged_attachments,
        akut: s.akut,
        reporter: s.reporter,
        parse_error: item.parse_error,
        overdue: s.overdue,
        repeated: s.repeated,
        earlier: s.earlier,
        open_tasks: s.open_tasks,
        subject: item.subject,
        from: item.from,
        transport: item.transport,
        attachment_list: item.attachments,
        understanding: item.understanding,
        text,
        decision: item.decision,
        earlier_decisions: item.earlier_decisions,
        earlier_intakes: item.earlier,
        kvittering: item.kvittering,
        escalations: item.escalations,
        tasks: item.tasks,
        staff_notes: item.staff_notes,
        history: item.history,
        sent_to: item.sent_to,
    }
}

/// Opens what `view` shows its person: the view is audited, durably, before the message's
/// text is read again from the encrypted message (it is never stored twice), and the text
/// only when the view includes the original. The API's view and the desk's item page both
/// open an intake this way.
pub async fn open(
    state: &ApiState,
    caller: &Caller,
    view: &View,
) -> Result<Option<String>, ApiError> {
    let access = match view.sight {
        Sight::Full => "full",
        Sight::Sent { .. } => "sent",
        Sight::Ended { .. } => "ended",
    };
    let event = Event::new(
        EventKind::Viewed,
        &caller.actor,
        caller.purpose_or("assessment"),
    )
    .reference(&view.item.reference)
    .details(json!({ "access": access, "original": view.reads_original() }));
    audit(state, event).await?;
    if !view.reads_original() {
        return Ok(None);
    }
    let text = reread(state, &view.item, |reader, raw, channel| {
        reader.read(raw, channel).text
    })
    .await?;
    Ok(text)
}

#[derive(Deserialize)]
pub struct AttachmentQuery {
    #[serde(default)]
    allow_flagged: bool,
}

/// One attachment's bytes as a download (`application/octet-stream`, never rendered), after
/// checking them against the SHA-256 recorded at intake. Audited before anything is read. A
/// flagged attachment (outside the allow-list, or not what it claims to be) is only given
/// with `?allow_flagged=true`.
pub async fn attachment(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path((reference, index)): Path<(String, String)>,
    Query(q): Query<AttachmentQuery>,
) -> Result<Response, ApiError> {
    let Ok(index) = index.parse::<usize>() else {
        return Err(ApiError::bad_request(format!(
            "{index:?} is not an attachment number (they count from 0)"
        )));
    };
    let view = caller.require_view(load_item(&state, &reference).await?)?;
    // An attachment is part of the original: only for those whose view carries it.
    let item = match view.reads_original() {
        true => view.item,
        false => return Err(ApiError::no_intake(&reference)),
    };
    let Some(listed) = item.attachments.get(index).cloned() else {
        return Err(ApiError::not_found(format!(
            "{reference} has {} attachment(s), numbered from 0",
            item.attachments.len()
        )));
    };
    if let (Some(why), false) = (&listed.flagged, q.allow_flagged) {
        return Err(ApiError::conflict(format!(
            "attachment {index} of {reference} is flagged ({why}); ask with \
             allow_flagged=true (modtag triage attachment --allow-flagged) to have it anyway"
        )));
    }
    let event = Event::new(
        EventKind::AttachmentViewed,
        &caller.actor,
        caller.purpose_or("assessment"),
    )
    .reference(&reference)
    .details(
        json!({ "index": index, "sha256": listed.sha256, "flagged": listed.flagged.is_some() }),
    );
    audit(&state, event).await?;
    let found = reread(&state, &item, move |reader, raw, channel| {
        reader.attachment(raw, channel, index)
    })
    .await?;
    use sha2::Digest as _;
    match found {
        Some(Some((_, bytes))) if hex::encode(sha2::Sha256::digest(&bytes)) == listed.sha256 => {
            let headers = [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{reference}-{index}.bin\""),
                ),
            ];
            Ok((headers, bytes).into_response())
        }
        _ => {
            tracing::error!(%reference, index, "stored message does not give the recorded attachment");
            Err(ApiError::Refused(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "the stored message of {reference} no longer gives attachment {index} as \
                     recorded at intake (its hash differs); nothing was sent"
                ),
            ))
        }
    }
}
