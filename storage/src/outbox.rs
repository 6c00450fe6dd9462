//! A copy waiting in the outbox, as the store keeps it.

use serde::{Deserialize, Serialize};

use jiff::Timestamp;

/// The largest message kept in its outbox record rather than in a spool file.
pub const INLINE_MAX: usize = 8 * 1024;

/// What is wrong with an entry that cannot be read, when it is the entry's own damage (its
/// record or message file damaged, unreadable or gone) rather than the store's trouble of
/// the moment (too many open files, say): only such an entry is put off, given up or left
/// out while the others go on. Fixed words, for the log: an error's own text could quote a
/// decrypted field.
pub fn damage(e: &crate::StoreError) -> Option<&'static str> {
    use crate::StoreError;
    use std::io::ErrorKind;
    match e {
        StoreError::Corrupt { .. } => Some("its record or message file is damaged"),
        StoreError::Crypto(_) => Some("it cannot be decrypted"),
        StoreError::Io { source, .. } => match source.kind() {
            ErrorKind::NotFound => Some("its message file is gone"),
            ErrorKind::OutOfMemory | ErrorKind::Interrupted | ErrorKind::WouldBlock => None,
            // EMFILE, ENFILE: the process's trouble, not the file's.
            _ if matches!(source.raw_os_error(), Some(23 | 24)) => None,
            _ => Some("its message file cannot be read"),
        },
        _ => None,
    }
}

/// Outbox entries read, and those that could not be read.
#[derive(Debug, Default)]
pub struct OutboxRead {
    pub entries: Vec<OutboxEntry>,
    /// Entries whose record or message could not be read (damaged, or its file gone), by
    /// id, and why: reported (and, when due, put off with `Store::outbox_postpone`) rather
    /// than holding up every entry read with them.
    pub unreadable: Vec<(u64, crate::StoreError)>,
}

/// Sealed bytes in a JSON record, as base64 (a JSON array of numbers would be four times
/// their size).
mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => s.serialize_some(&B64.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| B64.decode(t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// A copy waiting to be delivered: already encrypted to its recipient.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: u64,
    pub reference: String,
    pub role: String,
    pub person: String,
    pub email: String,
    /// The complete RFC 5322 message (PGP/MIME), CRLF line endings, 7-bit. Kept in the
    /// spool (`message_sha256`), not in sled: empty in the stored record, filled in when
    /// the entry is read.
    pub message: String,
    /// SHA-256 (hex) of the spool file `outbox-<id>` that holds the message; `None` for an
    /// entry from before, whose message is in the record, and for a small one
    /// (`message_sealed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_sha256: Option<String>,
    /// A small message (a kvittering, a notice: at most [`INLINE_MAX`] octets), sealed as
    /// its spool file would be (the intake's key, or the store key for a copy that belongs
    /// to no intake) and kept in the record instead: a file, its fsync and its removal
    /// cost more than such a message's bytes (issue 33).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "base64_bytes"
    )]
    pub message_sealed: Option<Vec<u8>>,
    pub created: Timestamp,
    pub attempts: u32,
    pub next_attempt: Timestamp,
    pub last_error: Option<String>,
    /// Set when the relay refused it for good (a 5xx) or its address is unusable: it is
    /// kept, but no longer tried.
    #[serde(default)]
    pub failed: Option<Timestamp>,
    /// This entry tells Modtagelsen that another delivery failed: its own failure is
    /// recorded, but starts no further notice.
    #[serde(default)]
    pub failure_notice: bool,
    /// Sent in clear to someone without a certificate (a private institution's answer):
    /// it may leave only over TLS, whatever the relay's setting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_tls: bool,
    /// A letter to a CVR's (or CPR's) Digital Post (issue 30): `message` is then the MeMo
    /// message, sent through SF1601, not mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digital_post: Option<DigitalPostTo>,
}

/// Where a Digital Post letter goes, and what goes by mail instead if Digital Post refuses
/// it for good (the person's address stays in the entry's `email`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigitalPostTo {
    /// `CVR` or `CPR`.
    pub id_type: String,
    pub id: String,
    /// The MeMo message's UUID (the service's receipts name it).
    pub message_uuid: String,
    /// The letter's subject and text, for the mail that replaces it.
    pub subject: String,
    pub text: String,
}

/// A Digital Post letter's fate, on the intake it belongs to ("sendt", "afvist", then by
/// mail).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigitalPostLetter {
    pub outbox_id: u64,
    pub id_type: String,
    pub id: String,
    pub message_uuid: String,
    pub queued: Timestamp,
    /// Taken by Serviceplatformen: its transmission id.
    #[serde(default)]
    pub sent: Option<(Timestamp, String)>,
    /// Refused for good, with the service's reason; a mail copy then went instead (refused
    /// at once), or Modtagelsen was told (refused later, by a receipt).
    #[serde(default)]
    pub failed: Option<(Timestamp, String)>,
    /// Refused at once and a mail went instead (not when no proven address went with it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_mail: bool,
    /// KOMBIT's receipts (the Beskedfordeler): taken into Digital Post, then delivered to
    /// the recipient's mailbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<Timestamp>,
}

impl OutboxEntry {
    /// Whether the store already keeps this entry's message (a spool file, or sealed in
    /// the record): `message` is then only a copy.
    pub fn message_stored(&self) -> bool {
        self.message_sha256.is_some() || self.message_sealed.is_some()
    }

    /// A new entry for `to` (role, directory id, address), due at once, not yet tried.
    pub fn new(
        id: u64,
        reference: &str,
        to: (&str, &str, &str),
        message: String,
        now: Timestamp,
    ) -> OutboxEntry {
        let (role, person, email) = to;
        OutboxEntry {
            id,
            reference: reference.to_string(),
            role: role.to_string(),
            person: person.to_string(),
            email: email.to_string(),
            message,
            created: now,
            attempts: 0,
            next_attempt: now,
            last_error: None,
            failed: None,
            failure_notice: false,
            require_tls: false,
            message_sha256: None,
            message_sealed: None,
            digital_post: None,
        }
    }
}
