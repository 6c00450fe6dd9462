//! Journalen passes a TRIVSEL+ on with one action (issue 16, flow 2 step 2): the page shows
//! whom the names in the subject and the beslutningstræ give (the private institution's
//! area from its CVR), and what is left for Journalen to resolve; one button forwards. The
//! same decision as any other (`workflow::decide`), so it is routed, delivered and audited
//! the same way.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use modtag_config::Kind;
use modtag_storage::records::{Item, ItemState};

use super::mine::Csrf;
use super::session::{Posted, SignedIn};
use super::signin::{page, refused, storage_trouble};
use crate::access;
use crate::api::auth::Caller;
use crate::api::state::{load_item, ApiState};
use crate::app::blocking;
use crate::workflow::decide::{self, DecideError, DecisionInput};

struct Line {
    who: String,
    why: String,
}

#[derive(Template)]
#[template(path = "forward.html")]
struct ForwardPage<'a> {
    reference: &'a str,
    csrf: &'a str,
    institution: Option<String>,
    recipients: Vec<Line>,
    withheld: Vec<Line>,
}

/// The TRIVSEL+ `reference`, if the caller works it and it is still to be passed on.
async fn forwardable(
    state: &Arc<ApiState>,
    caller: &Caller,
    reference: &str,
) -> Result<Item, Response> {
    match load_item(state, reference).await {
        Ok(item) if access::view::works(&caller.person, &item) => {
            if item.kind != Kind::Trivselplus {
                return Err(refused(
                    StatusCode::CONFLICT,
                    "Ikke en TRIVSEL+",
                    "Kun en TRIVSEL+ videresendes til lederne her; vurdér andre henvendelser.",
                ));
            }
            if item.decision.is_some() || item.state == ItemState::Closed {
                return Err(refused(
                    StatusCode::CONFLICT,
                    "Allerede videresendt",
                    "Henvendelsen er allerede sendt videre eller lukket.",
                ));
            }
            Ok(item)
        }
        Ok(_) | Err(crate::api::error::ApiError::Refused(StatusCode::NOT_FOUND, _)) => {
            Err(refused(
                StatusCode::NOT_FOUND,
                "Ikke fundet",
                "Der er ingen henvendelse med den reference, som du kan videresende.",
            ))
        }
        Err(e) => Err(e.into_response()),
    }
}

/// The decision that passes it on: the names from the subject, within the area of the
/// institution whose CVR it gives (a private dagtilbud or school).
fn input(state: &ApiState, item: &Item, actor: &str) -> (DecisionInput, Option<String>) {
    let cfg = state.app.policy.cfg();
    let institution = item.understanding.cvrs.iter().find_map(|c| {
        cfg.directory
            .institutions
            .values()
            .find(|i| i.cvr.as_deref() == Some(c.number.as_str()))
    });
    (
        DecisionInput {
            actor: actor.to_string(),
            area: institution.map(|i| i.area.clone()),
            institution: institution.map(|i| i.id.clone()),
            note: "Videresendt af Journalen til de navngivne ledere".into(),
            ..DecisionInput::default()
        },
        institution.map(|i| format!("{} ({})", i.name, i.area.replace('_', " "))),
    )
}

pub async fn preview(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    SignedIn(caller): SignedIn,
) -> Response {
    let item = match forwardable(&state, &caller, &reference).await {
        Ok(item) => item,
        Err(page) => return page,
    };
    let (input, institution) = input(&state, &item, &caller.actor);
    let (cfg, now, r) = (state.app.policy.cfg(), state.now(), reference.clone());
    let store = state.app.store.clone();
    let d = match blocking(move || decide::preview(&store, &cfg, &r, &input, now)).await {
        Ok(d) => d,
        Err(DecideError::Store(e)) => return storage_trouble(e),
        Err(e) => {
            return refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Kan ikke videresendes",
                &e.to_string(),
            )
        }
    };
    let dir = &state.app.policy.cfg().directory;
    let name = |id: &str| dir.person(id).map_or(id.to_string(), |p| p.name.clone());
    let csrf = caller.session.as_ref().map_or("", |s| s.csrf.as_str());
    page(
        StatusCode::OK,
        ForwardPage {
            reference: &reference,
            csrf,
            institution,
            recipients: d
                .recipients
                .iter()
                .map(|r| Line {
                    who: format!(
                        "{} ({}, {})",
                        name(&r.person),
                        modtag_config::roles::role_words(&r.role),
                        r.email
                    ),
                    why: r.reason.clone(),
                })
                .collect(),
            withheld: d
                .withheld
                .iter()
                .map(|w| Line {
                    who: w.role.clone(),
                    why: w.why.to_string(),
                })
                .collect(),
        }
        .render(),
    )
}

pub async fn forward(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    Posted(caller, _): Posted<Csrf>,
) -> Response {
    let item = match forwardable(&state, &caller, &reference).await {
        Ok(item) => item,
        Err(page) => return page,
    };
    let (input, _) = input(&state, &item, &caller.actor);
    let (cfg, now, r) = (state.app.policy.cfg(), state.now(), reference.clone());
    let works = decide::worked_by(caller.person.clone());
    let decided = (state.app)
        .change(move |store| decide::decide(store, &cfg, &r, &input, works, now))
        .await;
    match decided {
        Ok(_) => Redirect::to(&format!("/koe/{reference}")).into_response(),
        Err(DecideError::Store(e)) => storage_trouble(e),
        Err(DecideError::NotFound(_)) => refused(
            StatusCode::NOT_FOUND,
            "Ikke fundet",
            "Der er ingen henvendelse med den reference, som du arbejder med.",
        ),
        Err(e) => refused(
            StatusCode::CONFLICT,
            "Kan ikke videresendes",
            &e.to_string(),
        ),
    }
}
