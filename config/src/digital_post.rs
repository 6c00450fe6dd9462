//! `[digital_post]`: letters to a private institution's Digital Post (its CVR) through
//! KOMBIT's Serviceplatformen, service SF1601 KombiPostAfsend (issue 30). The kommune's
//! OCES3 system certificate authenticates every call (mutual TLS) and is the key in the
//! token KOMBIT's security token service issues; its secret half is a file only modtag
//! reads (0600) or a systemd credential, named here and read by `modtag-intake`.
//! Left out, answers go by mail as before.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigitalPost {
    /// The kommune's CVR number: the sender of every letter, and the `AnvenderKontekst`
    /// the token is issued for.
    pub sender_cvr: String,
    /// The sender's name as the recipient sees it ("Fredericia Kommune").
    pub sender_label: String,
    /// KOMBIT's security token service (REST WS-Trust), e.g.
    /// `https://n2adgangsstyring.eksterntest-stoettesystemerne.dk/runtime/api/rest/wstrust/v1/issue`.
    pub sts_url: String,
    /// Serviceplatformen's access token service, e.g.
    /// `https://exttest.serviceplatformen.dk/service/AccessTokenService_1/token`.
    pub token_url: String,
    /// KombiPostAfsend, e.g. `https://exttest.serviceplatformen.dk/service/KombiPostAfsend_1/kombi`.
    pub service_url: String,
    /// The OCES3 system certificate (PEM), relative to this file.
    pub certificate: String,
    /// Its key (PEM): `credential:NAME` or a path, 0600.
    pub key: String,
    /// Certificate authorities (PEM) to trust for these services instead of the built-in
    /// web roots (the test environment's, or a kommune's TLS-inspecting proxy).
    #[serde(default)]
    pub ca_file: Option<String>,
    /// The service's entity id the token is asked for.
    #[serde(default = "default_entity")]
    pub service_entity_id: String,
    /// Where KOMBIT's Beskedfordeler delivers the letters' receipts; none when left out
    /// (the item then knows only that Serviceplatformen took a letter).
    #[serde(default)]
    pub receipts: Option<Receipts>,
}

/// `[digital_post.receipts]`: an HTTPS listener of its own for the Beskedfordeler's pushed
/// receipts (SF1461, `PKO_PostStatus`), at `POST /beskedfordeler`, taking only a client whose
/// certificate is from `client_ca_file` and is one of `client_certificates` (KOMBIT's).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipts {
    pub listen: std::net::SocketAddr,
    /// modtag's certificate and key for this listener.
    pub tls: crate::tls_files::TlsFiles,
    /// PEM certificates of the authorities whose client certificates may post receipts.
    pub client_ca_file: String,
    /// The SHA-256 fingerprints of the Beskedfordeler's own client certificates (more than
    /// one while KOMBIT changes it): the authority issues OCES3 certificates to every
    /// organisation, and a receipt says a child's letter was delivered or failed.
    #[serde(default)]
    pub client_certificates: Vec<String>,
}

impl Receipts {
    /// `client_certificates` as SHA-256 digests; the first that is not a fingerprint, with
    /// what is wrong with it.
    pub fn pinned(&self) -> Result<Vec<[u8; 32]>, String> {
        (self.client_certificates.iter())
            .map(|f| {
                fingerprint(f).ok_or_else(|| {
                    format!(
                        "digital_post.receipts.client_certificates: {f:?} is not a SHA-256 \
                         fingerprint (64 hexadecimal digits, colons allowed)"
                    )
                })
            })
            .collect()
    }
}

/// A SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` writes it (or without the
/// colons), as its 32 bytes.
pub fn fingerprint(text: &str) -> Option<[u8; 32]> {
    let hex: String = (text.chars())
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect();
    hex::decode(hex).ok()?.try_into().ok()
}

fn default_entity() -> String {
    "http://entityid.kombit.dk/service/kombipostafsend/1".into()
}

impl DigitalPost {
    /// The three addresses, each with what is wrong with it.
    pub fn urls(&self) -> [(&'static str, &str); 3] {
        [
            ("sts_url", &self.sts_url),
            ("token_url", &self.token_url),
            ("service_url", &self.service_url),
        ]
    }
}
