//! The main configuration file, `modtag.toml`.

use serde::Deserialize;
use std::net::SocketAddr;

pub use crate::cidr::Cidr;
pub use crate::classify::Classify;
pub use crate::tls_files::TlsFiles;
pub use crate::vocab::Channel;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub smtp: Smtp,
    pub http: Http,
    #[serde(rename = "mailbox")]
    pub mailboxes: Vec<Mailbox>,
    pub relay: Relay,
    /// Whose pages these are: the kommune's name, logo, contact and accessibility statement.
    #[serde(default)]
    pub kommune: crate::kommune::Kommune,
    #[serde(default)]
    pub triage: Triage,
    #[serde(default)]
    pub sender_auth: SenderAuth,
    #[serde(default)]
    pub classify: Classify,
    #[serde(default)]
    pub kvittering: KvitteringSettings,
    #[serde(default)]
    pub audit: AuditSettings,
    /// How the daemon writes its log lines (`--log-format` and `MODTAG_LOG_FORMAT` win).
    #[serde(default)]
    pub log: Log,
    #[serde(default)]
    pub cli: Cli,
    /// The kommune's identity provider; built-in accounts only when left out.
    pub oidc: Option<Oidc>,
    /// The public web forms' own listener; none when left out.
    pub public: Option<crate::public::Public>,
    /// Letters to a CVR's Digital Post through SF1601 (issue 30); by mail when left out.
    #[serde(default)]
    pub digital_post: Option<crate::digital_post::DigitalPost>,
    /// The TRIVSEL+ forløb's start-meeting slots, rules and reminders.
    #[serde(default)]
    pub trivsel: crate::trivsel::Trivsel,
    /// How long intakes and failed deliveries are kept; nothing is erased when left out.
    #[serde(default)]
    pub retention: crate::retention::Retention,
    /// Journal packages: the KLE emne per kind, and a case system's drop directory.
    #[serde(default)]
    pub journal: crate::journal::Journal,
    /// The store and blind-index keys apart from the data directory; in it when left out.
    pub keys: Option<crate::key_files::KeyFiles>,
    pub policy: PolicyFiles,
    /// Directory of the configuration file, for resolving relative paths (`None` for the
    /// embedded default).
    #[serde(skip)]
    pub base_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub listen: SocketAddr,
    /// The name modtag gives in its greeting and `Received:` header.
    pub hostname: String,
    #[serde(default = "default_max_message_size")]
    pub max_message_size: usize,
    #[serde(default = "default_max_recipients")]
    pub max_recipients: usize,
    /// RFC 5321 §4.5.3.2 allows 5 minutes for a command: the whole command line must
    /// arrive within this time of the previous reply (not each read, or a client sending a
    /// byte a minute could hold a session for ever).
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
    #[serde(default = "default_max_errors")]
    pub max_errors: u32,
    /// RFC 5321 §4.5.3.2 gives 3 minutes per data block and 10 for the final dot. A message
    /// (or BDAT chunk) must arrive within this time plus one second per `min_data_rate`
    /// bytes received, like Postfix's `smtpd_per_request_deadline` with
    /// `smtpd_min_data_rate`: a slow-loris sender is cut off, a slow link is not.
    #[serde(default = "default_data_timeout")]
    pub data_timeout_secs: u64,
    /// Bytes per second a message must at least arrive at, beyond `data_timeout_secs`.
    #[serde(default = "default_min_data_rate")]
    pub min_data_rate: u64,
    /// Free space the data directory must keep: below it (plus the client's `SIZE=`), `MAIL
    /// FROM` gets `452 4.3.1` before any message is sent. Default: one and a half times
    /// `max_message_size`, as Postfix's smtpd does; 0 turns the check off.
    pub min_free_bytes: Option<u64>,
    /// Bytes of messages held in memory across all sessions at once; past it a new message
    /// gets "452 4.3.1" (at MAIL FROM, or at the end of one that outgrew its place) rather
    /// than the process running out of memory. At least max_message_size.
    #[serde(default = "default_memory_budget")]
    pub max_memory_bytes: usize,
    /// Concurrent sessions, in all and from one client address; beyond: `421 4.7.0`.
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
    #[serde(default = "default_max_sessions_per_client")]
    pub max_sessions_per_client: usize,
    /// Messages one client address may start per minute; beyond: `450 4.7.1`.
    #[serde(default = "default_rate")]
    pub max_messages_per_minute_per_client: u32,
    /// Refuse `MAIL FROM` without TLS from everyone (`530 5.7.0`).
    #[serde(default)]
    pub require_tls: bool,
    /// Partner sender domains (and their subdomains) whose mail must arrive over TLS.
    #[serde(default)]
    pub require_tls_domains: Vec<String>,
    /// Partner networks (CIDR) whose mail must arrive over TLS.
    #[serde(default)]
    pub require_tls_networks: Vec<Cidr>,
    /// Certificate and key for STARTTLS; a self-signed pair is made in the data directory
    /// when left out.
    pub tls: Option<TlsFiles>,
}

