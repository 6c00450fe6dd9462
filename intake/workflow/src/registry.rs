//! The case registry's import: the kommune's cases as its case system lists them, written
//! over the registry's copies, keeping what only modtag knows of a case (a sent overgang).

use jiff::Timestamp;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::Case;
use modtag_storage::store::Batch;
use modtag_storage::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// `POST /api/v1/cases/import`'s answer.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ImportCounts {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// Writes `cases` (a whole, checked registry) in one commit with its audit entry.
pub fn import(
    store: &Store,
    cases: Vec<Case>,
    actor: &str,
    purpose: &str,
    now: Timestamp,
) -> Result<ImportCounts, StoreError> {
    // One import at a time: two read without locks could each leave a case the other
    // changes, and the registry end as neither file says.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut counts = ImportCounts::default();
    // First without locks: most of a daily registry is as it was, and holding every case's
    // lock (up to all of the stripes intakes share) while reading a large one would hold up
    // deliveries' outcomes, receipts and decisions meanwhile.
    let mut changed = Vec::new();
    for case in cases {
        match store.case(&case.case_number)? {
            Some(old) if same(&old, &case) => counts.unchanged += 1,
            _ => changed.push(case),
        }
    }
    // The rest locked as an overgang locks its case, and read again under the lock: written
    // back whole, a case must not lose an overgang sent in between.
    let numbers: Vec<&str> = changed.iter().map(|c| c.case_number.as_str()).collect();
    let _held = store.lock_cases(&numbers);
    let mut batch = Batch::new();
    for mut case in changed {
        let old = store.case(&case.case_number)?;
        // The registry knows nothing of a sent overgang: it stays.
        case.overgang = old.as_ref().and_then(|o| o.overgang.clone());
        match old {
            None => counts.added += 1,
            Some(old) if old == case => {
                counts.unchanged += 1;
                continue;
            }
            Some(_) => counts.updated += 1,
        }
        batch.case(case);
    }
    batch.audit(
        Event::new(EventKind::CasesImported, actor, purpose)
            .details(serde_json::to_value(&counts).unwrap_or_default()),
    );
    store.commit(batch, now)?;
    Ok(counts)
}

/// Whether the registry's `new` says of a case what `old` holds (apart from an overgang).
fn same(old: &Case, new: &Case) -> bool {
    let overgang = old.overgang.clone();
    *old == Case {
        overgang,
        ..new.clone()
    }
}
