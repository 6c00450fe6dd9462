//! Mail that arrives OpenPGP-encrypted to the kommune's key (PGP/MIME, RFC 3156, or an
//! inline armored block) is decrypted in memory for reading; its signature is checked
//! against the directory's certificates. The raw message stays as it came, encrypted twice.

use std::io::Read;

use modtag_config::Directory;
use modtag_storage::records::OpenPgpInfo;
use sequoia_openpgp as openpgp;

use openpgp::crypto::SessionKey;
use openpgp::packet::{PKESK, SKESK};
use openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, MessageLayer, MessageStructure, VerificationError,
    VerificationHelper,
};
use openpgp::parse::Parse;
use openpgp::policy::StandardPolicy;
use openpgp::types::SymmetricAlgorithm;
use openpgp::{Cert, KeyHandle};

/// Decrypts `ciphertext` with `key`; returns the plaintext and what the signature says.
/// The plaintext may be at most `limit` bytes (the largest message modtag takes): a small
/// message whose compressed payload unpacks to gigabytes is refused after `limit`, not
/// unpacked into memory.
pub fn decrypt(
    key: &Cert,
    directory: &Directory,
    ciphertext: &[u8],
    limit: usize,
) -> Result<(Vec<u8>, OpenPgpInfo), String> {
    let policy = StandardPolicy::new();
    let helper = Helper {
        key,
        directory,
        policy: &policy,
        signature: ("none".into(), None),
    };
    // Sequoia holds back up to its buffer to check the signature before releasing data;
    // that buffer is kept within the limit too.
    let mut decryptor = DecryptorBuilder::from_bytes(ciphertext)
        .map_err(|e| e.to_string())?
        .buffer_size(limit.min(25 << 20))
        .with_policy(&policy, None, helper)
        .map_err(|e| e.to_string())?;
    let mut plain = Vec::new();
    (&mut decryptor)
        .take(limit as u64 + 1)
        .read_to_end(&mut plain)
        .map_err(|e| e.to_string())?;
    if plain.len() > limit {
        return Err(format!(
            "the decrypted message is larger than {limit} bytes (the largest message modtag takes): kept encrypted, not read"
        ));
    }
    let helper = decryptor.into_helper();
    Ok((
        plain,
        OpenPgpInfo {
            decrypted: true,
            signature: helper.signature.0,
            signer: helper.signature.1,
        },
    ))
}

struct Helper<'a> {
    key: &'a Cert,
    directory: &'a Directory,
    policy: &'a StandardPolicy<'a>,
    /// (verdict, signer)
    signature: (String, Option<String>),
}

impl VerificationHelper for Helper<'_> {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self
            .directory
            .people
            .values()
            .filter_map(|p| p.cert.clone())
            .collect())
    }

    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        // Recorded, never enforced: an unsigned or badly signed concern still counts.
        for layer in structure.into_iter() {
            if let MessageLayer::SignatureGroup { results } = layer {
                for result in results {
                    self.signature = match result {
                        Ok(good) => {
                            let fpr = good.ka.cert().fingerprint();
                            let who = self
                                .directory
                                .people
                                .values()
                                .find(|p| p.cert.as_ref().is_some_and(|c| c.fingerprint() == fpr))
                                .map(|p| p.name.clone())
                                .unwrap_or_else(|| fpr.to_hex());
                            ("good".into(), Some(who))
                        }
                        Err(VerificationError::MissingKey { sig }) => (
                            "unknown-key".into(),
                            sig.get_issuers().first().map(|h| h.to_hex()),
                        ),
                        Err(_) => ("bad".into(), None),
                    };
                    if self.signature.0 == "good" {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }
}

impl DecryptionHelper for Helper<'_> {
    fn decrypt(
        &mut self,
        pkesks: &[PKESK],
        _skesks: &[SKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> openpgp::Result<Option<Cert>> {
        if modtag_storage::crypto::open_session_key(
            self.key,
            self.policy,
            pkesks,
            sym_algo,
            decrypt,
        )? {
            return Ok(None);
        }
        Err(openpgp::Error::MissingSessionKey(
            "the message is not encrypted to the kommune's key".into(),
        )
        .into())
    }
}

/// The armored block of an inline-encrypted text, if there is one.
pub fn inline_block(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN PGP MESSAGE-----")?;
    let end = text[start..].find("-----END PGP MESSAGE-----")? + start;
    Some(&text[start..end + "-----END PGP MESSAGE-----".len()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use openpgp::serialize::stream::{Compressor, Encryptor, LiteralWriter, Message, Recipient};
    use openpgp::types::CompressionAlgorithm;
    use std::io::Write;

    /// A few kilobytes that unpack to 16 MiB, encrypted to `cert`.
    fn bomb(cert: &Cert) -> Vec<u8> {
        let p = StandardPolicy::new();
        let recipients: Vec<Recipient> = cert
            .keys()
            .with_policy(&p, None)
            .for_transport_encryption()
            .map(Recipient::from)
            .collect();
        let mut out = Vec::new();
        let message = Message::new(&mut out);
        let message = Encryptor::for_recipients(message, recipients)
            .build()
            .unwrap();
        let message = Compressor::new(message)
            .algo(CompressionAlgorithm::Zip)
            .build()
            .unwrap();
        let mut w = LiteralWriter::new(message).build().unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..16 {
            w.write_all(&zeros).unwrap();
        }
        w.finalize().unwrap();
        out
    }

    #[test]
    fn a_compressed_payload_is_not_unpacked_past_the_limit() {
        let key = modtag_storage::keys::generate_key("kommunen").unwrap();
        let ct = bomb(&key);
        assert!(ct.len() < 256 * 1024, "{} bytes", ct.len());
        let dir = Directory::default();
        let e = decrypt(&key, &dir, &ct, 1 << 20).unwrap_err();
        assert!(e.contains("larger than 1048576 bytes"), "{e}");
        let (plain, _) = decrypt(&key, &dir, &ct, 32 << 20).unwrap();
        assert_eq!(plain.len(), 16 << 20, "within the limit it is read whole");
    }
}
