//! Figures without personal data: liveness, the SLA report, Prometheus metrics, and the
//! audit log's latest signed checkpoint.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jiff::Timestamp;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::StoreError;
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::error::ApiError;
use super::state::{audit, ApiState};
use super::types::Sla;
use crate::access::Action;
use crate::app::blocking;
use crate::report::OutboxCounts;

pub async fn healthz(State(state): State<Arc<ApiState>>) -> Result<Response, ApiError> {
    if state.app.store.is_poisoned() {
        return Err(ApiError::Refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage failed; restart modtag after checking the disk".into(),
        ));
    }
    Ok((StatusCode::OK, "ok\n").into_response())
}

/// Readiness for a load balancer or an orchestrator: 200 only when the store takes writes
/// (not poisoned, the disk has its free space), the SMTP listener accepts, and the outbox
/// is not stuck (no copy due or waiting on the relay for longer than `[http]
/// ready_outbox_max_age_secs`); otherwise 503 with every reason. `/healthz` stays the
/// liveness probe.
pub async fn readyz(State(state): State<Arc<ApiState>>) -> Response {
    let cfg = state.app.policy.cfg();
    let now = state.now();
    let store = state.app.store.clone();
    let max_age = cfg.config.http.ready_outbox_max_age_secs;
    let mut reasons: Vec<String> = Vec::new();
    if store.is_poisoned() {
        reasons.push("storage failed: restart modtag after checking the disk".into());
    }
    if !state.smtp.listening() {
        reasons.push("the SMTP listener is not accepting connections".into());
    }
    let data = store.data_dir().to_path_buf();
    let min_free = cfg.config.smtp.min_free();
    match crate::smtp::disk::free_bytes(&data) {
        Ok(free) if min_free > 0 && free < min_free => reasons.push(format!(
            "the data directory's disk has {free} bytes free, below the {min_free} it keeps"
        )),
        _ => {}
    }
    let outbox = blocking(move || -> Result<_, modtag_storage::StoreError> {
        // Like a copy that waits: said once it has been so for the allowed age.
        let unreadable =
            store.outbox_unreadable(now - jiff::SignedDuration::from_secs(max_age as i64));
        Ok((
            store.outbox_next_due()?,
            store.outbox_deferred()?.1,
            unreadable,
        ))
    })
    .await;
    match outbox {
        Ok((due, waiting, unreadable)) => {
            if unreadable > 0 {
                reasons.push(format!(
                    "copies in the outbox that cannot be read (a damaged record or message \
                     file): {unreadable}; the log names them"
                ));
            }
            let age = |t: jiff::Timestamp| (now - t).get_seconds();
            if let Some(t) = due.filter(|t| age(*t) > max_age as i64) {
                reasons.push(format!(
                    "the outbox has a copy due for {} s: is the outbox worker running?",
                    age(t)
                ));
            }
            if let Some(t) = waiting.filter(|t| age(*t) > max_age as i64) {
                reasons.push(format!(
                    "a copy has waited {} s for the relay: is the relay reachable?",
                    age(t)
                ));
            }
        }
        Err(_) => reasons.push("the outbox cannot be read".into()),
    }
    if reasons.is_empty() {
        (StatusCode::OK, Json(serde_json::json!({ "ready": true }))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "ready": false, "reasons": reasons })),
        )
            .into_response()
    }
}

#[derive(Deserialize)]
pub struct SlaQuery {
    from: String,
    to: String,
}

/// `YYYY-MM-DD` as the start of that day in Europe/Copenhagen.
pub fn local_day(d: &str) -> Result<Timestamp, String> {
    d.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.in_tz("Europe/Copenhagen").ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| format!("{d:?} is not a date (YYYY-MM-DD)"))
}

/// SLA figures for intakes received from `from` up to and including `to` (local days).
pub async fn sla(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Query(q): Query<SlaQuery>,
) -> Result<Json<Sla>, ApiError> {
    caller.require(Action::ReportSla)?;
    let (from, to) = match (local_day(&q.from), local_day(&q.to)) {
        (Ok(f), Ok(t)) if f <= t => (f, t + jiff::SignedDuration::from_hours(24)),
        (Ok(_), Ok(_)) => return Err(ApiError::bad_request("from must not be after to")),
        (Err(e), _) | (_, Err(e)) => return Err(ApiError::bad_request(e)),
    };
    let store = state.app.store.clone();
    let items = blocking(move || store.summaries()).await?;
    let report = crate::report::sla(&items, from, to, state.now());
    let event = Event::new(
        EventKind::Report,
        &caller.actor,
        caller.purpose_or("sla report"),
    )
    .details(json!({ "report": "sla", "from": q.from, "to": q.to }));
    audit(&state, event).await?;
    Ok(Json(report))
}

/// The latest signed checkpoint of the audit log (no personal data).
pub async fn latest_checkpoint(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(Action::AuditCheckpoint)?;
    let store = state.app.store.clone();
    match blocking(move || store.latest_checkpoint()).await? {
        Some(note) => {
            Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
        }
        None => Err(ApiError::not_found("no checkpoint has been written yet")),
    }
}

/// The metrics token cannot be read: the operator's to fix (it names a file, no secret).
fn unreadable(e: &dyn std::fmt::Display) -> ApiError {
    ApiError::Refused(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("[http] metrics_token: {e}"),
    )
}

/// Who may read `/metrics`: a client on loopback (the scraper beside the daemon, the CLI's
/// socket), or one that sends `[http] metrics_token` as a bearer token. The figures carry no
/// personal data, but the load and the backlog are no one else's business.
fn may_scrape(state: &ApiState, parts: &Parts) -> Result<bool, ApiError> {
    if parts.extensions.get::<super::server::LocalPeer>().is_some()
        || super::auth::client_of(parts, state).is_loopback()
    {
        return Ok(true);
    }
    let cfg = state.app.policy.cfg();
    let Some(file) = &cfg.config.http.metrics_token else {
        return Ok(false);
    };
    let path = cfg.config.secret_path(file).map_err(|e| unreadable(&e))?;
    let token = modtag_storage::keys::read_secret(&path).map_err(|e| unreadable(&e))?;
    let given = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
    let token = String::from_utf8_lossy(&token);
    Ok(given.is_some_and(|g| crate::identity::constant_time_eq(g, token.trim().as_bytes())))
}

/// Prometheus metrics: counts and ratios only, no personal data; on loopback, or with the
/// metrics token.
pub async fn metrics(
    State(state): State<Arc<ApiState>>,
    parts: Parts,
) -> Result<Response, ApiError> {
    if !may_scrape(&state, &parts)? {
        return Err(ApiError::Refused(
            StatusCode::FORBIDDEN,
            "/metrics answers on loopback, or with the bearer token [http] metrics_token names"
                .into(),
        ));
    }
    let store = state.app.store.clone();
    let (items, outbox, health) = blocking(move || {
        let failed = store.outbox_failed();
        let (deferred, oldest_deferred) = store.outbox_deferred()?;
        let outbox = OutboxCounts {
            pending: store.outbox_len().saturating_sub(failed),
            failed,
            deferred,
            oldest_deferred,
            unreadable: store.outbox_unreadable(Timestamp::MAX),
        };
        let health = crate::report::StoreHealth {
            refusing_writes: store.is_poisoned(),
            ring_key_owed: store.ring_owed()?,
        };
        Ok::<_, StoreError>((store.summaries()?, outbox, health))
    })
    .await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::report::metrics(&items, outbox, state.now())
            + &crate::report::health_metrics(health)
            + &state.smtp.render(),
    )
        .into_response())
}
