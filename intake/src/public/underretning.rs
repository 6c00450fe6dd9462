//! The underretning form (the kommune's template, in the borger.dk theme): a professional
//! or a citizen reports a concern about a child. A professional may sign in with MitID
//! Erhverv first when `[public.mitid_erhverv] underretning = "offered"` (issue 30): then
//! their name, workplace and address are NemLog-in's, not typed.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use modtag_config::public::Privacy;
use modtag_config::{Channel, ReporterKind};
use modtag_router::cpr::Cpr;
use modtag_storage::records::Reporter;

use crate::identity::saml::Professional;

use super::compose::{self, From};
use super::door::{check_uploads, page, pair, receive, submit, with_cookie, Problems, PublicState};
use super::forms::{privacy, types};
use super::upload::Submission;

#[derive(Template)]
#[template(path = "public/underretning.html")]
struct UnderretningPage<'a> {
    csrf: &'a str,
    errors: Problems,
    s: &'a Submission,
    types: String,
    privacy: Option<&'a Privacy>,
    theme: &'a str,
    /// A professional signed in with MitID Erhverv: name, workplace and address are these.
    person: Option<&'a Professional>,
    mitid_offered: bool,
    /// The e-mail field: unless MitID Erhverv gave the address.
    ask_email: bool,
}

fn underretning_page(
    state: &PublicState,
    headers: &HeaderMap,
    status: StatusCode,
    s: &Submission,
    errors: Problems,
    person: Option<&Professional>,
) -> Response {
    let cfg = state.app.policy.cfg();
    let (csrf, cookie) = pair(&cfg, headers);
    let html = UnderretningPage {
        csrf: &csrf,
        errors,
        s,
        types: types(&cfg),
        privacy: privacy(&cfg),
        theme: "borgerdk",
        person,
        mitid_offered: super::mitid::offered_on_underretning(state),
        ask_email: person.is_none_or(|p| p.email.is_none()),
    }
    .render();
    with_cookie(page(status, html), cookie)
}

pub(super) async fn underretning_form(
    State(state): State<Arc<PublicState>>,
    headers: HeaderMap,
) -> Response {
    let person = super::mitid::signed_in(&state, &headers);
    underretning_page(
        &state,
        &headers,
        StatusCode::OK,
        &Submission::default(),
        Vec::new(),
        person.as_ref(),
    )
}

/// What the underretning form's fields say, once they are all right.
struct Checked {
    cpr: Option<Cpr>,
    professional: bool,
    anonymous: bool,
    email: Option<String>,
}

