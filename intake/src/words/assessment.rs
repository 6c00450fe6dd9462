//! A decision as a person reads it, on the item page of the desk that owns the intake and on
//! a recipient's page alike: who assessed and when, the trin in the barometer's words, the
//! screening's outcome, the written screening, the recommendation and the consent (issue 29:
//! the assessment is part of the item, not only of the copies it sent).

use modtag_config::vocab::{outcome_words, trin_words};
use modtag_storage::records::DecisionRecord;

pub struct Assessment {
    /// "08.12.2026 kl. 10:00 af modt".
    pub decided: String,
    /// "Trin 2: Faldende trivsel".
    pub trin: Option<String>,
    pub outcome: Option<String>,
    /// The screening as the assessor wrote it.
    pub screening: String,
    pub recommendation: Option<&'static str>,
    /// Who consented, how, when and to what; `None` when no consent was recorded.
    pub consent: Option<String>,
}

pub fn of(d: &DecisionRecord, when: super::When) -> Assessment {
    Assessment {
        decided: format!("{} af {}", when.at(d.at), d.actor),
        trin: d.trin.map(|t| {
            format!(
                "Trin {t}{}",
                trin_words(t).map(|w| format!(": {w}")).unwrap_or_default()
            )
        }),
        outcome: d
            .screening_outcome
            .as_deref()
            .map(|o| outcome_words(o).to_string()),
        screening: d.note.trim().to_string(),
        recommendation: d
            .actions
            .iter()
            .any(|a| a == "recommend_trivselplus")
            .then_some("Et TRIVSEL+ forløb, ledet af den lokale leder."),
        consent: d.consent_record.as_ref().map(|c| {
            format!(
                "Givet af {}, {}, {}, til {}",
                c.given_by,
                c.how,
                when.at(c.at),
                c.scope
            )
        }),
    }
}
