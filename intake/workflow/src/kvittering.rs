//! Barnets lov: a named reporter gets a kvittering within 6 hverdage. modtag sends it at once
//! when it has an address to send to; otherwise a person must, by the due date. Pure.

use jiff::Timestamp;
use modtag_config::{Kind, Loaded, ReporterKind};
use modtag_router::{calendar, deadline};
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::{Item, Kvittering, Task, TaskKind};
use modtag_storage::store::{Batch, IdSource};
use modtag_storage::StoreError;
use serde_json::json;

use crate::compose;

/// Kinds that are assessed as underretninger, and so owe a kvittering.
fn assessed_as_underretning(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Underretning | Kind::Lae165 | Kind::Postfordeling
    )
}

/// An address that cannot receive a reply (a form's sender, say).
fn no_reply(email: &str) -> bool {
    let local = email.split('@').next().unwrap_or("").to_ascii_lowercase();
    [
        "noreply",
        "no-reply",
        "donotreply",
        "do-not-reply",
        "mailer-daemon",
        "postmaster",
    ]
    .iter()
    .any(|n| local.starts_with(n))
}

/// Who the kvittering may go to by mail, if anyone (issue 17): the message's own sender,
/// authenticated (DMARC pass: SPF or DKIM aligned with `From:`) when sender authentication
/// is on; the forwarded original's sender only when Journalen (the kommune's own
/// postfordeling) forwarded it. A school that forwards a parent's mail gets the kvittering,
/// not the parent; a sender whose `From:` is not authenticated gets none by mail (a person
/// sends it). A web form's stated address is what the form was submitted with.
pub fn receiver(cfg: &Loaded, item: &Item) -> Option<String> {
    let by_transport = receiver_of(
        cfg,
        item.channel,
        item.from.as_deref(),
        (
            item.understanding.original.is_some(),
            item.understanding.reporter.email.as_deref(),
        ),
        (item.transport.sender_auth.as_ref(), &item.transport.helo),
    );
    // A sender a person confirmed is as good as an authenticated one (issue 26).
    let confirmed = || {
        item.sender_confirmed.as_ref()?;
        item.from
            .as_deref()
            .map(|f| crate::understand::address_of(f).to_string())
    };
    by_transport.or_else(confirmed)
}

/// An address a kvittering can reach: one mailbox, a domain with a dot and no empty label
/// (a typed `x@y.dk.` would fail for good at the relay, and tell Modtagelsen each time).
fn deliverable(email: &str) -> bool {
    let domain = email.rsplit_once('@').map_or("", |(_, d)| d);
    crate::address::valid(email)
        && domain.contains('.')
        && !domain.split('.').any(str::is_empty)
        && !no_reply(email)
}

/// [`receiver`] from the parts a message gives before it is an item.
pub fn receiver_of(
    cfg: &Loaded,
    channel: modtag_config::Channel,
    from: Option<&str>,
    (forwarded, reporter_email): (bool, Option<&str>),
    (sender_auth, helo): (Option<&modtag_storage::records::SenderVerdicts>, &str),
) -> Option<String> {
    let outer = from.map(|f| crate::understand::address_of(f).to_string())?;
    let by_journalen = channel == modtag_config::Channel::Postfordeling
        || cfg
            .directory
            .roles_of_email(&outer)
            .is_some_and(|(_, roles)| roles.iter().any(|r| r == "journalen"));
    if forwarded && by_journalen {
        return reporter_email.map(str::to_string);
    }
    let authenticated = match sender_auth {
        Some(v) => v.dmarc == "pass",
        // Sender authentication is off (or this came through a form): nothing to go by.
        None => !cfg.config.sender_auth.enabled || helo == "webformular",
    };
    authenticated.then_some(outer)
}

/// Days a reporter's address link works: the tilbagemelding comes after the assessment,
/// and the link must still work when the reporter reads the kvittering after a holiday.
pub const ADDRESS_LINK_DAYS: i64 = 30;

