//! `[retention]`: how long intakes and failed deliveries are kept (issue 17). A rule names
//! the kinds and states it applies to and the days after which an intake in them is erased
//! (crypto-shredded: see `modtag_storage::ring`); an intake no rule matches is kept. Only
//! intakes that are done with (routed or closed) can be erased by a rule: one that still
//! awaits its assessment never is, whatever a rule says.

use serde::Deserialize;

use crate::vocab::Kind;

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// The rules, each `[[retention.rule]]`; the first that matches an intake decides.
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
    /// Deliveries that failed for good are removed from the outbox this many days after they
    /// failed (kept when left out: Modtagelsen retries them from the desk).
    pub failed_deliveries_days: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The rule's name, recorded in the audit entry of each erasure.
    pub name: String,
    /// The kinds it applies to (`underretning`, `trivselplus`, `postfordeling`, `lae165`);
    /// every kind when left out.
    #[serde(default)]
    pub kinds: Vec<Kind>,
    /// The states it applies to: `routed`, `closed` (the default: `["closed"]`).
    #[serde(default = "default_states")]
    pub states: Vec<DoneState>,
    /// Only intakes linked to a case (journalised in the case system) when `true`, only
    /// those without a case when `false`, either when left out.
    pub case_linked: Option<bool>,
    /// Erased this many days after the intake last changed state.
    pub after_days: i64,
    /// Only once a person recorded where it was filed ("journaliseret", issue 31): until
    /// then it is kept, and `retention run` lists it as waiting.
    #[serde(default)]
    pub require_journalised: bool,
}

/// A state an intake is done with, the only ones a rule may erase in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum DoneState {
    Routed,
    Closed,
}

impl DoneState {
    pub fn as_str(self) -> &'static str {
        match self {
            DoneState::Routed => "routed",
            DoneState::Closed => "closed",
        }
    }
}

impl TryFrom<String> for DoneState {
    type Error = String;

    fn try_from(s: String) -> Result<DoneState, String> {
        match s.as_str() {
            "routed" => Ok(DoneState::Routed),
            "closed" => Ok(DoneState::Closed),
            "awaiting_assessment" | "auto_linked" | "assessed" => Err(format!(
                "state {s:?} cannot be in a retention rule: an intake that has not been routed or closed is never erased by a rule (use `modtag erase REF --reason` for one that must go)"
            )),
            _ => Err(format!(
                "unknown state {s:?}: a retention rule applies to \"routed\" or \"closed\""
            )),
        }
    }
}

fn default_states() -> Vec<DoneState> {
    vec![DoneState::Closed]
}

impl Retention {
    /// The first rule that applies to an intake of `kind` in `state` (its name as stored),
    /// linked to a case or not.
    pub fn rule_for(&self, kind: Kind, state: &str, case_linked: bool) -> Option<&Rule> {
        self.rules.iter().find(|r| {
            (r.kinds.is_empty() || r.kinds.contains(&kind))
                && r.states.iter().any(|s| s.as_str() == state)
                && r.case_linked.is_none_or(|c| c == case_linked)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_rule_decides_and_open_states_are_refused() {
        let r: Retention = toml::from_str(
            r#"
            failed_deliveries_days = 30
            [[rule]]
            name = "journaliseret"
            case_linked = true
            states = ["routed", "closed"]
            after_days = 90
            [[rule]]
            name = "trivsel-postfordeling"
            kinds = ["trivselplus", "postfordeling"]
            after_days = 30
            "#,
        )
        .unwrap();
        let name = |k, s, l| r.rule_for(k, s, l).map(|r| r.name.as_str());
        assert_eq!(
            name(Kind::Underretning, "routed", true),
            Some("journaliseret")
        );
        assert_eq!(
            name(Kind::Postfordeling, "closed", false),
            Some("trivsel-postfordeling")
        );
        assert_eq!(name(Kind::Postfordeling, "routed", false), None);
        assert_eq!(name(Kind::Underretning, "closed", false), None);
        assert_eq!(name(Kind::Underretning, "awaiting_assessment", true), None);
        let err = toml::from_str::<Retention>(
            "[[rule]]\nname = \"x\"\nstates = [\"awaiting_assessment\"]\nafter_days = 1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("never erased by a rule"), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }
}
