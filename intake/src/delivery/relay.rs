//! The SMTP client to the relay: lettre's SMTP connection over a TCP socket of our own, with
//! Nagle's algorithm off.
//!
//! lettre 0.11 writes a message and its closing `.` in two writes and never sets
//! `TCP_NODELAY`, so the closing line waited for the relay's delayed ACK: 40 ms a message,
//! and the outbox delivered about 23 messages a second however fast the relay was (fixed
//! upstream in lettre/lettre#1159, not released). Everything SMTP (EHLO, STARTTLS, the
//! transaction, the replies) is still lettre's. One connection is kept between entries, as
//! lettre's pool did, tested with NOOP before each reuse, and closed when nothing is due.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use modtag_config::model::{Relay, RelayTls};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::client::TlsStream;

/// How long connecting (TCP, TLS, the greeting and EHLO) and a NOOP may take.
const TIMEOUT: Duration = Duration::from_secs(60);
/// How long one message's transaction may take: a relay that stalls mid-session must not
/// stop the outbox for good (50 MiB at a slow 1 Mbit/s take 7 minutes).
const SEND_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Why an entry did not go: the relay's answer (lettre's error, with its reply code), or no
/// connection to the relay at all.
#[derive(Debug)]
pub enum Failed {
    Smtp(lettre::transport::smtp::Error),
    Connect(String),
}

/// The relay could not be reached (or stopped answering): worded as lettre words its own
/// connection errors, which the audit entries of earlier deliveries carry.
fn no_relay(why: impl std::fmt::Display) -> Failed {
    Failed::Connect(format!("Connection error: {why}"))
}

enum Mode {
    Plain,
    /// STARTTLS, required: a relay that does not offer it gets nothing.
    Starttls(TlsParameters),
    /// TLS from the first byte ("SMTPS").
    Wrapper(Arc<rustls::ClientConfig>),
}

/// One relay, reached one way.
pub struct Mailer {
    host: String,
    port: u16,
    mode: Mode,
    hello: ClientId,
    kept: Mutex<Option<AsyncSmtpConnection>>,
    /// [`TIMEOUT`] and [`SEND_TIMEOUT`] (shorter in tests).
    timeouts: (Duration, Duration),
}

impl Mailer {
    /// The relay as configured, or (`forced`) with TLS required even where the configuration
    /// says none.
    pub fn new(relay: &Relay, forced: bool) -> Result<Mailer, String> {
        let params = || TlsParameters::new(relay.host.clone()).map_err(|e| e.to_string());
        let mode = match relay.tls {
            RelayTls::None if !forced => Mode::Plain,
            RelayTls::None | RelayTls::Starttls => Mode::Starttls(params()?),
            RelayTls::Tls => Mode::Wrapper(Arc::new(wrapper_config()?)),
        };
        Ok(Mailer {
            host: relay.host.clone(),
            port: relay.port,
            mode,
            hello: ClientId::default(),
            kept: Mutex::new(None),
            timeouts: (TIMEOUT, SEND_TIMEOUT),
        })
    }

    /// Sends one message; the kept connection if it still answers, else a new one.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<Response, Failed> {
        let mut kept = self.kept.lock().await;
        let mut conn = match kept.take() {
            Some(mut c) => {
                if tokio::time::timeout(self.timeouts.0, c.test_connected()).await == Ok(true) {
                    c
                } else {
                    // Dropped without a QUIT: it may not answer one either.
                    self.connect().await?
                }
            }
            None => self.connect().await?,
        };
        // lettre closes a connection that failed in any step: only a good one is kept.
        let sent = tokio::time::timeout(self.timeouts.1, conn.send(envelope, message))
            .await
            .map_err(|_| no_relay("the relay stopped answering"))?
            .map_err(Failed::Smtp)?;
        *kept = Some(conn);
        Ok(sent)
    }

    /// Says goodbye to the relay: nothing more is due for now.
    pub async fn close(&self) {
        if let Some(mut c) = self.kept.lock().await.take() {
            let _ = tokio::time::timeout(self.timeouts.0, c.quit()).await;
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, Failed> {
        tokio::time::timeout(self.timeouts.0, self.open())
            .await
            .map_err(|_| no_relay("connection timed out"))?
    }

    async fn open(&self) -> Result<AsyncSmtpConnection, Failed> {
        let tcp = TcpStream::connect((&*self.host, self.port))
            .await
            .map_err(no_relay)?;
        // The point of this module (see its comment).
        tcp.set_nodelay(true).map_err(no_relay)?;
        let hello = &self.hello;
        let conn = match &self.mode {
            Mode::Plain => AsyncSmtpConnection::connect_with_transport(Box::new(tcp), hello).await,
            Mode::Starttls(params) => {
                let mut conn =
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), hello).await;
                if let Ok(c) = &mut conn {
                    // Fails (and closes) if the relay does not offer STARTTLS.
                    c.starttls(params.clone(), hello)
                        .await
                        .map_err(Failed::Smtp)?;
                }
                conn
            }
            Mode::Wrapper(config) => {
                let name =
                    rustls::pki_types::ServerName::try_from(self.host.clone()).map_err(no_relay)?;
                let tls = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(no_relay)?;
                AsyncSmtpConnection::connect_with_transport(Box::new(Tls(tls)), hello).await
            }
        };
        conn.map_err(Failed::Smtp)
    }
}

