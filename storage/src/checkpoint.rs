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
//!
//! **Key hand-over.** When the checkpoint key is replaced (`modtag keys rotate
//! checkpoint`), the checkpoint written then carries an extension line
//! `modtag-next-key <hex public key>` and is signed by the old key and the new one. A
//! verifier that trusts the old key learns the new one from that note (see
//! [`Trusted`]), so the auditors' original public key verifies the whole log across any
//! number of rotations, and a later note signed only by a key no trusted note handed over
//! is refused.

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
    /// The key that signs checkpoints from this one on (a hand-over: see the module).
    pub next_key: Option<VerifyingKey>,
}

const NEXT_KEY: &str = "modtag-next-key ";

fn key_hash(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([0x01]);
    h.update(key.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// The keys a verifier trusts, growing by the hand-overs it verifies.
#[derive(Debug, Clone)]
pub struct Trusted(Vec<VerifyingKey>);

impl Trusted {
    pub fn new(keys: &[VerifyingKey]) -> Trusted {
        Trusted(keys.to_vec())
    }

    /// Verifies `note` by any trusted key, and trusts the key it hands over.
    pub fn verify(&mut self, note: &str) -> Result<Checkpoint, String> {
        let mut last = Err("no checkpoint key given".to_string());
        for key in &self.0 {
            last = Checkpoint::verify(note, key);
            if last.is_ok() {
                break;
            }
        }
        let cp = last?;
        if let Some(next) = cp.next_key {
            if !self.0.contains(&next) {
                self.0.push(next);
            }
        }
        Ok(cp)
    }
}

impl Checkpoint {
    /// The signed body: origin, size and root hash, and the hand-over's extension line.
    pub fn body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        if let Some(k) = &self.next_key {
            body.push_str(&format!("{NEXT_KEY}{}\n", hex::encode(k.as_bytes())));
        }
        body
    }

    /// The signed note.
    pub fn sign(&self, key: &SigningKey) -> String {
        self.sign_by(&[key])
    }

    /// The signed note with a signature line by each of `keys` (a hand-over: old and new).
    pub fn sign_by(&self, keys: &[&SigningKey]) -> String {
        let body = self.body();
        let mut note = format!("{body}\n");
        for key in keys {
            let sig = key.sign(body.as_bytes());
            let mut blob = key_hash(&self.origin, &key.verifying_key()).to_vec();
            blob.extend_from_slice(&sig.to_bytes());
            note.push_str(&format!("\u{2014} {} {}\n", self.origin, B64.encode(blob)));
        }
        note
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
        let mut next_key = None;
        for ext in lines {
            if let Some(hex_key) = ext.strip_prefix(NEXT_KEY) {
                next_key = Some(parse_public(hex_key).map_err(|e| format!("{NEXT_KEY}: {e}"))?);
            }
        }
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
                .map(|_| Checkpoint {
                    origin,
                    size,
                    root,
                    next_key,
                })
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
            next_key: None,
        };
        let note = cp.sign(&key);
        assert!(note.starts_with("modtag.localhost/audit\n42\nCQkJ"));
        assert!(note.contains("\n\n\u{2014} modtag.localhost/audit "));
        assert_eq!(
            Checkpoint::verify(&note, &key.verifying_key()),
            Ok(cp.clone())
        );
        // A changed size or root, or another key, fails.
        let forged = note.replacen("\n42\n", "\n41\n", 1);
        assert!(Checkpoint::verify(&forged, &key.verifying_key()).is_err());
        let other = SigningKey::from_bytes(&[8u8; 32]);
        assert!(Checkpoint::verify(&note, &other.verifying_key()).is_err());

        // A hand-over to `other`, signed by both: trusting the first key, a verifier learns
        // the second from it; a note by a key never handed over stays refused.
        let handover = Checkpoint {
            size: 43,
            next_key: Some(other.verifying_key()),
            ..cp.clone()
        }
        .sign_by(&[&key, &other]);
        let later = Checkpoint {
            size: 50,
            ..cp.clone()
        }
        .sign(&other);
        let mut trusted = Trusted::new(&[key.verifying_key()]);
        assert!(trusted.verify(&later).is_err(), "not yet handed over");
        assert_eq!(
            trusted.verify(&handover).unwrap().next_key,
            Some(other.verifying_key())
        );
        assert_eq!(trusted.verify(&later).unwrap().size, 50);
        let stranger = SigningKey::from_bytes(&[9u8; 32]);
        let forged = Checkpoint {
            size: 60,
            ..cp.clone()
        }
        .sign(&stranger);
        assert!(trusted.verify(&forged).is_err());
        // A hand-over line added to a note breaks its signature.
        let smuggled = note.replacen(
            "\n\n",
            &format!(
                "\n{NEXT_KEY}{}\n\n",
                hex::encode(stranger.verifying_key().as_bytes())
            ),
            1,
        );
        assert!(Trusted::new(&[key.verifying_key()])
            .verify(&smuggled)
            .is_err());
    }
}
