//! The child's name, when the intake gives it on a line of its own: "Barnets navn: ..." as
//! the kommune's own forms write it (and the letters that follow its template). It serves
//! finding the child's history by name (issue 29), never routing: a name decides nothing.

/// The longest name kept; a longer "name" is a sentence, not a name.
const MAX_NAME: usize = 100;

/// The name after the first "Barnets navn:" line in `text`, if it reads as a name.
pub fn name(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.trim_start_matches(['>', ' ', '\t']);
        let head = line.get(..13)?;
        if !head.eq_ignore_ascii_case("barnets navn:") {
            return None;
        }
        let name = line[13..].trim();
        let letters = name.chars().filter(|c| c.is_alphabetic()).count();
        let unknown = ["ikke oplyst", "ukendt", "ved ikke"]
            .iter()
            .any(|u| name.eq_ignore_ascii_case(u));
        (letters >= 2 && name.chars().count() <= MAX_NAME && !unknown).then(|| name.to_string())
    })
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
            "",
        ] {
            assert_eq!(name(none), None, "{none:?}");
        }
        let long = format!("Barnets navn: {}\n", "a".repeat(101));
        assert_eq!(name(&long), None);
    }
}
