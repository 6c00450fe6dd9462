//! The 24-hour deadline, enforced: unassessed items are escalated at the configured hours
//! (Modtagelsen, then its leader, then outside office hours the døgnvagt; Journalen for its
//! own TRIVSEL+ and postfordeling), akut items at once. The same pass reminds the owner of
//! a TRIVSEL+ forløb's step left too long (`forloeb::remind`). Notices carry the reference, the
//! deadline and the item's link in the desk only.
//!
//! Escalation runs from the store: each notice sent is recorded on the item in the same
//! batch as its outbox entries, so after a restart a notice that fell due while modtag was
//! down goes out once, and none goes out twice.

use std::sync::Arc;
use std::time::Duration;

use jiff::{Timestamp, ToSpan};
use modtag_config::{Kind, Loaded};
use modtag_router::{calendar, deadline};
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::{Escalation, Item, ItemState};
use modtag_storage::store::{Batch, IdSource};
use modtag_storage::{Store, StoreError};
use serde_json::json;
use tokio::sync::watch;

use super::forloeb;
use crate::app::App;
use crate::delivery::compose;

/// True while the 24-hour assessment is still owed.
pub fn unassessed(item: &Item) -> bool {
    item.state.awaits_assessment()
}

/// Past its deadline and still not assessed: flagged until a person assesses it.
pub fn overdue(item: &Item, now: Timestamp) -> bool {
    unassessed(item) && now > item.deadline
}

/// The roles a stage notifies for an intake of `kind`, given whether the office is open
/// now. Modtagelsen's intakes go to Modtagelsen, its leader and outside office hours the
/// døgnvagt; Journalen's own (a TRIVSEL+ from Send sikkert, postfordeling) go to Journalen,
/// whose deadline they are (issue 16), never to Modtagelsen.
pub fn stage_roles(kind: Kind, stage: u8, office_open: bool) -> Vec<&'static str> {
    if matches!(kind, Kind::Trivselplus | Kind::Postfordeling) {
        return vec!["journalen"];
    }
    match (stage, office_open) {
        (0, true) | (1, _) => vec!["modtagelsen"],
        (0, false) => vec!["modtagelsen", "doegnvagt"],
        (2, _) => vec!["modtagelsen_leder"],
        (_, true) => vec!["modtagelsen", "modtagelsen_leder"],
        (_, false) => vec!["modtagelsen_leder", "doegnvagt"],
    }
}

/// Stages that are due at `now` and not yet sent. Pure.
pub fn due_stages(item: &Item, hours: &[i64], now: Timestamp) -> Vec<u8> {
    if !unassessed(item) {
        return Vec::new();
    }
    hours
        .iter()
        .enumerate()
        .map(|(i, h)| (i as u8 + 1, *h))
        .filter(|(stage, h)| {
            now >= item.received_at + h.hours()
                && !item.escalations.iter().any(|e| e.stage == *stage)
        })
        .map(|(stage, _)| stage)
        .collect()
}

/// The next instant at which some stage of an open item falls due (to sleep until then).
pub fn next_due(items: &[Item], hours: &[i64], now: Timestamp) -> Option<Timestamp> {
    items
        .iter()
        .filter(|i| unassessed(i))
        .flat_map(|i| {
            hours
                .iter()
                .enumerate()
                .filter(|(n, _)| !i.escalations.iter().any(|e| e.stage == *n as u8 + 1))
                .map(|(_, h)| i.received_at + h.hours())
        })
        .filter(|t| *t > now)
        .min()
}

/// Queues the notices of `stage` for `item` in `batch` and records them on the item.
pub fn notify(
    ids: &dyn IdSource,
    cfg: &Loaded,
    item: &mut Item,
    stage: u8,
    batch: &mut Batch,
    now: Timestamp,
) -> Result<(), StoreError> {
    let open = calendar::office_open(now, &cfg.directory.calendar);
    let mut to = Vec::new();
    for role in stage_roles(item.kind, stage, open) {
        for person in cfg.directory.with_role(role) {
            if to.contains(&person.id) {
                continue;
            }
            to.push(person.id.clone());
            let (subject, body) = notice(cfg, item, stage);
            let to_person = compose::PlainTo {
                role,
                person: &person.id,
                email: &person.email,
            };
            batch.outbox(compose::plain_entry(
                ids,
                cfg,
                &item.reference,
                to_person,
                &subject,
                &body,
                now,
            )?);
        }
    }
    batch.audit(
        Event::new(EventKind::Escalated, "system", "deadline")
            .reference(&item.reference)
            .details(json!({ "stage": stage, "to": to, "office_open": open })),
    );
    item.escalations.push(Escalation { stage, at: now, to });
    Ok(())
}

