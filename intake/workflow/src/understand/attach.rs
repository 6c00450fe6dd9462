//! Attachments: safe names, the real type from the content, a hash, and whether staff may
//! see it inline. Nothing here decides whether an attachment is kept: all of it is, encrypted.

use modtag_storage::records::Attachment;
use sha2::{Digest, Sha256};

/// Strips anything that could act as a path or a control sequence from a file name.
pub fn sanitize_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .take(200)
        .collect();
    let clean = clean.trim().trim_start_matches('.').to_string();
    if clean.is_empty() {
        "unnamed".into()
    } else {
        clean
    }
}

/// What a type is known by, at the start of the content.
enum Magic {
    /// The content starts with these bytes.
    Prefix(&'static [u8]),
    /// An ISO media file: an `ftyp` box at byte 4 naming one of these brands.
    Brand(&'static [&'static [u8]]),
}

/// Types known by their first bytes, tried in this order; the first that fits wins.
const MAGIC: &[(Magic, &str)] = &[
    (Magic::Prefix(b"%PDF-"), "application/pdf"),
    (Magic::Prefix(b"\x89PNG\r\n\x1a\n"), "image/png"),
    (Magic::Prefix(b"\xff\xd8\xff"), "image/jpeg"),
    (Magic::Prefix(b"GIF87a"), "image/gif"),
    (Magic::Prefix(b"GIF89a"), "image/gif"),
    (Magic::Prefix(b"II*\0"), "image/tiff"),
    (Magic::Prefix(b"MM\0*"), "image/tiff"),
    (Magic::Brand(&[b"heic", b"heix", b"mif1"]), "image/heic"),
    // ODF and OOXML files are ZIP archives too: `zip_type` looks inside.
    (Magic::Prefix(b"PK\x03\x04"), ZIP),
    // Word, Excel, PowerPoint and Outlook .msg share this container.
    (
        Magic::Prefix(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
        "application/x-ole-storage",
    ),
    (Magic::Prefix(b"{\\rtf"), "application/rtf"),
    (Magic::Prefix(b"\x78\x9f\x3e\x22"), "application/ms-tnef"),
    (Magic::Prefix(b"MZ"), "application/x-msdownload"),
    (Magic::Prefix(b"\x7fELF"), "application/x-executable"),
    (
        Magic::Prefix(b"-----BEGIN PGP MESSAGE-----"),
        "application/pgp-encrypted",
    ),
    (Magic::Prefix(b"#!"), "text/x-script"),
    (Magic::Prefix(b"<!DOCTYPE html"), "text/html"),
    (Magic::Prefix(b"<html"), "text/html"),
    (Magic::Prefix(b"<HTML"), "text/html"),
];

const ZIP: &str = "application/zip";

impl Magic {
    /// Whether the content begins the way this row says.
    fn fits(&self, bytes: &[u8]) -> bool {
        match self {
            Magic::Prefix(m) => bytes.starts_with(m),
            Magic::Brand(brands) => {
                bytes.len() > 12 && &bytes[4..8] == b"ftyp" && brands.contains(&&bytes[8..12])
            }
        }
    }
}

/// The type the content really has, from its first bytes (and, for ZIP-based Office
/// files, the names inside).
pub fn sniff(bytes: &[u8]) -> &'static str {
    match MAGIC.iter().find(|(magic, _)| magic.fits(bytes)) {
        Some((_, ZIP)) => zip_type(bytes),
        Some((_, t)) => t,
        None if !bytes.contains(&0)
            && (std::str::from_utf8(bytes).is_ok() || mostly_text(bytes)) =>
        {
            "text/plain"
        }
        None => "application/octet-stream",
    }
}

/// A ZIP archive's type by the names in its first 64 KiB: an ODF or OOXML document, or
/// just a ZIP.
fn zip_type(bytes: &[u8]) -> &'static str {
    let has = |m: &[u8]| memchr::memmem::find(&bytes[..bytes.len().min(64 * 1024)], m).is_some();
    if has(b"mimetypeapplication/vnd.oasis.opendocument.text") {
        "application/vnd.oasis.opendocument.text"
    } else if has(b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet") {
        "application/vnd.oasis.opendocument.spreadsheet"
    } else if has(b"[Content_Types].xml") && has(b"word/") {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    } else if has(b"[Content_Types].xml") && has(b"xl/") {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    } else if has(b"[Content_Types].xml") && has(b"ppt/") {
        "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    } else {
        ZIP
    }
}

/// Latin-1 or Windows-1252 text: printable bytes and line breaks only.
fn mostly_text(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .take(4096)
        .all(|&b| b >= 0x20 || matches!(b, b'\r' | b'\n' | b'\t' | 0x0c))
}

const OLE_TYPES: &[&str] = &[
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.ms-outlook",
];

