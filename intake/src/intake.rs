//! From a received message to a stored intake: parse, triage item, auto-link, audit, all
//! in one batch that commits atomically.

use jiff::Timestamp;
use modtag_config::{Channel, Loaded};
use modtag_router::{deadline, route, Facts};
use modtag_storage::audit::Event;
use modtag_storage::records::{Item, ItemState, Transport};
use modtag_storage::store::Batch;
use modtag_storage::{Store, StoreError};
use serde_json::json;

use crate::delivery::compose;
use crate::smtp::session::Envelope;
use crate::understand::Reader;

/// Transport facts the listener knows.
pub struct Received {
    pub envelope: Envelope,
    pub peer: String,
    pub tls: String,
    pub raw: Vec<u8>,
    pub sender_auth: Option<modtag_storage::records::SenderVerdicts>,
}

/// Stores one message and its triage item; returns the reference. Blocking (encryption
/// and sled): call from `spawn_blocking`. The caller flushes before acknowledging.
pub fn accept(
    store: &Store,
    cfg: &Loaded,
    reader: &Reader,
    mut rx: Received,
    now: Timestamp,
) -> Result<String, StoreError> {
    let reference = store.next_reference(now)?;
    let received_header = format!(
        "Received: from {} ([{}]) by {} (modtag) with ESMTP id {} for <{}>; {}\r\n",
        if rx.envelope.helo.is_empty() {
            "unknown"
        } else {
            &rx.envelope.helo
        },
        rx.peer,
        cfg.config.smtp.hostname,
        reference,
        rx.envelope
            .rcpt_to
            .first()
            .map(String::as_str)
            .unwrap_or(""),
        jiff::fmt::rfc2822::to_string(&now.to_zoned(jiff::tz::TimeZone::UTC)).unwrap_or_default(),
    );
    // Our Received: header is stored in front of the message without copying the message
    // (a 50 MiB message must not be held twice while it is read).
    let body = std::mem::take(&mut rx.raw);
    let size = body.len();
    let header = received_header.into_bytes();

    let reading = reader.read(&body, rx.envelope.channel);
    let channel = rx.envelope.channel;
    let kind = reading.kind;
    let mut item = Item::received(
        &reference,
        channel.as_str(),
        kind,
        now,
        deadline::assessment_deadline(now, cfg.config.triage.assessment_hours),
        Transport {
            peer: rx.peer.clone(),
            helo: rx.envelope.helo.clone(),
            mail_from: rx.envelope.mail_from.clone(),
            rcpt_to: rx.envelope.rcpt_to.clone(),
            tls: rx.tls.clone(),
            size,
            sender_auth: rx.sender_auth.clone(),
        },
    );
    // What reading found moves into the item (the text is not kept: it is read again).
    item.subject = reading.subject;
    item.from = reading.from;
    item.cprs = reading.cprs.iter().map(|c| c.formatted()).collect();
    item.attachments = reading.attachments;
    item.parse_error = reading.error;
    item.understanding = reading.understanding;
    item.transition(ItemState::AwaitingAssessment, "system", now, "received");
    child_history(store, cfg, &mut item, now)?;

    let mut batch = Batch::new();
    batch.audit(
        Event::new("received", "system", "intake")
            .reference(&reference)
            .details(json!({
                "channel": channel.as_str(),
                "peer": rx.peer,
                "tls": rx.tls,
                "size": size,
                "sender_auth": rx.sender_auth,
            })),
    );
    batch.audit(
        Event::new("parsed", "system", "intake")
            .reference(&reference)
            .details(json!({
                "kind": kind,
                "cpr_count": item.cprs.len(),
                "attachments": item.attachments.len(),
                "flagged_attachments": item.attachments.iter().filter(|a| a.flagged.is_some()).count(),
                "akut_signals": item.understanding.akut.len(),
                "reporter": item.understanding.reporter.kind,
                "encrypted": item.understanding.openpgp.as_ref().map(|o| o.decrypted),
                "parse_error": item.parse_error.is_some(),
            })),
    );

    // Auto-link only what a trusted sender wrote in their own name: a CPR in a forward is
    // another sender's reference, and is a suggestion (DOMAIN.md flow 1.2).
    let trusted = match cfg.config.triage.auto_link_senders.as_str() {
        "any" => true,
        _ => {
            item.understanding.reporter.kind == "professional"
                && item.understanding.original.is_none()
        }
    };
    if cfg.config.triage.auto_link && channel == Channel::Underretning {
        auto_link(
            store,
            cfg,
            &mut item,
            (&header, &body),
            &mut batch,
            now,
            trusted,
        )?;
    }
    kvittering(store, cfg, &mut item, &mut batch, now)?;
    if !item.understanding.akut.is_empty() {
        // Akut signals never decide anything, but the people who do are told at once.
        crate::escalation::notify(store, cfg, &mut item, 0, &mut batch, now)?;
    }
    batch
        .message_with_header(&reference, header, body)
        .item(item);
    store.commit(batch, now)?;
    Ok(reference)
}

