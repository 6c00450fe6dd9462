//! Who is calling: the bearer token, the caller's address behind trusted proxies, and the
//! lockout after repeated failed logins. Every failure is audited.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use modtag_storage::audit::{Event, EventKind};
use serde_json::json;

use super::error::ApiError;
use super::lockout::{client_address, LoginGuard};
use super::state::{audit, ApiState};

/// Who is calling, established from the token and the actor headers.
pub struct Caller {
    pub actor: String,
    pub purpose: Option<String>,
}

impl Caller {
    /// The purpose the caller gave, or the action's default, for the audit log.
    pub fn purpose_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.purpose.as_deref().unwrap_or(default)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<Arc<ApiState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ApiState>,
    ) -> Result<Self, ApiError> {
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
        let peer = client_address(
            peer,
            &forwarded.join(","),
            &state.app.policy.current().cfg.config.http.trusted_proxies,
        );
        if let Some(wait_secs) = state.logins.locked(peer, Instant::now()) {
            return Err(ApiError::Throttled { wait_secs });
        }
        let token = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let expected = state.app.store.keys().api_token.as_bytes();
        if !token.is_some_and(|t| constant_time_eq(t.as_bytes(), expected)) {
            tracing::warn!(path = %parts.uri.path(), "API request with a missing or wrong token");
            // A failed login is an audit event (the path only: a URL carries no personal data).
            let event =
                Event::new(EventKind::LoginFailed, "unknown", "authentication").details(json!({
                    "method": parts.method.as_str(),
                    "path": parts.uri.path(),
                    "token_given": token.is_some(),
                }));
            audit(state, event).await?;
            if state.logins.failed(peer, Instant::now()) {
                tracing::warn!(%peer, "API logins from this address throttled");
                let event = Event::new(EventKind::LoginThrottled, "unknown", "authentication")
                    .details(json!({
                        "peer": peer.to_string(),
                        "failures": LoginGuard::MAX_FAILURES,
                        "seconds": LoginGuard::WINDOW.as_secs(),
                    }));
                audit(state, event).await?;
            }
            return Err(ApiError::Refused(
                StatusCode::UNAUTHORIZED,
                "missing or wrong bearer token (see the api-token file in the data directory)"
                    .into(),
            ));
        }
        state.logins.succeeded(peer);
        // Names and purposes are Danish: read the header as UTF-8 (`to_str` takes ASCII
        // only, and every "Søren" became the token's default actor).
        let header = |h: &HeaderMap, name: &str| {
            h.get(name)
                .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
                .map(|s| {
                    s.chars()
                        .filter(|c| !c.is_control())
                        .take(100)
                        .collect::<String>()
                })
                .filter(|s| !s.trim().is_empty())
        };
        Ok(Caller {
            actor: header(&parts.headers, "x-modtag-actor").unwrap_or_else(|| "admin-token".into()),
            purpose: header(&parts.headers, "x-modtag-purpose"),
        })
    }
}
