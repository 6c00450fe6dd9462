//! Why a recipient a rule named was held back, as a value: the routing decides on these and
//! the Danish sentence a person reads is rendered from them (`Display`), so rewording a
//! sentence never changes who gets a copy.

use std::fmt;

/// Why one recipient a rule named did not get a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// Nothing goes to these roles without the parents' (or the young person's) consent.
    ConsentMissing,
    /// An overgang needs a second consent, to share the forløb's information.
    ConsentToShareMissing,
    /// The case's rådgiver is not known (no case, or not in the directory).
    NoRaadgiver,
    /// The child's institution is not known, or has no leader in the directory.
    NoInstitutionLeader,
    /// No one in the directory has the role.
    NoOneWithRole { role: String },
    /// A name in a TRIVSEL+'s subject is a person, but not a leader the tree allows for the
    /// area; Journalen decides.
    NotAnAllowedLeader { name: String, allowed: Vec<String> },
    /// A name in the subject matched no one in the directory; Journalen decides.
    NotInDirectory {
        written: String,
        suggestion: Option<String>,
    },
}

impl Why {
    /// Held back for want of a consent (the fallback to Modtagelsen is not for these).
    pub fn is_consent(&self) -> bool {
        matches!(self, Why::ConsentMissing | Why::ConsentToShareMissing)
    }

    /// A name from a TRIVSEL+'s subject left for Journalen.
    pub fn is_name(&self) -> bool {
        matches!(
            self,
            Why::NotAnAllowedLeader { .. } | Why::NotInDirectory { .. }
        )
    }

    /// The role's recipient could not be found: Modtagelsen places it.
    pub fn is_unresolved(&self) -> bool {
        !self.is_consent() && !self.is_name()
    }

    /// Why no one with `role` could be found.
    pub(crate) fn unresolved(role: &str) -> Why {
        match role {
            "raadgiver" => Why::NoRaadgiver,
            "lokal_leder" | "privat_leder" => Why::NoInstitutionLeader,
            other => Why::NoOneWithRole {
                role: other.to_string(),
            },
        }
    }
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::ConsentMissing => {
                f.write_str("samtykke mangler: intet sendes uden forældrenes (eller den unges) samtykke")
            }
            Why::ConsentToShareMissing => f.write_str(
                "samtykke til at dele forløbets oplysninger mangler: en overgang kræver både \
                 samtykke til at aktivere beslutningstræet og til at dele",
            ),
            Why::NoRaadgiver => f.write_str(
                "sagens rådgiver er ukendt (ingen sag eller rådgiver ikke i kataloget)",
            ),
            Why::NoInstitutionLeader => {
                f.write_str("institutionen er ukendt eller har ingen leder i kataloget")
            }
            Why::NoOneWithRole { role } => write!(f, "ingen i kataloget har rollen {role}"),
            Why::NotAnAllowedLeader { name, allowed } => write!(
                f,
                "{name} er ikke en leder, beslutningstræet tillader for området ({}); Journalen afgør",
                allowed.join(", ")
            ),
            Why::NotInDirectory {
                written,
                suggestion: Some(s),
            } => write!(
                f,
                "«{written}» findes ikke i kataloget (måske {s}?); Journalen afgør"
            ),
            Why::NotInDirectory {
                written,
                suggestion: None,
            } => write!(f, "«{written}» findes ikke i kataloget; Journalen afgør"),
        }
    }
}
