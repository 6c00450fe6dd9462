//! How an intake's sender and its reporter's address are known (issue 26): what the
//! transport proved, what a person confirmed, and what the reporter proved by the one-time
//! link in their kvittering. Stored with the item (re-exported from `records`).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// How an intake's sender is known (issue 26), from what its transport proved at intake.
/// Anything that depends on who the sender is (the auto-link to a case's rådgiver, a
/// professional reporter's rights, joining a participant list) needs a sender known this
/// way, or one a person confirmed on the item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderTrust {
    /// DMARC passed: the `From:` domain vouched for the message (SPF or DKIM aligned).
    Authenticated,
    /// A known partner's server, over TLS, from a network `[smtp] require_tls_networks`
    /// names.
    Partner,
    /// Anything anyone could have written: a `From:`, a form's fields.
    #[default]
    Unverified,
    /// A public form sent by a person NemLog-in signed in with MitID Erhverv (issue 30): the
    /// CVR, organisation and person are the assertion's ([`SignedIn`]), not typed.
    MitidErhverv,
}

modtag_config::closed_names!(SenderTrust {
    Authenticated => "authenticated",
    Partner => "partner",
    Unverified => "unverified",
    MitidErhverv => "mitid_erhverv",
});

/// Whether a sender known this way proves `email` is theirs: DMARC and a partner's TLS
/// prove the `From:` address; MitID Erhverv only the address NemLog-in gave.
pub fn proves_address(trust: SenderTrust, signed_in: Option<&SignedIn>, email: &str) -> bool {
    match trust {
        SenderTrust::Unverified => false,
        SenderTrust::MitidErhverv => signed_in
            .and_then(|s| s.email.as_deref())
            .is_some_and(|e| e.eq_ignore_ascii_case(email)),
        SenderTrust::Authenticated | SenderTrust::Partner => true,
    }
}

/// Who NemLog-in said sent a public form (MitID Erhverv, OIOSAML 3): from a signed assertion
/// modtag checked, never from what the form's fields say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    /// The person's name (`fullName`).
    pub name: String,
    /// The organisation's CVR number and name (`professional/cvr`, `professional/orgName`).
    pub cvr: String,
    pub organisation: String,
    /// The person's e-mail address, when NemLog-in gave one.
    pub email: Option<String>,
    /// The NSIS level of assurance ("Substantial" or "High").
    pub level: String,
    /// When the person signed in.
    pub at: Timestamp,
}

/// A person's confirmation of who an unverified sender is ("Afsender bekræftet af ...").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SenderConfirmed {
    pub by: String,
    pub at: Timestamp,
    /// How they know (a phone call, the sender's known address).
    pub how: String,
}

/// A reporter's typed address, proven by a one-time link (issue 26): the link goes with the
/// kvittering to that address; whoever opens it there shows the address is theirs, and a
/// letter about the child (the tilbagemelding) may then go to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddressProof {
    pub address: String,
    /// SHA-256 (hex) of the link's token while the link works; `None` once used.
    pub token_sha256: Option<String>,
    pub expires: Timestamp,
    pub confirmed_at: Option<Timestamp>,
}

impl AddressProof {
    /// Whether `address` is the one the reporter confirmed.
    pub fn confirms(&self, address: &str) -> bool {
        self.confirmed_at.is_some() && self.address.eq_ignore_ascii_case(address)
    }
}
