//! The SMTP session where a transcript file cannot say it: a line longer than the limit, and
//! the session holding pipelined input while a commit is outstanding. Everything else is in
//! the transcripts (`intake/smtp/tests/transcripts/`, run by `transcripts.rs`).

use std::sync::Arc;

use modtag_smtp::session::{Action, Committed, MailCheck, Session};

const PEER: &str = "192.0.2.10";

fn session() -> Session {
    Session::new(
        Arc::new(crate::transcripts::base_config()),
        PEER.parse().unwrap(),
    )
}

/// Feeds `input` and collects replies until the session needs more input. A delivered
/// message is committed as `MT-TEST` so the transcript continues.
fn run(s: &mut Session, input: &str) -> Vec<String> {
    s.feed(input.as_bytes());
    let mut out = Vec::new();
    while let Some(a) = s.next_action() {
        match a {
            Action::Reply(r) => out.extend(r.lines().map(str::to_string)),
            Action::Deliver(_, _) => out.push(
                s.delivered(Committed::Queued("MT-TEST".into()))
                    .trim_end()
                    .to_string(),
            ),
            Action::Close => out.push("<close>".into()),
            Action::StartTls => {
                out.push("<tls>".into());
                s.tls_established("TLSv1_3 TEST".into());
            }
            Action::CheckMail { .. } => {
                out.push(s.mail_checked(MailCheck::Ok).trim_end().to_string())
            }
        }
    }
    out
}

#[test]
fn over_long_lines_are_refused_and_the_session_recovers() {
    let mut s = session();
    let long = "X".repeat(10_000);
    let r = run(&mut s, &long);
    assert!(r[0].starts_with("500 5.5.6"), "{r:?}");
    let r = run(&mut s, "tail of the long line\r\nNOOP\r\n");
    assert_eq!(r, ["250 2.0.0 Ok"]);
}

#[test]
fn pipelined_commands_wait_for_the_commit() {
    let mut s = session();
    run(&mut s, "EHLO c\r\n");
    s.feed(b"MAIL FROM:<a@b>\r\nRCPT TO:<underretning@localhost>\r\nDATA\r\nx\r\n.\r\nNOOP\r\n");
    let mut replies = Vec::new();
    loop {
        match s.next_action() {
            Some(Action::Reply(r)) => replies.push(r),
            Some(Action::Deliver(env, msg)) => {
                assert_eq!(env.rcpt_to, ["underretning@localhost"]);
                assert_eq!(msg, b"x\r\n");
                // Nothing after the message is answered before the commit is reported.
                assert!(s.next_action().is_none());
                replies.push(s.delivered(Committed::TempFail));
            }
            Some(Action::CheckMail { .. }) => replies.push(s.mail_checked(MailCheck::Ok)),
            Some(Action::Close | Action::StartTls) => unreachable!(),
            None => break,
        }
    }
    assert_eq!(replies.len(), 5, "{replies:?}");
    assert!(replies[3].starts_with("451 4.3.0"));
    assert!(replies[4].starts_with("250 2.0.0 Ok"));
}

/// The session asks the loop about the client's rate and storage at `MAIL FROM` (it does no
/// IO itself) and answers nothing after it until the loop has answered, however much the
/// client pipelined; a refusal leaves no transaction open.
#[test]
fn mail_from_waits_for_the_loops_check() {
    let mut s = session();
    run(&mut s, "EHLO c\r\n");
    s.feed(b"MAIL FROM:<a@b> SIZE=300\r\nRCPT TO:<underretning@localhost>\r\n");
    assert_eq!(s.next_action(), Some(Action::CheckMail { size_hint: 300 }));
    assert_eq!(s.next_action(), None, "RCPT waits for the answer");
    assert_eq!(
        s.mail_checked(MailCheck::Full),
        "452 4.3.1 Insufficient system storage; try again later\r\n"
    );
    // No sender was taken, so the pipelined RCPT is out of order.
    let Some(Action::Reply(r)) = s.next_action() else {
        panic!("RCPT is answered once the check is")
    };
    assert!(r.starts_with("503 5.5.1"), "{r}");
    let r = run(&mut s, "MAIL FROM:<a@b>\r\n");
    assert_eq!(r, ["250 2.1.0 Ok"]);
}

/// A message dropped for the memory budget is read to its end, refused there with a
/// temporary error, and the next one in the same session is taken (DATA and BDAT alike).
#[test]
fn a_shed_message_is_refused_at_its_end_and_the_next_is_taken() {
    let mut s = session();
    run(
        &mut s,
        "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<underretning@localhost>\r\nDATA\r\n",
    );
    run(&mut s, "Subject: x\r\n\r\nfirst part\r\n");
    assert!(s.held() > 0);
    s.shed_message();
    assert_eq!(s.held(), 0, "nothing of it is held any more");
    let r = run(&mut s, "second part\r\n.\r\n");
    assert!(r[0].starts_with("452 4.3.1"), "{r:?}");
    let r = run(
        &mut s,
        "MAIL FROM:<a@b>\r\nRCPT TO:<underretning@localhost>\r\nBDAT 5\r\nab\r\nc",
    );
    assert_eq!(
        r.last().map(String::as_str),
        Some("250 2.0.0 Ok: 5 octets received")
    );
    s.shed_message();
    let r = run(&mut s, "BDAT 3 LAST\r\nxyz");
    assert!(r[0].starts_with("452 4.3.1"), "{r:?}");
    let r = run(
        &mut s,
        "MAIL FROM:<a@b>\r\nRCPT TO:<underretning@localhost>\r\nDATA\r\nSubject: y\r\n\r\nok\r\n.\r\n",
    );
    assert_eq!(
        r.last().map(String::as_str),
        Some("250 2.0.0 Ok: queued as MT-TEST")
    );
}
