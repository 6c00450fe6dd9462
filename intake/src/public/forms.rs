//! The two forms: Send sikkert (a private institution's TRIVSEL+, in the virk.dk theme)
//! and the underretning (the kommune's template, in the borger.dk theme). Each checks its
//! fields in Danish, with an error summary that links to each, and hands a submission to
//! [`door::submit`](super::door::submit). Both carry the kommune's privacy notice
//! (`[public.privacy]`, `templates/public/privacy.html`) before the button that sends.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use modtag_config::mitid::Use;
use modtag_config::public::Privacy;
use modtag_config::ReporterKind;
use modtag_config::{Channel, Loaded};
use modtag_router::cpr::Cpr;
use modtag_storage::records::{CvrFound, Reporter, SignedIn};

use crate::identity::saml::Professional;
use axum::http::HeaderMap;

use super::compose::{self, From};
use super::door::{check_uploads, page, pair, receive, submit, with_cookie, Problems, PublicState};
use super::upload::Submission;

#[derive(Template)]
#[template(path = "public/sendsikkert.html")]
struct SendSikkertPage<'a> {
    csrf: &'a str,
    errors: Problems,
    s: &'a Submission,
    /// The leaders a Trivsel+ may name: (directory id, "name, role").
    leaders: Vec<(String, String)>,
    types: String,
    /// `[public.privacy]`, always there once the configuration has loaded.
    privacy: Option<&'a Privacy>,
    theme: &'a str,
    /// Signed in with MitID Erhverv: the institution and person are these, not typed.
    person: Option<&'a Professional>,
    mitid_required: bool,
    mitid_offered: bool,
}

fn leaders(cfg: &Loaded) -> Vec<(String, String)> {
    let facts = modtag_router::Facts {
        kind: modtag_config::RouteKind::Trivselplus,
        ..Default::default()
    };
    let allowed = modtag_router::route::allowed_leader_roles(&facts, &cfg.tree);
    cfg.directory
        .people
        .values()
        .filter_map(|p| {
            let role = p.roles.iter().find(|r| allowed.contains(r))?;
            Some((
                p.id.clone(),
                format!("{}, {}", p.name, role.replace('_', " ")),
            ))
        })
        .collect()
}

/// The attachment types a person is told they may send, in words.
fn types(cfg: &Loaded) -> String {
    super::types::in_words(&cfg.config.classify.attachment_types)
}

/// The privacy notice both forms carry (GDPR art. 13).
fn privacy(cfg: &Loaded) -> Option<&Privacy> {
    cfg.config.public.as_ref()?.privacy.as_ref()
}

fn send_sikkert_page(
    state: &PublicState,
    status: StatusCode,
    s: &Submission,
    errors: Problems,
    person: Option<&Professional>,
) -> Response {
    let cfg = state.app.policy.cfg();
    let (csrf, cookie) = pair(&cfg);
    let mitid = state.saml.as_ref().map(|m| m.settings.send_sikkert);
    let html = SendSikkertPage {
        csrf: &csrf,
        errors,
        s,
        leaders: leaders(&cfg),
        types: types(&cfg),
        privacy: privacy(&cfg),
        theme: "virkdk",
        person,
        mitid_required: mitid == Some(Use::Required),
        mitid_offered: mitid == Some(Use::Offered),
    }
    .render();
    with_cookie(page(status, html), cookie)
}

pub(super) async fn send_sikkert_form(
    State(state): State<Arc<PublicState>>,
    headers: HeaderMap,
) -> Response {
    let person = super::mitid::signed_in(&state, &headers);
    send_sikkert_page(
        &state,
        StatusCode::OK,
        &Submission::default(),
        Vec::new(),
        person.as_ref(),
    )
}

pub(super) async fn send_sikkert(
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
    if person.is_none() && super::mitid::required_for(&state, super::mitid::Target::SendSikkert) {
        return super::mitid::sign_in_first();
    }
    let mut errors = Problems::new();
    // Signed in, the institution and person are MitID Erhverv's; what the fields say of
    // them is not read.
    let (cvr, name) = match &person {
        Some(p) => (p.cvr.clone(), p.name.clone()),
        None => (
            s.field("cvr")
                .chars()
                .filter(char::is_ascii_digit)
                .collect(),
            s.field("name").to_string(),
        ),
    };
    if cvr.len() != 8 || !modtag_router::cvr::valid(&cvr) {
        errors.push(("cvr", "Skriv institutionens CVR-nummer: 8 cifre.".into()));
    }
    if name.is_empty() {
        errors.push(("name", "Skriv dit navn.".into()));
    }
    let email = person
        .as_ref()
        .and_then(|p| p.email.clone())
        .or_else(|| compose::address(s.field("email")));
    if email.is_none() {
        errors.push((
            "email",
            "Skriv din e-mailadresse, så vi kan svare dig.".into(),
        ));
    }
    let people = leaders(&cfg);
    let picked: Vec<&str> = s
        .values("leder")
        .into_iter()
        .filter_map(|id| people.iter().find(|(p, _)| p == id))
        .filter_map(|(id, _)| cfg.directory.person(id).map(|p| p.name.as_str()))
        .collect();
    if picked.is_empty() && s.field("subject").is_empty() {
        errors.push((
            "leder-0",
            "Vælg de ledere, henvendelsen er til, eller skriv navnene.".into(),
        ));
    }
    if s.field("text").is_empty() && s.uploads.is_empty() {
        errors.push(("text", "Skriv en besked, eller vedhæft et dokument.".into()));
    }
    errors.extend(check_uploads(&cfg, &s));
    if !errors.is_empty() {
        return send_sikkert_page(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            &s,
            errors,
            person.as_ref(),
        );
    }
    let names = picked
        .into_iter()
        .chain(Some(s.field("subject")).filter(|t| !t.is_empty()))
        .collect::<Vec<_>>()
        .join(", ");
    let subject = format!("Trivsel+ {names}");
    let text = format!("CVR: {cvr}\n\n{}", s.field("text"));
    let email = email.unwrap_or_default();
    let now = state.app.clock.now();
    let (signed_in, stated) = stated(&cfg, cvr, person, now);
    let from = From {
        name: &name,
        email: &email,
    };
    submit(
        &state,
        Channel::Trivselplus,
        from,
        &subject,
        &text,
        &s,
        signed_in,
        stated,
    )
    .await
}

