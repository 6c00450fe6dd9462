//! The SMTP listener: one task per connection, owned by a `JoinSet`, stopped by the
//! shutdown signal. Sessions in the middle of a message may finish it; others get `421`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::session::{Action, Committed, Session, SessionConfig};
use crate::http::AppState;
use crate::intake::{self, Received};

/// How long sessions in DATA may take to finish after shutdown begins.
const DRAIN: Duration = Duration::from_secs(30);

pub async fn serve(
    listener: TcpListener,
    app: Arc<AppState>,
    cfg: Arc<SessionConfig>,
    idle: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let (app, cfg, sd) = (app.clone(), cfg.clone(), shutdown.clone());
                    sessions.spawn(async move {
                        if let Err(e) = session(stream, peer, app, cfg, idle, sd).await {
                            tracing::debug!(%peer, error = %e, "smtp session ended with an error");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "smtp accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(DRAIN, async {
        while sessions.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = sessions.len(),
            "smtp sessions still open after the drain time; closing them"
        );
        sessions.abort_all();
    }
}

async fn session(
    mut stream: TcpStream,
    peer: SocketAddr,
    app: Arc<AppState>,
    cfg: Arc<SessionConfig>,
    idle: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut s = Session::new(cfg);
    stream.write_all(s.greeting().as_bytes()).await?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut stopping = *shutdown.borrow();
    loop {
        let mut out = String::new();
        while let Some(action) = s.next_action() {
            match action {
                Action::Reply(r) => out.push_str(&r),
                Action::Deliver(envelope, message) => {
                    stream.write_all(out.as_bytes()).await?;
                    out.clear();
                    let result = commit(&app, envelope, message, peer).await;
                    out.push_str(&s.delivered(result));
                }
                Action::Close => {
                    stream.write_all(out.as_bytes()).await?;
                    return Ok(());
                }
            }
        }
        if stopping && !s.in_data() {
            out.push_str(&s.shutdown_reply());
            stream.write_all(out.as_bytes()).await?;
            return Ok(());
        }
        if !out.is_empty() {
            stream.write_all(out.as_bytes()).await?;
        }
        tokio::select! {
            read = tokio::time::timeout(idle, stream.read(&mut buf)) => match read {
                Ok(Ok(0)) => return Ok(()),
                Ok(Ok(n)) => s.feed(&buf[..n]),
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    stream.write_all(s.timeout_reply().as_bytes()).await?;
                    return Ok(());
                }
            },
            _ = shutdown.changed(), if !stopping => stopping = true,
        }
    }
}

async fn commit(
    app: &Arc<AppState>,
    envelope: super::session::Envelope,
    raw: Vec<u8>,
    peer: SocketAddr,
) -> Committed {
    let store = app.store.clone();
    let cfg = app.cfg.clone();
    let size = raw.len();
    let rx = Received {
        envelope,
        peer: peer.ip().to_string(),
        tls: "none".into(),
        raw,
    };
    let now = Timestamp::now();
    let result = tokio::task::spawn_blocking(move || intake::accept(&store, &cfg, rx, now)).await;
    let reference = match result {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::error!(%peer, error = %e, "could not store a message; answered with a temporary failure");
            return if e.is_full() {
                Committed::Full
            } else {
                Committed::TempFail
            };
        }
        Err(_) => return Committed::TempFail,
    };
    if let Err(e) = app.store.flush().await {
        tracing::error!(%peer, error = %e, "flush failed; answered with a temporary failure");
        return if e.is_full() {
            Committed::Full
        } else {
            Committed::TempFail
        };
    }
    tracing::info!(%reference, %peer, size, "message accepted");
    // Auto-linked intakes queue copies: let the outbox know.
    app.wake.notify_one();
    Committed::Queued(reference)
}
