//! Random one-time tokens (sign-in sessions, enrolment and confirmation links) and the
//! digest kept of them: the store and the session table hold only the SHA-256.

use sha2::{Digest, Sha256};

/// A fresh random token (256 bits, URL-safe base64).
pub fn token() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `token` has the shape [`token`] makes (43 URL-safe base64 characters): what
/// a link or a cookie brings is checked before it is looked up, echoed or set again.
pub fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The SHA-256 of a token, hex: what is kept of a personal API token or a link's token.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
