//! The walk over a message's MIME tree: text, attachments and nested messages, within the
//! `[classify]` limits on parts and depth, and the header helpers reading shares.

use mail_parser::{Encoding, Message, MessagePart, MimeHeaders, PartType};
use modtag_config::Classify;
use modtag_storage::records::{Attachment, Original};

use super::attach;

/// Collects text, attachments and nested messages, within the part and depth limits.
pub(super) fn walk(
    classify: &Classify,
    msg: &Message,
    depth: usize,
    inside: &str,
    scan: &mut Scan,
    notes: &mut Vec<String>,
) {
    if depth > classify.max_depth {
        notes.push(format!(
            "beskeder indlejret dybere end {} blev ikke åbnet (grænsen max_depth)",
            classify.max_depth
        ));
        return;
    }
    let parts = msg.parts.len();
    if scan.parts + parts > classify.max_parts {
        notes.push(format!(
            "beskeden har mere end {} MIME-dele; kun de første blev læst (grænsen max_parts)",
            classify.max_parts
        ));
    }
    let room = classify.max_parts.saturating_sub(scan.parts);
    scan.parts += parts.min(room);
    let depths = part_depths(msg);
    if depths.iter().any(|d| *d > classify.max_depth) {
        notes.push(format!(
            "MIME-dele indlejret dybere end {} blev ikke læst (grænsen max_depth)",
            classify.max_depth
        ));
    }
    let usable = |id: usize| {
        id < room
            && depths
                .get(id)
                .is_some_and(|d| depth + d <= classify.max_depth)
    };
    note_structure_problems(msg, room, notes);
    read_body_text(msg, depth, inside, &usable, scan);
    for id in &msg.attachments {
        let id = *id as usize;
        if !usable(id) {
            continue;
        }
        let part = &msg.parts[id];
        if let PartType::Message(nested) = &part.body {
            nested_message(classify, part, nested, inside, scan);
            walk(classify, nested, depth + 1, "message/rfc822", scan, notes);
        } else {
            file(classify, part, inside, scan, notes);
        }
    }
}

/// Structure problems worth showing: a part that could not be decoded, a multipart without
/// a boundary or without parts.
fn note_structure_problems(msg: &Message, room: usize, notes: &mut Vec<String>) {
    for (id, part) in msg.parts.iter().enumerate().take(room) {
        if part.is_encoding_problem {
            notes.push(format!(
                "del {id} kunne ikke afkodes helt (beskadiget eller afkortet kodning)"
            ));
        }
        if let Some(ct) = part.content_type() {
            if ct.ctype().eq_ignore_ascii_case("multipart") {
                if ct.attribute("boundary").is_none() {
                    notes.push(format!(
                        "del {id} er multipart uden boundary: læst som tekst"
                    ));
                } else if matches!(&part.body, PartType::Multipart(subs) if subs.is_empty()) {
                    notes.push(format!(
                        "del {id} er multipart, men ingen dele blev fundet (forkert boundary?)"
                    ));
                }
            }
        }
    }
}

/// Body text: text/plain preferred; HTML only as text. The outer message's is its body;
/// a nested message's is further text to search.
fn read_body_text(
    msg: &Message,
    depth: usize,
    inside: &str,
    usable: &dyn Fn(usize) -> bool,
    scan: &mut Scan,
) {
    for (i, id) in msg.text_body.iter().enumerate() {
        if !usable(*id as usize) {
            continue;
        }
        if let Some(t) = body_text(msg, i, *id as usize) {
            if depth == 0 && inside.is_empty() {
                if scan.body.is_empty() {
                    // Usually the only body: taken as it is, not copied again.
                    scan.body = t;
                } else {
                    scan.body.push('\n');
                    scan.body.push_str(&t);
                }
            } else {
                scan.extra.push('\n');
                scan.extra.push_str(&t);
            }
        }
    }
}

/// An attached message (`message/rfc822`): listed as an attachment, and the first one met
/// is the original the message forwards (the innermost, for a forward of a forward). Its
/// own parts are walked by the caller.
fn nested_message(
    classify: &Classify,
    part: &MessagePart,
    nested: &Message,
    inside: &str,
    scan: &mut Scan,
) {
    let label = part
        .attachment_name()
        .map(str::to_string)
        .unwrap_or_else(|| "message.eml".into());
    let mut a = attach::describe(
        &label,
        "message/rfc822",
        part.contents(),
        &classify.attachment_types,
        inside,
    );
    // Opened and read here, its own parts listed: not a file to flag.
    a.sniffed_type = "message/rfc822".into();
    a.flagged = None;
    scan.attachment(a, part.contents());
    if scan.nested.is_none() {
        // A forward of a forward: the innermost original counts.
        let mut inner = nested;
        while let Some(deeper) = inner.attachments().find_map(|p| p.message()) {
            inner = deeper;
        }
        scan.nested = Some(Original {
            from: address(inner),
            date: inner.date().map(|d| d.to_rfc3339()),
            subject: header_text(inner, "Subject"),
            forwarded_by: None,
            style: "message/rfc822".into(),
        });
    }
}

