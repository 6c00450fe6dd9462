//! The SMTP client to the relay: lettre's SMTP connection over a TCP socket of our own, with
//! Nagle's algorithm off.
//!
//! lettre 0.11 writes a message and its closing `.` in two writes and never sets
//! `TCP_NODELAY`, so the closing line waited for the relay's delayed ACK: 40 ms a message,
//! and the outbox delivered about 23 messages a second however fast the relay was (fixed
//! upstream in lettre/lettre#1159, not released). Everything SMTP (EHLO, STARTTLS, the
//! transaction's commands and replies) is lettre's, but the transaction is ours, pipelined
//! where the relay offers it (`transaction.rs`). One connection is kept between entries, as
//! lettre's pool did: tested with NOOP before a reuse unless it finished a transaction a
//! moment ago, and closed when nothing is due.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::commands::Ehlo;
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use modtag_config::model::{Relay, RelayTls};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::client::TlsStream;

use super::transaction::{pipelinable, Session, Step};

/// How long connecting (TCP, TLS, the greeting and EHLO) and a NOOP may take.
const TIMEOUT: Duration = Duration::from_secs(60);
/// How long one message's transaction may take: a relay that stalls mid-session must not
/// stop the outbox for good (50 MiB at a slow 1 Mbit/s take 7 minutes).
const SEND_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// A connection that finished a transaction this recently is used again without a NOOP
/// first (within a round of deliveries the NOOP was one round trip in five). Should the
/// relay have closed it meanwhile, the transaction fails before its message went, and is
/// tried once more on a new connection.
const FRESH: Duration = Duration::from_secs(2);

/// Why an entry did not go: the relay's answer (lettre's error, with its reply code), or no
/// connection to the relay at all.
#[derive(Debug)]
pub enum Failed {
    Smtp(lettre::transport::smtp::Error),
    Connect(String),
    /// What the relay cannot carry: failed for good (see `Step::Unsupported`).
    Unsupported(&'static str),
}

/// The relay could not be reached (or stopped answering): worded as lettre words its own
/// connection errors, which the audit entries of earlier deliveries carry.
fn no_relay(why: impl std::fmt::Display) -> Failed {
    Failed::Connect(format!("Connection error: {why}"))
}

/// lettre's error while connecting (the greeting, EHLO, STARTTLS): the relay's state, not
/// the entry's. A relay that refuses everyone for a while must not fail every copy for
/// good; its reply code is kept, its text (the relay's own words) is not.
fn not_connected(e: lettre::transport::smtp::Error) -> Failed {
    match e.status() {
        Some(code) => no_relay(format!("the relay replied {code} while connecting")),
        None => no_relay(e),
    }
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
    kept: Mutex<Option<Session>>,
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
        let plain = pipelinable(envelope, message);
        let mut session = match kept.take() {
            // Not for lettre's transaction, whose failures cannot say whether the message
            // went (and so cannot be tried again at once).
            Some(s) if s.used.elapsed() < FRESH && plain => Some(s),
            Some(mut s) => {
                let answers = tokio::time::timeout(self.timeouts.0, s.conn.test_connected());
                // Dropped without a QUIT when it does not: it may not answer one either.
                (answers.await == Ok(true)).then_some(s)
            }
            None => None,
        };
        loop {
            let reused = session.is_some();
            let mut s = match session.take() {
                Some(s) => s,
                None => self.connect().await?,
            };
            let (unsent, e) = match s.transaction(envelope, message, self.timeouts).await {
                Ok(response) => {
                    s.used = Instant::now();
                    *kept = Some(s);
                    return Ok(response);
                }
                Err(Step::Unsent(e)) => (true, e),
                Err(Step::Sent(e)) => (false, e),
                Err(Step::Stalled) => return Err(no_relay("the relay stopped answering")),
                Err(Step::Unsupported(why)) => {
                    s.used = Instant::now();
                    *kept = Some(s);
                    return Err(Failed::Unsupported(why));
                }
            };
            // As lettre's own transaction: a connection that failed in any step is closed,
            // politely; only a good one is kept.
            let _ = tokio::time::timeout(self.timeouts.0, s.conn.abort()).await;
            // No reply at all on a connection kept from before, and the message not sent:
            // the relay closed it meanwhile. Once more, on a new connection.
            if reused && unsent && e.status().is_none() && !e.is_client() {
                continue;
            }
            return Err(Failed::Smtp(e));
        }
    }

