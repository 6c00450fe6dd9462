//! The SMTP session as transcripts: what the client sends → what modtag answers.

use std::sync::Arc;

use modtag_config::Channel;
use modtag_intake::smtp::session::{Action, Committed, Session, SessionConfig};

fn config() -> SessionConfig {
    SessionConfig {
        hostname: "modtag.test".into(),
        max_message_size: 1000,
        max_recipients: 2,
        max_errors: 5,
        mailboxes: vec![
            ("underretning@localhost".into(), Channel::Underretning),
            ("trivselplus@localhost".into(), Channel::Trivselplus),
        ],
        tls_available: true,
        ..SessionConfig::default()
    }
}

const PEER: &str = "192.0.2.10";

fn session() -> Session {
    Session::new(Arc::new(config()), PEER.parse().unwrap())
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
            Some(Action::Close | Action::StartTls) => unreachable!(),
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

#[test]
fn ehlo_advertises_what_is_implemented() {
    let mut s = session();
    let r = run(&mut s, "EHLO c\r\n");
    for ext in [
        "PIPELINING",
        "SIZE 1000",
        "8BITMIME",
        "SMTPUTF8",
        "CHUNKING",
        "STARTTLS",
        "ENHANCEDSTATUSCODES",
    ] {
        assert!(r.iter().any(|l| l[4..] == *ext), "{ext} missing from {r:?}");
    }
}

#[test]
fn starttls_drops_what_was_pipelined_after_it_and_starts_over() {
    let mut s = session();
    run(&mut s, "EHLO c\r\n");
    // The injected MAIL FROM arrived in plaintext with STARTTLS: it must not be acted on.
    let r = run(&mut s, "STARTTLS\r\nMAIL FROM:<injected@evil>\r\n");
    assert_eq!(r, ["220 2.0.0 Ready to start TLS", "<tls>"]);
    assert_eq!(s.tls(), Some("TLSv1_3 TEST"));
    // The session starts over: EHLO again, and STARTTLS is no longer offered.
    assert!(run(&mut s, "RCPT TO:<underretning@localhost>\r\n")[0].starts_with("503"));
    let ehlo = run(&mut s, "EHLO c\r\n");
    assert!(!ehlo.iter().any(|l| l.contains("STARTTLS")), "{ehlo:?}");
    assert!(run(&mut s, "STARTTLS\r\n")[0].starts_with("554 5.5.1"));
}

#[test]
fn forced_tls_by_domain_network_or_globally() {
    let cases = [
        (
            SessionConfig {
                require_tls_domains: vec!["skole.dk".into()],
                ..config()
            },
            "a@bakke.skole.dk",
            true,
        ),
        (
            SessionConfig {
                require_tls_domains: vec!["skole.dk".into()],
                ..config()
            },
            "a@ikke-skole.dk",
            false,
        ),
        (
            SessionConfig {
                require_tls_networks: vec!["192.0.2.0/24".parse().unwrap()],
                ..config()
            },
            "a@b.dk",
            true,
        ),
        (
            SessionConfig {
                require_tls_networks: vec!["198.51.100.0/24".parse().unwrap()],
                ..config()
            },
            "a@b.dk",
            false,
        ),
        (
            SessionConfig {
                require_tls: true,
                ..config()
            },
            "a@b.dk",
            true,
        ),
    ];
    for (cfg, sender, forced) in cases {
        let mut s = Session::new(Arc::new(cfg), PEER.parse().unwrap());
        run(&mut s, "EHLO c\r\n");
        let r = run(&mut s, &format!("MAIL FROM:<{sender}>\r\n"));
        assert_eq!(r[0].starts_with("530 5.7.0"), forced, "{sender}: {r:?}");
        if forced {
            run(&mut s, "STARTTLS\r\n");
            run(&mut s, "EHLO c\r\n");
            assert!(
                run(&mut s, &format!("MAIL FROM:<{sender}>\r\n"))[0].starts_with("250"),
                "after TLS"
            );
        }
    }
}

#[test]
fn tls_is_recorded_in_the_envelope() {
    let mut s = session();
    s.feed(b"EHLO c\r\nSTARTTLS\r\n");
    while let Some(a) = s.next_action() {
        if a == Action::StartTls {
            s.tls_established("TLSv1_2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".into());
        }
    }
    s.feed(b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<underretning@localhost>\r\nDATA\r\nx\r\n.\r\n");
    let env = std::iter::from_fn(|| s.next_action())
        .find_map(|a| match a {
            Action::Deliver(env, _) => Some(env),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        env.tls.as_deref(),
        Some("TLSv1_2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
    );
}

#[test]
fn bdat_chunks_make_one_message() {
    let mut s = session();
    // "Subject: x\r\n" is 12 octets, "\r\nhi\r\n" is 6.
    let r = run(&mut s, "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<underretning@localhost>\r\nBDAT 12\r\nSubject: x\r\nBDAT 6 LAST\r\n\r\nhi\r\n");
    assert_eq!(r[r.len() - 2], "250 2.0.0 Ok: 12 octets received");
    assert_eq!(r[r.len() - 1], "250 2.0.0 Ok: queued as MT-TEST");
    // A dot line means nothing in BDAT: it is message text.
    let mut s = session();
    s.feed(b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<underretning@localhost>\r\nBDAT 6 LAST\r\n.\r\nx\r\n");
    let msg = std::iter::from_fn(|| s.next_action())
        .find_map(|a| match a {
            Action::Deliver(_, m) => Some(m),
            _ => None,
        })
        .unwrap();
    assert_eq!(msg, b".\r\nx\r\n");
}

#[test]
fn bdat_refusals_still_read_the_chunk() {
    // Without MAIL: the 5 bytes are read and thrown away, then the session is in step.
    let mut s = session();
    let r = run(&mut s, "EHLO c\r\nBDAT 5 LAST\r\nhelloNOOP\r\n");
    let n = r.len();
    assert!(r[n - 2].starts_with("503 5.5.1"), "{r:?}");
    assert_eq!(r[n - 1], "250 2.0.0 Ok");
    // Bare LF inside BDAT chunks is refused like in DATA.
    let mut s = session();
    let r = run(&mut s, "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<underretning@localhost>\r\nBDAT 4\r\na\nb.BDAT 3 LAST\r\n\n.\n");
    assert!(r.last().unwrap().starts_with("550 5.5.2"), "{r:?}");
    // Over the size limit.
    let mut s = session();
    let r = run(
        &mut s,
        &format!(
            "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<underretning@localhost>\r\nBDAT 2000 LAST\r\n{}",
            "x".repeat(2000)
        ),
    );
    assert!(r.last().unwrap().starts_with("552 5.3.4"), "{r:?}");
    // DATA may not follow BDAT in one transaction.
    let mut s = session();
    let r = run(
        &mut s,
        "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<underretning@localhost>\r\nBDAT 1\r\nxDATA\r\n",
    );
    assert!(r.last().unwrap().starts_with("503 5.5.1"), "{r:?}");
}

#[test]
fn smuggling_variants_in_data_are_refused() {
    for variant in ["\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r\n.\r"] {
        let mut s = session();
        let r = run(
            &mut s,
            &format!("EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<underretning@localhost>\r\nDATA\r\nx{variant}MAIL FROM:<evil@x>\r\n.\r\nNOOP\r\n"),
        );
        let n = r.len();
        assert!(r[n - 2].starts_with("550 5.5.2"), "{variant:?}: {r:?}");
        assert_eq!(r[n - 1], "250 2.0.0 Ok", "{variant:?}: session out of step");
    }
}

#[test]
fn a_client_over_its_rate_gets_450() {
    let cfg = SessionConfig {
        limiter: Some(Arc::new(modtag_intake::smtp::limits::RateLimiter::new(2))),
        ..config()
    };
    let mut s = Session::new(Arc::new(cfg), PEER.parse().unwrap());
    run(&mut s, "EHLO c\r\n");
    for _ in 0..2 {
        assert!(run(&mut s, "MAIL FROM:<a@b>\r\nRSET\r\n")[0].starts_with("250 2.1.0"));
    }
    assert!(run(&mut s, "MAIL FROM:<a@b>\r\n")[0].starts_with("450 4.7.1"));
}

#[test]
fn starttls_without_a_certificate_is_not_offered() {
    let mut s = Session::new(
        Arc::new(SessionConfig {
            tls_available: false,
            ..config()
        }),
        PEER.parse().unwrap(),
    );
    assert!(!run(&mut s, "EHLO c\r\n")
        .iter()
        .any(|l| l.contains("STARTTLS")));
    assert!(run(&mut s, "STARTTLS\r\n")[0].starts_with("502 5.5.1"));
}
