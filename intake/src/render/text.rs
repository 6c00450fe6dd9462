//! Small text helpers for terminal output.

/// An optional value, `-` when absent.
pub fn or_dash<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".into(), |v| v.to_string())
}

/// Whether `c` may reach a terminal from a sender's text: not a control character (an
/// escape sequence can rewrite the screen, set the window title or worse) and not a bidi
/// control (which can make a line read differently than it is; CVE-2021-42574).
fn printable(c: char) -> bool {
    !c.is_control()
        && !matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// Text from a message, for a terminal: lines and tabs kept, every other control and bidi
/// character shown as `�`, so nothing the sender wrote can act on the terminal.
pub fn safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => c,
            '\r' => '\u{0}',
            c if printable(c) => c,
            _ => '\u{FFFD}',
        })
        .filter(|c| *c != '\u{0}')
        .collect()
}

/// As [`safe`], on one line.
pub fn safe_line(text: &str) -> String {
    safe(text).replace(['\n', '\t'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_a_sender_writes_acts_on_the_terminal() {
        let hostile =
            "Hej\x1b]0;owned\x07 \x1b[2J\u{202E}txt.exe\u{2066}\r\nlinje 2\tfane\u{9b}31m";
        let s = safe(hostile);
        assert!(
            !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{s:?}"
        );
        assert!(!s.contains('\u{202E}') && !s.contains('\u{2066}'), "{s:?}");
        assert!(s.contains("Hej") && s.contains("linje 2\tfane"), "{s:?}");
        assert!(!safe_line(hostile).contains('\n'));
    }
}
