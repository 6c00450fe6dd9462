//! The one-time enrolment link (`/tilmeld/<token>`, issue 25): the person a new or reset
//! account belongs to chooses their own password (twice), is shown the `otpauth://` URI and
//! its QR code for their authenticator app, and confirms with a code. Only then does the
//! account have a password and a TOTP secret; the link is spent, and the enrolment audited. The
//! form is paired with a cookie like the sign-in's (there is no session yet); every change
//! is made by compare-and-swap on the account, and the password is hashed within the Argon2
//! gate.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::User;
use modtag_storage::StoreError;
use serde::Deserialize;
use serde_json::json;

use super::signin::Filled;
use super::signin::{busy, cookie_header, page, refused, storage_trouble};
use crate::api::auth::{client_of, cookie, throttled};
use crate::api::state::{audit, durable, ApiState};
use crate::api::users::{notice, AccountChange};
use crate::app::blocking;
use crate::identity::{enrolment, password, totp};

/// The cookie that pairs the enrolment form with the browser that opened it.
const FORM_COOKIE: &str = "modtag_tilmeld";
/// The cookie of the browser that chose the password: the rest of the enrolment is its.
const BROWSER_COOKIE: &str = "modtag_tilmeld_browser";

/// Someone with the link, in another browser than the one that chose the password: nothing
/// is shown (not the TOTP secret above all), nothing is changed.
fn in_use() -> Response {
    refused(
        StatusCode::CONFLICT,
        "Linket er taget i brug",
        "Tilmeldingen er i gang i en anden browser, og kun den kan gøre den færdig. Var det \
         ikke dig, så kontakt straks kommunens IT-afdeling og bed om et nyt link.",
    )
}

#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolPage<'a> {
    csrf: &'a str,
    token: &'a str,
    account: &'a str,
    error: Option<&'a str>,
    /// After the password: the authenticator app's enrolment.
    totp: Option<Authenticator>,
}

/// What the person scans (or types) into their authenticator app.
struct Authenticator {
    uri: String,
    secret: String,
    /// The QR code as an SVG path in a `size` × `size` box (a quiet zone included).
    qr_path: String,
    size: usize,
}

/// The QR code of `text` as one SVG path of its dark modules, with the 4-module quiet zone:
/// drawn by the page itself, no script and no image fetched from anywhere.
fn qr(text: &str) -> Option<(String, usize)> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let mut d = String::new();
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            d.push_str(&format!("M{} {}h1v1h-1z", i % width + 4, i / width + 4));
        }
    }
    Some((d, width + 8))
}

fn authenticator(user: &User) -> Option<Authenticator> {
    let uri = totp::uri(&user.totp_secret, &user.id)?;
    let (qr_path, size) = qr(&uri)?;
    Some(Authenticator {
        uri,
        secret: user.totp_secret.clone(),
        qr_path,
        size,
    })
}

/// The account whose live enrolment link `token` is.
fn enrolling(state: &ApiState, token: &str) -> Result<Option<User>, StoreError> {
    let now = state.now();
    Ok(state
        .app
        .store
        .users()?
        .into_iter()
        .find(|u| enrolment::holds(u, token, now)))
}

fn gone() -> Response {
    refused(
        StatusCode::NOT_FOUND,
        "Linket virker ikke",
        "Linket er brugt, udløbet eller forkert. Bed kommunens IT-afdeling om et nyt.",
    )
}

/// The form for `user`'s enrolment, at its step, with a fresh CSRF pair.
fn form(
    state: &ApiState,
    status: StatusCode,
    token: &str,
    user: &User,
    error: Option<&str>,
) -> Response {
    let csrf = crate::identity::sessions::token();
    let chosen = user.enrolment.as_ref().is_some_and(|e| e.chosen.is_some());
    let mut res = page(
        status,
        EnrolPage {
            csrf: &csrf,
            token,
            account: &user.id,
            error,
            totp: chosen.then(|| authenticator(user)).flatten(),
        }
        .render(),
    );
    res.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(state, FORM_COOKIE, &csrf, "/tilmeld", None),
    );
    res
}

pub async fn show(
    State(state): State<Arc<ApiState>>,
    Path(token): Path<String>,
    parts: Parts,
) -> Response {
    let client = client_of(&parts, &state);
    if let Some(wait) = held_back(&state, client) {
        return wait;
    }
    let s = state.clone();
    let t = token.clone();
    match blocking(move || enrolling(&s, &t)).await {
        Ok(Some(user)) if !enrolment::bound_to(&user, cookie(&parts.headers, BROWSER_COOKIE)) => {
            in_use()
        }
        Ok(Some(user)) => form(&state, StatusCode::OK, &token, &user, None),
        Ok(None) => no_such_link(&state, client).await,
        Err(e) => storage_trouble(e),
    }
}

/// A client that keeps trying links that are not: held back like one that keeps failing to
/// sign in (a link is 256 random bits, so guessing is hopeless; each try costs decrypting
/// the accounts).
fn held_back(state: &ApiState, client: std::net::IpAddr) -> Option<Response> {
    let secs = state.logins.locked(client, std::time::Instant::now())?;
    let mut res = refused(
        StatusCode::TOO_MANY_REQUESTS,
        "For mange forsøg",
        &format!("Vent {secs} sekunder, og prøv så igen."),
    );
    res.headers_mut().insert(header::RETRY_AFTER, secs.into());
    Some(res)
}

/// A link that is not (used, expired, wrong): counted against the client.
async fn no_such_link(state: &ApiState, client: std::net::IpAddr) -> Response {
    if state.logins.failed(client, std::time::Instant::now()) {
        let _ = audit(state, throttled(client)).await;
    }
    gone()
}

