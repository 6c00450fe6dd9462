//! The one-time link in a kvittering (`/bekraeft/<token>`, issue 26): a professional
//! reporter who typed their address into a form, or whose `From:` nothing proved, opens it
//! from that mailbox and so shows the address is theirs; the tilbagemelding may then go to
//! it. Opening the link shows a button only (mail scanners open links too; only a person
//! presses it); neither page names the child, the reference or the address, and a link that
//! is unknown, used or expired gets the same answer.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::Item;
use modtag_storage::store::Batch;
use modtag_storage::Store;

use super::door::{limit, message, page, storage_failed, PublicState};
use crate::app::{blocking, flush};
use crate::identity::{constant_time_eq, sessions::digest};

#[derive(Template)]
#[template(path = "public/address.html")]
struct AddressPage<'a> {
    token: &'a str,
    theme: &'a str,
}

/// What became of a link.
enum Outcome {
    Confirmed,
    /// Unknown, used, or expired: all alike to the one asking.
    Dead,
}

fn dead() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Linket virker ikke",
        "Linket er allerede brugt, udløbet eller ikke helt kopieret. Skal du have en \
         tilbagemelding, så kontakt kommunen og oplys referencen fra kvitteringen.",
    )
}

/// Whether `item` holds `token` as its live address link.
fn holds(item: &Item, token_sha256: &str, now: Timestamp) -> bool {
    item.address_proof.as_ref().is_some_and(|p| {
        p.expires > now
            && p.token_sha256
                .as_deref()
                .is_some_and(|t| constant_time_eq(t.as_bytes(), token_sha256.as_bytes()))
    })
}

/// Finds the link's intake and, when `confirm`, uses the link: the address is proven, the
/// link spent, audited in the reporter's name.
fn find(store: &Store, token: &str, confirm: bool, now: Timestamp) -> Result<Outcome, String> {
    let sha = digest(token);
    let Some(reference) = store
        .item_for_address_link(&sha)
        .map_err(|e| e.to_string())?
    else {
        return Ok(Outcome::Dead);
    };
    let _held = store.lock_item(&reference);
    let Some(mut item) = store.item(&reference).map_err(|e| e.to_string())? else {
        return Ok(Outcome::Dead);
    };
    if !holds(&item, &sha, now) {
        return Ok(Outcome::Dead);
    }
    if !confirm {
        return Ok(Outcome::Confirmed);
    }
    if let Some(p) = item.address_proof.as_mut() {
        p.token_sha256 = None;
        p.confirmed_at = Some(now);
    }
    let mut b = Batch::new();
    b.audit(
        Event::new(
            EventKind::AddressConfirmed,
            "underretter (engangslink)",
            "tilbagemelding",
        )
        .reference(&reference),
    );
    b.item(item);
    store.commit(b, now).map_err(|e| e.to_string())?;
    Ok(Outcome::Confirmed)
}

async fn answer(
    state: &PublicState,
    parts: &Parts,
    token: String,
    confirm: bool,
) -> Result<Outcome, Response> {
    let cfg = state.app.policy.cfg();
    limit(state, parts, &cfg)?;
    if !crate::identity::sessions::well_formed(&token) {
        return Ok(Outcome::Dead);
    }
    let (store, now) = (state.app.store.clone(), state.app.clock.now());
    let found = blocking(move || find(&store, &token, confirm, now))
        .await
        .map_err(|e| storage_failed(&e))?;
    if confirm && matches!(found, Outcome::Confirmed) {
        flush(&state.app.store)
            .await
            .map_err(|e| storage_failed(&e.to_string()))?;
        tracing::info!("public: a reporter confirmed their address by the kvittering's link");
    }
    Ok(found)
}

/// The page with the button; nothing is changed by opening it.
pub(super) async fn show(
    State(state): State<Arc<PublicState>>,
    parts: Parts,
    Path(token): Path<String>,
) -> Response {
    match answer(&state, &parts, token.clone(), false).await {
        Ok(Outcome::Confirmed) => page(
            StatusCode::OK,
            AddressPage {
                token: &token,
                theme: "borgerdk",
            }
            .render(),
        ),
        Ok(Outcome::Dead) => dead(),
        Err(res) => res,
    }
}

/// The button: the address is proven.
pub(super) async fn confirm(
    State(state): State<Arc<PublicState>>,
    parts: Parts,
    Path(token): Path<String>,
) -> Response {
    match answer(&state, &parts, token, true).await {
        Ok(Outcome::Confirmed) => message(
            StatusCode::OK,
            "Tak. Din e-mailadresse er bekræftet",
            "Kommunen kan nu sende dig tilbagemeldingen om din underretning. Den kommer \
             krypteret eller over en sikker forbindelse til denne adresse.",
        ),
        Ok(Outcome::Dead) => dead(),
        Err(res) => res,
    }
}
