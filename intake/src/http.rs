//! The HTTP API: versioned JSON under `/api/v1/`, bearer-token authenticated; `/healthz`
//! needs no token. Every read of personal data is audited with actor and purpose, taken
//! from the `X-Modtag-Actor` and `X-Modtag-Purpose` headers.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::Timestamp;
use modtag_router::cpr::Cpr;
use modtag_router::deadline;
use modtag_storage::audit::Event;
use modtag_storage::records::{Item, ItemState};
use modtag_storage::store::Batch;
use modtag_storage::{Store, StoreError};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::triage::{self, DecideError, DecisionInput};

pub struct AppState {
    pub store: Store,
    /// Configuration, directory, beslutningstræ and reader, swapped as one on reload.
    pub policy: crate::policy::Policy,
    /// Wakes the outbox worker after new copies are queued.
    pub wake: Arc<Notify>,
    pub logins: LoginGuard,
    /// The SMTP listener's counters, shown in `/metrics`.
    pub smtp: Arc<crate::smtp::stats::SmtpStats>,
}

/// Failed logins per client address, like Postfix's anvil: after [`LoginGuard::MAX_FAILURES`]
/// wrong or missing tokens within [`LoginGuard::WINDOW`], the address gets `429` until that
/// window has passed, without its token being checked or each refusal audited. Guessing the
/// token stays slow, and a client cannot grow the audit log without bound (one
/// `login_throttled` entry per lockout).
#[derive(Default)]
pub struct LoginGuard {
    by_addr: std::sync::Mutex<std::collections::HashMap<IpAddr, Failures>>,
}

struct Failures {
    first: Instant,
    count: u32,
}

impl LoginGuard {
    pub const MAX_FAILURES: u32 = 10;
    pub const WINDOW: Duration = Duration::from_secs(60);
    /// Addresses remembered at most; expired ones are forgotten first.
    const MAX_TRACKED: usize = 10_000;

    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<IpAddr, Failures>> {
        self.by_addr.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds `addr` must wait while it is locked out.
    pub fn locked(&self, addr: IpAddr, now: Instant) -> Option<u64> {
        let map = self.map();
        let f = map.get(&addr)?;
        let left = Self::WINDOW
            .checked_sub(now.duration_since(f.first))
            .filter(|left| !left.is_zero())?;
        (f.count >= Self::MAX_FAILURES).then(|| left.as_secs().max(1))
    }

    /// Counts a failure; true when it is the one that locks `addr` out.
    pub fn failed(&self, addr: IpAddr, now: Instant) -> bool {
        let mut map = self.map();
        if map.len() >= Self::MAX_TRACKED {
            map.retain(|_, f| now.duration_since(f.first) < Self::WINDOW);
        }
        if map.len() >= Self::MAX_TRACKED && !map.contains_key(&addr) {
            // Still full of live entries (a spread-out attack): forget the oldest.
            if let Some(oldest) = map.iter().min_by_key(|(_, f)| f.first).map(|(a, _)| *a) {
                map.remove(&oldest);
            }
        }
        let f = map.entry(addr).or_insert(Failures {
            first: now,
            count: 0,
        });
        if now.duration_since(f.first) >= Self::WINDOW {
            *f = Failures {
                first: now,
                count: 0,
            };
        }
        f.count += 1;
        f.count == Self::MAX_FAILURES
    }

    pub fn succeeded(&self, addr: IpAddr) {
        self.map().remove(&addr);
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/triage", get(list))
        .route("/api/v1/triage/{reference}", get(show))
        .route("/api/v1/triage/{reference}/decision", post(decide))
        .route("/api/v1/triage/{reference}/kind", post(correct_kind))
        .route("/api/v1/triage/{reference}/close", post(close))
        .route("/api/v1/triage/{reference}/task", post(task))
        .route(
            "/api/v1/triage/{reference}/attachments/{index}",
            get(attachment),
        )
        .route("/api/v1/cases/import", post(import_cases))
        .route("/api/v1/cases/export", get(export_cases))
        .route("/api/v1/config/reload", post(reload))
        .route("/api/v1/route/simulate", post(simulate))
        .route("/api/v1/report/sla", get(report_sla))
        .route("/metrics", get(metrics))
        .route("/api/v1/audit/checkpoint", get(latest_checkpoint))
        .route("/api/v1/outbox/failed", get(outbox_failed))
        .route("/api/v1/outbox/{id}/retry", post(outbox_retry))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "no such endpoint; the API lives under /api/v1/",
            )
        })
        .layer(axum::middleware::map_response(json_errors))
        .with_state(state)
}

