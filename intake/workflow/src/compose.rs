//! One PGP/MIME message (RFC 3156) per recipient, encrypted to that recipient's certificate;
//! a recipient without one gets a notification with a link to the desk instead.
//!
//! The outer headers carry only the reference: no subject, no name, no CPR. Everything a
//! recipient needs is inside the encrypted part: a short routing note and the original
//! message as an attachment.

use jiff::Timestamp;
use modtag_config::Loaded;
use modtag_router::{deadline, Decision};
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::{Item, OutboxEntry};
use modtag_storage::store::{Batch, IdSource};
use modtag_storage::StoreError;
use serde_json::json;

use crate::access::view;

/// Adds an outbox entry per recipient of `decision`, and a `routed` audit event, to `batch`.
#[allow(clippy::too_many_arguments)]
pub fn enqueue(
    ids: &dyn IdSource,
    cfg: &Loaded,
    item: &mut Item,
    raw: &[u8],
    decision: &Decision,
    actor: &str,
    batch: &mut Batch,
    now: Timestamp,
) -> Result<(), StoreError> {
    for r in &decision.recipients {
        if item.sent_to.contains(&r.person) {
            continue;
        }
        item.sent_to.push(r.person.clone());
        let person = cfg.directory.person(&r.person).ok_or_else(|| {
            StoreError::Key(format!(
                "recipient {} is no longer in the directory",
                r.person
            ))
        })?;
        let id = ids.next_id()?;
        let message = match &person.cert {
            Some(cert) => {
                let inner = inner_part(item, raw, &r.role, &r.reason, actor);
                let armored = ids.encrypt_copy(&[cert], &inner)?;
                outer_message(cfg, &item.reference, id, &person.email, &armored, now)
            }
            // No certificate: the content stays in modtag; the mail says where to read it.
            None => plain(
                cfg,
                &item.reference,
                id,
                &person.email,
                &format!("Ny henvendelse til dig i modtag: {}", item.reference),
                &notification(cfg, item, &r.role),
                now,
            ),
        };
        batch.outbox(OutboxEntry::new(
            id,
            &item.reference,
            (&r.role, &r.person, &person.email),
            message,
            now,
        ));
    }
    batch.audit(
        Event::new(EventKind::Routed, actor, "routing")
            .reference(&item.reference)
            .details(json!({
                "tree_hash": decision.tree_hash,
                "recipients": decision.recipients.iter().map(|r| json!({
                    "role": r.role, "person": r.person, "rule": r.rule,
                })).collect::<Vec<_>>(),
                "withheld": decision.withheld.iter().map(|w| json!({
                    "role": w.role, "rule": w.rule, "why": w.why.to_string(),
                })).collect::<Vec<_>>(),
                "actions": decision.actions.iter().map(|(a, _)| a).collect::<Vec<_>>(),
            })),
    );
    Ok(())
}

/// The notification a recipient without a certificate gets: the reference, the dates and
/// a link to the item in the desk; nothing of the content.
fn notification(cfg: &Loaded, item: &Item, role: &str) -> String {
    format!(
        "modtag har sendt dig en henvendelse. Du læser den i modtag, når du er logget ind:\n\n\
         {url}/koe/{reference}\n\n\
         Reference: {reference}\n\
         Modtaget: {received}\n\
         Vurderes senest: {deadline}\n\
         Din rolle: {role}\n\n\
         Når du har læst den, trykker du \"Marker som modtaget\", så Modtagelsen ved, at du har overtaget \
         den.\n\n\
         Mailen indeholder ikke henvendelsens indhold. Svar ikke på den.\n",
        url = cfg.config.http.desk_url(),
        reference = item.reference,
        received = deadline::local(item.received_at),
        deadline = deadline::local(item.deadline),
    )
}

/// A value for a line of the routing note: no control character (a CR or LF would start
/// a header or a MIME part of its own), like any header value.
fn one_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A MIME boundary no sender can guess (128 bits from the operating system's CSPRNG;
/// issue 26): a message that closed a part with a boundary derived from its receive time
/// could write a route note of its own inside modtag's signed copy. The `=_` cannot start a
/// line of base64 or of quoted-printable text either.
fn boundary(tag: &str) -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("=_modtag_{tag}_{}", hex::encode(bytes))
}

