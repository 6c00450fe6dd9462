//! Digital Post's receipts (issue 30): KOMBIT's Beskedfordeler (SF1461) pushes a
//! `ModtagBeskedInput` envelope per status of a letter, its `Beskeddata` a base64
//! `PKO_PostStatus` naming the MeMo message UUID: "Modtaget Digital Post", "Afleveret
//! Digital Post", or "Fejlet" with an error code. Served on a listener of its own
//! (`[digital_post.receipts]`) that takes only KOMBIT's own client certificates (from its
//! authority, and named by fingerprint). Each receipt is recorded on the letter's intake with an audit entry; a failure
//! tells Modtagelsen and its leader, as a refused copy does. The answer is the envelope's
//! `StatusKode` 20 once that is durable (then the broker forgets the receipt), 40 for an
//! envelope that cannot be read; a receipt for no letter of ours is answered 20 and logged.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine as _;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::store::Batch;
use serde_json::json;

use crate::app::{flush, App};

/// What one receipt says.
#[derive(Debug, PartialEq, Eq)]
pub struct PostStatus {
    pub message_uuid: String,
    pub status: String,
    pub error: Option<String>,
}

const MAX_RECEIPT: usize = 256 * 1024;

/// The listener `[digital_post.receipts]` configures, bound, with its TLS that requires a
/// client certificate from `client_ca_file` that is one of `client_certificates`.
pub async fn listener(
    cfg: &modtag_config::Loaded,
) -> Result<Option<(tokio::net::TcpListener, tokio_rustls::TlsAcceptor)>, String> {
    let Some(r) = cfg
        .config
        .digital_post
        .as_ref()
        .and_then(|d| d.receipts.as_ref())
    else {
        return Ok(None);
    };
    let (cert, key) = crate::tls::files(&cfg.config, &r.tls, "digital_post.receipts")
        .map_err(|e| e.to_string())?;
    let ca = cfg
        .config
        .secret_path(&r.client_ca_file)
        .map_err(|e| format!("digital_post.receipts.client_ca_file: {e}"))?;
    let pinned = r.pinned()?;
    let server = crate::tls::server_config_for_clients(&cert, &key, &ca, pinned)
        .map_err(|e| format!("[digital_post.receipts]: {e}"))?;
    let listener = tokio::net::TcpListener::bind(r.listen)
        .await
        .map_err(|e| format!("digital_post.receipts.listen = {}: {e}", r.listen))?;
    Ok(Some((
        listener,
        tokio_rustls::TlsAcceptor::from(Arc::new(server)),
    )))
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/beskedfordeler", post(receive))
        .with_state(app)
}

