//! Signing in with the kommune's identity provider (`[oidc]`): `/login/oidc` sends the
//! browser to the provider, `/login/oidc/callback` takes it back. The person the ID token
//! names (by the configured claim) must be in the directory; they get an account with the
//! directory's id the first time (no password: they sign in at the provider), whose roles
//! follow the directory at every sign-in, plus the system roles `[oidc] system_roles` gives.
//! An account an administrator disabled stays shut.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use modtag_config::Directory;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::User;
use modtag_storage::store::Batch;
use serde::Deserialize;
use serde_json::json;

use super::signin::{begin_session, cookie_with, next_page, page, refused, storage_trouble};
use crate::api::auth::{client_of, cookie};
use crate::api::state::{audit, durable, ApiState};
use crate::app::blocking;
use crate::identity::oidc::PENDING_TTL;

/// The cookie that ties a sign-in at the provider to the browser that began it. `Lax`: it
/// must come back with the provider's redirect, a navigation from another site.
const BROWSER_COOKIE: &str = "modtag_oidc";

#[derive(Template)]
#[template(path = "signed_in.html")]
struct SignedInPage<'a> {
    /// Where the person was going (a checked local path of the desk), or home.
    next: &'a str,
}

pub async fn begin(State(state): State<Arc<ApiState>>) -> Response {
    let Some(provider) = &state.oidc else {
        return refused(
            StatusCode::NOT_FOUND,
            "Ikke sat op",
            "Log ind med kommunens login er ikke sat op her. Brug brugernavn og engangskode.",
        );
    };
    match provider.begin().await {
        Ok(begun) => {
            let mut res = Redirect::to(&begun.url).into_response();
            res.headers_mut().append(
                header::SET_COOKIE,
                cookie_with(
                    &state,
                    BROWSER_COOKIE,
                    &begun.browser,
                    "/login/oidc",
                    Some(PENDING_TTL.as_secs()),
                    "Lax",
                ),
            );
            res
        }
        Err(e) => {
            tracing::warn!(error = %e, "sign-in with the identity provider could not begin");
            refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "Kommunens login svarer ikke",
                "Prøv igen om lidt, eller log ind med brugernavn og engangskode.",
            )
        }
    }
}

