//! The auditors' commands. They work offline on a data directory (or a copy) whose daemon
//! is stopped, as auditors work on backups, or (`--live`) on a copy of the running daemon's
//! log fetched over the API: `verify`, `checkpoint` and `prove` need no secret; `read` and
//! `subject-access` need the auditors' secret key, which modtag never holds.

use std::path::Path;

use anyhow::{Context, Result};
use jiff::Timestamp;
use modtag_storage::audit::offline;
use modtag_storage::audit::Entry;
use serde_json::{json, Value};

/// One decrypted entry.
pub struct Read {
    pub entry: Entry,
    pub event: Value,
}

/// Decrypts every entry of a stopped daemon's data directory with the auditors' key (a
/// 0600 armored secret key file).
pub fn read_all(data: &Path, key_file: &Path) -> Result<Vec<Read>> {
    decrypt_all(offline::entries_offline(data)?, key_file)
}

/// Decrypts `entries` (from a data directory, or copied from a running daemon) with the
/// auditors' key.
pub fn decrypt_all(entries: Vec<Entry>, key_file: &Path) -> Result<Vec<Read>> {
    let bytes = modtag_storage::keys::read_secret(key_file)?;
    let key = modtag_storage::crypto::parse_cert(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: {e}", key_file.display()))?;
    if !key.is_tsk() {
        anyhow::bail!(
            "{}: holds no secret key; give the auditors' secret key",
            key_file.display()
        );
    }
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        if entry.payload.is_empty() {
            // Deleted under retention: the leaf stays, the content is gone.
            out.push(Read {
                event: json!({ "deleted": true }),
                entry,
            });
            continue;
        }
        let plain = modtag_storage::crypto::decrypt(&key, &entry.payload).map_err(|_| {
            anyhow::anyhow!(
                "{}: this key does not decrypt the audit log (entry {}): it is not the auditors' key",
                key_file.display(),
                entry.seq
            )
        })?;
        let event: Value = serde_json::from_slice(&plain)
            .with_context(|| format!("entry {} does not hold an event", entry.seq))?;
        out.push(Read { entry, event });
    }
    Ok(out)
}

/// `YYYY-MM-DD` (local) or RFC 3339, as an instant.
pub fn instant(text: &str) -> Result<Timestamp> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    let d: jiff::civil::Date = text
        .parse()
        .with_context(|| format!("{text:?} is not a date (YYYY-MM-DD) or an RFC 3339 time"))?;
    Ok(d.in_tz("Europe/Copenhagen")?.timestamp())
}

pub struct Filter {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub kind: Option<String>,
    pub references: Option<Vec<String>>,
}

impl Filter {
    pub fn keeps(&self, r: &Read) -> bool {
        let t = r.entry.time();
        self.from.is_none_or(|f| t >= f)
            && self.to.is_none_or(|to| t < to)
            && self.kind.as_ref().is_none_or(|k| &r.entry.kind == k)
            && self.references.as_ref().is_none_or(|refs| {
                r.event["reference"]
                    .as_str()
                    .is_some_and(|x| refs.iter().any(|r| r == x))
            })
    }
}

/// The references about a CPR, through the data directory's blind index.
/// The intakes naming `cpr`, by the blind index; `blind_key` where the keys are kept apart
/// (the data directory's own otherwise).
pub fn references_for_cpr(data: &Path, blind_key: Option<&Path>, cpr: &str) -> Result<Vec<String>> {
    let c = modtag_router::cpr::Cpr::parse(cpr)
        .context("--cpr is not a valid CPR number (DDMMYY-SSSS)")?;
    let digits: String = c.formatted().chars().filter(char::is_ascii_digit).collect();
    Ok(offline::references_for_cpr_offline(
        data, blind_key, &digits,
    )?)
}

pub fn as_json(r: &Read) -> Value {
    let mut v = json!({
        "seq": r.entry.seq,
        "time": r.entry.time().to_string(),
        "kind": r.entry.kind,
    });
    for k in ["actor", "purpose", "reference", "details", "deleted"] {
        if !r.event[k].is_null() {
            v[k] = r.event[k].clone();
        }
    }
    v
}

/// Subject access (GDPR art. 15, CJEU C-579/21): when and why the person's data was used;
/// who did it only when asked for.
pub fn subject_access(reads: &[Read], refs: &[String], with_employees: bool) -> Vec<Value> {
    reads
        .iter()
        .filter(|r| {
            r.event["reference"]
                .as_str()
                .is_some_and(|x| refs.iter().any(|r| r == x))
        })
        .map(|r| {
            let mut v = json!({
                "date": r.entry.time().to_zoned(modtag_router::calendar::tz()).date().to_string(),
                "time": r.entry.time().to_string(),
                "use": r.entry.kind,
                "purpose": r.event["purpose"],
                "reference": r.event["reference"],
            });
            if with_employees {
                v["by"] = r.event["actor"].clone();
            }
            v
        })
        .collect()
}
