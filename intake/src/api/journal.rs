//! The journal package over the API (issue 31): `GET .../journal` the zip (for `modtag
//! triage journal`), `POST .../journal/send` dropped for the case system.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use modtag_storage::journal::Dropped;

use super::auth::Caller;
use super::error::ApiError;
use super::state::ApiState;

/// The package as `application/zip`, after the audit entry of its making.
pub async fn package(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Response, ApiError> {
    let package = crate::journal::make(&state, &caller, &reference).await?;
    zip_response(&package)
}

/// A package as a download named by its reference.
pub fn zip_response(package: &crate::journal::Package) -> Result<Response, ApiError> {
    let zip = package.zip()?;
    let headers = [
        (header::CONTENT_TYPE, "application/zip".to_string()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        (header::CACHE_CONTROL, "no-store".to_string()),
        (
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}-journalpakke.zip\"",
                package.reference
            ),
        ),
    ];
    Ok((headers, zip).into_response())
}

pub async fn send(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<Dropped>, ApiError> {
    Ok(Json(
        crate::journal::hook::send(&state, &caller, &reference).await?,
    ))
}
