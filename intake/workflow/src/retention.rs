//! Retention and erasure (issue 17): which intakes `[retention]` says are due, erasing them
//! (crypto-shredding: `modtag_storage::ring`), and a person's erasure of one intake with a
//! reason. Each erasure is an audit entry with the reference and the rule or reason; after
//! a run that erased anything the ring key rotates, so no older copy opens again.

use jiff::{SignedDuration, Timestamp};
use modtag_config::retention::Retention;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::ItemState;
use modtag_storage::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// What a run erased (or, dry, would erase): references and rule names, no personal data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RetentionReport {
    pub dry_run: bool,
    pub erased: Vec<ErasedItem>,
    /// Due but kept: their rule requires the record, and none is journalised yet.
    #[serde(default)]
    pub waiting: Vec<ErasedItem>,
    /// Outbox ids of failed deliveries removed.
    pub deliveries_removed: Vec<u64>,
    /// Whether the ring key was replaced: after anything was erased, or because an earlier
    /// erasure's replacement failed and was still owed.
    pub ring_rotated: bool,
    /// Why the ring key is still owed, when replacing it failed: what was erased stays
    /// erased, but a copy taken before (a backup) still opens it until a later run
    /// replaces the ring key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring_owed: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErasedItem {
    pub reference: String,
    pub rule: String,
    /// When the intake last changed state (the rule's days count from then).
    pub since: Timestamp,
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(n * 24)
}

/// The intakes `retention` says are due at `now`, oldest reference first, and those due
/// but waiting for their record (a rule with `require_journalised`). Only routed and closed
/// intakes are read.
pub fn due(
    store: &Store,
    retention: &Retention,
    now: Timestamp,
) -> Result<(Vec<ErasedItem>, Vec<ErasedItem>), StoreError> {
    if retention.rules.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let done = store.items_where(|s| matches!(s, ItemState::Routed | ItemState::Closed))?;
    let (mut due, mut waiting) = (Vec::new(), Vec::new());
    for item in done {
        let case = item.case_number.is_some();
        let Some(rule) = retention.rule_for(item.kind, item.state.as_str(), case) else {
            continue;
        };
        let since = item.history.last().map_or(item.received_at, |t| t.at);
        if since + days(rule.after_days) > now {
            continue;
        }
        let unfiled = rule.require_journalised && item.journalised.is_none();
        let listed = ErasedItem {
            reference: item.reference,
            rule: rule.name.clone(),
            since,
        };
        if unfiled {
            waiting.push(listed);
        } else {
            due.push(listed);
        }
    }
    Ok((due, waiting))
}

/// Erases what is due (or only reports it, `dry_run`), removes failed deliveries past
/// `failed_deliveries_days`, and rotates the ring key after any erasure, or when an earlier
/// erasure's rotation failed (the daily run is what retries it).
pub fn run(
    store: &Store,
    retention: &Retention,
    actor: &str,
    now: Timestamp,
    dry_run: bool,
) -> Result<RetentionReport, StoreError> {
    let (erased, waiting) = due(store, retention, now)?;
    let mut report = RetentionReport {
        dry_run,
        erased,
        waiting,
        ..Default::default()
    };
    // From the clear schedule: one entry that cannot be read must not stop the sweep.
    let failed: Vec<(u64, Timestamp)> = match retention.failed_deliveries_days {
        Some(d) => (store.outbox_failed_at()?.into_iter())
            .filter(|(_, at)| *at + days(d) <= now)
            .collect(),
        None => Vec::new(),
    };
    report.deliveries_removed = failed.iter().map(|(id, _)| *id).collect();
    if dry_run {
        return Ok(report);
    }
    let mut erased = Vec::new();
    for item in std::mem::take(&mut report.erased) {
        let event = Event::new(EventKind::Erased, actor, "sletning").details(serde_json::json!({
            "rule": item.rule,
            "since": item.since.to_string(),
        }));
        // Gone meanwhile (a person erased it): nothing to report.
        if store.erase(&item.reference, event, now)? {
            erased.push(item);
        }
    }
    report.erased = erased;
    let mut removed = Vec::new();
    for (id, failed_at) in failed {
        let event = Event::new(EventKind::DeliveryRemoved, actor, "sletning")
            .details(serde_json::json!({ "id": id, "rule": "failed_deliveries_days" }));
        // Put back in the queue meanwhile (an operator's retry): it stays.
        if store.remove_failed_delivery(id, failed_at, event, now)? {
            removed.push(id);
        }
    }
    report.deliveries_removed = removed;
    // Not knowing whether a key is owed (the store cannot say) is taken as owed.
    if !report.erased.is_empty() || store.ring_owed().unwrap_or(true) {
        // The erasures are done and durable whatever happens here: an error now must not
        // read as "nothing was erased".
        match store.rotate_ring(actor, now) {
            Ok(_) => report.ring_rotated = true,
            Err(e) => report.ring_owed = Some(ring_owed(&e)),
        }
    }
    Ok(report)
}

/// What a person's erasure of one intake did.
#[derive(Debug)]
pub enum Erasure {
    NoSuchIntake,
    /// Erased, and the ring key replaced: no copy opens again.
    Erased,
    /// Erased, but replacing the ring key failed: a copy taken before (a backup) still
    /// opens it until a retention run (the daemon's daily one, or `modtag retention run`)
    /// replaces the ring key. Said as it is, not as "nothing changed".
    RingNotReplaced(StoreError),
}

/// A person's erasure of one intake, with their reason; the ring rotates at once.
pub fn erase_one(
    store: &Store,
    reference: &str,
    reason: &str,
    actor: &str,
    purpose: &str,
    now: Timestamp,
) -> Result<Erasure, StoreError> {
    let event = Event::new(EventKind::Erased, actor, purpose)
        .details(serde_json::json!({ "reason": reason }));
    if !store.erase(reference, event, now)? {
        return Ok(Erasure::NoSuchIntake);
    }
    Ok(match store.rotate_ring(actor, now) {
        Ok(_) => Erasure::Erased,
        Err(e) => Erasure::RingNotReplaced(e),
    })
}

/// What to tell a person whose erasure's ring rotation failed with `e`.
pub fn ring_owed(e: &StoreError) -> String {
    format!(
        "erased, but the ring key could not be replaced ({e}): a backup taken before still \
         opens what was erased until it is; the daemon tries again at its daily retention \
         run, or run `modtag retention run` once the cause is mended"
    )
}
