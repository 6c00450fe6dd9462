//! A TLS server identity from PEM files, for STARTTLS and for the HTTP listener: rustls
//! with the ring provider, TLS 1.2 and 1.3 only, the key file private (0600) like every
//! other secret.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The server configuration for the certificate chain in `cert_path` and the key in
/// `key_path`, offering the ALPN protocols `alpn` (none for SMTP).
pub fn server_config(
    cert_path: &Path,
    key_path: &Path,
    alpn: &[&[u8]],
) -> Result<rustls::ServerConfig> {
    server_config_for(cert_path, key_path, alpn, None)
}

mod pinned;

/// [`server_config`] that takes only clients with a certificate from the authorities in
/// `client_ca` (PEM) whose SHA-256 fingerprint is one of `fingerprints`: KOMBIT's
/// Beskedfordeler posting receipts.
pub fn server_config_for_clients(
    cert_path: &Path,
    key_path: &Path,
    client_ca: &Path,
    fingerprints: Vec<[u8; 32]>,
) -> Result<rustls::ServerConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(client_ca)
        .map_err(|e| anyhow::anyhow!("{}: not PEM certificates: {e}", client_ca.display()))?
    {
        let cert = cert
            .map_err(|e| anyhow::anyhow!("{}: not PEM certificates: {e}", client_ca.display()))?;
        roots
            .add(cert)
            .map_err(|e| anyhow::anyhow!("{}: not a usable authority: {e}", client_ca.display()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| anyhow::anyhow!("{}: {e}", client_ca.display()))?;
    let verifier = Arc::new(pinned::Pinned {
        chain: verifier,
        fingerprints,
        listener: "digital_post.receipts",
        logged: Default::default(),
    });
    server_config_for(cert_path, key_path, &[b"http/1.1"], Some(verifier))
}

fn server_config_for(
    cert_path: &Path,
    key_path: &Path,
    alpn: &[&[u8]],
    clients: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
) -> Result<rustls::ServerConfig> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .and_then(|it| it.collect())
        .map_err(|e| {
            anyhow::anyhow!("{}: not a PEM certificate chain: {e}", cert_path.display())
        })?;
    if certs.is_empty() {
        anyhow::bail!("{}: holds no certificate", cert_path.display());
    }
    let key_pem = modtag_storage::keys::read_secret(key_path)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| anyhow::anyhow!("{}: not a PEM private key: {e}", key_path.display()))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS protocol versions")?;
    let builder = match clients {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut server = builder.with_single_cert(certs, key).with_context(|| {
        format!(
            "{} and {} do not make a usable TLS identity",
            cert_path.display(),
            key_path.display()
        )
    })?;
    server.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(server)
}

/// The certificate and key files `[section] tls` names (each may be a systemd credential).
pub fn files(
    config: &modtag_config::Config,
    files: &modtag_config::model::TlsFiles,
    section: &str,
) -> Result<(PathBuf, PathBuf)> {
    let path = |file: &str| {
        config
            .secret_path(file)
            .map_err(|e| anyhow::anyhow!("[{section}.tls]: {e}"))
    };
    Ok((path(&files.cert_file)?, path(&files.key_file)?))
}

/// What `modtag config check` reads beyond the configuration crate, as start-up would
/// (which refuses to start on any of them): the listeners' certificates and keys, MitID
/// Erhverv's metadata, keys and `xmlsec1`, Digital Post's certificate and key, and the
/// receipts listener's identity and client authorities, the case system's certificate and
/// drop directories. The first problem, with its file.
pub async fn check_files(cfg: &modtag_config::Loaded) -> Result<()> {
    let c = &cfg.config;
    let identities = [
        (c.smtp.tls.as_ref(), "smtp"),
        (c.http.tls.as_ref(), "http"),
        (c.public.as_ref().and_then(|p| p.tls.as_ref()), "public"),
    ];
    for (named, section) in identities {
        if let Some(named) = named {
            let (cert, key) = files(c, named, section)?;
            server_config(&cert, &key, &[])?;
        }
    }
    crate::delivery::sf1601::Sf1601::load(cfg).map_err(anyhow::Error::msg)?;
    crate::journal::hook::Hook::load(cfg).map_err(anyhow::Error::msg)?;
    crate::identity::saml::Saml::load(cfg)
        .await
        .map_err(anyhow::Error::msg)?;
    if let Some(r) = c.digital_post.as_ref().and_then(|d| d.receipts.as_ref()) {
        let (cert, key) = files(c, &r.tls, "digital_post.receipts")?;
        let ca = c
            .secret_path(&r.client_ca_file)
            .map_err(|e| anyhow::anyhow!("digital_post.receipts.client_ca_file: {e}"))?;
        server_config_for_clients(&cert, &key, &ca, r.pinned().map_err(anyhow::Error::msg)?)?;
    }
    Ok(())
}

/// An acceptor for the identity in `cert_path` and `key_path` (see [`server_config`]).
pub fn acceptor(cert_path: &Path, key_path: &Path, alpn: &[&[u8]]) -> Result<TlsAcceptor> {
    let server = server_config(cert_path, key_path, alpn)?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}
