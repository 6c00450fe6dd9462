//! Who a person is: built-in accounts (an Argon2id [`password`] and a mandatory [`totp`]
//! code), their [`sessions`] once signed in, and the [`attempts`] that failed. The pages
//! and the API use these; the accounts themselves are stored encrypted by `storage`.

pub mod attempts;
pub mod enrolment;
pub mod local;
pub mod oidc;
pub mod password;
pub mod saml;
pub mod sessions;
pub mod totp;

/// A new, enabled account with a fresh TOTP secret. `password` is its Argon2id hash, or
/// empty for an account that signs in elsewhere (the socket, the identity provider): no
/// password verifies against an empty hash.
pub fn new_account(
    id: String,
    email: String,
    roles: Vec<String>,
    password: String,
    now: jiff::Timestamp,
) -> modtag_storage::records::User {
    modtag_storage::records::User {
        id,
        email,
        roles,
        password,
        totp_secret: totp::new_secret(),
        totp_last_step: None,
        disabled: false,
        created: now,
        epoch: 0,
        tokens: Vec::new(),
        enrolment: None,
    }
}

/// Compares secrets (tokens, codes) in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
