//! MitID Erhverv on the forms (issue 30): the pages around [`Saml`]. `/saml/metadata` is
//! what the kommune registers with NemLog-in; `/mitid/log-ind` sends the browser there with
//! a signed request and a cookie that binds the answer to this browser; `/saml/acs` takes
//! NemLog-in's answer and, once it checks out, holds the sign-in behind a cookie of its own
//! for the forms; `/mitid/log-ud` ends it. A refusal says what to do, in Danish; the log
//! names the reason's code, never who it was.

use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

pub use crate::identity::saml::Target;
use crate::identity::saml::{Professional, Saml};

use super::door::{limit, message, PublicState};

/// The sign-in for the forms.
const SIGNED_IN: &str = "modtag_mitid";
/// Binds NemLog-in's answer to the browser that asked.
const ASKED: &str = "modtag_mitid_anmodning";

/// Who is signed in with MitID Erhverv in this browser, if anyone.
pub(super) fn signed_in(state: &PublicState, headers: &HeaderMap) -> Option<Professional> {
    let saml = state.saml.as_ref()?;
    let token = crate::api::auth::cookie(headers, SIGNED_IN)?;
    saml.signed_in(token)
}

/// Whether the form takes nothing without the sign-in.
pub(super) fn required_for(state: &PublicState, target: Target) -> bool {
    use modtag_config::mitid::Use;
    state.saml.as_ref().is_some_and(|s| match target {
        Target::SendSikkert => s.settings.send_sikkert == Use::Required,
        // Citizens have no MitID Erhverv: the underretning form only ever offers it.
        Target::Underretning => false,
    })
}

/// Whether the underretning form offers professionals the sign-in.
pub(super) fn offered_on_underretning(state: &PublicState) -> bool {
    use modtag_config::mitid::Offer;
    (state.saml.as_ref()).is_some_and(|s| s.settings.underretning == Offer::Offered)
}

/// A form posted without the sign-in it requires: nothing was kept.
pub(super) fn sign_in_first() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Log ind med MitID Erhverv først",
        "Intet blev gemt. Send sikkert kræver, at du logger ind med MitID Erhverv som \
         medarbejder i institutionen. Åbn formularen, og log ind.",
    )
}

// The error is the handler's answer, returned at once: its size costs nothing here.
#[allow(clippy::result_large_err)]
fn configured(state: &PublicState) -> Result<&Arc<Saml>, Response> {
    state.saml.as_ref().ok_or_else(|| {
        message(
            StatusCode::NOT_FOUND,
            "Log ind med MitID Erhverv er ikke sat op",
            "Kommunen tager ikke imod log-ind med MitID Erhverv her. Brug formularen uden.",
        )
    })
}

/// `GET /saml/metadata`: modtag's service provider metadata, for NemLog-in.
pub(super) async fn metadata(State(state): State<Arc<PublicState>>) -> Response {
    match configured(&state) {
        Ok(saml) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/samlmetadata+xml"),
            )],
            saml.metadata().to_string(),
        )
            .into_response(),
        Err(res) => res,
    }
}

#[derive(Deserialize)]
pub(super) struct Where {
    til: Option<String>,
    /// The form's CSRF token (`POST /mitid/log-ud` only).
    csrf: Option<String>,
}

/// `GET /mitid/log-ind?til=sendsikkert` (or `underretning`): off to NemLog-in.
pub(super) async fn start(
    State(state): State<Arc<PublicState>>,
    Query(to): Query<Where>,
    parts: Parts,
) -> Response {
    let saml = match configured(&state) {
        Ok(s) => s.clone(),
        Err(res) => return res,
    };
    let cfg = state.app.policy.cfg();
    if let Err(res) = limit(&state, &parts, &cfg) {
        return res;
    }
    // Back to the form that asked: only the underretning form when it offers the sign-in.
    let target = match to.til.as_deref() {
        Some("underretning") if offered_on_underretning(&state) => Target::Underretning,
        _ => Target::SendSikkert,
    };
    let (url, browser) = saml.start(target, state.app.clock.now());
    let mut res = (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, url),
            (header::CACHE_CONTROL, "no-store".into()),
        ],
    )
        .into_response();
    // NemLog-in posts the answer from its own site: on a real address the cookie must come
    // along on that cross-site POST (SameSite=None, so Secure); on plain loopback (tests,
    // the demo) both are one site.
    let same_site = if plain(&state) { "Lax" } else { "None; Secure" };
    set_cookie(
        &mut res,
        &format!("{ASKED}={browser}; HttpOnly; SameSite={same_site}; Path=/saml/acs; Max-Age=900"),
    );
    res
}

