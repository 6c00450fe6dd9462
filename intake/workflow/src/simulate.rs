//! `modtag route simulate`: replays the stored decisions against a candidate beslutningstræ
//! and lists every intake whose recipients would change, before anyone deploys it.
//!
//! Each decision is replayed from the facts a person recorded (and the case's rådgiver), so
//! the comparison is between what was sent and what the candidate would send.

use std::collections::BTreeSet;

use jiff::Timestamp;
use modtag_config::{Loaded, Tree};
use modtag_router::{route, Facts};
use modtag_storage::{Store, StoreError};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Change {
    pub reference: String,
    pub decided_at: Timestamp,
    /// `role:person` as sent, and as the candidate would send.
    pub before: Vec<String>,
    pub after: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Simulation {
    pub candidate_tree_hash: String,
    pub replayed: usize,
    pub changes: Vec<Change>,
}

/// Replays every decision made at or after `from` with `candidate`, of the intakes `works`
/// allows (the decision's facts are the intake's: only its desk replays them). Blocking
/// (decrypts every item).
pub fn simulate(
    store: &Store,
    cfg: &Loaded,
    candidate: &Tree,
    from: Option<Timestamp>,
    works: impl Fn(&modtag_storage::records::Item) -> bool,
) -> Result<Simulation, StoreError> {
    let mut sim = Simulation {
        candidate_tree_hash: candidate.hash.clone(),
        replayed: 0,
        changes: Vec::new(),
    };
    for item in store.items()? {
        if !works(&item) {
            continue;
        }
        let Some(decision) = &item.decision else {
            continue;
        };
        if from.is_some_and(|f| decision.at < f) {
            continue;
        }
        let case = match &decision.case_number {
            Some(n) => store.case(n)?,
            None => None,
        };
        let facts = Facts {
            kind: item.kind.routing(),
            trin: decision.trin,
            area: decision.area.clone(),
            udskoling: decision.udskoling,
            existing_case: decision.existing_case,
            consent: decision.consent,
            // An intake is never an overgang: its second consent does not apply.
            consent_share: false,
            akut: decision.akut,
            out_of_hours: decision.out_of_hours,
            institution: decision.institution.clone(),
            raadgiver: case.map(|c| c.raadgiver),
            names: crate::decide::trivsel_names(&item),
        };
        let after: BTreeSet<String> = route(&facts, candidate, &cfg.directory)
            .recipients
            .iter()
            .map(|r| format!("{}:{}", r.role, r.person))
            .collect();
        let before: BTreeSet<String> = decision
            .recipients
            .iter()
            .map(|r| format!("{}:{}", r.role, r.person))
            .collect();
        sim.replayed += 1;
        if before != after {
            sim.changes.push(Change {
                reference: item.reference.clone(),
                decided_at: decision.at,
                before: before.into_iter().collect(),
                after: after.into_iter().collect(),
            });
        }
    }
    Ok(sim)
}
