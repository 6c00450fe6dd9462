//! Limits that protect the listener from one client: concurrent sessions (in all and per
//! client address) and a per-client message rate.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Counts open sessions; a [`Slot`] frees its place when dropped.
pub struct Sessions {
    max: usize,
    per_client: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

pub struct Slot {
    sessions: Arc<Sessions>,
    ip: IpAddr,
}

impl Sessions {
    pub fn new(max: usize, per_client: usize) -> Arc<Sessions> {
        Arc::new(Sessions {
            max,
            per_client,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// A place for a new session from `ip`, or `None` when a limit is reached.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().unwrap();
        let from_ip = open.1.get(&ip).copied().unwrap_or(0);
        if open.0 >= self.max || from_ip >= self.per_client {
            return None;
        }
        open.0 += 1;
        open.1.insert(ip, from_ip + 1);
        Some(Slot {
            sessions: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.sessions.open.lock().unwrap();
        open.0 -= 1;
        if let Some(n) = open.1.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.ip);
            }
        }
    }
}

/// A token bucket per client address: `per_minute` messages, refilled continuously.
pub struct RateLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

/// Beyond this many tracked addresses, full buckets are forgotten (they carry no state).
const MAX_TRACKED: usize = 10_000;

impl RateLimiter {
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute: per_minute as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one message from `ip`'s bucket at `now`; false when it is empty.
    pub fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap();
        if buckets.len() > MAX_TRACKED {
            let (cap, rate) = (self.per_minute, self.per_minute / 60.0);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < cap
            });
        }
        let (tokens, at) = buckets.entry(ip).or_insert((self.per_minute, now));
        let refill = now.saturating_duration_since(*at).as_secs_f64() * self.per_minute / 60.0;
        *tokens = (*tokens + refill).min(self.per_minute);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sessions_per_client_and_in_all() {
        let s = Sessions::new(3, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let a1 = s.admit(a).unwrap();
        let _a2 = s.admit(a).unwrap();
        assert!(s.admit(a).is_none(), "third from one client");
        let _b1 = s.admit(b).unwrap();
        assert!(s.admit(b).is_none(), "fourth in all");
        drop(a1);
        assert!(s.admit(b).is_some(), "a freed place is reused");
    }

    #[test]
    fn rate_refills_over_time() {
        let r = RateLimiter::new(60);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        assert!((0..60).all(|_| r.allow(ip, t0)));
        assert!(!r.allow(ip, t0));
        assert!(!r.allow(
            "192.0.2.1".parse().unwrap(),
            t0 + Duration::from_millis(500)
        ));
        assert!(r.allow(ip, t0 + Duration::from_secs(2)));
        assert!(
            r.allow("192.0.2.9".parse().unwrap(), t0),
            "other clients are not affected"
        );
    }
}
