//! A leader's answer in a private institution's TRIVSEL+ forløb (issue 16, flow 2, step 3):
//! the staff who join the tværfaglige udførerteam, or that none of theirs do (issue 29),
//! sent on to the institution by `workflow::forloeb::answer`. A refused answer shows the
//! item page again with the reason and the text as typed.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::forloeb::{change, not_found, Plan, Who};
use super::kept::Kept;
use super::session::Posted;
use crate::api::state::ApiState;
use crate::workflow::{forloeb, participants};

#[derive(Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    deltagere: String,
    #[serde(default)]
    besked: String,
    /// "ja": no staff from this leader ("Ingen medarbejdere fra mig").
    #[serde(default)]
    ingen: String,
}

/// A leader's answer with the staff who join (step 3), or that none of theirs join. A
/// refused answer shows the item again with the reason and the text as typed.
pub async fn answer(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    Posted(caller, form): Posted<AnswerForm>,
) -> Response {
    let kept = Kept::new(
        "svar",
        [
            ("deltagere", form.deltagere.clone()),
            ("besked", form.besked.clone()),
        ],
    );
    let staff = match (
        form.ingen == "ja",
        participants::parse_participants(&form.deltagere),
    ) {
        (true, _) => Vec::new(),
        (false, Ok(s)) => s,
        (false, Err(why)) => {
            let kept = kept.refused(StatusCode::UNPROCESSABLE_ENTITY, why);
            return super::item::show(&state, &caller, &reference, Some(kept)).await;
        }
    };
    let Some(me) = caller.person.directory_id.clone() else {
        return not_found();
    };
    let user = caller.actor.clone();
    let note = form.besked.chars().take(4000).collect::<String>();
    let plan: Plan = Box::new(move |store, cfg, item, batch, now| {
        forloeb::answer(store, cfg, item, &me, &user, staff, &note, batch, now)
    });
    match change(&state, &caller, (&reference, None), Who::Leader, plan).await {
        Ok(Ok(())) => Redirect::to(&format!("/koe/{reference}#forloeb")).into_response(),
        Ok(Err(why)) => {
            let kept = kept.refused(
                StatusCode::CONFLICT,
                format!("Svaret blev ikke sendt: {why}"),
            );
            super::item::show(&state, &caller, &reference, Some(kept)).await
        }
        Err(page) => page,
    }
}
super::session::csrf_field!(AnswerForm);
