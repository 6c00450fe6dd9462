//! The running policy: reloading the configuration files, and replaying stored decisions
//! against a candidate beslutningstræ.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use modtag_storage::audit::{Event, EventKind};
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::error::ApiError;
use super::report::local_day;
use super::state::{audit, durable, ApiState};
use super::types::{Reloaded, SimulationView};
use crate::access::Action;
use crate::app::{blocking, flush};
use crate::policy::ReloadError;

/// Reloads the configuration files; a set that fails the check is refused (422) and the
/// running one kept.
pub async fn reload(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
) -> Result<Json<Reloaded>, ApiError> {
    caller.require(Action::ConfigReload)?;
    let app = state.app.clone();
    let actor = caller.actor.clone();
    let now = state.now();
    match blocking(move || app.policy.reload(&app.store, &actor, now)).await {
        Ok(r) => {
            durable(&state).await?;
            Ok(Json(Reloaded {
                tree_hash: r.tree_hash,
                previous_tree_hash: r.previous_hash,
                people: r.people,
                institutions: r.institutions,
                rules: r.rules,
                restart_needed: r.restart_needed.iter().map(|s| s.to_string()).collect(),
            }))
        }
        Err(ReloadError::Invalid(text)) => {
            // The refusal was audited; make that durable, but the answer is the refusal.
            let _ = flush(&state.app.store).await;
            Err(ApiError::invalid_lines(
                "the new configuration fails the check; the running one is kept",
                &text,
            ))
        }
        Err(ReloadError::Store(e)) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct SimulateQuery {
    /// Only decisions from this day on (`YYYY-MM-DD`, Europe/Copenhagen).
    from: Option<String>,
    /// The candidate file's name, for messages.
    name: Option<String>,
}

/// Replays stored decisions against a candidate tree (the body, TOML) checked against the
/// running directory. Audited as a read of the decisions.
pub async fn simulate(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Query(q): Query<SimulateQuery>,
    body: axum::body::Bytes,
) -> Result<Json<SimulationView>, ApiError> {
    caller.require(Action::RouteSimulate)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the candidate tree must be UTF-8 TOML"))?;
    let from = match q.from.as_deref().map(local_day) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return Err(ApiError::bad_request(format!("from={e}"))),
    };
    let cfg = state.app.policy.cfg();
    let name = q.name.unwrap_or_else(|| "candidate.toml".into());
    let candidate = modtag_config::check_tree(std::path::Path::new(&name), text, &cfg.directory)
        .map_err(|e| {
            ApiError::invalid_lines("the candidate tree fails the check", &e.to_string())
        })?;
    let store = state.app.store.clone();
    let current_tree_hash = cfg.tree.hash.clone();
    let person = caller.person.clone();
    let works =
        move |item: &modtag_storage::records::Item| crate::access::view::works(&person, item);
    let simulation =
        blocking(move || crate::simulate::simulate(&store, &cfg, &candidate, from, works)).await?;
    let event = Event::new(
        EventKind::Simulated,
        &caller.actor,
        caller.purpose_or("policy simulation"),
    )
    .details(json!({
        "candidate_tree_hash": simulation.candidate_tree_hash,
        "replayed": simulation.replayed,
        "changed": simulation.changes.len(),
    }));
    audit(&state, event).await?;
    Ok(Json(SimulationView {
        simulation,
        current_tree_hash,
    }))
}
