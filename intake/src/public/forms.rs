//! Send sikkert (a private institution's TRIVSEL+, in the virk.dk theme); the underretning
//! form is `underretning.rs`. Each form checks its fields in Danish, with an error summary
//! that links to each, and hands a submission to [`door::submit`](super::door::submit).
//! Both carry the kommune's privacy notice (`[public.privacy]`,
//! `templates/public/privacy.html`) before the button that sends.

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
pub(super) fn types(cfg: &Loaded) -> String {
    super::types::in_words(&cfg.config.classify.attachment_types)
}

/// The privacy notice both forms carry (GDPR art. 13).
pub(super) fn privacy(cfg: &Loaded) -> Option<&Privacy> {
    cfg.config.public.as_ref()?.privacy.as_ref()
}

fn send_sikkert_page(
    state: &PublicState,
    headers: &HeaderMap,
    status: StatusCode,
    s: &Submission,
    errors: Problems,
    person: Option<&Professional>,
) -> Response {
    let cfg = state.app.policy.cfg();
    let (csrf, cookie) = pair(&cfg, headers);
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
        &headers,
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
            &parts.headers,
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
    let signed_in = person.map(|p| p.signed_in(now));
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
