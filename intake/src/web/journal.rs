//! The journal package on the desk (issue 31): `GET /koe/{reference}/journal` downloads it
//! (a zip: the record as PDF/A, the attachments, the metadata), `POST .../journal/send`
//! drops it for the case system when `[journal.hook]` names one: the one action from an
//! assessed intake to a filed record, the system's receipt doing the rest. Refusals are
//! said in Danish on the item page.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::kept::Kept;
use super::session::{csrf_field, Posted, SignedIn};
use super::signin::{refused, storage_trouble};
use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::state::ApiState;

#[derive(Deserialize)]
pub struct Send {
    #[serde(default)]
    csrf: String,
}

csrf_field!(Send);

/// `GET /koe/{reference}/journal`: the package as a download.
pub async fn download(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    SignedIn(caller): SignedIn,
) -> Response {
    let made = crate::journal::make(&state, &caller, &reference).await;
    match made.and_then(|p| crate::api::journal::zip_response(&p)) {
        Ok(response) => response,
        Err(e) => said(&state, &caller, &reference, (e, false)).await,
    }
}

/// `POST /koe/{reference}/journal/send`: dropped for the case system.
pub async fn send(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    Posted(caller, _): Posted<Send>,
) -> Response {
    match crate::journal::hook::send(&state, &caller, &reference).await {
        Ok(_) => Redirect::to(&format!("/koe/{reference}#journaliseret")).into_response(),
        Err(e) => said(&state, &caller, &reference, (e, true)).await,
    }
}

/// A refusal in the desk's words: on the item page at the Journalisering section when the
/// person may see the intake, else as "not found". `sending`: the drop was asked for.
async fn said(
    state: &ApiState,
    caller: &Caller,
    reference: &str,
    (e, sending): (ApiError, bool),
) -> Response {
    let no_hook = sending && state.app.policy.cfg().config.journal.hook.is_none();
    let text = match e {
        ApiError::Store(e) => return storage_trouble(e),
        ApiError::Refused(StatusCode::NOT_FOUND, _) => {
            let text = "Der er ingen henvendelse med den reference, som du har adgang til.";
            return refused(StatusCode::NOT_FOUND, "Ikke fundet", text);
        }
        ApiError::Refused(StatusCode::FORBIDDEN, _) => (
            StatusCode::FORBIDDEN,
            "Journalpakken laves af den enhed, der behandler henvendelsen.",
        ),
        ApiError::Refused(StatusCode::CONFLICT, _) if no_hook => (
            StatusCode::CONFLICT,
            "Der er ikke sat et sagssystem op, der tager imod filer: hent journalpakken, og journalisér den selv.",
        ),
        ApiError::Refused(StatusCode::CONFLICT, _) => (
            StatusCode::CONFLICT,
            "Henvendelsen er ikke vurderet endnu: vurder den, før den journaliseres.",
        ),
        ApiError::Refused(StatusCode::SERVICE_UNAVAILABLE, _) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Sagssystemets mappe kan ikke bruges lige nu, så intet blev sendt. Prøv igen om lidt, eller hent journalpakken.",
        ),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Journalpakken kunne ikke laves. Prøv igen, og kontakt IT, hvis det sker igen.",
        ),
    };
    let kept = Kept::new("journalpakke", []).refused(text.0, text.1);
    super::item::show(state, caller, reference, Some(kept)).await
}
