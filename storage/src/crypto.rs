//! OpenPGP encryption to certificates and decryption with secret keys, in memory.
//!
//! Certificates that modtag generates advertise SEIPDv1 only, because Debian 12's GnuPG 2.2
//! cannot read SEIPDv2 (see ../shared/PITFALLS.md). The encryptor follows each recipient's
//! advertised features, so messages to modtag's own keys and to GnuPG-made certificates are
//! both readable by GnuPG 2.2.

use std::io::{Read, Write};

use openpgp::crypto::SessionKey;
use openpgp::packet::{PKESK, SKESK};
use openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, MessageStructure, VerificationHelper,
};
use openpgp::parse::Parse;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::stream::{Armorer, Encryptor, LiteralWriter, Message};
use openpgp::types::SymmetricAlgorithm;
use openpgp::{Cert, KeyHandle};
use sequoia_openpgp as openpgp;

use crate::StoreError;

fn policy() -> StandardPolicy<'static> {
    StandardPolicy::new()
}

/// Encrypts `plaintext` to every certificate in `certs`, as binary OpenPGP.
pub fn encrypt(certs: &[&Cert], plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
    encrypt_inner(certs, plaintext, false)
}

/// Encrypts `plaintext` to `certs`, ASCII-armored (for e-mail).
pub fn encrypt_armored(certs: &[&Cert], plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
    encrypt_inner(certs, plaintext, true)
}

fn encrypt_inner(certs: &[&Cert], plaintext: &[u8], armor: bool) -> Result<Vec<u8>, StoreError> {
    let p = policy();
    let mut recipients = Vec::new();
    for cert in certs {
        let keys: Vec<_> = cert
            .keys()
            .with_policy(&p, None)
            .supported()
            .alive()
            .revoked(false)
            .for_transport_encryption()
            .for_storage_encryption()
            .collect();
        if keys.is_empty() {
            return Err(StoreError::Crypto(format!(
                "certificate {} has no usable encryption key",
                cert.fingerprint()
            )));
        }
        recipients.extend(keys);
    }
    let mut sink = Vec::with_capacity(plaintext.len() / 2 + 512);
    {
        let mut message = Message::new(&mut sink);
        if armor {
            message = Armorer::new(message).build().map_err(crypto_err)?;
        }
        let message = Encryptor::for_recipients(message, recipients)
            .build()
            .map_err(crypto_err)?;
        let mut w = LiteralWriter::new(message).build().map_err(crypto_err)?;
        w.write_all(plaintext)
            .map_err(|e| StoreError::Crypto(e.to_string()))?;
        w.finalize().map_err(crypto_err)?;
    }
    Ok(sink)
}

/// Decrypts a message encrypted to `key` (a certificate with unencrypted secret keys).
pub fn decrypt(key: &Cert, ciphertext: &[u8]) -> Result<Vec<u8>, StoreError> {
    let p = policy();
    let helper = Helper { key, policy: &p };
    let mut decryptor = DecryptorBuilder::from_bytes(ciphertext)
        .map_err(|e| StoreError::Crypto(e.to_string()))?
        .with_policy(&p, None, helper)
        .map_err(|e| StoreError::Crypto(e.to_string()))?;
    let mut out = Vec::with_capacity(ciphertext.len());
    decryptor
        .read_to_end(&mut out)
        .map_err(|e| StoreError::Crypto(e.to_string()))?;
    Ok(out)
}

struct Helper<'a> {
    key: &'a Cert,
    policy: &'a StandardPolicy<'a>,
}

impl VerificationHelper for Helper<'_> {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(Vec::new())
    }
    fn check(&mut self, _structure: MessageStructure) -> openpgp::Result<()> {
        // Stored records are not signed; integrity comes from SEIPD's MDC/AEAD and, for the
        // audit log, from the hash chain.
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
        for ka in self
            .key
            .keys()
            .unencrypted_secret()
            .with_policy(self.policy, None)
            .for_transport_encryption()
            .chain(
                self.key
                    .keys()
                    .unencrypted_secret()
                    .with_policy(self.policy, None)
                    .for_storage_encryption(),
            )
        {
            let mut pair = ka.key().clone().into_keypair()?;
            for pkesk in pkesks {
                if let Some((algo, sk)) = pkesk.decrypt(&mut pair, sym_algo) {
                    if decrypt(algo, &sk) {
                        return Ok(Some(self.key.clone()));
                    }
                }
            }
        }
        Err(
            openpgp::Error::MissingSessionKey("no secret key here decrypts this message".into())
                .into(),
        )
    }
}

/// Parses an armored or binary certificate or key.
pub fn parse_cert(bytes: &[u8]) -> Result<Cert, StoreError> {
    Cert::from_bytes(bytes).map_err(|e| StoreError::Key(format!("not an OpenPGP key: {e}")))
}

fn crypto_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Crypto(e.to_string())
}
