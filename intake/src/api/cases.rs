//! The case registry: import (all or nothing) and export (audited).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use modtag_storage::audit::{Event, EventKind};
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::error::ApiError;
use super::state::{audit, durable, ApiState};
use super::types::{CaseRow, ImportCounts};
use crate::access::Action;
use crate::app::blocking;

pub async fn import(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<ImportCounts>, ApiError> {
    caller.require(Action::CasesImport)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the case file must be UTF-8 CSV or JSON"))?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let cfg = state.app.policy.cfg();
    let parsed = if json {
        crate::cases::parse_json(text, &cfg)
    } else {
        crate::cases::parse_csv(text, &cfg)
    };
    let cases = parsed.map_err(|errors| ApiError::Invalid {
        message: "the case file has errors; nothing was imported",
        errors: json!(errors),
    })?;
    let store = state.app.store.clone();
    let actor = caller.actor.clone();
    let purpose = caller.purpose_or("case registry import").to_string();
    let now = state.now();
    let counts =
        blocking(move || crate::workflow::registry::import(&store, cases, &actor, &purpose, now))
            .await?;
    durable(&state).await?;
    Ok(Json(counts))
}

#[derive(Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    format: Option<String>,
}

/// The whole case registry (CPR and names included): audited as an export.
pub async fn export(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    caller.require(Action::CasesExport)?;
    let format = q.format.unwrap_or_else(|| "csv".into());
    if !["csv", "json"].contains(&format.as_str()) {
        return Err(ApiError::bad_request("format is csv or json"));
    }
    let store = state.app.store.clone();
    let cases = blocking(move || store.cases()).await?;
    let event = Event::new(
        EventKind::CasesExported,
        &caller.actor,
        caller.purpose_or("case registry export"),
    )
    .details(json!({ "cases": cases.len(), "format": format }));
    audit(&state, event).await?;
    if format == "json" {
        let rows: Vec<CaseRow> = cases
            .into_iter()
            .map(|c| CaseRow {
                case_number: c.case_number,
                cpr: c.cpr,
                child_name: c.child_name,
                raadgiver: c.raadgiver,
                area: c.area,
                institution: c.institution,
                status: if c.open { "open" } else { "closed" }.into(),
            })
            .collect();
        return Ok(Json(rows).into_response());
    }
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        crate::cases::to_csv(&cases),
    )
        .into_response())
}

/// Flow 4: the case moves back to a trin-2 TRIVSEL+ forløb. For the case's rådgiver or
/// Modtagelsen; refused (422, every reason) until both consents, the measures' end and a
/// first meeting within the rules are given.
pub async fn overgang(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    axum::extract::Path(case_number): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<crate::workflow::overgang::Activated>, ApiError> {
    let input: crate::workflow::overgang::OvergangInput = super::error::json_body(
        &body,
        "{\"consent\": {\"given_by\", \"how\"}, \"consent_share\": {...}, \"measures_ended\": \"YYYY-MM-DD\", \"first_meeting\": \"YYYY-MM-DDTHH:MM\"}",
    )?;
    Ok(Json(
        move_to_trin_2(&state, &caller, case_number, input).await?,
    ))
}

/// The overgang of `case_number`, for the API and the desk alike: refused (`Invalid`, every
/// reason in Danish) until its conditions hold; `404` for a case the caller may not move.
pub async fn move_to_trin_2(
    state: &ApiState,
    caller: &Caller,
    case_number: String,
    input: crate::workflow::overgang::OvergangInput,
) -> Result<crate::workflow::overgang::Activated, ApiError> {
    let (cfg, now) = (state.app.policy.cfg(), state.now());
    let actor = caller.actor.clone();
    let person = caller.person.clone();
    state
        .app
        .change(move |store| -> Result<_, ApiError> {
            // One answer for "no such case" and "not yours": a case number is not a way to
            // learn which cases exist.
            let not_yours = || {
                ApiError::not_found(format!(
                    "no case {case_number} that you may move (its rådgiver or Modtagelsen may)"
                ))
            };
            // One overgang of a case at a time: a second, read before the first was written,
            // would send the hand-over again.
            let _held = store.lock_cases(&[&case_number]);
            let case = store.case(&case_number)?.ok_or_else(not_yours)?;
            let own = person.directory_id.as_deref() == Some(case.raadgiver.as_str());
            if !own && !crate::access::may(&person, Action::Overgang) {
                return Err(not_yours());
            }
            match crate::workflow::overgang::plan(store, &cfg, &case, &input, &actor, now)? {
                Ok((batch, activated)) => {
                    store.commit(batch, now)?;
                    Ok(activated)
                }
                Err(reasons) => Err(ApiError::Invalid {
                    message: "the overgang is refused; nothing was sent",
                    errors: json!(reasons),
                }),
            }
        })
        .await
}
