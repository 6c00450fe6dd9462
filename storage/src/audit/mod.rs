//! The audit log: an append-only chain of entries, each with an encrypted payload.
//!
//! Entry `n` stores, in clear: its sequence number, time and event kind; the payload
//! (actor, purpose, reference, details) is OpenPGP-encrypted to the auditors' certificate,
//! which the daemon holds only the public half of. Each entry's hash covers those fields,
//! the SHA-256 of the ciphertext and the previous entry's hash, so changing, removing or
//! reordering any entry breaks the chain from there on. [`verify`] needs no key.

use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::StoreError;

pub mod offline;

const FORMAT: u8 = 1;
/// An entry whose payload was deleted under retention: its SHA-256 stays in its place, so
/// the chain and the tree still verify.
const FORMAT_SHREDDED: u8 = 2;
const DOMAIN: &[u8] = b"modtag-audit-v1";

/// What happened. The name (`as_str`) is stored in clear with each entry and covered by its
/// hash, so a name is never changed; new kinds are added at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The data directory's keys were created.
    KeysCreated,
    /// The auditors' certificates changed.
    AuditorCertsChanged,
    /// A message was received and stored.
    Received,
    /// Reading found the kind, reporter, CPR count and attachments.
    Parsed,
    /// The mechanical rule linked an intake to its one open case.
    CaseLinked,
    /// A kvittering was queued for the reporter.
    Kvittering,
    /// A deadline notice was queued.
    Escalated,
    /// Someone listed the triage queue.
    Listed,
    /// Someone opened an intake.
    Viewed,
    /// Someone fetched an attachment.
    AttachmentViewed,
    /// An intake was assessed and routed.
    Decided,
    /// An assessed intake was assessed again, with a reason.
    Reassessed,
    /// A copy was queued for a recipient.
    Routed,
    /// A person corrected an intake's kind.
    KindCorrected,
    /// An intake was closed.
    Closed,
    /// A task on an intake was done (or feedback withheld).
    TaskDone,
    /// A person of the desk wrote a note on an intake.
    NoteAdded,
    /// The relay took a copy.
    Delivered,
    /// The relay refused a copy for now.
    DeliveryDeferred,
    /// The relay refused a copy for good.
    DeliveryFailed,
    /// A person queued a failed copy again.
    DeliveryRetried,
    /// Someone listed the failed deliveries.
    OutboxListed,
    /// The case registry was loaded or refreshed.
    CasesImported,
    /// The case registry was exported.
    CasesExported,
    /// A new configuration was taken into use.
    ConfigReloaded,
    /// A new configuration failed the check.
    ConfigReloadRefused,
    /// Stored decisions were replayed against a candidate tree.
    Simulated,
    /// A report was made.
    Report,
    /// An API request had a missing or wrong token.
    LoginFailed,
    /// An address was locked out after failed logins.
    LoginThrottled,
    /// Audit payloads past retention were emptied.
    Retention,
    /// A built-in account was made.
    UserAdded,
    /// An account was disabled, given other roles, or its TOTP reset.
    UserChanged,
    /// Someone signed in (password and TOTP, or the identity provider).
    SignedIn,
    /// Someone signed out.
    SignedOut,
    /// An auditor copied (still encrypted) entries of the audit log from the running daemon.
    AuditCopied,
    /// A recipient marked their copy as taken over ("modtaget").
    TakenOver,
    /// A series of meeting invitations was queued (the statusmøder).
    InvitationsSent,
    /// A leader answered a TRIVSEL+ forløb with the staff who join, sent to the institution.
    LeaderAnswered,
    /// A participant list was linked to its TRIVSEL+ forløb.
    ParticipantsLinked,
    /// A forløb's first meeting was booked (or moved) and the invitations queued.
    MeetingBooked,
    /// A forløb's first meeting was cancelled and the cancellations queued.
    MeetingCancelled,
    /// The owner of a forløb's step left too long was reminded.
    StepReminded,
    /// A case moved back to a trin-2 TRIVSEL+ forløb (flow 4), with both consents.
    OvergangActivated,
    /// An intake was erased (its key destroyed), by a retention rule or a person's reason.
    Erased,
    /// The ring key was replaced and every remaining intake's key wrapped under the new one;
    /// the old ring key was destroyed.
    RingRotated,
    /// A failed delivery past its retention was removed from the outbox.
    DeliveryRemoved,
    /// A backup was taken (written before its first byte leaves).
    BackupCreated,
    /// The keyring (every intake's key, wrapped under the ring key) was exported.
    KeyringExported,
    /// A key was replaced (which, and the old and new public keys where they are public).
    KeyRotated,
    /// A person confirmed who an unverified sender is (issue 26).
    SenderConfirmed,
    /// A person recorded where an intake was filed (issue 31).
    Journalised,
    /// A reporter confirmed their address by the one-time link in the kvittering (issue 26).
    AddressConfirmed,
    /// A journal package of an intake was made (issue 31): for download, or dropped for
    /// the case system.
    JournalPackaged,
    /// The case system's receipt for a dropped package arrived (issue 31).
    JournalReceipt,
}

