//! The attachment types a form allows (`[classify] attachment_types`), in the words people
//! know them by: "PDF, Word, Excel, billeder (JPEG, PNG) og tekstfiler" rather than the MIME
//! types' own words ("MSWORD, VND.MS-EXCEL"), which told a citizen nothing (issue 29).
//!
//! Each MIME type (or `type/*` pattern) is named as a family (Word, billeder...) in a fixed
//! order, the familiar first; images and OpenDocument files list their formats in brackets.
//! A type the list does not know is named by its subtype, so a kommune's own addition is
//! still shown, if less kindly.

/// The families, in the order they are named.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Family {
    Pdf,
    Word,
    Excel,
    PowerPoint,
    OpenDocument,
    Images,
    Text,
    Csv,
    Rtf,
    Audio,
    Video,
    Any,
    /// Named by its subtype (`application/zip` → "ZIP"), in the configuration's order.
    Other,
}

/// The family of one MIME type or pattern, and the format to list in its brackets.
fn family(mime: &str) -> (Family, Option<String>) {
    let mime = mime.trim().to_ascii_lowercase();
    let (top, sub) = mime.split_once('/').unwrap_or((mime.as_str(), ""));
    let format = || {
        let sub = sub.strip_prefix("x-").unwrap_or(sub);
        let sub = sub.split('+').next().unwrap_or(sub);
        Some(sub.rsplit('.').next().unwrap_or(sub).to_ascii_uppercase())
    };
    match (top, sub) {
        ("*", _) => (Family::Any, None),
        (_, "pdf") => (Family::Pdf, None),
        ("image", "*") => (Family::Images, None),
        ("image", "jpg" | "jpeg" | "pjpeg") => (Family::Images, Some("JPEG".into())),
        ("image", _) => (Family::Images, format()),
        ("text", "plain" | "*") => (Family::Text, None),
        ("text", "csv") => (Family::Csv, None),
        (_, "rtf") => (Family::Rtf, None),
        ("audio", _) => (Family::Audio, None),
        ("video", _) => (Family::Video, None),
        ("application", s) if s == "msword" || s.contains("wordprocessingml") => {
            (Family::Word, None)
        }
        ("application", s) if s.starts_with("vnd.ms-word") => (Family::Word, None),
        ("application", s) if s.starts_with("vnd.ms-excel") || s.contains("spreadsheetml") => {
            (Family::Excel, None)
        }
        ("application", s)
            if s.starts_with("vnd.ms-powerpoint") || s.contains("presentationml") =>
        {
            (Family::PowerPoint, None)
        }
        ("application", s) if s.starts_with("vnd.oasis.opendocument.") => {
            let kind = s.trim_start_matches("vnd.oasis.opendocument.");
            let short = match kind {
                "text" => "ODT",
                "spreadsheet" => "ODS",
                "presentation" => "ODP",
                "graphics" => "ODG",
                _ => "",
            };
            (
                Family::OpenDocument,
                Some(short.to_string()).filter(|s| !s.is_empty()),
            )
        }
        _ => (Family::Other, format()),
    }
}

/// One entry of the sentence: a family, and the formats named in its brackets (`None` when
/// the family is allowed whole, as `image/*` allows every image).
struct Entry {
    family: Family,
    /// An unknown type's name (`Family::Other`); empty for the known families.
    other: String,
    formats: Option<Vec<String>>,
}

/// The types in words, with "og" before the last: "PDF, Word, billeder (JPEG, PNG) og
/// tekstfiler".
pub(super) fn in_words(types: &[String]) -> String {
    let mut named: Vec<Entry> = Vec::new();
    for mime in types {
        let (family, format) = family(mime);
        let other = match family {
            Family::Other => format.clone().unwrap_or_else(|| mime.clone()),
            _ => String::new(),
        };
        let i = match named
            .iter()
            .position(|e| e.family == family && e.other == other)
        {
            Some(i) => i,
            None => {
                named.push(Entry {
                    family,
                    other,
                    formats: Some(Vec::new()),
                });
                named.len() - 1
            }
        };
        let entry = &mut named[i];
        match (&mut entry.formats, format) {
            (Some(formats), Some(f)) if !formats.contains(&f) => formats.push(f),
            (_, None) => entry.formats = None,
            _ => {}
        }
    }
    // Stable: unknown types keep the configuration's order.
    named.sort_by_key(|e| e.family);
    let words: Vec<String> = named.into_iter().map(word).collect();
    match words.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} og {last}", rest.join(", ")),
    }
}

fn word(e: Entry) -> String {
    let base = match e.family {
        Family::Pdf => "PDF",
        Family::Word => "Word",
        Family::Excel => "Excel",
        Family::PowerPoint => "PowerPoint",
        Family::OpenDocument => "OpenDocument",
        Family::Images => "billeder",
        Family::Text => "tekstfiler",
        Family::Csv => "CSV",
        Family::Rtf => "RTF",
        Family::Audio => "lydfiler",
        Family::Video => "video",
        Family::Any => "alle typer",
        Family::Other => return e.other,
    };
    match e.formats {
        Some(f) if !f.is_empty() && matches!(e.family, Family::Images | Family::OpenDocument) => {
            format!("{base} ({})", f.join(", "))
        }
        _ => base.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::in_words;

    fn words(types: &[&str]) -> String {
        in_words(&types.iter().map(|t| t.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn the_default_types_read_as_people_know_them() {
        // The default `[classify] attachment_types`.
        assert_eq!(
            in_words(&modtag_config::Classify::default().attachment_types),
            "PDF, Word, Excel, PowerPoint, OpenDocument (ODT, ODS), \
             billeder (PNG, JPEG, GIF, TIFF, HEIC), tekstfiler, CSV og RTF"
        );
    }

    #[test]
    fn a_pattern_allows_the_whole_family_and_nothing_is_named_twice() {
        assert_eq!(
            words(&[
                "application/pdf",
                "image/*",
                "image/png",
                "text/plain",
                "application/pdf"
            ]),
            "PDF, billeder og tekstfiler"
        );
        assert_eq!(words(&["image/png", "image/*"]), "billeder");
        assert_eq!(words(&["image/jpeg", "image/jpg"]), "billeder (JPEG)");
    }

    #[test]
    fn unknown_types_are_named_by_their_subtype() {
        assert_eq!(
            words(&[
                "application/zip",
                "application/x-7z-compressed",
                "application/zip",
                "application/pdf",
                "image/svg+xml",
            ]),
            "PDF, billeder (SVG), ZIP og 7Z-COMPRESSED"
        );
        assert_eq!(words(&["application/pdf"]), "PDF");
        assert_eq!(words(&[]), "");
    }
}
