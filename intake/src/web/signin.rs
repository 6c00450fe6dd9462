//! Signing in with a built-in account (password and TOTP code), signing out, and the page
//! a signed-in person lands on.
//!
//! The form carries a CSRF token that must match a cookie set with it (the person has no
//! session yet); a session's own token guards sign-out. Every failure gets the same words
//! (which of name, password and code was wrong is not said), is counted per account and
//! address ([`Attempts`](crate::identity::attempts::Attempts)) and per address
//! (`api::lockout`), and is audited once per burst.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::User;
use serde::Deserialize;
use serde_json::json;

use crate::access::{Person, SYSTEM_ROLES};
use crate::api::auth::{client_of, cookie, session_cookie, throttled};
use crate::api::state::{audit, durable, ApiState};
use crate::app::blocking;
use crate::identity::sessions::{token, Session};
use crate::identity::{password, totp};

/// The cookie that pairs the sign-in form with the browser that asked for it.
const FORM_COOKIE: &str = "modtag_login";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    username: &'a str,
    error: Option<&'a str>,
    /// The identity provider's button, when `[oidc]` is configured.
    oidc: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub(super) struct MessagePage<'a> {
    pub title: &'a str,
    pub text: &'a str,
}

/// A page that says one thing: a refusal, what to fix, or that nothing was done.
pub(super) fn refused(status: StatusCode, title: &str, text: &str) -> Response {
    page(status, MessagePage { title, text }.render())
}

pub(super) fn page(status: StatusCode, html: Result<String, askama::Error>) -> Response {
    match html {
        Ok(h) => (status, Html(h)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page could not be rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, "siden kunne ikke vises").into_response()
        }
    }
}

/// A cookie's attributes: never readable by script, never sent from another site, and
/// `Secure` except on plain HTTP on loopback (behind a TLS proxy it is always set).
pub(super) fn cookie_header(
    state: &ApiState,
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<u64>,
) -> HeaderValue {
    cookie_with(state, name, value, path, max_age, "Strict")
}

/// As [`cookie_header`], with the `SameSite` given (`Lax` only for the cookie that must come
/// back with the identity provider's redirect).
pub(super) fn cookie_with(
    state: &ApiState,
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<u64>,
    same_site: &str,
) -> HeaderValue {
    let plain_loopback = state.app.policy.cfg().config.http.plain_loopback();
    let mut c = format!("{name}={value}; HttpOnly; SameSite={same_site}; Path={path}");
    if !plain_loopback {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&c).expect("cookie values are URL-safe base64")
}

/// The cookie that remembers which desk page a person was on the way to when they were sent
/// to sign in (a notification's link), so the sign-in ends there. `Lax`: the way in is often
/// a link in a mail program, another site.
const NEXT_COOKIE: &str = "modtag_til";

/// The way to the sign-in from a desk page, remembering the page.
pub(super) fn to_sign_in(state: &ApiState, parts: &Parts) -> Response {
    let mut res = Redirect::to("/login").into_response();
    if parts.method == Method::GET && desk_page(parts.uri.path()) {
        res.headers_mut().append(
            header::SET_COOKIE,
            cookie_with(
                state,
                NEXT_COOKIE,
                parts.uri.path(),
                "/login",
                Some(900),
                "Lax",
            ),
        );
    }
    res
}

/// A page of the desk a sign-in may end at: a local path of the desk's own, in characters
/// a reference is made of (nothing that could lead off the site).
fn desk_page(path: &str) -> bool {
    (path == "/koe" || path.starts_with("/koe/") || path == "/sendt-til-mig")
        && path.len() <= 100
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_".contains(&b))
        && !path.contains("//")
}

/// Where a person goes once signed in: the desk page they were on the way to, or home.
pub(super) fn next_page(headers: &HeaderMap) -> String {
    cookie(headers, NEXT_COOKIE)
        .filter(|p| desk_page(p))
        .unwrap_or("/")
        .to_string()
}

