//! Who is calling: a session, the socket's operating-system user or a personal token; the
//! caller's address behind trusted proxies, and the lockout after repeated failed logins.
//! Every failure is audited.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use modtag_storage::audit::{Event, EventKind};
use serde_json::json;

use super::error::ApiError;
use super::lockout::{client_address, LoginGuard};
use super::server::LocalPeer;
use super::state::{audit, ApiState};
use crate::access::view::View;
use crate::access::{self, Action, Person};
use crate::identity::sessions::Session;
use crate::identity::{constant_time_eq, local};
use modtag_storage::records::Item;

/// Who is calling: always a person, known one of three ways (a session cookie from the
/// sign-in, the operating-system user on the data directory's socket, or a personal API
/// token). The audit log's actor is that person's account, never a name the caller gives.
pub struct Caller {
    pub actor: String,
    pub purpose: Option<String>,
    /// The signed-in person's session (the browser); `None` for the socket and tokens.
    pub session: Option<Session>,
    /// Who the person is for need-to-know.
    pub person: Person,
    /// How the person was known.
    pub via: Via,
}

/// How a caller was known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Session,
    Socket,
    Token,
}

impl Caller {
    /// The purpose the caller gave, or the action's default, for the audit log.
    pub fn purpose_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.purpose.as_deref().unwrap_or(default)
    }

    /// Refuses (403) unless the caller's roles allow `action`.
    pub fn require(&self, action: Action) -> Result<(), ApiError> {
        if access::may(&self.person, action) {
            return Ok(());
        }
        Err(ApiError::Refused(
            StatusCode::FORBIDDEN,
            format!(
                "this needs one of the roles {}",
                access::roles_for(action).join(", ")
            ),
        ))
    }

    /// What the caller may see of `item` ([`access::view::view`]), if anything.
    pub fn view(&self, item: &Item) -> Option<View> {
        access::view::view(&self.person, item)
    }

    /// What the caller may see of `item`, or 404 with the same answer as for no such intake:
    /// a reference is not a way to learn which intakes exist.
    pub fn require_view(&self, item: Item) -> Result<View, ApiError> {
        self.view(&item)
            .ok_or_else(|| ApiError::no_intake(&item.reference))
    }

    /// Refuses (403) unless the caller works `item`'s desk (decides, corrects, closes).
    pub fn require_work(&self, item: &Item) -> Result<(), ApiError> {
        require_work(&self.person, item)
    }
}

/// Refuses unless `person` works `item`'s desk: 404, as for no such intake, to someone with
/// no reason to see it at all (a reference is not a way to learn which intakes exist); 403
/// to a recipient, who may read what was sent to them.
pub fn require_work(person: &Person, item: &Item) -> Result<(), ApiError> {
    Ok(crate::workflow::change::works(person, item)?)
}

/// The session cookie's name: `__Host-` prefixed whenever browsers reach modtag over HTTPS
/// (issue 25), so a browser takes it only from this host, over TLS, for the whole site: a
/// sibling domain cannot plant one.
pub fn session_cookie(state: &ApiState) -> &'static str {
    if state.app.policy.cfg().config.http.plain_loopback() {
        "modtag_session"
    } else {
        "__Host-modtag_session"
    }
}

/// The session token a request carries, if any. Two session cookies are refused rather
/// than one picked: a second one is planted (a sibling domain's, a path's), and reading
/// either could sign a person in as someone else.
pub fn session_token<'a>(
    headers: &'a HeaderMap,
    state: &ApiState,
) -> Result<Option<&'a str>, ApiError> {
    let name = session_cookie(state);
    let mut all = cookies(headers, name);
    let first = all.next();
    if all.next().is_some() {
        return Err(ApiError::bad_request(
            "the request carries two session cookies: sign out, clear this site's cookies and sign in again",
        ));
    }
    Ok(first)
}

fn cookies<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |c| c.trim().strip_prefix(name)?.strip_prefix('='))
}

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &'a str) -> Option<&'a str> {
    cookies(headers, name).next()
}

/// The address a request is counted under for lockouts (see [`client_address`]).
pub fn client_of(parts: &Parts, state: &ApiState) -> IpAddr {
    client_behind(
        parts,
        &state.app.policy.current().cfg.config.http.trusted_proxies,
    )
}

/// The client of a request: its peer, or the address a proxy in `trusted` names in
/// `X-Forwarded-For` (for the desk's lockout and the public forms' rate limits alike).
pub fn client_behind(parts: &Parts, trusted: &[modtag_config::model::Cidr]) -> IpAddr {
    // Without a peer address (never, when served by the daemon) all callers share one.
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let forwarded: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    client_address(peer, &forwarded.join(","), trusted)
}

