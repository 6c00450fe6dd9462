//! The child's name, when the intake gives it on a line of its own: "Barnets navn: ..." as
//! the kommune's own forms write it (and the letters that follow its template). It serves
//! finding the child's history by name (issue 29), never routing: a name decides nothing.

/// The longest name kept; a longer "name" is a sentence, not a name.
const MAX_NAME: usize = 100;

/// The name after the first "Barnets navn:" line in `text`, if it reads as a name.
pub fn name(text: &str) -> Option<String> {
    // The line is found from its colon: memchr passes over a body without colons at
    // vector speed, where splitting every line was 3 % of intake's CPU time at 500 KB.
    // Each line's start and the end of its quoting are found once, however many colons
    // it holds: looked for from every colon, a megabyte of colons on one line took
    // minutes.
    const KEY: &[u8] = b"barnets navn";
    let b = text.as_bytes();
    let (mut line_start, mut searched) = (0, 0);
    let mut quoted_to = None;
    for colon in memchr::memchr_iter(b':', b) {
        if let Some(nl) = memchr::memrchr(b'\n', &b[searched..colon]) {
            line_start = searched + nl + 1;
            quoted_to = None;
        }
        searched = colon;
        // The key must start right after the line's quoting: `> > Barnets navn:`.
        let quoted_to = *quoted_to.get_or_insert_with(|| {
            line_start
                + b[line_start..colon]
                    .iter()
                    .take_while(|c| matches!(c, b'>' | b' ' | b'\t'))
                    .count()
        });
        if colon.checked_sub(KEY.len()) != Some(quoted_to)
            || !b[quoted_to..colon].eq_ignore_ascii_case(KEY)
        {
            continue;
        }
        let line_end = memchr::memchr(b'\n', &b[colon..]).map_or(b.len(), |nl| colon + nl);
        let name = text[colon + 1..line_end].trim();
        let letters = name.chars().filter(|c| c.is_alphabetic()).count();
        let unknown = ["ikke oplyst", "ukendt", "ved ikke"]
            .iter()
            .any(|u| name.eq_ignore_ascii_case(u));
        if letters >= 2 && name.chars().count() <= MAX_NAME && !unknown {
            return Some(name.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::name;

    #[test]
    fn the_name_line_as_the_form_writes_it() {
        let form = "Underretning fra modtags formular\n\nBarnets navn: Emil Hansen\nBarnets CPR-nummer: ikke oplyst\n";
        assert_eq!(name(form).as_deref(), Some("Emil Hansen"));
        assert_eq!(
            name("> BARNETS NAVN:  Åse Ørum \n").as_deref(),
            Some("Åse Ørum")
        );
        for none in [
            "Barnets navn: ikke oplyst\n",
            "Barnets navn: 12\n",
            "Hej, barnets navn er Emil\n",
            "Om Barnets navn: Emil\n",
            "arnets navn: Emil\n",
            "Barnets  navn: Emil\n",
            "",
        ] {
            assert_eq!(name(none), None, "{none:?}");
        }
        // The first line that names a child, after others that do not; CRLF lines too.
        assert_eq!(
            name("Emne: x\r\nBarnets navn: ukendt\r\n>> \tbarnets NAVN: Ida Ø: 3\r\n").as_deref(),
            Some("Ida Ø: 3")
        );
        assert_eq!(name("Barnets navn: Bo").as_deref(), Some("Bo"));
        // Hostile shapes are read in one pass (each took minutes when every colon looked
        // back for its line's start): a long line of colons, of keys, of quoting.
        let colons = format!("xx{}\r\nBarnets navn: Ida\r\n", ":".repeat(4 << 20));
        assert_eq!(name(&colons).as_deref(), Some("Ida"));
        let keys = "Barnets navn:".repeat(300_000);
        assert_eq!(name(&keys), None);
        let quoted = format!(
            "{}x{}",
            ">".repeat(1 << 20),
            "barnets navn:".repeat(100_000)
        );
        assert_eq!(name(&quoted), None);
        let long = format!("Barnets navn: {}\n", "a".repeat(101));
        assert_eq!(name(&long), None);
    }
}