fn default_data_timeout() -> u64 {
    180
}
fn default_min_data_rate() -> u64 {
    500
}
fn default_max_sessions() -> usize {
    200
}
fn default_max_sessions_per_client() -> usize {
    20
}
fn default_rate() -> u32 {
    120
}

fn default_max_message_size() -> usize {
    50 * 1024 * 1024
}
fn default_memory_budget() -> usize {
    1 << 30
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

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    pub listen: SocketAddr,
    /// Reverse proxies in front of the API. A request from one of these is counted (for the
    /// failed-login lockout) by the client address the proxy puts in `X-Forwarded-For`;
    /// from anyone else that header is ignored, so it cannot be used to dodge the lockout.
    #[serde(default)]
    pub trusted_proxies: Vec<Cidr>,
    /// Open connections at most; beyond, `503` with `Retry-After`.
    #[serde(default = "default_http_connections")]
    pub max_connections: usize,
    /// Seconds a request's header may take to arrive (the connection is closed beyond), and
    /// its body again as long (`408` beyond).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// A signed-in session ends after this many seconds without a request...
    #[serde(default = "default_session_idle")]
    pub session_idle_secs: u64,
    /// ...and this many after sign-in, however busy.
    #[serde(default = "default_session_max")]
    pub session_max_secs: u64,
    /// modtag's own certificate for HTTPS. Left out, the listener speaks plain HTTP, which
    /// is allowed only on loopback or behind a TLS-terminating proxy in `trusted_proxies`.
    pub tls: Option<TlsFiles>,
    /// The address staff reach the desk at (behind a proxy, the proxy's), for the link in
    /// the notification a person without a certificate is sent. Left out: the listener's.
    pub url: Option<String>,
    /// `/readyz` answers 503 when a copy has been due, or waiting on the relay, longer than
    /// this many seconds.
    #[serde(default = "default_ready_outbox_max_age")]
    pub ready_outbox_max_age_secs: u64,
    /// `/metrics` answers only on loopback unless a scraper sends this bearer token: a file
    /// (relative to this one, 0600) or `credential:NAME` holding it, never the token itself.
    #[serde(default)]
    pub metrics_token: Option<String>,
}

fn default_ready_outbox_max_age() -> u64 {
    900
}

impl Smtp {
    /// The free space the data directory keeps: `min_free_bytes`, or one and a half times
    /// the largest message; 0 turns the check off.
    pub fn min_free(&self) -> u64 {
        self.min_free_bytes
            .unwrap_or(self.max_message_size as u64 / 2 * 3)
    }
}

impl Http {
    /// The desk's address without a trailing slash: `url`, or the listener's own.
    pub fn desk_url(&self) -> String {
        match &self.url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None if self.tls.is_some() => format!("https://{}", self.listen),
            None => format!("http://{}", self.listen),
        }
    }

    /// Whether browsers reach modtag over plain HTTP: on loopback without a proxy or a
    /// certificate (cookies then go without `Secure`, which browsers would not send back).
    pub fn plain_loopback(&self) -> bool {
        self.listen.ip().is_loopback() && self.trusted_proxies.is_empty() && self.tls.is_none()
    }
}

fn default_session_idle() -> u64 {
    30 * 60
}
fn default_session_max() -> u64 {
    10 * 3600
}