    /// Says goodbye to the relay: nothing more is due for now.
    pub async fn close(&self) {
        if let Some(mut s) = self.kept.lock().await.take() {
            let _ = tokio::time::timeout(self.timeouts.0, s.conn.quit()).await;
        }
    }

    async fn connect(&self) -> Result<Session, Failed> {
        tokio::time::timeout(self.timeouts.0, async {
            let mut conn = self.open().await?;
            // lettre keeps only the extensions it uses from its EHLO: asked once more. A
            // relay that will not answer a second EHLO is simply not pipelined to.
            let pipelining = match conn.command(Ehlo::new(self.hello.clone())).await {
                Ok(ehlo) => ehlo.message().any(|line| {
                    let keyword = line.split_whitespace().next().unwrap_or_default();
                    keyword.eq_ignore_ascii_case("PIPELINING")
                }),
                Err(e) if e.status().is_some() => false,
                Err(e) => return Err(not_connected(e)),
            };
            Ok(Session {
                conn,
                pipelining,
                used: Instant::now(),
            })
        })
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
                        .map_err(not_connected)?;
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
        conn.map_err(not_connected)
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

    /// How a test relay behaves.
    #[derive(Clone, Copy, PartialEq)]
    enum Then {
        Serve,
        /// Offers PIPELINING (RFC 2920).
        Pipelining,
        /// Hangs up on a session after its first message (as a relay's idle timeout would).
        HangUp,
        /// Stops answering once a message's data has come (as a relay that hangs would).
        Stall,
        /// Pipelining, refuses every recipient, and (wrongly) takes DATA all the same.
        RefuseRcpt,
        /// Pipelining, refuses the sender and hangs up.
        RefuseMailAndHangUp,
        /// Refuses a second EHLO in a session (as some relays do).
        EhloOnce,
        /// Greets with a refusal (as a relay in maintenance may).
        NotNow,
    }

    /// What a test relay saw.
    #[derive(Debug, Default, Clone, Copy, PartialEq)]
    struct Seen {
        sessions: usize,
        messages: usize,
        /// MAIL commands that came with more commands behind them in the same read.
        pipelined: usize,
        noops: usize,
    }

    /// A relay on loopback that takes every message, or misbehaves as told.
    async fn relay(then: Then) -> (u16, Arc<std::sync::Mutex<Seen>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(std::sync::Mutex::new(Seen::default()));
        let counts = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counts.lock().unwrap().sessions += 1;
                tokio::spawn(session(stream, then, counts.clone()));
            }
        });
        (port, seen)
    }

    async fn session(stream: tokio::net::TcpStream, then: Then, seen: Arc<std::sync::Mutex<Seen>>) {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        if then == Then::NotNow {
            let _ = write.write_all(b"554 5.3.2 not now\r\n").await;
            return;
        }
        write.write_all(b"220 relay\r\n").await.unwrap();
        let mut data = false;
        let mut line = String::new();
        let mut ehlos = 0;
        let pipelining = matches!(
            then,
            Then::Pipelining | Then::RefuseRcpt | Then::RefuseMailAndHangUp
        );
        loop {
            line.clear();
            if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let command = line.trim_end();
            let reply: &[u8] = match (data, command) {
                (true, ".") => {
                    data = false;
                    if then == Then::RefuseRcpt {
                        b"554 no valid recipients\r\n"
                    } else {
                        seen.lock().unwrap().messages += 1;
                        if then == Then::Stall {
                            std::future::pending::<()>().await;
                        }
                        if then == Then::HangUp {
                            write.write_all(b"250 ok\r\n").await.unwrap();
                            return;
                        }
                        b"250 ok\r\n"
                    }
                }
                (true, _) => continue,
                (false, "DATA") => {
                    data = true;
                    b"354 go on\r\n"
                }
                (false, l) if l.starts_with("EHLO") && then == Then::EhloOnce && ehlos > 0 => {
                    b"503 5.5.1 duplicate EHLO\r\n"
                }
                (false, l) if l.starts_with("MAIL") && then == Then::RefuseMailAndHangUp => {
                    let _ = write.write_all(b"554 5.7.1 not from you\r\n").await;
                    return;
                }
                (false, l) if l.starts_with("EHLO") && pipelining => {
                    b"250-relay\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
                }
                (false, l) if l.starts_with("EHLO") => b"250-relay\r\n250 8BITMIME\r\n",
                (false, l) if l.starts_with("MAIL") => {
                    if !lines.buffer().is_empty() {
                        seen.lock().unwrap().pipelined += 1;
                    }
                    b"250 ok\r\n"
                }
                (false, l) if l.starts_with("RCPT") && then == Then::RefuseRcpt => {
                    b"550 5.1.1 no such user\r\n"
                }
                (false, "NOOP") => {
                    seen.lock().unwrap().noops += 1;
                    b"250 ok\r\n"
                }
                (false, "QUIT") => b"221 bye\r\n",
                _ => b"250 ok\r\n",
            };
            if command.starts_with("EHLO") {
                ehlos += 1;
            }
            if write.write_all(reply).await.is_err() {
                return;
            }
        }
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

    async fn send(m: &Mailer) -> Result<Response, Failed> {
        m.send(&envelope(), b"Subject: x\r\n\r\nhej\r\n").await
    }

    async fn send_three(m: &Mailer) {
        for _ in 0..3 {
            send(m).await.unwrap();
        }
    }

    /// Sends one message, which the relay must refuse for good with `code`.
    async fn refused_for_good(m: &Mailer, code: &str) {
        match send(m).await {
            Err(Failed::Smtp(e)) => {
                assert!(e.is_permanent(), "{e}");
                assert_eq!(e.status().map(|c| c.to_string()).as_deref(), Some(code));
            }
            other => panic!("{other:?}"),
        }
    }

    /// A relay without SMTPUTF8 cannot take a non-ASCII address at all: failed for good
    /// (RFC 6531 bounces it), not tried for ever; the connection stays good for the next.
    #[tokio::test]
    async fn a_non_ascii_address_the_relay_cannot_take_fails_for_good() {
        let (port, seen) = relay(Then::Serve).await;
        let m = mailer(port);
        let to = Envelope::new(
            Some("modtag@localhost".parse().unwrap()),
            vec!["søren@børnehus.localhost".parse().unwrap()],
        )
        .unwrap();
        match m.send(&to, b"Subject: x\r\n\r\nhej\r\n").await {
            Err(Failed::Unsupported(why)) => assert!(why.contains("SMTPUTF8"), "{why}"),
            other => panic!("{other:?}"),
        }
        send(&m).await.unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!((seen.sessions, seen.messages), (1, 1), "{seen:?}");
    }

    /// Entries due together share one session, with no NOOP between them; where the relay
    /// offers PIPELINING, MAIL, RCPT and DATA go together.
    #[tokio::test]
    async fn entries_due_together_share_one_session() {
        for (then, pipelined) in [(Then::Serve, 0), (Then::Pipelining, 3)] {
            let (port, seen) = relay(then).await;
            let m = mailer(port);
            send_three(&m).await;
            m.close().await;
            let seen = *seen.lock().unwrap();
            assert_eq!(
                (seen.sessions, seen.messages, seen.noops),
                (1, 3, 0),
                "{seen:?}"
            );
            assert_eq!(seen.pipelined, pipelined, "{seen:?}");
        }
    }

    /// A session kept from a while ago is tested with NOOP before it is used again.
    #[tokio::test]
    async fn a_session_kept_a_while_is_tested_first() {
        let (port, seen) = relay(Then::Pipelining).await;
        let m = mailer(port);
        send_three(&m).await;
        m.kept.lock().await.as_mut().unwrap().used -= FRESH;
        send_three(&m).await;
        let seen = *seen.lock().unwrap();
        assert_eq!(
            (seen.sessions, seen.messages, seen.noops),
            (1, 6, 1),
            "{seen:?}"
        );
    }

    /// A session the relay closed while the outbox waited is not used: the next entry
    /// goes on a new one instead of failing.
    #[tokio::test]
    async fn a_session_the_relay_closed_is_replaced() {
        let (port, seen) = relay(Then::HangUp).await;
        send_three(&mailer(port)).await;
        let seen = *seen.lock().unwrap();
        assert_eq!((seen.sessions, seen.messages), (3, 3), "{seen:?}");
    }

    /// A refused recipient in a pipelined transaction is the relay's answer (a refusal for
    /// good), and no message goes, though the relay took DATA: a lone dot ends it.
    #[tokio::test]
    async fn a_pipelined_refusal_is_the_answer_and_nothing_goes() {
        let (port, seen) = relay(Then::RefuseRcpt).await;
        let m = mailer(port);
        for _ in 0..2 {
            refused_for_good(&m, "550").await;
        }
        let seen = *seen.lock().unwrap();
        assert_eq!(
            (seen.sessions, seen.messages, seen.pipelined),
            (2, 0, 2),
            "{seen:?}"
        );
    }

    /// A relay that refuses the second EHLO (asked for PIPELINING) is used all the same,
    /// one command at a time.
    #[tokio::test]
    async fn a_relay_that_refuses_a_second_ehlo_still_takes_mail() {
        let (port, seen) = relay(Then::EhloOnce).await;
        send_three(&mailer(port)).await;
        let seen = *seen.lock().unwrap();
        assert_eq!(
            (seen.sessions, seen.messages, seen.pipelined),
            (1, 3, 0),
            "{seen:?}"
        );
    }

    /// A refusal the relay hangs up after is still its answer: for good, not a lost
    /// connection to be tried again later.
    #[tokio::test]
    async fn a_refusal_before_a_hang_up_is_the_answer() {
        let (port, _) = relay(Then::RefuseMailAndHangUp).await;
        refused_for_good(&mailer(port), "554").await;
    }

    /// A relay that refuses to talk at all is not an entry refused for good: the copy
    /// waits and is tried again.
    #[tokio::test]
    async fn a_relay_refusing_every_session_is_no_refusal_of_the_entry() {
        let (port, _) = relay(Then::NotNow).await;
        match send(&mailer(port)).await {
            Err(Failed::Connect(e)) => assert!(e.contains("554") && !e.contains("not now"), "{e}"),
            other => panic!("not a connection error: {other:?}"),
        }
    }

    /// A relay that stops answering mid-session does not stop the outbox: the attempt
    /// ends as a temporary failure, and the next one gets a new session.
    #[tokio::test]
    async fn a_relay_that_stops_answering_is_given_up_on() {
        let (port, seen) = relay(Then::Stall).await;
        let mut m = mailer(port);
        m.timeouts = (Duration::from_millis(500), Duration::from_millis(500));
        for _ in 0..2 {
            match send(&m).await {
                Err(Failed::Connect(e)) => assert!(e.contains("stopped answering"), "{e}"),
                other => panic!("{other:?}"),
            }
        }
        let seen = *seen.lock().unwrap();
        assert_eq!((seen.sessions, seen.messages), (2, 2), "{seen:?}");
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