/// Forgets the page a sign-in was to end at.
pub(super) fn forget_next(state: &ApiState) -> HeaderValue {
    cookie_with(state, NEXT_COOKIE, "", "/login", Some(0), "Lax")
}

/// The form, with a fresh CSRF token (in the page and in a cookie).
fn login_page(
    state: &ApiState,
    status: StatusCode,
    username: &str,
    error: Option<&str>,
) -> Response {
    let csrf = token();
    let cfg = state.app.policy.cfg();
    let oidc = cfg
        .config
        .oidc
        .as_ref()
        .filter(|_| state.oidc.is_some())
        .map(|o| o.label.as_str());
    let mut res = page(
        status,
        LoginPage {
            csrf: &csrf,
            username,
            error,
            oidc,
        }
        .render(),
    );
    res.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(state, FORM_COOKIE, &csrf, "/login", None),
    );
    res
}

pub(super) fn live_session(state: &ApiState, parts: &Parts) -> Option<(String, Session)> {
    let t = crate::api::auth::session_token(&parts.headers, state).ok()??;
    let s = state.sessions.touch(t, state.now())?;
    Some((t.to_string(), s))
}

pub async fn form(State(state): State<Arc<ApiState>>, parts: Parts) -> Response {
    if live_session(&state, &parts).is_some() {
        let mut res = Redirect::to(&next_page(&parts.headers)).into_response();
        res.headers_mut()
            .append(header::SET_COOKIE, forget_next(&state));
        return res;
    }
    login_page(&state, StatusCode::OK, "", None)
}

#[derive(Deserialize)]
pub struct SignIn {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    totp: String,
    #[serde(default)]
    csrf: String,
}

const WRONG: &str = "Brugernavn, adgangskode eller engangskode er forkert. Prøv igen.";

pub async fn sign_in(
    State(state): State<Arc<ApiState>>,
    parts: Parts,
    Filled(input): Filled<SignIn>,
) -> Response {
    // An account id is at most 64 characters: anything longer is cut before it is used as a
    // key of the failure counts or written to the audit log (a flood of huge names must not
    // grow either).
    let username: String = input
        .username
        .trim()
        .to_lowercase()
        .chars()
        .take(64)
        .collect();
    let shown: String = username.chars().filter(|c| !c.is_control()).collect();
    let paired = cookie(&parts.headers, FORM_COOKIE)
        .is_some_and(|c| !input.csrf.is_empty() && c.as_bytes() == input.csrf.as_bytes());
    if !paired {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            &shown,
            Some("Formularen var udløbet eller kom ikke fra denne side. Prøv igen."),
        );
    }
    if input.password.len() > password::MAX_BYTES {
        return login_page(&state, StatusCode::UNAUTHORIZED, &shown, Some(WRONG));
    }
    let client = client_of(&parts, &state);
    let now = state.now();
    // The try is counted before its password is checked, per address and per account and
    // address: a hundred at once get no further than the first few (issue 25).
    // The account's own count first: a try refused for it is not one more against the
    // address (a person waiting out their own wait would otherwise lock their office out).
    let counted = state
        .attempts
        .attempt(&username, client, now)
        .and_then(|failure| {
            let locks = state.logins.attempt(client, std::time::Instant::now())?;
            Ok((locks, failure))
        });
    let (locks, failure) = match counted {
        Ok(c) => c,
        Err(secs) => {
            let mut res = login_page(
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                &shown,
                Some(&format!(
                    "For mange forsøg. Vent {secs} sekunder, og prøv så igen."
                )),
            );
            res.headers_mut().insert(header::RETRY_AFTER, secs.into());
            return res;
        }
    };
    let checked = match check(&state, &username, input.password, &input.totp, client, now).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(None),
        Err(e) => Err(Some(e)),
    };
    let user = match checked {
        Ok(user) => user,
        Err(Some(page)) => return page,
        Err(None) => {
            if failure.audit {
                let event = Event::new(EventKind::LoginFailed, "unknown", "authentication")
                    .details(json!({ "account": username, "failures": failure.count }));
                let _ = audit(&state, event).await;
            }
            if locks {
                let _ = audit(&state, throttled(client)).await;
            }
            return login_page(&state, StatusCode::UNAUTHORIZED, &shown, Some(WRONG));
        }
    };
    if let Err(e) = durable(&state).await {
        return e.into_response();
    }
    let (who, epoch) = (user.id.clone(), user.epoch);
    state.attempts.succeeded(&username, client);
    state.logins.succeeded(client);
    let mut res = Redirect::to(&next_page(&parts.headers)).into_response();
    begin_session(&state, &mut res, &who, epoch, now);
    res.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(&state, FORM_COOKIE, "", "/login", Some(0)),
    );
    res
}

