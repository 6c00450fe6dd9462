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
pub fn decrypt(
    key: &Cert,
    directory: &Directory,
    ciphertext: &[u8],
) -> Result<(Vec<u8>, OpenPgpInfo), String> {
    let policy = StandardPolicy::new();
    let helper = Helper {
        key,
        directory,
        policy: &policy,
        signature: ("none".into(), None),
    };
    let mut decryptor = DecryptorBuilder::from_bytes(ciphertext)
        .map_err(|e| e.to_string())?
        .with_policy(&policy, None, helper)
        .map_err(|e| e.to_string())?;
    let mut plain = Vec::new();
    decryptor
        .read_to_end(&mut plain)
        .map_err(|e| e.to_string())?;
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
