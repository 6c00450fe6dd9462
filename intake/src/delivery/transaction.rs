//! One mail transaction on a relay connection (`relay.rs` keeps the connection): MAIL, RCPT
//! and DATA in one write where the relay offers PIPELINING (RFC 2920), a round trip
//! instead of three; one at a time where it does not; lettre's own transaction for what
//! only lettre knows how to send (8 bits, non-ASCII addresses, several recipients).

use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::response::Response;

/// A connection to the relay: whether it offers PIPELINING, and when it last finished a
/// transaction.
pub(super) struct Session {
    pub conn: AsyncSmtpConnection,
    pub pipelining: bool,
    pub used: Instant,
}

/// Where a transaction failed: before its message went (nothing for the relay to deliver),
/// or after; or the relay stopped answering (the connection is not to be used again).
pub(super) enum Step {
    Unsent(lettre::transport::smtp::Error),
    Sent(lettre::transport::smtp::Error),
    Stalled,
    /// The relay cannot carry it at all (a non-ASCII address without SMTPUTF8, 8 bits
    /// without 8BITMIME): RFC 6531 bounces it rather than try for ever.
    Unsupported(&'static str),
}

/// An ASCII message to one ASCII address: every copy the outbox makes but a forward in 8
/// bits. Such a transaction is ours (pipelined where the relay offers it); anything else
/// goes through lettre's own, which also knows SMTPUTF8 and 8BITMIME.
pub(super) fn pipelinable(envelope: &Envelope, message: &[u8]) -> bool {
    envelope.to().len() == 1 && ascii_addresses(envelope) && message.is_ascii()
}

fn ascii_addresses(envelope: &Envelope) -> bool {
    let ascii = |a: &lettre::Address| AsRef::<str>::as_ref(a).is_ascii();
    envelope.to().iter().all(ascii) && envelope.from().is_none_or(ascii)
}

impl Session {
    /// One mail transaction (see [`pipelinable`]): the commands and their replies within
    /// `timeouts.0`, the message within `timeouts.1` (a relay black-holed since its last
    /// transaction is given up on in a minute, not in a quarter of an hour).
    pub async fn transaction(
        &mut self,
        envelope: &Envelope,
        message: &[u8],
        (commands, data): (Duration, Duration),
    ) -> Result<Response, Step> {
        if !pipelinable(envelope, message) {
            use lettre::transport::smtp::extension::Extension;
            let offers = |e| self.conn.server_info().supports_feature(e);
            if !ascii_addresses(envelope) && !offers(Extension::SmtpUtfEight) {
                return Err(Step::Unsupported(
                    "the relay does not take non-ASCII addresses (no SMTPUTF8)",
                ));
            }
            if !message.is_ascii() && !offers(Extension::EightBitMime) {
                return Err(Step::Unsupported(
                    "the relay does not take 8-bit messages (no 8BITMIME)",
                ));
            }
            let sent = tokio::time::timeout(data, self.conn.send(envelope, message));
            return sent.await.map_err(|_| Step::Stalled)?.map_err(Step::Sent);
        }
        let mail = Mail::new(envelope.from().cloned(), vec![]);
        let rcpt = Rcpt::new(envelope.to()[0].clone(), vec![]);
        let accepted = match self.pipelining {
            true => tokio::time::timeout(commands, pipelined(&mut self.conn, mail, rcpt)).await,
            false => {
                tokio::time::timeout(commands, async {
                    for command in [mail.to_string(), rcpt.to_string(), Data.to_string()] {
                        self.conn.command(command).await.map_err(Step::Unsent)?;
                    }
                    Ok(())
                })
                .await
            }
        };
        accepted.map_err(|_| Step::Stalled)??;
        let sent = tokio::time::timeout(data, self.conn.message(message));
        sent.await.map_err(|_| Step::Stalled)?.map_err(Step::Sent)
    }
}

/// MAIL, RCPT and DATA in one write (RFC 2920), and all three replies read in order, so
/// that the session stays in step whatever they say. Ok when DATA was taken.
async fn pipelined(conn: &mut AsyncSmtpConnection, mail: Mail, rcpt: Rcpt) -> Result<(), Step> {
    let replies = [
        conn.command(format!("{mail}{rcpt}{Data}")).await,
        conn.read_response().await,
        conn.read_response().await,
    ];
    let mut refused = None;
    for (i, reply) in replies.into_iter().enumerate() {
        match reply {
            // No reply: the connection is gone, and the rest with it. A refusal read
            // before is the answer (a relay may say 554 and hang up).
            Err(e) if e.status().is_none() => return Err(Step::Unsent(refused.unwrap_or(e))),
            Err(e) => {
                refused.get_or_insert(e);
            }
            // DATA taken though MAIL or RCPT was not: a lone dot ends the empty message
            // (RFC 2920 section 3.1), whose reply says nothing more.
            Ok(_) if i == 2 && refused.is_some() => {
                let _ = conn.command(".\r\n").await;
            }
            Ok(_) => {}
        }
    }
    refused.map_or(Ok(()), |e| Err(Step::Unsent(e)))
}