/// axum's own refusals (a body over the limit, a path that is not UTF-8, a wrong method) come
/// as plain text or nothing; every API error is `{"error": ...}`, so clients read one shape.
/// Their headers (`Allow`, `Retry-After`) are kept.
async fn json_errors(res: Response) -> Response {
    let status = res.status();
    let json = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || json {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_lowercase()
    } else {
        text
    };
    let fresh = error(status, message);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, fresh.into_body())
}

/// A JSON request body, or what to tell the caller (a 400) with the shape expected.
fn json_body<T: serde::de::DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("the body must be JSON {shape}: {e}"))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn store_error(e: StoreError) -> Response {
    tracing::error!(error = %e, "storage error in API");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage is unavailable; nothing was changed, try again later",
    )
}

/// Who is calling, established from the token and the actor headers.
pub struct Caller {
    pub actor: String,
    pub purpose: Option<String>,
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The address a request is counted under for the login lockout: the peer itself, or, for a
/// request from a trusted reverse proxy, the nearest address in `X-Forwarded-For` that is
/// not a trusted proxy too (proxies append, so everything left of that came from the client
/// and is not believed).
pub fn client_address(
    peer: IpAddr,
    forwarded_for: &str,
    trusted: &[modtag_config::model::Cidr],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    let mut client = peer;
    if !is_trusted(peer) {
        return client;
    }
    for hop in forwarded_for
        .rsplit(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
    {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        // Without a peer address (never, when served by the daemon) all callers share one.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let peer = client_address(
            peer,
            &forwarded.join(","),
            &state.policy.current().cfg.config.http.trusted_proxies,
        );
        if let Some(wait) = state.logins.locked(peer, Instant::now()) {
            let mut refused = error(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many failed logins from this address; try again in {wait} seconds"),
            );
            refused
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, wait.into());
            return Err(refused);
        }
        let token = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let expected = state.store.keys().api_token.as_bytes();
        if !token.is_some_and(|t| constant_time_eq(t.as_bytes(), expected)) {
            tracing::warn!(path = %parts.uri.path(), "API request with a missing or wrong token");
            // A failed login is an audit event (the path only: a URL carries no personal data).
            let event = Event::new("login_failed", "unknown", "authentication").details(json!({
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "token_given": token.is_some(),
            }));
            audit(&state.store, event).await?;
            if state.logins.failed(peer, Instant::now()) {
                tracing::warn!(%peer, "API logins from this address throttled");
                let event =
                    Event::new("login_throttled", "unknown", "authentication").details(json!({
                        "peer": peer.to_string(),
                        "failures": LoginGuard::MAX_FAILURES,
                        "seconds": LoginGuard::WINDOW.as_secs(),
                    }));
                audit(&state.store, event).await?;
            }
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "missing or wrong bearer token (see the api-token file in the data directory)",
            ));
        }
        state.logins.succeeded(peer);
        // Names and purposes are Danish: read the header as UTF-8 (`to_str` takes ASCII
        // only, and every "Søren" became the token's default actor).
        let header = |h: &HeaderMap, name: &str| {
            h.get(name)
                .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
                .map(|s| {
                    s.chars()
                        .filter(|c| !c.is_control())
                        .take(100)
                        .collect::<String>()
                })
                .filter(|s| !s.trim().is_empty())
        };
        Ok(Caller {
            actor: header(&parts.headers, "x-modtag-actor").unwrap_or_else(|| "admin-token".into()),
            purpose: header(&parts.headers, "x-modtag-purpose"),
        })
    }
}

/// The stored item of `reference`, or the answer to give (404, or 503 on storage failure).
async fn load_item(state: &AppState, reference: &str) -> Result<Item, Response> {
    let store = state.store.clone();
    let r = reference.to_string();
    match blocking(move || store.item(&r)).await {
        Ok(Some(i)) => Ok(i),
        Ok(None) => Err(error(
            StatusCode::NOT_FOUND,
            format!("no intake with reference {reference}"),
        )),
        Err(e) => Err(store_error(e)),
    }
}

/// Reads the stored message of `item` again with the running reader (text and attachments
/// are never stored apart from the encrypted message); `None` when there is no message.
async fn reread<T: Send + 'static>(
    state: &AppState,
    item: &Item,
    read: impl FnOnce(&crate::understand::Reader, &[u8], modtag_config::Channel) -> T + Send + 'static,
) -> Result<Option<T>, StoreError> {
    let (store, reader, r) = (
        state.store.clone(),
        state.policy.current().reader.clone(),
        item.reference.clone(),
    );
    let channel = modtag_config::Channel::parse(&item.channel)
        .unwrap_or(modtag_config::Channel::Underretning);
    blocking(move || {
        store
            .message(&r)
            .map(|m| m.map(|raw| read(&reader, &raw, channel)))
    })
    .await
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("blocking task panicked")
}

