//! Built-in accounts, for an administrator: add, list, disable, reset, set the roles; and a
//! person's own API token. An administrator never sets a password or sees a TOTP secret: a
//! new or reset account gets a one-time enrolment link at which the person chooses their
//! own (`web::enrol`). Every change is audited, made by compare-and-swap, told to the
//! account's owner by a neutral notice, and ends the account's sessions.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use jiff::Timestamp;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::{ApiToken, User};
use modtag_storage::store::Batch;
use modtag_storage::Taken;
use serde_json::json;

use super::auth::{Caller, Via};
use super::error::{json_body, ApiError};
use super::state::ApiState;
use super::types::{Enrolment, NewToken, NewUser, Roles, TokenRequest, UserView};
use crate::access::{Action, SYSTEM_ROLES};
use crate::app::blocking;
use crate::identity::{enrolment, new_account};

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

/// The enrolment link of `token` for `user`, for the administrator to give the person.
fn link(state: &ApiState, user: &User, token: &str) -> Enrolment {
    let desk = state.app.policy.cfg().config.http.desk_url();
    Enrolment {
        id: user.id.clone(),
        enrolment_url: enrolment::url(&desk, token),
        expires: user.enrolment.as_ref().map_or(state.now(), |e| e.expires),
    }
}

pub async fn add(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Enrolment>, ApiError> {
    caller.require(Action::ManageUsers)?;
    let input: NewUser = json_body(
        &body,
        "{\"id\", \"email\", \"roles\": [...]} (no password: the person chooses it at the \
         enrolment link)",
    )?;
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
    let address = input.email.len() <= 254
        && input.email.matches('@').count() == 1
        && !input.email.starts_with('@')
        && !input.email.ends_with('@')
        && !input
            .email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control());
    if !address {
        return Err(ApiError::unprocessable(
            "email must be one e-mail address, without spaces",
        ));
    }
    check_roles(&input.roles)?;
    // A desk's account is a person of the directory (it says who they are and which roles
    // they may have); only the system roles belong to no one there.
    let system_only = input
        .roles
        .iter()
        .all(|r| SYSTEM_ROLES.contains(&r.as_str()));
    let known = state
        .app
        .policy
        .cfg()
        .directory
        .roles_of_email(&input.email)
        .is_some();
    if !system_only && !known {
        return Err(ApiError::unprocessable(
            "no person or member of staff in the directory has that e-mail: an account for the \
             desk is a person of the directory (add them there first); only admin and auditor \
             accounts need not be",
        ));
    }
    let now = state.now();
    let actor = caller.actor.clone();
    let cfg = state.app.policy.cfg();
    let (user, token) = state
        .app
        .change(move |store| -> Result<(User, String), ApiError> {
            let mut user = new_account(input.id, input.email, input.roles, String::new(), now);
            let token = enrolment::begin(&mut user, now);
            let mut b = Batch::new();
            b.audit(
                Event::new(EventKind::UserAdded, &actor, "administration")
                    .details(json!({ "user": user.id, "roles": user.roles, "enrolment": true })),
            );
            b.outbox(notice(store, &cfg, &user, AccountChange::Created, now)?);
            match store.add_user(user.clone(), b, now)? {
                Ok(()) => Ok((user, token)),
                Err(Taken::Id) => Err(ApiError::conflict(format!(
                    "there is already an account {}",
                    user.id
                ))),
                Err(Taken::Email) => Err(ApiError::conflict(
                    "another account has that e-mail: an e-mail belongs to one account only",
                )),
            }
        })
        .await?;
    Ok(Json(link(&state, &user, &token)))
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

/// An administrator's change to an account: `change` is applied to the account as stored
/// (compare-and-swap: a change made meanwhile is never undone), audited, its owner told by
/// a neutral notice, and its sessions ended. `change` returns the answer.
async fn change<T: Send + 'static>(
    state: &ApiState,
    caller: &Caller,
    id: String,
    what: AccountChange,
    mut change: impl FnMut(&mut User, Timestamp) -> T + Send + 'static,
) -> Result<(User, T), ApiError> {
    caller.require(Action::ManageUsers)?;
    let now = state.now();
    let cfg = state.app.policy.cfg();
    let actor = caller.actor.clone();
    let changed = state
        .app
        .change(move |store| {
            store.change_user(&id, now, |user, b| -> Result<(User, T), ApiError> {
                let mut user =
                    user.ok_or_else(|| ApiError::not_found(format!("no account {id}")))?;
                let answer = change(&mut user, now);
                user.epoch += 1;
                b.audit(
                    Event::new(EventKind::UserChanged, &actor, "administration").details(
                        json!({ "user": user.id, "change": what.name(), "roles": user.roles }),
                    ),
                );
                b.outbox(notice(store, &cfg, &user, what, now)?);
                b.user(user.clone());
                Ok((user, answer))
            })
        })
        .await?;
    state.sessions.end_all(&changed.0.id);
    Ok(changed)
}

/// What an administrator (or the person, for a token) changed on an account: its owner is
/// told which, in words that say nothing else.
#[derive(Debug, Clone, Copy)]
pub enum AccountChange {
    Disabled,
    Roles,
    Reset,
    Token,
    Password,
    /// Made: the person learns an account exists before anyone can use its link.
    Created,
    /// The enrolment link was used: someone else using it does not go unnoticed.
    Enrolled,
}

