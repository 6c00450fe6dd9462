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
    rx: Received,
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
    let mut raw = received_header.into_bytes();
    raw.extend_from_slice(&rx.raw);

    let reading = reader.read(&rx.raw, rx.envelope.channel);
    let channel = rx.envelope.channel;
    let kind = reading.kind;
    let mut item = Item {
        reference: reference.clone(),
        channel: channel.as_str().into(),
        kind: kind.into(),
        received_at: now,
        deadline: deadline::assessment_deadline(now, cfg.config.triage.assessment_hours),
        state: ItemState::AwaitingAssessment,
        transport: Transport {
            peer: rx.peer.clone(),
            helo: rx.envelope.helo.clone(),
            mail_from: rx.envelope.mail_from.clone(),
            rcpt_to: rx.envelope.rcpt_to.clone(),
            tls: rx.tls.clone(),
            size: rx.raw.len(),
            sender_auth: rx.sender_auth.clone(),
        },
        subject: reading.subject.clone(),
        from: reading.from.clone(),
        cprs: reading.cprs.iter().map(|c| c.formatted()).collect(),
        attachments: reading.attachments.clone(),
        parse_error: reading.error.clone(),
        understanding: reading.understanding.clone(),
        case_number: None,
        suggestions: Vec::new(),
        decision: None,
        history: Vec::new(),
        sent_to: Vec::new(),
    };
    item.transition(ItemState::AwaitingAssessment, "system", now, "received");

    let mut batch = Batch::new();
    batch.audit(
        Event::new("received", "system", "intake")
            .reference(&reference)
            .details(json!({
                "channel": channel.as_str(),
                "peer": rx.peer,
                "tls": rx.tls,
                "size": rx.raw.len(),
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

    if cfg.config.triage.auto_link && channel == Channel::Underretning {
        auto_link(store, cfg, &mut item, &raw, &mut batch, now)?;
    }
    batch.message(&reference, raw).item(item);
    store.commit(batch, now)?;
    Ok(reference)
}

/// DOMAIN.md: a valid CPR that matches exactly one open case forwards the underretning to
/// that case's rådgiver at once; several candidates are suggestions for a person.
fn auto_link(
    store: &Store,
    cfg: &Loaded,
    item: &mut Item,
    raw: &[u8],
    batch: &mut Batch,
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut open = Vec::new();
    for cpr in &item.cprs {
        let digits: String = cpr.chars().filter(char::is_ascii_digit).collect();
        open.extend(store.cases_for_cpr(&digits)?.into_iter().filter(|c| c.open));
    }
    open.dedup_by(|a, b| a.case_number == b.case_number);
    match open.as_slice() {
        [] => Ok(()),
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
            compose::enqueue(store, cfg, item, raw, &decision, "system", batch, now)?;
            Ok(())
        }
        several => {
            item.suggestions = several.iter().map(|c| c.case_number.clone()).collect();
            Ok(())
        }
    }
}
