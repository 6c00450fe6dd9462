//! Signed-in sessions, kept in the daemon's memory only: a restart signs everyone out, and
//! nothing about a session reaches the disk. The browser holds a random 256-bit token; the
//! server keeps only its SHA-256, so a memory dump of the table cannot be replayed as a
//! cookie. A session ends on sign-out, after `idle` without a request, `max` after sign-in,
//! and when its account's access changes (its epoch).

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub user: String,
    /// The account's epoch when the session began; a later epoch ends it.
    pub epoch: u64,
    /// Sent with every state-changing request (form field or `X-CSRF-Token`).
    pub csrf: String,
    pub created: Timestamp,
    pub last_seen: Timestamp,
}

pub struct Sessions {
    by_hash: Mutex<HashMap<[u8; 32], Session>>,
    idle: SignedDuration,
    max: SignedDuration,
}

pub use modtag_workflow::token::{digest, token, well_formed};

fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Sessions {
    pub fn new(idle_secs: u64, max_secs: u64) -> Sessions {
        let secs = |s: u64| SignedDuration::from_secs(i64::try_from(s).unwrap_or(i64::MAX));
        Sessions {
            by_hash: Mutex::new(HashMap::new()),
            idle: secs(idle_secs),
            max: secs(max_secs),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.by_hash.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Begins a session for `user`; returns the token for the cookie.
    pub fn begin(&self, user: &str, epoch: u64, now: Timestamp) -> (String, Session) {
        let t = token();
        let s = Session {
            user: user.to_string(),
            epoch,
            csrf: token(),
            created: now,
            last_seen: now,
        };
        let mut table = self.table();
        // Forget the expired now and then, so the table stays as large as its live sessions.
        if table.len() % 64 == 63 {
            table.retain(|_, s| !self.expired(s, now));
        }
        table.insert(key(&t), s.clone());
        (t, s)
    }

    fn expired(&self, s: &Session, now: Timestamp) -> bool {
        now > s.last_seen + self.idle || now > s.created + self.max
    }

    /// The live session of `token`, seen now (which keeps it from going idle), or `None`
    /// (and it is forgotten) when it has ended.
    pub fn touch(&self, token: &str, now: Timestamp) -> Option<Session> {
        let mut table = self.table();
        let k = key(token);
        let live = table.get(&k).is_some_and(|s| !self.expired(s, now));
        if !live {
            table.remove(&k);
            return None;
        }
        let s = table.get_mut(&k)?;
        s.last_seen = now;
        Some(s.clone())
    }

    /// Ends the session of `token` (sign-out).
    pub fn end(&self, token: &str) -> Option<Session> {
        self.table().remove(&key(token))
    }

    /// Ends every session of `user` (disabled, roles changed, TOTP reset).
    pub fn end_all(&self, user: &str) {
        self.table().retain(|_, s| s.user != user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_idle_at_their_maximum_and_on_request() {
        let t0: Timestamp = "2026-11-30T08:00:00Z".parse().unwrap();
        let m = |n: i64| SignedDuration::from_mins(n);
        let s = Sessions::new(30 * 60, 10 * 3600);
        let (a, _) = s.begin("lene", 0, t0);
        assert!(s.touch(&a, t0 + m(29)).is_some());
        assert!(
            s.touch(&a, t0 + m(58)).is_some(),
            "each request keeps it alive"
        );
        assert!(s.touch(&a, t0 + m(89)).is_none(), "30 minutes idle ends it");
        assert!(s.touch(&a, t0 + m(90)).is_none(), "and it stays ended");

        let (b, _) = s.begin("lene", 0, t0);
        for i in 1..=20 {
            assert!(s.touch(&b, t0 + m(29 * i)).is_some());
        }
        assert!(s.touch(&b, t0 + m(601)).is_none(), "ten hours is the most");

        let (c, _) = s.begin("lene", 0, t0);
        let (d, _) = s.begin("bo", 0, t0);
        s.end_all("lene");
        assert!(s.touch(&c, t0).is_none());
        assert!(s.touch(&d, t0).is_some(), "other people's sessions stay");
        assert!(s.end(&d).is_some());
        assert!(s.touch(&d, t0).is_none());
        assert!(s.touch("not a token", t0).is_none());
    }
}