/// Commits an audit-only batch and makes it durable before the caller sees data.
async fn audit(store: &Store, event: Event) -> Result<(), Response> {
    let s = store.clone();
    let now = Timestamp::now();
    blocking(move || {
        let mut b = Batch::new();
        b.audit(event);
        s.commit(b, now)
    })
    .await
    .map_err(store_error)?;
    crate::flush(store).await.map_err(store_error)
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    if state.store.is_poisoned() {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage failed; restart modtag after checking the disk",
        )
    } else {
        (StatusCode::OK, "ok\n").into_response()
    }
}

fn masked(cprs: &[String]) -> Vec<String> {
    cprs.iter()
        .filter_map(|c| Cpr::parse(c))
        .map(|c| c.masked())
        .collect()
}

/// The list view: no subject, no names, CPR masked.
fn summary(item: &Item) -> Value {
    json!({
        "reference": item.reference,
        "channel": item.channel,
        "kind": item.kind,
        "received_at": deadline::rfc3339(item.received_at),
        "deadline": deadline::rfc3339(item.deadline),
        "deadline_local": deadline::local(item.deadline),
        "state": item.state.as_str(),
        "cpr": masked(&item.cprs),
        "case_number": item.case_number,
        "suggestions": item.suggestions,
        "attachments": item.attachments.len(),
        "flagged_attachments": item.attachments.iter().filter(|a| a.flagged.is_some()).count(),
        "akut": !item.understanding.akut.is_empty(),
        "reporter": item.understanding.reporter.kind,
        "parse_error": item.parse_error.is_some(),
        "overdue": crate::escalation::overdue(item, Timestamp::now()),
        "repeated": item.repeated,
        "earlier": item.earlier.len(),
        "open_tasks": item.tasks.iter().filter(|t| t.done_at.is_none()).count(),
    })
}

#[derive(Deserialize)]
struct ListQuery {
    channel: Option<String>,
    #[serde(default)]
    all: bool,
}

async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Some(c) = &q.channel {
        if modtag_config::Channel::parse(c).is_none() {
            return error(
                StatusCode::BAD_REQUEST,
                "channel must be underretning, trivselplus or postfordeling",
            );
        }
    }
    let event = Event::new(
        "listed",
        &caller.actor,
        caller.purpose.as_deref().unwrap_or("triage"),
    )
    .details(json!({ "channel": q.channel, "all": q.all }));
    if let Err(r) = audit(&state.store, event).await {
        return r;
    }
    let store = state.store.clone();
    let all = q.all;
    let read = move || {
        if all {
            store.items()
        } else {
            // Open items only, found through the state index: closed ones are not decrypted.
            store.items_where(ItemState::is_open)
        }
    };
    let items = match blocking(read).await {
        Ok(i) => i,
        Err(e) => return store_error(e),
    };
    let items: Vec<Value> = items
        .iter()
        .filter(|i| q.all || i.state.is_open())
        .filter(|i| q.channel.as_ref().is_none_or(|c| &i.channel == c))
        .map(summary)
        .collect();
    Json(json!({ "items": items })).into_response()
}