/// The underretning form's fields checked, each problem with the field it belongs to.
fn check_underretning(
    s: &Submission,
    person: Option<&Professional>,
) -> (Option<Checked>, Problems) {
    let mut errors = Problems::new();
    if s.field("barn_navn").is_empty() {
        errors.push(("barn_navn", "Skriv barnets navn.".into()));
    }
    let cpr = match s.field("barn_cpr") {
        "" => None,
        typed => {
            let c = Cpr::parse(typed);
            if c.is_none() {
                errors.push((
                    "barn_cpr",
                    "CPR-nummeret skal skrives som ddmmåå-xxxx. Kender du det ikke, så lad feltet stå tomt."
                        .into(),
                ));
            }
            c
        }
    };
    if s.field("bekymring").is_empty() {
        errors.push(("bekymring", "Skriv, hvad der bekymrer dig.".into()));
    }
    let professional = match s.field("indberetter") {
        // Signed in with MitID Erhverv: a professional, whatever the radio says.
        _ if person.is_some() => Some(true),
        "fagperson" => Some(true),
        "borger" => Some(false),
        _ => {
            errors.push((
                "indberetter-fagperson",
                "Vælg, om du underretter som fagperson eller som borger.".into(),
            ));
            None
        }
    };
    let anonymous = professional == Some(false) && s.ticked("anonymous");
    if professional == Some(true) && s.ticked("anonymous") && person.is_none() {
        errors.push((
            "anonymous",
            "Fagpersoner kan ikke underrette anonymt. Fjern fluebenet, og skriv dit navn.".into(),
        ));
    }
    if !anonymous && person.is_none() && s.field("navn").is_empty() {
        errors.push((
            "navn",
            "Skriv dit navn (eller underret anonymt som borger).".into(),
        ));
    }
    if professional == Some(true) && person.is_none() && s.field("arbejdsplads").is_empty() {
        errors.push(("arbejdsplads", "Skriv din arbejdsplads.".into()));
    }
    let email = match s.field("email") {
        _ if person.is_some_and(|p| p.email.is_some()) => person.and_then(|p| p.email.clone()),
        "" => None,
        typed => {
            let e = compose::address(typed);
            if e.is_none() {
                errors.push((
                    "email",
                    "Skriv en gyldig e-mailadresse, eller lad feltet stå tomt.".into(),
                ));
            }
            e
        }
    };
    // The message names no value: the page shows it again in its field, and a refusal's
    // words must never carry what a person typed anywhere else.
    if !phone_number(s.field("telefon")) {
        errors.push((
            "telefon",
            "Skriv telefonnummeret med cifre, fx 75 12 34 56 eller +45 75 12 34 56, eller lad \
             feltet stå tomt."
                .into(),
        ));
    }
    let checked = professional.map(|professional| Checked {
        cpr,
        professional,
        anonymous,
        email,
    });
    (checked, errors)
}

/// Whether a phone number is one as people write it, or left out: digits with spaces or
/// hyphens between them, a `+` only first, 8 to 15 digits (a Danish number has 8, an
/// international one at most 15), at most 20 characters. Loose on purpose: Modtagelsen
/// rings it, nothing dials it.
fn phone_number(typed: &str) -> bool {
    let digits = typed.chars().filter(char::is_ascii_digit).count();
    let rest = typed.strip_prefix('+').unwrap_or(typed);
    typed.is_empty()
        || (typed.chars().count() <= 20
            && (8..=15).contains(&digits)
            && rest
                .chars()
                .all(|c| c.is_ascii_digit() || c == ' ' || c == '-'))
}

/// The intake's text, from the form's fields (what Modtagelsen reads).
fn underretning_text(
    s: &Submission,
    (professional, anonymous): (Option<bool>, bool),
    (name, workplace): (&str, &str),
    cpr: Option<&Cpr>,
    email: Option<&str>,
) -> String {
    let parents_know = match s.field("foraeldre_ved") {
        "ja" => "ja",
        "nej" => "nej",
        _ => "ved ikke",
    };
    let who = match (professional, anonymous) {
        (Some(true), _) => "fagperson",
        (_, true) => "borger, anonym",
        _ => "borger",
    };
    let text = format!(
        "Underretning fra modtags formular\n\n\
         Barnets navn: {}\n\
         Barnets CPR-nummer: {}\n\
         Barnets adresse: {}\n\
         Skole eller dagtilbud: {}\n\
         Forældre: {}\n\n\
         Hvad bekymrer dig?\n{}\n\n\
         Hvad er der gjort?\n{}\n\n\
         Ved forældrene, at du underretter? {parents_know}\n\n\
         Indberetter: {who}\n{}",
        s.field("barn_navn"),
        cpr.map_or("ikke oplyst".into(), |c| c.formatted()),
        or_not_given(s.field("barn_adresse")),
        or_not_given(s.field("barn_institution")),
        s.field("foraeldre"),
        s.field("bekymring"),
        s.field("gjort"),
        if anonymous {
            String::new()
        } else {
            format!(
                "Navn: {}\nArbejdsplads: {}\nE-mail: {}\nTelefon: {}\n",
                name,
                workplace,
                email.unwrap_or("ikke oplyst"),
                or_not_given(s.field("telefon")),
            )
        },
    );
    text
}

