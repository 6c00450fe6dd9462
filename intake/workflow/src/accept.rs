//! From a received message to a stored intake, as a functional core with a thin shell:
//! [`accept`] reads the message, makes one trip to storage for everything the decision needs
//! ([`Known`]: the reference, the child's earlier intakes, the open cases), lets [`plan`]
//! compute the whole [`Batch`] (item, audit entries, auto-link copies, kvittering, akut
//! notices) without reading anything more, and commits it.

use jiff::Timestamp;
use modtag_config::{Channel, Loaded};
use modtag_router::deadline;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::{
    Case, EarlierIntake, Item, ItemState, SenderTrust, SenderVerdicts, Transport,
};
use modtag_storage::store::{Batch, IdSource};
use modtag_storage::{Store, StoreError};
use serde_json::json;

use super::{autolink, escalation, forloeb, kvittering, participants};
use crate::understand::{Reader, Reading};
use modtag_smtp::session::Envelope;

/// Transport facts the listener knows.
pub struct Received {
    pub envelope: Envelope,
    pub peer: String,
    pub tls: String,
    pub raw: Vec<u8>,
    pub sender_auth: Option<SenderVerdicts>,
    /// A public form sent by a person NemLog-in signed in (issue 30); never from SMTP.
    pub signed_in: Option<modtag_storage::records::SignedIn>,
}

