//! OpenPGP encryption to certificates and decryption with secret keys, in memory.
//!
//! Certificates that modtag generates advertise SEIPDv1 only, because Debian 12's GnuPG 2.2
//! cannot read SEIPDv2 (see ../shared/PITFALLS.md). The encryptor follows each recipient's
//! advertised features, so messages to modtag's own keys and to GnuPG-made certificates are
//! both readable by GnuPG 2.2.

use std::io::{Read, Write};

use openpgp::cert::amalgamation::key::ValidErasedKeyAmalgamation;
use openpgp::crypto::SessionKey;
use openpgp::packet::key::PublicParts;
use openpgp::packet::pkesk::PKESK6;
use openpgp::packet::{Packet, PKESK, SKESK};
use openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, MessageStructure, VerificationHelper,
};
use openpgp::parse::Parse;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::stream::{Armorer, Encryptor, LiteralWriter, Message, Recipient};
use openpgp::serialize::{MarshalInto, Serialize};
use openpgp::types::{AEADAlgorithm, SymmetricAlgorithm};
use openpgp::{Cert, KeyHandle};
use sequoia_openpgp as openpgp;

use crate::StoreError;

fn policy() -> StandardPolicy<'static> {
    StandardPolicy::new()
}

/// Encrypts `plaintext` to every certificate in `certs`, as binary OpenPGP that GnuPG 2.2
/// can read (SEIPDv1 unless every recipient advertises SEIPDv2).
pub fn encrypt(certs: &[&Cert], plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
    encrypt_inner(certs, &[plaintext], false)
}

/// Encrypts `plaintext` to `certs`, ASCII-armored (for e-mail).
pub fn encrypt_armored(certs: &[&Cert], plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
    encrypt_inner(certs, &[plaintext], true)
}

/// Signs `plaintext` with `signer`'s signing key and encrypts it to `certs`, armored: a
/// copy its recipient can tell from a forgery encrypted to their public certificate.
/// GnuPG 2.2 reads it (a v4 Ed25519 signature inside SEIPDv1).
pub fn sign_encrypt_armored(
    certs: &[&Cert],
    signer: &Cert,
    plaintext: &[u8],
) -> Result<Vec<u8>, StoreError> {
    let p = policy();
    let keypair = signer
        .keys()
        .secret()
        .with_policy(&p, None)
        .supported()
        .alive()
        .revoked(false)
        .for_signing()
        .next()
        .ok_or_else(|| StoreError::Key(format!("{}: no usable signing key", signer.fingerprint())))?
        .key()
        .clone()
        .into_keypair()
        .map_err(crypto_err)?;
    let recipients: Vec<Recipient> = encryption_keys(certs, &p)?
        .into_iter()
        .map(Recipient::from)
        .collect();
    let mut sink = sink_for(&[plaintext], &[]);
    {
        let message = Armorer::new(Message::new(&mut sink))
            .build()
            .map_err(crypto_err)?;
        let message = Encryptor::for_recipients(message, recipients)
            .build()
            .map_err(crypto_err)?;
        let message = openpgp::serialize::stream::Signer::new(message, keypair)
            .map_err(crypto_err)?
            .build()
            .map_err(crypto_err)?;
        let mut w = LiteralWriter::new(message).build().map_err(crypto_err)?;
        w.write_all(plaintext)
            .map_err(|e| StoreError::Crypto(e.to_string()))?;
        w.finalize().map_err(crypto_err)?;
    }
    Ok(sink)
}

/// The encryption keys of `certs` usable now; an error names a certificate without one.
fn encryption_keys<'a>(
    certs: &[&'a Cert],
    p: &'a StandardPolicy<'a>,
) -> Result<Vec<ValidErasedKeyAmalgamation<'a, PublicParts>>, StoreError> {
    let mut all = Vec::new();
    for cert in certs {
        let keys: Vec<_> = cert
            .keys()
            .with_policy(p, None)
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
        all.extend(keys);
    }
    Ok(all)
}

fn encrypt_inner(certs: &[&Cert], parts: &[&[u8]], armor: bool) -> Result<Vec<u8>, StoreError> {
    let p = policy();
    let recipients: Vec<Recipient> = encryption_keys(certs, &p)?
        .into_iter()
        .map(Recipient::from)
        .collect();
    let mut sink = sink_for(parts, &[]);
    {
        let mut message = Message::new(&mut sink);
        if armor {
            message = Armorer::new(message).build().map_err(crypto_err)?;
        }
        write_literal(Encryptor::for_recipients(message, recipients), parts)?;
    }
    Ok(sink)
}

