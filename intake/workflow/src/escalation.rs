//! The 24-hour deadline, enforced: unassessed items are escalated at the configured hours
//! (Modtagelsen, then its leader, then outside office hours the døgnvagt; Journalen for its
//! own TRIVSEL+ and postfordeling), akut items at once and on their own short clock. When
//! Modtagelsen closes, what cannot wait until it opens again is handed to the døgnvagt in
//! one notice (issue 27), and an intake received while closed at once. The same pass
//! reminds the owner of a TRIVSEL+ forløb's step left too long (`forloeb::remind`). Notices
//! carry the reference, the deadline, how urgent and the item's link in the desk only.
//!
//! Escalation runs from the store: each notice sent is recorded on the item in the same
//! batch as its outbox entries, so after a restart a notice that fell due while modtag was
//! down goes out once, and none goes out twice.

use jiff::{SignedDuration, Timestamp};
use modtag_config::{Kind, Loaded};
use modtag_router::{calendar, deadline};
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::{Escalation, Item, ItemState};
use modtag_storage::store::{Batch, IdSource};
use modtag_storage::{Store, StoreError};
use serde_json::json;

use super::forloeb;
use crate::compose;

/// True while the 24-hour assessment is still owed.
pub fn unassessed(item: &Item) -> bool {
    item.state.awaits_assessment()
}

/// Past its deadline and still not assessed: flagged until a person assesses it.
pub fn overdue(item: &Item, now: Timestamp) -> bool {
    unassessed(item) && now > item.deadline
}

/// Journalen's own kinds (a TRIVSEL+ from Send sikkert, postfordeling): their deadline is
/// Journalen's (issue 16), never Modtagelsen's or the døgnvagt's.
fn journalens(kind: Kind) -> bool {
    matches!(kind, Kind::Trivselplus | Kind::Postfordeling)
}

