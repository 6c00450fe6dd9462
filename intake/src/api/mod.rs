//! The HTTP API: versioned JSON under `/api/v1/`, bearer-token authenticated; `/healthz` and
//! `/metrics` need no token. Every read of personal data is audited with actor and purpose.
//!
//! One file per resource (`items`, `changes`, `cases`, `outbox`, `policy`, `report`); `auth`
//! says who is calling, `lockout` holds back who failed too often; `state` holds what handlers share; `error` is how they refuse
//! (`ApiError`, so handlers use `?`); `types` are the bodies, which the CLI's client reads
//! too; `server` is the listener (deadlines, connection cap).

mod audit;
pub mod auth;
mod backup;
pub(crate) mod cases;
pub(crate) mod changes;
pub mod error;
pub(crate) mod items;
pub(crate) mod journal;
mod keys;
pub mod lockout;
pub(crate) mod meetings;
pub(crate) mod outbox;
mod policy;
mod report;
mod retention;
pub mod server;
pub mod state;
pub mod types;
pub mod users;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

use error::{json_errors, ApiError};
use state::ApiState;

pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/healthz", get(report::healthz))
        .route("/readyz", get(report::readyz))
        .route("/api/v1/triage", get(items::list))
        .route("/api/v1/triage/{reference}", get(items::show))
        .route("/api/v1/triage/{reference}/decision", post(changes::decide))
        .route(
            "/api/v1/triage/{reference}/kind",
            post(changes::correct_kind),
        )
        .route("/api/v1/triage/{reference}/close", post(changes::close))
        .route(
            "/api/v1/triage/{reference}/journal",
            get(journal::package).post(changes::journalise),
        )
        .route(
            "/api/v1/triage/{reference}/journal/send",
            post(journal::send),
        )
        .route("/api/v1/triage/{reference}/note", post(changes::note))
        .route(
            "/api/v1/triage/{reference}/sender",
            post(changes::confirm_sender),
        )
        .route("/api/v1/triage/{reference}/erase", post(retention::erase))
        .route("/api/v1/retention/run", post(retention::run))
        .route("/api/v1/backup", get(backup::create))
        .route("/api/v1/backup/keyring", get(backup::keyring))
        .route(
            "/api/v1/keys/rotate/checkpoint",
            post(keys::rotate_checkpoint_key),
        )
        .route(
            "/api/v1/keys/rotate/blind-index",
            post(keys::rotate_blind_key),
        )
        .route("/api/v1/keys/rotate/store", post(keys::rotate_store_key))
        .route("/api/v1/triage/{reference}/task", post(changes::task))
        .route(
            "/api/v1/triage/{reference}/attachments/{index}",
            get(items::attachment),
        )
        .route("/api/v1/cases/import", post(cases::import))
        .route("/api/v1/cases/export", get(cases::export))
        .route(
            "/api/v1/cases/{case_number}/overgang",
            post(cases::overgang),
        )
        .route("/api/v1/config/reload", post(policy::reload))
        .route("/api/v1/route/simulate", post(policy::simulate))
        .route(
            "/api/v1/meetings/statusmoeder",
            post(meetings::statusmoeder),
        )
        .route("/api/v1/report/sla", get(report::sla))
        .route("/metrics", get(report::metrics))
        .route("/api/v1/audit/checkpoint", get(report::latest_checkpoint))
        .route("/api/v1/audit/log", get(audit::log))
        .route("/api/v1/outbox/failed", get(outbox::failed))
        .route("/api/v1/outbox/{id}/retry", post(outbox::retry))
        .route("/api/v1/users", get(users::list).post(users::add))
        .route("/api/v1/users/{id}/disable", post(users::disable))
        .route("/api/v1/users/{id}/reset", post(users::reset))
        // The name before enrolment links (issue 25): the same reset.
        .route("/api/v1/users/{id}/reset-totp", post(users::reset))
        .route("/api/v1/users/{id}/roles", post(users::set_roles))
        .route("/api/v1/users/{id}/token", post(users::token))
        .route("/api/v1/token", post(users::own_token))
        .fallback(|| async {
            ApiError::not_found("no such endpoint; the API lives under /api/v1/")
        })
        .layer(axum::middleware::map_response(json_errors))
        .with_state(state)
}