/// A header as UTF-8 text without control characters (names and purposes are Danish:
/// `to_str` takes ASCII only, and every "Søren" became the default).
fn header_text(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
        .map(|s| {
            s.chars()
                .filter(|c| !c.is_control())
                .take(100)
                .collect::<String>()
        })
        .filter(|s| !s.trim().is_empty())
}

impl FromRequestParts<Arc<ApiState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ApiState>,
    ) -> Result<Self, ApiError> {
        let purpose = header_text(&parts.headers, "x-modtag-purpose");
        if let Some(token) = session_token(&parts.headers, state)? {
            return signed_in(parts, state, token, purpose).await;
        }
        if let Some(local) = parts.extensions.get::<LocalPeer>().copied() {
            return on_socket(parts, state, local, purpose).await;
        }
        let peer = client_of(parts, state);
        // The lockout holds back those who try to authenticate, not people already signed
        // in: staff behind one proxy share an address with whoever guesses.
        if let Some(wait_secs) = state.logins.locked(peer, Instant::now()) {
            return Err(ApiError::Throttled { wait_secs });
        }
        let token = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if let Some(t) = token.filter(|t| t.starts_with("mt_")) {
            if let Some(person) = personal_token(state, t).await? {
                state.logins.succeeded(peer);
                return Ok(Caller {
                    actor: person.user.clone(),
                    purpose,
                    session: None,
                    person,
                    via: Via::Token,
                });
            }
        }
        tracing::warn!(path = %parts.uri.path(), "API request with a missing or wrong token");
        // A failed login is an audit event (the path only: a URL carries no personal data),
        // once per burst from an address: a client cannot grow the log a request at a time.
        let burst = state.attempts.failed("(api token)", peer, state.now());
        if burst.audit {
            let event =
                Event::new(EventKind::LoginFailed, "unknown", "authentication").details(json!({
                    "method": parts.method.as_str(),
                    "path": parts.uri.path(),
                    "token_given": token.is_some(),
                    "failures": burst.count,
                }));
            audit(state, event).await?;
        }
        // Only a wrong token is a guess that counts towards the address's lockout: a request
        // with none (a page's script, a probe) must not lock colleagues behind the same
        // address out of the sign-in.
        if token.is_some() && state.logins.failed(peer, Instant::now()) {
            audit(state, throttled(peer)).await?;
        }
        Err(ApiError::Refused(
            StatusCode::UNAUTHORIZED,
            "sign in at /login, or send a personal API token (`modtag users token`) as \
             Authorization: Bearer"
                .into(),
        ))
    }
}

/// A person signed in in the browser. Anything but reading must carry the session's CSRF
/// token.
async fn signed_in(
    parts: &Parts,
    state: &ApiState,
    token: &str,
    purpose: Option<String>,
) -> Result<Caller, ApiError> {
    let ended = || {
        ApiError::Refused(
            StatusCode::UNAUTHORIZED,
            "the session has ended; sign in again at /login".into(),
        )
    };
    let Some(session) = state.sessions.touch(token, state.now()) else {
        return Err(ended());
    };
    let reading = matches!(parts.method, Method::GET | Method::HEAD);
    let csrf = parts.headers.get("x-csrf-token").map(|v| v.as_bytes());
    if !reading && !csrf.is_some_and(|c| constant_time_eq(c, session.csrf.as_bytes())) {
        return Err(ApiError::Refused(
            StatusCode::FORBIDDEN,
            "a change needs the session's CSRF token in X-CSRF-Token".into(),
        ));
    }
    let Some(person) = live_person(state, &session.user, Some(session.epoch)).await? else {
        state.sessions.end(token);
        return Err(ended());
    };
    Ok(Caller {
        actor: session.user.clone(),
        purpose,
        session: Some(session),
        person,
        via: Via::Session,
    })
}

