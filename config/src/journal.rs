//! `[journal]` (issue 31): what a journal package tells the case system to file an intake
//! under (the KLE emne per kind), and, for a case system that takes files, where packages
//! are dropped and where its receipts come back.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journal {
    /// The KLE emne per kind (`underretning = "27.24.00"`): the kommune's own choice,
    /// written into each package's metadata; left out of it for a kind not named.
    #[serde(default)]
    pub kle: BTreeMap<String, String>,
    /// A case system that takes files; the desk offers the package as a download only when
    /// left out.
    pub hook: Option<Hook>,
}

/// Packages dropped, encrypted to the case system's certificate, into `outbox_dir`; its
/// integration writes a receipt (`*.json`: package id, system's document id) into
/// `receipts_dir`, which marks the intake journalised.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    /// The case system's name as the desk says it ("eDoc").
    pub system: String,
    /// Where packages are written (`<reference>-<package id>.zip.pgp`).
    pub outbox_dir: String,
    /// Where the integration's receipts arrive.
    pub receipts_dir: String,
    /// The case system's OpenPGP certificate (public only): packages are encrypted to it.
    pub cert_file: String,
    /// How often the receipts directory is looked at.
    #[serde(default = "default_poll_secs")]
    pub poll_secs: u64,
}

fn default_poll_secs() -> u64 {
    10
}

/// Whether `emne` is written as a KLE emne: three two-digit groups, `27.24.00`.
pub fn is_kle(emne: &str) -> bool {
    let parts: Vec<&str> = emne.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_kle_emne_is_three_groups_of_two_digits() {
        assert!(super::is_kle("27.24.00"));
        for wrong in [
            "27.24",
            "27.24.0",
            "27.24.00.01",
            "a7.24.00",
            "",
            "27-24-00",
        ] {
            assert!(!super::is_kle(wrong), "{wrong}");
        }
    }
}
