//! Who is at a page: the person behind the session cookie (the API's own check, so the
//! pages and the API agree on every rule), or the way to the sign-in.

use std::sync::Arc;

use askama::Template;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde::de::DeserializeOwned;

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

/// The signed-in person at a page, as an extractor: a handler that takes it is never run
/// for someone without a session (they get the way to the sign-in instead).
pub struct SignedIn(pub Caller);

impl FromRequestParts<Arc<ApiState>> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ApiState>,
    ) -> Result<SignedIn, Response> {
        signed_in(parts, state).await.map(SignedIn)
    }
}

/// A form that carries the session's CSRF token in its `csrf` field.
pub trait CsrfField {
    fn csrf(&self) -> &str;
}

/// `CsrfField` for forms whose token is the field `csrf`.
macro_rules! csrf_field {
    ($($form:ty),+ $(,)?) => {
        $(impl $crate::web::session::CsrfField for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}
pub(crate) use csrf_field;

/// A form posted by a signed-in person, as an extractor: the person and the form, its CSRF
/// token checked (see [`posting`]). A form that cannot be read changes nothing and says so.
pub struct Posted<T>(pub Caller, pub T);

impl<T> FromRequest<Arc<ApiState>> for Posted<T>
where
    T: CsrfField + DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &Arc<ApiState>) -> Result<Posted<T>, Response> {
        let (mut parts, body) = req.into_parts();
        let mut form = Request::new(body);
        *form.method_mut() = parts.method.clone();
        *form.uri_mut() = parts.uri.clone();
        *form.headers_mut() = parts.headers.clone();
        let super::signin::Filled(form) =
            super::signin::Filled::<T>::from_request(form, state).await?;
        let caller = posting(&mut parts, state, form.csrf()).await?;
        Ok(Posted(caller, form))
    }
}
