//! Children's names as the blind index reads them (issue 29): one form however a name is
//! written, so that a search finds it without the name in clear on disk.

/// A child's name as the blind index keeps it: lower case, words of letters (and the
/// hyphens and apostrophes inside names), one space between; "Emil  HANSEN." and
/// "emil hansen" are one name. Empty when nothing is left.
pub fn normalised_name(name: &str) -> String {
    name.split(|c: char| !(c.is_alphabetic() || c == '-' || c == '\''))
        .map(|w| w.trim_matches(|c| c == '-' || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}