/// The CLI on the server: the operating-system user the kernel names, as the account
/// `[cli] accounts` maps it to. No browser reaches the socket, so no CSRF token is needed.
async fn on_socket(
    parts: &Parts,
    state: &ApiState,
    local: LocalPeer,
    purpose: Option<String>,
) -> Result<Caller, ApiError> {
    let name = local::os_user_name(local.uid);
    let accounts = state.app.policy.cfg().config.cli.accounts.clone();
    let account = local::account_for(local.uid, name.as_deref(), local::serving_uid(), &accounts);
    let person = match account {
        Some(id) => live_person(state, id, None).await?,
        None => None,
    };
    if let Some(person) = person {
        return Ok(Caller {
            actor: person.user.clone(),
            purpose,
            session: None,
            person,
            via: Via::Socket,
        });
    }
    let who = name.unwrap_or_else(|| format!("uid {}", local.uid));
    // Once per burst: a script of an unmapped user must not grow the audit log per call.
    let burst = state.attempts.failed(
        &format!("(socket uid {})", local.uid),
        std::net::IpAddr::from([127, 0, 0, 1]),
        state.now(),
    );
    if burst.audit {
        let event =
            Event::new(EventKind::LoginFailed, "unknown", "authentication").details(json!({
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "os_user": who,
                "account": account,
                "failures": burst.count,
            }));
        audit(state, event).await?;
    }
    Err(ApiError::Refused(
        StatusCode::FORBIDDEN,
        match account {
            None => format!(
                "the operating-system user {who} may not use modtag here: map it to an account \
                 in the configuration's [cli] accounts, or use a personal token"
            ),
            Some(id) => format!(
                "the operating-system user {who} acts as account {id:?}, which does not exist \
                 or is disabled"
            ),
        },
    ))
}

/// The person of account `id` if it exists, is not disabled and (for a session) has not
/// changed since the session began.
/// The person behind a live session in `headers`, for what a page shows around itself (the
/// frame's name and links): no CSRF check, and nothing changes but the session's last use.
pub async fn session_person(headers: &HeaderMap, state: &ApiState) -> Option<(Session, Person)> {
    let token = session_token(headers, state).ok().flatten()?;
    let session = state.sessions.touch(token, state.now())?;
    let person = live_person(state, &session.user, Some(session.epoch))
        .await
        .ok()
        .flatten()?;
    Some((session, person))
}

async fn live_person(
    state: &ApiState,
    id: &str,
    epoch: Option<u64>,
) -> Result<Option<Person>, ApiError> {
    let store = state.app.store.clone();
    let key = id.to_string();
    let user = crate::app::blocking(move || store.user(&key)).await?;
    Ok(user
        .filter(|u| !u.disabled && epoch.is_none_or(|e| e == u.epoch))
        .map(|u| Person::of(&u.id, &u.email, &u.roles, &state.app.policy.cfg().directory)))
}

/// The audit entry for an address that is now locked out.
pub fn throttled(peer: IpAddr) -> Event {
    tracing::warn!(%peer, "logins from this address throttled");
    Event::new(EventKind::LoginThrottled, "unknown", "authentication").details(json!({
        "peer": peer.to_string(),
        "failures": LoginGuard::MAX_FAILURES,
        "seconds": LoginGuard::WINDOW.as_secs(),
    }))
}

/// The person whose live personal token `token` is (not expired, account not disabled).
async fn personal_token(state: &ApiState, token: &str) -> Result<Option<Person>, ApiError> {
    let digest = crate::identity::sessions::digest(token);
    let now = state.now();
    let store = state.app.store.clone();
    let user = crate::app::blocking(move || store.users())
        .await?
        .into_iter()
        .find(|u| holds_token(u, &digest, now));
    Ok(user.map(|u| Person::of(&u.id, &u.email, &u.roles, &state.app.policy.cfg().directory)))
}

/// Whether `user` may act with the token whose SHA-256 is `digest` at `now`: it is theirs,
/// not expired, and the account is not disabled.
fn holds_token(user: &modtag_storage::records::User, digest: &str, now: jiff::Timestamp) -> bool {
    !user.disabled
        && user
            .tokens
            .iter()
            .any(|t| t.expires > now && constant_time_eq(t.sha256.as_bytes(), digest.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use modtag_storage::records::{ApiToken, User};

    #[test]
    fn a_personal_token_works_until_it_expires_or_its_account_is_disabled() {
        let t0: jiff::Timestamp = "2026-11-30T08:00:00Z".parse().unwrap();
        let digest = crate::identity::sessions::digest("mt_abc");
        let mut user = User {
            id: "lene.holm".into(),
            email: "lene.holm@kommune.localhost".into(),
            roles: vec!["modtagelsen_leder".into()],
            password: String::new(),
            totp_secret: String::new(),
            totp_last_step: None,
            disabled: false,
            created: t0,
            epoch: 0,
            tokens: vec![ApiToken {
                sha256: digest.clone(),
                created: t0,
                expires: t0 + jiff::SignedDuration::from_hours(24),
            }],
            enrolment: None,
        };
        assert!(holds_token(&user, &digest, t0));
        let other = crate::identity::sessions::digest("mt_abd");
        assert!(!holds_token(&user, &other, t0), "another token");
        let later = t0 + jiff::SignedDuration::from_hours(25);
        assert!(!holds_token(&user, &digest, later), "expired");
        user.disabled = true;
        assert!(!holds_token(&user, &digest, t0), "disabled");
    }
}