/// Subject and text of a notice: the reference, the deadline and where to read it in the
/// desk; nothing about the case, not even that it seemed urgent (a plain mail says only
/// what a stranger may read). The immediate notice comes at receipt: that it comes at once
/// is what says to look now.
fn notice(cfg: &Loaded, item: &Item, stage: u8) -> (String, String) {
    let due = deadline::local(item.deadline);
    let url = cfg.config.http.desk_url();
    let reference = &item.reference;
    let first = if stage == 0 {
        format!("Henvendelse {reference} er modtaget og skal vurderes senest {due}.")
    } else {
        format!("Henvendelse {reference} er endnu ikke vurderet (påmindelse {stage}). Fristen udløber {due}.")
    };
    (
        format!("Frist: {reference} skal vurderes senest {due}"),
        format!("{first}\n\nSe den i modtag: {url}/koe/{reference}\n"),
    )
}

/// One pass over the open items: every stage that is due goes out, once. Blocking.
pub fn tick(store: &Store, cfg: &Loaded, now: Timestamp) -> Result<usize, StoreError> {
    pass(store, cfg, now).map(|(sent, _)| sent)
}

/// A pass, and when the next stage of any item falls due.
fn pass(
    store: &Store,
    cfg: &Loaded,
    now: Timestamp,
) -> Result<(usize, Option<Timestamp>), StoreError> {
    let hours = &cfg.config.triage.escalate_after_hours;
    let mut sent = 0;
    let mut next: Option<Timestamp> = None;
    // Only unassessed items can be escalated: the state index spares decrypting the rest.
    for item in store.items_where(ItemState::awaits_assessment)? {
        if let Some(t) = next_due(std::slice::from_ref(&item), hours, now) {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        if due_stages(&item, hours, now).is_empty() {
            continue;
        }
        // Read again under the item's lock: a person may have decided since the list was
        // read, and writing back the older copy would undo that.
        let _held = store.lock_item(&item.reference);
        let Some(mut item) = store.item(&item.reference)? else {
            continue;
        };
        let stages = due_stages(&item, hours, now);
        if stages.is_empty() {
            continue;
        }
        let mut batch = Batch::new();
        for stage in stages {
            notify(store, cfg, &mut item, stage, &mut batch, now)?;
            sent += 1;
        }
        batch.item(item);
        store.commit(batch, now)?;
    }
    // A TRIVSEL+ forløb's step left too long: the clear summaries say which are due.
    for (reference, summary) in store.summaries_by_reference()? {
        let Some(due) = summary.step_due else {
            continue;
        };
        if due > now {
            next = Some(next.map_or(due, |n| n.min(due)));
            continue;
        }
        let _held = store.lock_item(&reference);
        let Some(mut item) = store.item(&reference)? else {
            continue;
        };
        let mut batch = Batch::new();
        if forloeb::remind(store, cfg, &mut item, &mut batch, now)? {
            batch.item(item);
            store.commit(batch, now)?;
            sent += 1;
        }
    }
    if sent > 0 {
        store.flush()?;
    }
    Ok((sent, next))
}

/// The escalation loop: ticks at least every minute and when a stage falls due.
pub struct Worker {
    pub app: Arc<App>,
    pub shutdown: watch::Receiver<bool>,
}

impl Worker {
    pub async fn run(mut self) {
        loop {
            let cfg = self.app.policy.cfg();
            let store = self.app.store.clone();
            let now = self.app.clock.now();
            let result = tokio::task::spawn_blocking(move || pass(&store, &cfg, now)).await;
            let wait = match result {
                Ok(Ok((sent, next))) => {
                    if sent > 0 {
                        tracing::info!(notices = sent, "deadline notices queued");
                        self.app.wake.notify_one();
                    }
                    next.map(|t| (t - self.app.clock.now()).get_seconds().clamp(1, 60) as u64)
                        .unwrap_or(60)
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "escalation pass failed; retrying in a minute");
                    60
                }
                Err(_) => 60,
            };
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(wait)) => {}
                _ = self.shutdown.changed() => return,
            }
        }
    }
}