/// A buffer for the ciphertext of `parts`, starting with `head`. Room for all of it (a tag
/// per chunk and the headers on top of the plaintext): growing a 500 KB vector copies it
/// and faults in fresh pages.
fn sink_for(parts: &[&[u8]], head: &[u8]) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut sink = Vec::with_capacity(head.len() + len + len / 256 + 2048);
    sink.extend_from_slice(head);
    sink
}

/// The concatenation of `parts` as one literal data packet, encrypted. Its length is known,
/// so the packet is written straight into the encryptor with that length: sequoia's
/// `LiteralWriter` frames an unknown length in partial-body chunks, copying every byte
/// once more (issue 33). Binary, no file name, no date, as `LiteralWriter` writes it.
fn write_literal(encryptor: Encryptor, parts: &[&[u8]]) -> Result<(), StoreError> {
    use openpgp::packet::header::{BodyLength, CTB};
    use openpgp::packet::Tag;
    let mut message = encryptor.build().map_err(crypto_err)?;
    let len: usize = parts.iter().map(|p| p.len()).sum::<usize>() + 6;
    let len = u32::try_from(len).map_err(|_| StoreError::Crypto("over 4 GiB to seal".into()))?;
    let header = openpgp::packet::Header::new(CTB::new(Tag::Literal), BodyLength::Full(len));
    openpgp::serialize::Marshal::serialize(&header, &mut message).map_err(crypto_err)?;
    message
        .write_all(&[b'b', 0, 0, 0, 0, 0])
        .map_err(crypto_err)?;
    for part in parts {
        message.write_all(part).map_err(crypto_err)?;
    }
    message.finalize().map_err(crypto_err)
}

/// Seals data that only modtag itself reads back (the store key's records and message
/// files): SEIPDv2 with AES-256-GCM. The v1 format's SHA-1 MDC (with collision detection)
/// was the largest single cost of durable intake at 500 KB; AEAD also authenticates each
/// chunk. GCM rather than OCB because the pure-Rust OCB runs AES one block at a time, while
/// GCM's counter mode runs eight in parallel: 500 KB cost 1.1 ms with OCB and 0.5 ms with
/// GCM here. Older SEIPDv1 and OCB records still decrypt.
///
/// One session key, whose PKESKs to the store key are computed once, not once per record:
/// the X25519 key agreement behind a PKESK was the costliest part of sealing a small record,
/// and intake seals several per message. SEIPDv2 derives each record's message key and nonce
/// from the session key and a fresh random salt (RFC 9580 5.13.2), so records under one
/// session key are as separate as records under several; each record carries the PKESKs and
/// opens on its own.
pub struct Sealer {
    session_key: SessionKey,
    pkesks: Vec<u8>,
    born: std::time::Instant,
}

impl Sealer {
    /// Session keys are replaced after this long, so no key seals an unbounded amount.
    pub const LIFETIME: std::time::Duration = std::time::Duration::from_secs(600);

    pub fn new(certs: &[&Cert]) -> Result<Sealer, StoreError> {
        let p = policy();
        let session_key =
            SessionKey::new(SymmetricAlgorithm::AES256.key_size().map_err(crypto_err)?)
                .map_err(crypto_err)?;
        let mut pkesks = Vec::new();
        for ka in encryption_keys(certs, &p)? {
            let mut pkesk = PKESK6::for_recipient(&session_key, ka.key()).map_err(crypto_err)?;
            pkesk.set_recipient(Some(ka.key().fingerprint()));
            Packet::from(pkesk)
                .serialize(&mut pkesks)
                .map_err(crypto_err)?;
        }
        Ok(Sealer {
            session_key,
            pkesks,
            born: std::time::Instant::now(),
        })
    }

    /// Seals under `session_key` alone, with no PKESK: only who holds that key (an item's
    /// own key, see `ring`) opens what it seals. Destroying the key destroys the data.
    pub fn with_key(session_key: SessionKey) -> Sealer {
        Sealer {
            session_key,
            pkesks: Vec::new(),
            born: std::time::Instant::now(),
        }
    }

