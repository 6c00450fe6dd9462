//! "Fejlede leverancer": the copies and notices the relay refused for good, for
//! Modtagelsen's leader and administrators, with a button that queues one again once the
//! address or the relay is put right. The API's own handlers do the work, so the page and
//! `modtag outbox failed|retry` list, refuse and audit alike.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use modtag_router::deadline;
use serde::Deserialize;

use super::mine::Csrf;
use super::session::{Posted, SignedIn};
use super::signin::{api_refusal, page, MessagePage};
use crate::access::Action;
use crate::api::outbox;
use crate::api::state::ApiState;
use crate::api::types::FailedDelivery;

struct Failed {
    entry: FailedDelivery,
    /// Whom it was for, in words.
    to: String,
    failed: String,
}

/// Whom a delivery was for: a directory id with its role, or what the recipient is.
fn recipient(e: &FailedDelivery) -> String {
    match e.person.as_str() {
        "reporter" => "Indberetteren (kvittering)".into(),
        "auditor" => "Revisorerne (checkpoint)".into(),
        p if p == e.role => p.to_string(),
        p => format!("{p} ({})", e.role),
    }
}

#[derive(Template)]
#[template(path = "deliveries.html")]
struct DeliveriesPage<'a> {
    csrf: &'a str,
    rows: Vec<Failed>,
    /// The delivery just queued again, to say so.
    requeued: Option<u64>,
}

#[derive(Deserialize)]
pub struct Shown {
    igen: Option<u64>,
}

fn not_allowed() -> Response {
    page(
        StatusCode::FORBIDDEN,
        MessagePage {
            title: "Ingen adgang",
            text: "Fejlede leverancer ses af Modtagelsens leder og af administratorer.",
        }
        .render(),
    )
}

pub async fn list(
    State(state): State<Arc<ApiState>>,
    Query(shown): Query<Shown>,
    SignedIn(caller): SignedIn,
) -> Response {
    if caller.require(Action::OutboxFailed).is_err() {
        return not_allowed();
    }
    let csrf = (caller.session.as_ref()).map_or(String::new(), |s| s.csrf.clone());
    let entries = match outbox::failed_deliveries(&state, &caller).await {
        Ok(entries) => entries,
        Err(e) => return api_refusal(e),
    };
    let now = state.now();
    let rows = entries
        .into_iter()
        .map(|entry| Failed {
            to: recipient(&entry),
            failed: entry
                .failed
                .map(|t| deadline::spoken(t, now))
                .unwrap_or_default(),
            entry,
        })
        .collect();
    page(
        StatusCode::OK,
        DeliveriesPage {
            csrf: &csrf,
            rows,
            requeued: shown.igen,
        }
        .render(),
    )
}

pub async fn retry(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    Posted(caller, _): Posted<Csrf>,
) -> Response {
    if caller.require(Action::OutboxRetry).is_err() {
        return not_allowed();
    }
    match outbox::requeue(&state, &caller, &id).await {
        Ok(done) => Redirect::to(&format!("/fejlede-leverancer?igen={}", done.id)).into_response(),
        // The API's words are English, for scripts; the page says it in Danish.
        Err(crate::api::error::ApiError::Refused(status, _)) => {
            let text = match status {
                StatusCode::NOT_FOUND => {
                    "Leverancen findes ikke længere: den er måske leveret eller slettet i mellemtiden."
                }
                StatusCode::CONFLICT => {
                    "Leverancen er ikke fejlet: den forsøges stadig."
                }
                _ => "Der er ingen fejlet leverance med det nummer.",
            };
            let message = MessagePage {
                title: "Leverancen blev ikke sat i kø igen",
                text,
            };
            page(status, message.render())
        }
        Err(e) => api_refusal(e),
    }
}