/// What storage knows that the decisions about a new intake depend on, read in one go.
#[derive(Debug, Default)]
pub struct Known {
    pub reference: String,
    /// Earlier intakes about the same child (by blind index, never by plaintext CPR).
    pub earlier: Vec<EarlierIntake>,
    /// Open cases of the children named, without repeats.
    pub open_cases: Vec<Case>,
    /// For a participant list: the TRIVSEL+ forløb it belongs to, and how that was found.
    pub forloeb: Option<(String, &'static str)>,
    /// Kvitteringer modtag already sent today to the address this one's would go to.
    pub kvitteringer_today: usize,
}

impl Known {
    /// Reads it all from the store for the CPR numbers (`DDMMYY-SSSS`) a message names.
    pub fn look_up(store: &Store, cprs: &[String], now: Timestamp) -> Result<Known, StoreError> {
        let reference = store.next_reference(now)?;
        let mut refs: Vec<String> = Vec::new();
        let mut open_cases: Vec<Case> = Vec::new();
        for cpr in cprs {
            let digits: String = cpr.chars().filter(char::is_ascii_digit).collect();
            for r in store.items_for_cpr(&digits)? {
                if r != reference && !refs.contains(&r) {
                    refs.push(r);
                }
            }
            open_cases.extend(store.cases_for_cpr(&digits)?.into_iter().filter(|c| c.open));
        }
        open_cases.dedup_by(|a, b| a.case_number == b.case_number);
        let mut earlier = Vec::new();
        for r in refs {
            if let Some(e) = store.item(&r)? {
                earlier.push(EarlierIntake {
                    reference: e.reference,
                    received_at: e.received_at,
                    kind: e.kind,
                });
            }
        }
        earlier.sort_by_key(|e| e.received_at);
        Ok(Known {
            reference,
            earlier,
            open_cases,
            forloeb: None,
            kvitteringer_today: 0,
        })
    }
}

/// Stores one message and its triage item durably (flushed with the commits of the moment
/// before it returns); returns the reference. Blocking (encryption and sled): call from
/// `spawn_blocking`.
pub fn accept(
    store: &Store,
    cfg: &Loaded,
    reader: &Reader,
    rx: Received,
    now: Timestamp,
) -> Result<String, StoreError> {
    accept_with(store, cfg, reader, rx, now, |_| {})
}

/// As [`accept`], with facts the sender stated outright (a web form's fields) put into the
/// reading by `stated` before anything is decided from it.
pub fn accept_with(
    store: &Store,
    cfg: &Loaded,
    reader: &Reader,
    mut rx: Received,
    now: Timestamp,
    stated: impl FnOnce(&mut Reading),
) -> Result<String, StoreError> {
    // The message is moved, never copied: a 50 MiB message must not be held twice.
    let body = std::mem::take(&mut rx.raw);
    let mut reading = reader.read(&body, rx.envelope.channel);
    stated(&mut reading);
    let cprs: Vec<String> = reading.cprs.iter().map(|c| c.formatted()).collect();
    let mut known = Known::look_up(store, &cprs, now)?;
    let reference = known.reference.clone();
    let kvittering_to = kvittering::receiver_of(
        cfg,
        rx.envelope.channel,
        reading.from.as_deref(),
        (
            reading.understanding.original.is_some(),
            reading.understanding.reporter.email.as_deref(),
        ),
        (rx.sender_auth.as_ref(), &rx.envelope.helo),
    );
    // Only an unproven address is limited; counted as planned, so that intakes accepted at
    // the same moment each see the others.
    if let Some(to) = kvittering_to.filter(|to| !address_proven(cfg, &rx, to)) {
        known.kvitteringer_today = store.reserve_kvittering(&to, now)?;
    }
    // A participant list joins its forløb in the same batch, under the forløb's lock.
    let mut list = None;
    // (One with akut signals is Modtagelsen's, kind underretning: a person reads it first.)
    if rx.envelope.channel == Channel::Deltagerliste
        && reading.kind == modtag_config::Kind::Postfordeling
    {
        let found = participants::find_forloeb(store, cfg, &reading)?;
        if let Some((forloeb_ref, how)) = found {
            let held = store.lock_item(&forloeb_ref);
            if let Some(item) = store.item(&forloeb_ref)? {
                // Only from the institution, its sender proven (issue 26): anyone could put
                // the reference in a subject. Anything else waits for Journalen.
                let proven = sender_trust(cfg, &rx) != SenderTrust::Unverified;
                if proven && participants::from_institution(cfg, &item, &reading) {
                    let people = participants::find_participants(&reading.text);
                    known.forloeb = Some((forloeb_ref, how));
                    list = Some((held, item, how, people));
                } else {
                    reading.understanding.notes.push(format!(
                        "Deltagerliste – afsender ikke bekræftet: den hører til TRIVSEL+ \
                         {forloeb_ref}, men afsenderen er {}. Den knyttes til forløbet, \
                         når Journalen har bekræftet afsenderen.",
                        if proven {
                            "ikke institutionens"
                        } else {
                            "ikke verificeret"
                        }
                    ));
                }
            }
        }
    }
    let mut batch = plan(cfg, known, rx, body, reading, store, now)?;
    let _held = list.map(|(held, mut item, how, people)| {
        forloeb::link_list(cfg, &mut item, &reference, how, people, &mut batch, now);
        batch.item(item);
        held
    });
    store.commit_durable(batch, now)?;
    Ok(reference)
}

/// Our trace header, stored in front of the message.
fn received_header(cfg: &Loaded, rx: &Received, reference: &str, now: Timestamp) -> Vec<u8> {
    format!(
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
    )
    .into_bytes()
}

/// Everything that receiving the message means, as one batch. Reads nothing from storage:
/// what it needs is in `known`; `ids` numbers the copies it queues.
pub fn plan(
    cfg: &Loaded,
    known: Known,
    rx: Received,
    body: Vec<u8>,
    reading: Reading,
    ids: &dyn IdSource,
    now: Timestamp,
) -> Result<Batch, StoreError> {
    let reference = known.reference.clone();
    let header = received_header(cfg, &rx, &reference, now);
    let size = body.len();
    let channel = rx.envelope.channel;
    let kind = reading.kind;
    let mut item = Item::received(
        &reference,
        channel,
        kind,
        now,
        deadline::assessment_deadline(
            now,
            escalation::clock_hours(cfg, !reading.understanding.akut.is_empty(), kind),
        ),
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
    item.sender_trust = sender_trust(cfg, &rx);
    item.signed_in = rx.signed_in.clone();
    item.transition(ItemState::AwaitingAssessment, "system", now, "received");
    item.earlier = known.earlier;
    // The child's names, for finding its history by name: the intake's own, then the case
    // system's for the CPR it names.
    if let Some(name) = item.understanding.child_name.clone() {
        item.add_child_name(&name);
    }
    for case in &known.open_cases {
        item.add_child_name(&case.child_name);
    }
    item.repeated = repeated(cfg, item.earlier.iter().map(|e| e.received_at), now);
    if let Some((forloeb, how)) = &known.forloeb {
        // Its place is the forløb: Journalen books from there, and nothing waits here.
        let note = format!("deltagerliste knyttet til TRIVSEL+ {forloeb} (fundet ved {how})");
        item.transition(ItemState::Assessed, "system", now, &note);
        item.transition(ItemState::Closed, "system", now, &note);
    }

    let mut batch = Batch::new();
    batch.audit(
        Event::new(EventKind::Received, "system", "intake")
            .reference(&reference)
            .details(json!({
                "channel": channel.as_str(),
                "peer": rx.peer,
                "tls": rx.tls,
                "size": size,
                "sender_auth": rx.sender_auth,
                "sender_trust": item.sender_trust,
            })),
    );
    batch.audit(
        Event::new(EventKind::Parsed, "system", "intake")
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
        autolink::link(
            cfg,
            &mut item,
            &known.open_cases,
            (&header, &body),
            ids,
            &mut batch,
            now,
        )?;
    }
    kvittering::owe(
        cfg,
        &mut item,
        ids,
        (&mut batch, known.kvitteringer_today),
        now,
    )?;
    // Received while Modtagelsen is closed, and it cannot wait until it opens: the
    // døgnvagt's at once (issue 27).
    let handed = escalation::due_for_handover(cfg, &item, now)
        && escalation::hand_over(ids, cfg, std::slice::from_mut(&mut item), &mut batch, now)?;
    if !item.understanding.akut.is_empty() {
        // Akut signals never decide anything, but the people who do are told at once.
        escalation::notify(ids, cfg, &mut item, (0, handed), &mut batch, now)?;
    }
    batch
        .message_with_header(&reference, header, body)
        .item(item);
    Ok(batch)
}

/// How the sender is known from what the transport proved (issue 26): DMARC passed (the
/// `From:` domain vouched for it), or a known partner's server over TLS from a network
/// `[smtp] require_tls_networks` names; anything else (a typed `From:`, a form) is
/// unverified until a person confirms it.
/// Whether the transport (or NemLog-in) proves `to` is the sender's address, as
/// [`Item::sender_proves_address`] says it once the item exists.
fn address_proven(cfg: &Loaded, rx: &Received, to: &str) -> bool {
    modtag_storage::trust::proves_address(sender_trust(cfg, rx), rx.signed_in.as_ref(), to)
}

fn sender_trust(cfg: &Loaded, rx: &Received) -> SenderTrust {
    if rx.signed_in.is_some() {
        return SenderTrust::MitidErhverv;
    }
    if rx.sender_auth.as_ref().is_some_and(|v| v.dmarc == "pass") {
        return SenderTrust::Authenticated;
    }
    let over_tls = !rx.tls.is_empty() && rx.tls != "none" && rx.envelope.helo != "webformular";
    let partner = rx.peer.parse::<std::net::IpAddr>().is_ok_and(|ip| {
        cfg.config
            .smtp
            .require_tls_networks
            .iter()
            .any(|n| n.contains(ip))
    });
    if over_tls && partner {
        SenderTrust::Partner
    } else {
        SenderTrust::Unverified
    }
}

/// "Gentagne underretninger": enough intakes about the child within the window before
/// `at` (the intake's own arrival), the one at `at` included. The item page counts from the
/// child's history as it stands (issue 29) by this same rule.
pub fn repeated(cfg: &Loaded, earlier: impl IntoIterator<Item = Timestamp>, at: Timestamp) -> bool {
    let t = &cfg.config.triage;
    let window = at - jiff::SignedDuration::from_hours(t.repeat_window_days * 24);
    let recent = (earlier.into_iter())
        .filter(|e| *e >= window && *e <= at)
        .count();
    recent + 1 >= t.repeat_threshold
}
