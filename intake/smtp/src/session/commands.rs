//! What each SMTP command does to the [`Session`]: the reply, the state it leaves, and
//! what the loop must do (check the sender, start TLS, close).

use std::borrow::Cow;

use smtp_proto::{Error as ProtoError, MailFrom, RcptTo, Request};

use super::{echo, reply, Action, Session, State};
use crate::data::{ChunkReceiver, DataReceiver};
use crate::params::{oversized_number, unoffered_mail_parameter, Verb};

impl Session {
    /// One command line: its reply, or what the loop must do. An empty reply means that
    /// nothing is said yet (a BDAT chunk is read first).
    pub(super) fn command(&mut self, line: &[u8]) -> Action {
        if let Some(verb) = oversized_number(line) {
            return self.oversized(verb);
        }
        let request = match Request::parse(&mut line.iter()) {
            Ok(r) => r,
            Err(e) => return self.parse_error(e),
        };
        match request {
            Request::Ehlo { host } => self.ehlo(&host),
            Request::Helo { host } => {
                self.reset_transaction();
                self.helo = Some(echo(&host));
                reply(format!("250 {}", self.cfg.hostname))
            }
            Request::Mail { from } => self.mail(from),
            Request::Rcpt { to } => self.rcpt(to),
            Request::Data => self.data(),
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
            Request::Bdat {
                chunk_size,
                is_last,
            } => self.bdat(chunk_size, is_last),
            Request::StartTls => self.starttls(),
            Request::Auth { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. }
            | Request::Lhlo { .. } => self.error("502 5.5.1 Error: command not implemented"),
        }
    }

    /// `EHLO`: a new start, and the extensions modtag offers (STARTTLS only where it can,
    /// and not again once TLS is on).
    fn ehlo(&mut self, host: &str) -> Action {
        self.reset_transaction();
        self.helo = Some(echo(host));
        let c = &self.cfg;
        let starttls = if c.tls_available && self.tls.is_none() {
            "250-STARTTLS\r\n"
        } else {
            ""
        };
        reply(format!(
            "250-{}\r\n250-PIPELINING\r\n250-SIZE {}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n{starttls}250 ENHANCEDSTATUSCODES",
            c.hostname, c.max_message_size
        ))
    }

    /// `MAIL FROM`: in order, and with only the parameters offered; the answer waits for the
    /// loop's [`Action::CheckMail`] (the client's rate, what storage can take).
    fn mail(&mut self, from: MailFrom<Cow<'_, str>>) -> Action {
        if self.helo.is_none() {
            return self.error("503 5.5.1 Error: send HELO/EHLO first");
        }
        if self.mail_from.is_some() {
            return self.error("503 5.5.1 Error: nested MAIL command");
        }
        if let Some(param) = unoffered_mail_parameter(&from) {
            return self.error(&format!("555 5.5.4 Unsupported option: {param}"));
        }
        if self.tls.is_none() && self.cfg.tls_required(&from.address, self.peer) {
            return self.error("530 5.7.0 Must issue a STARTTLS command first");
        }
        self.state = State::AwaitingMailCheck {
            from: from.address.to_string(),
            size: from.size,
        };
        Action::CheckMail {
            size_hint: from.size,
        }
    }

    /// `RCPT TO`: one of modtag's mailboxes, all of one transaction's for the same desk.
    fn rcpt(&mut self, to: RcptTo<Cow<'_, str>>) -> Action {
        if self.mail_from.is_none() {
            return self.error("503 5.5.1 Error: need MAIL command");
        }
        if to.orcpt.is_some() || to.rrvs != 0 || to.flags != 0 {
            // DSN's NOTIFY/ORCPT, RRVS, CONNEG: none is offered (RFC 5321 4.1.1.11).
            return self.error("555 5.5.4 Unsupported option: only the address is taken");
        }
        let Some(channel) = self.cfg.channel(&to.address) else {
            // Say nothing about which mailboxes exist.
            return self.error("550 5.1.1 Recipient address rejected: no such mailbox here");
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

    /// `DATA`: after a sender and a recipient, and not mixed with BDAT.
    fn data(&mut self) -> Action {
        if self.chunks.is_some() {
            return self.error("503 5.5.1 Error: DATA after BDAT in one transaction");
        }
        if self.mail_from.is_none() {
            return self.error("503 5.5.1 Error: need MAIL command");
        }
        if self.rcpts.is_empty() {
            return self.error("554 5.5.1 Error: no valid recipients");
        }
        self.state = State::Data(Box::new(DataReceiver::new(self.cfg.max_message_size)));
        reply("354 End data with <CR><LF>.<CR><LF>")
    }

    /// `BDAT`: the chunk is read in [`State::Bdat`], and one sent without a sender and a
    /// recipient is read all the same, then refused.
    fn bdat(&mut self, chunk_size: usize, is_last: bool) -> Action {
        // The chunk follows whatever we answer: read it, then reply.
        let refused = if self.mail_from.is_none() {
            Some("503 5.5.1 Error: need MAIL command".to_string())
        } else if self.rcpts.is_empty() {
            Some("554 5.5.1 Error: no valid recipients".to_string())
        } else {
            None
        };
        if refused.is_some() {
            self.reset_transaction();
        } else if self.chunks.is_none() {
            self.chunks = Some(ChunkReceiver::new(self.cfg.max_message_size));
        }
        self.state = State::Bdat {
            remaining: chunk_size,
            last: is_last,
            refused,
        };
        // Nothing to say yet: the reply comes once the chunk is read.
        Action::Reply(String::new())
    }

    /// `STARTTLS`: once, where TLS is configured, after EHLO.
    fn starttls(&mut self) -> Action {
        if self.tls.is_some() {
            return self.error("554 5.5.1 Error: TLS already active");
        }
        if !self.cfg.tls_available {
            return self.error("502 5.5.1 Error: command not implemented");
        }
        if self.helo.is_none() {
            return self.error("503 5.5.1 Error: send EHLO first");
        }
        // Anything the client pipelined after STARTTLS arrived in plaintext: drop it
        // (the STARTTLS command-injection class of bugs, CVE-2011-0411).
        self.input.clear();
        self.state = State::AwaitingTls;
        self.pending.push_back(Action::StartTls);
        reply("220 2.0.0 Ready to start TLS")
    }

    /// A `SIZE=` or BDAT size too large for any count: the message is too big, and a BDAT
    /// chunk that size can never be read to its end, so the session cannot stay in step with
    /// the client and is closed.
    fn oversized(&mut self, verb: Verb) -> Action {
        let text = format!(
            "552 5.3.4 Message size exceeds fixed limit of {} bytes",
            self.cfg.max_message_size
        );
        if verb == Verb::Bdat {
            self.state = State::Closed;
            self.pending.push_back(Action::Close);
        }
        reply(text)
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
