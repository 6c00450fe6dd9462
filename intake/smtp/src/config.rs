//! What a session needs to know of the configuration: its name, its limits, its mailboxes
//! and who must use TLS.

use std::net::IpAddr;

use modtag_config::model::Cidr;
use modtag_config::Channel;

#[derive(Clone)]
pub struct SessionConfig {
    pub hostname: String,
    pub max_message_size: usize,
    pub max_recipients: usize,
    pub max_errors: u32,
    /// `(lowercased address, channel)`.
    pub mailboxes: Vec<(String, Channel)>,
    /// STARTTLS is offered (a certificate is loaded).
    pub tls_available: bool,
    /// Forced TLS: for everyone, for these sender domains, or for these client networks.
    pub require_tls: bool,
    pub require_tls_domains: Vec<String>,
    pub require_tls_networks: Vec<Cidr>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            hostname: "localhost".into(),
            max_message_size: 50 * 1024 * 1024,
            max_recipients: 100,
            max_errors: 10,
            mailboxes: Vec::new(),
            tls_available: false,
            require_tls: false,
            require_tls_domains: Vec::new(),
            require_tls_networks: Vec::new(),
        }
    }
}

impl SessionConfig {
    /// Whether mail from `sender` at `peer` must arrive over TLS.
    pub(super) fn tls_required(&self, sender: &str, peer: IpAddr) -> bool {
        let domain = sender
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase())
            .unwrap_or_default();
        self.require_tls
            || self.require_tls_networks.iter().any(|n| n.contains(peer))
            || self.require_tls_domains.iter().any(|d| {
                let d = d.to_ascii_lowercase();
                domain == d || domain.ends_with(&format!(".{d}"))
            })
    }

    pub(super) fn channel(&self, address: &str) -> Option<Channel> {
        let a = address.to_ascii_lowercase();
        self.mailboxes
            .iter()
            .find(|(m, _)| *m == a)
            .map(|(_, c)| *c)
    }
}
