//! `POST /api/v1/keys/rotate/checkpoint`, `/blind-index` and `/store`: an administrator
//! replaces a key while the daemon runs (see `Store::rotate_checkpoint_key`,
//! `Store::rotate_blind_key` and `Store::rotate_store_key`).

use std::sync::Arc;

use axum::extract::State;
use serde::Deserialize;

use super::auth::Caller;
use super::error::ApiError;
use super::state::ApiState;
use crate::access::Action;

/// `POST /api/v1/keys/rotate/checkpoint`: a new checkpoint key, handed over from the old
/// one in the log itself (see `Store::rotate_checkpoint_key`); answers the hand-over note.
pub async fn rotate_checkpoint_key(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    caller.require(Action::RotateKeys)?;
    let store = state.app.store.clone();
    let cfg = state.app.policy.cfg();
    let actor = caller.actor.clone();
    let now = state.now();
    let note =
        crate::app::blocking(move || crate::checkpoints::rotate(&store, &cfg, &actor, now)).await?;
    Ok(axum::Json(serde_json::json!({ "checkpoint": note })))
}

#[derive(Deserialize)]
struct NewKey {
    /// The new key, when the keys are kept apart ([keys]); made here otherwise.
    key: Option<String>,
}

/// The new key a rotation's body gives, if any (an empty body gives none); `shape` shows
/// what is expected in the refusal of a body that is no such JSON.
fn given_key(body: &[u8], shape: &str) -> Result<Option<String>, ApiError> {
    if body.is_empty() {
        return Ok(None);
    }
    let input: NewKey = super::error::json_body(body, shape)?;
    Ok(input.key)
}

/// `POST /api/v1/keys/rotate/blind-index`: the blind index and the cases' keys written
/// again under a new key (see `Store::rotate_blind_key`).
pub async fn rotate_blind_key(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    caller.require(Action::RotateKeys)?;
    let key = match given_key(&body, "{\"key\": \"64 hex digits\"}")? {
        Some(hex_key) => Some(
            hex::decode(hex_key.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| {
                    ApiError::bad_request("the new blind-index key is not 64 hex digits")
                })?,
        ),
        None => None,
    };
    let store = state.app.store.clone();
    let actor = caller.actor.clone();
    let now = state.now();
    let n = crate::app::blocking(move || store.rotate_blind_key(key, &actor, now))
        .await
        .map_err(refused_key)?;
    Ok(axum::Json(serde_json::json!({ "entries_rewritten": n })))
}

/// `POST /api/v1/keys/rotate/store`: everything sealed to the store key sealed again to a
/// new one (see `Store::rotate_store_key`); answers what was sealed again.
pub async fn rotate_store_key(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    caller.require(Action::RotateKeys)?;
    let shape = "{\"key\": \"-----BEGIN PGP PRIVATE KEY BLOCK-----...\"}";
    let key = match given_key(&body, shape)? {
        Some(armored) => Some(
            modtag_storage::crypto::parse_cert(armored.as_bytes())
                .ok()
                .filter(|k| k.is_tsk())
                .ok_or_else(|| {
                    ApiError::bad_request("the new store key is not an OpenPGP secret key")
                })?,
        ),
        None => None,
    };
    let store = state.app.store.clone();
    let actor = caller.actor.clone();
    let now = state.now();
    let done = crate::app::blocking(move || store.rotate_store_key(key, &actor, now))
        .await
        .map_err(refused_key)?;
    Ok(axum::Json(serde_json::json!(done)))
}

/// A key the rotation cannot use is the administrator's to fix, so it is said as it is (it
/// names files and fingerprints, never personal data); other storage errors stay a 503.
fn refused_key(e: modtag_storage::StoreError) -> ApiError {
    match e {
        modtag_storage::StoreError::Key(m) => ApiError::unprocessable(m),
        e => e.into(),
    }
}
