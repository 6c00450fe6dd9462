//! The overgang in the desk (issue 29, flow 4): a case moving from Familieafdelingen back to
//! a trin-2 TRIVSEL+ forløb. The rådgiver (or Modtagelsen) records both consents and the
//! day the measures ended and books the first meeting; the beslutningstræ then routes it
//! as any trin-2 forløb and the hand-over and the invitation go out. The same step as
//! `modtag cases overgang` (`api::cases::move_to_trin_2`); a refusal lists every reason
//! and keeps what was typed.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::civil::{Date, DateTime, Time};
use serde::Deserialize;

use super::session::{csrf_field, Posted, SignedIn};
use super::signin::{page, storage_trouble, MessagePage};
use crate::access::Action;
use crate::api::auth::Caller;
use crate::api::cases::move_to_trin_2;
use crate::api::error::ApiError;
use crate::api::state::ApiState;
use crate::workflow::overgang::{ConsentInput, OvergangInput};

#[derive(Deserialize, Default)]
pub struct Form {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    sag: String,
    #[serde(default)]
    samtykke_hvem: String,
    #[serde(default)]
    samtykke_hvordan: String,
    #[serde(default)]
    deling_hvem: String,
    #[serde(default)]
    deling_hvordan: String,
    #[serde(default)]
    ophoert: String,
    #[serde(default)]
    moede_dag: String,
    #[serde(default)]
    moede_tid: String,
    #[serde(default)]
    sted: String,
    #[serde(default)]
    bemaerkning: String,
}

csrf_field!(Form);

#[derive(Template)]
#[template(path = "overgang.html")]
struct OvergangPage<'a> {
    csrf: &'a str,
    f: &'a Form,
    errors: Vec<String>,
    place: &'a str,
    first_meeting_days: i64,
    notice_days: i64,
}

#[derive(Template)]
#[template(path = "overgang_sendt.html")]
struct Sent {
    case_number: String,
    first_meeting: String,
    recipients: Vec<String>,
    /// When it was sent, if before this post (nothing was sent now).
    already: Option<String>,
}

/// Who may move a case: Modtagelsen, and a rådgiver (for their own cases, checked when the
/// case is named).
fn may_move(caller: &Caller) -> bool {
    crate::access::may(&caller.person, Action::Overgang) || caller.person.has("raadgiver")
}

fn form_page(state: &ApiState, caller: &Caller, f: &Form, errors: Vec<String>) -> Response {
    let cfg = state.app.policy.cfg();
    let rules = &cfg.config.trivsel;
    let status = match errors.is_empty() {
        true => StatusCode::OK,
        false => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let overgang = OvergangPage {
        csrf: caller.session.as_ref().map_or("", |s| s.csrf.as_str()),
        f,
        errors,
        place: &rules.place,
        first_meeting_days: rules.first_meeting_days,
        notice_days: rules.notice_days,
    };
    page(status, overgang.render())
}

fn forbidden() -> Response {
    let text = "En overgang til trin 2 gives af sagens rådgiver eller af Modtagelsen.";
    page(
        StatusCode::FORBIDDEN,
        MessagePage {
            title: "Overgang til trin 2",
            text,
        }
        .render(),
    )
}

#[derive(Deserialize)]
pub struct Asked {
    #[serde(default)]
    sag: String,
}

/// `GET /overgang?sag=SAG-100`: the form, the case number filled in when given.
pub async fn form(
    State(state): State<Arc<ApiState>>,
    Query(q): Query<Asked>,
    SignedIn(caller): SignedIn,
) -> Response {
    if !may_move(&caller) {
        return forbidden();
    }
    let f = Form {
        sag: q.sag,
        ..Form::default()
    };
    form_page(&state, &caller, &f, Vec::new())
}

/// The form as the workflow's input, or what cannot be read in it.
fn input(f: &Form) -> Result<OvergangInput, Vec<String>> {
    let mut errors = Vec::new();
    let mut day = |text: &str, what: &str| -> Option<Date> {
        match text.trim() {
            "" => None,
            t => t
                .parse()
                .map_err(|_| errors.push(format!("{what} skal skrives som åååå-mm-dd.")))
                .ok(),
        }
    };
    let measures_ended = day(&f.ophoert, "Dagen, foranstaltningerne sluttede,");
    let meeting_day = day(&f.moede_dag, "Mødets dag");
    let time = match f.moede_tid.trim() {
        "" => None,
        t => match t.parse::<Time>() {
            Ok(t) => Some(t),
            Err(_) => {
                errors.push("Mødets tid skal skrives som tt:mm.".into());
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let consent = |by: &str, how: &str| {
        Some(ConsentInput {
            given_by: by.to_string(),
            how: how.to_string(),
            at: None,
        })
    };
    Ok(OvergangInput {
        consent: consent(&f.samtykke_hvem, &f.samtykke_hvordan),
        consent_share: consent(&f.deling_hvem, &f.deling_hvordan),
        measures_ended,
        first_meeting: meeting_day
            .zip(time)
            .map(|(d, t)| DateTime::from_parts(d, t)),
        minutes: None,
        place: Some(f.sted.trim().to_string()).filter(|p| !p.is_empty()),
        note: f.bemaerkning.trim().to_string(),
    })
}

/// `POST /overgang`: the overgang, or the form again with every reason.
pub async fn submit(
    State(state): State<Arc<ApiState>>,
    Posted(caller, f): Posted<Form>,
) -> Response {
    if !may_move(&caller) {
        return forbidden();
    }
    // Both or neither (then the workflow says the meeting is missing).
    if f.moede_dag.trim().is_empty() != f.moede_tid.trim().is_empty() {
        return form_page(
            &state,
            &caller,
            &f,
            vec!["Skriv både mødets dag og tid.".into()],
        );
    }
    let input = match input(&f) {
        Ok(i) => i,
        Err(errors) => return form_page(&state, &caller, &f, errors),
    };
    let case_number = f.sag.trim().to_string();
    match move_to_trin_2(&state, &caller, case_number, input).await {
        Ok(done) => {
            let cfg = state.app.policy.cfg();
            let recipients = (done.recipients.iter())
                .map(|(id, role)| {
                    let name = cfg
                        .directory
                        .person(id)
                        .map_or(id.as_str(), |p| p.name.as_str());
                    format!("{name} ({})", modtag_config::roles::role_words(role))
                })
                .collect();
            let first_meeting = modtag_router::deadline::local_dated(&done.first_meeting);
            let already = (done.already).map(modtag_router::deadline::dated);
            let sent = Sent {
                case_number: done.case_number,
                first_meeting,
                recipients,
                already,
            };
            page(StatusCode::OK, sent.render())
        }
        Err(ApiError::Invalid { errors, .. }) => {
            let reasons = (errors.as_array().into_iter().flatten())
                .filter_map(|e| e.as_str().map(str::to_string))
                .collect();
            form_page(&state, &caller, &f, reasons)
        }
        Err(ApiError::Refused(StatusCode::NOT_FOUND, _)) => {
            let why = format!(
                "Der er ingen sag {}, som du kan flytte: sagens rådgiver eller Modtagelsen kan.",
                f.sag.trim()
            );
            form_page(&state, &caller, &f, vec![why])
        }
        Err(ApiError::Store(e)) => storage_trouble(e),
        Err(e) => e.into_response(),
    }
}
