//! Built-in accounts, for an administrator: add (with the TOTP enrolment), list, disable,
//! reset the TOTP secret, set the roles. Every change is audited and ends the account's
//! sessions. Passwords and TOTP secrets are never listed.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::{ApiToken, User};
use modtag_storage::store::Batch;
use serde_json::json;

use super::auth::{Caller, Via};
use super::error::{json_body, ApiError};
use super::state::{durable, ApiState};
use super::types::{Enrolment, NewToken, NewUser, Roles, TokenRequest, UserView};
use crate::access::{Action, SYSTEM_ROLES};
use crate::app::blocking;
use crate::identity::{new_account, password, totp};

fn view(u: &User) -> UserView {
    UserView {
        id: u.id.clone(),
        email: u.email.clone(),
        roles: u.roles.clone(),
        disabled: u.disabled,
        created: u.created,
    }
}

fn check_roles(roles: &[String]) -> Result<(), ApiError> {
    if roles.is_empty() {
        return Err(ApiError::unprocessable("give at least one role"));
    }
    for r in roles {
        if !modtag_config::roles::is_role(r) && !SYSTEM_ROLES.contains(&r.as_str()) {
            return Err(ApiError::unprocessable(format!(
                "unknown role {r:?}: use a role id of the directory ({}) or {}",
                modtag_config::roles::ROLE_IDS.join(", "),
                SYSTEM_ROLES.join(", ")
            )));
        }
    }
    Ok(())
}

fn enrolment(u: &User) -> Result<Enrolment, ApiError> {
    let uri = totp::uri(&u.totp_secret, &u.id)
        .ok_or_else(|| ApiError::unprocessable("the TOTP secret could not be made into a URI"))?;
    Ok(Enrolment {
        id: u.id.clone(),
        otpauth_uri: uri,
    })
}

pub async fn add(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Enrolment>, ApiError> {
    caller.require(Action::ManageUsers)?;
    let input: NewUser = json_body(&body, "{\"id\", \"email\", \"roles\": [...], \"password\"}")?;
    let id_ok = (2..=64).contains(&input.id.len())
        && input
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !id_ok {
        return Err(ApiError::unprocessable(
            "an account id is 2 to 64 of a-z, 0-9, '.', '_' and '-' (e.g. lene.holm)",
        ));
    }
    if !input.email.contains('@') {
        return Err(ApiError::unprocessable("email must be an e-mail address"));
    }
    check_roles(&input.roles)?;
    if input.password.len() > 1024 {
        return Err(ApiError::unprocessable("a password is at most 1024 bytes"));
    }
    if input.password.chars().count() < password::MIN_LENGTH {
        return Err(ApiError::unprocessable(format!(
            "the password must be at least {} characters",
            password::MIN_LENGTH
        )));
    }
    let now = state.now();
    let store = state.app.store.clone();
    let actor = caller.actor.clone();
    let user = blocking(move || -> Result<User, ApiError> {
        if store.user(&input.id)?.is_some() {
            return Err(ApiError::conflict(format!(
                "there is already an account {}",
                input.id
            )));
        }
        let phc = password::hash(&input.password);
        let user = new_account(input.id, input.email, input.roles, phc, now);
        let mut b = Batch::new();
        b.audit(
            Event::new(EventKind::UserAdded, &actor, "administration")
                .details(json!({ "user": user.id, "roles": user.roles })),
        );
        b.user(user.clone());
        store.commit(b, now)?;
        Ok(user)
    })
    .await?;
    durable(&state).await?;
    Ok(Json(enrolment(&user)?))
}

pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
) -> Result<Json<Vec<UserView>>, ApiError> {
    caller.require(Action::ManageUsers)?;
    let store = state.app.store.clone();
    let users = blocking(move || store.users()).await?;
    Ok(Json(users.iter().map(view).collect()))
}

/// Changes an account with `change`, audits it, and ends its sessions.
async fn change(
    state: &ApiState,
    caller: &Caller,
    id: String,
    what: &'static str,
    change: impl FnOnce(&mut User) + Send + 'static,
) -> Result<User, ApiError> {
    caller.require(Action::ManageUsers)?;
    let now = state.now();
    let store = state.app.store.clone();
    let actor = caller.actor.clone();
    let user = blocking(move || -> Result<User, ApiError> {
        let mut user = store
            .user(&id)?
            .ok_or_else(|| ApiError::not_found(format!("no account {id}")))?;
        change(&mut user);
        user.epoch += 1;
        let mut b = Batch::new();
        b.audit(
            Event::new(EventKind::UserChanged, &actor, "administration")
                .details(json!({ "user": user.id, "change": what, "roles": user.roles })),
        );
        b.user(user.clone());
        store.commit(b, now)?;
        Ok(user)
    })
    .await?;
    durable(state).await?;
    state.sessions.end_all(&user.id);
    Ok(user)
}

pub async fn disable(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let user = change(&state, &caller, id, "disabled", |u| u.disabled = true).await?;
    Ok(Json(view(&user)))
}

pub async fn reset_totp(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Enrolment>, ApiError> {
    let secret = totp::new_secret();
    let user = change(&state, &caller, id, "totp reset", move |u| {
        u.totp_secret = secret;
        u.totp_last_step = None;
    })
    .await?;
    Ok(Json(enrolment(&user)?))
}

pub async fn set_roles(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<UserView>, ApiError> {
    let input: Roles = json_body(&body, "{\"roles\": [...]}")?;
    check_roles(&input.roles)?;
    let user = change(&state, &caller, id, "roles", move |u| u.roles = input.roles).await?;
    Ok(Json(view(&user)))
}

/// The longest a personal token may live.
const MAX_TOKEN_DAYS: u32 = 365;

/// A new personal API token for `id`, shown once: for an administrator, or the person
/// themself (signed in, or on the server's socket; a token does not make tokens, so a
/// stolen one cannot outlive its expiry). It stops working when it expires, or when the
/// account is disabled.
pub async fn token(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<NewToken>, ApiError> {
    let own = caller.person.user == id && caller.via != Via::Token;
    if !own {
        caller.require(Action::ManageUsers)?;
    }
    let input: TokenRequest = if body.is_empty() {
        TokenRequest { days: None }
    } else {
        json_body(&body, "{\"days\": N}")?
    };
    let days = input.days.unwrap_or(90);
    if !(1..=MAX_TOKEN_DAYS).contains(&days) {
        return Err(ApiError::unprocessable(format!(
            "a token lives 1 to {MAX_TOKEN_DAYS} days"
        )));
    }
    let secret = format!("mt_{}", crate::identity::sessions::token());
    let now = state.now();
    let expires = now + jiff::SignedDuration::from_hours(24 * i64::from(days));
    let record = ApiToken {
        sha256: crate::identity::sessions::digest(&secret),
        created: now,
        expires,
    };
    let store = state.app.store.clone();
    let actor = caller.actor.clone();
    blocking(move || -> Result<(), ApiError> {
        let mut user = store
            .user(&id)?
            .ok_or_else(|| ApiError::not_found(format!("no account {id}")))?;
        // Expired tokens are dropped whenever a new one is made.
        user.tokens.retain(|t| t.expires > now);
        user.tokens.push(record);
        let mut b = Batch::new();
        b.audit(
            Event::new(EventKind::UserChanged, &actor, "administration")
                .details(json!({ "user": user.id, "change": "api token", "expires": expires })),
        );
        b.user(user);
        store.commit(b, now)?;
        Ok(())
    })
    .await?;
    durable(&state).await?;
    Ok(Json(NewToken {
        token: secret,
        expires,
    }))
}
