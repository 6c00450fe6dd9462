//! Failed sign-ins, counted per account and client address together: after three failures
//! from one address for one account, each further try from there must wait twice as long
//! as the last (1 s, 2 s, 4 s ... at most 15 minutes). Only that address waits: an attacker
//! cannot lock a member of staff out by failing for their name from elsewhere. (The lockout
//! of an address that fails too often for anyone is `api::lockout`.) A success forgets the
//! failures; a failure is audited once per burst (the first, and the one that starts a wait).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

use crate::api::lockout::bucket;

const FREE: u32 = 3;
const LONGEST: i64 = 15 * 60;
/// Failures older than this are forgotten.
const MEMORY: i64 = 3600;
const MAX_TRACKED: usize = 10_000;

#[derive(Default)]
pub struct Attempts {
    failures: Mutex<HashMap<(String, IpAddr), Failed>>,
}

#[derive(Clone, Copy)]
struct Failed {
    count: u32,
    last: Timestamp,
}

/// What to do with a failure.
#[derive(Debug, PartialEq)]
pub struct Failure {
    /// Write an audit entry for it (the first of a burst, or the one that starts a wait).
    pub audit: bool,
    pub count: u32,
}

impl Attempts {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<(String, IpAddr), Failed>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait_after(count: u32) -> i64 {
        if count < FREE {
            0
        } else {
            (1i64 << (count - FREE).min(20)).min(LONGEST)
        }
    }

    /// Seconds `client` must still wait before trying `account` again.
    pub fn wait(&self, account: &str, client: IpAddr, now: Timestamp) -> Option<u64> {
        let map = self.map();
        Self::wait_in(&map, account, client, now)
    }

    fn wait_in(
        map: &HashMap<(String, IpAddr), Failed>,
        account: &str,
        client: IpAddr,
        now: Timestamp,
    ) -> Option<u64> {
        let f = map.get(&(account.to_string(), bucket(client)))?;
        let until = f.last + SignedDuration::from_secs(Self::wait_after(f.count));
        (until > now).then(|| until.duration_since(now).as_secs().max(1) as u64)
    }

    /// Counts a try before its password is checked, so that many at once cannot all get in
    /// before the first has failed: `Err(seconds)` while `client` must wait (nothing is
    /// counted); otherwise what to do should it fail. A success forgets the count.
    pub fn attempt(&self, account: &str, client: IpAddr, now: Timestamp) -> Result<Failure, u64> {
        let mut map = self.map();
        if let Some(wait) = Self::wait_in(&map, account, client, now) {
            return Err(wait);
        }
        Ok(Self::count(&mut map, account, client, now))
    }

    pub fn failed(&self, account: &str, client: IpAddr, now: Timestamp) -> Failure {
        Self::count(&mut self.map(), account, client, now)
    }

    fn count(
        map: &mut HashMap<(String, IpAddr), Failed>,
        account: &str,
        client: IpAddr,
        now: Timestamp,
    ) -> Failure {
        let client = bucket(client);
        if map.len() >= MAX_TRACKED {
            map.retain(|_, f| now.duration_since(f.last).as_secs() < MEMORY);
        }
        let f = map.entry((account.to_string(), client)).or_insert(Failed {
            count: 0,
            last: now,
        });
        if now.duration_since(f.last).as_secs() >= MEMORY {
            f.count = 0;
        }
        f.count += 1;
        f.last = now;
        Failure {
            audit: f.count == 1 || f.count == FREE,
            count: f.count,
        }
    }

    pub fn succeeded(&self, account: &str, client: IpAddr) {
        self.map().remove(&(account.to_string(), bucket(client)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_for_one_address_and_one_account_only() {
        let a = Attempts::default();
        let t0: Timestamp = "2026-11-30T08:00:00Z".parse().unwrap();
        let (me, other) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        assert!(
            a.failed("lene", me, t0).audit,
            "the first failure is audited"
        );
        assert!(!a.failed("lene", me, t0).audit);
        assert_eq!(a.wait("lene", me, t0), None, "two failures cost nothing");
        assert!(
            a.failed("lene", me, t0).audit,
            "the one that starts a wait is audited"
        );
        assert_eq!(a.wait("lene", me, t0), Some(1));
        a.failed("lene", me, t0);
        a.failed("lene", me, t0);
        assert_eq!(a.wait("lene", me, t0), Some(4));
        assert_eq!(
            a.wait("lene", other, t0),
            None,
            "Lene at her own desk is not locked out"
        );
        assert_eq!(a.wait("bo", me, t0), None);
        for _ in 0..30 {
            a.failed("lene", me, t0);
        }
        assert_eq!(a.wait("lene", me, t0), Some(15 * 60), "at most 15 minutes");
        a.succeeded("lene", me);
        assert_eq!(a.wait("lene", me, t0), None);
    }

    #[test]
    fn tries_are_counted_before_they_are_checked() {
        let a = Attempts::default();
        let t0: Timestamp = "2026-11-30T08:00:00Z".parse().unwrap();
        let me = IpAddr::from([10, 0, 0, 1]);
        // Many at once: only the free tries get through before anyone failed.
        let through = (0..100)
            .filter(|_| a.attempt("lene", me, t0).is_ok())
            .count();
        assert_eq!(through, FREE as usize);
        a.succeeded("lene", me);
        assert!(a.attempt("lene", me, t0).is_ok(), "a success forgets");
    }
}
