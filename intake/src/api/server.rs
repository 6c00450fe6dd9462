//! The HTTP listener around the API's router. `axum::serve` gives no header deadline and no
//! connection cap, so a client that opens connections and never finishes a request holds
//! them for ever (tested: still open after 45 s). Here, as for SMTP:
//! - at most `max_connections` at once; beyond, `503` with `Retry-After` and close;
//! - a request's header must arrive within `request_timeout` (also between keep-alive
//!   requests; then the connection is closed), and its body within as long again (`408`);
//! - on shutdown, no new connections; open ones finish their request and close.
//!
//! The same loop serves the TCP listener and the CLI's Unix socket in the data directory;
//! a socket connection carries its peer's operating-system user ([`LocalPeer`]), which the
//! kernel vouches for, in place of an address.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// How long open connections may take to finish after shutdown begins.
const DRAIN: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub request_timeout: Duration,
    /// Bytes a request body may be ([`API_BODY_LIMIT`] for the API and the desk).
    pub body_limit: usize,
    /// Refusals as a page in Danish (the public forms) rather than the API's JSON.
    pub pages: bool,
    /// HTTPS with modtag's own certificate (`[http.tls]`); the handshake must finish within
    /// `request_timeout` too.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Never log a client's address (the public forms, issue 26: an anonymous reporter
    /// leaves no trace, not even by the time of a line next to a reference's).
    pub anonymous: bool,
}

/// The operating-system user at the other end of a Unix socket connection, as the kernel
/// reported it when the connection was accepted (`SO_PEERCRED`).
#[derive(Debug, Clone, Copy)]
pub struct LocalPeer {
    pub uid: u32,
}

/// Who is at the other end of an accepted connection.
pub enum Peer {
    Tcp(SocketAddr),
    Local(LocalPeer),
}

/// A peer as the log may name it: not at all on an anonymous listener.
struct Shown<'a>(&'a Peer, bool);

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shown(_, true) => f.write_str("a public client"),
            Shown(peer, false) => peer.fmt(f),
        }
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Tcp(a) => a.fmt(f),
            Peer::Local(p) => write!(f, "uid {} on the socket", p.uid),
        }
    }
}

/// A listener the loop can serve: TCP, or the CLI's Unix socket.
pub trait Accept: Send + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn accept_peer(&self) -> impl Future<Output = std::io::Result<(Self::Io, Peer)>> + Send;
}

impl Accept for TcpListener {
    type Io = tokio::net::TcpStream;
    async fn accept_peer(&self) -> std::io::Result<(Self::Io, Peer)> {
        let (stream, addr) = self.accept().await?;
        Ok((stream, Peer::Tcp(addr)))
    }
}

impl Accept for UnixListener {
    type Io = tokio::net::UnixStream;
    async fn accept_peer(&self) -> std::io::Result<(Self::Io, Peer)> {
        let (stream, _) = self.accept().await?;
        let uid = stream.peer_cred()?.uid();
        Ok((stream, Peer::Local(LocalPeer { uid })))
    }
}