impl AccountChange {
    /// As the audit log names it.
    fn name(self) -> &'static str {
        match self {
            AccountChange::Disabled => "disabled",
            AccountChange::Roles => "roles",
            AccountChange::Reset => "reset",
            AccountChange::Token => "api token",
            AccountChange::Password => "password",
            AccountChange::Created => "created",
            AccountChange::Enrolled => "enrolled",
        }
    }

    fn words(self) -> &'static str {
        match self {
            AccountChange::Disabled => "Din konto i modtag er deaktiveret.",
            AccountChange::Roles => "Dine roller i modtag er ændret.",
            AccountChange::Reset => {
                "Din konto i modtag er nulstillet: din adgangskode, din engangskode og dine \
                 API-nøgler virker ikke længere. IT-afdelingen giver dig et nyt \
                 tilmeldingslink."
            }
            AccountChange::Token => {
                "Der er lavet en ny personlig API-nøgle til din konto i modtag."
            }
            AccountChange::Password => "Adgangskoden til din konto i modtag er skiftet.",
            AccountChange::Created => {
                "Der er oprettet en konto til dig i modtag. Kommunens IT-afdeling giver dig et \
                 tilmeldingslink, som kun du må bruge: du vælger selv din adgangskode og sætter \
                 engangskoden op."
            }
            AccountChange::Enrolled => {
                "Din konto i modtag er taget i brug: der er valgt adgangskode og sat \
                 engangskode op. Var det ikke dig, har en anden dit link."
            }
        }
    }
}

/// The neutral notice of `what` to the account's owner: what changed and when, nothing
/// else (it goes as plain mail).
pub fn notice(
    store: &modtag_storage::Store,
    cfg: &modtag_config::Loaded,
    user: &User,
    what: AccountChange,
    now: Timestamp,
) -> Result<modtag_storage::records::OutboxEntry, modtag_storage::StoreError> {
    let body = format!(
        "{}\n\nTidspunkt: {}\n\nVentede du ikke denne ændring, så kontakt straks kommunens \
         IT-afdeling.\n\nMailen er sendt automatisk af modtag. Svar ikke på den.\n",
        what.words(),
        modtag_router::deadline::local(now)
    );
    crate::delivery::compose::plain_entry(
        store,
        cfg,
        "konto",
        crate::delivery::compose::PlainTo {
            role: "account",
            person: &user.id,
            email: &user.email,
        },
        "Din konto i modtag er ændret",
        &body,
        now,
    )
}

pub async fn disable(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let (user, ()) = change(&state, &caller, id, AccountChange::Disabled, |u, _| {
        u.disabled = true
    })
    .await?;
    Ok(Json(view(&user)))
}

/// A new enrolment for a lost phone or a forgotten password: the password, the TOTP secret
/// and the tokens stop working at once, and the person chooses new ones at the link.
pub async fn reset(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Enrolment>, ApiError> {
    let (user, token) = change(&state, &caller, id, AccountChange::Reset, |u, now| {
        enrolment::begin(u, now)
    })
    .await?;
    Ok(Json(link(&state, &user, &token)))
}

pub async fn set_roles(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<UserView>, ApiError> {
    let input: Roles = json_body(&body, "{\"roles\": [...]}")?;
    check_roles(&input.roles)?;
    let (user, ()) = change(&state, &caller, id, AccountChange::Roles, move |u, _| {
        u.roles = input.roles.clone()
    })
    .await?;
    Ok(Json(view(&user)))
}

/// The longest a personal token may live.
const MAX_TOKEN_DAYS: u32 = 365;

/// A new personal API token, shown once, for the person themself only (signed in, or on the
/// server's socket): an administrator cannot make one for someone else, and a token does not
/// make tokens, so a stolen one cannot outlive its expiry. It stops working when it expires,
/// or when the account is disabled or reset. Its owner is told.
pub async fn token(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<NewToken>, ApiError> {
    new_token(state, caller, id, body).await
}

/// `POST /api/v1/token`: a token for the caller's own account.
pub async fn own_token(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<NewToken>, ApiError> {
    let id = caller.person.user.clone();
    new_token(state, caller, id, body).await
}

async fn new_token(
    state: Arc<ApiState>,
    caller: Caller,
    id: String,
    body: axum::body::Bytes,
) -> Result<Json<NewToken>, ApiError> {
    if caller.person.user != id || caller.via == Via::Token {
        return Err(ApiError::Refused(
            axum::http::StatusCode::FORBIDDEN,
            "a personal token is made by its own person, signed in or on the server's socket: \
             no one makes one for another account"
                .into(),
        ));
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
    let cfg = state.app.policy.cfg();
    let actor = caller.actor.clone();
    state
        .app
        .change(move |store| {
            store.change_user(&id, now, |user, b| -> Result<(), ApiError> {
                let mut user =
                    user.ok_or_else(|| ApiError::not_found(format!("no account {id}")))?;
                // Expired tokens are dropped whenever a new one is made.
                user.tokens.retain(|t| t.expires > now);
                user.tokens.push(record.clone());
                b.audit(
                    Event::new(EventKind::UserChanged, &actor, "administration").details(
                        json!({ "user": user.id, "change": "api token", "expires": expires }),
                    ),
                );
                b.outbox(notice(store, &cfg, &user, AccountChange::Token, now)?);
                b.user(user);
                Ok(())
            })
        })
        .await?;
    Ok(Json(NewToken {
        token: secret,
        expires,
    }))
}
