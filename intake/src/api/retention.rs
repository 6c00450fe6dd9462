//! `POST /api/v1/retention/run` and `POST /api/v1/triage/{reference}/erase`: erasure by the
//! `[retention]` rules and of one intake on a person's reason (see `workflow::retention`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;

use super::auth::Caller;
use super::error::{json_body, ApiError};
use super::state::ApiState;
use super::types::{EraseBody, Erased, RetentionRun};
use crate::access::Action;
use crate::app::blocking;
use crate::workflow::retention::{self, Erasure, RetentionReport};

/// Runs retention now (as the daemon does daily), or with `dry_run` says what it would erase.
pub async fn run(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<RetentionReport>, ApiError> {
    caller.require(Action::Retention)?;
    let input: RetentionRun = if body.is_empty() {
        RetentionRun::default()
    } else {
        json_body(&body, "{\"dry_run\": true|false}")?
    };
    let store = state.app.store.clone();
    let rules = state.app.policy.cfg().config.retention.clone();
    let actor = caller.actor.clone();
    let now = state.now();
    let report =
        blocking(move || retention::run(&store, &rules, &actor, now, input.dry_run)).await?;
    Ok(Json(report))
}

/// Erases one intake now, whatever its state, with the reason a person gives.
pub async fn erase(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(reference): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Erased>, ApiError> {
    caller.require(Action::Erase)?;
    // Only an intake the caller may see: for any other the answer is that of no such
    // intake, so the right to erase is not a way to learn which references exist.
    caller.require_view(super::state::load_item(&state, &reference).await?)?;
    let input: EraseBody = json_body(&body, "{\"reason\": ...}")?;
    let reason = input.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 || reason.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "erasing needs a reason of one line (at most 500 characters): it is what the audit log keeps of the intake",
        ));
    }
    let store = state.app.store.clone();
    let (r, reason) = (reference.clone(), reason.to_string());
    let actor = caller.actor.clone();
    let purpose = caller.purpose_or("sletning").to_string();
    let now = state.now();
    let erasure =
        blocking(move || retention::erase_one(&store, &r, &reason, &actor, &purpose, now)).await?;
    let warning = match erasure {
        Erasure::NoSuchIntake => return Err(ApiError::no_intake(&reference)),
        Erasure::Erased => None,
        Erasure::RingNotReplaced(e) => {
            tracing::error!(%reference, error = %e, "erased, but replacing the ring key failed");
            Some(retention::ring_owed(&e))
        }
    };
    Ok(Json(Erased {
        reference,
        erased: true,
        ring_replaced: warning.is_none(),
        warning,
    }))
}
