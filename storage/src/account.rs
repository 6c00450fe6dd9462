//! The built-in accounts as stored: a person's sign-in (Argon2id hash and TOTP secret), their
//! personal API tokens by hash, and an enrolment they have not finished. Sealed like every
//! record; changed only by compare-and-swap (`Store::change_user`). Re-exported from
//! `records`, where the stored types are.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A person who signs in to modtag with a built-in account (the kommune's identity provider
/// is the other way). Stored encrypted like every record: the password hash and the TOTP
/// secret never reach the disk in clear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The sign-in name, e.g. `lene.holm`.
    pub id: String,
    /// Matched against the directory's people.
    pub email: String,
    /// Role ids (DOMAIN.md) and the system roles `admin` and `auditor`.
    pub roles: Vec<String>,
    /// The password as an Argon2id PHC string.
    pub password: String,
    /// The TOTP secret, base32 (RFC 6238, SHA-1, 6 digits, 30 s).
    pub totp_secret: String,
    /// The time step of the last code accepted: a code is never taken twice.
    #[serde(default)]
    pub totp_last_step: Option<u64>,
    #[serde(default)]
    pub disabled: bool,
    pub created: Timestamp,
    /// Raised whenever the account's access changes (disabled, roles, TOTP reset): sessions
    /// made under an earlier number are no longer valid.
    #[serde(default)]
    pub epoch: u64,
    /// Personal API tokens (for the CLI and scripts), by their SHA-256 only.
    #[serde(default)]
    pub tokens: Vec<ApiToken>,
    /// An enrolment the person has not finished (a new account, or one an administrator
    /// reset): until they choose their password and confirm the TOTP secret with a code,
    /// the account has neither and cannot sign in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolment: Option<Enrolment>,
}

/// A one-time enrolment link's state: only the token's hash is kept; the link is shown
/// once, to the administrator who gives it to the person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrolment {
    /// SHA-256 of the link's token, hex.
    pub token_sha256: String,
    pub expires: Timestamp,
    /// The password the person chose (an Argon2id PHC string), until they confirm a code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<String>,
    /// SHA-256 (hex) of the cookie of the browser that chose it: only that browser sees the
    /// TOTP secret and confirms, so someone else with the link cannot take the enrolment over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
}

/// A personal API token: only its hash is kept; the token itself is shown once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    /// SHA-256 of the token, hex.
    pub sha256: String,
    pub created: Timestamp,
    pub expires: Timestamp,
}
