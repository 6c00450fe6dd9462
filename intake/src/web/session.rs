//! Who is at a page: the person behind the session cookie (the API's own check, so the
//! pages and the API agree on every rule), or the way to the sign-in.

use std::sync::Arc;

use askama::Template;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

use super::signin::{page, to_sign_in, MessagePage};
use crate::api::auth::{session_token, Caller};
use crate::api::state::ApiState;

/// The person behind a session, or the way to the sign-in (which ends at the page asked for).
pub async fn signed_in(parts: &mut Parts, state: &Arc<ApiState>) -> Result<Caller, Response> {
    if session_token(&parts.headers, state).is_ok_and(|t| t.is_some()) {
        if let Ok(caller) = Caller::from_request_parts(parts, state).await {
            return Ok(caller);
        }
    }
    Err(to_sign_in(state, parts))
}

/// For a form's post: the session's CSRF token comes in the form's `csrf` field rather than
/// a header, and is checked as the API checks it (in constant time). A live session with a
/// wrong token gets a page saying nothing was done; no session, the sign-in.
pub async fn posting(
    parts: &mut Parts,
    state: &Arc<ApiState>,
    csrf: &str,
) -> Result<Caller, Response> {
    if let Ok(token) = HeaderValue::from_str(csrf) {
        parts.headers.insert("x-csrf-token", token);
    }
    let live = session_token(&parts.headers, state)
        .ok()
        .flatten()
        .is_some_and(|t| state.sessions.touch(t, state.now()).is_some());
    signed_in(parts, state).await.map_err(|to_login| {
        if !live {
            return to_login;
        }
        page(
            StatusCode::FORBIDDEN,
            MessagePage {
                title: "Formularen var udløbet",
                text: "Intet blev gemt. Åbn siden igen, og prøv på ny.",
            }
            .render(),
        )
    })
}
