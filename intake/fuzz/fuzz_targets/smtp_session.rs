//! The SMTP session fed arbitrary bytes, split at arbitrary points: it must never panic,
//! every reply must be a well-formed reply line, and splitting the input differently must
//! not change what the server answers (up to a STARTTLS, after which the input would be
//! TLS records).

#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use modtag_config::Channel;
use modtag_smtp::session::{Action, Committed, MailCheck, Session, SessionConfig};

fn config() -> Arc<SessionConfig> {
    Arc::new(SessionConfig {
        hostname: "fuzz.test".into(),
        max_message_size: 4096,
        max_recipients: 3,
        max_errors: 50,
        mailboxes: vec![
            ("underretning@localhost".into(), Channel::Underretning),
            ("trivselplus@localhost".into(), Channel::Trivselplus),
        ],
        tls_available: true,
        ..SessionConfig::default()
    })
}

/// Runs the input through a session in pieces of the given sizes; returns the transcript.
fn run(input: &[u8], split: &mut dyn FnMut() -> usize) -> Vec<String> {
    let mut s = Session::new(config(), "192.0.2.1".parse().unwrap());
    let mut out = Vec::new();
    let mut rest = input;
    while !rest.is_empty() && !s.is_closed() {
        let n = split().clamp(1, rest.len());
        s.feed(&rest[..n]);
        rest = &rest[n..];
        while let Some(a) = s.next_action() {
            match a {
                Action::Reply(r) => {
                    for line in r.split_terminator("\r\n") {
                        let b = line.as_bytes();
                        assert!(b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit) && (b[3] == b' ' || b[3] == b'-'), "bad reply line {line:?}");
                    }
                    out.push(r);
                }
                Action::Deliver(_, msg) => {
                    assert!(msg.len() <= 4096);
                    out.push(s.delivered(Committed::Queued("MT-FUZZ".into())));
                }
                // The rest of the input would arrive over TLS, where the split decides what
                // came before or after the handshake: the plaintext part ends here.
                Action::StartTls => {
                    out.push("<tls>".into());
                    return out;
                }
                Action::Close => out.push("<close>".into()),
                Action::CheckMail { .. } => out.push(s.mail_checked(MailCheck::Ok)),
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the split size of the second run.
    let Some((&k, input)) = data.split_first() else { return };
    let whole = run(input, &mut || usize::MAX);
    let step = (k as usize % 17) + 1;
    let split = run(input, &mut || step);
    assert_eq!(whole, split, "replies depend on how the input was split");
});