async fn show(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Response {
    let item = match load_item(&state, &reference).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let event = Event::new(
        "viewed",
        &caller.actor,
        caller.purpose.as_deref().unwrap_or("assessment"),
    )
    .reference(&reference);
    if let Err(r) = audit(&state.store, event).await {
        return r;
    }
    let mut v = summary(&item);
    v["cpr_full"] = json!(item.cprs);
    v["subject"] = json!(item.subject);
    v["from"] = json!(item.from);
    v["transport"] = json!(item.transport);
    v["attachment_list"] = json!(item.attachments);
    v["parse_error"] = json!(item.parse_error);
    v["understanding"] = json!(item.understanding);
    // The text is read again from the encrypted message: it is never stored twice.
    match reread(&state, &item, |reader, raw, channel| {
        reader.read(raw, channel).text
    })
    .await
    {
        Ok(text) => v["text"] = json!(text),
        Err(e) => return store_error(e),
    }
    v["decision"] = json!(item.decision);
    v["earlier_decisions"] = json!(item.earlier_decisions);
    v["earlier_intakes"] = json!(item.earlier);
    v["kvittering"] = json!(item.kvittering);
    v["escalations"] = json!(item.escalations);
    v["tasks"] = json!(item.tasks);
    v["history"] = json!(item.history);
    v["sent_to"] = json!(item.sent_to);
    Json(v).into_response()
}

#[derive(Deserialize)]
struct AttachmentQuery {
    #[serde(default)]
    allow_flagged: bool,
}

/// One attachment's bytes as a download (`application/octet-stream`, never rendered), after
/// checking them against the SHA-256 recorded at intake. Audited before anything is read. A
/// flagged attachment (outside the allow-list, or not what it claims to be) is only given
/// with `?allow_flagged=true`.
async fn attachment(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((reference, index)): Path<(String, String)>,
    Query(q): Query<AttachmentQuery>,
) -> Response {
    let Ok(index) = index.parse::<usize>() else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("{index:?} is not an attachment number (they count from 0)"),
        );
    };
    let item = match load_item(&state, &reference).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let Some(listed) = item.attachments.get(index).cloned() else {
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "{reference} has {} attachment(s), numbered from 0",
                item.attachments.len()
            ),
        );
    };
    if let (Some(why), false) = (&listed.flagged, q.allow_flagged) {
        return error(
            StatusCode::CONFLICT,
            format!(
                "attachment {index} of {reference} is flagged ({why}); ask with \
                 allow_flagged=true (modtag triage attachment --allow-flagged) to have it anyway"
            ),
        );
    }
    let event = Event::new(
        "attachment_viewed",
        &caller.actor,
        caller.purpose.as_deref().unwrap_or("assessment"),
    )
    .reference(&reference)
    .details(
        json!({ "index": index, "sha256": listed.sha256, "flagged": listed.flagged.is_some() }),
    );
    if let Err(r) = audit(&state.store, event).await {
        return r;
    }
    let found = reread(&state, &item, move |reader, raw, channel| {
        reader.attachment(raw, channel, index)
    })
    .await;
    use sha2::Digest as _;
    match found {
        Ok(Some(Some((_, bytes))))
            if hex::encode(sha2::Sha256::digest(&bytes)) == listed.sha256 =>
        {
            let headers = [
                (
                    axum::http::header::CONTENT_TYPE,
                    "application/octet-stream".to_string(),
                ),
                (
                    axum::http::header::X_CONTENT_TYPE_OPTIONS,
                    "nosniff".to_string(),
                ),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{reference}-{index}.bin\""),
                ),
            ];
            (headers, bytes).into_response()
        }
        Ok(_) => {
            tracing::error!(%reference, index, "stored message does not give the recorded attachment");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "the stored message of {reference} no longer gives attachment {index} as \
                     recorded at intake (its hash differs); nothing was sent"
                ),
            )
        }
        Err(e) => store_error(e),
    }
}

#[derive(Deserialize)]
struct KindCorrection {
    kind: String,
    reason: String,
}

/// A person corrects the kind that reading gave an intake; audited with both kinds.
async fn correct_kind(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(reference): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let input: KindCorrection = match json_body(&body, "{\"kind\": ..., \"reason\": ...}") {
        Ok(i) => i,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    const KINDS: [&str; 4] = ["underretning", "trivselplus", "postfordeling", "lae165"];
    if !KINDS.contains(&input.kind.as_str()) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "unknown kind {:?}; use one of {}",
                input.kind,
                KINDS.join(", ")
            ),
        );
    }
    if input.reason.trim().is_empty() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a correction needs a reason",
        );
    }
    modify(
        &state,
        &caller,
        &reference,
        "kind_corrected",
        move |item, actor, now| {
            let from = std::mem::replace(&mut item.kind, input.kind.clone());
            let st = item.state;
            item.transition(
                st,
                actor,
                now,
                &format!("kind {from} → {}: {}", input.kind, input.reason),
            );
            Ok(json!({ "from": from, "kind": input.kind }))
        },
    )
    .await
}