/// TLS from the first byte, to the web's certificate authorities (as lettre's own
/// `TlsParameters::new` trusts them), TLS 1.2 or 1.3 only.
fn wrapper_config() -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A TLS stream as lettre takes a stream of its own.
#[derive(Debug)]
struct Tls(TlsStream<TcpStream>);

impl AsyncTokioStream for Tls {
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl AsyncRead for Tls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    /// How a test relay misbehaves.
    #[derive(Clone, Copy, PartialEq)]
    enum Then {
        Serve,
        /// Hangs up on a session after its first message (as a relay's idle timeout would).
        HangUp,
        /// Stops answering once a message's data has come (as a relay that hangs would).
        Stall,
    }

    /// A relay on loopback that takes every message, or misbehaves as told. Counts
    /// sessions and messages.
    async fn relay(then: Then) -> (u16, Arc<std::sync::Mutex<(usize, usize)>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let counts = Arc::new(std::sync::Mutex::new((0, 0)));
        let seen = counts.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                seen.lock().unwrap().0 += 1;
                let seen = seen.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 relay\r\n").await.unwrap();
                    let mut data = false;
                    while let Ok(Some(line)) = lines.next_line().await {
                        let reply: &[u8] = match (data, line.as_str()) {
                            (true, ".") => {
                                data = false;
                                seen.lock().unwrap().1 += 1;
                                if then == Then::Stall {
                                    std::future::pending::<()>().await;
                                }
                                if then == Then::HangUp {
                                    write.write_all(b"250 ok\r\n").await.unwrap();
                                    return;
                                }
                                b"250 ok\r\n"
                            }
                            (true, _) => continue,
                            (false, "DATA") => {
                                data = true;
                                b"354 go on\r\n"
                            }
                            (false, l) if l.starts_with("EHLO") => b"250-relay\r\n250 8BITMIME\r\n",
                            (false, "QUIT") => b"221 bye\r\n",
                            _ => b"250 ok\r\n",
                        };
                        if write.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (port, counts)
    }

    fn mailer(port: u16) -> Mailer {
        let relay = Relay {
            host: "127.0.0.1".into(),
            port,
            tls: RelayTls::None,
            from: "modtag@localhost".into(),
            retry_initial_secs: 30,
            retry_max_secs: 3600,
        };
        Mailer::new(&relay, false).unwrap()
    }

    fn envelope() -> Envelope {
        Envelope::new(
            Some("modtag@localhost".parse().unwrap()),
            vec!["raadgiver@kommune.localhost".parse().unwrap()],
        )
        .unwrap()
    }

    #[tokio::test]
    async fn entries_due_together_share_one_session() {
        let (port, counts) = relay(Then::Serve).await;
        let m = mailer(port);
        for _ in 0..3 {
            m.send(&envelope(), b"Subject: x\r\n\r\nhej\r\n")
                .await
                .unwrap();
        }
        m.close().await;
        assert_eq!(*counts.lock().unwrap(), (1, 3), "(sessions, messages)");
    }

    /// A session the relay closed while the outbox waited is not used: the next entry
    /// goes on a new one instead of failing.
    #[tokio::test]
    async fn a_session_the_relay_closed_is_replaced() {
        let (port, counts) = relay(Then::HangUp).await;
        let m = mailer(port);
        for _ in 0..3 {
            m.send(&envelope(), b"Subject: x\r\n\r\nhej\r\n")
                .await
                .unwrap();
        }
        assert_eq!(*counts.lock().unwrap(), (3, 3), "(sessions, messages)");
    }

    /// A relay that stops answering mid-session does not stop the outbox: the attempt
    /// ends as a temporary failure, and the next one gets a new session.
    #[tokio::test]
    async fn a_relay_that_stops_answering_is_given_up_on() {
        let (port, counts) = relay(Then::Stall).await;
        let mut m = mailer(port);
        m.timeouts = (Duration::from_millis(500), Duration::from_millis(500));
        for _ in 0..2 {
            match m.send(&envelope(), b"Subject: x\r\n\r\nhej\r\n").await {
                Err(Failed::Connect(e)) => assert!(e.contains("stopped answering"), "{e}"),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(*counts.lock().unwrap(), (2, 2), "(sessions, messages)");
    }

    #[tokio::test]
    async fn no_relay_is_a_connection_error_not_a_refusal() {
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        match mailer(port).send(&envelope(), b"\r\n").await {
            Err(Failed::Connect(e)) => assert!(e.starts_with("Connection error"), "{e}"),
            _ => panic!("sent to a closed port?"),
        }
    }
}
