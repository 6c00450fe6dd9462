//! The SMTP session as a state machine: bytes in, [`Action`]s out, no IO.
//!
//! The server loop feeds what it reads with [`Session::feed`] and drains
//! [`Session::next_action`] until it returns `None` (needs more input). A complete message
//! comes out as [`Action::Deliver`]; the session then waits, holding any pipelined input,
//! until the loop reports the commit with [`Session::delivered`]: replies stay in order and
//! `250` is never sent before the message is durable.

use std::collections::VecDeque;
use std::sync::Arc;

use modtag_config::Channel;
use smtp_proto::{Error as ProtoError, Request};

use super::data::{DataReceiver, Progress};

/// Longest command line we read (RFC 5321 allows 512; extensions make lines longer).
pub const MAX_LINE: usize = 4096;

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub hostname: String,
    pub max_message_size: usize,
    pub max_recipients: usize,
    pub max_errors: u32,
    /// `(lowercased address, channel)`.
    pub mailboxes: Vec<(String, Channel)>,
}

impl SessionConfig {
    fn channel(&self, address: &str) -> Option<Channel> {
        let a = address.to_ascii_lowercase();
        self.mailboxes
            .iter()
            .find(|(m, _)| *m == a)
            .map(|(_, c)| *c)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub helo: String,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub channel: Channel,
}

#[derive(Debug, PartialEq)]
pub enum Action {
    /// Send this reply (complete, CRLF-terminated lines).
    Reply(String),
    /// Commit this message durably, then call [`Session::delivered`].
    Deliver(Envelope, Vec<u8>),
    /// Close the connection (after sending what came before).
    Close,
}

/// How a commit went, as far as the client is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum Committed {
    Queued(String),
    /// Storage failed; the client should try again later.
    TempFail,
    /// The disk is full.
    Full,
}

#[derive(Debug)]
enum State {
    Command,
    Data(Box<DataReceiver>),
    AwaitingCommit,
    Closed,
}

