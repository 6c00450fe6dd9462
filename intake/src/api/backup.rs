//! `GET /api/v1/backup` and `GET /api/v1/backup/keyring`: a backup of the running store, or
//! its keyring, streamed as it is written (see `modtag_storage::store::backup`). Both are
//! encrypted to the store key; each is audited before its first byte leaves.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::response::Response;
use modtag_storage::audit::{Event, EventKind};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::auth::Caller;
use super::error::ApiError;
use super::state::{audit, ApiState};
use crate::access::Action;

#[derive(Debug, Default, Deserialize)]
pub struct BackupQuery {
    #[serde(default)]
    include_keys: bool,
    /// A standby's position: an increment from it (see `Store::increment`).
    since: Option<u64>,
}

/// A backup (with `include_keys`, the ring and blind-index keys too), or with `since` an
/// increment for a standby.
pub async fn create(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Query(q): Query<BackupQuery>,
) -> Result<Response, ApiError> {
    caller.require(Action::Backup)?;
    if let Some(since) = q.since {
        // Said before the stream starts, not as a stream cut short.
        let size = state.app.store.audit_head()?.map_or(0, |(size, _)| size);
        if since > size {
            return Err(ApiError::unprocessable(format!(
                "--since {since} is past this daemon's audit log ({size} entries): the standby does not follow this daemon"
            )));
        }
    }
    let event = Event::new(
        EventKind::BackupCreated,
        &caller.actor,
        caller.purpose_or("backup"),
    )
    .details(serde_json::json!({ "include_keys": q.include_keys, "since": q.since }));
    audit(&state, event).await?;
    let store = state.app.store.clone();
    let now = state.now();
    Ok(stream(move |out| match q.since {
        Some(since) => store.increment(out, since, now).map(|_| ()),
        None => store.backup(out, q.include_keys, now).map(|_| ()),
    }))
}

/// The keyring: every intake's key, wrapped under the current ring key, and that key.
pub async fn keyring(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(Action::Backup)?;
    let event = Event::new(
        EventKind::KeyringExported,
        &caller.actor,
        caller.purpose_or("backup"),
    );
    audit(&state, event).await?;
    let store = state.app.store.clone();
    let now = state.now();
    Ok(stream(move |out| {
        store.export_keyring(out, now).map(|_| ())
    }))
}

/// A response whose body `write` produces on a blocking thread. A failure part-way ends the
/// body with an error, so the client never takes a cut stream for a whole one.
fn stream(
    write: impl FnOnce(&mut ChannelWriter) -> Result<(), modtag_storage::StoreError> + Send + 'static,
) -> Response {
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let result = write(&mut out).map_err(|e| std::io::Error::other(e.to_string()));
        let result = result.and_then(|()| out.send());
        if let Err(e) = result {
            tracing::error!(error = %e, "a backup stream failed");
            let _ = tx.blocking_send(Err(e));
        }
    });
    Response::builder()
        .header("content-type", "application/octet-stream")
        .body(Body::new(ChannelBody(rx)))
        .expect("static headers")
}

const CHUNK: usize = 1 << 20;

/// Hands what is written to the response in chunks; a client that went away ends the
/// writing with an error.
pub struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct ChannelBody(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| c.map(http_body::Frame::data)))
    }
}