/// Loads an item, lets `change` modify it (or refuse with a status and message), and
/// commits it with an audit event whose details `change` returns. Answers with those
/// details and the reference.
async fn modify(
    state: &Arc<AppState>,
    caller: &Caller,
    reference: &str,
    event: &'static str,
    change: impl FnOnce(&mut Item, &str, Timestamp) -> Result<Value, (StatusCode, String)>
        + Send
        + 'static,
) -> Response {
    let store = state.store.clone();
    let actor = caller.actor.clone();
    let purpose = caller
        .purpose
        .clone()
        .unwrap_or_else(|| "assessment".into());
    let r = reference.to_string();
    type Outcome = Result<Result<Value, (StatusCode, String)>, StoreError>;
    let result = blocking(move || -> Outcome {
        let _held = store.lock_item(&r);
        let Some(mut item) = store.item(&r)? else {
            return Ok(Err((
                StatusCode::NOT_FOUND,
                format!("no intake with reference {r}"),
            )));
        };
        let now = Timestamp::now();
        let details = match change(&mut item, &actor, now) {
            Ok(d) => d,
            Err(e) => return Ok(Err(e)),
        };
        let mut b = Batch::new();
        b.audit(
            Event::new(event, &actor, &purpose)
                .reference(&r)
                .details(details.clone()),
        );
        b.item(item);
        store.commit(b, now)?;
        Ok(Ok(details))
    })
    .await;
    match result {
        Ok(Ok(mut details)) => match crate::flush(&state.store).await {
            Ok(()) => {
                details["reference"] = json!(reference);
                Json(details).into_response()
            }
            Err(e) => store_error(e),
        },
        Ok(Err((status, message))) => error(status, message),
        Err(e) => store_error(e),
    }
}

#[derive(Deserialize)]
struct CloseInput {
    reason: String,
}

/// Closes an assessed intake, with a reason.
async fn close(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(reference): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let input: CloseInput = match json_body(&body, "{\"reason\": ...}") {
        Ok(i) => i,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    if input.reason.trim().is_empty() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "closing needs a reason");
    }
    modify(
        &state,
        &caller,
        &reference,
        "closed",
        move |item, actor, now| {
            if !item.state.can_become(ItemState::Closed) {
                return Err((
                    StatusCode::CONFLICT,
                    format!(
                        "{} is {}: only an assessed intake can be closed",
                        item.reference,
                        item.state.as_str()
                    ),
                ));
            }
            let from = item.state.as_str();
            item.transition(ItemState::Closed, actor, now, &input.reason);
            Ok(json!({ "from": from, "state": "closed" }))
        },
    )
    .await
}

#[derive(Deserialize)]
struct TaskInput {
    kind: String,
    outcome: String,
    reason: Option<String>,
}

/// Marks an open task done (or, for feedback, withheld with a reason).
async fn task(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(reference): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let input: TaskInput = match json_body(&body, "{\"kind\", \"outcome\", \"reason\"}") {
        Ok(i) => i,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    if !["done", "withheld"].contains(&input.outcome.as_str()) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "outcome is done or withheld",
        );
    }
    let reason_given = input
        .reason
        .as_deref()
        .is_some_and(|r| !r.trim().is_empty());
    if input.outcome == "withheld" && (input.kind != "tilbagemelding" || !reason_given) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "only feedback (tilbagemelding) can be withheld, and only with a reason: that it would harm the child",
        );
    }
    modify(
        &state,
        &caller,
        &reference,
        "task_done",
        move |item, actor, now| {
            let Some(t) = item
                .tasks
                .iter_mut()
                .find(|t| t.kind == input.kind && t.done_at.is_none())
            else {
                return Err((
                    StatusCode::CONFLICT,
                    format!("{} has no open task {:?}", item.reference, input.kind),
                ));
            };
            t.done_at = Some(now);
            t.done_by = Some(actor.to_string());
            t.outcome = Some(input.outcome.clone());
            if reason_given {
                t.reason = input.reason.clone();
            }
            if input.kind == "kvittering" {
                if let Some(k) = item.kvittering.as_mut() {
                    k.sent_at = Some(now);
                    k.sent_by = Some(actor.to_string());
                }
            }
            Ok(json!({ "task": input.kind, "outcome": input.outcome }))
        },
    )
    .await
}

async fn decide(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(reference): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let mut input: DecisionInput = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("decision body is not valid: {e}"),
            )
        }
    };
    if input.actor.trim().is_empty() {
        input.actor = caller.actor.clone();
    }
    let store = state.store.clone();
    let cfg = state.policy.cfg();
    let r = reference.clone();
    let inp = input.clone();
    let result = blocking(move || triage::decide(&store, &cfg, &r, &inp, Timestamp::now())).await;
    let (decision, item_state) = match result {
        Ok(d) => d,
        Err(DecideError::NotFound(r)) => {
            return error(
                StatusCode::NOT_FOUND,
                format!("no intake with reference {r}"),
            )
        }
        Err(e @ DecideError::Invalid(_)) => {
            return error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
        }
        Err(e @ DecideError::AlreadyDecided(_)) => {
            return error(StatusCode::CONFLICT, e.to_string())
        }
        Err(DecideError::Store(e)) => return store_error(e),
    };
    if let Err(e) = crate::flush(&state.store).await {
        return store_error(e);
    }
    state.wake.notify_one();
    let mut v = crate::explain::to_json(&decision);
    v["reference"] = json!(reference);
    v["state"] = json!(item_state.as_str());
    Json(v).into_response()
}

