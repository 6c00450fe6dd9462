//! The tilbagemelding to a professional reporter (barnets lov § 137): within
//! `[triage] tilbagemelding_months` of receipt the reporter is told whether an
//! investigation or measures were begun. modtag drafts the letter from the decision's
//! screening outcome; a person reads it, may change it, and approves it, and it goes to
//! the reporter's address, if that address is proven for the reporter, encrypted or only over
//! TLS (issue 26). (Withholding it, with the reason the law asks for, is a task outcome of
//! its own.) The letter names the reference, never the child.

use jiff::{Timestamp, ToSpan};
use modtag_config::Loaded;
use modtag_router::deadline;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::{Item, TaskKind, TaskOutcome};
use modtag_storage::store::Batch;
use modtag_storage::{Store, StoreError};
use serde_json::json;

use crate::delivery::compose;

/// When the tilbagemelding is due: `months` after receipt, by Danish time.
pub fn due(received: Timestamp, months: i64) -> Timestamp {
    let tz = jiff::tz::TimeZone::get("Europe/Copenhagen").unwrap_or(jiff::tz::TimeZone::UTC);
    received
        .to_zoned(tz)
        .checked_add(months.months())
        .map(|z| z.timestamp())
        .unwrap_or(received)
}

/// The letter modtag proposes, from the decision's screening outcome.
pub fn draft(item: &Item) -> String {
    let outcome = item
        .decision
        .as_ref()
        .and_then(|d| d.screening_outcome.as_deref());
    let what = match outcome {
        Some("boernefaglig_undersoegelse") => {
            "Vi kan oplyse, at kommunen har iværksat en børnefaglig undersøgelse."
        }
        Some("afdaekning") => "Vi kan oplyse, at kommunen afdækker barnets situation nærmere.",
        Some("trivselplus_anbefalet") => {
            "Vi kan oplyse, at kommunen har anbefalet en indsats i TRIVSEL+."
        }
        _ => {
            "Vi kan oplyse, at kommunen på baggrund af underretningen ikke har iværksat en \
             undersøgelse eller foranstaltninger."
        }
    };
    let name = item
        .understanding
        .reporter
        .name
        .as_deref()
        .unwrap_or("underretter");
    format!(
        "Kære {name}\n\n\
         Tak for din underretning, som kommunen modtog {} (reference {}).\n\n\
         {what}\n\n\
         Af hensyn til barnet og familien kan vi ikke fortælle mere om sagen.\n\n\
         Med venlig hilsen\nModtagelsen\n",
        deadline::local(item.received_at),
        item.reference,
    )
}

/// Where a letter about a child may go for `item`'s reporter (issue 26): an address proven
/// for that reporter, with the directory person's certificate when it has one. Proven is a
/// person of the directory (the letter goes to their own address, whoever typed it), or the
/// message's own sender when the transport proved it or a person confirmed who sent it, or
/// the address the reporter confirmed by the one-time link in their kvittering.
/// `None`: the address is only what someone typed.
pub fn proven_address<'a>(
    cfg: &'a Loaded,
    item: &Item,
) -> Option<(String, Option<&'a sequoia_openpgp::Cert>)> {
    let email = item.understanding.reporter.email.clone()?;
    if let Some((id, _)) = cfg.directory.roles_of_email(&email) {
        let cert = cfg.directory.person(id).and_then(|p| p.cert.as_ref());
        return Some((email, cert));
    }
    let own = item
        .from
        .as_deref()
        .map(crate::understand::address_of)
        .is_some_and(|from| from.eq_ignore_ascii_case(&email));
    let confirmed_by_link = item
        .address_proof
        .as_ref()
        .is_some_and(|p| p.confirms(&email));
    let vouched =
        item.sender_confirmed.is_some() || (own && item.sender_known()) || confirmed_by_link;
    vouched.then_some((email, None))
}

/// Why a tilbagemelding could not be sent, in the desk's words.
#[derive(Debug, PartialEq)]
pub enum NotSent {
    /// No such intake, or not the person's desk.
    NotFound,
    /// No open tilbagemelding task.
    NoTask,
    /// The reporter gave no address: send the letter another way and mark the task done.
    NoAddress,
    /// The address is only what someone typed: confirm the sender first, or send the letter
    /// another way.
    Unproven,
    /// An empty letter.
    Empty,
}

/// Sends `letter` to the reporter and marks the task done, in one batch with its audit
/// entry. Blocking; the caller flushes.
pub fn send(
    store: &Store,
    cfg: &Loaded,
    reference: &str,
    letter: &str,
    actor: &str,
    works: impl Fn(&Item) -> bool,
    now: Timestamp,
) -> Result<Result<(), NotSent>, StoreError> {
    if letter.trim().is_empty() {
        return Ok(Err(NotSent::Empty));
    }
    let _held = store.lock_item(reference);
    let Some(mut item) = store.item(reference)?.filter(|i| works(i)) else {
        return Ok(Err(NotSent::NotFound));
    };
    if item.understanding.reporter.email.is_none() {
        return Ok(Err(NotSent::NoAddress));
    }
    let Some((email, cert)) = proven_address(cfg, &item) else {
        return Ok(Err(NotSent::Unproven));
    };
    let Some(task) = item
        .tasks
        .iter_mut()
        .find(|t| t.kind == TaskKind::Tilbagemelding && t.done_at.is_none())
    else {
        return Ok(Err(NotSent::NoTask));
    };
    task.done_at = Some(now);
    task.done_by = Some(actor.to_string());
    task.outcome = Some(TaskOutcome::Sent);
    let mut b = Batch::new();
    // It tells what the kommune did about a child: encrypted to the reporter's certificate,
    // or else only over TLS, never in plain SMTP (issue 26).
    b.outbox(compose::private_entry(
        store,
        cfg,
        reference,
        compose::PlainTo {
            role: "reporter",
            person: "reporter",
            email: &email,
        },
        cert,
        &format!("Tilbagemelding på din underretning {reference}"),
        letter.trim(),
        now,
    )?);
    b.audit(
        Event::new(EventKind::TaskDone, actor, "tilbagemelding")
            .reference(reference)
            .details(json!({
                "task": "tilbagemelding", "outcome": "sent", "to": "reporter",
                "encrypted": cert.is_some(),
            })),
    );
    b.item(item);
    store.commit(b, now)?;
    Ok(Ok(()))
}
