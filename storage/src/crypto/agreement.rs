//! The recipients of a stream of small messages (the audit log's entries), with the X25519
//! key agreement behind each recipient's PKESK made once a second instead of once a message
//! (issue 33: it was a tenth of intake's CPU time).
//!
//! OpenPGP's ECDH (RFC 6637) wraps a message's session key under a key-encryption key
//! derived from an agreement between a fresh ephemeral key and the recipient's key. The
//! agreement is the costly part (two scalar multiplications); the wrap is an AES key wrap.
//! Here one ephemeral key, and the key-encryption key derived from it, serve the PKESKs
//! made within [`LIFETIME`]: every message still has its own random session key and its own
//! PKESK, and opens on its own in any OpenPGP implementation (GnuPG 2.2 too). AES key wrap
//! is made for wrapping many keys under one key-encryption key. What the reuse changes:
//! whoever holds that second's key-encryption key opens that second's PKESKs, where one
//! agreement per message would give them one. It is held in memory only: the store drops it
//! when it is a second old (the daemon asks every second, `Store::forget_old_agreements`),
//! as the entries' plaintext is dropped once sealed. The session key of one entry still
//! opens only the entries it sealed, and which entries share an ephemeral key says only
//! that they were written in the same second, which their times say anyway.

use std::time::{Duration, Instant};

use openpgp::crypto::mem::Protected;
use openpgp::crypto::mpi::{Ciphertext, PublicKey, MPI};
use openpgp::crypto::SessionKey;
use openpgp::packet::key::{PublicParts, UnspecifiedRole};
use openpgp::packet::pkesk::PKESK3;
use openpgp::packet::{Key, Packet};
use openpgp::serialize::Serialize;
use openpgp::types::{Curve, PublicKeyAlgorithm, SymmetricAlgorithm};
use openpgp::Cert;
use sequoia_openpgp as openpgp;

use openpgp::serialize::stream::{Encryptor, Message};

use super::{crypto_err, encrypt, encryption_keys, policy, sink_for, write_literal};
use crate::StoreError;

/// How long one agreement serves.
pub const LIFETIME: Duration = Duration::from_secs(1);

/// The certificates' encryption keys, each with its agreement made (see the module).
pub struct Recipients {
    certs: Vec<Cert>,
    made: Instant,
    /// None when every recipient reads SEIPDv2: they get what [`super::encrypt`] makes,
    /// one message at a time.
    keys: Option<Vec<Recipient>>,
}

struct Recipient {
    key: Key<PublicParts, UnspecifiedRole>,
    wrap: Wrap,
}

enum Wrap {
    /// ECDH on Curve25519: the ephemeral public key as the PKESK carries it, and the
    /// key-encryption key derived from the agreement.
    Agreed {
        ephemeral: MPI,
        kek: Protected,
        sym: SymmetricAlgorithm,
    },
    /// Any other kind of key (RSA, or RFC 9580's X25519): sequoia makes each PKESK whole.
    EachTime,
}

impl Recipients {
    pub fn new(certs: &[Cert]) -> Result<Recipients, StoreError> {
        use openpgp::cert::amalgamation::ValidAmalgamation;
        use openpgp::cert::Preferences;
        let p = policy();
        let refs: Vec<&Cert> = certs.iter().collect();
        let valid = encryption_keys(&refs, &p)?;
        let v2 = valid
            .iter()
            .all(|ka| (ka.valid_cert().features()).is_some_and(|f| f.supports_seipdv2()));
        let keys = if v2 {
            None
        } else {
            let keys = valid.iter().map(|ka| {
                let key = ka.key().clone();
                agree(&key).map(|wrap| Recipient { key, wrap })
            });
            Some(keys.collect::<Result<_, _>>()?)
        };
        Ok(Recipients {
            certs: certs.to_vec(),
            made: Instant::now(),
            keys,
        })
    }

    /// Whether the agreements may still serve.
    pub fn fresh(&self) -> bool {
        self.made.elapsed() < LIFETIME
    }

    /// As if made `ago` earlier (tests of what keeps them).
    #[cfg(test)]
    pub(crate) fn aged(mut self, ago: Duration) -> Recipients {
        self.made -= ago;
        self
    }

    pub fn certs(&self) -> &[Cert] {
        &self.certs
    }

    /// A new session key and its PKESKs (v3), serialized; none when every recipient reads
    /// SEIPDv2.
    pub(super) fn new_session_key(&self) -> Result<Option<(SessionKey, Vec<u8>)>, StoreError> {
        let Some(keys) = &self.keys else {
            return Ok(None);
        };
        let algo = SymmetricAlgorithm::default();
        let session_key =
            SessionKey::new(algo.key_size().map_err(crypto_err)?).map_err(crypto_err)?;
        let mut pkesks = Vec::new();
        for r in keys {
            let pkesk = match &r.wrap {
                Wrap::Agreed {
                    ephemeral,
                    kek,
                    sym,
                } => {
                    let esk = Ciphertext::ECDH {
                        e: ephemeral.clone(),
                        key: wrap(kek, *sym, algo, &session_key)?.into_boxed_slice(),
                    };
                    PKESK3::new(Some(r.key.keyid()), PublicKeyAlgorithm::ECDH, esk)
                }
                Wrap::EachTime => PKESK3::for_recipient(algo, &session_key, &r.key),
            };
            let pkesk = pkesk.map_err(crypto_err)?;
            (Packet::from(pkesk).serialize(&mut pkesks)).map_err(crypto_err)?;
        }
        Ok(Some((session_key, pkesks)))
    }
}

