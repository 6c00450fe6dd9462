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
use modtag_storage::records::{Item, SenderTrust, SignedIn, TaskKind, TaskOutcome};
use modtag_storage::store::Batch;
use modtag_storage::{Store, StoreError};
use serde_json::json;

use crate::compose;

/// When the tilbagemelding is due: `months` after receipt, by Danish time.
pub fn due(received: Timestamp, months: i64) -> Timestamp {
    let tz = jiff::tz::TimeZone::get("Europe/Copenhagen").unwrap_or(jiff::tz::TimeZone::UTC);
    received
        .to_zoned(tz)
        .checked_add(months.months())
        .map(|z| z.timestamp())
        .unwrap_or(received)
}

/// A reporter's name as the letter may greet them: one line, no controls, no link or
/// address, and short (issue 26: the name is what anyone typed, and the letter goes out in
/// the kommune's name). `None` when nothing fit to print is left.
fn salutation(name: &str) -> Option<String> {
    let line = name.lines().next().unwrap_or("");
    let clean: String = line.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim();
    let lower = clean.to_lowercase();
    let linky = ["://", "www.", "@", ".dk", ".com"]
        .iter()
        .any(|l| lower.contains(l));
    (!clean.is_empty() && !linky && clean.chars().count() <= 60).then(|| clean.to_string())
}

/// The screening outcome the current assessment recorded, if one it can write from.
pub fn recorded_outcome(item: &Item) -> Option<&str> {
    item.decision
        .as_ref()
        .and_then(|d| d.screening_outcome.as_deref())
        .filter(|o| {
            modtag_config::vocab::SCREENING_OUTCOMES
                .iter()
                .any(|(id, _)| id == o)
        })
}

/// Which assessment a letter is written from (its time and outcome), for the form to carry:
/// a letter drafted before a new assessment changed the outcome must not be sent as if it
/// were written from the new one (issue 27 review).
pub fn written_from(item: &Item) -> Option<String> {
    let at = item.decision.as_ref()?.at;
    Some(format!("{at}|{}", recorded_outcome(item)?))
}

/// The letter modtag proposes, from the outcome the assessment recorded and nothing else
/// (issue 27: with no outcome chosen it told a school that nothing was begun, for an akut
/// case). `None` without a recorded outcome: there is nothing to tell yet.
pub fn draft(item: &Item) -> Option<String> {
    let what = match recorded_outcome(item)? {
        "boernefaglig_undersoegelse" => {
            "Vi kan oplyse, at kommunen har iværksat en børnefaglig undersøgelse."
        }
        "afdaekning" => "Vi kan oplyse, at kommunen afdækker barnets situation nærmere.",
        "trivselplus_anbefalet" => {
            "Vi kan oplyse, at kommunen har anbefalet en indsats i TRIVSEL+."
        }
        "ingen_yderligere" => {
            "Vi kan oplyse, at kommunen på baggrund af underretningen ikke har iværksat en \
             undersøgelse eller foranstaltninger."
        }
        _ => return None,
    };
    let name = item
        .understanding
        .reporter
        .name
        .as_deref()
        .and_then(salutation)
        .unwrap_or_else(|| "underretter".into());
    Some(format!(
        "Kære {name}\n\n\
         Tak for din underretning, som kommunen modtog {} (reference {}).\n\n\
         {what}\n\n\
         Af hensyn til barnet og familien kan vi ikke fortælle mere om sagen.\n\n\
         Med venlig hilsen\nModtagelsen\n",
        deadline::local(item.received_at),
        item.reference,
    ))
}

/// Where a letter about a child may go for `item`'s reporter (issue 26), with the directory
/// person's certificate when the address is one of theirs. Two things must hold: the
/// professional's right, which needs the reporter to be the message's own sender and that
/// sender known (proven by the transport or confirmed by a person); and the address, which
/// must be proven: by the transport (DMARC, a partner's TLS), by the directory (a person of
/// it), or by the reporter through the one-time link in their kvittering. A person's
/// confirmation of who sent it does not prove an address anyone could have typed; an
/// address of the directory typed into a form does not make its owner the reporter until
/// the sender is known. `None` otherwise ([`unproven`] says why).
pub fn proven_address<'a>(
    cfg: &'a Loaded,
    item: &Item,
) -> Option<(String, Option<&'a sequoia_openpgp::Cert>)> {
    let email = item.understanding.reporter.email.clone()?;
    let vouched = crate::understand::reporter_is_sender(item) && item.sender_known();
    let directory = cfg.directory.roles_of_email(&email).is_some();
    let address = item.sender_proves_address(&email)
        || directory
        || item
            .address_proof
            .as_ref()
            .is_some_and(|p| p.confirms(&email));
    if !(vouched && address) {
        return None;
    }
    let cert = cfg
        .directory
        .roles_of_email(&email)
        .and_then(|(id, _)| cfg.directory.person(id))
        .and_then(|p| p.cert.as_ref());
    Some((email, cert))
}

