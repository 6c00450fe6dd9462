//! DOMAIN.md: a valid CPR that matches exactly one open case forwards the underretning to
//! that case's rådgiver at once; several candidates are suggestions for a person. Pure: the
//! open cases are read before.

use jiff::Timestamp;
use modtag_config::Loaded;
use modtag_config::ReporterKind;
use modtag_config::RouteKind;
use modtag_router::{route, Facts};
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::{Case, Item, ItemState};
use modtag_storage::store::{Batch, IdSource};
use modtag_storage::StoreError;
use serde_json::json;

use crate::compose;

/// Links `item` to its one open case (or records suggestions), queueing the rådgiver's copy.
pub fn link(
    cfg: &Loaded,
    item: &mut Item,
    open_cases: &[Case],
    (header, body): (&[u8], &[u8]),
    ids: &dyn IdSource,
    batch: &mut Batch,
    now: Timestamp,
) -> Result<(), StoreError> {
    // Auto-link only what a trusted sender wrote in their own name: a CPR in a forward is
    // another sender's reference, and is a suggestion (DOMAIN.md flow 1.2). And only from a
    // sender the transport proved (issue 26): "som fagperson" is anyone's to write, and a
    // copy signed by modtag must not go to a caseworker on such a claim before a person
    // has read it.
    let claimed = match cfg.config.triage.auto_link_senders.as_str() {
        "any" => true,
        _ => {
            item.understanding.reporter.kind == ReporterKind::Professional
                && item.understanding.original.is_none()
        }
    };
    let trusted = claimed && item.sender_known();
    match open_cases {
        [] => Ok(()),
        [case] if !trusted => {
            item.suggestions.push(case.case_number.clone());
            Ok(())
        }
        [case] => {
            let facts = Facts {
                kind: RouteKind::Underretning,
                existing_case: true,
                raadgiver: Some(case.raadgiver.clone()),
                institution: case.institution.clone(),
                area: case.area.clone(),
                ..Facts::default()
            };
            let mut decision = route(&facts, &cfg.tree, &cfg.directory);
            // The mechanical rule forwards to the rådgiver only; everything else waits for
            // Modtagelsen's assessment.
            decision.recipients.retain(|r| r.role == "raadgiver");
            if decision.recipients.is_empty() {
                item.suggestions.push(case.case_number.clone());
                return Ok(());
            }
            item.case_number = Some(case.case_number.clone());
            item.transition(
                ItemState::AutoLinked,
                "system",
                now,
                "one open case matches a valid CPR",
            );
            batch.audit(
                Event::new(EventKind::CaseLinked, "system", "auto-link")
                    .reference(&item.reference)
                    .details(json!({ "case": case.case_number, "rule": "exactly-one-open-case" })),
            );
            // The copy goes out as it is stored: with our Received: header.
            let raw = [header, body].concat();
            compose::enqueue(ids, cfg, item, &raw, &decision, "system", batch, now)
        }
        several => {
            item.suggestions = several.iter().map(|c| c.case_number.clone()).collect();
            Ok(())
        }
    }
}
