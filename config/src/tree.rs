//! The beslutningstræ as data: rules from facts to recipients (by role id) and actions.
//!
//! Every rule whose `when` matches contributes its recipients and actions; the router
//! (`modtag-router`) evaluates them and applies the consent gate. A condition left out
//! matches anything.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TreeFile {
    #[serde(rename = "rule", default)]
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    /// Where in the kommune's workflow this rule comes from (shown in explanations).
    #[serde(default)]
    pub cite: String,
    /// Plain-language reason shown to staff and recorded with each decision.
    pub reason: String,
    #[serde(default)]
    pub when: When,
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub actions: Vec<String>,
}

/// Conditions on the facts of a decision. Lists mean "any of these".
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    pub kind: Option<Vec<String>>,
    pub trin: Option<Vec<u8>>,
    pub area: Option<Vec<String>>,
    pub existing_case: Option<bool>,
    pub consent: Option<bool>,
    pub akut: Option<bool>,
    pub out_of_hours: Option<bool>,
    pub udskoling: Option<bool>,
}

impl When {
    /// The same conditions with lists sorted and de-duplicated, to compare rules.
    pub fn normalized(&self) -> When {
        fn norm<T: Ord + Clone>(v: &Option<Vec<T>>) -> Option<Vec<T>> {
            v.as_ref().map(|l| {
                let mut l = l.clone();
                l.sort();
                l.dedup();
                l
            })
        }
        When {
            kind: norm(&self.kind),
            trin: norm(&self.trin),
            area: norm(&self.area),
            ..self.clone()
        }
    }

    /// Why no facts can ever satisfy these conditions, if that is so.
    pub fn never_matches(&self) -> Option<String> {
        for (name, empty) in [
            ("kind", self.kind.as_ref().is_some_and(Vec::is_empty)),
            ("trin", self.trin.as_ref().is_some_and(Vec::is_empty)),
            ("area", self.area.as_ref().is_some_and(Vec::is_empty)),
        ] {
            if empty {
                return Some(format!(
                    "`{name} = []` matches nothing: leave {name} out to match any {name}"
                ));
            }
        }
        let schools = ["skole", "privat_skole"];
        if self.udskoling == Some(true)
            && self
                .area
                .as_ref()
                .is_some_and(|a| !a.iter().any(|a| schools.contains(&a.as_str())))
        {
            return Some(
                "udskoling = true with no school area: only pupils in a skole or privat_skole are in udskoling".into(),
            );
        }
        if let Some(kinds) = &self.kind {
            let only_meetings = kinds.iter().all(|k| k == "statusmoede");
            if only_meetings && (self.existing_case.is_some() || self.akut.is_some()) {
                return Some(
                    "a statusmoede is about an area, not a case: existing_case and akut never apply to it".into(),
                );
            }
        }
        None
    }
}

/// The actions a rule may name.
pub const ACTIONS: &[&str] = &[
    "forward",
    "invite_underretningsmoede",
    "recommend_trivselplus",
    "require_consent",
    "call_first_meeting",
    "summon_statusmoede",
];

#[derive(Debug, Clone, Default)]
pub struct Tree {
    pub rules: Vec<Rule>,
    /// SHA-256 of the file's bytes, hex: recorded with every decision the tree makes.
    pub hash: String,
}
