//! XML from outside (NemLog-in's responses, KOMBIT's receipts and answers) read safely:
//! within a size, without a DTD (roxmltree refuses one: no entities), and no deeper than
//! [`MAX_DEPTH`]. roxmltree parses nested elements by recursion with no limit of its own,
//! so a few kilobytes of `<a><a><a>...` would overflow a runtime thread's stack and take
//! the daemon down (found by the attack on issue 30); the depth is counted first, by a scan
//! that cannot recurse.

/// Deeper than any SAML response or receipt nests (they stay under about 20).
pub const MAX_DEPTH: usize = 100;
/// More attributes than any element of theirs has (roxmltree compares each attribute with
/// every earlier one of its element: tens of thousands cost seconds of CPU).
pub const MAX_ATTRIBUTES: usize = 64;

/// `text` parsed, or `None` when it is larger than `max_bytes`, nested deeper than
/// [`MAX_DEPTH`], has an element with more than [`MAX_ATTRIBUTES`], has a DTD, or is not
/// well-formed XML.
pub fn parse(text: &str, max_bytes: usize) -> Option<roxmltree::Document<'_>> {
    if text.len() > max_bytes || !within_depth(text.as_bytes(), MAX_DEPTH) {
        return None;
    }
    roxmltree::Document::parse(text).ok()
}

/// Whether elements nest at most `max` deep, none has more than [`MAX_ATTRIBUTES`], and
/// there is no DTD. Counts start tags (not
/// self-closing, quotes honoured) against end tags; comments, CDATA sections and processing
/// instructions are skipped whole, so an `</a>` inside one cannot lower the count. A start
/// tag it misreads can only raise it: a document it lets through is no deeper than it says.
pub fn within_depth(text: &[u8], max: usize) -> bool {
    let skip_to = |from: usize, end: &[u8]| {
        text[from..]
            .windows(end.len())
            .position(|w| w == end)
            .map_or(text.len(), |p| from + p + end.len())
    };
    let mut depth = 0usize;
    let mut i = 0;
    while i < text.len() {
        if text[i] != b'<' {
            i += 1;
            continue;
        }
        let rest = &text[i..];
        if rest.starts_with(b"<!--") {
            i = skip_to(i + 4, b"-->");
        } else if rest.starts_with(b"<![CDATA[") {
            i = skip_to(i + 9, b"]]>");
        } else if rest.starts_with(b"<?") {
            i = skip_to(i + 2, b"?>");
        } else if rest.starts_with(b"<!") {
            // A DTD (or anything else after `<!`): never taken.
            return false;
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            i = skip_to(i + 2, b">");
        } else {
            // To the tag's end, outside quoted attribute values; each `=` there is an
            // attribute (or more: never fewer).
            let (mut quote, mut attributes) = (None, 0usize);
            let mut j = i + 1;
            while j < text.len() {
                match (quote, text[j]) {
                    (Some(q), c) if c == q => quote = None,
                    (None, b'"') | (None, b'\'') => quote = Some(text[j]),
                    (None, b'=') => attributes += 1,
                    (None, b'>') => break,
                    _ => {}
                }
                j += 1;
            }
            if attributes > MAX_ATTRIBUTES {
                return false;
            }
            let closed = j < text.len() && text[j - 1] == b'/';
            if !closed {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            i = j + 1;
        }
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
        // An end tag inside a comment, CDATA or a PI does not lower the count.
        for hide in ["<!--</a>-->", "<![CDATA[</a>]]>", "<?x </a>?>"] {
            let tricked = format!("<a>{hide}").repeat(101);
            assert!(!within_depth(tricked.as_bytes(), 100), "{hide}");
        }
        // Tens of thousands of attributes on one element are not parsed.
        let wide = (0..1000).map(|n| format!("a{n}=''")).collect::<Vec<_>>();
        assert!(!within_depth(
            format!("<a {}/>", wide.join(" ")).as_bytes(),
            100
        ));
        assert!(within_depth(b"<a x='1' y=\"2\" z='a=b'/>", 100));
        // A DTD is never taken.
        assert!(!within_depth(
            b"<!DOCTYPE a [<!ENTITY x \"</a>\">]><a/>",
            100
        ));
        // A real deep document is refused before the parser sees it.
        assert!(super::parse(&deep(50_000), 1 << 20).is_none());
        assert!(super::parse(&deep(10), 1 << 20).is_some());
    }
}