/// For a professional reporter whose address nothing proves yet, the paragraph that asks
/// them to confirm it by a one-time link (issue 26): the address is then theirs for the
/// tilbagemelding, and a typed stranger's address never is. Records the link on `item`.
/// Neutral like the rest: the link says nothing about the child, and opening it shows
/// nothing either. `None` when the forms' address is not known or nothing needs proving.
fn address_link(cfg: &Loaded, item: &mut Item, email: &str, now: Timestamp) -> Option<String> {
    let reporter = &item.understanding.reporter;
    let own = reporter
        .email
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case(email));
    // Only the message's own sender can ever be owed a tilbagemelding by mail (a forward's
    // reporter is only what the forwarded text says), and one the transport proved needs
    // no link.
    if reporter.kind != ReporterKind::Professional
        || !own
        || !crate::understand::reporter_is_sender(item)
        || item.sender_proves_address(email)
        || item.address_proof.is_some()
    {
        return None;
    }
    let base = cfg.config.public.as_ref()?.forms_url()?;
    let token = crate::token::token();
    item.address_proof = Some(modtag_storage::records::AddressProof {
        address: email.to_string(),
        token_sha256: Some(crate::token::digest(&token)),
        expires: now + jiff::SignedDuration::from_hours(24 * ADDRESS_LINK_DAYS),
        confirmed_at: None,
    });
    Some(format!(
        "\nHar du underrettet som fagperson, har du ret til en tilbagemelding. Bekræft, at \
         denne e-mailadresse er din, så kan vi sende den hertil (linket virker i \
         {ADDRESS_LINK_DAYS} dage og kun én gang):\n{base}/bekraeft/{token}\n"
    ))
}

/// The reporter is one of the kommune's own people (the directory knows the address, as
/// reading found when it named them): they are owed no kvittering.
fn kommunes_own(cfg: &Loaded, email: Option<&str>) -> bool {
    email.is_some_and(|e| cfg.directory.person_with_email(e).is_some())
}

/// Queues the kvittering `item` is owed, or a task to send it by hand.
/// `sent_today` is how many kvitteringer modtag already sent to the address today.
pub fn owe(
    cfg: &Loaded,
    item: &mut Item,
    ids: &dyn IdSource,
    (batch, sent_today): (&mut Batch, usize),
    now: Timestamp,
) -> Result<(), StoreError> {
    let k = &cfg.config.kvittering;
    let reporter = &item.understanding.reporter;
    // A participant list is no report of concern: its sender is owed no kvittering.
    let owed = assessed_as_underretning(item.kind)
        && item.channel != modtag_config::Channel::Deltagerliste
        && reporter.kind != ReporterKind::Anonymous
        && !kommunes_own(cfg, reporter.email.as_deref());
    if !k.enabled || !owed {
        return Ok(());
    }
    let due = calendar::kvittering_due(now, &cfg.directory.calendar);
    let email = receiver(cfg, item).filter(|e| deliverable(e));
    // At most `[kvittering] max_per_unproven_address_per_day` by itself (issue 26).
    let most = k.max_per_unproven_address_per_day;
    let flooded = email
        .as_deref()
        .is_some_and(|e| !item.sender_proves_address(e) && sent_today >= most);
    let Some(email) = email.filter(|_| !flooded) else {
        item.kvittering = Some(Kvittering {
            due: due.to_string(),
            sent_at: None,
            sent_by: None,
            manual: true,
            to: None,
        });
        item.tasks.push(Task {
            kind: TaskKind::Kvittering,
            created: now,
            due: Some(calendar::end_of_day(due)),
            done_at: None,
            done_by: None,
            outcome: None,
            letter: None,
            reason: Some(if flooded && most == 0 {
                "kvitteringer to an unproven address are sent by hand here ([kvittering] max_per_unproven_address_per_day = 0): send it if it is right".into()
            } else if flooded {
                format!("{most} kvitteringer went to this unproven address today already: send it by hand if it is right")
            } else {
                "no address modtag may send the kvittering to (none given, not authenticated, or a forward by someone else than Journalen to the original's sender): send it by hand".into()
            }),
        });
        return Ok(());
    };
    mail(cfg, item, ids, batch, (&email, due), now)
}

