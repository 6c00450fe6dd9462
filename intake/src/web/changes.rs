//! The changes a desk makes on the item page besides the decision: a corrected kind, a task
//! done (an underretningsmøde called, a tilbagemelding given or withheld, a kvittering sent
//! by hand) and closing. Each form is checked here, in Danish, and then handed to the API's
//! own handler, so the page and `modtag triage` lock, refuse and audit alike. After a post,
//! back to the item page (a reload does not change anything twice).

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use serde_json::json;

use super::session::posting;
use super::signin::{api_refusal, page, MessagePage};
use crate::api::changes;
use crate::api::state::{durable, ApiState};
use crate::app::blocking;
use crate::workflow::tilbagemelding::{self, NotSent};

#[derive(Deserialize)]
pub struct Change {
    #[serde(default)]
    csrf: String,
    /// The corrected kind, or the task's kind.
    #[serde(default)]
    art: String,
    /// `udfoert` or `undladt` (a tilbagemelding withheld).
    #[serde(default)]
    udfald: String,
    #[serde(default)]
    begrundelse: String,
    /// The tilbagemelding's letter, as the person approved it, and the assessment it was
    /// written from (`tilbagemelding::written_from`).
    #[serde(default)]
    brev: String,
    #[serde(default)]
    vurdering: String,
}

/// What to fix, as a page that leads back to the item.
fn missing(text: &str) -> Response {
    page(
        StatusCode::UNPROCESSABLE_ENTITY,
        MessagePage {
            title: "Intet blev ændret",
            text,
        }
        .render(),
    )
}

/// Runs the API's handler for the signed-in person and goes on to `next` (the item page,
/// or the queue when a new kind moved the item to another desk).
#[allow(clippy::too_many_arguments)]
async fn apply<T>(
    state: Arc<ApiState>,
    mut parts: Parts,
    reference: String,
    next: String,
    csrf: &str,
    body: serde_json::Value,
    handler: impl AsyncFnOnce(
        Arc<ApiState>,
        crate::api::auth::Caller,
        String,
        Bytes,
    ) -> Result<T, crate::api::error::ApiError>,
) -> Response {
    let caller = match posting(&mut parts, &state, csrf).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let bytes = Bytes::from(body.to_string());
    match handler(state, caller, reference.clone(), bytes).await {
        Ok(_) => Redirect::to(&next).into_response(),
        Err(e) => api_refusal(e),
    }
}

/// `POST /koe/{reference}/art`: the kind corrected, with a reason.
pub async fn kind(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    parts: Parts,
    Form(f): Form<Change>,
) -> Response {
    if f.begrundelse.trim().is_empty() {
        return missing("Skriv, hvorfor arten rettes.");
    }
    let body = json!({ "kind": f.art, "reason": f.begrundelse.trim() });
    // Another kind may belong to another desk: back to the queue, where it has left or stays.
    apply(
        state,
        parts,
        reference,
        "/koe".into(),
        &f.csrf,
        body,
        async |s, c, r, b| changes::correct_kind(State(s), c, Path(r), b).await,
    )
    .await
}

#[derive(Deserialize)]
pub struct Sender {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    hvordan: String,
}

/// `POST /koe/{reference}/afsender`: a person confirms who an unverified sender is.
pub async fn sender(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    parts: Parts,
    Form(f): Form<Sender>,
) -> Response {
    if f.hvordan.trim().is_empty() {
        return missing("Skriv, hvordan du ved, hvem der sendte henvendelsen.");
    }
    let body = json!({ "how": f.hvordan.trim() });
    let next = format!("/koe/{reference}");
    apply(
        state,
        parts,
        reference,
        next,
        &f.csrf,
        body,
        async |s, c, r, b| changes::confirm_sender(State(s), c, Path(r), b).await,
    )
    .await
}

/// `POST /koe/{reference}/opgave`: an open task done, or a tilbagemelding withheld.
pub async fn task(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    parts: Parts,
    Form(f): Form<Change>,
) -> Response {
    let withheld = f.udfald == "undladt";
    if withheld && f.begrundelse.trim().is_empty() {
        return missing(
            "En tilbagemelding undlades kun med en begrundelse: at den ville skade barnet.",
        );
    }
    let body = json!({
        "kind": f.art,
        "outcome": if withheld { "withheld" } else { "done" },
        "reason": Some(f.begrundelse.trim()).filter(|r| !r.is_empty()),
    });
    let next = format!("/koe/{reference}");
    apply(
        state,
        parts,
        reference,
        next,
        &f.csrf,
        body,
        async |s, c, r, b| changes::task(State(s), c, Path(r), b).await,
    )
    .await
}

/// `POST /koe/{reference}/tilbagemelding`: the letter, approved, to the reporter.
pub async fn feedback(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    mut parts: Parts,
    Form(f): Form<Change>,
) -> Response {
    let caller = match posting(&mut parts, &state, &f.csrf).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let (store, cfg, now) = (state.app.store.clone(), state.app.policy.cfg(), state.now());
    let (r, actor, person) = (
        reference.clone(),
        caller.actor.clone(),
        caller.person.clone(),
    );
    let works =
        move |item: &modtag_storage::records::Item| crate::access::view::works(&person, item);
    let sent = blocking(move || {
        let letter = (f.brev.as_str(), f.vurdering.as_str());
        tilbagemelding::send(&store, &cfg, &r, letter, &actor, works, now)
    })
    .await;
    match sent {
        Ok(Ok(())) => {
            if let Err(e) = durable(&state).await {
                return e.into_response();
            }
            state.app.wake.notify_one();
            Redirect::to(&format!("/koe/{reference}")).into_response()
        }
        Ok(Err(NotSent::Unproven(why))) => {
            missing(&format!("Tilbagemeldingen blev ikke sendt. {why}"))
        }
        Ok(Err(why)) => missing(match why {
            NotSent::Empty => "Brevet er tomt.",
            NotSent::Changed => {
                "Tilbagemeldingen blev ikke sendt: vurderingen er ændret, siden brevet blev \
                 skrevet. Læs det nye udkast på henvendelsen, og godkend det igen."
            }
            NotSent::NoOutcome => {
                "Tilbagemeldingen blev ikke sendt: vurderingen har intet udfald af screeningen. \
                 Vurder igen, og vælg udfaldet."
            }
            NotSent::Unproven(why) => why,
            NotSent::NoAddress => {
                "Underretteren har ingen e-mailadresse: send brevet på anden vis, og marker opgaven udført."
            }
            NotSent::NoTask => "Der er ingen åben tilbagemelding på henvendelsen.",
            NotSent::NotFound => "Der er ingen henvendelse med den reference, som du arbejder med.",
        }),
        Err(e) => super::signin::storage_trouble(e),
    }
}

/// `POST /koe/{reference}/luk`: closed, with a reason.
pub async fn close(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    parts: Parts,
    Form(f): Form<Change>,
) -> Response {
    if f.begrundelse.trim().is_empty() {
        return missing("Skriv, hvorfor henvendelsen lukkes.");
    }
    let body = json!({ "reason": f.begrundelse.trim() });
    let next = format!("/koe/{reference}");
    apply(
        state,
        parts,
        reference,
        next,
        &f.csrf,
        body,
        async |s, c, r, b| changes::close(State(s), c, Path(r), b).await,
    )
    .await
}