#[derive(Deserialize)]
struct SlaQuery {
    from: String,
    to: String,
}

/// `YYYY-MM-DD` as the start of that day in Europe/Copenhagen.
fn local_day(d: &str) -> Result<Timestamp, String> {
    d.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.in_tz("Europe/Copenhagen").ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| format!("{d:?} is not a date (YYYY-MM-DD)"))
}

/// SLA figures for intakes received from `from` up to and including `to` (local days).
async fn report_sla(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(q): Query<SlaQuery>,
) -> Response {
    let (from, to) = match (local_day(&q.from), local_day(&q.to)) {
        (Ok(f), Ok(t)) if f <= t => (f, t + jiff::SignedDuration::from_hours(24)),
        (Ok(_), Ok(_)) => return error(StatusCode::BAD_REQUEST, "from must not be after to"),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::BAD_REQUEST, e),
    };
    let store = state.store.clone();
    let items = match blocking(move || store.summaries()).await {
        Ok(i) => i,
        Err(e) => return store_error(e),
    };
    let report = crate::report::sla(&items, from, to, Timestamp::now());
    let event = Event::new(
        "report",
        &caller.actor,
        caller.purpose.as_deref().unwrap_or("sla report"),
    )
    .details(json!({ "report": "sla", "from": q.from, "to": q.to }));
    if let Err(r) = audit(&state.store, event).await {
        return r;
    }
    Json(json!(report)).into_response()
}

/// The latest signed checkpoint of the audit log (no personal data).
async fn latest_checkpoint(State(state): State<Arc<AppState>>, _caller: Caller) -> Response {
    let store = state.store.clone();
    match blocking(move || store.latest_checkpoint()).await {
        Ok(Some(note)) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )],
            note,
        )
            .into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no checkpoint has been written yet"),
        Err(e) => store_error(e),
    }
}

/// Deliveries the relay refused for good: which intake, to whom (role and directory id), and
/// the relay's answer. The copy itself is not shown. Audited.
async fn outbox_failed(State(state): State<Arc<AppState>>, caller: Caller) -> Response {
    let store = state.store.clone();
    let entries = match blocking(move || store.outbox_failed_entries()).await {
        Ok(e) => e,
        Err(e) => return store_error(e),
    };
    let event = Event::new(
        "outbox_listed",
        &caller.actor,
        caller.purpose.as_deref().unwrap_or("delivery"),
    )
    .details(json!({ "failed": entries.len() }));
    if let Err(r) = audit(&state.store, event).await {
        return r;
    }
    let list: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "id": e.id, "reference": e.reference, "role": e.role, "person": e.person,
                "attempts": e.attempts, "failed": e.failed, "error": e.last_error,
            })
        })
        .collect();
    Json(json!(list)).into_response()
}

/// Puts a failed delivery back in the queue (after the address or the relay was put right).
async fn outbox_retry(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("{id:?} is not an outbox id (see GET /api/v1/outbox/failed)"),
        );
    };
    let store = state.store.clone();
    let actor = caller.actor.clone();
    let purpose = caller.purpose.clone();
    let outcome = blocking(move || {
        let Some(mut entry) = store.outbox_entry(id)? else {
            return Ok(Err((
                StatusCode::NOT_FOUND,
                format!("no outbox entry {id} (it may have been delivered)"),
            )));
        };
        if entry.failed.is_none() {
            return Ok(Err((
                StatusCode::CONFLICT,
                format!("outbox entry {id} has not failed: it is still being tried"),
            )));
        }
        let now = Timestamp::now();
        entry.failed = None;
        entry.next_attempt = now;
        let mut b = Batch::new();
        b.audit(
            Event::new(
                "delivery_retried",
                &actor,
                purpose.as_deref().unwrap_or("delivery"),
            )
            .reference(&entry.reference)
            .details(json!({ "id": id, "role": entry.role, "person": entry.person })),
        );
        let reference = entry.reference.clone();
        b.outbox(entry);
        store.commit(b, now)?;
        Ok(Ok(reference))
    })
    .await;
    match outcome {
        Ok(Ok(reference)) => {
            if let Err(e) = crate::flush(&state.store).await {
                return store_error(e);
            }
            state.wake.notify_one();
            Json(json!({ "id": id, "reference": reference, "queued": true })).into_response()
        }
        Ok(Err((status, message))) => error(status, message),
        Err(e) => store_error(e),
    }
}

