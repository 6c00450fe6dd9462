//! The SMTP listener: one task per connection, owned by a `JoinSet`, stopped by the
//! shutdown signal. Sessions in the middle of a message may finish it; others get `421`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::disk::DiskGate;
use super::limits::{RateLimiter, Sessions};
use super::session::{Action, Committed, Envelope, MailCheck, Session, SessionConfig};
use super::stats::SmtpStats;
use crate::app::App;
use crate::workflow::accept::{self, Received};

/// How long sessions in DATA may take to finish after shutdown begins.
const DRAIN: Duration = Duration::from_secs(30);
/// How long a TLS handshake may take.
const HANDSHAKE: Duration = Duration::from_secs(30);
/// What a session must find room for in the memory budget at `MAIL FROM`.
const RESERVE: usize = 1 << 20;

/// A connection before or after STARTTLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What a listener needs beyond the session configuration.
pub struct Listener {
    pub app: Arc<App>,
    pub stats: Arc<SmtpStats>,
    pub cfg: Arc<SessionConfig>,
    /// Messages per minute per client, asked at `MAIL FROM`.
    pub limiter: RateLimiter,
    /// Whether storage can take a message, asked at `MAIL FROM`.
    pub gate: DiskGate,
    pub tls: Option<TlsAcceptor>,
    pub sessions: Arc<Sessions>,
    /// Time for a whole command line, from the previous reply.
    pub idle: Duration,
    /// Time for a whole message or chunk, plus one second per `min_data_rate` bytes.
    pub data_timeout: Duration,
    pub min_data_rate: u64,
    /// SPF/DKIM/DMARC, when turned on.
    pub verifier: Option<crate::sender_auth::Verifier>,
}

