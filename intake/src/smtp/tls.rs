//! The STARTTLS server configuration: rustls with the ring provider, TLS 1.2 and 1.3 only.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use modtag_config::Config;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

pub const SELF_SIGNED_CERT: &str = "tls-cert.pem";
pub const SELF_SIGNED_KEY: &str = "tls-key.pem";

/// Builds the acceptor from the configured files, or from a self-signed pair in the data
/// directory (made on first use). Returns where the certificate came from.
pub fn acceptor(config: &Config, data: &Path) -> Result<(TlsAcceptor, PathBuf)> {
    let (cert_path, key_path) = match &config.smtp.tls {
        Some(files) => {
            let path = |file: &str| {
                config
                    .secret_path(file)
                    .map_err(|e| anyhow::anyhow!("[smtp.tls]: {e}"))
            };
            (path(&files.cert_file)?, path(&files.key_file)?)
        }
        None => {
            let (c, k) = (data.join(SELF_SIGNED_CERT), data.join(SELF_SIGNED_KEY));
            if !c.exists() || !k.exists() {
                let generated =
                    rcgen::generate_simple_self_signed(vec![config.smtp.hostname.clone()])
                        .context("cannot generate a self-signed TLS certificate")?;
                let _ = std::fs::remove_file(&c);
                let _ = std::fs::remove_file(&k);
                modtag_storage::keys::write_secret(
                    &k,
                    generated.key_pair.serialize_pem().as_bytes(),
                )?;
                std::fs::write(&c, generated.cert.pem())
                    .with_context(|| format!("cannot write {}", c.display()))?;
            }
            (c, k)
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|it| it.collect())
        .map_err(|e| {
            anyhow::anyhow!("{}: not a PEM certificate chain: {e}", cert_path.display())
        })?;
    if certs.is_empty() {
        anyhow::bail!("{}: holds no certificate", cert_path.display());
    }
    // The key file must be private, like every other secret.
    let key_pem = modtag_storage::keys::read_secret(&key_path)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| anyhow::anyhow!("{}: not a PEM private key: {e}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .with_context(|| {
            format!(
                "{} and {} do not make a usable TLS identity",
                cert_path.display(),
                key_path.display()
            )
        })?;
    Ok((TlsAcceptor::from(Arc::new(server)), cert_path))
}