/// Prometheus metrics: counts and ratios only, no personal data, so no token is asked for
/// (the HTTP listener is on loopback unless configured otherwise).
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let store = state.store.clone();
    let counts = move || {
        let failed = store.outbox_failed();
        let (deferred, oldest_deferred) = store.outbox_deferred()?;
        let outbox = crate::report::OutboxCounts {
            pending: store.outbox_len().saturating_sub(failed),
            failed,
            deferred,
            oldest_deferred,
        };
        Ok::<_, StoreError>((store.summaries()?, outbox))
    };
    match blocking(counts).await {
        Ok((items, pending)) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4",
            )],
            crate::report::metrics(&items, pending, Timestamp::now()) + &state.smtp.render(),
        )
            .into_response(),
        Err(e) => store_error(e),
    }
}

#[derive(Deserialize)]
struct SimulateQuery {
    /// Only decisions from this day on (`YYYY-MM-DD`, Europe/Copenhagen).
    from: Option<String>,
    /// The candidate file's name, for messages.
    name: Option<String>,
}

/// Replays stored decisions against a candidate tree (the body, TOML) checked against the
/// running directory. Audited as a read of the decisions.
async fn simulate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(q): Query<SimulateQuery>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "the candidate tree must be UTF-8 TOML",
        );
    };
    let from = match q.from.as_deref().map(local_day) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return error(StatusCode::BAD_REQUEST, format!("from={e}")),
    };
    let cfg = state.policy.cfg();
    let name = q.name.unwrap_or_else(|| "candidate.toml".into());
    let candidate =
        match modtag_config::check_tree(std::path::Path::new(&name), text, &cfg.directory) {
            Ok(t) => t,
            Err(e) => {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(json!({
                        "error": "the candidate tree fails the check",
                        "errors": e.to_string().lines().collect::<Vec<_>>(),
                    })),
                )
                    .into_response()
            }
        };
    let store = state.store.clone();
    let sim =
        match blocking(move || crate::simulate::simulate(&store, &cfg, &candidate, from)).await {
            Ok(s) => s,
            Err(e) => return store_error(e),
        };
    let event = Event::new(
        "simulated",
        &caller.actor,
        caller.purpose.as_deref().unwrap_or("policy simulation"),
    )
    .details(json!({
        "candidate_tree_hash": sim.candidate_tree_hash,
        "replayed": sim.replayed,
        "changed": sim.changes.len(),
    }));
    if let Err(r) = audit(&state.store, event).await {
        return r;
    }
    let mut v = json!(sim);
    v["current_tree_hash"] = json!(state.policy.cfg().tree.hash);
    Json(v).into_response()
}

/// Reloads the configuration files; a set that fails the check is refused (422) and the
/// running one kept.
async fn reload(State(state): State<Arc<AppState>>, caller: Caller) -> Response {
    let s = state.clone();
    let actor = caller.actor.clone();
    match blocking(move || s.policy.reload(&s.store, &actor)).await {
        Ok(r) => {
            if let Err(e) = crate::flush(&state.store).await {
                return store_error(e);
            }
            Json(json!({
                "tree_hash": r.tree_hash,
                "previous_tree_hash": r.previous_hash,
                "people": r.people,
                "institutions": r.institutions,
                "rules": r.rules,
                "restart_needed": r.restart_needed,
            }))
            .into_response()
        }
        Err(crate::policy::ReloadError::Invalid(text)) => {
            let _ = crate::flush(&state.store).await;
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({
                    "error": "the new configuration fails the check; the running one is kept",
                    "errors": text.lines().collect::<Vec<_>>(),
                })),
            )
                .into_response()
        }
        Err(crate::policy::ReloadError::Store(e)) => store_error(e),
    }
}

async fn import_cases(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "the case file must be UTF-8 CSV or JSON",
        );
    };
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let parsed = if json {
        crate::cases::parse_json(text, &state.policy.cfg())
    } else {
        crate::cases::parse_csv(text, &state.policy.cfg())
    };
    let cases = match parsed {
        Ok(c) => c,
        Err(errors) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({ "error": "the case file has errors; nothing was imported", "errors": errors })),
            )
                .into_response()
        }
    };
    let store = state.store.clone();
    let actor = caller.actor.clone();
    let purpose = caller
        .purpose
        .clone()
        .unwrap_or_else(|| "case registry import".into());
    let result = blocking(move || -> Result<Value, StoreError> {
        let (mut added, mut updated, mut unchanged) = (0, 0, 0);
        let mut batch = Batch::new();
        for case in cases {
            match store.case(&case.case_number)? {
                None => added += 1,
                Some(old) if old == case => {
                    unchanged += 1;
                    continue;
                }
                Some(_) => updated += 1,
            }
            batch.case(case);
        }
        let counts = json!({ "added": added, "updated": updated, "unchanged": unchanged });
        batch.audit(Event::new("cases_imported", &actor, &purpose).details(counts.clone()));
        store.commit(batch, Timestamp::now())?;
        Ok(counts)
    })
    .await;
    match result {
        Ok(counts) => match crate::flush(&state.store).await {
            Ok(()) => Json(counts).into_response(),
            Err(e) => store_error(e),
        },
        Err(e) => store_error(e),
    }
}