/// Where a tilbagemelding goes instead of an address (issue 30): the organisation's Digital
/// Post, when it is configured and the reporter signed in with MitID Erhverv (who sent it is
/// then NemLog-in's word, and the reporter is that sender).
pub fn to_organisation<'a>(
    cfg: &'a Loaded,
    item: &Item,
) -> Option<(&'a modtag_config::digital_post::DigitalPost, SignedIn)> {
    let signed_in = item.signed_in.clone()?;
    let dp = cfg.config.digital_post.as_ref()?;
    (item.sender_trust == SenderTrust::MitidErhverv).then_some((dp, signed_in))
}

/// Why the reporter's address is not proven, in the desk's words; `None` when it is (or
/// none is needed: [`to_organisation`]).
pub fn unproven(cfg: &Loaded, item: &Item) -> Option<&'static str> {
    if proven_address(cfg, item).is_some() || to_organisation(cfg, item).is_some() {
        return None;
    }
    Some(if !crate::understand::reporter_is_sender(item) {
        "Underretteren er ikke den, der sendte beskeden (den er videresendt, eller adressen er \
         en anden end afsenderens): tilbagemeldingen kan ikke gå med e-mail herfra. Giv den på \
         anden vis, og marker opgaven udført."
    } else if !item.sender_known() {
        "Afsenderen er ikke verificeret: bekræft afsenderen under Afsender, når du ved, hvem \
         der sendte den. Adressen skal derefter også være bevist, med underretterens \
         engangslink fra kvitteringen; ellers giv tilbagemeldingen på anden vis."
    } else {
        "Adressen er kun, hvad nogen har skrevet: underretteren beviser den med engangslinket \
         i kvitteringen (se Underretterens adresse). Ellers giv tilbagemeldingen på anden vis, \
         og marker opgaven udført."
    })
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
    /// The right or the address is not proven: why, in the desk's words ([`unproven`]).
    Unproven(&'static str),
    /// An empty letter.
    Empty,
    /// The assessment recorded no screening outcome: there is nothing to tell yet.
    NoOutcome,
    /// The letter was written from an assessment a newer one has replaced.
    Changed,
}

/// Sends `letter` to the reporter and marks the task done, in one batch with its audit
/// entry. Blocking; the caller flushes.
#[allow(clippy::too_many_arguments)]
pub fn send(
    store: &Store,
    cfg: &Loaded,
    reference: &str,
    (letter, from): (&str, &str),
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
    let Some(current) = written_from(&item) else {
        return Ok(Err(NotSent::NoOutcome));
    };
    // To the organisation's Digital Post, no address is needed; one goes with the letter
    // for the mail that replaces it if Digital Post refuses, only when it is proven.
    let organisation = to_organisation(cfg, &item);
    let proven = proven_address(cfg, &item);
    if organisation.is_none() && item.understanding.reporter.email.is_none() {
        return Ok(Err(NotSent::NoAddress));
    }
    if organisation.is_none() && proven.is_none() {
        let why = unproven(cfg, &item).unwrap_or_default();
        return Ok(Err(NotSent::Unproven(why)));
    }
    let (email, cert) = proven.unwrap_or_default();
    if current != from {
        return Ok(Err(NotSent::Changed));
    }
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
    task.letter = Some(letter.trim().to_string());
    let mut b = Batch::new();
    let to = compose::PlainTo {
        role: "reporter",
        person: "reporter",
        email: &email,
    };
    let subject = format!("Tilbagemelding på din underretning {reference}");
    // It tells what the kommune did about a child: to the organisation's Digital Post when
    // MitID Erhverv named it (issue 30); else by mail, encrypted to the reporter's
    // certificate, or only over TLS, never in plain SMTP (issue 26).
    let entry = match organisation {
        Some((dp, org)) => {
            let to_org = (org.cvr.as_str(), org.organisation.as_str());
            let text = letter.trim();
            crate::memo::entry(store, dp, &mut item, to, to_org, &subject, text, now)?
        }
        None => compose::private_entry(
            store,
            cfg,
            reference,
            to,
            cert,
            &subject,
            letter.trim(),
            now,
        )?,
    };
    b.outbox(entry);
    b.audit(
        Event::new(EventKind::TaskDone, actor, "tilbagemelding")
            .reference(reference)
            .details(json!({
                "task": "tilbagemelding", "outcome": "sent", "to": "reporter",
                "encrypted": cert.is_some(), "written_from": from,
            })),
    );
    b.item(item);
    store.commit(b, now)?;
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::salutation;

    /// The name is what anyone typed: the letter greets a name, never a link or a message.
    #[test]
    fn the_letter_greets_a_name_and_nothing_else() {
        assert_eq!(salutation(" Lise Holm ").as_deref(), Some("Lise Holm"));
        assert_eq!(salutation("Lise\nRing 12345678").as_deref(), Some("Lise"));
        for bad in [
            "Susanne Møller. Ring straks på https://evil.example/svar",
            "se www.evil.example",
            "svar til x@evil.example",
            "",
            &"Navn ".repeat(20),
        ] {
            assert_eq!(salutation(bad), None, "{bad}");
        }
    }
}