/// The roles a stage notifies for an intake of `kind`, given whether the office is open
/// now. Modtagelsen's intakes go to Modtagelsen, its leader and outside office hours the
/// døgnvagt; Journalen's own go to Journalen.
pub fn stage_roles(kind: Kind, stage: u8, office_open: bool) -> Vec<&'static str> {
    if journalens(kind) {
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

/// The stages of `item`'s clock, each with how long after receipt it falls due: the
/// configured hours; for an akut intake its short clock alone (issue 27), whose one stage is
/// the last (Modtagelsen and its leader, outside office hours its leader and the døgnvagt).
pub fn schedule(cfg: &Loaded, item: &Item) -> Vec<(u8, SignedDuration)> {
    let t = &cfg.config.triage;
    if item.akut() && !journalens(item.kind) {
        return vec![(3, SignedDuration::from_hours(t.akut_hours))];
    }
    t.escalate_after_hours
        .iter()
        .enumerate()
        .map(|(i, h)| (i as u8 + 1, SignedDuration::from_hours(*h)))
        .collect()
}

/// The hours of an intake's assessment clock: the akut clock for one with akut signals.
pub fn clock_hours(cfg: &Loaded, akut: bool, kind: Kind) -> i64 {
    let t = &cfg.config.triage;
    if akut && !journalens(kind) {
        t.akut_hours
    } else {
        t.assessment_hours
    }
}

/// Stages that are due at `now` and not yet sent. Pure.
pub fn due_stages(cfg: &Loaded, item: &Item, now: Timestamp) -> Vec<u8> {
    if !unassessed(item) {
        return Vec::new();
    }
    schedule(cfg, item)
        .into_iter()
        .filter(|(stage, after)| {
            now >= item.received_at + *after && !item.escalations.iter().any(|e| e.stage == *stage)
        })
        .map(|(stage, _)| stage)
        .collect()
}

/// The next instant at which some stage of an open item falls due (to sleep until then).
pub fn next_due(cfg: &Loaded, items: &[Item], now: Timestamp) -> Option<Timestamp> {
    items
        .iter()
        .filter(|i| unassessed(i))
        .flat_map(|i| {
            schedule(cfg, i)
                .into_iter()
                .filter(|(n, _)| !i.escalations.iter().any(|e| e.stage == *n))
                .map(|(_, after)| i.received_at + after)
        })
        .filter(|t| *t > now)
        .min()
}

/// Whether `item` goes to the døgnvagt now (issue 27): one of Modtagelsen's, unassessed
/// and not handed over yet, Modtagelsen closed, and its deadline before Modtagelsen opens
/// again (or no opening in sight). At closing time that is everything left whose deadline
/// falls in the closed hours; while closed, a new intake at once.
pub fn due_for_handover(cfg: &Loaded, item: &Item, now: Timestamp) -> bool {
    let cal = &cfg.directory.calendar;
    !journalens(item.kind)
        && unassessed(item)
        && !item.handed_over()
        && !calendar::office_open(now, cal)
        && calendar::next_opening(now, cal).is_none_or(|open| item.deadline < open)
}

/// Hands `items` to the døgnvagt: one notice to each of its people listing every reference
/// (urgent when one is akut), and the hand-over recorded on each item, audited. Nothing
/// when the directory has no døgnvagt. Whether they were handed over.
pub fn hand_over(
    ids: &dyn IdSource,
    cfg: &Loaded,
    items: &mut [Item],
    batch: &mut Batch,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let people = cfg.directory.with_role("doegnvagt");
    let Some(first) = items.iter().min_by_key(|i| (!i.akut(), i.deadline)) else {
        return Ok(false);
    };
    if people.is_empty() {
        return Ok(false);
    }
    let urgent = items.iter().any(Item::akut);
    let mut listed: Vec<&Item> = items.iter().collect();
    listed.sort_by_key(|i| (!i.akut(), i.deadline));
    let url = cfg.config.http.desk_url();
    let lines: Vec<String> = listed
        .iter()
        .map(|i| {
            format!(
                "{}{}: frist {}. {url}/koe/{}",
                if i.akut() { "HASTER " } else { "" },
                i.reference,
                deadline::local(i.deadline),
                i.reference
            )
        })
        .collect();
    let opens = calendar::next_opening(now, &cfg.directory.calendar)
        .map_or_else(|| "ikke inden for de næste uger".into(), deadline::local);
    let subject = format!(
        "{}Overdraget til døgnvagten: {} henvendelse{} skal vurderes, før Modtagelsen åbner",
        if urgent { "Haster: " } else { "" },
        items.len(),
        if items.len() == 1 { "" } else { "r" }
    );
    let body = format!(
        "Modtagelsen er lukket og åbner igen {opens}. Fristen for disse henvendelser udløber \
         inden da, så vurderingen er døgnvagtens:\n\n{}\n\nDe står i døgnvagtens kø i modtag: {url}/koe\n",
        lines.join("\n")
    );
    let reference = first.reference.clone();
    let to: Vec<String> = people.iter().map(|p| p.id.clone()).collect();
    for person in &people {
        let to_person = compose::PlainTo {
            role: "doegnvagt",
            person: &person.id,
            email: &person.email,
        };
        batch.outbox(compose::plain_entry_urgent(
            ids, cfg, &reference, to_person, &subject, &body, urgent, now,
        )?);
    }
    for item in items.iter_mut() {
        batch.audit(
            Event::new(EventKind::Escalated, "system", "deadline")
                .reference(&item.reference)
                .details(json!({ "stage": "handover", "to": to, "office_open": false })),
        );
        item.escalations.push(Escalation {
            stage: Escalation::HANDOVER,
            at: now,
            to: to.clone(),
            roles: vec!["doegnvagt".into()],
        });
    }
    Ok(true)
}

/// Queues the notices of `stage` for `item` in `batch` and records them on the item. The
/// døgnvagt is left out when `handed` (it was handed the intake in the same batch).
pub fn notify(
    ids: &dyn IdSource,
    cfg: &Loaded,
    item: &mut Item,
    (stage, handed): (u8, bool),
    batch: &mut Batch,
    now: Timestamp,
) -> Result<(), StoreError> {
    let open = calendar::office_open(now, &cfg.directory.calendar);
    let roles: Vec<&str> = stage_roles(item.kind, stage, open)
        .into_iter()
        .filter(|r| !(handed && *r == "doegnvagt"))
        .collect();
    let mut to = Vec::new();
    for role in &roles {
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
            batch.outbox(compose::plain_entry_urgent(
                ids,
                cfg,
                &item.reference,
                to_person,
                &subject,
                &body,
                item.akut(),
                now,
            )?);
        }
    }
    batch.audit(
        Event::new(EventKind::Escalated, "system", "deadline")
            .reference(&item.reference)
            .details(json!({ "stage": stage, "to": to, "office_open": open })),
    );
    item.escalations.push(Escalation {
        stage,
        at: now,
        to,
        roles: roles.iter().map(|r| r.to_string()).collect(),
    });
    Ok(())
}