pub async fn serve<L: Accept>(
    listener: L,
    router: Router,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) {
    let limits = Arc::new(limits);
    let router = router.layer(axum::middleware::from_fn_with_state(
        (
            limits.request_timeout,
            limits.body_limit,
            limits.pages,
            limits.tls.is_some(),
        ),
        request_deadline,
    ));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept_peer() => match accepted {
                Ok((stream, peer)) => {
                    let anonymous = limits.anonymous;
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        let peer = Shown(&peer, anonymous);
                        tracing::warn!(%peer, "HTTP connection limit reached; answered 503");
                        // Over TLS a plain answer means nothing: the connection just closes.
                        if limits.tls.is_none() {
                            conns.spawn(refuse(stream));
                        }
                        continue;
                    };
                    let service = match &peer {
                        Peer::Tcp(addr) => router.clone().layer(axum::Extension(ConnectInfo(*addr))),
                        Peer::Local(local) => router.clone().layer(axum::Extension(*local)),
                    };
                    let (stop, limits) = (shutdown.clone(), limits.clone());
                    conns.spawn(async move {
                        let _slot = slot;
                        let deadline = limits.request_timeout;
                        match &limits.tls {
                            None => connection(stream, (peer, anonymous), service, deadline, stop).await,
                            Some(acceptor) => {
                                let accepted =
                                    tokio::time::timeout(deadline, acceptor.accept(stream)).await;
                                match accepted {
                                    Ok(Ok(tls)) => connection(tls, (peer, anonymous), service, deadline, stop).await,
                                    Ok(Err(e)) => {
                                        let peer = Shown(&peer, anonymous);
                                        tracing::debug!(%peer, error = %e, "TLS handshake failed")
                                    }
                                    Err(_) => {
                                        let peer = Shown(&peer, anonymous);
                                        tracing::debug!(%peer, "TLS handshake timed out")
                                    }
                                }
                            }
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors, most likely: wait rather than spin.
                    tracing::warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    let drained =
        tokio::time::timeout(DRAIN, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        conns.abort_all();
    }
}

async fn connection(
    stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    (peer, anonymous): (Peer, bool),
    service: Router,
    header_timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    // hyper applies a header deadline only when it has a timer.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(conn);
    let mut stopping = *shutdown.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    let peer = Shown(&peer, anonymous);
                    tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
                }
                return;
            }
            _ = shutdown.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Over the connection cap: a short answer without reading the request, then close.
async fn refuse(mut stream: impl AsyncWrite + Unpin) {
    let body = r#"{"error":"too many connections; try again shortly"}"#;
    let reply = format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(reply.as_bytes())).await;
}

/// What the API and the desk take in a request body.
pub const API_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The request body is read within the deadline (`408` otherwise) and up to the body limit
/// (`413`), before the handler runs. Only the reading is timed: a handler that was
/// cancelled half-way could leave its work half-done.
async fn request_deadline(
    axum::extract::State((limit, body_limit, pages, tls)): axum::extract::State<(
        Duration,
        usize,
        bool,
        bool,
    )>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let refusal = |status: StatusCode, message: String, side: &str| {
        if pages {
            let html = format!(
                "<!DOCTYPE html><html lang=\"da\"><head><meta charset=\"utf-8\"><title>{side}</title></head>\
                 <body><main><h1>{side}</h1><p>Intet blev gemt. Åbn formularen igen, og send på ny.</p></main></body></html>"
            );
            (status, axum::response::Html(html)).into_response()
        } else {
            (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
        }
    };
    // Answered here, outside the routers' own layers: the same security headers as every
    // other answer.
    let refuse = |status: StatusCode, message: String, side: &str| {
        let mut res = refusal(status, message, side);
        crate::web::protect(res.headers_mut(), tls);
        res
    };
    let (parts, body) = req.into_parts();
    if pages {
        // A form's body streams to its handler, which checks the rate limits and the CSRF
        // pair before it reads a byte and counts what it reads against the memory budget
        // (issue 25: 120 refused 26 MiB uploads were read whole first, 2.3 GiB); the limit
        // and the deadline travel with the body.
        let body = axum::body::Body::new(Bounded::new(body, body_limit, limit));
        return next
            .run(axum::extract::Request::from_parts(parts, body))
            .await;
    }
    let bytes = match tokio::time::timeout(limit, axum::body::to_bytes(body, body_limit)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the request body is over the {} MiB limit",
                    body_limit / (1024 * 1024)
                ),
                "Indsendelsen er for stor",
            )
        }
        Err(_) => {
            return refuse(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} seconds",
                    limit.as_secs()
                ),
                "Indsendelsen kom ikke frem i tide",
            )
        }
    };
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

/// Why a streamed body was cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyCut {
    /// Over the listener's body limit.
    TooLarge,
    /// Not all there by the request's deadline.
    Late,
}

impl std::fmt::Display for BodyCut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BodyCut::TooLarge => "the request body is over the limit",
            BodyCut::Late => "the request body did not arrive in time",
        })
    }
}

impl std::error::Error for BodyCut {}

/// A request body that ends in [`BodyCut`] once it passes `limit` bytes or its deadline:
/// the limits a buffered body gets, kept while the handler streams it.
struct Bounded {
    inner: axum::body::Body,
    left: usize,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl Bounded {
    fn new(inner: axum::body::Body, limit: usize, within: Duration) -> Bounded {
        Bounded {
            inner,
            left: limit,
            deadline: Box::pin(tokio::time::sleep(within)),
        }
    }
}

impl http_body::Body for Bounded {
    type Data = axum::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyCut::Late))));
        }
        match std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let n = frame.data_ref().map_or(0, |d| d.len());
                if n > self.left {
                    return Poll::Ready(Some(Err(Box::new(BodyCut::TooLarge))));
                }
                self.left -= n;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            other => other.map(|f| f.map(|r| r.map_err(|e| Box::new(e) as Self::Error))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