#[derive(Deserialize)]
pub(super) struct Answer {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "RelayState", default)]
    relay_state: String,
}

/// `POST /saml/acs`: NemLog-in's answer.
pub(super) async fn acs(
    State(state): State<Arc<PublicState>>,
    headers: HeaderMap,
    Form(answer): Form<Answer>,
) -> Response {
    let saml = match configured(&state) {
        Ok(s) => s.clone(),
        Err(res) => return res,
    };
    let browser = crate::api::auth::cookie(&headers, ASKED);
    let now = state.app.clock.now();
    let result = saml
        .finish(&answer.relay_state, browser, &answer.saml_response, now)
        .await;
    let (person, target) = match result {
        Ok(ok) => ok,
        Err(why) => {
            tracing::warn!(refused = why.code(), "MitID Erhverv: a sign-in was refused");
            let status = if why == crate::identity::saml::Refusal::Unavailable {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::FORBIDDEN
            };
            return message(status, "Log-ind lykkedes ikke", why.words());
        }
    };
    tracing::info!(level = %person.level, "MitID Erhverv: signed in");
    let token = saml.hold(person);
    let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, target.path())]).into_response();
    let secure = if plain(&state) { "" } else { "; Secure" };
    set_cookie(
        &mut res,
        &format!(
            "{SIGNED_IN}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{secure}",
            saml.settings.session_minutes * 60
        ),
    );
    set_cookie(&mut res, &format!("{ASKED}=; Path=/saml/acs; Max-Age=0"));
    res
}

/// `POST /mitid/log-ud`, from the form's own button: its CSRF token must match the form's
/// cookie, so that another site cannot sign a professional out half-way through a form.
pub(super) async fn end(
    State(state): State<Arc<PublicState>>,
    headers: HeaderMap,
    Form(to): Form<Where>,
) -> Response {
    let cookie = crate::api::auth::cookie(&headers, super::door::FORM_COOKIE);
    let from_the_form = cookie.zip(to.csrf.as_deref()).is_some_and(|(c, t)| {
        !c.is_empty() && crate::identity::constant_time_eq(c.as_bytes(), t.trim().as_bytes())
    });
    if !from_the_form {
        tracing::info!("public form: sign-out without the form's token; answered 403");
        return message(
            StatusCode::FORBIDDEN,
            "Log ud kunne ikke gennemføres",
            "Du er stadig logget ind. Åbn formularen igen, og tryk på Log ud der.",
        );
    }
    if let (Some(saml), Some(token)) = (
        state.saml.as_ref(),
        crate::api::auth::cookie(&headers, SIGNED_IN),
    ) {
        saml.release(token);
    }
    // Back to the form it was on.
    let back = match to.til.as_deref() {
        Some("underretning") => "/underretning",
        _ => "/sendsikkert",
    };
    let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response();
    set_cookie(&mut res, &format!("{SIGNED_IN}=; Path=/; Max-Age=0"));
    res
}

fn plain(state: &PublicState) -> bool {
    (state.app.policy.cfg().config.public.as_ref()).is_some_and(|p| p.plain_loopback())
}

fn set_cookie(res: &mut Response, cookie: &str) {
    let value = HeaderValue::from_str(cookie).expect("tokens are URL-safe");
    res.headers_mut().append(header::SET_COOKIE, value);
}