/// What a Send sikkert's reading is told: an unknown CVR is flagged for Journalen; signed
/// in with MitID Erhverv, the institution and reporter are NemLog-in's (a CVR typed in the
/// message's text is not another sender), and the item keeps who signed in.
fn stated(
    cfg: &Loaded,
    cvr: String,
    person: Option<Professional>,
    now: jiff::Timestamp,
) -> (
    Option<SignedIn>,
    impl FnOnce(&mut crate::understand::Reading) + Send + 'static,
) {
    let institution = cfg
        .directory
        .institutions
        .values()
        .find(|i| i.cvr.as_deref() == Some(cvr.as_str()))
        .map(|i| i.name.clone());
    let signed_in = person.map(|p| SignedIn {
        name: p.name,
        cvr: p.cvr,
        organisation: p.organisation,
        email: p.email,
        level: p.level,
        at: now,
    });
    let proven = signed_in.clone();
    let stated = move |r: &mut crate::understand::Reading| {
        if institution.is_none() {
            r.understanding.notes.push(format!(
                "CVR {cvr} er ikke en af kommunens private institutioner i kataloget: \
                 Journalen tjekker afsenderen"
            ));
        }
        if let Some(p) = proven {
            r.understanding.cvrs = vec![CvrFound {
                number: p.cvr.clone(),
                valid: true,
                institution,
            }];
            r.understanding.reporter = Reporter {
                kind: ReporterKind::Professional,
                name: Some(p.name),
                organisation: Some(p.organisation),
                role: None,
                email: p.email,
                reason: "logget ind med MitID Erhverv".into(),
            };
        }
    };
    (signed_in, stated)
}

#[derive(Template)]
#[template(path = "public/underretning.html")]
struct UnderretningPage<'a> {
    csrf: &'a str,
    errors: Problems,
    s: &'a Submission,
    types: String,
    privacy: Option<&'a Privacy>,
    theme: &'a str,
}

fn underretning_page(
    state: &PublicState,
    status: StatusCode,
    s: &Submission,
    errors: Problems,
) -> Response {
    let cfg = state.app.policy.cfg();
    let (csrf, cookie) = pair(&cfg);
    let html = UnderretningPage {
        csrf: &csrf,
        errors,
        s,
        types: types(&cfg),
        privacy: privacy(&cfg),
        theme: "borgerdk",
    }
    .render();
    with_cookie(page(status, html), cookie)
}

pub(super) async fn underretning_form(State(state): State<Arc<PublicState>>) -> Response {
    underretning_page(&state, StatusCode::OK, &Submission::default(), Vec::new())
}

/// What the underretning form's fields say, once they are all right.
struct Checked {
    cpr: Option<Cpr>,
    professional: bool,
    anonymous: bool,
    email: Option<String>,
}

/// The underretning form's fields checked, each problem with the field it belongs to.
fn check_underretning(s: &Submission) -> (Option<Checked>, Problems) {
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
    if professional == Some(true) && s.ticked("anonymous") {
        errors.push((
            "anonymous",
            "Fagpersoner kan ikke underrette anonymt. Fjern fluebenet, og skriv dit navn.".into(),
        ));
    }
    if !anonymous && s.field("navn").is_empty() {
        errors.push((
            "navn",
            "Skriv dit navn (eller underret anonymt som borger).".into(),
        ));
    }
    if professional == Some(true) && s.field("arbejdsplads").is_empty() {
        errors.push(("arbejdsplads", "Skriv din arbejdsplads.".into()));
    }
    let email = match s.field("email") {
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
                s.field("navn"),
                s.field("arbejdsplads"),
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
    let (checked, mut errors) = check_underretning(&s);
    errors.extend(check_uploads(&cfg, &s));
    let Some(Checked {
        cpr,
        professional,
        anonymous,
        email,
    }) = checked.filter(|_| errors.is_empty())
    else {
        return underretning_page(&state, StatusCode::UNPROCESSABLE_ENTITY, &s, errors);
    };
    let professional = Some(professional);
    let text = underretning_text(
        &s,
        (professional, anonymous),
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
        name: Some(s.field("navn").to_string()).filter(|n| !anonymous && !n.is_empty()),
        organisation: Some(s.field("arbejdsplads").to_string()).filter(|o| !o.is_empty()),
        role: None,
        email: email.clone().filter(|_| !anonymous),
        reason: "oplyst i underretningsformularen".into(),
    };
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
            name: s.field("navn"),
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
        None,
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