#[derive(Deserialize)]
pub struct EnrolForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
    #[serde(default)]
    totp: String,
}

/// What the person typed, checked: the password step (`password`, `password2`) or the code
/// step (`totp`).
pub async fn submit(
    State(state): State<Arc<ApiState>>,
    Path(token): Path<String>,
    parts: Parts,
    Filled(f): Filled<EnrolForm>,
) -> Response {
    let client = client_of(&parts, &state);
    if let Some(wait) = held_back(&state, client) {
        return wait;
    }
    let s = state.clone();
    let t = token.clone();
    let user = match blocking(move || enrolling(&s, &t)).await {
        Ok(Some(user)) => user,
        Ok(None) => return no_such_link(&state, client).await,
        Err(e) => return storage_trouble(e),
    };
    let paired = cookie(&parts.headers, FORM_COOKIE)
        .is_some_and(|c| !f.csrf.is_empty() && c.as_bytes() == f.csrf.as_bytes());
    if !paired {
        return form(
            &state,
            StatusCode::FORBIDDEN,
            &token,
            &user,
            Some("Formularen var udløbet eller kom ikke fra denne side. Prøv igen."),
        );
    }
    let browser = cookie(&parts.headers, BROWSER_COOKIE);
    if !enrolment::bound_to(&user, browser) {
        return in_use();
    }
    if f.totp.trim().is_empty() {
        let browser = browser.map_or_else(crate::identity::sessions::token, str::to_string);
        choose(&state, &token, user, (f.password, f.password2), browser).await
    } else {
        confirm(&state, &token, user, &f.totp, browser.unwrap_or_default()).await
    }
}

/// The password step: two equal passwords of the length NIST SP 800-63B asks, hashed and
/// kept on the enrolment until a code confirms it.
async fn choose(
    state: &ApiState,
    token: &str,
    user: User,
    (first, again): (String, String),
    browser: String,
) -> Response {
    if let Err(why) = password::check_new(&first, &again) {
        return form(
            state,
            StatusCode::UNPROCESSABLE_ENTITY,
            token,
            &user,
            Some(&why),
        );
    }
    let Some(phc) = state.argon.run(move || password::hash(&first)).await else {
        return busy();
    };
    let (store, now, t) = (state.app.store.clone(), state.now(), token.to_string());
    let (id, cookie_value) = (user.id.clone(), browser.clone());
    let chosen = blocking(move || {
        store.change_user(&id, now, |u, b| {
            let Some(mut u) = u.filter(|u| enrolment::holds(u, &t, now)) else {
                return Ok::<_, StoreError>(Err(false));
            };
            // Another browser may have chosen first, between the check and this write.
            if !enrolment::bound_to(&u, Some(&browser)) {
                return Ok(Err(true));
            }
            enrolment::choose(&mut u, phc.clone(), &browser);
            b.user(u.clone());
            Ok(Ok(u))
        })
    })
    .await;
    match chosen {
        Ok(Ok(u)) => match durable(state).await {
            Ok(()) => {
                let mut res = form(state, StatusCode::OK, token, &u, None);
                res.headers_mut().append(
                    header::SET_COOKIE,
                    cookie_header(state, BROWSER_COOKIE, &cookie_value, "/tilmeld", None),
                );
                res
            }
            Err(e) => e.into_response(),
        },
        Ok(Err(true)) => in_use(),
        Ok(Err(false)) => gone(),
        Err(e) => storage_trouble(e),
    }
}

/// The code step: a right code for the account's secret finishes the enrolment.
async fn confirm(state: &ApiState, token: &str, user: User, code: &str, browser: &str) -> Response {
    let (cfg, now) = (state.app.policy.cfg(), state.now());
    let (id, t, code) = (user.id.clone(), token.to_string(), code.trim().to_string());
    let browser = browser.to_string();
    let unix = u64::try_from(now.as_second()).unwrap_or(0);
    let done = state
        .app
        .change(move |store| {
            store.change_user(&id, now, |u, b| {
                let Some(mut u) = u.filter(|u| enrolment::holds(u, &t, now)) else {
                    return Ok::<_, StoreError>(Err(false));
                };
                if !enrolment::bound_to(&u, Some(&browser))
                    || !enrolment::confirm(&mut u, &code, unix)
                {
                    return Ok(Err(true));
                }
                b.audit(
                    Event::new(EventKind::UserChanged, &u.id, "authentication")
                        .details(json!({ "user": u.id, "change": "enrolled" })),
                );
                // Its owner is told: an enrolment someone else made with the link does not go
                // unnoticed.
                b.outbox(notice(store, &cfg, &u, AccountChange::Enrolled, now)?);
                b.user(u);
                Ok(Ok(()))
            })
        })
        .await;
    match done {
        Ok(Ok(())) => {
            let mut res = refused(
                StatusCode::OK,
                "Din konto er klar",
                "Du har valgt adgangskode og sat engangskoden op. Log ind på forsiden med dit \
                 brugernavn, din adgangskode og en engangskode.",
            );
            for name in [FORM_COOKIE, BROWSER_COOKIE] {
                res.headers_mut().append(
                    header::SET_COOKIE,
                    cookie_header(state, name, "", "/tilmeld", Some(0)),
                );
            }
            res
        }
        Ok(Err(true)) => form(
            state,
            StatusCode::UNPROCESSABLE_ENTITY,
            token,
            &user,
            Some("Engangskoden passede ikke. Tjek, at appen viser koden for modtag, og prøv igen."),
        ),
        Ok(Err(false)) => gone(),
        Err(e) => storage_trouble(e),
    }
}
