//! The operational sections of `modtag.toml` that hold no policy: `[audit]` (checkpoints,
//! the auditors, the log's retention) and `[log]` (the format of the daemon's log lines).

use serde::Deserialize;

/// Signed checkpoints of the audit log: how often, and where a copy goes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// A checkpoint after this many entries, or this many seconds, whichever comes first
    /// (and at shutdown).
    #[serde(default = "default_checkpoint_entries")]
    pub checkpoint_every_entries: u64,
    #[serde(default = "default_checkpoint_secs")]
    pub checkpoint_every_secs: u64,
    /// The auditors' address: each checkpoint is mailed there, so that a copy lives outside
    /// the server. Left out, checkpoints stay in the data directory only.
    pub auditor_email: Option<String>,
    /// The auditors' OpenPGP certificates (public), relative to this file: audit payloads
    /// are encrypted to them. Their secret keys stay with the auditors, never on the server.
    #[serde(default)]
    pub auditor_certs: Vec<String>,
    /// Entries' contents are deleted after this many days; their hashes stay, so the log
    /// still verifies, and the deletion is itself logged.
    #[serde(default = "default_retention_days")]
    pub retention_days: i64,
}

fn default_retention_days() -> i64 {
    // Five years: the kommune sets its own period with its data protection officer.
    1826
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            checkpoint_every_entries: default_checkpoint_entries(),
            checkpoint_every_secs: default_checkpoint_secs(),
            auditor_email: None,
            auditor_certs: Vec::new(),
            retention_days: default_retention_days(),
        }
    }
}

fn default_checkpoint_entries() -> u64 {
    1000
}
fn default_checkpoint_secs() -> u64 {
    300
}

/// `[log]`: how the daemon writes its log lines. Never personal data, in either format.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    /// `human` (the default) or `json` (one object per line, for the kommune's log
    /// collector).
    #[serde(default)]
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// The `[log] format` of the configuration file at `path`, read before anything else (the
/// logger starts before the configuration is loaded and checked); `None` when the file
/// cannot be read or says nothing valid (the full load then says what is wrong).
pub fn peek_log_format(path: &std::path::Path) -> Option<LogFormat> {
    let text = std::fs::read_to_string(path).ok()?;
    let value = toml::from_str::<toml::Value>(&text).ok()?;
    value
        .get("log")?
        .clone()
        .try_into::<Log>()
        .ok()
        .map(|l| l.format)
}