#[derive(Deserialize)]
struct ExportQuery {
    #[serde(default)]
    format: Option<String>,
}

/// The whole case registry (CPR and names included): audited as an export.
async fn export_cases(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(q): Query<ExportQuery>,
) -> Response {
    let format = q.format.unwrap_or_else(|| "csv".into());
    if !["csv", "json"].contains(&format.as_str()) {
        return error(StatusCode::BAD_REQUEST, "format is csv or json");
    }
    let store = state.store.clone();
    let cases = match blocking(move || store.cases()).await {
        Ok(c) => c,
        Err(e) => return store_error(e),
    };
    let event = Event::new(
        "cases_exported",
        &caller.actor,
        caller.purpose.as_deref().unwrap_or("case registry export"),
    )
    .details(json!({ "cases": cases.len(), "format": format }));
    if let Err(r) = audit(&state.store, event).await {
        return r;
    }
    if format == "json" {
        let rows: Vec<Value> = cases
            .iter()
            .map(|c| {
                json!({
                    "case_number": c.case_number, "cpr": c.cpr, "child_name": c.child_name,
                    "raadgiver": c.raadgiver, "area": c.area, "institution": c.institution,
                    "status": if c.open { "open" } else { "closed" },
                })
            })
            .collect();
        return Json(json!(rows)).into_response();
    }
    (
        [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        crate::cases::to_csv(&cases),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_behind_a_trusted_proxy_is_the_nearest_untrusted_hop() {
        let trusted: Vec<modtag_config::model::Cidr> = vec![
            "127.0.0.1/32".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxy = ip("127.0.0.1");
        // Without trusted proxies, or from anyone else, the header is ignored.
        assert_eq!(client_address(proxy, "203.0.113.7", &[]), proxy);
        assert_eq!(
            client_address(ip("198.51.100.1"), "203.0.113.7", &trusted),
            ip("198.51.100.1")
        );
        // Through the proxy: the address it appended.
        assert_eq!(
            client_address(proxy, "203.0.113.7", &trusted),
            ip("203.0.113.7")
        );
        // A client that sends its own header cannot choose: the proxy's hop is the last one.
        assert_eq!(
            client_address(proxy, "1.2.3.4, 203.0.113.7", &trusted),
            ip("203.0.113.7")
        );
        // Through two trusted proxies.
        assert_eq!(
            client_address(proxy, "203.0.113.7, 10.1.2.3", &trusted),
            ip("203.0.113.7")
        );
        // No header, or garbage from the proxy: the nearest trusted address counts.
        assert_eq!(client_address(proxy, "", &trusted), proxy);
        assert_eq!(client_address(proxy, "unknown", &trusted), proxy);
        assert_eq!(
            client_address(proxy, "2001:db8::1", &trusted),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn failed_logins_lock_out_one_address_for_a_window() {
        let g = LoginGuard::default();
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t0 = Instant::now();
        for _ in 1..LoginGuard::MAX_FAILURES {
            assert!(!g.failed(a, t0));
            assert_eq!(g.locked(a, t0), None);
        }
        assert!(g.failed(a, t0), "the tenth failure locks the address out");
        assert_eq!(g.locked(a, t0 + Duration::from_secs(15)), Some(45));
        assert_eq!(g.locked(b, t0), None, "other addresses are not affected");
        assert_eq!(
            g.locked(a, t0 + LoginGuard::WINDOW),
            None,
            "over after the window"
        );
        // After the window, counting starts afresh.
        assert!(!g.failed(a, t0 + LoginGuard::WINDOW));
        assert_eq!(g.locked(a, t0 + LoginGuard::WINDOW), None);
        // A successful login forgets the failures before it.
        for _ in 1..LoginGuard::MAX_FAILURES {
            g.failed(b, t0);
        }
        g.succeeded(b);
        assert!(!g.failed(b, t0));
        assert_eq!(g.locked(b, t0), None);
    }
}
