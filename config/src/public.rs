//! `[public]`: the public listener for the web forms (Send sikkert and the underretning
//! form), apart from the staff's desk and API, which are never reachable through it; and
//! `[public.privacy]`, what both forms tell a person about how their data is processed.

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
    /// The privacy notice both forms show. Optional for serde only so that a missing one
    /// is reported by `check` with what to write; a configuration with `[public]` and
    /// without it does not load.
    #[serde(default)]
    pub privacy: Option<Privacy>,
    /// Sign-in with MitID Erhverv through NemLog-in (issue 30); left out, no sign-in.
    #[serde(default)]
    pub mitid_erhverv: Option<crate::mitid::MitIdErhverv>,
}

/// `[public.privacy]`: what a data controller owes the person it collects data from (GDPR
/// art. 13), shown on both forms before they are sent. The kommune writes it (with its
/// data protection officer), in Danish, as the person is to read it; modtag adds no words
/// of its own, because the legal basis and the retention are the kommune's to state. Each
/// field is required and may not be empty; a list is shown as a bulleted list.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Privacy {
    /// The data controller: the kommune's name, address and CVR number (and how to reach
    /// it). Art. 13(1)(a).
    pub controller: String,
    /// What the data is used for. Art. 13(1)(c).
    pub purpose: String,
    /// The legal basis: the acts' sections and the articles of the regulation. Art. 13(1)(c).
    pub legal_basis: String,
    /// Who receives the data, one entry each. Art. 13(1)(e).
    pub recipients: Vec<String>,
    /// How long the data is kept, or how that is decided. Art. 13(2)(a).
    pub retention: String,
    /// The person's rights (indsigt, berigtigelse, sletning, begrænsning, indsigelse) as
    /// the law gives them here, one entry each. Art. 13(2)(b).
    pub rights: Vec<String>,
    /// Where to complain: Datatilsynet and how to reach it. Art. 13(2)(d).
    pub complaint: String,
    /// How to reach the data protection officer (databeskyttelsesrådgiveren).
    /// Art. 13(1)(b).
    pub dpo: String,
}

impl Privacy {
    /// The fields that are empty (or only white space), by their keys.
    pub fn empty_fields(&self) -> Vec<&'static str> {
        let blank = |s: &str| s.trim().is_empty();
        let blank_list = |l: &[String]| l.is_empty() || l.iter().any(|s| blank(s));
        [
            ("controller", blank(&self.controller)),
            ("purpose", blank(&self.purpose)),
            ("legal_basis", blank(&self.legal_basis)),
            ("recipients", blank_list(&self.recipients)),
            ("retention", blank(&self.retention)),
            ("rights", blank_list(&self.rights)),
            ("complaint", blank(&self.complaint)),
            ("dpo", blank(&self.dpo)),
        ]
        .into_iter()
        .filter_map(|(key, empty)| empty.then_some(key))
        .collect()
    }
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
