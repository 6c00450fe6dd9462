//! The public door (issue 15): the Send sikkert form for private institutions and the
//! underretning form for professionals and citizens, on a listener of their own
//! (`[public]`), which serves nothing else: no desk, no API. A submission becomes the
//! message it stands in for and takes the SMTP path (`workflow::accept`): the same reading,
//! audit entries and routing, and the reply page only after the same durable commit as
//! SMTP's `250`. The forms carry a CSRF token paired with a cookie (the only cookie), and
//! are rate-limited per client and in all. With `[public.mitid_erhverv]`, a private
//! institution signs in with MitID Erhverv first (`mitid.rs`, issue 30): then the
//! institution and person on a Send sikkert are NemLog-in's, not typed.
//!
//! `address.rs` the one-time link in a kvittering that proves a reporter's address,
//! `door.rs` what both forms share (limits, the token, the submission, the receipt),
//! `forms.rs` Send sikkert, `underretning.rs` the underretning form, `upload.rs` the body read within limits, `compose.rs` the
//! message a submission stands in for, `types.rs` the allowed attachment types in words.

mod address;
mod compose;
mod door;
mod forms;
mod mitid;
mod types;
mod underretning;
mod upload;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

pub use door::PublicState;

pub fn router(state: Arc<PublicState>) -> Router {
    let max = state
        .app
        .policy
        .cfg()
        .config
        .public
        .as_ref()
        .map_or(0, |p| p.max_request_bytes);
    Router::new()
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/underretning") }),
        )
        .route(
            "/sendsikkert",
            get(forms::send_sikkert_form).post(forms::send_sikkert),
        )
        .route(
            "/underretning",
            get(underretning::underretning_form).post(underretning::underretning),
        )
        .route("/saml/metadata", get(mitid::metadata))
        .route("/saml/acs", axum::routing::post(mitid::acs))
        .route("/mitid/log-ind", get(mitid::start))
        .route("/mitid/log-ud", axum::routing::post(mitid::end))
        .route(
            "/bekraeft/{token}",
            get(address::show).post(address::confirm),
        )
        .route("/static/modtag.css", get(crate::web::stylesheet))
        .route("/static/dkfds/{*path}", get(crate::web::design_system))
        .fallback(door::not_found)
        // The body may be as large as the configuration allows, and no larger (413).
        .layer(DefaultBodyLimit::max(max))
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            headers,
        ))
        .with_state(state)
}

async fn headers(State(state): State<Arc<PublicState>>, mut res: Response) -> Response {
    let tls = state
        .app
        .policy
        .cfg()
        .config
        .public
        .as_ref()
        .is_some_and(|p| !p.plain_loopback());
    crate::web::protect(res.headers_mut(), tls);
    res
}