/// A field left empty, as the intake's text says it.
fn or_not_given(field: &str) -> &str {
    if field.is_empty() {
        "ikke oplyst"
    } else {
        field
    }
}

pub(super) async fn underretning(
    State(state): State<Arc<PublicState>>,
    parts: Parts,
    body: Multipart,
) -> Response {
    // The submission's place in the memory budget is held until it is stored.
    let (s, _held) = match receive(&state, &parts, body).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let cfg = state.app.policy.cfg();
    let person = super::mitid::signed_in(&state, &parts.headers);
    let (checked, mut errors) = check_underretning(&s, person.as_ref());
    errors.extend(check_uploads(&cfg, &s));
    let Some(Checked {
        cpr,
        professional,
        anonymous,
        email,
    }) = checked.filter(|_| errors.is_empty())
    else {
        return underretning_page(
            &state,
            &parts.headers,
            StatusCode::UNPROCESSABLE_ENTITY,
            &s,
            errors,
            person.as_ref(),
        );
    };
    let professional = Some(professional);
    // Signed in, who reports is NemLog-in's word; otherwise what the fields say.
    let (name, workplace) = match &person {
        Some(p) => (p.name.clone(), p.organisation.clone()),
        None => (
            s.field("navn").to_string(),
            s.field("arbejdsplads").to_string(),
        ),
    };
    let text = underretning_text(
        &s,
        (professional, anonymous),
        (&name, &workplace),
        cpr.as_ref(),
        email.as_deref(),
    );
    // The template's fields are the reading: who reports, about which child; nothing is
    // guessed from the text.
    let reporter = Reporter {
        kind: match (professional, anonymous) {
            (Some(true), _) => ReporterKind::Professional,
            (_, true) => ReporterKind::Anonymous,
            _ => ReporterKind::Citizen,
        },
        name: Some(name.clone()).filter(|n| !anonymous && !n.is_empty()),
        organisation: Some(workplace).filter(|o| !o.is_empty()),
        role: None,
        email: email.clone().filter(|_| !anonymous),
        reason: match person {
            Some(_) => "logget ind med MitID Erhverv".into(),
            None => "oplyst i underretningsformularen".into(),
        },
    };
    let signed_in = person.map(|p| p.signed_in(state.app.clock.now()));
    let form_cpr = cpr.clone();
    let stated = move |r: &mut crate::understand::Reading| {
        r.understanding.reporter = reporter;
        r.cprs = form_cpr.into_iter().collect();
        r.understanding.kind_reason = "indsendt med underretningsformularen".into();
        // A CPR the reading found in the text but not in the CPR field stays a note.
        r.understanding.notes.retain(|n| !n.starts_with("CPR "));
    };
    let no_reply = format!("formular@{}", cfg.config.smtp.hostname);
    let from = match (&email, anonymous) {
        (Some(e), false) => From {
            name: &name,
            email: e,
        },
        _ => From {
            name: "Underretningsformularen",
            email: &no_reply,
        },
    };
    let subject = "Underretning fra formularen";
    submit(
        &state,
        Channel::Underretning,
        from,
        subject,
        &text,
        &s,
        signed_in,
        stated,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::phone_number;

    #[test]
    fn phone_numbers_are_read_loosely() {
        for ok in [
            "",
            "75121234",
            "75 12 12 34",
            "+45 75 12 12 34",
            "+4575121234",
            "0045-75-12-12-34",
            "+49 30 1234 5678",
        ] {
            assert!(phone_number(ok), "{ok:?} is a phone number");
        }
        for bad in [
            "7512",
            "ring efter kl. 16",
            "75 12 12 34 eller 20 30 40 50",
            "++45 75121234",
            "75+121234",
            "(75) 12 12 34",
            "1234567890123456",
        ] {
            assert!(!phone_number(bad), "{bad:?} is not");
        }
    }
}
