//! The closed vocabularies of intake that the configuration, the stored records and the API
//! share: which desk a message came to ([`Channel`]) and what it is ([`Kind`]). Their serde
//! names are the stored ones; a name is never changed, only added.

use serde::{Deserialize, Serialize};

/// Which desk a mailbox feeds: Modtagelsen's underretninger, Journalen's TRIVSEL+
/// postfordeling case, or journal staff forwarding mail on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Underretning,
    Trivselplus,
    Postfordeling,
}

impl Channel {
    pub const ALL: [Channel; 3] = [
        Channel::Underretning,
        Channel::Trivselplus,
        Channel::Postfordeling,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Underretning => "underretning",
            Channel::Trivselplus => "trivselplus",
            Channel::Postfordeling => "postfordeling",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Underretning,
        Kind::Trivselplus,
        Kind::Postfordeling,
        Kind::Lae165,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Underretning => "underretning",
            Kind::Trivselplus => "trivselplus",
            Kind::Postfordeling => "postfordeling",
            Kind::Lae165 => "lae165",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind the beslutningstræ routes by: a LÆ 165, and mail Journalen passes on to
    /// Modtagelsen, are assessed as underretninger.
    pub fn routing(self) -> &'static str {
        match self {
            Kind::Lae165 | Kind::Postfordeling => "underretning",
            k => k.as_str(),
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
