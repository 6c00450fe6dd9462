//! `POST /api/v1/keys/rotate/checkpoint`, `/blind-index` and `/store`: an administrator
//! replaces a key while the daemon runs (see `Store::rotate_checkpoint_key`,
//! `Store::rotate_blind_key` and `Store::rotate_store_key`).

use std::sync::Arc;

use axum::extract::State;

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

/// Refuses a rotation request that carries anything: a new key never travels over the API
/// (an administrator's browser or token could otherwise hand modtag a key it knows).
fn no_key_given(body: &[u8]) -> Result<(), ApiError> {
    let empty = body.iter().all(u8::is_ascii_whitespace)
        || serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body)
            .is_ok_and(|m| m.is_empty());
    if empty {
        return Ok(());
    }
    Err(ApiError::unprocessable(
        "a new key is never sent to modtag: with [keys], place it on the server where only root \
         can read it (modtag keys init DIR makes one), name it as [keys] next_store_key or \
         next_blind_index_key, run modtag config reload, and rotate again",
    ))
}

/// The new key `[keys] next_NAME` names in the running configuration, read from the server:
/// a 0600 file (or systemd credential) owned by root or by the user modtag runs as, so only
/// someone who is root there can have put it. `None` when none is named.
fn named_key(
    state: &ApiState,
    pick: impl Fn(&modtag_config::key_files::KeyFiles) -> Option<&String>,
    what: &str,
) -> Result<Option<Vec<u8>>, ApiError> {
    let cfg = state.app.policy.cfg();
    let Some(file) = cfg.config.keys.as_ref().and_then(|k| pick(k).cloned()) else {
        return Ok(None);
    };
    let path = cfg
        .config
        .secret_path(&file)
        .map_err(|e| ApiError::unprocessable(format!("[keys] {what}: {e}")))?;
    use std::os::unix::fs::MetadataExt as _;
    let owner = std::fs::metadata(&path)
        .map_err(|e| ApiError::unprocessable(format!("[keys] {what} {}: {e}", path.display())))?
        .uid();
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if owner != 0 && owner != me {
        return Err(ApiError::unprocessable(format!(
            "[keys] {what} {} belongs to uid {owner}: a new key must be placed by root (or the \
             user modtag runs as), chown it",
            path.display()
        )));
    }
    modtag_storage::keys::read_secret(&path)
        .map(Some)
        .map_err(|e| ApiError::unprocessable(format!("[keys] {what}: {e}")))
}

/// `POST /api/v1/keys/rotate/blind-index`: the blind index and the cases' keys written
/// again under a new key (see `Store::rotate_blind_key`): made here, or with [keys] the one
/// `next_blind_index_key` names.
pub async fn rotate_blind_key(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    caller.require(Action::RotateKeys)?;
    no_key_given(&body)?;
    let key = match named_key(&state, |k| k.next_blind_index_key.as_ref(), "next_blind_index_key")? {
        Some(text) => Some(
            hex::decode(String::from_utf8_lossy(&text).trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| {
                    ApiError::unprocessable(
                        "[keys] next_blind_index_key is not 64 hex digits (modtag keys init makes one)",
                    )
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
    let apart = state.app.policy.cfg().config.keys.is_some();
    Ok(axum::Json(
        serde_json::json!({ "entries_rewritten": n, "apart": apart }),
    ))
}

/// `POST /api/v1/keys/rotate/store`: everything sealed to the store key sealed again to a
/// new one (see `Store::rotate_store_key`): made here, or with [keys] the one
/// `next_store_key` names; answers what was sealed again.
pub async fn rotate_store_key(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    caller.require(Action::RotateKeys)?;
    no_key_given(&body)?;
    let key = match named_key(&state, |k| k.next_store_key.as_ref(), "next_store_key")? {
        Some(armored) => Some(
            modtag_storage::crypto::parse_cert(&armored)
                .ok()
                .filter(|k| k.is_tsk())
                .ok_or_else(|| {
                    ApiError::unprocessable(
                        "[keys] next_store_key is not an OpenPGP secret key (modtag keys init makes one)",
                    )
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
    let mut v = serde_json::json!(done);
    v["apart"] = state.app.policy.cfg().config.keys.is_some().into();
    Ok(axum::Json(v))
}

/// A key the rotation cannot use is the administrator's to fix, so it is said as it is (it
/// names files and fingerprints, never personal data); other storage errors stay a 503.
fn refused_key(e: modtag_storage::StoreError) -> ApiError {
    match e {
        modtag_storage::StoreError::Key(m) => ApiError::unprocessable(m),
        e => e.into(),
    }
}
