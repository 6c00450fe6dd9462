//! Who is calling: the bearer token, the caller's address behind trusted proxies, and the
//! lockout after repeated failed logins. Every failure is audited.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use modtag_storage::audit::{Event, EventKind};
use serde_json::json;

use super::error::ApiError;
use super::state::{audit, ApiState};

/// Failed logins per client address, like Postfix's anvil: after [`LoginGuard::MAX_FAILURES`]
/// wrong or missing tokens within [`LoginGuard::WINDOW`], the address gets `429` until that
/// window has passed, without its token being checked or each refusal audited. Guessing the
/// token stays slow, and a client cannot grow the audit log without bound (one
/// `login_throttled` entry per lockout).
#[derive(Default)]
pub struct LoginGuard {
    by_addr: std::sync::Mutex<std::collections::HashMap<IpAddr, Failures>>,
}

struct Failures {
    first: Instant,
    count: u32,
}

impl LoginGuard {
    pub const MAX_FAILURES: u32 = 10;
    pub const WINDOW: Duration = Duration::from_secs(60);
    /// Addresses remembered at most; expired ones are forgotten first.
    const MAX_TRACKED: usize = 10_000;

    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<IpAddr, Failures>> {
        self.by_addr.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds `addr` must wait while it is locked out.
    pub fn locked(&self, addr: IpAddr, now: Instant) -> Option<u64> {
        let map = self.map();
        let f = map.get(&addr)?;
        let left = Self::WINDOW
            .checked_sub(now.duration_since(f.first))
            .filter(|left| !left.is_zero())?;
        (f.count >= Self::MAX_FAILURES).then(|| left.as_secs().max(1))
    }

    /// Counts a failure; true when it is the one that locks `addr` out.
    pub fn failed(&self, addr: IpAddr, now: Instant) -> bool {
        let mut map = self.map();
        if map.len() >= Self::MAX_TRACKED {
            map.retain(|_, f| now.duration_since(f.first) < Self::WINDOW);
        }
        if map.len() >= Self::MAX_TRACKED && !map.contains_key(&addr) {
            // Still full of live entries (a spread-out attack): forget the oldest.
            if let Some(oldest) = map.iter().min_by_key(|(_, f)| f.first).map(|(a, _)| *a) {
                map.remove(&oldest);
            }
        }
        let f = map.entry(addr).or_insert(Failures {
            first: now,
            count: 0,
        });
        if now.duration_since(f.first) >= Self::WINDOW {
            *f = Failures {
                first: now,
                count: 0,
            };
        }
        f.count += 1;
        f.count == Self::MAX_FAILURES
    }

    pub fn succeeded(&self, addr: IpAddr) {
        self.map().remove(&addr);
    }
}
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

/// The address a request is counted under for the login lockout: the peer itself, or, for a
/// request from a trusted reverse proxy, the nearest address in `X-Forwarded-For` that is
/// not a trusted proxy too (proxies append, so everything left of that came from the client
/// and is not believed).
pub fn client_address(
    peer: IpAddr,
    forwarded_for: &str,
    trusted: &[modtag_config::model::Cidr],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    let mut client = peer;
    if !is_trusted(peer) {
        return client;
    }
    for hop in forwarded_for
        .rsplit(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
    {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_behind_a_trusted_proxy_is_the_nearest_untrusted_hop() {
        let trusted: Vec<modtag_config::model::Cidr> = vec![
            "127.0.0.1/32".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxy = ip("127.0.0.1");
        // Without trusted proxies, or from anyone else, the header is ignored.
        assert_eq!(client_address(proxy, "203.0.113.7", &[]), proxy);
        assert_eq!(
            client_address(ip("198.51.100.1"), "203.0.113.7", &trusted),
            ip("198.51.100.1")
        );
        // Through the proxy: the address it appended.
        assert_eq!(
            client_address(proxy, "203.0.113.7", &trusted),
            ip("203.0.113.7")
        );
        // A client that sends its own header cannot choose: the proxy's hop is the last one.
        assert_eq!(
            client_address(proxy, "1.2.3.4, 203.0.113.7", &trusted),
            ip("203.0.113.7")
        );
        // Through two trusted proxies.
        assert_eq!(
            client_address(proxy, "203.0.113.7, 10.1.2.3", &trusted),
            ip("203.0.113.7")
        );
        // No header, or garbage from the proxy: the nearest trusted address counts.
        assert_eq!(client_address(proxy, "", &trusted), proxy);
        assert_eq!(client_address(proxy, "unknown", &trusted), proxy);
        assert_eq!(
            client_address(proxy, "2001:db8::1", &trusted),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn failed_logins_lock_out_one_address_for_a_window() {
        let g = LoginGuard::default();
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t0 = Instant::now();
        for _ in 1..LoginGuard::MAX_FAILURES {
            assert!(!g.failed(a, t0));
            assert_eq!(g.locked(a, t0), None);
        }
        assert!(g.failed(a, t0), "the tenth failure locks the address out");
        assert_eq!(g.locked(a, t0 + Duration::from_secs(15)), Some(45));
        assert_eq!(g.locked(b, t0), None, "other addresses are not affected");
        assert_eq!(
            g.locked(a, t0 + LoginGuard::WINDOW),
            None,
            "over after the window"
        );
        // After the window, counting starts afresh.
        assert!(!g.failed(a, t0 + LoginGuard::WINDOW));
        assert_eq!(g.locked(a, t0 + LoginGuard::WINDOW), None);
        // A successful login forgets the failures before it.
        for _ in 1..LoginGuard::MAX_FAILURES {
            g.failed(b, t0);
        }
        g.succeeded(b);
        assert!(!g.failed(b, t0));
        assert_eq!(g.locked(b, t0), None);
    }
}