fn allowed(list: &[String], t: &str) -> bool {
    list.iter().any(|a| match a.strip_suffix("/*") {
        Some(family) => t.split('/').next() == Some(family),
        None => a == t,
    })
}

/// Describes one attachment: sniffed type, hash, and the reason it is flagged, if it is.
pub fn describe(
    name: &str,
    declared: &str,
    bytes: &[u8],
    allow: &[String],
    inside: &str,
) -> Attachment {
    let declared = declared.to_ascii_lowercase();
    let mut sniffed = sniff(bytes);
    // The OLE container says only "Office": the declared type says which.
    if sniffed == "application/x-ole-storage" && OLE_TYPES.contains(&declared.as_str()) {
        sniffed = OLE_TYPES
            .iter()
            .find(|t| **t == declared)
            .copied()
            .unwrap_or(sniffed);
    }
    let generic = ["application/octet-stream", "text/plain", "application/zip"];
    let flagged = if bytes.is_empty() {
        Some("tom".to_string())
    } else if !allowed(allow, sniffed) {
        Some(format!("{sniffed} er ikke en type, der vises direkte"))
    } else if !(generic.contains(&declared.as_str())
        || generic.contains(&sniffed)
        || declared == sniffed
        || declared.starts_with("text/") && sniffed.starts_with("text/"))
    {
        Some(format!(
            "angivet som {declared}, men indholdet er {sniffed}"
        ))
    } else if declared != sniffed
        && !allowed(allow, &declared)
        && declared != "application/octet-stream"
    {
        Some(format!("{declared} er ikke en type, der vises direkte"))
    } else {
        None
    };
    Attachment {
        name: sanitize_name(name),
        content_type: declared,
        size: bytes.len(),
        sniffed_type: sniffed.to_string(),
        sha256: hex::encode(Sha256::digest(bytes)),
        flagged,
        inside: inside.to_string(),
    }
}

/// The files inside a `winmail.dat` (Outlook's TNEF), as `(name, bytes)`. `Err` says why it
/// could not be opened; the winmail.dat itself is listed either way.
pub fn tnef_files(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    use tnef::{AttachAttrId, AttributeId};
    let reader = tnef::TnefReader::new(bytes).map_err(|e| format!("{e:?}"))?;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut current: Option<(String, Vec<u8>)> = None;
    for attribute in reader {
        let (id, data) = attribute.map_err(|e| format!("{e:?}"))?;
        match id {
            AttributeId::Attachment(AttachAttrId::AttachRendData) => {
                files.extend(current.take());
                current = Some(("unnamed".into(), Vec::new()));
            }
            AttributeId::Attachment(AttachAttrId::Title) => {
                if let Some(c) = current.as_mut() {
                    // Titles are NUL-terminated in the OEM code page; Latin-1 covers Danish.
                    let raw = data.strip_suffix(&[0]).unwrap_or(data);
                    c.0 = match std::str::from_utf8(raw) {
                        Ok(s) => s.to_string(),
                        Err(_) => raw.iter().map(|&b| char::from(b)).collect(),
                    };
                }
            }
            AttributeId::Attachment(AttachAttrId::Data) => {
                if let Some(c) = current.as_mut() {
                    c.1 = data.to_vec();
                }
            }
            _ => {}
        }
    }
    files.extend(current);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_and_controls() {
        for (raw, want) in [
            ("../../etc/passwd", "passwd"),
            ("C:\\Users\\x\\notat.pdf", "notat.pdf"),
            ("evil\u{202e}fdp.exe", "evilfdp.exe"),
            ("a\r\nb.txt", "ab.txt"),
            ("..", "unnamed"),
            ("", "unnamed"),
            (".hidden", "hidden"),
        ] {
            assert_eq!(sanitize_name(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn a_program_posing_as_a_pdf_is_flagged() {
        let allow = modtag_config::Classify::default().attachment_types;
        let exe = describe(
            "rapport.pdf",
            "application/pdf",
            b"MZ\x90\0\x03",
            &allow,
            "",
        );
        assert_eq!(exe.sniffed_type, "application/x-msdownload");
        assert!(exe.flagged.is_some());
        let pdf = describe("rapport.pdf", "application/pdf", b"%PDF-1.7\n", &allow, "");
        assert_eq!(pdf.flagged, None);
        let doc = describe(
            "a.doc",
            "application/msword",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1xx",
            &allow,
            "",
        );
        assert_eq!(
            (doc.sniffed_type.as_str(), doc.flagged.as_deref()),
            ("application/msword", None)
        );
        let pdf_as_octet = describe("x.pdf", "application/octet-stream", b"%PDF-1.4", &allow, "");
        assert_eq!(pdf_as_octet.flagged, None);
    }
}
