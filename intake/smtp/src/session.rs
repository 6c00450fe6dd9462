//! The SMTP session as a state machine: bytes in, [`Action`]s out, no IO.
//!
//! The server loop feeds what it reads with [`Session::feed`] and drains
//! [`Session::next_action`] until it returns `None` (needs more input). A complete message
//! comes out as [`Action::Deliver`]; the session then waits, holding any pipelined input,
//! until the loop reports the commit with [`Session::delivered`]: replies stay in order and
//! `250` is never sent before the message is durable.
//!
//! The session reads no clock and touches no storage: whether the client may send another
//! message now (its rate) and whether storage can take one (disk, a poisoned store) it asks
//! the loop with [`Action::CheckMail`], and waits for [`Session::mail_checked`].
//!
//! What each command does is in `commands`; this file holds the session's state and
//! the reading of lines, DATA and BDAT chunks around it.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;

pub use super::answers::{Committed, MailCheck};
pub use super::config::SessionConfig;
use super::data::{ChunkReceiver, DataReceiver, Progress};
use modtag_config::Channel;

mod commands;

/// Longest command line we read (RFC 5321 allows 512; extensions make lines longer).
pub const MAX_LINE: usize = 4096;

#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub helo: String,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub channel: Channel,
    /// TLS version and cipher suite, or `None` for plaintext.
    pub tls: Option<String>,
}

#[derive(Debug, PartialEq)]
pub enum Action {
    /// Send this reply (complete, CRLF-terminated lines).
    Reply(String),
    /// Commit this message durably, then call [`Session::delivered`].
    Deliver(Envelope, Vec<u8>),
    /// Send what came before, then run the TLS handshake and call
    /// [`Session::tls_established`].
    StartTls,
    /// Close the connection (after sending what came before).
    Close,
    /// A client at `MAIL FROM` announced a message of `size_hint` bytes (`SIZE=`, or 0): is
    /// it within its message rate, and can storage take a message now? Answer with
    /// [`Session::mail_checked`]. Asked before the client sends the message, so that it is not
    /// made to send it only to hear at the end that it cannot be stored (Postfix refuses MAIL
    /// the same way when its queue file system is short of space).
    CheckMail { size_hint: usize },
}

#[derive(Debug)]
enum State {
    Command,
    Data(Box<DataReceiver>),
    /// Reading `remaining` bytes of a BDAT chunk; `refused` holds the reply when the chunk
    /// is read only to be thrown away.
    Bdat {
        remaining: usize,
        last: bool,
        refused: Option<String>,
    },
    AwaitingTls,
    /// `MAIL FROM` asked [`Action::CheckMail`]; this is the sender, if the answer allows.
    AwaitingMailCheck {
        from: String,
        size: usize,
    },
    AwaitingCommit,
    Closed,
}

pub struct Session {
    cfg: Arc<SessionConfig>,
    peer: IpAddr,
    tls: Option<String>,
    chunks: Option<ChunkReceiver>,
    state: State,
    input: Vec<u8>,
    /// Discarding an over-long line up to its newline.
    discarding: bool,
    helo: Option<String>,
    mail_from: Option<String>,
    rcpts: Vec<String>,
    channel: Option<Channel>,
    errors: u32,
    pending: VecDeque<Action>,
    /// The message being received was dropped (the memory budget ran out): refused at its
    /// end with a temporary error.
    shed: bool,
}

fn reply(s: impl AsRef<str>) -> Action {
    Action::Reply(format!("{}\r\n", s.as_ref()))
}

/// Client-supplied text we echo back, made harmless: printable ASCII only, short.
fn echo(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(64)
        .collect()
}

impl Session {
    pub fn new(cfg: Arc<SessionConfig>, peer: IpAddr) -> Session {
        Session {
            cfg,
            peer,
            tls: None,
            chunks: None,
            state: State::Command,
            input: Vec::new(),
            discarding: false,
            helo: None,
            mail_from: None,
            rcpts: Vec::new(),
            shed: false,
            channel: None,
            errors: 0,
            pending: VecDeque::new(),
        }
    }

