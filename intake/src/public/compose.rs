//! A form's submission as the e-mail it stands in for: the message modtag would have got
//! had the sender mailed it, so it is read, stored, audited and routed by the same path as
//! SMTP. Every header value is RFC 2047-encoded (nothing a person typed can start a header
//! line); the text and each attachment are base64 parts.

use base64::Engine as _;
use jiff::Timestamp;

use super::upload::Upload;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Header text that no input can break out of: an encoded word per 45 bytes.
fn encoded(text: &str) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    if clean.is_empty() {
        return String::new();
    }
    let mut words = Vec::new();
    let mut rest = clean.as_str();
    while !rest.is_empty() {
        let mut cut = rest.len().min(45);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        words.push(format!("=?utf-8?b?{}?=", B64.encode(&rest[..cut])));
        rest = &rest[cut..];
    }
    words.join("\r\n ")
}

/// An address a person typed, if it is one (no spaces, quotes, brackets or controls).
pub fn address(text: &str) -> Option<String> {
    let t = text.trim();
    let (local, domain) = t.split_once('@')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_graphic() && !"<>()[]\\,;:\"@".contains(c))
    };
    (ok(local) && ok(domain) && domain.contains('.') && t.len() <= 254).then(|| t.to_string())
}

fn base64_lines(bytes: &[u8]) -> String {
    B64.encode(bytes)
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// `filename*=` (RFC 2231) for any name, with a plain ASCII `filename=` beside it.
fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let pct: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=utf-8''{pct}")
}

/// Who the message is from: a name and an address (the form's), or modtag's own no-reply
/// address for an anonymous citizen.
pub struct From<'a> {
    pub name: &'a str,
    pub email: &'a str,
}

/// The message: headers, the text as a plain part, each upload as an attachment.
pub fn message(
    from: From,
    to: &str,
    subject: &str,
    text: &str,
    uploads: &[Upload],
    host: &str,
    now: Timestamp,
) -> Vec<u8> {
    let id = crate::identity::sessions::token();
    let boundary = format!("=_modtag_form_{}", &id[..16]);
    let date =
        jiff::fmt::rfc2822::to_string(&now.to_zoned(jiff::tz::TimeZone::UTC)).unwrap_or_default();
    let mut out = format!(
        "From: {} <{}>\r\n\
         To: <{to}>\r\n\
         Subject: {}\r\n\
         Date: {date}\r\n\
         Message-ID: <form.{id}@{host}>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n\
         {}\r\n",
        encoded(from.name),
        from.email,
        encoded(subject),
        base64_lines(text.replace("\r\n", "\n").replace('\n', "\r\n").as_bytes()),
    );
    for u in uploads {
        let declared: String = u
            .declared
            .chars()
            .filter(|c| c.is_ascii_graphic() && !"\";".contains(*c))
            .collect();
        out.push_str(&format!(
            "--{boundary}\r\n\
             Content-Type: {declared}\r\n\
             Content-Disposition: {}\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n\
             {}\r\n",
            disposition(&u.name),
            base64_lines(&u.bytes)
        ));
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_cannot_start_a_header_line() {
        let raw = message(
            From {
                name: "Evil\r\nBcc: x@y.dk",
                email: "a@b.dk",
            },
            "trivselplus@localhost",
            "Trivsel+\r\nX-Injected: 1",
            "tekst",
            &[],
            "modtag.localhost",
            Timestamp::UNIX_EPOCH,
        );
        let raw = String::from_utf8(raw).unwrap();
        assert!(
            !raw.contains("\r\nBcc:") && !raw.contains("\r\nX-Injected:"),
            "{raw}"
        );
        let parsed = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        assert_eq!(parsed.subject(), Some("Trivsel+X-Injected: 1"));
    }

    #[test]
    fn only_addresses_are_addresses() {
        assert_eq!(
            address(" leder@friskolen.dk "),
            Some("leder@friskolen.dk".into())
        );
        for bad in [
            "",
            "a@b",
            "a b@c.dk",
            "<a@b.dk>",
            "a@b.dk\r\nBcc: c@d.dk",
            "a\"@b.dk",
        ] {
            assert_eq!(address(bad), None, "{bad:?}");
        }
    }
}
