//! XML from outside (NemLog-in's responses, KOMBIT's receipts and answers) read safely:
//! within a size, without a DTD (roxmltree refuses one: no entities), and no deeper than
//! [`MAX_DEPTH`]. roxmltree parses nested elements by recursion with no limit of its own,
//! so a few kilobytes of `<a><a><a>...` would overflow a runtime thread's stack and take
//! the daemon down (found by the attack on issue 30); the depth is counted first, by a scan
//! that cannot recurse.

/// Deeper than any SAML response or receipt nests (they stay under about 20).
pub const MAX_DEPTH: usize = 100;

/// `text` parsed, or `None` when it is larger than `max_bytes`, nested deeper than
/// [`MAX_DEPTH`], has a DTD, or is not well-formed XML.
pub fn parse(text: &str, max_bytes: usize) -> Option<roxmltree::Document<'_>> {
    if text.len() > max_bytes || !within_depth(text.as_bytes(), MAX_DEPTH) {
        return None;
    }
    roxmltree::Document::parse(text).ok()
}

/// Whether elements nest at most `max` deep. Counts start tags (not self-closing, quotes
/// honoured) against end tags; a `<` inside a comment or CDATA section counts as a start
/// tag too, which can only make the count higher: a document it lets through is no deeper
/// than it says.
pub fn within_depth(text: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while i < text.len() {
        if text[i] != b'<' {
            i += 1;
            continue;
        }
        match text.get(i + 1) {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(b'!') | Some(b'?') => {}
            _ => {
                // To the tag's end, outside quoted attribute values.
                let mut quote = None;
                let mut j = i + 1;
                while j < text.len() {
                    match (quote, text[j]) {
                        (Some(q), c) if c == q => quote = None,
                        (None, b'"') | (None, b'\'') => quote = Some(text[j]),
                        (None, b'>') => break,
                        _ => {}
                    }
                    j += 1;
                }
                if text[j.min(text.len() - 1)] != b'>' || text[j - 1] != b'/' {
                    depth += 1;
                    if depth > max {
                        return false;
                    }
                }
                i = j;
            }
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::within_depth;

    #[test]
    fn depth_is_counted_without_recursion_and_never_under() {
        let deep = |n: usize| format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
        assert!(within_depth(deep(100).as_bytes(), 100));
        assert!(!within_depth(deep(101).as_bytes(), 100));
        assert!(!within_depth(deep(200_000).as_bytes(), 100));
        // Self-closing tags and siblings do not add up.
        let flat = "<r>".to_string() + &"<a/><b x='1'></b>".repeat(1000) + "</r>";
        assert!(within_depth(flat.as_bytes(), 2));
        // A `/>` inside a quoted value does not make a start tag self-closing.
        let quoted = "<a x=\"/>\">".repeat(101);
        assert!(!within_depth(quoted.as_bytes(), 100));
        // An unfinished tag at the end counts.
        assert!(!within_depth(b"<a><b", 1));
        // A real deep document is refused before the parser sees it.
        assert!(super::parse(&deep(50_000), 1 << 20).is_none());
        assert!(super::parse(&deep(10), 1 << 20).is_some());
    }
}
