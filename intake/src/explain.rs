//! `modtag route explain`: facts from a JSON file, decisions as JSON.

use std::path::Path;

use anyhow::{Context, Result};
use modtag_config::RouteKind;
use modtag_router::Facts;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FactsFile {
    kind: String,
    trin: Option<u8>,
    area: Option<String>,
    #[serde(default)]
    udskoling: bool,
    #[serde(default)]
    existing_case: bool,
    #[serde(default)]
    consent: bool,
    /// For an overgang: consent to share the current forløb's information too.
    #[serde(default)]
    consent_share: bool,
    #[serde(default)]
    akut: bool,
    #[serde(default)]
    out_of_hours: bool,
    institution: Option<String>,
    raadgiver: Option<String>,
    /// Trivsel+ names: a list, or one string as written in a subject.
    #[serde(default)]
    names: Names,
}

#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Names {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

pub fn read_facts(path: &Path) -> Result<Facts> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let f: FactsFile = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}:{}:{}: {}", path.display(), e.line(), e.column(), e))?;
    let Some(kind) = RouteKind::parse(&f.kind) else {
        let kinds: Vec<&str> = RouteKind::ALL.iter().map(|k| k.as_str()).collect();
        anyhow::bail!(
            "{}: kind {:?} is not one of {}",
            path.display(),
            f.kind,
            kinds.join(", ")
        );
    };
    let at = path.display();
    if let Some(why) = crate::workflow::decide::facts_problem(f.trin, f.area.as_deref()) {
        anyhow::bail!("{at}: {why}");
    }
    let names: Vec<String> = match f.names {
        Names::None => Vec::new(),
        Names::One(s) => vec![s],
        Names::Many(v) => v,
    };
    // Printed back to a terminal: no escape sequence from a file goes with them.
    let texts = [&f.institution, &f.raadgiver].into_iter().flatten();
    if texts.chain(&names).any(|t| t.chars().any(char::is_control)) {
        anyhow::bail!("{at}: a name or id holds a control character");
    }
    Ok(Facts {
        kind,
        trin: f.trin,
        area: f.area,
        udskoling: f.udskoling,
        existing_case: f.existing_case,
        consent: f.consent,
        consent_share: f.consent_share,
        akut: f.akut,
        out_of_hours: f.out_of_hours,
        institution: f.institution,
        raadgiver: f.raadgiver,
        names,
    })
}

#[cfg(test)]
mod tests {
    /// The file's name and what is wrong, for each kind of fact a tree cannot mean.
    #[test]
    fn facts_a_tree_cannot_mean_are_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("facts.json");
        for (facts, says) in [
            (
                r#"{"kind": "underretning", "trin": 9}"#,
                "trin goes from 0 to 4",
            ),
            (
                r#"{"kind": "underretning", "area": "Mars"}"#,
                "unknown area \"Mars\"",
            ),
            (
                r#"{"kind": "trivselplus", "names": ["Karen\u001b[2J"]}"#,
                "control character",
            ),
            (
                r#"{"kind": "underretning", "raadgiver": "a\nb"}"#,
                "control character",
            ),
        ] {
            std::fs::write(&path, facts).unwrap();
            let e = super::read_facts(&path).expect_err(facts).to_string();
            assert!(
                e.starts_with(&path.display().to_string()) && e.contains(says),
                "{e}"
            );
        }
        std::fs::write(&path, r#"{"kind": "underretning", "trin": 4}"#).unwrap();
        assert_eq!(super::read_facts(&path).unwrap().trin, Some(4));
    }
}
