//! Sealing and opening, round trip: formats at rest and for GnuPG 2.2, shared session keys.

use super::agreement::{Recipients, SharedKey};
use super::*;
use openpgp::Packet;
use openpgp::PacketPile;

/// At rest we write SEIPDv2 (AEAD), but records written earlier as SEIPDv1 must still
/// open, and e-mail copies stay v1 for GnuPG 2.2.
#[test]
fn at_rest_is_aead_and_old_records_still_open() {
    let key = crate::keys::generate_key("test <t@localhost>").unwrap();
    let plain = b"Bekymring for barnet".repeat(500);
    let seip_version = |bytes: &[u8]| {
        PacketPile::from_bytes(bytes)
            .unwrap()
            .descendants()
            .find_map(|p| match p {
                Packet::SEIP(s) => Some(s.version()),
                _ => None,
            })
    };
    let sealer = Sealer::new(&[&key]).unwrap();
    let v2 = sealer.seal(&[&plain]).unwrap();
    // Parts are one plaintext, in order (one literal packet of their length).
    let (a, b) = plain.split_at(7);
    assert_eq!(
        decrypt(&key, &sealer.seal(&[a, b]).unwrap()).unwrap(),
        plain
    );
    assert_eq!(
        decrypt(&key, &sealer.seal(&[b"", a, b"", b]).unwrap()).unwrap(),
        plain
    );
    assert_eq!(decrypt(&key, &sealer.seal(&[]).unwrap()).unwrap(), b"");
    assert_eq!(seip_version(&v2), Some(2));
    assert_eq!(decrypt(&key, &v2).unwrap(), plain);
    // Records written as SEIPDv2 with OCB (before GCM) still open.
    let ocb = sealer.seal_with(&[&plain], AEADAlgorithm::OCB).unwrap();
    assert_eq!(seip_version(&ocb), Some(2));
    assert_eq!(decrypt(&key, &ocb).unwrap(), plain);
    // Records sealed under one session key each open on their own, and differ (a fresh
    // salt each) even for the same plaintext.
    let (one, two) = (
        sealer.seal(&[&plain]).unwrap(),
        sealer.seal(&[&plain]).unwrap(),
    );
    assert_ne!(one, two);
    assert_eq!(decrypt(&key, &one).unwrap(), plain);
    assert_eq!(decrypt(&key, &two).unwrap(), plain);
    let other = crate::keys::generate_key("other <o@localhost>").unwrap();
    assert!(decrypt(&other, &one).is_err());
    // Reading them through a session-key cache: one entry for the shared PKESK, the
    // second record opened from it, a damaged record still refused.
    let cache = SessionKeyCache::default();
    assert_eq!(decrypt_cached(&key, &one, Some(&cache)).unwrap(), plain);
    assert_eq!(decrypt_cached(&key, &two, Some(&cache)).unwrap(), plain);
    assert_eq!(cache.keys.lock().unwrap().len(), 1);
    let mut damaged = two.clone();
    let n = damaged.len() - 40;
    damaged[n] ^= 1;
    assert!(decrypt_cached(&key, &damaged, Some(&cache)).is_err());
    assert!(decrypt_cached(&other, &one, Some(&SessionKeyCache::default())).is_err());
    let v1 = encrypt(&[&key], &plain).unwrap();
    assert_eq!(seip_version(&v1), Some(1));
    assert_eq!(decrypt(&key, &v1).unwrap(), plain);
    // A flipped byte in an AEAD chunk is refused, not returned.
    let mut bad = v2.clone();
    let n = bad.len() - 100;
    bad[n] ^= 1;
    assert!(decrypt(&key, &bad).is_err());
}

/// Texts encrypted under one shared key each open on their own, under one PKESK; another
/// shared key makes another, with its own session key, under the same agreement while that
/// is fresh (the ephemeral key in the PKESK is the same), and a new agreement after.
#[test]
fn each_under_a_shared_key_opens_alone() {
    let key = crate::keys::generate_key("auditor <a@localhost>").unwrap();
    let texts: [&[u8]; 3] = [b"received", b"parsed", &[7u8; 70_000]];
    let recipients = Recipients::new(std::slice::from_ref(&key)).unwrap();
    let shared = SharedKey::new(&recipients).unwrap();
    let sealed: Vec<Vec<u8>> = texts.iter().map(|t| shared.encrypt(t).unwrap()).collect();
    for (text, c) in texts.iter().zip(&sealed) {
        assert_eq!(decrypt(&key, c).unwrap(), *text);
        assert_eq!(pkesk(c), pkesk(&sealed[0]));
    }
    let again = SharedKey::new(&recipients)
        .unwrap()
        .encrypt(texts[0])
        .unwrap();
    assert_eq!(decrypt(&key, &again).unwrap(), texts[0]);
    assert_ne!(pkesk(&again), pkesk(&sealed[0]));
    assert_ne!(session_key(&key, &again), session_key(&key, &sealed[0]));
    assert_eq!(ephemeral(&again), ephemeral(&sealed[0]));
    let later = Recipients::new(std::slice::from_ref(&key)).unwrap();
    let later = SharedKey::new(&later).unwrap().encrypt(texts[0]).unwrap();
    assert_eq!(decrypt(&key, &later).unwrap(), texts[0]);
    assert_ne!(ephemeral(&later), ephemeral(&sealed[0]));
    let other = crate::keys::generate_key("other <o@localhost>").unwrap();
    assert!(decrypt(&other, &sealed[1]).is_err());
}

/// A key that is not ECDH on Curve25519 (here RSA) gets a PKESK of sequoia's making each
/// time, beside the agreed one; each recipient opens the message alone.
#[test]
fn other_kinds_of_keys_are_wrapped_by_sequoia() {
    use openpgp::cert::{CertBuilder, CipherSuite};
    let (rsa, _) = CertBuilder::general_purpose(Some("rsa <r@localhost>"))
        .set_cipher_suite(CipherSuite::RSA2k)
        .generate()
        .unwrap();
    let cv = crate::keys::generate_key("auditor <a@localhost>").unwrap();
    let recipients = Recipients::new(&[cv.clone(), rsa.clone()]).unwrap();
    let sealed = SharedKey::new(&recipients).unwrap().encrypt(b"x").unwrap();
    assert_eq!(decrypt(&cv, &sealed).unwrap(), b"x");
    assert_eq!(decrypt(&rsa, &sealed).unwrap(), b"x");
}

fn pkesk(bytes: &[u8]) -> PKESK {
    let pile = PacketPile::from_bytes(bytes).unwrap();
    match pile.descendants().next() {
        Some(Packet::PKESK(p)) => p.clone(),
        other => panic!("a PKESK first, not {other:?}"),
    }
}

fn ephemeral(bytes: &[u8]) -> Vec<u8> {
    match pkesk(bytes).esk() {
        openpgp::crypto::mpi::Ciphertext::ECDH { e, .. } => e.value().to_vec(),
        other => panic!("an ECDH PKESK, not {other:?}"),
    }
}

fn session_key(key: &Cert, bytes: &[u8]) -> Vec<u8> {
    let mut found = None;
    let mut take = |_: Option<SymmetricAlgorithm>, sk: &SessionKey| {
        found = Some(sk.to_vec());
        true
    };
    open_session_key(key, &policy(), &[pkesk(bytes)], None, &mut take).unwrap();
    found.expect("the key opens the PKESK")
}
