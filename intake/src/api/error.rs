//! How the API refuses: every error is `{"error": message}` (with `"errors": [...]` when a
//! submitted file fails a check) and a status that says whose fault it is. Handlers return
//! `Result<_, ApiError>` and use `?`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use modtag_storage::StoreError;
use serde_json::json;

#[derive(Debug)]
pub enum ApiError {
    /// The request is refused with this status and a message for the caller.
    Refused(StatusCode, String),
    /// A submitted file (a tree, a case list, a configuration) fails its check: 422 with
    /// each problem.
    Invalid {
        message: &'static str,
        errors: serde_json::Value,
    },
    /// Too many failed logins from the caller's address: 429 with `Retry-After`.
    Throttled { wait_secs: u64 },
    /// Storage failed; nothing was changed (503). The cause is logged, never sent.
    Store(StoreError),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::Refused(StatusCode::BAD_REQUEST, message.into())
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::Refused(StatusCode::NOT_FOUND, message.into())
    }
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::Refused(StatusCode::FORBIDDEN, message.into())
    }
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::Refused(StatusCode::CONFLICT, message.into())
    }
    pub fn unprocessable(message: impl Into<String>) -> ApiError {
        ApiError::Refused(StatusCode::UNPROCESSABLE_ENTITY, message.into())
    }
    /// A file that fails its check, one line of `report` per problem.
    pub fn invalid_lines(message: &'static str, report: &str) -> ApiError {
        ApiError::Invalid {
            message,
            errors: report.lines().collect::<Vec<_>>().into(),
        }
    }
    pub fn no_intake(reference: &str) -> ApiError {
        ApiError::not_found(format!("no intake with reference {reference}"))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::Store(e)
    }
}

impl From<modtag_workflow::change::Refusal> for ApiError {
    fn from(r: modtag_workflow::change::Refusal) -> ApiError {
        use modtag_workflow::change::Refusal;
        match r {
            Refusal::NoIntake(reference) => ApiError::no_intake(&reference),
            Refusal::Forbidden(m) => ApiError::forbidden(m.en),
            Refusal::Conflict(m) => ApiError::conflict(m.en),
            Refusal::Invalid(m) => ApiError::unprocessable(m.en),
            Refusal::Store(e) => ApiError::Store(e),
        }
    }
}

/// The JSON error body every refusal carries.
pub fn body(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Refused(status, message) => body(status, message),
            ApiError::Invalid { message, errors } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({ "error": message, "errors": errors })),
            )
                .into_response(),
            ApiError::Throttled { wait_secs } => {
                let mut r = body(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "too many failed logins from this address; try again in {wait_secs} seconds"
                    ),
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, wait_secs.into());
                r
            }
            ApiError::Store(e) => {
                tracing::error!(error = %e, "storage error in API");
                body(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage is unavailable; nothing was changed, try again later",
                )
            }
        }
    }
}

/// A JSON request body, or a 400 that shows the shape expected.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body must be JSON {shape}: {e}")))
}

/// axum's own refusals (a body over the limit, a path that is not UTF-8, a wrong method) come
/// as plain text or nothing; every API error is `{"error": ...}`, so clients read one shape.
/// Their headers (`Allow`, `Retry-After`) are kept.
pub async fn json_errors(res: Response) -> Response {
    let status = res.status();
    let json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || json {
        return res;
    }
    let (mut parts, content) = res.into_parts();
    let text = axum::body::to_bytes(content, 4096)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_lowercase()
    } else {
        text
    };
    let fresh = body(status, message);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, fresh.into_body())
}