/// The envelope's status: the Beskedfordeler's `StatusKode` (20 taken, 40 not).
fn answer(status: StatusCode, code: u16, text: &str) -> Response {
    let body = format!(
        "<ns2:ModtagBeskedOutput xmlns=\"urn:oio:sagdok:3.0.0\" xmlns:ns2=\"urn:oio:sts:1.0.0\">\
         <StandardRetur><StatusKode>{code}</StatusKode><FejlbeskedTekst>{text}</FejlbeskedTekst>\
         </StandardRetur></ns2:ModtagBeskedOutput>"
    );
    (
        status,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn receive(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    let Some(receipt) = read(&body) else {
        tracing::warn!(
            bytes = body.len(),
            "Digital Post receipt: not a readable envelope; answered 40"
        );
        return answer(StatusCode::BAD_REQUEST, 40, "Beskeden kunne ikke læses");
    };
    let store = app.store.clone();
    let found = tokio::task::spawn_blocking({
        let uuid = receipt.message_uuid.clone();
        move || store.item_for_letter(&uuid)
    })
    .await;
    let reference = match found {
        Ok(Ok(Some(r))) => r,
        Ok(Ok(None)) => {
            tracing::warn!(status = %receipt.status, "Digital Post receipt for no letter of ours; answered 20");
            return answer(StatusCode::OK, 20, "");
        }
        _ => return answer(StatusCode::SERVICE_UNAVAILABLE, 40, "Prøv igen"),
    };
    match record(&app, &reference, &receipt).await {
        Ok(()) => {
            tracing::info!(%reference, status = %receipt.status, "Digital Post receipt recorded");
            answer(StatusCode::OK, 20, "")
        }
        Err(e) => {
            tracing::error!(%reference, error = %e, "Digital Post receipt not recorded; answered 40 (it comes again)");
            answer(StatusCode::SERVICE_UNAVAILABLE, 40, "Prøv igen")
        }
    }
}

/// The receipt on its letter, with its audit entry; a failure told to Modtagelsen.
async fn record(app: &Arc<App>, reference: &str, r: &PostStatus) -> Result<(), String> {
    let (app2, reference, uuid) = (app.clone(), reference.to_string(), r.message_uuid.clone());
    let (status, error) = (r.status.clone(), r.error.clone());
    let done = tokio::task::spawn_blocking(move || {
        let store = &app2.store;
        let _held = store.lock_item(&reference);
        let Some(mut item) = store.item(&reference).map_err(|e| e.to_string())? else {
            return Ok(());
        };
        let now = app2.clock.now();
        let Some(letter) = item.letters.iter_mut().find(|l| l.message_uuid == uuid) else {
            return Ok(());
        };
        let mut batch = Batch::new();
        // The Beskedfordeler delivers at least once: a receipt that changes nothing (a
        // repeat, or a failure after the letter was delivered) is acknowledged, not recorded
        // or told again.
        let (kind, failed) = match status.as_str() {
            "Afleveret Digital Post" if letter.delivered.is_none() => {
                letter.delivered = Some(now);
                (EventKind::Delivered, false)
            }
            "Fejlet" if letter.failed.is_none() && letter.delivered.is_none() => {
                let why = error.clone().unwrap_or_else(|| "Fejlet".into());
                letter.failed = Some((now, why));
                (EventKind::DeliveryFailed, true)
            }
            "Modtaget Digital Post" if letter.received.is_none() => {
                letter.received = Some(now);
                (EventKind::DeliveryDeferred, false)
            }
            _ => return Ok(()),
        };
        let (outbox_id, recipient) = (
            letter.outbox_id,
            format!("{} {}", letter.id_type, letter.id),
        );
        batch.audit(
            Event::new(kind, "beskedfordeler", "delivery")
                .reference(&reference)
                .details(json!({
                    "channel": "digital_post", "outbox_id": outbox_id,
                    "status": status, "error": error,
                })),
        );
        if failed {
            let why = error.as_deref().unwrap_or("Fejlet");
            let body = crate::delivery::notices::letter_failed_text(&reference, &recipient, why);
            crate::delivery::notices::tell_modtagelsen(&app2, &reference, &body, &mut batch, now);
        }
        batch.item(item);
        store.commit(batch, now).map_err(|e| e.to_string())
    })
    .await
    .map_err(|_| "the recording task failed".to_string())?;
    done?;
    flush(&app.store).await.map_err(|e| e.to_string())?;
    app.wake.notify_one();
    Ok(())
}

/// The `PKO_PostStatus` inside an envelope, if it is one (no DTD, bounded).
pub fn read(body: &[u8]) -> Option<PostStatus> {
    let text = std::str::from_utf8(body).ok()?;
    let envelope = crate::xml::parse(text, MAX_RECEIPT)?;
    let data = envelope
        .descendants()
        .find(|n| n.has_tag_name(("urn:besked:kuvert:1.0", "Base64")))?
        .text()?;
    let clean: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    let inner = base64::engine::general_purpose::STANDARD
        .decode(clean)
        .ok()?;
    let inner = String::from_utf8(inner).ok()?;
    let status = crate::xml::parse(&inner, MAX_RECEIPT)?;
    const NS: &str = "http://serviceplatformen.dk/xml/print/PKO_PostStatus/1/types";
    let field = |name: &str| {
        status
            .descendants()
            .find(|n| n.has_tag_name((NS, name)))
            .and_then(|n| n.text())
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    };
    let error = field("FejlKode").map(|code| match field("FejlTekst") {
        Some(text) => format!("{code}: {}", text.chars().take(300).collect::<String>()),
        None => code,
    });
    Some(PostStatus {
        message_uuid: field("MessageUUID")?,
        status: field("TransaktionsStatusKode")?,
        error,
    })
}
