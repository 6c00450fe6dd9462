//! The decision form (`/koe/{reference}/vurdering`): existing or new case, trin 0-4 in the
//! barometer's own words, akut, consent (by whom, how, to what), area and institution, the
//! written screening; then a route preview that names each recipient, the rule and the
//! reason, and what the consent gate holds back, computed exactly as the decision would be
//! and thrown away; then a confirm that decides. Only the intake's own desk may; every post
//! carries the session's CSRF token.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::session::{Posted, SignedIn};
use super::signin::{page, refused};
use crate::access;
use crate::api::auth::Caller;
use crate::api::state::{load_item, ApiState};
use crate::app::blocking;
use crate::workflow::decide::{self, DecideError, DecisionInput};
use modtag_config::vocab::{SCREENING_OUTCOMES, TRIN};

/// The form as posted; every field text, checked when it becomes a [`DecisionInput`].
#[derive(Deserialize, Default, Clone)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    /// `ny` or `eksisterende`.
    #[serde(default)]
    sag: String,
    #[serde(default)]
    sagsnummer: String,
    #[serde(default)]
    trin: String,
    #[serde(default)]
    akut: Option<String>,
    #[serde(default)]
    uden_for_aabningstid: Option<String>,
    #[serde(default)]
    samtykke: Option<String>,
    #[serde(default)]
    samtykke_fra: String,
    #[serde(default)]
    samtykke_hvordan: String,
    #[serde(default)]
    samtykke_omfang: String,
    #[serde(default)]
    omraade: String,
    #[serde(default)]
    institution: String,
    #[serde(default)]
    screening: String,
    /// The screening's outcome (one of `SCREENING_OUTCOMES`).
    #[serde(default)]
    udfald: String,
    /// Send the original to the institution's side too.
    #[serde(default)]
    vedhaeft_original: Option<String>,
    /// When consent was given (`YYYY-MM-DD`).
    #[serde(default)]
    samtykke_dato: String,
    /// Why an intake already assessed is assessed again (required then).
    #[serde(default)]
    begrundelse: String,
    /// `preview`, `confirm` or `edit`.
    #[serde(default)]
    step: String,
}

