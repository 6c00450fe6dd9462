//! The rules of a case system that takes files (issue 31, `[journal.hook]`): a package
//! dropped for it is recorded on its intake ([`dropped`]); the system's receipt marks the
//! intake journalised only when it names a package modtag dropped for that intake
//! ([`receipt`]). The package id is random and travels only inside the encrypted package,
//! so a receipt written by anyone who could not open the package matches nothing, and
//! retention, which waits for the record, is not talked into erasing an unfiled intake.

use jiff::Timestamp;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::journal::{Dropped, Journalised};
use modtag_storage::records::Item;
use modtag_storage::store::Batch;
use modtag_storage::{Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::change::Refusal;

/// Records a dropped package on its intake: the change rule for [`crate::change::item`].
pub fn dropped(
    package_id: String,
    file: String,
    system: String,
) -> impl FnOnce(&mut Item, &str, Timestamp) -> Result<Dropped, Refusal> {
    move |item, actor, now| {
        let d = Dropped {
            package_id,
            file,
            system,
            by: actor.to_string(),
            at: now,
            receipt_at: None,
        };
        item.journal_dropped.push(d.clone());
        Ok(d)
    }
}

/// A receipt as the case system's integration writes it (`*.json` in `receipts_dir`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub reference: String,
    pub package_id: String,
    pub document_id: String,
}

/// Why a receipt was not taken: said in the file left beside it, and by code in the log.
#[derive(Debug)]
pub enum Refused {
    /// Not a receipt at all (malformed, a value on several lines or too long).
    Malformed(String),
    /// No intake of that reference has a package of that id (erased, or never dropped).
    Unknown,
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Refused {
        Refused::Store(e)
    }
}

/// Takes one receipt: under the intake's lock, finds the dropped package it names and
/// records where the system filed it, as `journalised` (a later receipt for the same
/// intake corrects it, as a person's second recording does), with the receipt's and the
/// filing's audit entries, in one commit. The caller makes it durable.
pub fn receipt(
    store: &Store,
    text: &[u8],
    system: &str,
    now: Timestamp,
) -> Result<(String, Journalised), Refused> {
    // serde's own message may quote the file: only where it went wrong is said.
    let r: Receipt = serde_json::from_slice(text).map_err(|e| {
        Refused::Malformed(format!(
            "not a receipt (line {}, column {}): give one JSON object with reference, \
             package_id and document_id, nothing else",
            e.line(),
            e.column()
        ))
    })?;
    if ![&r.reference, &r.package_id, &r.document_id]
        .into_iter()
        .all(|s| crate::change::one_line(s))
    {
        return Err(Refused::Malformed(
            "reference, package_id and document_id must each be one line of at most 200 characters"
                .into(),
        ));
    }
    let _held = store.lock_item(&r.reference);
    let mut item = store.item(&r.reference)?.ok_or(Refused::Unknown)?;
    let Some(d) = (item.journal_dropped.iter_mut()).find(|d| d.package_id == r.package_id) else {
        return Err(Refused::Unknown);
    };
    // One receipt per package: a second would silently replace the recorded filing.
    if d.receipt_at.is_some() {
        return Err(Refused::Malformed(
            "this package's receipt was taken already; a correction is recorded on the desk".into(),
        ));
    }
    d.receipt_at = Some(now);
    let actor = format!("{system} (kvittering)");
    let filed = Journalised {
        system: system.to_string(),
        document_id: r.document_id.clone(),
        by: actor.clone(),
        at: now,
    };
    item.journalised = Some(filed.clone());
    let mut b = Batch::new();
    let details = serde_json::json!({ "package_id": r.package_id, "system": system, "document_id": r.document_id });
    for kind in [EventKind::JournalReceipt, EventKind::Journalised] {
        b.audit(
            Event::new(kind, &actor, "journalisering")
                .reference(&r.reference)
                .details(details.clone()),
        );
    }
    b.item(item);
    store.commit(b, now)?;
    Ok((r.reference, filed))
}
