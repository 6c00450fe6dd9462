//! Who reported: a professional (by sender domain, a known institution or CVR, or what a
//! form states), a citizen, or someone anonymous. Named reporters are owed a kvittering;
//! anonymous ones get nothing back, so nothing about them is copied into the item.

use modtag_config::Directory;
use modtag_config::ReporterKind;
use modtag_storage::records::{CvrFound, Reporter};

/// Form fields such as `Navn: ...`, `Stilling: ...`, `Arbejdssted: ...`, `Anonym: ja`, as
/// (lower-case key, value), read in one pass.
fn form_fields(text: &str) -> Vec<(String, &str)> {
    // A form's fields come first; the rest of a long message is not scanned.
    let mut end = text.len().min(64 * 1024);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end]
        .lines()
        .filter_map(|line| {
            let (k, v) = line.split_once(':')?;
            let v = v.trim();
            (k.len() <= 24 && !v.is_empty() && v.len() < 200).then(|| (k.trim().to_lowercase(), v))
        })
        .collect()
}

fn form_field(fields: &[(String, &str)], keys: &[&str]) -> Option<String> {
    fields
        .iter()
        .find(|(k, _)| keys.contains(&k.as_str()))
        .map(|(_, v)| v.to_string())
}

/// The address in a `From:` value (`Name <a@b>` or `a@b`).
pub fn address_of(from: &str) -> &str {
    from.rsplit_once('<')
        .map_or(from, |(_, a)| a.trim_end_matches('>'))
        .trim()
}

/// Whether the reporter is the message's own sender: not a forwarded original's (whose
/// `From:` is only what the forwarded text says), and the address the reading found for
/// them is the message's `From:`. Only then does knowing the sender vouch for the reporter
/// (issue 26: confirming the school that forwarded a mail says nothing of who wrote it).
pub fn reporter_is_sender(item: &modtag_storage::records::Item) -> bool {
    let reporter = item.understanding.reporter.email.as_deref();
    item.understanding.original.is_none()
        && item
            .from
            .as_deref()
            .map(address_of)
            .zip(reporter)
            .is_some_and(|(from, reporter)| from.eq_ignore_ascii_case(reporter))
}

fn domain_of(from: &str) -> Option<String> {
    address_of(from)
        .rsplit_once('@')
        .map(|(_, d)| d.trim().to_ascii_lowercase())
}

fn under(domain: &str, base: &str) -> bool {
    let base = base.to_ascii_lowercase();
    domain == base || domain.ends_with(&format!(".{base}"))
}

/// Who reported, and why modtag thinks so: anonymous when the form or the text says so or
/// there is no sender; otherwise a professional by the first sign found (who the sender is,
/// then what the message says), or else a citizen with a name.
pub fn classify(
    kind: &str,
    from: Option<&str>,
    text: &str,
    folded: &str,
    cvrs: &[CvrFound],
    directory: &Directory,
    professional_domains: &[String],
) -> Reporter {
    let fields = form_fields(text);
    if let Some(reason) = anonymity(&fields, folded, from) {
        return Reporter {
            kind: ReporterKind::Anonymous,
            reason: format!("{reason}: no kvittering, nothing kept about the reporter"),
            ..Reporter::default()
        };
    }
    let from = from.unwrap_or_default();
    let email = address_of(from).to_string();
    let display = from
        .rsplit_once('<')
        .map(|(n, _)| n.trim().trim_matches('"').to_string())
        .filter(|n| !n.is_empty());
    let name = form_field(
        &fields,
        &["navn", "name", "underretters navn", "afsenders navn"],
    )
    .or(display);
    let role = form_field(&fields, &["stilling", "rolle", "funktion", "titel", "role"]);
    let stated_org = form_field(
        &fields,
        &[
            "arbejdssted",
            "institution",
            "organisation",
            "skole",
            "firma",
            "afdeling",
        ],
    );
    let domain = domain_of(from).unwrap_or_default();
    let (professional, reason, organisation) = match known_sender(
        directory,
        professional_domains,
        &email,
        &domain,
        &stated_org,
    ) {
        Some((reason, organisation)) => (true, reason, organisation),
        None => stated_sign(kind, cvrs, role.is_some(), &stated_org, folded),
    };
    Reporter {
        kind: if professional {
            ReporterKind::Professional
        } else {
            ReporterKind::Citizen
        },
        name,
        organisation,
        role,
        email: Some(email).filter(|e| !e.is_empty()),
        reason,
    }
}

