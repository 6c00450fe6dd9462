//! Time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30 seconds), as every
//! authenticator app reads them from an `otpauth://` URI. A code is taken for its own step
//! or one step either side (clocks differ), and never twice: the step of the last code taken
//! is kept with the account.

use totp_rs::{Algorithm, Secret, TOTP};

use super::constant_time_eq;

const DIGITS: usize = 6;
const STEP: u64 = 30;
const ISSUER: &str = "modtag";

/// A new random secret (160 bits, as RFC 4226 recommends), base32.
pub fn new_secret() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    Secret::Raw(bytes.to_vec()).to_encoded().to_string()
}

fn totp(secret: &str, account: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().ok()?;
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP,
        bytes,
        Some(ISSUER.into()),
        account.to_string(),
    )
    .ok()
}

/// The enrolment URI for an authenticator app.
pub fn uri(secret: &str, account: &str) -> Option<String> {
    totp(secret, account).map(|t| t.get_url())
}

/// The step a correct `code` belongs to at `unix_secs`, if it is right and newer than
/// `last_step` (the step of the last code taken for this account).
pub fn accept(secret: &str, code: &str, unix_secs: u64, last_step: Option<u64>) -> Option<u64> {
    let t = totp(secret, "")?;
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = unix_secs / STEP;
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .filter(|step| last_step.is_none_or(|last| *step > last))
        .find(|step| constant_time_eq(t.generate(step * STEP).as_bytes(), code.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 secret and its codes, cut to six digits.
    #[test]
    fn the_rfc_6238_vectors_and_the_rules() {
        let secret = Secret::Raw(b"12345678901234567890".to_vec())
            .to_encoded()
            .to_string();
        // T = 59 s: 94287082 → 287082; T = 1111111109 s: 07081804 → 081804.
        assert_eq!(accept(&secret, "287082", 59, None), Some(1));
        assert_eq!(accept(&secret, "081804", 1111111109, None), Some(37037036));
        // One step early or late is taken (clocks differ); two are not.
        assert_eq!(accept(&secret, "287082", 59 + 30, None), Some(1));
        assert_eq!(accept(&secret, "287082", 59 + 60, None), None);
        // A code is never taken twice, nor one older than the last taken.
        assert_eq!(accept(&secret, "287082", 59, Some(1)), None);
        assert_eq!(accept(&secret, "000000", 59, None), None);
        assert_eq!(accept(&secret, "28708", 59, None), None);
        let uri = uri(&secret, "lene.holm").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/modtag:lene.holm?secret="),
            "{uri}"
        );
    }
}
