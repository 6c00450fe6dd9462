//! `[classify]`: how messages are read: signals, attachment types, limits.

use serde::Deserialize;

/// How messages are read and classified (issue 4): signals, attachment types, limits.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classify {
    /// Words and phrases that highlight an item for priority (case-insensitive, whole
    /// words). They never decide anything.
    #[serde(default = "default_akut_words")]
    pub akut_words: Vec<String>,
    /// Attachment types offered for inline display (`type/subtype`, or `type/*`); others are
    /// kept encrypted like everything else but flagged.
    #[serde(default = "default_attachment_types")]
    pub attachment_types: Vec<String>,
    /// Sender domains of professional reporters beyond the institutions in the directory
    /// (police, hospitals, regions); subdomains count.
    #[serde(default = "default_professional_domains")]
    pub professional_domains: Vec<String>,
    /// Bounded work per message: MIME parts examined, nesting depth, header block size.
    #[serde(default = "default_max_parts")]
    pub max_parts: usize,
    #[serde(default = "default_max_depth")]
    pub max_depth: usize,
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
    /// The kommune's OpenPGP secret key (armored, 0600, relative to this file): mail
    /// encrypted to it is decrypted in memory for reading. Left out, such mail is kept and
    /// shown as encrypted. `credential:NAME` reads a systemd credential instead.
    pub decryption_key_file: Option<String>,
}

impl Default for Classify {
    fn default() -> Self {
        Classify {
            akut_words: default_akut_words(),
            attachment_types: default_attachment_types(),
            professional_domains: default_professional_domains(),
            max_parts: default_max_parts(),
            max_depth: default_max_depth(),
            max_header_bytes: default_max_header_bytes(),
            decryption_key_file: None,
        }
    }
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn default_akut_words() -> Vec<String> {
    strings(&[
        "akut",
        "haster",
        "straks",
        "vold",
        "slået",
        "slår",
        "blå mærker",
        "seksuelle overgreb",
        "overgreb",
        "misbrug",
        "selvmord",
        "selvmordstanker",
        "selvskade",
        "livsfare",
        "truet",
        "kniv",
        "tør ikke gå hjem",
        "vil ikke hjem",
        "efterladt alene",
        "alene hjemme",
        "politi",
        "skadestue",
    ])
}

fn default_attachment_types() -> Vec<String> {
    strings(&[
        "application/pdf",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/tiff",
        "image/heic",
        "text/plain",
        "text/csv",
        "application/rtf",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
    ])
}

fn default_professional_domains() -> Vec<String> {
    strings(&[
        "politi.dk",
        "regionh.dk",
        "regionsjaelland.dk",
        "rsyd.dk",
        "rm.dk",
        "rn.dk",
        "sundhed.dk",
    ])
}

fn default_max_parts() -> usize {
    1000
}
fn default_max_depth() -> usize {
    20
}
fn default_max_header_bytes() -> usize {
    256 * 1024
}