/// Why the reporter is anonymous, if they are: the form says so, the text asks for it, or
/// there is no sender to answer.
fn anonymity(fields: &[(String, &str)], folded: &str, from: Option<&str>) -> Option<&'static str> {
    let anonymous_field = form_field(fields, &["anonym", "anonymous", "ønsker anonymitet"])
        .map(|v| v.to_lowercase())
        .is_some_and(|v| v.starts_with("ja") || v.starts_with("yes"));
    let anonymous_words = [
        "onsker at vaere anonym",
        "vil vaere anonym",
        "vil gerne vaere anonym",
        "anonym henvendelse",
        "anonym underretning",
        "jeg er anonym",
    ]
    .iter()
    .find(|w| folded.contains(*w));
    if anonymous_field {
        Some("the form says anonymous")
    } else if anonymous_words.is_some() {
        Some("the reporter asks to be anonymous")
    } else if from.is_none_or(str::is_empty) {
        Some("no sender")
    } else {
        None
    }
}

/// A professional known by the sender: the kommune's own staff, a directory institution's
/// domain, or a professional domain from the configuration. The reason, and the
/// organisation to show.
fn known_sender(
    directory: &Directory,
    professional_domains: &[String],
    email: &str,
    domain: &str,
    stated_org: &Option<String>,
) -> Option<(String, Option<String>)> {
    let institution = directory
        .institutions
        .values()
        .find(|i| i.domains.iter().any(|d| under(domain, d)));
    let staff = directory.person_with_email(email);
    if let Some(p) = staff {
        Some((
            format!("sent by the kommune's own {}", p.name),
            Some("kommunen".to_string()),
        ))
    } else if let Some(i) = institution {
        Some((
            format!("sender domain {domain} belongs to {}", i.name),
            Some(i.name.clone()),
        ))
    } else {
        professional_domains
            .iter()
            .find(|d| under(domain, d))
            .map(|d| {
                (
                    format!("sender domain {domain} is a professional domain ({d})"),
                    stated_org.clone().or(Some(domain.to_string())),
                )
            })
    }
}

/// What the message says of the reporter, when the sender is not known: a CVR, an LÆ 165
/// (which comes from a GP), a stated position or workplace, or words only a professional
/// writes. Whether that makes a professional, why, and the organisation to show.
fn stated_sign(
    kind: &str,
    cvrs: &[CvrFound],
    states_role: bool,
    stated_org: &Option<String>,
    folded: &str,
) -> (bool, String, Option<String>) {
    if let Some(c) = cvrs.iter().find(|c| c.institution.is_some()) {
        (
            true,
            format!(
                "CVR {} is {}",
                c.number,
                c.institution.clone().unwrap_or_default()
            ),
            c.institution.clone(),
        )
    } else if let Some(c) = cvrs.first() {
        (
            true,
            format!("the message gives CVR {}", c.number),
            stated_org.clone(),
        )
    } else if kind == "lae165" {
        (true, "an LÆ 165 comes from a GP".into(), stated_org.clone())
    } else if states_role || stated_org.is_some() {
        (
            true,
            "the reporter states a position or workplace".into(),
            stated_org.clone(),
        )
    } else if [
        "skaerpet underretningspligt",
        "som fagperson",
        "praktiserende laege",
    ]
    .iter()
    .any(|w| folded.contains(w))
    {
        (
            true,
            "the text says it comes from a professional".into(),
            stated_org.clone(),
        )
    } else {
        (
            false,
            "no professional sign: a citizen with a name".into(),
            stated_org.clone(),
        )
    }
}