    pub fn greeting(&self) -> String {
        format!("220 {} ESMTP modtag\r\n", self.cfg.hostname)
    }

    /// The reply for a session cut short by shutdown.
    pub fn shutdown_reply(&self) -> String {
        format!(
            "421 4.3.2 {} Service shutting down, try again later\r\n",
            self.cfg.hostname
        )
    }

    /// The reply for a session that was idle too long.
    pub fn timeout_reply(&self) -> String {
        format!(
            "421 4.4.2 {} Error: timeout exceeded\r\n",
            self.cfg.hostname
        )
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// True while a message is being received (shutdown lets these finish).
    pub fn in_data(&self) -> bool {
        matches!(
            self.state,
            State::Data(_) | State::Bdat { .. } | State::AwaitingCommit
        ) || self.chunks.is_some()
    }

    /// While a message streams in, the longer data timeout applies.
    pub fn receiving_message(&self) -> bool {
        matches!(self.state, State::Data(_) | State::Bdat { .. })
    }

    /// Bytes of the client's input and of the message being received that the session
    /// holds (for the memory budget).
    pub fn held(&self) -> usize {
        let message = match &self.state {
            State::Data(rx) => rx.message.len(),
            _ => self.chunks.as_ref().map_or(0, |c| c.message.len()),
        };
        self.input.len() + message
    }

    /// The memory budget ran out: drop the message being received; it is refused at its end
    /// with `452 4.3.1`, and the client's server tries again later.
    pub fn shed_message(&mut self) {
        if let State::Data(rx) = &mut self.state {
            rx.shed();
            self.shed = true;
        }
        if let Some(c) = self.chunks.as_mut() {
            c.shed();
            self.shed = true;
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        if !matches!(self.state, State::Closed | State::AwaitingTls) {
            self.input.extend_from_slice(bytes);
        }
    }

    /// The TLS handshake succeeded: the session starts over, as RFC 3207 §4.2 requires, and
    /// nothing sent in plaintext before the handshake is acted on.
    pub fn tls_established(&mut self, description: String) {
        self.input.clear();
        self.discarding = false;
        self.helo = None;
        self.reset_transaction();
        self.tls = Some(description);
        self.state = State::Command;
    }

    pub fn tls(&self) -> Option<&str> {
        self.tls.as_deref()
    }

    fn reset_transaction(&mut self) {
        self.shed = false;
        self.mail_from = None;
        self.rcpts.clear();
        self.channel = None;
        self.chunks = None;
    }

    /// The next thing to do, or `None` when more input is needed (or a commit is awaited).
    pub fn next_action(&mut self) -> Option<Action> {
        loop {
            if let Some(a) = self.pending.pop_front() {
                return Some(a);
            }
            match &mut self.state {
                State::Closed
                | State::AwaitingCommit
                | State::AwaitingTls
                | State::AwaitingMailCheck { .. } => return None,
                State::Bdat {
                    remaining,
                    last,
                    refused,
                } => {
                    let n = (*remaining).min(self.input.len());
                    let chunk: Vec<u8> = self.input.drain(..n).collect();
                    *remaining -= n;
                    if refused.is_none() {
                        if let Some(c) = self.chunks.as_mut() {
                            c.push(&chunk);
                        }
                    }
                    if *remaining > 0 {
                        return None;
                    }
                    let (last, refused) = (*last, refused.take());
                    self.state = State::Command;
                    if let Some(text) = refused {
                        return Some(self.error(&text));
                    }
                    if !last {
                        let size = self.chunks.as_ref().map_or(0, |c| c.size);
                        return Some(reply(format!("250 2.0.0 Ok: {size} octets received")));
                    }
                    let mut c = self.chunks.take().expect("a BDAT transaction");
                    c.finish();
                    return Some(self.end_of_message(c.too_big(), c.bare_newline, c.message));
                }
                State::Data(rx) => {
                    let Progress::Done(used) = rx.feed(&self.input) else {
                        self.input.clear();
                        return None;
                    };
                    self.input.drain(..used);
                    let State::Data(rx) = std::mem::replace(&mut self.state, State::Command) else {
                        unreachable!()
                    };
                    return Some(self.end_of_message(rx.too_big(), rx.bare_newline, rx.message));
                }
                State::Command => {
                    let Some(nl) = self.input.iter().position(|&b| b == b'\n') else {
                        if self.input.len() > MAX_LINE {
                            self.input.clear();
                            self.discarding = true;
                            return Some(self.error("500 5.5.6 Line too long"));
                        }
                        return None;
                    };
                    let line: Vec<u8> = self.input.drain(..=nl).collect();
                    if std::mem::take(&mut self.discarding) {
                        continue;
                    }
                    if line.len() > MAX_LINE {
                        return Some(self.error("500 5.5.6 Line too long"));
                    }
                    match self.command(&line) {
                        Action::Reply(r) if r.is_empty() => continue,
                        action => return Some(action),
                    }
                }
            }
        }
    }

    /// Answers [`Action::CheckMail`]: the reply to `MAIL FROM`. A rate that is used up is
    /// said first (as before the size is looked at), then a message too large for the limit,
    /// then what storage says.
    pub fn mail_checked(&mut self, check: MailCheck) -> String {
        let State::AwaitingMailCheck { from, size } =
            std::mem::replace(&mut self.state, State::Command)
        else {
            return String::new();
        };
        let text = match check {
            MailCheck::RateLimited => {
                "450 4.7.1 Error: too many messages from your address; try again later".into()
            }
            _ if size > self.cfg.max_message_size => format!(
                "552 5.3.4 Message size exceeds fixed limit of {} bytes",
                self.cfg.max_message_size
            ),
            MailCheck::Full => "452 4.3.1 Insufficient system storage; try again later".into(),
            MailCheck::Busy => {
                "452 4.3.1 Insufficient system resources: too many messages at once; try again later".into()
            }
            MailCheck::Unavailable => {
                "451 4.3.0 Error: storage is unavailable; try again later".into()
            }
            MailCheck::Ok => {
                self.mail_from = Some(from);
                "250 2.1.0 Ok".into()
            }
        };
        format!("{text}\r\n")
    }

    /// Reports the commit of the message handed out by [`Action::Deliver`].
    pub fn delivered(&mut self, result: Committed) -> String {
        self.state = State::Command;
        self.reset_transaction();
        match result {
            Committed::Queued(reference) => format!("250 2.0.0 Ok: queued as {reference}\r\n"),
            Committed::TempFail => {
                "451 4.3.0 Error: could not store the message; try again later\r\n".into()
            }
            Committed::Full => "452 4.3.1 Insufficient system storage; try again later\r\n".into(),
        }
    }

    /// A reply that counts as a client error; too many of them end the session.
    fn error(&mut self, text: &str) -> Action {
        self.errors += 1;
        if self.errors >= self.cfg.max_errors {
            self.state = State::Closed;
            self.pending.push_back(reply(format!(
                "421 4.7.0 {} Error: too many errors",
                self.cfg.hostname
            )));
            self.pending.push_back(Action::Close);
        }
        reply(text)
    }

    fn end_of_message(&mut self, too_big: bool, bare_newline: bool, message: Vec<u8>) -> Action {
        if std::mem::take(&mut self.shed) {
            self.reset_transaction();
            return reply(
                "452 4.3.1 Insufficient system resources: too many messages at once; try again later",
            );
        }
        if too_big {
            self.reset_transaction();
            return reply(format!(
                "552 5.3.4 Message too big for system (limit {} bytes)",
                self.cfg.max_message_size
            ));
        }
        if bare_newline {
            self.reset_transaction();
            return self.error(
                "550 5.5.2 Message refused: it contains a bare CR or LF; lines must end with CRLF (RFC 5321 2.3.8)",
            );
        }
        self.state = State::AwaitingCommit;
        Action::Deliver(
            Envelope {
                helo: self.helo.clone().unwrap_or_default(),
                mail_from: self.mail_from.clone().unwrap_or_default(),
                rcpt_to: self.rcpts.clone(),
                channel: self.channel.unwrap_or(Channel::Underretning),
                tls: self.tls.clone(),
            },
            message,
        )
    }
}