modtag_config::closed_names!(EventKind {
    KeysCreated => "keys_created",
    AuditorCertsChanged => "auditor_certs_changed",
    Received => "received",
    Parsed => "parsed",
    CaseLinked => "case_linked",
    Kvittering => "kvittering",
    Escalated => "escalated",
    Listed => "listed",
    Viewed => "viewed",
    AttachmentViewed => "attachment_viewed",
    Decided => "decided",
    Reassessed => "reassessed",
    Routed => "routed",
    KindCorrected => "kind_corrected",
    Closed => "closed",
    TaskDone => "task_done",
    NoteAdded => "note_added",
    Delivered => "delivered",
    DeliveryDeferred => "delivery_deferred",
    DeliveryFailed => "delivery_failed",
    DeliveryRetried => "delivery_retried",
    OutboxListed => "outbox_listed",
    CasesImported => "cases_imported",
    CasesExported => "cases_exported",
    ConfigReloaded => "config_reloaded",
    ConfigReloadRefused => "config_reload_refused",
    Simulated => "simulated",
    Report => "report",
    LoginFailed => "login_failed",
    LoginThrottled => "login_throttled",
    Retention => "retention",
    UserAdded => "user_added",
    UserChanged => "user_changed",
    SignedIn => "signed_in",
    SignedOut => "signed_out",
    AuditCopied => "audit_copied",
    TakenOver => "taken_over",
    InvitationsSent => "invitations_sent",
    LeaderAnswered => "leader_answered",
    ParticipantsLinked => "participants_linked",
    MeetingBooked => "meeting_booked",
    MeetingCancelled => "meeting_cancelled",
    StepReminded => "step_reminded",
    OvergangActivated => "overgang_activated",
    Erased => "erased",
    RingRotated => "ring_rotated",
    DeliveryRemoved => "delivery_removed",
    BackupCreated => "backup_created",
    KeyringExported => "keyring_exported",
    KeyRotated => "key_rotated",
    SenderConfirmed => "sender_confirmed",
    Journalised => "journalised",
    AddressConfirmed => "address_confirmed",
    JournalPackaged => "journal_packaged",
    JournalReceipt => "journal_receipt",
});

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An event to be logged. The payload is serialized and encrypted when the batch commits.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub kind: EventKind,
    pub actor: String,
    pub purpose: String,
    pub reference: Option<String>,
    pub details: serde_json::Value,
}

impl Event {
    pub fn new(kind: EventKind, actor: &str, purpose: &str) -> Event {
        Event {
            kind,
            actor: actor.to_string(),
            purpose: purpose.to_string(),
            reference: None,
            details: serde_json::Value::Null,
        }
    }