/// The plaintext MIME entity that gets encrypted: a routing note and the original message
/// for the desks and the case's rådgiver; for everyone else the screening, and the original
/// only as `access::view` allows (the same rule the desk shows them by).
fn inner_part(item: &Item, raw: &[u8], role: &str, reason: &str, actor: &str) -> Vec<u8> {
    let b = boundary("inner");
    let decision = item.decision.as_ref();
    let original = view::gets_original(role, item);
    let screening = match decision.filter(|_| !view::gets_whole(role)) {
        Some(d) => format!(
            "\r\nUdfald af screeningen: {}\r\nScreening og anbefaling:\r\n{}\r\n",
            d.screening_outcome
                .as_deref()
                .map_or("ikke angivet", modtag_config::vocab::outcome_words),
            if d.note.trim().is_empty() {
                "(ingen skrevet)"
            } else {
                d.note.trim()
            }
        ),
        None => String::new(),
    };
    let note = format!(
        "modtag har sendt dig denne henvendelse.\r\n\r\n\
         Reference: {}\r\n\
         Modtaget: {}\r\n\
         Vurderes senest: {}\r\n\
         Din rolle: {}\r\n\
         Begrundelse: {}\r\n\
         Besluttet af: {}\r\n{screening}\r\n\
         {}\r\n",
        item.reference,
        deadline::local(item.received_at),
        deadline::local(item.deadline),
        role,
        one_line(reason),
        one_line(actor),
        if original {
            "Den oprindelige henvendelse er vedhæftet."
        } else {
            "Den oprindelige henvendelse er ikke vedhæftet: du får screeningen og anbefalingen."
        },
    );
    let mut out = format!(
        "Content-Type: multipart/mixed; boundary=\"{b}\"\r\n\r\n\
         --{b}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n\
         {note}\r\n"
    )
    .into_bytes();
    if original {
        out.extend_from_slice(
            format!(
                "--{b}\r\n\
                 Content-Type: message/rfc822\r\n\
                 Content-Disposition: attachment; filename=\"{}.eml\"\r\n\r\n",
                item.reference
            )
            .as_bytes(),
        );
        out.extend_from_slice(raw);
        if !raw.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(format!("--{b}--\r\n").as_bytes());
    out
}

fn outer_message(
    cfg: &Loaded,
    reference: &str,
    id: u64,
    to: &str,
    armored: &[u8],
    now: Timestamp,
) -> String {
    let b = boundary("outer");
    let date =
        jiff::fmt::rfc2822::to_string(&now.to_zoned(jiff::tz::TimeZone::UTC)).unwrap_or_default();
    let armored = String::from_utf8_lossy(armored)
        .replace("\r\n", "\n")
        .replace('\n', "\r\n");
    format!(
        "From: modtag <{from}>\r\n\
         To: <{to}>\r\n\
         Subject: Sikker post {reference}\r\n\
         Date: {date}\r\n\
         Message-ID: <{reference}.{id:x}@{host}>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"{b}\"\r\n\r\n\
         This is an OpenPGP/MIME encrypted message (RFC 3156).\r\n\
         --{b}\r\n\
         Content-Type: application/pgp-encrypted\r\n\
         Content-Description: PGP/MIME version identification\r\n\r\n\
         Version: 1\r\n\r\n\
         --{b}\r\n\
         Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\
         Content-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n\
         {armored}\r\n\
         --{b}--\r\n",
        from = cfg.config.relay.from,
        host = cfg.config.smtp.hostname,
    )
}

/// A plain-text message that carries no personal data (a kvittering, a deadline notice):
/// base64 body, RFC 2047 subject when it is not ASCII.
pub fn plain(
    cfg: &Loaded,
    reference: &str,
    id: u64,
    to: &str,
    subject: &str,
    body: &str,
    now: Timestamp,
) -> String {
    plain_as(cfg, (reference, id), to, (subject, body), false, now)
}

/// [`plain`], marked urgent for mail clients when `urgent` (`Importance: high`,
/// `X-Priority: 1`): how urgent, never what (issue 27).
fn plain_as(
    cfg: &Loaded,
    (reference, id): (&str, u64),
    to: &str,
    (subject, body): (&str, &str),
    urgent: bool,
    now: Timestamp,
) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let date =
        jiff::fmt::rfc2822::to_string(&now.to_zoned(jiff::tz::TimeZone::UTC)).unwrap_or_default();
    let subject = if subject.is_ascii() {
        subject.replace(['\r', '\n'], " ")
    } else {
        format!("=?utf-8?b?{}?=", b64.encode(subject))
    };
    let body = body.replace("\r\n", "\n").replace('\n', "\r\n");
    let encoded: Vec<String> = b64
        .encode(body.as_bytes())
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    format!(
        "From: modtag <{from}>\r\n\
         To: <{to}>\r\n\
         Subject: {subject}\r\n\
         Date: {date}\r\n\
         Message-ID: <{reference}.{id:x}@{host}>\r\n\
         Auto-Submitted: auto-generated\r\n\
         {priority}\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n\
         {}\r\n",
        encoded.join("\r\n"),
        priority = if urgent {
            "Importance: high\r\nX-Priority: 1\r\n"
        } else {
            ""
        },
        from = cfg.config.relay.from,
        host = cfg.config.smtp.hostname,
    )
}

/// A calendar invitation to mail: the meeting's UID, the mail's subject and text, and the
/// `VCALENDAR` (`crate::ical`).
pub struct InvitationMail<'a> {
    pub uid: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub ics: &'a str,
}

/// An outbox entry carrying `mail` to `to`, due at once (as [`plain_entry`] for a notice).
pub fn invitation_entry(
    ids: &dyn IdSource,
    cfg: &Loaded,
    reference: &str,
    to: PlainTo,
    mail: &InvitationMail,
    now: Timestamp,
) -> Result<OutboxEntry, StoreError> {
    let id = ids.next_id()?;
    let message = invitation(cfg, id, to.email, mail, now);
    Ok(OutboxEntry::new(
        id,
        reference,
        (to.role, to.person, to.email),
        message,
        now,
    ))
}

