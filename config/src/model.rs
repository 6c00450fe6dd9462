//! The main configuration file, `modtag.toml`.

use serde::Deserialize;
use std::net::SocketAddr;

/// Which desk a mailbox feeds: Modtagelsen's underretninger, Journalen's TRIVSEL+
/// postfordeling case, or journal staff forwarding mail on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Underretning,
    Trivselplus,
    Postfordeling,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Underretning => "underretning",
            Channel::Trivselplus => "trivselplus",
            Channel::Postfordeling => "postfordeling",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "underretning" => Some(Channel::Underretning),
            "trivselplus" => Some(Channel::Trivselplus),
            "postfordeling" => Some(Channel::Postfordeling),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub smtp: Smtp,
    pub http: Http,
    #[serde(rename = "mailbox")]
    pub mailboxes: Vec<Mailbox>,
    pub relay: Relay,
    #[serde(default)]
    pub triage: Triage,
    pub policy: PolicyFiles,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub listen: SocketAddr,
    /// The name modtag gives in its greeting and `Received:` header.
    pub hostname: String,
    #[serde(default = "default_max_message_size")]
    pub max_message_size: usize,
    #[serde(default = "default_max_recipients")]
    pub max_recipients: usize,
    /// RFC 5321 §4.5.3.2 allows 5 minutes for a command; we use the same for idle time.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
    #[serde(default = "default_max_errors")]
    pub max_errors: u32,
}

fn default_max_message_size() -> usize {
    50 * 1024 * 1024
}
fn default_max_recipients() -> usize {
    100
}
fn default_idle_timeout() -> u64 {
    300
}
fn default_max_errors() -> u32 {
    10
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mailbox {
    pub address: String,
    pub channel: Channel,
}

/// How the relay connection is protected. Datatilsynet requires forced TLS 1.2+ for
/// personal data by e-mail; `none` exists for a relay on loopback only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelayTls {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relay {
    pub host: String,
    pub port: u16,
    pub tls: RelayTls,
    /// Envelope sender and `From:` of everything modtag delivers.
    pub from: String,
    #[serde(default = "default_retry_initial")]
    pub retry_initial_secs: u64,
    #[serde(default = "default_retry_max")]
    pub retry_max_secs: u64,
}

fn default_retry_initial() -> u64 {
    30
}
fn default_retry_max() -> u64 {
    3600
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Triage {
    /// Barnets lov § 133: every underretning is assessed within 24 hours of receipt.
    #[serde(default = "default_assessment_hours")]
    pub assessment_hours: i64,
    /// DOMAIN.md: a valid CPR matching exactly one open case forwards at once (on by default).
    #[serde(default = "default_true")]
    pub auto_link: bool,
}

impl Default for Triage {
    fn default() -> Self {
        Triage {
            assessment_hours: default_assessment_hours(),
            auto_link: true,
        }
    }
}

fn default_assessment_hours() -> i64 {
    24
}
fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFiles {
    /// Path of the directory file, relative to this file.
    pub directory: String,
    /// Path of the beslutningstræ file, relative to this file.
    pub beslutningstrae: String,
}

impl Config {
    /// The channel a recipient address feeds, if it is one of ours. Matching is
    /// case-insensitive, as mail systems treat the domain and (in practice) the local part.
    pub fn mailbox(&self, address: &str) -> Option<Channel> {
        self.mailboxes
            .iter()
            .find(|m| m.address.eq_ignore_ascii_case(address))
            .map(|m| m.channel)
    }
}