/// An attached file: described and listed; its text searched if it is text; the files
/// inside a winmail.dat listed too.
fn file(
    classify: &Classify,
    part: &MessagePart,
    inside: &str,
    scan: &mut Scan,
    notes: &mut Vec<String>,
) {
    let declared = content_type(part);
    let bytes = part.contents();
    let label = part
        .attachment_name()
        .map(str::to_string)
        .unwrap_or_else(|| "unnamed".into());
    let a = attach::describe(&label, &declared, bytes, &classify.attachment_types, inside);
    if a.sniffed_type.starts_with("text/plain") || declared.starts_with("text/") {
        if let Some(t) = part.text_contents() {
            scan.extra.push('\n');
            scan.extra.push_str(t);
        }
    }
    let tnef = a.sniffed_type == "application/ms-tnef";
    scan.attachment(a, bytes);
    if tnef {
        match attach::tnef_files(bytes) {
            Ok(files) => {
                for (n, data) in files {
                    let guess = attach::sniff(&data);
                    let a = attach::describe(
                        &n,
                        guess,
                        &data,
                        &classify.attachment_types,
                        "winmail.dat",
                    );
                    scan.attachment(a, &data);
                }
            }
            Err(e) => notes.push(format!("winmail.dat kunne ikke åbnes: {e}")),
        }
    }
}

#[derive(Default)]
pub(super) struct Scan {
    pub(super) parts: usize,
    /// The message's own text, for display.
    pub(super) body: String,
    /// Further text searched for CPR, CVR and signals: text attachments, nested mail.
    pub(super) extra: String,
    pub(super) attachments: Vec<Attachment>,
    pub(super) nested: Option<Original>,
    pub(super) notes: Vec<String>,
    /// The attachment whose bytes are wanted, by its place in `attachments`.
    pub(super) want: Option<usize>,
    pub(super) captured: Option<Vec<u8>>,
}

impl Scan {
    fn attachment(&mut self, a: Attachment, bytes: &[u8]) {
        if self.want == Some(self.attachments.len()) {
            self.captured = Some(bytes.to_vec());
        }
        self.attachments.push(a);
    }
}

/// Depth of each part below the root (multipart nesting).
pub(super) fn part_depths(msg: &Message) -> Vec<usize> {
    let mut depth = vec![0usize; msg.parts.len()];
    // Parts are stored parent before child, so one pass in order suffices.
    for id in 0..msg.parts.len() {
        if let PartType::Multipart(subs) = &msg.parts[id].body {
            let below = depth[id] + 1;
            for s in subs {
                if let Some(d) = depth.get_mut(*s as usize) {
                    *d = below;
                }
            }
        }
    }
    depth
}

pub(super) fn content_type(part: &mail_parser::MessagePart) -> String {
    part.content_type()
        .map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub),
            None => ct.ctype().to_string(),
        })
        .unwrap_or_else(|| "application/octet-stream".into())
        .to_ascii_lowercase()
}

/// A body text, with undeclared 8-bit text read as Windows-1252 (what Danish mail without a
/// charset almost always is) rather than as replacement characters.
pub(super) fn body_text(msg: &Message, i: usize, id: usize) -> Option<String> {
    let t = msg.body_text(i)?;
    let part = &msg.parts[id];
    let declared = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .is_some();
    if declared || !t.contains('\u{fffd}') {
        return Some(t.into_owned());
    }
    let raw = msg
        .raw_message
        .get(part.offset_body as usize..part.offset_end as usize)?;
    let bytes = match part.encoding {
        Encoding::QuotedPrintable => {
            mail_parser::decoders::quoted_printable::quoted_printable_decode(raw)?
        }
        Encoding::Base64 => mail_parser::decoders::base64::base64_decode(raw)?,
        Encoding::None => raw.to_vec(),
    };
    if std::str::from_utf8(&bytes).is_ok() {
        return Some(t.into_owned());
    }
    let text = windows_1252(&bytes);
    Some(if matches!(part.body, PartType::Html(_)) {
        mail_parser::decoders::html::html_to_text(&text)
    } else {
        text
    })
}

pub(super) fn windows_1252(bytes: &[u8]) -> String {
    mail_parser::decoders::charsets::map::charset_decoder(b"windows-1252")
        .map(|d| d(bytes))
        .unwrap_or_else(|| bytes.iter().map(|&b| char::from(b)).collect())
}

/// A header as text; raw 8-bit (undeclared) headers read as Windows-1252.
pub(super) fn header_text(msg: &Message, name: &str) -> Option<String> {
    let parsed = match name {
        "Subject" => msg.subject().map(str::to_string),
        _ => msg.header_raw(name).map(|s| s.trim().to_string()),
    };
    match parsed {
        Some(s) if s.contains('\u{fffd}') => raw_header(msg, name).or(Some(s)),
        other => other,
    }
}

pub(super) fn raw_header(msg: &Message, name: &str) -> Option<String> {
    let h = msg
        .root_part()
        .headers
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case(name))?;
    let raw = msg
        .raw_message
        .get(h.offset_start() as usize..h.offset_end() as usize)?;
    Some(
        windows_1252(raw)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

pub(super) fn address(msg: &Message) -> Option<String> {
    msg.from()
        .and_then(|a| a.first())
        .map(|a| match (a.name(), a.address()) {
            (Some(n), Some(addr)) => format!("{n} <{addr}>"),
            (None, Some(addr)) => addr.to_string(),
            (Some(n), None) => n.to_string(),
            (None, None) => String::new(),
        })
}