/// A kvittering owed by hand whose sender a person has now confirmed: it goes now, as it
/// would have at once had the transport proved the sender, and its task is done. Whether
/// one went.
pub fn after_confirmation(
    cfg: &Loaded,
    item: &mut Item,
    ids: &dyn IdSource,
    batch: &mut Batch,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let waiting = item
        .kvittering
        .as_ref()
        .filter(|k| k.manual && k.sent_at.is_none())
        .map(|k| k.due.clone());
    let task = item
        .tasks
        .iter()
        .position(|t| t.kind == TaskKind::Kvittering && t.done_at.is_none());
    let email = receiver(cfg, item).filter(|e| deliverable(e));
    let (Some(due), Some(task), Some(email)) = (waiting, task, email) else {
        return Ok(false);
    };
    let Ok(due) = due.parse() else {
        return Ok(false);
    };
    let t = &mut item.tasks[task];
    t.done_at = Some(now);
    t.done_by = Some("system".into());
    t.outcome = Some(modtag_storage::records::TaskOutcome::Sent);
    mail(cfg, item, ids, batch, (&email, due), now)?;
    Ok(true)
}

/// Queues the kvittering to `email` (with the address link when the reporter needs one) and
/// records it on the item, audited.
fn mail(
    cfg: &Loaded,
    item: &mut Item,
    ids: &dyn IdSource,
    batch: &mut Batch,
    (email, due): (&str, jiff::civil::Date),
    now: Timestamp,
) -> Result<(), StoreError> {
    let k = &cfg.config.kvittering;
    // To the organisation's Digital Post when MitID Erhverv named it (issue 30). A link
    // proves an address only where the mail goes: never in a letter to Digital Post, and
    // the mail that replaces a refused letter goes only to a proven address.
    let organisation = crate::tilbagemelding::to_organisation(cfg, item);
    let link = match organisation {
        None => address_link(cfg, item, email, now),
        Some(_) => None,
    };
    let fallback = if item.sender_proves_address(email) {
        email
    } else {
        ""
    };
    let received = deadline::local(item.received_at);
    let fill = |t: &str| {
        t.replace("{reference}", &item.reference)
            .replace("{received}", &received)
    };
    let mut body = fill(&k.body);
    if let Some(link) = link {
        body.push_str(&link);
    }
    let to = compose::PlainTo {
        role: "reporter",
        person: "reporter",
        email: if organisation.is_some() {
            fallback
        } else {
            email
        },
    };
    let subject = fill(&k.subject);
    let entry = match organisation {
        Some((dp, org)) => {
            let to_org = (org.cvr.as_str(), org.organisation.as_str());
            crate::memo::entry(ids, dp, item, to, to_org, &subject, &body, now)?
        }
        None => compose::plain_entry(ids, cfg, &item.reference, to, &subject, &body, now)?,
    };
    batch.outbox(entry);
    batch.audit(
        Event::new(EventKind::Kvittering, "system", "kvittering")
            .reference(&item.reference)
            .details(json!({
                "due": due.to_string(),
                "reporter": item.understanding.reporter.kind,
                "address_link": item.address_proof.is_some(),
            })),
    );
    item.kvittering = Some(Kvittering {
        due: due.to_string(),
        sent_at: Some(now),
        sent_by: Some("system".into()),
        manual: false,
        to: Some(email.to_string()),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::deliverable;

    /// A typed address that would fail for good at the relay gets no kvittering by mail
    /// (a person sends it), rather than a failed delivery and a notice each time.
    #[test]
    fn only_an_address_that_can_be_delivered_to_gets_one() {
        for ok in ["laerer@bakkeskolen.dk", "a.b+c@sub.example.org"] {
            assert!(deliverable(ok), "{ok}");
        }
        for bad in [
            "v2@x.dk.",
            "v2@x..dk",
            "v2@localhost",
            "noreply@x.dk",
            "a b@x.dk",
            "x.dk",
        ] {
            assert!(!deliverable(bad), "{bad}");
        }
    }
}
