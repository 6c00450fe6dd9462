//! CVR numbers (Danish company numbers) by DOMAIN.md: eight digits, the first not 0, weights
//! 2,7,6,5,4,3,2,1, the sum divisible by 11.

/// True when `digits` (exactly eight ASCII digits) is a valid CVR. The rule lives with the
/// directory, which checks private institutions' numbers with it.
pub fn valid(digits: &str) -> bool {
    modtag_config::directory::cvr_valid(digits)
}

/// CVR numbers written after the word "CVR" (`CVR 13585628`, `CVR-nr.: 13 58 56 28`), valid
/// or not, in order of appearance and without repeats.
pub fn find_all(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut found: Vec<String> = Vec::new();
    let mut from = 0;
    // "CVR" in any case; the bytes after it are ASCII, so slicing stays on char boundaries.
    while let Some(pos) = memchr::memchr2(b'c', b'C', &b[from..]) {
        let at = from + pos;
        from = at + 1;
        if !b
            .get(at..at + 3)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"cvr"))
        {
            continue;
        }
        let start = at + 3;
        from = start;
        // Up to a few characters of punctuation ("-nr.:", "nummer") before the digits.
        let rest = &text[start..];
        let skip = rest
            .char_indices()
            .take(12)
            .find(|(_, c)| c.is_ascii_digit())
            .map(|(i, _)| i);
        let Some(skip) = skip else { continue };
        if rest[..skip]
            .chars()
            .any(|c| c.is_ascii_digit() || c == '\n')
        {
            continue;
        }
        let digits: String = rest[skip..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ' ')
            .filter(char::is_ascii_digit)
            .take(9)
            .collect();
        if digits.len() == 8 && !found.contains(&digits) {
            found.push(digits);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_domain_md() {
        assert!(valid("13585628"));
        assert!(!valid("13585627"));
        assert!(!valid("03585628"), "first digit 0");
        assert!(!valid("1358562"));
        assert!(!valid("1358562a"));
    }

    #[test]
    fn found_after_the_word() {
        assert_eq!(
            find_all("Friskolen, CVR-nr.: 13 58 56 28. Tlf 12345678. cvr 13585627"),
            ["13585628", "13585627"]
        );
        assert!(find_all("ordre 13585628").is_empty());
        assert!(find_all("CVR 123456789").is_empty(), "nine digits");
    }
}