/// Begins a session for account `user` (at its `epoch`) with the answer `res`: its cookie
/// set, the page the sign-in was to end at forgotten.
pub(super) fn begin_session(
    state: &ApiState,
    res: &mut Response,
    user: &str,
    epoch: u64,
    now: jiff::Timestamp,
) {
    let (t, _) = state.sessions.begin(user, epoch, now);
    let h = res.headers_mut();
    h.append(header::SET_COOKIE, forget_next(state));
    h.append(
        header::SET_COOKIE,
        cookie_header(state, session_cookie(state), &t, "/", None),
    );
}

/// Checks a sign-in: the password (Argon2, within `ApiState::argon`), then, by
/// compare-and-swap on the account as stored now, that it is still enabled with that
/// password and that the code is right and not taken, recording the code's step with the
/// sign-in's audit entry. A code is so taken once however many sign-ins race with it, and a
/// sign-in never writes back an account that was disabled or reset meanwhile. `Ok(None)`
/// for a wrong name, password or code (one answer for all); `Err` is the page to show.
async fn check(
    state: &ApiState,
    username: &str,
    pw: String,
    code: &str,
    client: std::net::IpAddr,
    now: jiff::Timestamp,
) -> Result<Option<User>, Response> {
    let store = state.app.store.clone();
    let id = username.to_string();
    let verified = state
        .argon
        .run(
            move || -> Result<Option<User>, modtag_storage::StoreError> {
                let Some(user) = store.user(&id)? else {
                    // Verify anyway, so a name that does not exist takes as long as a wrong
                    // password.
                    password::verify_nothing(&pw);
                    return Ok(None);
                };
                // The hash is checked first, so a disabled account answers as slowly as any.
                Ok((password::verify(&pw, &user.password) && !user.disabled).then_some(user))
            },
        )
        .await;
    let user = match verified {
        None => return Err(busy()),
        Some(Err(e)) => return Err(storage_trouble(e)),
        Some(Ok(None)) => return Ok(None),
        Some(Ok(Some(user))) => user,
    };
    // Only people the kommune's directory knows get in; the system roles come from the
    // configuration instead.
    let person = Person::of(
        &user.id,
        &user.email,
        &user.roles,
        &state.app.policy.cfg().directory,
    );
    let system_only = user
        .roles
        .iter()
        .all(|r| SYSTEM_ROLES.contains(&r.as_str()));
    if person.directory_id.is_none() && !system_only {
        return Err(page(
            StatusCode::FORBIDDEN,
            MessagePage {
                title: "Ingen adgang",
                text: "Din konto er ikke knyttet til en person i kommunens katalog. \
                       Kontakt IT-afdelingen.",
            }
            .render(),
        ));
    }
    let phc = user.password;
    let store = state.app.store.clone();
    let (id, code) = (username.to_string(), code.to_string());
    let unix = u64::try_from(now.as_second()).unwrap_or(0);
    let taken = blocking(move || {
        store.change_user(&id, now, |user, b| {
            let Some(mut user) = user.filter(|u| !u.disabled && u.password == phc) else {
                return Ok(None);
            };
            let Some(step) = totp::accept(&user.totp_secret, &code, unix, user.totp_last_step)
            else {
                return Ok(None);
            };
            user.totp_last_step = Some(step);
            b.audit(
                Event::new(EventKind::SignedIn, &user.id, "authentication")
                    .details(json!({ "method": "password+totp", "client": client.to_string() })),
            );
            b.user(user.clone());
            Ok::<_, modtag_storage::StoreError>(Some(user))
        })
    })
    .await;
    match taken {
        Ok(user) => Ok(user),
        Err(e) => Err(storage_trouble(e)),
    }
}

