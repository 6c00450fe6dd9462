//! `[kommune]`: who the pages belong to (issue 29): the kommune's name and logo in every
//! page's header, its contact in the footer, and the accessibility statement at `/was`
//! (Digitaliseringsstyrelsen requires one of every public body's web solutions).

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kommune {
    /// "Fredericia Kommune": the header's and the pages' title.
    #[serde(default = "default_name")]
    pub name: String,
    /// An SVG file (beside this configuration) shown before the name; none when left out.
    pub logo: Option<String>,
    /// One line in the footer: the department, its address, phone and e-mail.
    #[serde(default)]
    pub contact: String,
    /// The accessibility statement shown at `/was`, paragraphs split by blank lines.
    #[serde(default = "default_statement")]
    pub accessibility_statement: String,
    /// Where the kommune publishes the statement itself (Digitaliseringsstyrelsen's WAS
    /// tool), linked from `/was`.
    pub accessibility_statement_url: Option<String>,
}

impl Default for Kommune {
    fn default() -> Kommune {
        Kommune {
            name: default_name(),
            logo: None,
            contact: String::new(),
            accessibility_statement: default_statement(),
            accessibility_statement_url: None,
        }
    }
}

fn default_name() -> String {
    "Kommunen".into()
}

fn default_statement() -> String {
    "modtag er bygget til at overholde WCAG 2.1 på niveau AA: siderne kan bruges med \
     tastatur og skærmlæser og uden JavaScript.\n\nKommunen har ikke skrevet sin egen \
     tilgængelighedserklæring i modtags konfiguration endnu ([kommune] \
     accessibility_statement)."
        .into()
}

/// The largest logo accepted: a logo is a small drawing, not a document.
pub const MAX_LOGO_BYTES: usize = 64 * 1024;

/// What is wrong with a logo's text, if anything: it must be an SVG drawing of at most
/// [`MAX_LOGO_BYTES`], without script or event handlers (the pages forbid script anyway;
/// this says so at start-up instead of silently).
pub fn logo_problem(svg: &str) -> Option<String> {
    let lower = svg.to_ascii_lowercase();
    if svg.len() > MAX_LOGO_BYTES {
        return Some(format!("is {} bytes; at most {MAX_LOGO_BYTES}", svg.len()));
    }
    if !lower.contains("<svg") {
        return Some("is not an SVG drawing (no <svg element)".into());
    }
    let handler = lower
        .split(|c: char| c.is_whitespace())
        .any(|w| w.starts_with("on") && w.contains('='));
    if lower.contains("<script") || lower.contains("javascript:") || handler {
        return Some("holds script; a logo must be a drawing only".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::logo_problem;

    #[test]
    fn a_logo_is_a_small_drawing() {
        let ok = r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10"/></svg>"#;
        assert_eq!(logo_problem(ok), None);
        for bad in [
            "<html>not a drawing</html>",
            r#"<svg><script>alert(1)</script></svg>"#,
            r#"<svg onload="alert(1)"></svg>"#,
            r#"<svg><a href="javascript:x()">x</a></svg>"#,
        ] {
            assert!(logo_problem(bad).is_some(), "{bad}");
        }
        let big = format!("<svg>{}</svg>", " ".repeat(super::MAX_LOGO_BYTES));
        assert!(logo_problem(&big).is_some());
    }
}