/// DOMAIN.md: a valid CPR that matches exactly one open case forwards the underretning to
/// that case's rådgiver at once; several candidates are suggestions for a person.
fn auto_link(
    store: &Store,
    cfg: &Loaded,
    item: &mut Item,
    (header, body): (&[u8], &[u8]),
    batch: &mut Batch,
    now: Timestamp,
    trusted: bool,
) -> Result<(), StoreError> {
    let mut open = Vec::new();
    for cpr in &item.cprs {
        let digits: String = cpr.chars().filter(char::is_ascii_digit).collect();
        open.extend(store.cases_for_cpr(&digits)?.into_iter().filter(|c| c.open));
    }
    open.dedup_by(|a, b| a.case_number == b.case_number);
    match open.as_slice() {
        [] => Ok(()),
        [case] if !trusted => {
            item.suggestions.push(case.case_number.clone());
            Ok(())
        }
        [case] => {
            let facts = Facts {
                kind: "underretning".into(),
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
                Event::new("case_linked", "system", "auto-link")
                    .reference(&item.reference)
                    .details(json!({ "case": case.case_number, "rule": "exactly-one-open-case" })),
            );
            // The copy goes out as it is stored: with our Received: header.
            let raw = [header, body].concat();
            compose::enqueue(store, cfg, item, &raw, &decision, "system", batch, now)?;
            Ok(())
        }
        several => {
            item.suggestions = several.iter().map(|c| c.case_number.clone()).collect();
            Ok(())
        }
    }
}

/// Earlier intakes about the same child (by blind index, never by plaintext CPR), and the
/// "gentagne underretninger" flag.
fn child_history(
    store: &Store,
    cfg: &Loaded,
    item: &mut Item,
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut refs: Vec<String> = Vec::new();
    for cpr in &item.cprs {
        let digits: String = cpr.chars().filter(char::is_ascii_digit).collect();
        for r in store.items_for_cpr(&digits)? {
            if r != item.reference && !refs.contains(&r) {
                refs.push(r);
            }
        }
    }
    for r in refs {
        if let Some(earlier) = store.item(&r)? {
            item.earlier.push(modtag_storage::records::EarlierIntake {
                reference: earlier.reference,
                received_at: earlier.received_at,
                kind: earlier.kind,
            });
        }
    }
    item.earlier.sort_by_key(|e| e.received_at);
    let t = &cfg.config.triage;
    let window = now - jiff::SignedDuration::from_hours(t.repeat_window_days * 24);
    let recent = item
        .earlier
        .iter()
        .filter(|e| e.received_at >= window)
        .count();
    item.repeated = recent + 1 >= t.repeat_threshold;
    Ok(())
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

/// Barnets lov: a named reporter gets a kvittering within 6 hverdage. modtag sends it at once
/// when it has an address to send to; otherwise a person must, by the due date.
fn kvittering(
    store: &Store,
    cfg: &Loaded,
    item: &mut Item,
    batch: &mut Batch,
    now: Timestamp,
) -> Result<(), StoreError> {
    let k = &cfg.config.kvittering;
    let reporter = &item.understanding.reporter;
    let owed = matches!(
        item.kind.as_str(),
        "underretning" | "lae165" | "postfordeling"
    ) && reporter.kind != "anonymous"
        && !reporter.reason.starts_with("sent by the kommune's own");
    if !k.enabled || !owed {
        return Ok(());
    }
    let due = modtag_router::calendar::kvittering_due(now, &cfg.directory.calendar);
    let email = reporter
        .email
        .clone()
        .filter(|e| e.contains('@') && !no_reply(e));
    let Some(email) = email else {
        item.kvittering = Some(modtag_storage::records::Kvittering {
            due: due.to_string(),
            sent_at: None,
            sent_by: None,
            manual: true,
        });
        item.tasks.push(modtag_storage::records::Task {
            kind: "kvittering".into(),
            created: now,
            due: Some(modtag_router::calendar::end_of_day(due)),
            done_at: None,
            done_by: None,
            outcome: None,
            reason: Some(
                "named reporter without a reply address: send the kvittering by hand".into(),
            ),
        });
        return Ok(());
    };
    let received = deadline::local(item.received_at);
    let fill = |t: &str| {
        t.replace("{reference}", &item.reference)
            .replace("{received}", &received)
    };
    let to = crate::delivery::compose::PlainTo {
        role: "reporter",
        person: "reporter",
        email: &email,
    };
    batch.outbox(crate::delivery::compose::plain_entry(
        store,
        cfg,
        &item.reference,
        to,
        &fill(&k.subject),
        &fill(&k.body),
        now,
    )?);
    batch.audit(
        Event::new("kvittering", "system", "kvittering")
            .reference(&item.reference)
            .details(json!({ "due": due.to_string(), "reporter": reporter.kind })),
    );
    item.kvittering = Some(modtag_storage::records::Kvittering {
        due: due.to_string(),
        sent_at: Some(now),
        sent_by: Some("system".into()),
        manual: false,
    });
    Ok(())
}