#[derive(Deserialize)]
pub struct Callback {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

pub async fn callback(
    State(state): State<Arc<ApiState>>,
    parts: Parts,
    Query(back): Query<Callback>,
) -> Response {
    let Some(provider) = &state.oidc else {
        return Redirect::to("/login").into_response();
    };
    let client = client_of(&parts, &state);
    // Anyone can call the callback: a client that keeps failing is held back like one that
    // keeps failing to sign in, and a burst of refusals is one audit entry, not one each.
    if let Some(secs) = state.logins.locked(client, std::time::Instant::now()) {
        let mut res = refused(
            StatusCode::TOO_MANY_REQUESTS,
            "For mange forsøg",
            "Vent lidt, og start så forfra fra log ind-siden.",
        );
        res.headers_mut().insert(header::RETRY_AFTER, secs.into());
        return res;
    }
    let failed = |reason: String, cheap: bool| callback_failed(&state, client, reason, cheap);
    let (Some(st), Some(code)) = (back.state.as_deref(), back.code.as_deref()) else {
        // The provider's error code only (its description may quote what the person typed),
        // and only as an OAuth error code is written: anything else is not repeated.
        let why = back
            .error
            .as_deref()
            .map_or("no code".to_string(), error_code);
        failed(format!("the provider sent no code: {why}"), true).await;
        return refused(
            StatusCode::UNAUTHORIZED,
            "Du blev ikke logget ind",
            "Kommunens login gennemførte ikke log ind. Prøv igen.",
        );
    };
    let browser = cookie(&parts.headers, BROWSER_COOKIE);
    let named = match provider.finish(st, code, browser).await {
        Ok(v) => v,
        Err(e) => {
            let cheap = matches!(e, crate::identity::oidc::OidcError::UnknownState);
            failed(e.to_string(), cheap).await;
            return refused(
                StatusCode::UNAUTHORIZED,
                "Du blev ikke logget ind",
                "Log ind kunne ikke bekræftes. Start forfra fra log ind-siden.",
            );
        }
    };
    let cfg = state.app.policy.cfg();
    let oidc_cfg = cfg
        .config
        .oidc
        .clone()
        .expect("a provider comes from [oidc]");
    let Some(entry) = directory_entry(&cfg.directory, &oidc_cfg.match_by, &named) else {
        failed(
            format!("the directory knows no one by this {}", oidc_cfg.claim),
            false,
        )
        .await;
        return refused(
            StatusCode::FORBIDDEN,
            "Ingen adgang",
            "Du er logget ind hos kommunen, men modtag kender dig ikke: du står ikke i \
             kommunens katalog over medarbejdere. Kontakt IT-afdelingen.",
        );
    };
    let system: Vec<String> = oidc_cfg
        .system_roles
        .get(&entry.id)
        .cloned()
        .unwrap_or_default();
    let store = state.app.store.clone();
    let now = state.now();
    let synced = blocking(move || sync_account(&store, entry, system, client, now)).await;
    let user = match synced {
        Ok(Ok(user)) => {
            state.attempts.succeeded("(oidc callback)", client);
            state.logins.succeeded(client);
            user
        }
        Ok(Err(why)) => {
            failed(why.into(), false).await;
            return refused(
                StatusCode::FORBIDDEN,
                "Ingen adgang",
                "Din konto i modtag er spærret eller tilhører en anden. Kontakt IT-afdelingen.",
            );
        }
        Err(e) => return storage_trouble(e),
    };
    if let Err(e) = durable(&state).await {
        return e.into_response();
    }
    // A page rather than a redirect: the session cookie is `SameSite=Strict`, and a redirect
    // chain that began at the provider would not carry it to `/`.
    let next = next_page(&parts.headers);
    let mut res = page(StatusCode::OK, SignedInPage { next: &next }.render());
    begin_session(&state, &mut res, &user.id, user.epoch, now);
    res.headers_mut().append(
        header::SET_COOKIE,
        cookie_with(&state, BROWSER_COOKIE, "", "/login/oidc", Some(0), "Lax"),
    );
    res
}

/// A callback that did not sign anyone in: logged, counted against the client, and
/// audited. `cheap`: a refusal anyone can cause with a request (no code, a state not begun
/// here); those are audited once per burst. One that got as far as the provider's token is
/// audited each time, with what was wrong with it.
async fn callback_failed(state: &ApiState, client: std::net::IpAddr, reason: String, cheap: bool) {
    tracing::warn!(reason = ?reason, "sign-in with the identity provider failed");
    let burst = state
        .attempts
        .failed("(oidc callback)", client, state.now());
    if burst.audit || !cheap {
        let event =
            Event::new(EventKind::LoginFailed, "unknown", "authentication").details(json!({
                "method": "oidc", "reason": reason, "client": client.to_string(),
                "failures": burst.count,
            }));
        let _ = audit(state, event).await;
    }
    if state.logins.failed(client, std::time::Instant::now()) {
        let _ = audit(state, crate::api::auth::throttled(client)).await;
    }
}

/// An OAuth error code as the callback's `error` gives it (RFC 6749 §4.1.2.1: `access_denied`,
/// `login_required` ...), or a placeholder for anything that is not one: what a caller put
/// in the address is never written to the log or the audit log as it came.
fn error_code(given: &str) -> String {
    let code = given.len() <= 64
        && !given.is_empty()
        && given
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if code {
        given.to_string()
    } else {
        "(not an error code)".into()
    }
}

/// Whom the directory lists under `value`: a person or member of staff, by e-mail or id.
struct Entry {
    id: String,
    email: String,
    roles: Vec<String>,
}

fn directory_entry(directory: &Directory, match_by: &str, value: &str) -> Option<Entry> {
    let people = directory
        .people
        .values()
        .map(|p| (&p.id, &p.email, &p.roles));
    let staff = directory
        .staff
        .values()
        .map(|s| (&s.id, &s.email, &s.roles));
    people
        .chain(staff)
        .find(|(id, email, _)| match match_by {
            "id" => id.as_str() == value,
            _ => email.eq_ignore_ascii_case(value),
        })
        .map(|(id, email, roles)| Entry {
            id: id.clone(),
            email: email.clone(),
            roles: roles.clone(),
        })
}

/// The account of a person the provider signed in: made the first time (unless another
/// account has their e-mail), its roles brought in line with the directory (a change ends
/// their other sessions), the sign-in audited. The account changes by compare-and-swap.
fn sync_account(
    store: &modtag_storage::Store,
    entry: Entry,
    system: Vec<String>,
    client: std::net::IpAddr,
    now: jiff::Timestamp,
) -> Result<Result<User, &'static str>, modtag_storage::StoreError> {
    let roles: Vec<String> = entry.roles.into_iter().chain(system).collect();
    let signed_in = |id: &str| {
        Event::new(EventKind::SignedIn, id, "authentication")
            .details(json!({ "method": "oidc", "client": client.to_string() }))
    };
    // Twice at most: an account another sign-in made meanwhile is then signed in to.
    for _ in 0..2 {
        if store.user(&entry.id)?.is_none() {
            let mut b = Batch::new();
            b.audit(
                Event::new(EventKind::UserAdded, "system", "authentication")
                    .details(json!({ "user": entry.id, "roles": roles, "via": "oidc" })),
            );
            b.audit(signed_in(&entry.id));
            // No password: they sign in at the provider.
            let user = crate::identity::new_account(
                entry.id.clone(),
                entry.email.clone(),
                roles.clone(),
                String::new(),
                now,
            );
            match store.add_user(user.clone(), b, now)? {
                Ok(()) => return Ok(Ok(user)),
                Err(modtag_storage::Taken::Email) => {
                    return Ok(Err("another account has the person's e-mail"))
                }
                Err(modtag_storage::Taken::Id) => continue,
            }
        }
        return store.change_user(&entry.id, now, |user, b| {
            let mut u = match user {
                None => return Ok(Err("the account is gone")),
                Some(u) if u.disabled => return Ok(Err("the account is disabled")),
                Some(u) if !u.email.eq_ignore_ascii_case(&entry.email) => {
                    return Ok(Err(
                        "the account id belongs to an account with another e-mail",
                    ))
                }
                Some(u) => u,
            };
            if u.roles != roles {
                b.audit(
                    Event::new(EventKind::UserChanged, "system", "authentication").details(
                        json!({ "user": u.id, "change": "roles", "roles": roles, "via": "oidc" }),
                    ),
                );
                u.roles = roles.clone();
                u.epoch += 1;
            }
            b.audit(signed_in(&u.id));
            b.user(u.clone());
            Ok(Ok(u))
        });
    }
    Ok(Err(
        "the account is being made by another sign-in; try again",
    ))
}