pub struct Session {
    cfg: Arc<SessionConfig>,
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
    pub fn new(cfg: Arc<SessionConfig>) -> Session {
        Session {
            cfg,
            state: State::Command,
            input: Vec::new(),
            discarding: false,
            helo: None,
            mail_from: None,
            rcpts: Vec::new(),
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
        matches!(self.state, State::Data(_) | State::AwaitingCommit)
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        if !self.is_closed() {
            self.input.extend_from_slice(bytes);
        }
    }

    fn reset_transaction(&mut self) {
        self.mail_from = None;
        self.rcpts.clear();
        self.channel = None;
    }

    /// The next thing to do, or `None` when more input is needed (or a commit is awaited).
    pub fn next_action(&mut self) -> Option<Action> {
        loop {
            if let Some(a) = self.pending.pop_front() {
                return Some(a);
            }
            match &mut self.state {
                State::Closed | State::AwaitingCommit => return None,
                State::Data(rx) => {
                    let Progress::Done(used) = rx.feed(&self.input) else {
                        self.input.clear();
                        return None;
                    };
                    self.input.drain(..used);
                    let State::Data(rx) = std::mem::replace(&mut self.state, State::Command) else {
                        unreachable!()
                    };
                    return Some(self.end_of_data(*rx));
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
                    return Some(self.command(&line));
                }
            }
        }
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

    fn end_of_data(&mut self, rx: DataReceiver) -> Action {
        if rx.too_big() {
            self.reset_transaction();
            return reply(format!(
                "552 5.3.4 Message too big for system (limit {} bytes)",
                self.cfg.max_message_size
            ));
        }
        if rx.bare_newline {
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
            },
            rx.message,
        )
    }

    fn command(&mut self, line: &[u8]) -> Action {
        let request = match Request::parse(&mut line.iter()) {
            Ok(r) => r,
            Err(e) => return self.parse_error(e),
        };
        match request {
            Request::Ehlo { host } => {
                self.reset_transaction();
                self.helo = Some(echo(&host));
                let c = &self.cfg;
                reply(format!(
                    "250-{}\r\n250-PIPELINING\r\n250-SIZE {}\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES",
                    c.hostname, c.max_message_size
                ))
            }
            Request::Helo { host } => {
                self.reset_transaction();
                self.helo = Some(echo(&host));
                reply(format!("250 {}", self.cfg.hostname))
            }
            Request::Mail { from } => {
                if self.helo.is_none() {
                    return self.error("503 5.5.1 Error: send HELO/EHLO first");
                }
                if self.mail_from.is_some() {
                    return self.error("503 5.5.1 Error: nested MAIL command");
                }
                if from.size > self.cfg.max_message_size {
                    return reply(format!(
                        "552 5.3.4 Message size exceeds fixed limit of {} bytes",
                        self.cfg.max_message_size
                    ));
                }
                self.mail_from = Some(from.address.to_string());
                reply("250 2.1.0 Ok")
            }
            Request::Rcpt { to } => {
                if self.mail_from.is_none() {
                    return self.error("503 5.5.1 Error: need MAIL command");
                }
                let Some(channel) = self.cfg.channel(&to.address) else {
                    // Say nothing about which mailboxes exist.
                    return self
                        .error("550 5.1.1 Recipient address rejected: no such mailbox here");
                };
                if self.rcpts.len() >= self.cfg.max_recipients {
                    return reply("452 4.5.3 Error: too many recipients");
                }
                if self.channel.is_some_and(|c| c != channel) {
                    // One intake belongs to one desk. 452 makes the client send the rest
                    // in a new transaction, so nothing is lost.
                    return reply(
                        "452 4.5.3 One desk per message: send again separately for this recipient",
                    );
                }
                self.channel = Some(channel);
                if !self
                    .rcpts
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(&to.address))
                {
                    self.rcpts.push(to.address.to_string());
                }
                reply("250 2.1.5 Ok")
            }
            Request::Data => {
                if self.mail_from.is_none() {
                    return self.error("503 5.5.1 Error: need MAIL command");
                }
                if self.rcpts.is_empty() {
                    return self.error("554 5.5.1 Error: no valid recipients");
                }
                self.state = State::Data(Box::new(DataReceiver::new(self.cfg.max_message_size)));
                reply("354 End data with <CR><LF>.<CR><LF>")
            }
            Request::Rset => {
                self.reset_transaction();
                reply("250 2.0.0 Ok")
            }
            Request::Noop { .. } => reply("250 2.0.0 Ok"),
            Request::Vrfy { .. } => {
                reply("252 2.5.0 Cannot VRFY user, but will accept message for our mailboxes")
            }
            Request::Expn { .. } => self.error("502 5.5.1 EXPN not available"),
            Request::Help { .. } => {
                reply("214 2.0.0 modtag accepts mail for its configured mailboxes; see RFC 5321")
            }
            Request::Quit => {
                self.state = State::Closed;
                self.pending.push_back(Action::Close);
                reply("221 2.0.0 Bye")
            }
            Request::StartTls
            | Request::Auth { .. }
            | Request::Bdat { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. }
            | Request::Lhlo { .. } => self.error("502 5.5.1 Error: command not implemented"),
        }
    }

    fn parse_error(&mut self, e: ProtoError) -> Action {
        match e {
            ProtoError::UnknownCommand => self.error("500 5.5.2 Error: command not recognized"),
            ProtoError::InvalidSenderAddress => self.error("501 5.1.7 Bad sender address syntax"),
            ProtoError::InvalidRecipientAddress => {
                self.error("501 5.1.3 Bad recipient address syntax")
            }
            ProtoError::SyntaxError { syntax } => {
                self.error(&format!("501 5.5.4 Syntax: {syntax}"))
            }
            ProtoError::InvalidParameter { param } => {
                self.error(&format!("501 5.5.4 Invalid parameter {}", echo(param)))
            }
            ProtoError::UnsupportedParameter { param } => {
                self.error(&format!("555 5.5.4 Unsupported parameter {}", echo(&param)))
            }
            _ => self.error("501 5.5.4 Syntax error"),
        }
    }
}
