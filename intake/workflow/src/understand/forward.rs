//! Forwarded mail: the original inside an inline forward block, as Outlook (Danish and
//! English), Thunderbird (`-------- Videresendt meddelelse --------`), Gmail and older
//! clients (`-----Original Message-----`) write it.

/// The header block of an inline forward, and where the original's text starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inline {
    pub style: &'static str,
    pub from: Option<String>,
    pub date: Option<String>,
    pub subject: Option<String>,
    /// Byte offset in the text where the original's body starts.
    pub body_start: usize,
}

fn separator_style(line: &str) -> Option<&'static str> {
    // Separator lines start with dashes or underscores; most lines are not one.
    if !line.starts_with(['-', '_']) {
        return None;
    }
    let l = line.trim().trim_matches(['-', '_', ' ']).to_lowercase();
    match l.as_str() {
        "videresendt meddelelse" | "videresendt besked" | "videresendt e-mail" => {
            Some("videresendt")
        }
        "forwarded message" => Some("forwarded"),
        "original message" | "oprindelig meddelelse" | "oprindelig besked" => {
            Some("original-message")
        }
        _ => None,
    }
}

/// `Key: value` with a known forward-header key, as (field, value).
fn field(line: &str) -> Option<(&'static str, String)> {
    // The key is short: look for its colon in the first 13 bytes only, not along the line.
    let colon = line.bytes().take(13).position(|b| b == b':')?;
    let (key, value) = (&line[..colon], &line[colon + 1..]);
    let key = key.trim().trim_matches('*').trim().to_lowercase();
    let field = match key.as_str() {
        "fra" | "from" | "afsender" => "from",
        "sendt" | "sent" | "dato" | "date" => "date",
        "til" | "to" | "cc" => "to",
        "emne" | "subject" | "vedr" => "subject",
        _ => return None,
    };
    Some((field, value.trim().to_string()))
}

/// Whether `line` could be a separator or a header field, looked at byte by byte: most
/// lines of a body are neither, and trimming and parsing each was 6 % of intake's CPU time
/// at 500 KB. Never false for a line that is one (it lets through more than it must).
fn may_start_block(line: &str) -> bool {
    let b = line.as_bytes();
    let start = b
        .iter()
        .position(|c| !matches!(c, b'>' | b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c))
        .unwrap_or(b.len());
    match b.get(start) {
        None => false,
        // Perhaps Unicode white space before the text: let the full check decide.
        Some(c) if !c.is_ascii() => true,
        Some(b'-' | b'_') => true,
        // `field` looks for the colon in the first 13 bytes.
        Some(_) => b[start..b.len().min(start + 13)].contains(&b':'),
    }
}

/// `Name [mailto:a@b]` (Outlook) becomes `Name <a@b>`.
fn tidy_from(v: &str) -> String {
    if let Some((name, rest)) = v.split_once("[mailto:") {
        let addr = rest.trim_end_matches(']').trim();
        return format!("{} <{addr}>", name.trim().trim_matches('"'));
    }
    v.trim().to_string()
}