pub async fn serve(listener: TcpListener, l: Arc<Listener>, mut shutdown: watch::Receiver<bool>) {
    l.stats.set_listening(true);
    // Whichever way the loop ends, /readyz says so.
    struct Down(Arc<SmtpStats>);
    impl Drop for Down {
        fn drop(&mut self) {
            self.0.set_listening(false);
        }
    }
    let _down = Down(l.stats.clone());
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((mut stream, peer)) => {
                    let Some(slot) = l.sessions.admit(peer.ip()) else {
                        // Answer without a task of its own: a flood must not cost us tasks.
                        tracing::warn!(%peer, "session limit reached; connection refused with 421");
                        l.stats.connection_refused();
                        let msg = format!("421 4.7.0 {} Error: too many connections; try again later\r\n", l.cfg.hostname);
                        l.stats.replies(&msg);
                        let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(msg.as_bytes())).await;
                        continue;
                    };
                    let (l, sd) = (l.clone(), shutdown.clone());
                    sessions.spawn(async move {
                        let _slot = slot;
                        let _open = l.stats.session();
                        if let Err(e) = session(Box::new(stream), peer, l, sd).await {
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
    mut stream: Box<dyn Io>,
    peer: SocketAddr,
    l: Arc<Listener>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut s = Session::new(l.cfg.clone(), peer.ip());
    stream.write_all(s.greeting().as_bytes()).await?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut stopping = *shutdown.borrow();
    // Deadlines are per request (a command line, a message), not per read: a client that
    // sends a byte now and then must not hold its session for ever (Postfix's
    // smtpd_per_request_deadline and smtpd_min_data_rate).
    let mut request_start = tokio::time::Instant::now();
    let mut request_bytes: u64 = 0;
    // This session's share of the memory budget: what it holds of a message.
    let mut lease = crate::memory::Lease::new(l.app.memory.clone());
    loop {
        let mut out = String::new();
        let mut answered = false;
        while let Some(action) = s.next_action() {
            answered = true;
            match action {
                Action::Reply(r) => out.push_str(&r),
                Action::Deliver(envelope, message) => {
                    l.stats.replies(&out);
                    stream.write_all(out.as_bytes()).await?;
                    out.clear();
                    let result = commit(&l, envelope, message, peer).await;
                    out.push_str(&s.delivered(result));
                    lease.shrink_to(s.held());
                }
                Action::StartTls => {
                    l.stats.replies(&out);
                    stream.write_all(out.as_bytes()).await?;
                    out.clear();
                    // A failed handshake ends the session: nothing was said in clear since.
                    let Some((tls, description)) = start_tls(&l, stream, peer).await else {
                        return Ok(());
                    };
                    s.tls_established(description);
                    stream = tls;
                }
                Action::CheckMail { size_hint } => {
                    // A first part of the message must fit in the budget before the client
                    // is asked to send it. Not the announced size: a client claiming SIZE=
                    // of the limit in many sessions would hold the budget without sending.
                    let check = if !l.limiter.allow(peer.ip(), std::time::Instant::now()) {
                        MailCheck::RateLimited
                    } else if !lease.grow_to(s.held() + RESERVE) {
                        MailCheck::Busy
                    } else {
                        l.gate.check(size_hint)
                    };
                    out.push_str(&s.mail_checked(check));
                }
                Action::Close => {
                    l.stats.replies(&out);
                    stream.write_all(out.as_bytes()).await?;
                    return Ok(());
                }
            }
        }
        if stopping && !s.in_data() {
            out.push_str(&s.shutdown_reply());
            l.stats.replies(&out);
            stream.write_all(out.as_bytes()).await?;
            return Ok(());
        }
        if !out.is_empty() {
            l.stats.replies(&out);
            stream.write_all(out.as_bytes()).await?;
        }
        if answered {
            request_start = tokio::time::Instant::now();
            request_bytes = 0;
        }
        let limit = if s.receiving_message() {
            l.data_timeout + Duration::from_secs(request_bytes / l.min_data_rate.max(1))
        } else {
            l.idle
        };
        tokio::select! {
            read = tokio::time::timeout_at(request_start + limit, stream.read(&mut buf)) => match read {
                Ok(Ok(0)) => return Ok(()),
                Ok(Ok(n)) => {
                    request_bytes += n as u64;
                    s.feed(&buf[..n]);
                    // A message that outgrows its place and finds no more is dropped and
                    // refused at its end; the session reads on to stay in step.
                    if !lease.grow_to(s.held()) {
                        s.shed_message();
                        if s.receiving_message() {
                            tracing::warn!(%peer, "message memory budget used up; refusing a message with 452");
                        }
                        lease.shrink_to(s.held());
                    }
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    let reply = s.timeout_reply();
                    l.stats.replies(&reply);
                    stream.write_all(reply.as_bytes()).await?;
                    return Ok(());
                }
            },
            _ = shutdown.changed(), if !stopping => stopping = true,
        }
    }
}

/// The STARTTLS handshake (within `HANDSHAKE`), counted; the encrypted stream and what
/// was agreed (protocol and cipher, for the item's transport), or `None` when it failed.
async fn start_tls(
    l: &Listener,
    stream: Box<dyn Io>,
    peer: SocketAddr,
) -> Option<(Box<dyn Io>, String)> {
    let acceptor = l
        .tls
        .clone()
        .expect("STARTTLS is offered only with a certificate");
    let tls = match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::info!(%peer, error = %e, "TLS handshake failed");
            l.stats.tls(false);
            return None;
        }
        Err(_) => {
            l.stats.tls(false);
            return None;
        }
    };
    l.stats.tls(true);
    let conn = tls.get_ref().1;
    let description = format!(
        "{} {}",
        conn.protocol_version()
            .map_or("TLS?".into(), |v| format!("{v:?}")),
        conn.negotiated_cipher_suite()
            .map_or("?".into(), |c| format!("{:?}", c.suite())),
    );
    Some((Box::new(tls), description))
}

async fn commit(l: &Listener, envelope: Envelope, raw: Vec<u8>, peer: SocketAddr) -> Committed {
    let app = &l.app;
    // Verdicts only: they are recorded, never used to refuse (any concern counts).
    let sender_auth = match &l.verifier {
        Some(v) => Some(
            v.verify(&raw, peer.ip(), &envelope.helo, &envelope.mail_from)
                .await,
        ),
        None => None,
    };
    let store = app.store.clone();
    let policy = app.policy.current();
    let (cfg, reader) = (policy.cfg.clone(), policy.reader.clone());
    let size = raw.len();
    let rx = Received {
        tls: envelope.tls.clone().unwrap_or_else(|| "none".into()),
        envelope,
        peer: peer.ip().to_string(),
        raw,
        sender_auth,
        signed_in: None,
    };
    let now = app.clock.now();
    let queued = store.outbox_queued();
    // Stored and made durable in one trip off the runtime (the commit's leader flushes):
    // a second hand-off for the group commit cost a thread wake-up each way (issue 33).
    let result =
        tokio::task::spawn_blocking(move || accept::accept(&store, &cfg, &reader, rx, now)).await;
    let reference = match result {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::error!(%peer, error = %e, "could not store a message durably; answered with a temporary failure");
            return if e.is_full() {
                Committed::Full
            } else {
                Committed::TempFail
            };
        }
        Err(_) => return Committed::TempFail,
    };
    tracing::info!(%reference, %peer, size, "message accepted");
    l.stats.accepted(size);
    // An intake that queued copies (a kvittering, an auto-link's copies) has news for the
    // outbox; waking it after every message cost a round of its schedule each (issue 33).
    // Another commit in between may wake it for nothing, never the other way round.
    if app.store.outbox_queued() != queued {
        app.wake.notify_one();
    }
    Committed::Queued(reference)
}
