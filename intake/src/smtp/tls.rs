//! The STARTTLS server configuration: rustls with the ring provider, TLS 1.2 and 1.3 only.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use modtag_config::Config;
use tokio_rustls::TlsAcceptor;

pub const SELF_SIGNED_CERT: &str = "tls-cert.pem";
pub const SELF_SIGNED_KEY: &str = "tls-key.pem";

/// Builds the acceptor from the configured files, or from a self-signed pair in the data
/// directory (made on first use). Returns where the certificate came from.
pub fn acceptor(config: &Config, data: &Path) -> Result<(TlsAcceptor, PathBuf)> {
    let (cert_path, key_path) = match &config.smtp.tls {
        Some(files) => crate::tls::files(config, files, "smtp")?,
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
    Ok((crate::tls::acceptor(&cert_path, &key_path, &[])?, cert_path))
}
