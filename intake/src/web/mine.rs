//! "Sendt til mig": the intakes routed to the signed-in person (a leader, a rådgiver, the
//! Børneskolerådgivere), read in the desk with the same item page, no OpenPGP needed; and
//! the "modtaget" button that tells Modtagelsen who has taken it over. Listing is audited
//! as the queue's is; marking is audited as a change.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::{Item, TakenOver};
use modtag_storage::store::Batch;
use serde::Deserialize;
use serde_json::json;

use super::queue::{row, Row};
use super::session::{Posted, SignedIn};
use super::signin::{page, storage_trouble, MessagePage};
use crate::api::state::{audit, ApiState};
use crate::app::blocking;

struct MineRow {
    summary: Row,
    received: String,
    taken: bool,
}

#[derive(Template)]
#[template(path = "mine.html")]
struct MinePage {
    rows: Vec<MineRow>,
    known: bool,
}

/// Whether `person` (a directory id) is sent `item` by its routing now: one a new assessment
/// no longer sends them is not theirs any more.
fn sent_to(item: &Item, person: &str) -> bool {
    crate::access::view::routed_to(item, person)
}

pub async fn mine(State(state): State<Arc<ApiState>>, SignedIn(caller): SignedIn) -> Response {
    let Some(me) = caller.person.directory_id.clone() else {
        let page_ = MinePage {
            rows: Vec::new(),
            known: false,
        };
        return page(StatusCode::OK, page_.render());
    };
    let event = Event::new(
        EventKind::Listed,
        &caller.actor,
        caller.purpose_or("follow-up"),
    )
    .details(json!({ "page": "sendt-til-mig" }));
    if let Err(e) = audit(&state, event).await {
        return e.into_response();
    }
    // The blind index names the intakes sent to her; only those are decrypted.
    let store = state.app.store.clone();
    let person = me.clone();
    let found = blocking(move || {
        let refs = store.items_sent_to(&person)?;
        store.items_by_reference(&refs)
    });
    let items = match found.await {
        Ok(items) => items,
        Err(e) => return storage_trouble(e),
    };
    let now = state.now();
    let mut mine: Vec<&Item> = items.iter().filter(|i| sent_to(i, &me)).collect();
    // Akut first (issue 27); then the newest: what came last is what needs reading.
    mine.sort_by_key(|i| (!i.akut(), std::cmp::Reverse(i.received_at)));
    let rows = mine
        .into_iter()
        .filter_map(|i| crate::access::view::view(&caller.person, i))
        .map(|v| MineRow {
            summary: row(&v.item, now),
            received: modtag_router::deadline::spoken(v.item.received_at, now),
            taken: v.item.taken_over.iter().any(|t| t.person == me),
        })
        .collect();
    page(StatusCode::OK, MinePage { rows, known: true }.render())
}

#[derive(Deserialize)]
pub struct Csrf {
    #[serde(default)]
    pub(super) csrf: String,
}

super::session::csrf_field!(Csrf);

/// "Modtaget": the signed-in recipient has taken the intake over.
pub async fn taken_over(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    Posted(caller, _): Posted<Csrf>,
) -> Response {
    let not_yours = || {
        page(
            StatusCode::NOT_FOUND,
            MessagePage {
                title: "Ikke fundet",
                text: "Der er ingen henvendelse med den reference, som er sendt til dig.",
            }
            .render(),
        )
    };
    let Some(me) = caller.person.directory_id.clone() else {
        return not_yours();
    };
    let now = state.now();
    let (actor, purpose) = (
        caller.actor.clone(),
        caller.purpose_or("follow-up").to_string(),
    );
    let r = reference.clone();
    let marked = state
        .app
        .change(move |store| -> Result<bool, modtag_storage::StoreError> {
            let _held = store.lock_item(&r);
            let Some(mut item) = store.item(&r)? else {
                return Ok(false);
            };
            if !sent_to(&item, &me) {
                return Ok(false);
            }
            // Marked once: a second press changes nothing.
            if !item.taken_over.iter().any(|t| t.person == me) {
                item.taken_over.push(TakenOver {
                    person: me.clone(),
                    user: actor.clone(),
                    at: now,
                });
                let mut b = Batch::new();
                b.audit(
                    Event::new(EventKind::TakenOver, &actor, &purpose)
                        .reference(&r)
                        .details(json!({ "person": me })),
                );
                b.item(item);
                store.commit(b, now)?;
            }
            Ok(true)
        })
        .await;
    match marked {
        Ok(true) => Redirect::to(&format!("/koe/{reference}")).into_response(),
        Ok(false) => not_yours(),
        Err(e) => storage_trouble(e),
    }
}
