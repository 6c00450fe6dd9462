//! Signed checkpoints of the audit tree in the C2SP `tlog-checkpoint` signed-note format:
//!
//! ```text
//! <origin>
//! <tree size>
//! <root hash, base64>
//!
//! — <key name> <base64(key hash[0..4] ‖ Ed25519 signature)>
//! ```
//!
//! The signature covers the three body lines with their newlines; the key hash is
//! SHA-256(key name ‖ "\n" ‖ 0x01 ‖ public key), 0x01 being the Ed25519 algorithm byte of
//! C2SP `signed-note`. A checkpoint kept outside the server lets an auditor prove later that
//! the log was neither truncated nor rolled back.

use base64::Engine as _;
pub use ed25519_dalek::VerifyingKey;
use ed25519_dalek::{Signer, SigningKey, Verifier};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

fn key_hash(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([0x01]);
    h.update(key.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

impl Checkpoint {
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// The signed note, signed by `key` under the key name `origin`.
    pub fn sign(&self, key: &SigningKey) -> String {
        let body = self.body();
        let sig = key.sign(body.as_bytes());
        let mut blob = key_hash(&self.origin, &key.verifying_key()).to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        format!("{body}\n\u{2014} {} {}\n", self.origin, B64.encode(blob))
    }

    /// Parses a signed note and checks its signature by `key`.
    pub fn verify(note: &str, key: &VerifyingKey) -> Result<Checkpoint, String> {
        let (body, sigs) = note
            .split_once("\n\n")
            .ok_or("not a signed note: no blank line before the signatures")?;
        let body = format!("{body}\n");
        let mut lines = body.lines();
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or("no origin line")?
            .to_string();
        let size: u64 = lines
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or("the second line is not a tree size")?;
        let root: Hash = lines
            .next()
            .and_then(|r| B64.decode(r).ok())
            .and_then(|r| r.try_into().ok())
            .ok_or("the third line is not a base64 SHA-256 root hash")?;
        let want = key_hash(&origin, key);
        for line in sigs.lines() {
            let Some(rest) = line.strip_prefix("\u{2014} ") else {
                continue;
            };
            let Some((name, blob)) = rest.rsplit_once(' ') else {
                continue;
            };
            let Ok(blob) = B64.decode(blob) else { continue };
            if name != origin || blob.len() != 68 || blob[..4] != want {
                continue;
            }
            let sig =
                ed25519_dalek::Signature::from_slice(&blob[4..]).map_err(|e| e.to_string())?;
            return key
                .verify(body.as_bytes(), &sig)
                .map(|_| Checkpoint { origin, size, root })
                .map_err(|_| "the checkpoint's signature does not verify: it was altered".into());
        }
        Err("no signature by the checkpoint key on this checkpoint".into())
    }
}

/// Reads `checkpoint.pub` (hex).
pub fn parse_public(text: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("not a hex Ed25519 public key")?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_a_note() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let cp = Checkpoint {
            origin: "modtag.localhost/audit".into(),
            size: 42,
            root: [9u8; 32],
        };
        let note = cp.sign(&key);
        assert!(note.starts_with("modtag.localhost/audit\n42\nCQkJ"));
        assert!(note.contains("\n\n\u{2014} modtag.localhost/audit "));
        assert_eq!(Checkpoint::verify(&note, &key.verifying_key()), Ok(cp));
        // A changed size or root, or another key, fails.
        let forged = note.replacen("\n42\n", "\n41\n", 1);
        assert!(Checkpoint::verify(&forged, &key.verifying_key()).is_err());
        let other = SigningKey::from_bytes(&[8u8; 32]);
        assert!(Checkpoint::verify(&note, &other.verifying_key()).is_err());
    }
}
