//! A person's own account (`/konto`, issue 25): they change their password with the old one
//! and a code (an administrator never sets one). The change is made by compare-and-swap, is
//! audited, tells the owner by a neutral notice, and signs them out everywhere.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::StoreError;
use serde::Deserialize;
use serde_json::json;

use super::session::{Posted, SignedIn};
use super::signin::{busy, cookie_header, page, storage_trouble};
use crate::api::auth::{session_cookie, Caller};
use crate::api::state::ApiState;
use crate::api::users::{notice, AccountChange};
use crate::app::blocking;
use crate::identity::{password, totp};

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    csrf: &'a str,
    /// Built-in accounts have one; an identity provider's sign in there.
    has_password: bool,
    error: Option<&'a str>,
}

async fn render(
    state: &ApiState,
    caller: &Caller,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let store = state.app.store.clone();
    let id = caller.actor.clone();
    let has_password = match blocking(move || store.user(&id)).await {
        Ok(u) => u.is_some_and(|u| !u.password.is_empty()),
        Err(e) => return storage_trouble(e),
    };
    page(
        status,
        AccountPage {
            csrf: caller.session.as_ref().map_or("", |s| s.csrf.as_str()),
            has_password,
            error,
        }
        .render(),
    )
}

pub async fn show(State(state): State<Arc<ApiState>>, SignedIn(caller): SignedIn) -> Response {
    render(&state, &caller, StatusCode::OK, None).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    gammel: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
    #[serde(default)]
    totp: String,
}

const WRONG: &str = "Den nuværende adgangskode eller engangskoden er forkert.";

pub async fn change(
    State(state): State<Arc<ApiState>>,
    parts: Parts,
    Posted(caller, f): Posted<PasswordForm>,
) -> Response {
    let refuse = |status, why: &'static str| {
        let (state, caller) = (state.clone(), &caller);
        async move { render(&state, caller, status, Some(why)).await }
    };
    if let Err(why) = password::check_new(&f.password, &f.password2) {
        return render(
            &state,
            &caller,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&why),
        )
        .await;
    }
    // Guessing the old password from a stolen session is counted like guessing at the
    // sign-in.
    let client = crate::api::auth::client_of(&parts, &state);
    let now = state.now();
    if let Err(secs) = state.attempts.attempt(&caller.actor, client, now) {
        let mut res = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "For mange forsøg. Vent lidt.",
        )
        .await;
        res.headers_mut().insert(header::RETRY_AFTER, secs.into());
        return res;
    }
    let (store, id) = (state.app.store.clone(), caller.actor.clone());
    let (old, new) = (f.gammel, f.password);
    // Both Argon2 runs (the old password checked, the new one hashed) in one turn.
    let hashed = state
        .argon
        .run(move || -> Result<Option<(String, String)>, StoreError> {
            let Some(user) = store.user(&id)? else {
                return Ok(None);
            };
            if !password::verify(&old, &user.password) {
                return Ok(None);
            }
            Ok(Some((user.password, password::hash(&new))))
        })
        .await;
    let (phc, new_phc) = match hashed {
        None => return busy(),
        Some(Err(e)) => return storage_trouble(e),
        Some(Ok(None)) => return refuse(StatusCode::UNAUTHORIZED, WRONG).await,
        Some(Ok(Some(p))) => p,
    };
    let (cfg, id, code) = (
        state.app.policy.cfg(),
        caller.actor.clone(),
        f.totp.trim().to_string(),
    );
    let unix = u64::try_from(now.as_second()).unwrap_or(0);
    let changed = state
        .app
        .change(move |store| {
            store.change_user(&id, now, |u, b| {
                // Still the password that was checked, and the code right and not taken.
                let Some(mut u) = u.filter(|u| !u.disabled && u.password == phc) else {
                    return Ok::<_, StoreError>(false);
                };
                let Some(step) = totp::accept(&u.totp_secret, &code, unix, u.totp_last_step) else {
                    return Ok(false);
                };
                u.totp_last_step = Some(step);
                u.password = new_phc.clone();
                u.epoch += 1;
                b.audit(
                    Event::new(EventKind::UserChanged, &u.id, "authentication")
                        .details(json!({ "user": u.id, "change": "password" })),
                );
                b.outbox(notice(store, &cfg, &u, AccountChange::Password, now)?);
                b.user(u);
                Ok(true)
            })
        })
        .await;
    match changed {
        Ok(true) => {
            state.attempts.succeeded(&caller.actor, client);
            state.sessions.end_all(&caller.actor);
            let mut res = Redirect::to("/login").into_response();
            res.headers_mut().append(
                header::SET_COOKIE,
                cookie_header(&state, session_cookie(&state), "", "/", Some(0)),
            );
            res
        }
        Ok(false) => refuse(StatusCode::UNAUTHORIZED, WRONG).await,
        Err(e) => storage_trouble(e),
    }
}

super::session::csrf_field!(PasswordForm);
