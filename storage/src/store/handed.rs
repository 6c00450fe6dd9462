//! Outbox entries handed in clear, in memory, from the commit that queued them to the
//! outbox worker (issue 33): the worker would otherwise at once decrypt the record and the
//! message this process has just sealed (a tenth of a kvittering's cost).
//!
//! A copy stands for its entry only while the stored record is, byte for byte, the one its
//! commit wrote: a store key rotation, a put-back or an erasure since, and the worker reads
//! the record as before. The first read takes it; it goes when its entry leaves the outbox,
//! its commit fails, or it has waited a minute (a worker that stopped, a read that failed).
//! Only small, never tried entries, and a bounded number: a backlog (the relay down) is
//! read from the store as before, and no more plaintext is held than a minute's worth.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::records::OutboxEntry;

/// At most this many copies are held (each at most `outbox::INLINE_MAX` of message).
const MOST: usize = 1024;
/// A copy not taken within this is dropped: the worker reads the record instead.
const LONGEST: Duration = Duration::from_secs(60);

/// When a copy was offered, the sealed record as its commit wrote it, and the entry in
/// clear.
type HeldCopy = (Instant, Vec<u8>, OutboxEntry);

#[derive(Default)]
pub(super) struct Handed {
    /// By outbox id.
    copies: Mutex<HashMap<u64, HeldCopy>>,
}

impl Handed {
    /// Holds `copies` (sealed record, entry with its message) while there is room; the ids
    /// of those held.
    pub fn offer(&self, copies: Vec<(Vec<u8>, OutboxEntry)>) -> Vec<u64> {
        let mut held = self.copies.lock().expect("handed lock");
        let now = Instant::now();
        held.retain(|_, (at, _, _)| now.duration_since(*at) < LONGEST);
        let mut ids = Vec::new();
        for (sealed, entry) in copies {
            if held.len() >= MOST {
                break;
            }
            ids.push(entry.id);
            held.insert(entry.id, (now, sealed, entry));
        }
        ids
    }

    /// Forgets the copies of `ids` (their entries left the outbox, or their commit failed).
    pub fn withdraw(&self, ids: impl IntoIterator<Item = u64>) {
        let mut held = self.copies.lock().expect("handed lock");
        if held.is_empty() {
            return;
        }
        for id in ids {
            held.remove(&id);
        }
    }

    /// The copy of entry `id`, taken, if `stored` is still the record its commit wrote.
    pub fn take(&self, id: u64, stored: &[u8]) -> Option<OutboxEntry> {
        let mut held = self.copies.lock().expect("handed lock");
        let (at, sealed, entry) = held.remove(&id)?;
        (sealed.as_slice() == stored && at.elapsed() < LONGEST).then_some(entry)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.copies.lock().expect("handed lock").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64) -> OutboxEntry {
        let now = jiff::Timestamp::now();
        let to = ("reporter", "reporter", "a@example.org");
        OutboxEntry::new(id, "MT-2026-000001", to, "Kvittering".into(), now)
    }

    #[test]
    fn a_copy_stands_only_for_the_record_its_commit_wrote() {
        let h = Handed::default();
        assert_eq!(h.offer(vec![(b"sealed 1".to_vec(), entry(1))]), [1]);
        assert_eq!(h.offer(vec![(b"sealed 2".to_vec(), entry(2))]), [2]);
        // Sealed again since (a rotation): not this copy, and it is gone.
        assert!(h.take(1, b"sealed again").is_none());
        assert!(h.take(1, b"sealed 1").is_none());
        // The record as written: the copy, once.
        assert_eq!(
            h.take(2, b"sealed 2").map(|e| e.message),
            Some("Kvittering".into())
        );
        assert!(h.take(2, b"sealed 2").is_none());
        h.offer(vec![(b"sealed 3".to_vec(), entry(3))]);
        h.withdraw([3]);
        assert!(h.take(3, b"sealed 3").is_none());
        // Not taken within a minute: dropped, by the next offer or the late read.
        h.offer(vec![
            (b"sealed 4".to_vec(), entry(4)),
            (b"sealed 5".to_vec(), entry(5)),
        ]);
        for (at, _, _) in h.copies.lock().unwrap().values_mut() {
            *at -= LONGEST;
        }
        assert!(h.take(4, b"sealed 4").is_none());
        h.offer(vec![(b"sealed 6".to_vec(), entry(6))]);
        assert_eq!(h.len(), 1, "the old copy of 5 is gone");
    }

    #[test]
    fn no_more_than_a_bounded_number_is_held() {
        let h = Handed::default();
        let copies = (0..MOST as u64 + 10)
            .map(|id| (vec![1], entry(id)))
            .collect();
        assert_eq!(h.offer(copies).len(), MOST);
        assert_eq!(h.len(), MOST);
        assert!(h.offer(vec![(vec![1], entry(99_999))]).is_empty());
    }
}