/// A calendar invitation by mail: a plain text part and the `text/calendar` part Outlook
/// and Thunderbird act on (iTIP's `method` in the content type, as RFC 6047 asks).
fn invitation(cfg: &Loaded, id: u64, to: &str, mail: &InvitationMail, now: Timestamp) -> String {
    let InvitationMail {
        uid,
        subject,
        text,
        ics,
    } = *mail;
    use base64::Engine as _;
    let b64 = |s: &str| {
        base64::engine::general_purpose::STANDARD
            .encode(s.as_bytes())
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    let b = boundary("invite");
    let date =
        jiff::fmt::rfc2822::to_string(&now.to_zoned(jiff::tz::TimeZone::UTC)).unwrap_or_default();
    let method = if ics.contains("METHOD:CANCEL") {
        "CANCEL"
    } else {
        "REQUEST"
    };
    format!(
        "From: modtag <{from}>\r\n\
         To: <{to}>\r\n\
         Subject: =?utf-8?b?{subject}?=\r\n\
         Date: {date}\r\n\
         Message-ID: <{id:x}.{uid}>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"{b}\"\r\n\r\n\
         --{b}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n\
         {text}\r\n\
         --{b}\r\n\
         Content-Type: text/calendar; charset=utf-8; method={method}\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n\
         {ics}\r\n\
         --{b}--\r\n",
        from = cfg.config.relay.from,
        subject = base64::engine::general_purpose::STANDARD.encode(subject),
        text = b64(text),
        ics = b64(ics),
    )
}

/// Who a plain message goes to: the outbox entry's role, person (a directory id, or what
/// the recipient is: `reporter`, `auditor`) and address.
pub struct PlainTo<'a> {
    pub role: &'a str,
    pub person: &'a str,
    pub email: &'a str,
}

/// An outbox entry carrying a [`plain`] message, marked urgent when `urgent`, due at once.
#[allow(clippy::too_many_arguments)]
pub fn plain_entry_urgent(
    ids: &dyn IdSource,
    cfg: &Loaded,
    reference: &str,
    to: PlainTo,
    subject: &str,
    body: &str,
    urgent: bool,
    now: Timestamp,
) -> Result<OutboxEntry, StoreError> {
    let id = ids.next_id()?;
    let message = plain_as(cfg, (reference, id), to.email, (subject, body), urgent, now);
    Ok(OutboxEntry::new(
        id,
        reference,
        (to.role, to.person, to.email),
        message,
        now,
    ))
}

/// An outbox entry carrying a [`plain`] message, due at once.
pub fn plain_entry(
    ids: &dyn IdSource,
    cfg: &Loaded,
    reference: &str,
    to: PlainTo,
    subject: &str,
    body: &str,
    now: Timestamp,
) -> Result<OutboxEntry, StoreError> {
    plain_entry_urgent(ids, cfg, reference, to, subject, body, false, now)
}

/// An outbox entry of `text` for someone outside the kommune (a private institution's
/// leader): OpenPGP-encrypted when they have a certificate; otherwise in clear, and then it
/// may leave only over TLS (`require_tls`), never over plain SMTP. The subject carries the
/// reference only.
#[allow(clippy::too_many_arguments)]
pub fn private_entry(
    ids: &dyn IdSource,
    cfg: &Loaded,
    reference: &str,
    to: PlainTo,
    cert: Option<&sequoia_openpgp::Cert>,
    subject: &str,
    text: &str,
    now: Timestamp,
) -> Result<OutboxEntry, StoreError> {
    let Some(cert) = cert else {
        let mut entry = plain_entry(ids, cfg, reference, to, subject, text, now)?;
        entry.require_tls = true;
        return Ok(entry);
    };
    let id = ids.next_id()?;
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let inner = format!(
        "Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n\
         {text}\r\n"
    );
    let armored = ids.encrypt_copy(&[cert], inner.as_bytes())?;
    let message = outer_message(cfg, reference, id, to.email, &armored, now);
    Ok(OutboxEntry::new(
        id,
        reference,
        (to.role, to.person, to.email),
        message,
        now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decisions_actor_cannot_start_a_part_of_its_own() {
        let now = Timestamp::now();
        let item = Item::received(
            "MT-2026-000009",
            modtag_config::Channel::Underretning,
            modtag_config::Kind::Underretning,
            now,
            now,
            Default::default(),
        );
        let actor = "lene\r\nContent-Type: text/html\r\n\r\n<script>";
        let inner = inner_part(
            &item,
            b"Subject: x\r\n\r\ntekst\r\n",
            "raadgiver",
            "fordi\r\nX: y",
            actor,
        );
        let text = String::from_utf8_lossy(&inner);
        assert!(
            text.contains("Besluttet af: lene  Content-Type: text/html    <script>"),
            "{text}"
        );
        assert!(!text.contains("\r\nContent-Type: text/html"), "{text}");
        assert!(!text.contains("\r\nX: y"), "{text}");
    }
}