/// The last (innermost) forward block in `text`: the one whose sender is the original's.
pub fn find_inline(text: &str) -> Option<Inline> {
    // (start, line) for every line; memchr finds the newlines (this runs over whole bodies).
    let mut lines: Vec<(usize, &str)> = Vec::with_capacity(text.len() / 64 + 1);
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', text.as_bytes()) {
        lines.push((start, &text[start..=nl]));
        start = nl + 1;
    }
    if start < text.len() {
        lines.push((start, &text[start..]));
    }
    let mut found = None;
    let mut i = 0;
    while i < lines.len() {
        if !may_start_block(lines[i].1) {
            i += 1;
            continue;
        }
        let line = lines[i].1.trim_start_matches('>').trim();
        let (style, first) = match separator_style(line) {
            Some(style) if line.contains("--") => (Some(style), i + 1),
            // Most lines are neither a separator nor a header field: on to the next.
            None if field(line).is_none() => {
                i += 1;
                continue;
            }
            _ => (None, i),
        };
        // The header block: known fields, perhaps after blank lines following a separator.
        let mut j = first;
        if style.is_some() {
            while j < lines.len() && lines[j].1.trim().is_empty() {
                j += 1;
            }
        }
        let mut fields: Vec<(&'static str, String)> = Vec::new();
        let mut k = j;
        while k < lines.len() {
            let l = lines[k].1.trim_start_matches('>').trim();
            match field(l) {
                Some(f) => fields.push(f),
                None => break,
            }
            k += 1;
        }
        let has = |f: &str| fields.iter().any(|(n, _)| *n == f);
        let style = style.or_else(|| {
            // Outlook without a separator: Fra/Sendt/Til/Emne or From/Sent/To/Subject.
            if has("from") && has("subject") && (has("date") || has("to")) {
                let first_key = lines
                    .get(j)
                    .map(|l| l.1.trim_start_matches('>').trim().to_lowercase())
                    .unwrap_or_default();
                Some(
                    if first_key.starts_with("fra") || first_key.starts_with("emne") {
                        "outlook-da"
                    } else {
                        "outlook-en"
                    },
                )
            } else {
                None
            }
        });
        match style {
            Some(style) if has("from") || has("subject") => {
                let get = |f: &str| {
                    fields
                        .iter()
                        .find(|(n, _)| *n == f)
                        .map(|(_, v)| v.clone())
                        .filter(|v| !v.is_empty())
                };
                found = Some(Inline {
                    style,
                    from: get("from").map(|f| tidy_from(&f)),
                    date: get("date"),
                    subject: get("subject"),
                    body_start: lines.get(k).map_or(text.len(), |l| l.0),
                });
            }
            _ => {}
        }
        // On past the block either way. A block that does not qualify has no part that
        // does (qualifying asks only that fields be present, and a later start sees a
        // subset of them), and starting again on each of its lines made thousands of
        // field lines take seconds, once for every line after.
        i = k.max(i + 1);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlook_danish_block() {
        let text = "Til Modtagelsen.\r\n\r\n________________________________\r\nFra: Kontoret Bakkeskolen [mailto:kontor@bakkeskolen.dk]\r\nSendt: 18. november 2026 09:14\r\nTil: Journalen\r\nEmne: Bekymring for elev\r\n\r\nVi er bekymrede.\r\n";
        let f = find_inline(text).unwrap();
        assert_eq!(f.style, "outlook-da");
        assert_eq!(
            f.from.as_deref(),
            Some("Kontoret Bakkeskolen <kontor@bakkeskolen.dk>")
        );
        assert_eq!(f.subject.as_deref(), Some("Bekymring for elev"));
        assert_eq!(f.date.as_deref(), Some("18. november 2026 09:14"));
        assert!(text[f.body_start..].contains("Vi er bekymrede."));
    }

    #[test]
    fn thunderbird_and_innermost() {
        let text = "-------- Videresendt meddelelse --------\nEmne: \tSV: Elev\nDato: \tMon, 16 Nov 2026\nFra: \tA <a@x.dk>\nTil: \tB\n\n-----Original Message-----\nFrom: Lærer <laerer@bakkeskolen.dk>\nSent: Monday\nSubject: Elev\n\ntekst\n";
        let f = find_inline(text).unwrap();
        assert_eq!(f.style, "original-message");
        assert_eq!(f.from.as_deref(), Some("Lærer <laerer@bakkeskolen.dk>"));
        assert_eq!(f.subject.as_deref(), Some("Elev"));
    }

    #[test]
    fn the_quick_look_lets_every_separator_and_field_through() {
        for line in [
            "Fra: a\r\n",
            ">>Fra: a",
            "> \u{a0}Emne: x",
            "\u{2003}Sendt: y",
            "  -----Original Message-----",
            "-------- Videresendt meddelelse --------",
            "**Fra:** x",
            "Afsender    : x",
        ] {
            let t = line.trim_start_matches('>').trim();
            assert!(
                separator_style(t).is_some() || field(t).is_some(),
                "{line:?}"
            );
            assert!(may_start_block(line), "{line:?}");
        }
        for line in [
            "1XXXXXXXXXXX\r\n",
            "Hej med dig",
            "",
            " \r\n",
            "Et kolon langt inde: her",
        ] {
            assert!(!may_start_block(line), "{line:?}");
        }
    }

    #[test]
    fn many_field_lines_are_read_once() {
        // 400,000 "Til:" lines: never a block (no sender, no subject), each line parsed
        // once, not once for every line before it.
        let text = "Til: x\r\n".repeat(400_000);
        assert!(find_inline(&text).is_none());
        // The block after them is still found.
        let text = format!("{text}\r\nFra: A <a@x.dk>\r\nTil: B\r\nEmne: Elev\r\n\r\ntekst\r\n");
        let f = find_inline(&text).unwrap();
        assert_eq!(f.style, "outlook-da");
        assert_eq!(f.subject.as_deref(), Some("Elev"));
    }

    #[test]
    fn plain_text_with_a_colon_is_not_a_forward() {
        assert!(find_inline("Fra: mig\nHej med dig\n").is_none());
        assert!(find_inline("Emne: trivsel\n\nTekst").is_none());
    }
}
