//! Who a person is: built-in accounts (an Argon2id [`password`] and a mandatory [`totp`]
//! code), their [`sessions`] once signed in, and the [`attempts`] that failed. The pages
//! and the API use these; the accounts themselves are stored encrypted by `storage`.

pub mod attempts;
pub mod password;
pub mod sessions;
pub mod totp;