    /// A writer that seals everything written to it into `out`, streaming (a backup): the
    /// PKESKs, then SEIPDv2 chunks; call `finalize` on it at the end.
    pub fn writer<'a, W: Write + Send + Sync + 'a>(
        &self,
        mut out: W,
    ) -> Result<openpgp::serialize::stream::Message<'a>, StoreError> {
        out.write_all(&self.pkesks).map_err(crypto_err)?;
        let encryptor = Encryptor::with_session_key(
            Message::new(out),
            SymmetricAlgorithm::AES256,
            self.session_key.clone(),
        )
        .map_err(crypto_err)?
        .aead_algo(AEADAlgorithm::GCM)
        .build()
        .map_err(crypto_err)?;
        LiteralWriter::new(encryptor).build().map_err(crypto_err)
    }

    pub fn is_stale(&self) -> bool {
        self.born.elapsed() > Self::LIFETIME
    }

    /// Encrypts the concatenation of `parts`, so a message and the trace header in front of
    /// it are not copied into one buffer first.
    pub fn seal(&self, parts: &[&[u8]]) -> Result<Vec<u8>, StoreError> {
        self.seal_with(parts, AEADAlgorithm::GCM)
    }

    fn seal_with(&self, parts: &[&[u8]], aead: AEADAlgorithm) -> Result<Vec<u8>, StoreError> {
        let mut sink = sink_for(parts, &self.pkesks);
        {
            let encryptor = Encryptor::with_session_key(
                Message::new(&mut sink),
                SymmetricAlgorithm::AES256,
                self.session_key.clone(),
            )
            .map_err(crypto_err)?
            .aead_algo(aead);
            write_literal(encryptor, parts)?;
        }
        Ok(sink)
    }
}

/// Decrypts a message encrypted to `key` (a certificate with unencrypted secret keys).
pub fn decrypt(key: &Cert, ciphertext: &[u8]) -> Result<Vec<u8>, StoreError> {
    decrypt_cached(key, ciphertext, None)
}

/// Like [`decrypt`], remembering session keys in `cache` by the PKESKs that carried them.
pub fn decrypt_cached(
    key: &Cert,
    ciphertext: &[u8],
    cache: Option<&SessionKeyCache>,
) -> Result<Vec<u8>, StoreError> {
    decrypt_inner(key, None, ciphertext, cache)
}

/// Decrypts what a [`Sealer::with_key`] sealed under `session_key`; what was sealed to
/// `key` (records from before items had keys of their own) still opens.
pub fn decrypt_with(
    key: &Cert,
    session_key: &SessionKey,
    ciphertext: &[u8],
    cache: Option<&SessionKeyCache>,
) -> Result<Vec<u8>, StoreError> {
    decrypt_inner(key, Some(session_key), ciphertext, cache)
}

fn decrypt_inner(
    key: &Cert,
    session_key: Option<&SessionKey>,
    ciphertext: &[u8],
    cache: Option<&SessionKeyCache>,
) -> Result<Vec<u8>, StoreError> {
    let p = policy();
    let helper = Helper {
        key,
        session_key,
        policy: &p,
        cache,
    };
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

/// A reader of what `Sealer::writer` (or any encryption to `key`) wrote into `input`,
/// decrypting as it reads: each AEAD chunk is authenticated before it is handed out.
pub fn decrypting_reader<'a, R: Read + Send + Sync + 'a>(
    key: &'a Cert,
    input: R,
) -> Result<impl Read + 'a, StoreError> {
    static POLICY: std::sync::OnceLock<StandardPolicy<'static>> = std::sync::OnceLock::new();
    let policy = POLICY.get_or_init(StandardPolicy::new);
    let helper = Helper {
        key,
        session_key: None,
        policy,
        cache: None,
    };
    DecryptorBuilder::from_reader(input)
        .map_err(crypto_err)?
        .with_policy(policy, None, helper)
        .map_err(|e| StoreError::Crypto(format!("cannot be opened with the store key: {e}")))
}

/// Session keys already recovered, by the PKESK packets that carried them. Records sealed by
/// one [`Sealer`] share their PKESKs, so reading many records (a listing, the escalation
/// pass) does one X25519 agreement per session key instead of one per record. The cache
/// holds nothing the store's secret key, which is in memory anyway, could not recover; it is
/// bounded and simply emptied when full.
#[derive(Default)]
pub struct SessionKeyCache {
    keys: std::sync::Mutex<std::collections::HashMap<Vec<u8>, Opened>>,
}

