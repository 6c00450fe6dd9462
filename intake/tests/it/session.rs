//! The SMTP session as transcripts: what the client sends → what modtag answers.

use std::sync::Arc;

use modtag_config::Channel;
use modtag_intake::smtp::session::{Action, Committed, Session, SessionConfig};

fn session() -> Session {
    Session::new(Arc::new(SessionConfig {
        hostname: "modtag.test".into(),
        max_message_size: 1000,
        max_recipients: 2,
        max_errors: 5,
        mailboxes: vec![
            ("underretning@localhost".into(), Channel::Underretning),
            ("trivselplus@localhost".into(), Channel::Trivselplus),
        ],
    }))
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
        }
    }
    out
}

/// Each step: the client's line, and the start of the last reply line it gets.
fn transcript(steps: &[(&str, &str)]) {
    let mut s = session();
    for (send, expect) in steps {
        let replies = run(&mut s, &format!("{send}\r\n"));
        let last = replies
            .iter()
            .rev()
            .find(|r| *r != "<close>")
            .cloned()
            .unwrap_or_default();
        assert!(
            last.starts_with(expect),
            "{send:?} → {replies:?}, expected {expect:?}"
        );
    }
}

#[test]
fn a_whole_transaction() {
    transcript(&[
        ("EHLO client", "250 ENHANCEDSTATUSCODES"),
        ("MAIL FROM:<a@b.dk>", "250 2.1.0"),
        ("RCPT TO:<underretning@localhost>", "250 2.1.5"),
        ("DATA", "354 "),
        (
            "Subject: hej\r\n\r\ntekst\r\n.",
            "250 2.0.0 Ok: queued as MT-TEST",
        ),
        ("QUIT", "221 2.0.0"),
    ]);
}

#[test]
fn order_of_commands_is_enforced() {
    transcript(&[
        ("MAIL FROM:<a@b.dk>", "503 5.5.1"),
        ("HELO client", "250 modtag.test"),
        ("RCPT TO:<underretning@localhost>", "503 5.5.1"),
        ("DATA", "503 5.5.1"),
        ("MAIL FROM:<a@b.dk>", "250"),
        ("MAIL FROM:<a@b.dk>", "503 5.5.1 Error: nested MAIL"),
    ]);
}

#[test]
fn recipients_unknown_mixed_and_too_many() {
    transcript(&[
        ("EHLO client", "250"),
        ("MAIL FROM:<a@b.dk>", "250"),
        ("RCPT TO:<postmaster@example.com>", "550 5.1.1"),
        ("RCPT TO:<underretning@localhost>", "250 2.1.5"),
        (
            "RCPT TO:<trivselplus@localhost>",
            "452 4.5.3 One desk per message",
        ),
        ("RCPT TO:<UNDERRETNING@localhost>", "250 2.1.5"),
        ("RSET", "250 2.0.0"),
        ("RCPT TO:<underretning@localhost>", "503 5.5.1"),
    ]);
}

#[test]
fn vrfy_expn_help_noop_and_unimplemented() {
    transcript(&[
        ("EHLO client", "250"),
        ("VRFY root", "252 2.5.0"),
        ("EXPN staff", "502 5.5.1"),
        ("NOOP", "250 2.0.0"),
        ("HELP", "214 2.0.0"),
        ("STARTTLS", "502 5.5.1"),
        ("AUTH PLAIN", "502 5.5.1"),
        ("FOO bar", "500 5.5.2"),
    ]);
}

#[test]
fn too_many_errors_close_the_session() {
    let mut s = session();
    let mut all = Vec::new();
    for _ in 0..5 {
        all.extend(run(&mut s, "BOGUS\r\n"));
    }
    assert_eq!(all.last().unwrap(), "<close>");
    assert!(all[all.len() - 2].starts_with("421 4.7.0"), "{all:?}");
    assert!(s.is_closed());
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
            Some(Action::Close) => unreachable!(),
            None => break,
        }
    }
    assert_eq!(replies.len(), 5, "{replies:?}");
    assert!(replies[3].starts_with("451 4.3.0"));
    assert!(replies[4].starts_with("250 2.0.0 Ok"));
}

#[test]
fn storage_full_is_452() {
    let mut s = session();
    s.feed(b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<underretning@localhost>\r\nDATA\r\nx\r\n.\r\n");
    let mut last = String::new();
    while let Some(a) = s.next_action() {
        if let Action::Deliver(..) = a {
            last = s.delivered(Committed::Full);
        }
    }
    assert!(last.starts_with("452 4.3.1"), "{last}");
}