fn default_http_connections() -> usize {
    256
}
fn default_request_timeout() -> u64 {
    30
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Triage {
    /// Barnets lov § 133: every underretning is assessed within 24 hours of receipt.
    #[serde(default = "default_assessment_hours")]
    pub assessment_hours: i64,
    /// DOMAIN.md: a valid CPR matching exactly one open case forwards at once (on by default).
    #[serde(default = "default_true")]
    pub auto_link: bool,
    /// Whose messages the auto-link trusts: `professional` (a professional reporter writing
    /// in their own name, the default) or `any`. Others' matches are suggestions.
    #[serde(default = "default_auto_link_senders")]
    pub auto_link_senders: String,
    /// Hours after receipt at which an unassessed item is escalated: to Modtagelsen, then
    /// its leader, then (outside office hours) the døgnvagt.
    #[serde(default = "default_escalate")]
    pub escalate_after_hours: Vec<i64>,
    /// An intake with akut signals has this short clock instead (issue 27): Modtagelsen
    /// (and outside office hours the døgnvagt) at once, its leader when it runs out.
    #[serde(default = "default_akut_hours")]
    pub akut_hours: i64,
    /// "Gentagne underretninger": this many intakes about one child (this one included)
    /// within `repeat_window_days` flag the item.
    #[serde(default = "default_repeat_threshold")]
    pub repeat_threshold: usize,
    #[serde(default = "default_repeat_window")]
    pub repeat_window_days: i64,
    /// Months after receipt by which a professional reporter is told whether an
    /// investigation or measures were begun (the tilbagemelding's due date).
    #[serde(default = "default_tilbagemelding_months")]
    pub tilbagemelding_months: i64,
}

fn default_akut_hours() -> i64 {
    2
}

fn default_tilbagemelding_months() -> i64 {
    3
}

impl Default for Triage {
    fn default() -> Self {
        Triage {
            assessment_hours: default_assessment_hours(),
            auto_link: true,
            auto_link_senders: default_auto_link_senders(),
            escalate_after_hours: default_escalate(),
            akut_hours: default_akut_hours(),
            repeat_threshold: default_repeat_threshold(),
            tilbagemelding_months: default_tilbagemelding_months(),
            repeat_window_days: default_repeat_window(),
        }
    }
}

fn default_auto_link_senders() -> String {
    "professional".into()
}
fn default_escalate() -> Vec<i64> {
    vec![12, 18, 22]
}
fn default_repeat_threshold() -> usize {
    3
}
fn default_repeat_window() -> i64 {
    365
}

/// Who may use the `modtag` command on the server. The command talks to the daemon over the
/// Unix socket `DATA/modtag.sock`; the kernel tells the daemon which operating-system user
/// is at the other end (`SO_PEERCRED`), and `accounts` says which modtag account that user
/// acts as. Anyone else is refused. Nobody is mapped unless the configuration says so.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cli {
    /// Operating-system user name -> modtag account id. [`SERVING_USER`] stands for the
    /// user who runs `modtag serve`.
    #[serde(default)]
    pub accounts: std::collections::BTreeMap<String, String>,
    /// For the demo only: accounts made at start when missing, without a password (they
    /// act through the socket; `modtag users add` makes accounts that sign in on the web).
    #[serde(default, rename = "demo_account")]
    pub demo_accounts: Vec<DemoAccount>,
}

/// Signing in with the kommune's identity provider (Entra ID, AD FS ...) by OpenID Connect:
/// the authorisation code flow with PKCE and a nonce; the ID token's signature, issuer,
/// audience, nonce and expiry are checked. The person is the directory's person (or member
/// of staff) whom the chosen claim names; the directory gives the roles.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Oidc {
    /// The provider's issuer URL; its discovery document is at
    /// `ISSUER/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// The client secret in a file (0600, relative to this file)...
    pub client_secret_file: Option<String>,
    /// ...or a systemd credential of that name (`LoadCredentialEncrypted=`).
    pub client_secret_credential: Option<String>,
    /// Where the provider sends the browser back: modtag's own address followed by
    /// `/login/oidc/callback`, as registered with the provider.
    pub redirect_url: String,
    /// The ID token claim that names the person: `email` (default), `preferred_username`
    /// (Entra ID's UPN) or `sub`.
    #[serde(default = "default_oidc_claim")]
    pub claim: String,
    /// What the claim is matched against in the directory: `email` (default) or `id`.
    #[serde(default = "default_oidc_match", rename = "match")]
    pub match_by: String,
    /// The sign-in page's button.
    #[serde(default = "default_oidc_label")]
    pub label: String,
    /// System roles (`admin`, `auditor`) by the directory id of whoever holds them.
    #[serde(default)]
    pub system_roles: std::collections::BTreeMap<String, Vec<String>>,
}

fn default_oidc_claim() -> String {
    "email".into()
}
fn default_oidc_match() -> String {
    "email".into()
}
fn default_oidc_label() -> String {
    "Log ind med kommunens login".into()
}

/// The claims [`Oidc::claim`] may name.
pub const OIDC_CLAIMS: &[&str] = &["email", "preferred_username", "sub"];

/// In [`Cli::accounts`]: the operating-system user who runs `modtag serve`.
pub const SERVING_USER: &str = "@serve";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoAccount {
    pub id: String,
    pub email: String,
    pub roles: Vec<String>,
}

pub use crate::operations::{AuditSettings, Log, LogFormat};

/// The automatic receipt to named reporters (barnets lov: within 6 hverdage). It carries
/// the reference and nothing about the case.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvitteringSettings {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// `{reference}` and `{received}` are filled in.
    #[serde(default = "default_kvittering_subject")]
    pub subject: String,
    #[serde(default = "default_kvittering_body")]
    pub body: String,
    /// Kvitteringer a day that modtag sends by itself to one address nothing proves (typed
    /// into a form, or a `From:` no one vouched for): past it a person sends them, so no one
    /// can make the kommune flood someone else's mailbox (issue 26). A kommune whose
    /// institutions send many reports a day from one address without DMARC may raise it;
    /// 0 leaves every such kvittering to a person.
    #[serde(default = "default_per_unproven_address")]
    pub max_per_unproven_address_per_day: usize,
}

