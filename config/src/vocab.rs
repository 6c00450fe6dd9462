//! The closed vocabularies of intake that the configuration, the stored records and the API
//! share: which desk a message came to ([`Channel`]) and what it is ([`Kind`]). Their serde
//! names are the stored ones; a name is never changed, only added.

use serde::{Deserialize, Serialize};

/// The names of a closed vocabulary, once: `as_str`, `parse`, `ALL` and `Display` for a
/// fieldless enum, from `Variant => "stored name"` pairs. The stored names must match the
/// enum's serde names (a test in each crate reads them back).
#[macro_export]
macro_rules! closed_names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }

            pub fn parse(s: &str) -> Option<$ty> {
                Self::ALL.iter().copied().find(|k| k.as_str() == s)
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Which desk a mailbox feeds: Modtagelsen's underretninger, Journalen's TRIVSEL+
/// postfordeling case, journal staff forwarding mail on, or the participant lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Underretning,
    Trivselplus,
    Postfordeling,
    /// A private leader's list of participants for a TRIVSEL+ forløb's first meeting
    /// (`bornogunge@`), linked to its forløb for Journalen to book.
    Deltagerliste,
}

closed_names!(Channel {
    Underretning => "underretning",
    Trivselplus => "trivselplus",
    Postfordeling => "postfordeling",
    Deltagerliste => "deltagerliste",
});

/// What an intake is, as reading found it or a person corrected it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A report of concern about a child (barnets lov § 133), for Modtagelsen. What reading
    /// falls back to when it cannot tell: a possible underretning is never overlooked.
    #[default]
    Underretning,
    /// A TRIVSEL+ forløb (Send sikkert from a private institution), for Journalen.
    Trivselplus,
    /// Mail for Journalen to pass on.
    Postfordeling,
    /// A doctor's LÆ 165 statement, handled as an underretning.
    Lae165,
}

closed_names!(Kind {
    Underretning => "underretning",
    Trivselplus => "trivselplus",
    Postfordeling => "postfordeling",
    Lae165 => "lae165",
});

impl Kind {
    /// The kind the beslutningstræ routes by: a LÆ 165, and mail Journalen passes on to
    /// Modtagelsen, are assessed as underretninger.
    pub fn routing(self) -> RouteKind {
        match self {
            Kind::Underretning | Kind::Lae165 | Kind::Postfordeling => RouteKind::Underretning,
            Kind::Trivselplus => RouteKind::Trivselplus,
        }
    }
}

/// What the beslutningstræ routes: the `kind` of a rule's `when` and of the facts a person
/// recorded. A rule naming any other kind is a configuration error, not a rule that never
/// fires.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum RouteKind {
    /// An underretning (and what is assessed as one), Modtagelsen's.
    #[default]
    Underretning,
    /// A TRIVSEL+ forløb, Journalen's.
    Trivselplus,
    /// A school year's status meetings, about an area, not a case.
    Statusmoede,
    /// A case going back to a trin-2 TRIVSEL+ forløb (flow 4).
    Overgang,
}

closed_names!(RouteKind {
    Underretning => "underretning",
    Trivselplus => "trivselplus",
    Statusmoede => "statusmoede",
    Overgang => "overgang",
});

/// Who reported, as reading found it or the form said: what decides whether the reporter's
/// identity and original may travel (a professional's may, by the rules; a citizen's never
/// reaches an institution) and whether a kvittering is owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", from = "String")]
pub enum ReporterKind {
    /// Someone reporting in their work (a teacher, a doctor, the police).
    Professional,
    /// A private person with a name; also what an unreadable stored value means, so that no
    /// record grants more than a citizen's report.
    #[default]
    Citizen,
    /// Someone who asked not to be named.
    Anonymous,
}

closed_names!(ReporterKind {
    Professional => "professional",
    Citizen => "citizen",
    Anonymous => "anonymous",
});

impl From<String> for ReporterKind {
    fn from(s: String) -> ReporterKind {
        ReporterKind::parse(&s).unwrap_or_default()
    }
}

/// The trivselsbarometer's words for each trin (from the kommune's own `barometer.txt`): trin, name, signs.
pub const TRIN: [(u8, &str, &str); 5] = [
    (0, "Børn i trivsel", "positiv udvikling"),
    (
        1,
        "Moderat trivsel",
        "perioder med faldende trivsel, begyndende bekymring",
    ),
    (2, "Faldende trivsel", "tydelige tegn på faldende trivsel"),
    (
        3,
        "Udsatte trivselspositioner",
        "tydelige tegn på mistrivsel, bekymrende vanskeligheder",
    ),
    (
        4,
        "Truede trivselspositioner",
        "alvorlig mistrivsel og/eller omsorgssvigt",
    ),
];

/// The barometer's name of `trin` ("Faldende trivsel"), for what a recipient reads.
pub fn trin_words(trin: u8) -> Option<&'static str> {
    TRIN.iter()
        .find(|(t, _, _)| *t == trin)
        .map(|(_, name, _)| *name)
}

/// What a screening can conclude (issue 16), with the words the desk shows.
pub const SCREENING_OUTCOMES: [(&str, &str); 4] = [
    ("afdaekning", "Afdækning"),
    ("boernefaglig_undersoegelse", "Børnefaglig undersøgelse"),
    ("ingen_yderligere", "Ingen yderligere handling"),
    ("trivselplus_anbefalet", "TRIVSEL+ anbefales"),
];

/// The desk's words for who reported: "fagperson", "borger" or "anonym".
pub fn reporter_words(kind: ReporterKind) -> &'static str {
    match kind {
        ReporterKind::Professional => "fagperson",
        ReporterKind::Citizen => "borger",
        ReporterKind::Anonymous => "anonym",
    }
}

/// The desk's words for a screening outcome.
pub fn outcome_words(id: &str) -> &str {
    SCREENING_OUTCOMES
        .iter()
        .find(|(o, _)| *o == id)
        .map_or(id, |(_, words)| words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_are_the_serde_names() {
        for c in Channel::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        for k in Kind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            assert_eq!(Kind::parse(k.as_str()), Some(*k));
        }
        for k in RouteKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for k in ReporterKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            assert_eq!(
                serde_json::from_value::<ReporterKind>(k.as_str().into()).unwrap(),
                *k
            );
        }
        // A stored value this version does not know grants no more than a citizen's report.
        assert_eq!(
            serde_json::from_value::<ReporterKind>("".into()).unwrap(),
            ReporterKind::Citizen
        );
    }
}