fn some(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

impl DecisionForm {
    /// The decision's input, or what to fix, in Danish, field by field. `revising`: the
    /// intake has a decision, which this one replaces.
    fn input(&self, revising: bool) -> Result<DecisionInput, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        if revising && some(&self.begrundelse).is_none() {
            errors.push((
                "begrundelse",
                "Skriv, hvorfor henvendelsen vurderes igen.".to_string(),
            ));
        }
        let trin = match self.trin.parse::<u8>() {
            Ok(t) if t <= 4 => Some(t),
            _ => {
                errors.push(("trin-0", "Vælg et trin på trivselsbarometeret.".to_string()));
                None
            }
        };
        let existing = self.sag == "eksisterende";
        if existing && some(&self.sagsnummer).is_none() {
            errors.push((
                "sagsnummer",
                "Skriv sagsnummeret på den eksisterende sag.".into(),
            ));
        }
        let consent = self.samtykke.is_some();
        if consent && (some(&self.samtykke_fra).is_none() || some(&self.samtykke_hvordan).is_none())
        {
            errors.push((
                "samtykke_fra",
                "Skriv, hvem der gav samtykke, og hvordan.".into(),
            ));
        }
        let consent_at = match some(&self.samtykke_dato).filter(|_| consent) {
            None => None,
            Some(d) => match d
                .parse::<jiff::civil::Date>()
                .ok()
                .and_then(|d| d.in_tz("Europe/Copenhagen").ok())
            {
                Some(z) => Some(z.timestamp()),
                None => {
                    errors.push((
                        "samtykke_dato",
                        "Skriv datoen for samtykket som åååå-mm-dd.".into(),
                    ));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(DecisionInput {
            actor: String::new(),
            existing_case: existing,
            case_number: some(&self.sagsnummer).filter(|_| existing),
            trin,
            consent,
            area: some(&self.omraade),
            institution: some(&self.institution),
            akut: self.akut.is_some(),
            out_of_hours: self.uden_for_aabningstid.is_some(),
            udskoling: false,
            note: self.screening.trim().to_string(),
            consent_by: some(&self.samtykke_fra).filter(|_| consent),
            consent_how: some(&self.samtykke_hvordan).filter(|_| consent),
            consent_at,
            consent_scope: some(&self.samtykke_omfang).filter(|_| consent),
            revise: some(&self.begrundelse).filter(|_| revising),
            screening_outcome: some(&self.udfald)
                .filter(|o| SCREENING_OUTCOMES.iter().any(|(id, _)| id == o)),
            attach_original: self.vedhaeft_original.is_some(),
            names_added: Vec::new(),
        })
    }
}

#[derive(Template)]
#[template(path = "decide.html")]
struct FormPage<'a> {
    reference: &'a str,
    /// It has a decision already: this one replaces it, with a reason.
    revising: bool,
    csrf: &'a str,
    f: &'a DecisionForm,
    errors: Vec<(&'static str, String)>,
    trin: &'a [(u8, &'static str, &'static str)],
    outcomes: &'a [(&'static str, &'static str)],
    areas: &'a [&'static str],
    institutions: Vec<(String, String)>,
}

struct Line {
    who: String,
    rule: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "preview.html")]
struct PreviewPage<'a> {
    reference: &'a str,
    revising: bool,
    csrf: &'a str,
    f: &'a DecisionForm,
    recipients: Vec<Line>,
    withheld: Vec<Line>,
    refused: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn form_page(
    state: &ApiState,
    status: StatusCode,
    reference: &str,
    revising: bool,
    csrf: &str,
    f: &DecisionForm,
    errors: Vec<(&'static str, String)>,
) -> Response {
    let cfg = state.app.policy.cfg();
    let institutions = cfg
        .directory
        .institutions
        .values()
        .map(|i| (i.id.clone(), i.name.clone()))
        .collect();
    page(
        status,
        FormPage {
            reference,
            revising,
            csrf,
            f,
            errors,
            trin: &TRIN,
            outcomes: &SCREENING_OUTCOMES,
            areas: modtag_config::roles::AREAS,
            institutions,
        }
        .render(),
    )
}

/// Whether `reference` has a decision already (a new one replaces it, with a reason), if
/// the caller may decide it (its desk, not closed); else the page that says why.
async fn decider(
    state: &Arc<ApiState>,
    caller: &Caller,
    reference: &str,
) -> Result<bool, Response> {
    match load_item(state, reference).await {
        Ok(item) if access::view::works(&caller.person, &item) => {
            if item.state == modtag_storage::records::ItemState::Closed {
                return Err(refused(
                    StatusCode::CONFLICT,
                    "Henvendelsen er lukket",
                    "En lukket henvendelse vurderes ikke igen.",
                ));
            }
            Ok(item.decision.is_some())
        }
        Ok(_) | Err(crate::api::error::ApiError::Refused(StatusCode::NOT_FOUND, _)) => {
            Err(not_found())
        }
        Err(e) => Err(e.into_response()),
    }
}

fn not_found() -> Response {
    refused(
        StatusCode::NOT_FOUND,
        "Ikke fundet",
        "Der er ingen henvendelse med den reference, som du kan vurdere.",
    )
}

pub async fn form(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    SignedIn(caller): SignedIn,
) -> Response {
    let revising = match decider(&state, &caller, &reference).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let csrf = caller.session.as_ref().map_or("", |s| s.csrf.as_str());
    // The case the auto-link found (or an earlier decision named) is the form's answer
    // until the person says otherwise (issue 29).
    let known = match load_item(&state, &reference).await {
        Ok(item) => item.case_number,
        Err(e) => return super::signin::api_refusal(e),
    };
    let f = DecisionForm {
        sag: if known.is_some() {
            "eksisterende"
        } else {
            "ny"
        }
        .into(),
        sagsnummer: known.unwrap_or_default(),
        ..DecisionForm::default()
    };
    form_page(
        &state,
        StatusCode::OK,
        &reference,
        revising,
        csrf,
        &f,
        Vec::new(),
    )
}

pub async fn submit(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    Posted(caller, f): Posted<DecisionForm>,
) -> Response {
    let revising = match decider(&state, &caller, &reference).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let csrf = caller
        .session
        .as_ref()
        .map_or("", |s| s.csrf.as_str())
        .to_string();
    let mut input = match f.input(revising) {
        Ok(i) => i,
        Err(errors) => {
            return form_page(
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                &reference,
                revising,
                &csrf,
                &f,
                errors,
            )
        }
    };
    if f.step == "edit" {
        return form_page(
            &state,
            StatusCode::OK,
            &reference,
            revising,
            &csrf,
            &f,
            Vec::new(),
        );
    }
    input.actor = caller.actor.clone();
    let store = state.app.store.clone();
    let cfg = state.app.policy.cfg();
    let now = state.now();
    let r = reference.clone();
    if f.step != "confirm" {
        let previewed = blocking(move || decide::preview(&store, &cfg, &r, &input, now)).await;
        return match previewed {
            Ok(d) => {
                let dir = &state.app.policy.cfg().directory;
                let name = |id: &str| dir.person(id).map_or(id.to_string(), |p| p.name.clone());
                page(
                    StatusCode::OK,
                    PreviewPage {
                        reference: &reference,
                        revising,
                        csrf: &csrf,
                        f: &f,
                        recipients: d
                            .recipients
                            .iter()
                            .map(|r| Line {
                                who: format!("{} ({}, {})", name(&r.person), r.role, r.email),
                                rule: r.rule.clone(),
                                reason: r.reason.clone(),
                            })
                            .collect(),
                        withheld: d
                            .withheld
                            .iter()
                            .map(|w| Line {
                                who: w.role.clone(),
                                rule: w.rule.clone(),
                                reason: w.why.to_string(),
                            })
                            .collect(),
                        refused: d.refused,
                    }
                    .render(),
                )
            }
            Err(e) => decide_error(&state, &reference, revising, &csrf, &f, e),
        };
    }
    let works = decide::worked_by(caller.person.clone());
    let decided = (state.app)
        .change(move |store| decide::decide(store, &cfg, &r, &input, works, now))
        .await;
    match decided {
        Ok(_) => {
            // After a post, a get: a reload does not decide twice.
            Redirect::to(&format!("/koe/{reference}")).into_response()
        }
        Err(e) => decide_error(&state, &reference, revising, &csrf, &f, e),
    }
}

/// A refused decision as the form again, with what to fix at the top.
fn decide_error(
    state: &ApiState,
    reference: &str,
    revising: bool,
    csrf: &str,
    f: &DecisionForm,
    e: DecideError,
) -> Response {
    // The desk's words for what a person can meet here; the rest as the rules say it.
    let said = match &e {
        DecideError::UnknownCase(n) => {
            format!("Sagen {n} findes ikke i sagsregistret. Tjek nummeret, eller vælg en ny sag.")
        }
        DecideError::AlreadyDecided(r) => format!(
            "{r} er allerede vurderet. Vil du vurdere den igen, så skriv hvorfor under \
             \"Ny vurdering\" på henvendelsen."
        ),
        DecideError::NotYourDesk(r) => crate::workflow::change::another_desk(r).da,
        e => e.to_string(),
    };
    match e {
        DecideError::Store(e) => super::signin::storage_trouble(e),
        DecideError::NotFound(_) => not_found(),
        _ => form_page(
            state,
            StatusCode::UNPROCESSABLE_ENTITY,
            reference,
            revising,
            csrf,
            f,
            vec![("sagsnummer", said)],
        ),
    }
}

super::session::csrf_field!(DecisionForm);
