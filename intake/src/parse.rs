//! Reading a message for triage: subject, sender, CPR numbers, attachments.
//!
//! Parsing never decides whether a message is kept: the raw message is stored whatever
//! happens here, and what could not be read is recorded as such.

use mail_parser::{MessageParser, MimeHeaders};
use modtag_router::cpr;
use modtag_storage::records::Attachment;

/// What triage needs from a message. Personal data: lives only in memory and in the
/// encrypted item.
#[derive(Debug, Default, Clone)]
pub struct Parsed {
    pub subject: Option<String>,
    pub from: Option<String>,
    pub cprs: Vec<cpr::Cpr>,
    pub attachments: Vec<Attachment>,
    pub error: Option<String>,
}

/// Strips anything that could act as a path or a control sequence from a file name.
fn sanitize_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if clean.is_empty() || clean == "." || clean == ".." {
        "unnamed".into()
    } else {
        clean
    }
}

pub fn parse(raw: &[u8]) -> Parsed {
    // mail-parser is written not to panic on hostile input; we still refuse to let a bug
    // there take the intake down with it.
    match std::panic::catch_unwind(|| parse_inner(raw)) {
        Ok(p) => p,
        Err(_) => Parsed {
            error: Some("the MIME parser failed on this message; the raw message is kept".into()),
            ..Parsed::default()
        },
    }
}

fn parse_inner(raw: &[u8]) -> Parsed {
    let Some(msg) = MessageParser::default().parse(raw) else {
        return Parsed {
            error: Some("not a readable e-mail message; the raw message is kept".into()),
            ..Parsed::default()
        };
    };
    let subject = msg.subject().map(str::to_string);
    let from = msg
        .from()
        .and_then(|a| a.first())
        .map(|a| match (a.name(), a.address()) {
            (Some(n), Some(addr)) => format!("{n} <{addr}>"),
            (None, Some(addr)) => addr.to_string(),
            (Some(n), None) => n.to_string(),
            (None, None) => String::new(),
        });
    let mut text = subject.clone().unwrap_or_default();
    for i in 0..msg.text_body_count() {
        if let Some(t) = msg.body_text(i) {
            text.push('\n');
            text.push_str(&t);
        }
    }
    let mut attachments = Vec::new();
    for part in msg.attachments() {
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into());
        if content_type.starts_with("text/") {
            if let Some(t) = part.text_contents() {
                text.push('\n');
                text.push_str(t);
            }
        }
        attachments.push(Attachment {
            name: sanitize_name(part.attachment_name().unwrap_or("unnamed")),
            content_type,
            size: part.contents().len(),
        });
    }
    Parsed {
        subject,
        from,
        cprs: cpr::find_all(&text),
        attachments,
        error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cpr_in_subject_body_and_text_attachment() {
        let raw = b"From: Skolen <kontor@skole.dk>\r\nSubject: Bekymring 010115-4000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nBarnet 120315-4321 er ked af det.\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"../../etc/notat.txt\"\r\n\r\nSoester 0101201234\r\n--b--\r\n";
        let p = parse(raw);
        let masked: Vec<_> = p.cprs.iter().map(|c| c.masked()).collect();
        assert_eq!(masked, ["010115-XXXX", "120315-XXXX", "010120-XXXX"]);
        assert_eq!(p.from.as_deref(), Some("Skolen <kontor@skole.dk>"));
        assert_eq!(p.attachments.len(), 1);
        assert_eq!(p.attachments[0].name, "notat.txt");
        assert!(p.error.is_none());
    }

    #[test]
    fn junk_is_recorded_not_lost() {
        for junk in [&b""[..], b"\x00\xff\xfe", b"::::\r\n\r\n", &[b'A'; 100_000]] {
            let _ = parse(junk);
        }
    }
}