/// A recovered session key and the algorithm its PKESK named (v3 PKESKs name one).
type Opened = (Option<SymmetricAlgorithm>, SessionKey);

impl SessionKeyCache {
    const MAX: usize = 4096;

    fn key(pkesks: &[PKESK]) -> Option<Vec<u8>> {
        let mut k = Vec::new();
        for p in pkesks {
            k.extend(p.to_vec().ok()?);
        }
        Some(k)
    }

    fn get(&self, k: &[u8]) -> Option<Opened> {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(k)
            .cloned()
    }

    fn put(&self, k: Vec<u8>, v: Opened) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= Self::MAX {
            keys.clear();
        }
        keys.insert(k, v);
    }
}

struct Helper<'a> {
    key: &'a Cert,
    session_key: Option<&'a SessionKey>,
    policy: &'a StandardPolicy<'a>,
    cache: Option<&'a SessionKeyCache>,
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
        if let Some(sk) = self.session_key {
            if pkesks.is_empty() && decrypt(None, sk) {
                return Ok(None);
            }
        }
        let cached = self.cache.zip(SessionKeyCache::key(pkesks));
        if let Some((cache, k)) = &cached {
            if let Some((algo, sk)) = cache.get(k) {
                if decrypt(algo, &sk) {
                    return Ok(Some(self.key.clone()));
                }
            }
        }
        let mut opened = None;
        let mut remember = |algo: Option<SymmetricAlgorithm>, sk: &SessionKey| {
            let ok = decrypt(algo, sk);
            if ok {
                opened = Some((algo, sk.clone()));
            }
            ok
        };
        if open_session_key(self.key, self.policy, pkesks, sym_algo, &mut remember)? {
            if let (Some((cache, k)), Some(v)) = (cached, opened) {
                cache.put(k, v);
            }
            return Ok(Some(self.key.clone()));
        }
        Err(
            openpgp::Error::MissingSessionKey("no secret key here decrypts this message".into())
                .into(),
        )
    }
}

/// Tries every unencrypted secret encryption key of `key` on `pkesks`; true when one of them
/// yielded the session key that `decrypt` accepted. Shared by every decryption helper.
pub fn open_session_key(
    key: &Cert,
    policy: &StandardPolicy<'_>,
    pkesks: &[PKESK],
    sym_algo: Option<SymmetricAlgorithm>,
    decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
) -> openpgp::Result<bool> {
    let secret = || {
        key.keys()
            .unencrypted_secret()
            .with_policy(policy, None)
            .supported()
    };
    for ka in secret()
        .for_transport_encryption()
        .chain(secret().for_storage_encryption())
    {
        let mut pair = ka.key().clone().into_keypair()?;
        for pkesk in pkesks {
            if let Some((algo, sk)) = pkesk.decrypt(&mut pair, sym_algo) {
                if decrypt(algo, &sk) {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

/// Whether `bytes` is an OpenPGP message whose session key is encrypted to one of `key`'s
/// (sub)keys: what a store key rotation still has to seal again. Reads the PKESK headers
/// only; anything else (a record under an intake's own key, a value that is no OpenPGP
/// message) is not.
pub fn sealed_to(key: &Cert, bytes: &[u8]) -> bool {
    use openpgp::parse::{PacketParser, PacketParserResult};
    let Ok(mut ppr) = PacketParser::from_bytes(bytes) else {
        return false;
    };
    while let PacketParserResult::Some(pp) = ppr {
        let Packet::PKESK(pkesk) = &pp.packet else {
            return false;
        };
        if let Some(recipient) = pkesk.recipient() {
            if key.keys().any(|k| k.key().key_handle().aliases(&recipient)) {
                return true;
            }
        }
        ppr = match pp.next() {
            Ok((_, next)) => next,
            Err(_) => return false,
        };
    }
    false
}

/// Parses an armored or binary certificate or key.
pub fn parse_cert(bytes: &[u8]) -> Result<Cert, StoreError> {
    Cert::from_bytes(bytes).map_err(|e| StoreError::Key(format!("not an OpenPGP key: {e}")))
}

fn crypto_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Crypto(e.to_string())
}

pub mod agreement;

#[cfg(test)]
mod tests;
