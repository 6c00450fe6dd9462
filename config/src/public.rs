//! `[public]`: the public listener for the web forms (Send sikkert and the underretning
//! form), apart from the staff's desk and API, which are never reachable through it.

use std::net::SocketAddr;

use serde::Deserialize;

use crate::cidr::Cidr;
use crate::tls_files::TlsFiles;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Public {
    /// Where the forms are served. Plain HTTP only on loopback; otherwise `tls`, or a
    /// TLS-terminating proxy in `trusted_proxies`.
    pub listen: SocketAddr,
    /// Proxies in front: a request from one is counted (for the rate limits) by the client
    /// it names in `X-Forwarded-For`; from anyone else that header is ignored.
    #[serde(default)]
    pub trusted_proxies: Vec<Cidr>,
    pub tls: Option<TlsFiles>,
    /// The address citizens and institutions reach the forms at (behind a proxy, the
    /// proxy's), for the one-time link in a kvittering that confirms a reporter's address.
    /// Left out: the listener's own when it is plain HTTP on loopback; otherwise no link
    /// (a person then confirms the address).
    pub url: Option<String>,
    /// Bytes a whole submission may be (fields and attachments); beyond, `413`.
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    /// Bytes one attachment may be; the types allowed are `[classify] attachment_types`.
    #[serde(default = "default_max_attachment_bytes")]
    pub max_attachment_bytes: usize,
    #[serde(default = "default_max_attachments")]
    pub max_attachments: usize,
    /// Submissions a minute from one client, and from everyone together; beyond, `429`.
    #[serde(default = "default_per_client")]
    pub submissions_per_minute_per_client: u32,
    #[serde(default = "default_all")]
    pub submissions_per_minute: u32,
    /// Open connections at most; beyond, `503`.
    #[serde(default = "default_connections")]
    pub max_connections: usize,
    /// Seconds a request's header may take, and its body as long again (`408`).
    #[serde(default = "default_timeout")]
    pub request_timeout_secs: u64,
}

impl Public {
    /// The forms' address without a trailing slash, when modtag knows it.
    pub fn forms_url(&self) -> Option<String> {
        match &self.url {
            Some(u) => Some(u.trim_end_matches('/').to_string()),
            None if self.plain_loopback() => Some(format!("http://{}", self.listen)),
            None => None,
        }
    }

    /// Plain HTTP on loopback with nothing in front: cookies go without `Secure`.
    pub fn plain_loopback(&self) -> bool {
        self.listen.ip().is_loopback() && self.trusted_proxies.is_empty() && self.tls.is_none()
    }
}

fn default_max_request_bytes() -> usize {
    26 * 1024 * 1024
}
fn default_max_attachment_bytes() -> usize {
    10 * 1024 * 1024
}
fn default_max_attachments() -> usize {
    5
}
fn default_per_client() -> u32 {
    10
}
fn default_all() -> u32 {
    300
}
fn default_connections() -> usize {
    256
}
fn default_timeout() -> u64 {
    60
}
