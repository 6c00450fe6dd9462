//! Who a person is: built-in accounts (an Argon2id [`password`] and a mandatory [`totp`]
//! code), their [`sessions`] once signed in, and the [`attempts`] that failed. The pages
//! and the API use these; the accounts themselves are stored encrypted by `storage`.

pub mod attempts;
pub mod local;
pub mod oidc;
pub mod password;
pub mod sessions;
pub mod totp;

/// Compares secrets (tokens, codes) in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