/// Messages to the recipients under one session key, each as [`encrypt`] would make it:
/// the key agreements behind the PKESKs are made once a second for all of them (see
/// `agreement`) instead of once per message (the audit entries of one commit were a tenth
/// of intake's CPU time, issue 33). Each message still carries the PKESKs and opens on its
/// own, GnuPG 2.2 too; whoever is shown the session key of one reads the others, so one
/// `SharedKey` seals only texts about one change.
pub struct SharedKey<'a> {
    recipients: &'a Recipients,
    /// The session key and its PKESKs (v3), or none when every recipient reads SEIPDv2:
    /// they get what `encrypt` gives them, one message at a time.
    shared: Option<(SessionKey, Vec<u8>)>,
}

impl<'a> SharedKey<'a> {
    pub fn new(recipients: &'a Recipients) -> Result<SharedKey<'a>, StoreError> {
        Ok(SharedKey {
            recipients,
            shared: recipients.new_session_key()?,
        })
    }

    /// `text`, encrypted to the recipients as a message of its own.
    pub fn encrypt(&self, text: &[u8]) -> Result<Vec<u8>, StoreError> {
        let Some((session_key, pkesks)) = &self.shared else {
            let certs: Vec<&Cert> = self.recipients.certs().iter().collect();
            return encrypt(&certs, text);
        };
        let mut sink = sink_for(&[text], pkesks);
        let algo = SymmetricAlgorithm::default();
        let encryptor =
            Encryptor::with_session_key(Message::new(&mut sink), algo, session_key.clone())
                .map_err(crypto_err)?;
        write_literal(encryptor, &[text])?;
        Ok(sink)
    }
}

/// The agreement with `key` and the key-encryption key derived from it, as RFC 6637
/// sections 7 and 8 make them (and sequoia's `Key::encrypt` does for each message).
fn agree(key: &Key<PublicParts, UnspecifiedRole>) -> Result<Wrap, StoreError> {
    let PublicKey::ECDH {
        curve: Curve::Cv25519,
        q,
        hash,
        sym,
    } = key.mpis()
    else {
        return Ok(Wrap::EachTime);
    };
    let (point, _) = q.decode_point(&Curve::Cv25519).map_err(crypto_err)?;
    let point: [u8; 32] = point.try_into().map_err(crypto_err)?;
    let mut secret = Protected::new(32);
    openpgp::crypto::random(&mut secret).map_err(crypto_err)?;
    let secret =
        x25519_dalek::StaticSecret::from(<[u8; 32]>::try_from(&secret[..]).map_err(crypto_err)?);
    let ephemeral = x25519_dalek::PublicKey::from(&secret);
    let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(point));
    // A point of small order (a broken or hostile certificate) gives a shared secret anyone
    // can compute: refuse to wrap keys under it.
    if !shared.was_contributory() {
        return Err(StoreError::Crypto(format!(
            "{}: its Curve25519 point is of small order; no key agreement with it",
            key.fingerprint()
        )));
    }
    // Param = curve OID || public key algorithm || KDF parameters || "Anonymous Sender    "
    // || the recipient's fingerprint; Z = hash(00 00 00 01 || S || Param), truncated.
    let oid = Curve::Cv25519.oid();
    let mut param = vec![oid.len() as u8];
    param.extend_from_slice(oid);
    param.push(PublicKeyAlgorithm::ECDH.into());
    param.extend_from_slice(&[3, 1, (*hash).into(), (*sym).into()]);
    param.extend_from_slice(b"Anonymous Sender    ");
    param.extend_from_slice(key.fingerprint().as_bytes());
    let mut kdf = hash.context().map_err(crypto_err)?.for_digest();
    let size = sym.key_size().map_err(crypto_err)?;
    if size > kdf.digest_size() {
        return Err(StoreError::Crypto(format!(
            "{}: its KDF hash is too short for its key wrap cipher",
            key.fingerprint()
        )));
    }
    kdf.update(&[0, 0, 0, 1]);
    kdf.update(shared.as_bytes());
    kdf.update(&param);
    let mut kek = Protected::new(size);
    kdf.digest(&mut kek).map_err(crypto_err)?;
    Ok(Wrap::Agreed {
        ephemeral: MPI::new_compressed_point(ephemeral.as_bytes()),
        kek,
        sym: *sym,
    })
}

/// `session_key` for `algo`, with its checksum and padded to 40 octets, wrapped under `kek`
/// (RFC 6637 section 8).
fn wrap(
    kek: &Protected,
    sym: SymmetricAlgorithm,
    algo: SymmetricAlgorithm,
    session_key: &SessionKey,
) -> Result<Vec<u8>, StoreError> {
    // Algorithm, key and checksum fit in 40 octets for every cipher OpenPGP has (AES-256's
    // 32-octet key the longest); anything longer is refused, not cut.
    let end = session_key.len() + 3;
    if end > 40 {
        return Err(StoreError::Crypto(format!(
            "a {}-octet session key does not fit an ECDH key wrap",
            session_key.len()
        )));
    }
    let checksum = (session_key.iter()).fold(0u16, |sum, b| sum.wrapping_add(u16::from(*b)));
    let mut m = Protected::new(40);
    m[0] = algo.into();
    m[1..=session_key.len()].copy_from_slice(session_key);
    m[end - 2..end].copy_from_slice(&checksum.to_be_bytes());
    let pad = 40 - end;
    m[end..].fill(pad as u8);
    openpgp::crypto::ecdh::aes_key_wrap(sym, kek, &m).map_err(crypto_err)
}
