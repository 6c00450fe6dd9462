//! The login lockout: failed logins counted per client address (behind trusted proxies, the
//! address they name), and a temporary lock after too many.

use std::net::IpAddr;
use std::time::{Duration, Instant};

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
        let addr = bucket(addr);
        let map = self.map();
        let f = map.get(&addr)?;
        let left = Self::WINDOW
            .checked_sub(now.duration_since(f.first))
            .filter(|left| !left.is_zero())?;
        (f.count >= Self::MAX_FAILURES).then(|| left.as_secs().max(1))
    }

    /// Counts a sign-in attempt before its password is checked, so that many at once cannot
    /// all get past the limit while none has failed yet: `Err(seconds)` while `addr` is
    /// locked out (nothing is counted); `Ok(true)` when this attempt is the one that, if it
    /// fails, locks the address out. A success forgets the count ([`LoginGuard::succeeded`]).
    pub fn attempt(&self, addr: IpAddr, now: Instant) -> Result<bool, u64> {
        if let Some(wait) = self.locked(addr, now) {
            return Err(wait);
        }
        Ok(self.failed(addr, now))
    }

    /// Counts a failure; true when it is the one that locks `addr` out.
    pub fn failed(&self, addr: IpAddr, now: Instant) -> bool {
        let addr = bucket(addr);
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
        self.map().remove(&bucket(addr));
    }
}

/// What a client is counted as: an IPv4 address, or an IPv6 address's /64, the prefix a
/// single host or household is given (one client may use any address in it).
pub fn bucket(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
        v4 => v4,
    }
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
    fn an_ipv6_client_is_counted_by_its_64() {
        let g = LoginGuard::default();
        let t0 = Instant::now();
        for i in 1..=LoginGuard::MAX_FAILURES {
            let a: IpAddr = format!("2001:db8:1:2::{i:x}").parse().unwrap();
            assert_eq!(g.attempt(a, t0), Ok(i == LoginGuard::MAX_FAILURES));
        }
        let next: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        assert!(g.attempt(next, t0).is_err(), "the same /64 is locked out");
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(g.attempt(other, t0), Ok(false), "another /64 is not");
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(bucket(mapped), IpAddr::from([192, 0, 2, 1]));
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