    pub fn reference(mut self, reference: &str) -> Event {
        self.reference = Some(reference.to_string());
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Event {
        self.details = details;
        self
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub seq: u64,
    /// Microseconds since the Unix epoch, UTC.
    pub time_us: i64,
    pub kind: String,
    pub prev: [u8; 32],
    pub hash: [u8; 32],
    /// The encrypted payload; empty once deleted under retention.
    pub payload: Vec<u8>,
    /// Set when the payload was deleted: its SHA-256, which the hashes still cover.
    pub shredded: Option<[u8; 32]>,
}

pub(crate) fn entry_hash(
    seq: u64,
    time_us: i64,
    kind: &str,
    payload_digest: &[u8; 32],
    prev: &[u8; 32],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(seq.to_be_bytes());
    h.update(time_us.to_be_bytes());
    h.update((kind.len() as u32).to_be_bytes());
    h.update(kind.as_bytes());
    h.update(payload_digest);
    h.update(prev);
    h.finalize().into()
}

/// What the Merkle tree's leaf for an entry covers: sequence number, time, kind and the
/// ciphertext's hash (so a payload deleted under retention keeps its leaf).
pub fn leaf_data(seq: u64, time_us: i64, kind: &str, payload_digest: &[u8; 32]) -> Vec<u8> {
    let mut d = Vec::with_capacity(49 + kind.len());
    d.extend_from_slice(&seq.to_be_bytes());
    d.extend_from_slice(&time_us.to_be_bytes());
    d.push(kind.len() as u8);
    d.extend_from_slice(kind.as_bytes());
    d.extend_from_slice(payload_digest);
    d
}

impl Entry {
    /// SHA-256 of the payload (kept after the payload itself is deleted).
    pub fn payload_digest(&self) -> [u8; 32] {
        self.shredded
            .unwrap_or_else(|| Sha256::digest(&self.payload).into())
    }

    /// This entry's leaf hash in the audit tree.
    pub fn leaf_hash(&self) -> crate::merkle::Hash {
        crate::merkle::leaf_hash(&leaf_data(
            self.seq,
            self.time_us,
            &self.kind,
            &self.payload_digest(),
        ))
    }

    /// The same entry with its payload deleted (retention): hashes and leaf unchanged.
    pub fn shred(&self) -> Entry {
        Entry {
            payload: Vec::new(),
            shredded: Some(self.payload_digest()),
            ..self.clone()
        }
    }

    /// An entry that follows `prev` (the previous entry's hash).
    pub fn new(seq: u64, time: Timestamp, kind: &str, payload: Vec<u8>, prev: [u8; 32]) -> Entry {
        let time_us = time.as_microsecond();
        let digest: [u8; 32] = Sha256::digest(&payload).into();
        let hash = entry_hash(seq, time_us, kind, &digest, &prev);
        Entry {
            seq,
            time_us,
            kind: kind.to_string(),
            prev,
            hash,
            payload,
            shredded: None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(90 + self.kind.len() + self.payload.len());
        out.push(if self.shredded.is_some() {
            FORMAT_SHREDDED
        } else {
            FORMAT
        });
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.time_us.to_be_bytes());
        out.push(self.kind.len() as u8);
        out.extend_from_slice(self.kind.as_bytes());
        out.extend_from_slice(&self.prev);
        out.extend_from_slice(&self.hash);
        match &self.shredded {
            Some(digest) => out.extend_from_slice(digest),
            None => out.extend_from_slice(&self.payload),
        }
        out
    }

    pub fn decode(b: &[u8]) -> Result<Entry, String> {
        let take = |at: usize, n: usize| b.get(at..at + n).ok_or("entry is truncated");
        let format = take(0, 1)?[0];
        if format != FORMAT && format != FORMAT_SHREDDED {
            return Err(format!("unknown entry format {format}"));
        }
        let seq = u64::from_be_bytes(take(1, 8)?.try_into().unwrap());
        let time_us = i64::from_be_bytes(take(9, 8)?.try_into().unwrap());
        let klen = take(17, 1)?[0] as usize;
        let kind = String::from_utf8(take(18, klen)?.to_vec()).map_err(|_| "kind is not UTF-8")?;
        let at = 18 + klen;
        let prev: [u8; 32] = take(at, 32)?.try_into().unwrap();
        let hash: [u8; 32] = take(at + 32, 32)?.try_into().unwrap();
        let rest = &b[at + 64..];
        let (payload, shredded) = if format == FORMAT_SHREDDED {
            let digest: [u8; 32] = rest
                .try_into()
                .map_err(|_| "a deleted entry keeps a 32-byte digest")?;
            (Vec::new(), Some(digest))
        } else {
            (rest.to_vec(), None)
        };
        Ok(Entry {
            seq,
            time_us,
            kind,
            prev,
            hash,
            payload,
            shredded,
        })
    }

    pub fn time(&self) -> Timestamp {
        Timestamp::from_microsecond(self.time_us).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

/// What `verify` found in a log that holds together.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub entries: u64,
    pub head: String,
    /// The Merkle tree's root over all entries (hex).
    pub root: String,
    /// Signed checkpoints checked: those stored with the log and those given.
    pub checkpoints: usize,
    pub first: Option<String>,
    pub last: Option<String>,
}

/// Where and why a log does not hold together.
#[derive(Debug, Clone, thiserror::Error)]
#[error("audit log broken at entry {seq}: {what}")]
pub struct Broken {
    pub seq: u64,
    pub what: String,
}

/// Checks the whole chain: contiguous sequence numbers from 1, each hash recomputed from its
/// entry, each `prev` equal to the entry before, and the stored head equal to the last entry.
pub fn verify(
    entries: impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>>,
    head: Option<(u64, [u8; 32])>,
    leaves: &mut Vec<crate::merkle::Hash>,
) -> Result<Report, Broken> {
    let mut prev = [0u8; 32];
    let mut expected = 1u64;
    let mut first = None;
    let mut last_time = None;
    for item in entries {
        let (key, value) = item.map_err(|e| Broken {
            seq: expected,
            what: e.to_string(),
        })?;
        let key_seq = key
            .as_slice()
            .try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| Broken {
                seq: expected,
                what: "a key in the audit tree is not a sequence number".into(),
            })?;
        let e = Entry::decode(&value).map_err(|what| Broken { seq: key_seq, what })?;
        if key_seq != expected || e.seq != key_seq {
            return Err(Broken {
                seq: expected,
                what: format!(
                    "expected entry {expected}, found key {key_seq} holding entry {}: entries are missing or reordered",
                    e.seq
                ),
            });
        }
        if e.prev != prev {
            return Err(Broken {
                seq: e.seq,
                what: "does not follow the entry before it (previous-hash mismatch)".into(),
            });
        }
        if entry_hash(e.seq, e.time_us, &e.kind, &e.payload_digest(), &e.prev) != e.hash {
            return Err(Broken {
                seq: e.seq,
                what: "content does not match its hash: the entry was changed".into(),
            });
        }
        leaves.push(e.leaf_hash());
        if first.is_none() {
            first = Some(e.time().to_string());
        }
        last_time = Some(e.time().to_string());
        prev = e.hash;
        expected += 1;
    }
    let count = expected - 1;
    match head {
        Some((seq, hash)) if seq != count || hash != prev => Err(Broken {
            seq: count + 1,
            what: format!(
                "the log ends at entry {count} but its recorded head is entry {seq}: entries were removed or the head was changed"
            ),
        }),
        None if count > 0 => Err(Broken {
            seq: 0,
            what: "the log has entries but no recorded head".into(),
        }),
        _ => Ok(Report {
            entries: count,
            head: hex::encode(prev),
            root: String::new(),
            checkpoints: 0,
            first,
            last: last_time,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trips() {
        let e = Entry::new(
            7,
            Timestamp::from_second(1_700_000_000).unwrap(),
            "received",
            vec![1, 2, 3],
            [9; 32],
        );
        assert_eq!(Entry::decode(&e.encode()).unwrap(), e);
        assert!(Entry::decode(&e.encode()[..20]).is_err());
    }
}