impl Default for KvitteringSettings {
    fn default() -> Self {
        KvitteringSettings {
            enabled: true,
            subject: default_kvittering_subject(),
            body: default_kvittering_body(),
            max_per_unproven_address_per_day: default_per_unproven_address(),
        }
    }
}

fn default_per_unproven_address() -> usize {
    3
}
fn default_kvittering_subject() -> String {
    "Kvittering for modtagelse ({reference})".into()
}
fn default_kvittering_body() -> String {
    "Kære underretter\n\n\
     Tak for din henvendelse. Vi bekræfter, at kommunen har modtaget den {received}.\n\
     Den har referencen {reference}; oplys den, hvis du kontakter os om sagen.\n\n\
     Børne- og familieafdelingen vurderer alle underretninger inden for 24 timer. Af hensyn\n\
     til barnet og familien kan vi ikke oplyse noget om sagen i denne kvittering.\n\n\
     Med venlig hilsen\nModtagelsen\n"
        .into()
}

fn default_assessment_hours() -> i64 {
    24
}
fn default_true() -> bool {
    true
}

/// SPF, DKIM and DMARC: computed for every message and shown to staff, never used to refuse
/// mail (any concern counts, whoever sends it).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SenderAuth {
    #[serde(default)]
    pub enabled: bool,
    /// The DNS server to ask (`ip:port`); the system's resolvers when left out.
    pub nameserver: Option<SocketAddr>,
    /// How long all lookups for one message may take; then the verdict is `temperror`.
    #[serde(default = "default_auth_timeout")]
    pub timeout_secs: u64,
}

impl Default for SenderAuth {
    fn default() -> Self {
        SenderAuth {
            enabled: false,
            nameserver: None,
            timeout_secs: default_auth_timeout(),
        }
    }
}

fn default_auth_timeout() -> u64 {
    5
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
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

    /// Where a secret file named in the configuration is: relative to the configuration
    /// file, or, written `credential:NAME`, the systemd credential NAME
    /// (`LoadCredential=NAME:/path` in the unit; systemd puts it in `$CREDENTIALS_DIRECTORY`,
    /// readable by the service only, and never on the command line).
    pub fn secret_path(&self, file: &str) -> Result<std::path::PathBuf, String> {
        let Some(name) = file.strip_prefix("credential:") else {
            return Ok(self
                .base_dir
                .clone()
                .unwrap_or_else(|| std::path::PathBuf::from("."))
                .join(file));
        };
        credential_path(name, std::env::var_os("CREDENTIALS_DIRECTORY"))
    }
}

fn credential_path(
    name: &str,
    dir: Option<std::ffi::OsString>,
) -> Result<std::path::PathBuf, String> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(format!(
            "{name:?} is not a credential name: use credential:NAME as in LoadCredential=NAME:/path"
        ));
    }
    match dir {
        Some(dir) if !dir.is_empty() => Ok(std::path::PathBuf::from(dir).join(name)),
        _ => Err(format!(
            "credential:{name} needs a systemd credential: run under systemd with LoadCredential={name}:/path/to/file, or set CREDENTIALS_DIRECTORY to a directory holding {name} (mode 0600)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::Cidr;

    #[test]
    fn credentials_by_name_only_and_only_with_a_directory() {
        let dir = Some(std::ffi::OsString::from("/run/credentials/modtag.service"));
        assert_eq!(
            super::credential_path("tls.key", dir.clone()).unwrap(),
            std::path::Path::new("/run/credentials/modtag.service/tls.key")
        );
        for bad in ["", "../etc/shadow", "a/b", ".."] {
            let err = super::credential_path(bad, dir.clone()).unwrap_err();
            assert!(err.contains("is not a credential name"), "{bad}: {err}");
        }
        let err = super::credential_path("tls.key", None).unwrap_err();
        assert!(err.contains("LoadCredential=tls.key:"), "{err}");
    }

    #[test]
    fn cidr_by_table() {
        let table = [
            ("10.0.0.0/8", "10.200.1.1", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("192.0.2.7", "192.0.2.7", true),
            ("192.0.2.7", "192.0.2.8", false),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("2001:db8::/32", "2001:db8:1::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("127.0.0.0/8", "::ffff:127.0.0.1", true),
        ];
        for (net, ip, inside) in table {
            let c: Cidr = net.parse().unwrap();
            assert_eq!(c.contains(ip.parse().unwrap()), inside, "{net} ∋ {ip}");
        }
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("skole.dk".parse::<Cidr>().is_err());
    }
}
