//! The directory: who the role ids resolve to, with the certificates modtag encrypts to.

use serde::Deserialize;
use std::collections::BTreeMap;

use sequoia_openpgp as openpgp;

/// The directory file as written by the administrator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DirectoryFile {
    #[serde(rename = "person", default)]
    pub people: Vec<PersonEntry>,
    #[serde(rename = "institution", default)]
    pub institutions: Vec<Institution>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PersonEntry {
    pub id: String,
    pub name: String,
    pub email: String,
    pub roles: Vec<String>,
    /// Path of an armored certificate, relative to the directory file.
    pub cert_file: Option<String>,
    /// Or the armored certificate itself.
    pub cert: Option<String>,
}

/// A person or team mailbox, with a certificate already checked to be usable for encryption.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub email: String,
    pub roles: Vec<String>,
    pub cert: openpgp::Cert,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Institution {
    pub id: String,
    pub name: String,
    pub area: String,
    /// Private institutions are answered through their CVR.
    pub cvr: Option<String>,
    /// Directory id of the institution's leader (`lokal_leder`, or `privat_leder` for a
    /// private institution).
    pub leader: String,
    #[serde(default)]
    pub udskoling: bool,
    /// The institution's e-mail domains: mail from them is from a professional reporter.
    #[serde(default)]
    pub domains: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub people: BTreeMap<String, Person>,
    pub institutions: BTreeMap<String, Institution>,
}

impl Directory {
    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.get(id)
    }

    pub fn institution(&self, id: &str) -> Option<&Institution> {
        self.institutions.get(id)
    }

    /// Everyone who holds `role` directly in the directory, in id order.
    pub fn with_role(&self, role: &str) -> Vec<&Person> {
        self.people
            .values()
            .filter(|p| p.roles.iter().any(|r| r == role))
            .collect()
    }
}

/// Checks that a certificate can receive encrypted mail today: valid under the standard
/// policy, not revoked, not expired, and with an alive encryption-capable key.
pub fn check_cert(cert: &openpgp::Cert) -> Result<(), String> {
    use openpgp::policy::StandardPolicy;
    use openpgp::types::RevocationStatus;
    let policy = StandardPolicy::new();
    let valid = cert
        .with_policy(&policy, None)
        .map_err(|e| format!("certificate {} is not valid: {e}", cert.fingerprint()))?;
    if let RevocationStatus::Revoked(_) = valid.revocation_status() {
        return Err(format!("certificate {} is revoked", cert.fingerprint()));
    }
    valid
        .alive()
        .map_err(|_| format!("certificate {} has expired", cert.fingerprint()))?;
    let usable = valid
        .keys()
        .alive()
        .revoked(false)
        .for_transport_encryption()
        .next()
        .is_some();
    if !usable {
        return Err(format!(
            "certificate {} has no usable encryption key",
            cert.fingerprint()
        ));
    }
    Ok(())
}
