//! A client certificate verifier that takes, of the certificates an authority issued, only
//! those named by their SHA-256 fingerprints: KOMBIT's Beskedfordeler posting Digital Post
//! receipts. OCES3's issuing authorities certify every Danish organisation's systems, so the
//! chain alone would let any of them say a letter about a child was delivered or failed.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};
use sha2::{Digest, Sha256};

#[derive(Debug)]
pub struct Pinned {
    /// The authority's chain check, done first.
    pub chain: Arc<dyn ClientCertVerifier>,
    pub fingerprints: Vec<[u8; 32]>,
    /// What the refusal's log line names the listener.
    pub listener: &'static str,
    /// When each refused fingerprint was last logged: once an hour each, so that a client
    /// that keeps trying does not fill the log.
    pub logged: std::sync::Mutex<std::collections::HashMap<[u8; 32], std::time::Instant>>,
}

impl Pinned {
    /// Whether a refusal of `fingerprint` is to be logged now.
    fn to_log(&self, fingerprint: [u8; 32]) -> bool {
        let hour = std::time::Duration::from_secs(3600);
        let mut logged = self.logged.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: fingerprints not seen for an hour are forgotten.
        logged.retain(|_, at| at.elapsed() < hour);
        match logged.get(&fingerprint) {
            Some(_) => false,
            None => {
                logged.insert(fingerprint, std::time::Instant::now());
                true
            }
        }
    }
}

impl ClientCertVerifier for Pinned {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.chain.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let verified = self
            .chain
            .verify_client_cert(end_entity, intermediates, now)?;
        let fingerprint: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if self.fingerprints.contains(&fingerprint) {
            return Ok(verified);
        }
        // A certificate's fingerprint is no personal data; it is what the operator adds
        // when KOMBIT has changed its certificate.
        if self.to_log(fingerprint) {
            tracing::warn!(
                listener = self.listener,
                fingerprint = %hex::encode(fingerprint),
                "a client certificate from the authority that is not one of client_certificates; refused (said once an hour)"
            );
        }
        Err(Error::InvalidCertificate(
            CertificateError::ApplicationVerificationFailure,
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.chain.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.chain.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.chain.supported_verify_schemes()
    }
}