/// Subject and text of a notice: the reference, the deadline and where to read it in the
/// desk; how urgent ("Haster" for an akut intake), never what: a plain mail says only what a
/// stranger may read.
fn notice(cfg: &Loaded, item: &Item, stage: u8) -> (String, String) {
    let due = deadline::local(item.deadline);
    let url = cfg.config.http.desk_url();
    let reference = &item.reference;
    let urgent = if item.akut() { "Haster: " } else { "" };
    let first = match (stage, item.akut()) {
        (0, true) => format!(
            "Henvendelse {reference} er modtaget, haster og skal vurderes senest {due}."
        ),
        (0, false) => format!("Henvendelse {reference} er modtaget og skal vurderes senest {due}."),
        (_, true) => format!(
            "Henvendelse {reference} haster og er endnu ikke vurderet. Fristen udløber {due}."
        ),
        (_, false) => format!(
            "Henvendelse {reference} er endnu ikke vurderet (påmindelse {stage}). Fristen udløber {due}."
        ),
    };
    (
        format!("{urgent}Frist: {reference} skal vurderes senest {due}"),
        format!("{first}\n\nSe den i modtag: {url}/koe/{reference}\n"),
    )
}

/// One pass over the open items: every stage that is due goes out, once. Blocking.
pub fn tick(store: &Store, cfg: &Loaded, now: Timestamp) -> Result<usize, StoreError> {
    pass(store, cfg, now).map(|(sent, _)| sent)
}

/// A pass, and when the next stage of any item (or Modtagelsen's closing) falls due.
pub fn pass(
    store: &Store,
    cfg: &Loaded,
    now: Timestamp,
) -> Result<(usize, Option<Timestamp>), StoreError> {
    let mut sent = 0;
    // Closing time is when what cannot wait goes to the døgnvagt.
    let mut next = calendar::next_closing(now, &cfg.directory.calendar);
    let mut soonest = |t: Timestamp| next = Some(next.map_or(t, |n| n.min(t)));
    // Only unassessed items can be escalated: the state index spares decrypting the rest.
    let open = store.items_where(ItemState::awaits_assessment)?;
    let handover: Vec<&str> = open
        .iter()
        .filter(|i| due_for_handover(cfg, i, now))
        .map(|i| i.reference.as_str())
        .collect();
    if !handover.is_empty() {
        // All together, in one batch with the one notice: read again under their locks.
        let _held = store.lock_items(&handover);
        let mut items = Vec::new();
        for r in &handover {
            if let Some(item) = store.item(r)?.filter(|i| due_for_handover(cfg, i, now)) {
                items.push(item);
            }
        }
        let mut batch = Batch::new();
        if hand_over(store, cfg, &mut items, &mut batch, now)? {
            for item in items {
                batch.item(item);
            }
            store.commit(batch, now)?;
            sent += 1;
        }
    }
    for item in &open {
        if let Some(t) = next_due(cfg, std::slice::from_ref(item), now) {
            soonest(t);
        }
        if due_stages(cfg, item, now).is_empty() {
            continue;
        }
        // Read again under the item's lock: a person may have decided since the list was
        // read, and writing back the older copy would undo that.
        let _held = store.lock_item(&item.reference);
        let Some(mut item) = store.item(&item.reference)? else {
            continue;
        };
        let stages = due_stages(cfg, &item, now);
        if stages.is_empty() {
            continue;
        }
        let mut batch = Batch::new();
        for stage in stages {
            notify(store, cfg, &mut item, (stage, false), &mut batch, now)?;
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
            soonest(due);
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
