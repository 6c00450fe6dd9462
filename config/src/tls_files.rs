//! A listener's own certificate and key (`[http.tls]`, `[public.tls]`).

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// PEM certificate chain, relative to the configuration file.
    pub cert_file: String,
    /// PEM private key, relative to the configuration file; must be 0600. Either may be
    /// `credential:NAME`, a systemd credential (see
    /// [`Config::secret_path`](crate::model::Config::secret_path)).
    pub key_file: String,
}