/// Too many Argon2 runs for the memory modtag may use now: come back shortly.
pub(super) fn busy() -> Response {
    let mut res = page(
        StatusCode::SERVICE_UNAVAILABLE,
        MessagePage {
            title: "Prøv igen om lidt",
            text: "modtag har travlt lige nu. Vent et øjeblik, og prøv så igen.",
        }
        .render(),
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    res
}

/// An API handler's refusal as a page: its status and its message (which names no person).
pub(super) fn api_refusal(e: crate::api::error::ApiError) -> Response {
    use crate::api::error::ApiError;
    match e {
        ApiError::Store(e) => storage_trouble(e),
        ApiError::Refused(status, text) => page(
            status,
            MessagePage {
                title: "Det kunne ikke lade sig gøre",
                text: &text,
            }
            .render(),
        ),
        other => other.into_response(),
    }
}

pub(super) fn storage_trouble(e: modtag_storage::StoreError) -> Response {
    tracing::error!(error = %e, "storage error at sign-in");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        MessagePage {
            title: "Prøv igen om lidt",
            text: "modtag kan ikke læse sine data lige nu. Intet er ændret.",
        }
        .render(),
    )
}

#[derive(Deserialize)]
pub struct SignOut {
    #[serde(default)]
    csrf: String,
}

pub async fn sign_out(
    State(state): State<Arc<ApiState>>,
    parts: Parts,
    Filled(input): Filled<SignOut>,
) -> Response {
    let Some((t, session)) = live_session(&state, &parts) else {
        return Redirect::to("/login").into_response();
    };
    if input.csrf.as_bytes() != session.csrf.as_bytes() {
        return page(
            StatusCode::FORBIDDEN,
            MessagePage {
                title: "Du blev ikke logget ud",
                text: "Anmodningen kom ikke fra modtags egen side.",
            }
            .render(),
        );
    }
    state.sessions.end(&t);
    let event = Event::new(EventKind::SignedOut, &session.user, "authentication");
    let _ = audit(&state, event).await;
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(&state, session_cookie(&state), "", "/", Some(0)),
    );
    res
}

/// A form posted to a page of the desk, as an extractor (sign-in, sign-out, enrolment:
/// no session yet, or its own checks): one that cannot be read (another content type, a
/// field missing) is answered with a page in Danish, not the framework's English line.
pub struct Filled<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for Filled<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Filled<T>, Response> {
        let axum::Form(form) = axum::Form::<T>::from_request(req, state)
            .await
            .map_err(|e| {
                let text =
                    "Intet blev gemt: formularen kunne ikke læses. Åbn siden igen, og prøv på ny.";
                let title = "Formularen kunne ikke læses";
                page(e.status(), MessagePage { title, text }.render())
            })?;
        Ok(Filled(form))
    }
}

#[cfg(test)]
mod tests {
    use super::desk_page;

    #[test]
    fn a_sign_in_ends_only_at_a_page_of_the_desk() {
        for ok in ["/koe", "/koe/MT-2026-000123", "/sendt-til-mig"] {
            assert!(desk_page(ok), "{ok}");
        }
        for bad in [
            "//evil.example/koe",
            "/koe/../logout",
            "https://evil.example/koe",
            "/koe\\evil",
            "/koe/a?b",
            "/logout",
            "/api/v1/items",
            "",
        ] {
            assert!(!desk_page(bad), "{bad}");
        }
    }
}
