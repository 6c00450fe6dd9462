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
    #[serde(rename = "staff", default)]
    pub staff: Vec<Staff>,
    #[serde(default)]
    pub calendar: Calendar,
}

/// The office calendar: when Modtagelsen is open, and which days count as hverdage. Danish
/// public holidays (DOMAIN.md) are built in; the days that are often closed without being
/// public holidays are settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    /// Opening hours per weekday, `"08:00-15:30"`; a day left out is closed.
    #[serde(default = "default_office_hours")]
    pub office_hours: BTreeMap<String, String>,
    /// Grundlovsdag (5 June), juleaftensdag (24 Dec), nytårsaftensdag (31 Dec): closed?
    #[serde(default = "yes")]
    pub closed_5_june: bool,
    #[serde(default = "yes")]
    pub closed_24_december: bool,
    #[serde(default = "yes")]
    pub closed_31_december: bool,
    /// Whether Saturday counts as a hverdag for the kvittering's 6 days (DOMAIN.md: no).
    #[serde(default)]
    pub saturday_is_hverdag: bool,
    /// Further closed days (`YYYY-MM-DD`), such as a kommune's own closing days.
    #[serde(default)]
    pub closed_days: Vec<jiff::civil::Date>,
}

fn yes() -> bool {
    true
}

fn default_office_hours() -> BTreeMap<String, String> {
    [
        ("monday", "08:00-15:30"),
        ("tuesday", "08:00-15:30"),
        ("wednesday", "08:00-15:30"),
        ("thursday", "08:00-17:00"),
        ("friday", "08:00-13:00"),
    ]
    .into_iter()
    .map(|(d, h)| (d.to_string(), h.to_string()))
    .collect()
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar {
            office_hours: default_office_hours(),
            closed_5_june: true,
            closed_24_december: true,
            closed_31_december: true,
            saturday_is_hverdag: false,
            closed_days: Vec::new(),
        }
    }
}

impl Calendar {
    /// Opening hours of a weekday (`monday`...), as minutes after midnight.
    pub fn hours(&self, weekday: &str) -> Option<(u16, u16)> {
        parse_hours(self.office_hours.get(weekday)?)
    }
}

/// The weekdays as the calendar's office hours and the start-meeting slots name them.
pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// `"08:00-15:30"` → (480, 930).
pub fn parse_hours(text: &str) -> Option<(u16, u16)> {
    let (a, b) = text.split_once('-')?;
    let minutes = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    let (a, b) = (minutes(a)?, minutes(b)?);
    (a < b).then_some((a, b))
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
/// Without one, a person is sent a notification that carries the reference and a link to
/// the desk, where they read what was sent to them.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub email: String,
    pub roles: Vec<String>,
    pub cert: Option<openpgp::Cert>,
}

/// A member of staff who signs in to work a desk (Modtagelsen's, Journalen's) that the
/// directory's team person receives the mail of. Staff hold roles for need-to-know only:
/// routing never sends to them, so they need no certificate.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Staff {
    pub id: String,
    pub name: String,
    pub email: String,
    pub roles: Vec<String>,
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
    /// Members of staff by id (see [`Staff`]); never recipients.
    pub staff: BTreeMap<String, Staff>,
    pub calendar: Calendar,
}

impl Directory {
    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.get(id)
    }

    pub fn institution(&self, id: &str) -> Option<&Institution> {
        self.institutions.get(id)
    }

    /// The person (a recipient, one of the kommune's own) whose address `email` is, in any
    /// case of letters.
    pub fn person_with_email(&self, email: &str) -> Option<&Person> {
        self.people
            .values()
            .find(|p| p.email.eq_ignore_ascii_case(email))
    }

    /// The roles the directory gives whoever has `email`: a person (the one recipient with
    /// that address) or a member of staff. `None` when the directory does not know it.
    pub fn roles_of_email(&self, email: &str) -> Option<(&str, &[String])> {
        let person = self
            .person_with_email(email)
            .map(|p| (p.id.as_str(), p.roles.as_slice()));
        person.or_else(|| {
            self.staff
                .values()
                .find(|s| s.email.eq_ignore_ascii_case(email))
                .map(|s| (s.id.as_str(), s.roles.as_slice()))
        })
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

/// A valid CVR number (DOMAIN.md): eight digits, the first not 0, weights 2,7,6,5,4,3,2,1,
/// the sum divisible by 11.
pub fn cvr_valid(digits: &str) -> bool {
    let b = digits.as_bytes();
    b.len() == 8
        && b.iter().all(u8::is_ascii_digit)
        && b[0] != b'0'
        && b.iter()
            .zip([2u32, 7, 6, 5, 4, 3, 2, 1])
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum::<u32>()
            .is_multiple_of(11)
}
