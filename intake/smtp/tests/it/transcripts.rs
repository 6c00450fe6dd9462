//! Runs the SMTP transcripts in `intake/smtp/tests/transcripts/`: one file per verb, each a set of
//! sessions written as what the client sends and exactly what modtag answers. The format is
//! described at the top of `transcripts/README.md`; a malformed file fails with its
//! file:line, and a transcript that does not match shows the session so far.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use modtag_config::Channel;
use modtag_smtp::limits::RateLimiter;
use modtag_smtp::session::{Action, Committed, Envelope, MailCheck, Session, SessionConfig};

/// The verbs of RFC 5321 and its extensions that modtag answers; each has its file.
const VERBS: [&str; 13] = [
    "helo", "ehlo", "mail", "rcpt", "data", "bdat", "rset", "noop", "quit", "vrfy", "expn", "help",
    "starttls",
];

/// Reply codes the intake issue names; each must be shown by some transcript. (The
/// connection caps' `421 4.7.0` and shutdown's `421 4.3.2` come from the server loop, not the
/// session, and are tested over the real listener in `tests/e2e/`.)
const CODES: [&str; 12] = [
    "252 2.5.0",
    "502 5.5.1",
    "530 5.7.0",
    "550 5.1.1",
    "550 5.5.2",
    "552 5.3.4",
    "421 4.7.0",
    "451 4.3.0",
    "452 4.3.1",
    "450 4.7.1",
    "220 2.0.0",
    "354 ",
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts")
}

/// One line of a transcript file.
#[derive(Debug)]
enum Step {
    /// Bytes the client sends (a `C:` line with CRLF added, or a raw `C<` line).
    Send(Vec<u8>),
    /// A reply line modtag must give: exactly (`S:`), or starting with this (`S~`).
    Expect { text: String, prefix: bool },
    /// The last delivered message must be exactly these bytes.
    Message(Vec<u8>),
    /// A field of the last delivered message's envelope.
    Envelope { field: String, value: String },
    /// How the next delivered message's commit goes.
    Commit(Committed),
}

struct Scenario {
    title: String,
    config: SessionConfig,
    peer: std::net::IpAddr,
    /// What the server loop answers at `MAIL FROM`: the client's rate (`set rate_per_minute`)
    /// and storage's state (`set storage`).
    limiter: Option<Arc<RateLimiter>>,
    storage: MailCheck,
    /// Each step with the line it came from.
    steps: Vec<(usize, Step)>,
}

/// The configuration every transcript session starts from (also `session.rs`'s).
pub(crate) fn base_config() -> SessionConfig {
    SessionConfig {
        hostname: "modtag.test".into(),
        max_message_size: 1000,
        max_recipients: 2,
        max_errors: 5,
        mailboxes: vec![
            ("underretning@localhost".into(), Channel::Underretning),
            ("bekymring@localhost".into(), Channel::Underretning),
            ("postkasse@localhost".into(), Channel::Underretning),
            ("trivselplus@localhost".into(), Channel::Trivselplus),
        ],
        tls_available: true,
        ..SessionConfig::default()
    }
}

/// `\r`, `\n`, `\t`, `\\` and `\xHH` in raw lines and messages.
fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex: String = bytes.by_ref().take(2).map(char::from).collect();
                out.push(u8::from_str_radix(&hex, 16).map_err(|_| format!("bad \\x{hex}"))?);
            }
            other => {
                return Err(format!(
                    "unknown escape \\{}",
                    other.map_or('?', char::from)
                ))
            }
        }
    }
    Ok(out)
}

fn set(sc: &mut Scenario, key: &str, value: &str) -> Result<(), String> {
    let (cfg, peer) = (&mut sc.config, &mut sc.peer);
    let list = || {
        value
            .split(',')
            .map(|s| s.trim().to_string())
            .collect::<Vec<_>>()
    };
    let number = || {
        value
            .parse::<usize>()
            .map_err(|_| format!("{key} wants a number"))
    };
    let flag = || {
        value
            .parse::<bool>()
            .map_err(|_| format!("{key} wants true or false"))
    };
    match key {
        "max_message_size" => cfg.max_message_size = number()?,
        "max_recipients" => cfg.max_recipients = number()?,
        "max_errors" => cfg.max_errors = number()? as u32,
        "tls_available" => cfg.tls_available = flag()?,
        "require_tls" => cfg.require_tls = flag()?,
        "require_tls_domains" => cfg.require_tls_domains = list(),
        "require_tls_networks" => {
            cfg.require_tls_networks = list()
                .iter()
                .map(|c| c.parse().map_err(|e| format!("{c}: {e}")))
                .collect::<Result<_, _>>()?
        }
        "rate_per_minute" => sc.limiter = Some(Arc::new(RateLimiter::new(number()? as u32))),
        "peer" => {
            *peer = value
                .parse()
                .map_err(|_| format!("{value}: not an address"))?
        }
        "storage" => {
            sc.storage = match value {
                "full" => MailCheck::Full,
                "unavailable" => MailCheck::Unavailable,
                _ => return Err("storage is full or unavailable".into()),
            };
        }
        _ => return Err(format!("unknown setting {key}")),
    }
    Ok(())
}

fn parse(path: &Path) -> Vec<Scenario> {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let mut out: Vec<Scenario> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let fail = |e: String| -> ! { panic!("{name}:{n}: {e}") };
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(title) = line.strip_prefix("=== ") {
            out.push(Scenario {
                title: title.trim().to_string(),
                config: base_config(),
                peer: "192.0.2.10".parse().unwrap(),
                limiter: None,
                storage: MailCheck::Ok,
                steps: Vec::new(),
            });
            continue;
        }
        let Some(sc) = out.last_mut() else {
            fail("a session starts with a line \"=== title\"".into())
        };
        let (tag, rest) = line.split_at(line.len().min(2));
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        let step = match tag {
            "C:" => Step::Send(format!("{rest}\r\n").into_bytes()),
            "C<" => Step::Send(unescape(rest).unwrap_or_else(|e| fail(e))),
            "S:" => Step::Expect {
                text: rest.to_string(),
                prefix: false,
            },
            "S~" => Step::Expect {
                text: rest.to_string(),
                prefix: true,
            },
            "M:" => Step::Message(unescape(rest).unwrap_or_else(|e| fail(e))),
            "E:" => {
                let (field, value) = rest.split_once(' ').unwrap_or((rest, ""));
                Step::Envelope {
                    field: field.to_string(),
                    value: value.to_string(),
                }
            }
            _ => {
                if let Some(setting) = line.strip_prefix("set ") {
                    if !sc.steps.is_empty() {
                        fail("settings come before the session's first line".into());
                    }
                    let (k, v) = setting.split_once(' ').unwrap_or((setting, ""));
                    set(sc, k, v.trim()).unwrap_or_else(|e| fail(e));
                    continue;
                }
                if let Some(outcome) = line.strip_prefix("commit ") {
                    Step::Commit(match outcome.trim() {
                        "tempfail" => Committed::TempFail,
                        "full" => Committed::Full,
                        r => Committed::Queued(r.to_string()),
                    })
                } else {
                    fail(format!("not a transcript line: {line:?}"))
                }
            }
        };
        sc.steps.push((n, step));
    }
    out
}

fn field(env: &Envelope, name: &str) -> Option<String> {
    Some(match name {
        "helo" => env.helo.clone(),
        "mail_from" => env.mail_from.clone(),
        "rcpt_to" => env.rcpt_to.join(","),
        "channel" => env.channel.as_str().to_string(),
        "tls" => env.tls.clone().unwrap_or_else(|| "none".into()),
        _ => return None,
    })
}

/// Runs one session. Client lines up to the next expected reply are sent together (as a
/// pipelining client would); then every reply modtag gives before it needs more input must
/// be exactly the expected lines, in order. `<tls>` stands for a finished handshake and
/// `<close>` for the connection closed by modtag.
fn play(file: &str, sc: &Scenario) -> Result<Vec<String>, String> {
    let mut s = Session::new(Arc::new(sc.config.clone()), sc.peer);
    let mut log = vec![format!("S: {}", s.greeting().trim_end())];
    let mut replies: Vec<String> = vec![s.greeting().trim_end().to_string()];
    let mut commits: std::collections::VecDeque<Committed> = Default::default();
    let mut delivered: Option<(Envelope, Vec<u8>)> = None;
    let mut pending_send: Vec<u8> = Vec::new();
    let mut checked_greeting = false;
    let mut idx = 0;
    while idx < sc.steps.len() {
        let (n, step) = &sc.steps[idx];
        let at = |log: &[String], e: String| {
            format!(
                "{file}:{n}: {e}\n--- the session so far:\n{}",
                log.join("\n")
            )
        };
        match step {
            Step::Send(bytes) => {
                pending_send.extend_from_slice(bytes);
                for l in String::from_utf8_lossy(bytes).split_inclusive('\n') {
                    log.push(format!("C: {}", l.escape_debug()));
                }
                // Sent once the next expectation comes (or at the end).
                let next_is_send = matches!(sc.steps.get(idx + 1), Some((_, Step::Send(_))));
                if !next_is_send {
                    if !checked_greeting {
                        replies.clear();
                        checked_greeting = true;
                    }
                    s.feed(&std::mem::take(&mut pending_send));
                    while let Some(a) = s.next_action() {
                        match a {
                            Action::Reply(r) => replies.extend(r.lines().map(str::to_string)),
                            Action::Deliver(env, msg) => {
                                let result = commits
                                    .pop_front()
                                    .unwrap_or_else(|| Committed::Queued("MT-TEST".into()));
                                delivered = Some((env, msg));
                                replies.push(s.delivered(result).trim_end().to_string());
                            }
                            Action::Close => replies.push("<close>".into()),
                            Action::StartTls => {
                                replies.push("<tls>".into());
                                s.tls_established("TLSv1_3 TLS13_AES_256_GCM_SHA384".into());
                            }
                            // As the server loop answers: the rate first, then storage.
                            Action::CheckMail { .. } => {
                                let limited = sc
                                    .limiter
                                    .as_ref()
                                    .is_some_and(|l| !l.allow(sc.peer, std::time::Instant::now()));
                                let check = if limited {
                                    MailCheck::RateLimited
                                } else {
                                    sc.storage
                                };
                                replies.push(s.mail_checked(check).trim_end().to_string());
                            }
                        }
                    }
                    log.extend(replies.iter().map(|r| format!("S: {r}")));
                    // Every reply must be expected: the lines that follow say which.
                    let expected: Vec<&Step> = sc.steps[idx + 1..]
                        .iter()
                        .map(|(_, s)| s)
                        .take_while(|s| matches!(s, Step::Expect { .. }))
                        .collect();
                    if expected.len() != replies.len() {
                        return Err(at(
                            &log,
                            format!(
                            "modtag gave {} reply lines, the transcript expects {}: {replies:?}",
                            replies.len(),
                            expected.len()
                        ),
                        ));
                    }
                }
            }
            Step::Expect { text, prefix } => {
                checked_greeting = true;
                if replies.is_empty() {
                    return Err(at(
                        &log,
                        format!("expected {text:?}, modtag said nothing more"),
                    ));
                }
                let got = replies.remove(0);
                let ok = if *prefix {
                    got.starts_with(text.as_str())
                } else {
                    got == *text
                };
                if !ok {
                    return Err(at(&log, format!("expected {text:?}, got {got:?}")));
                }
            }
            Step::Message(bytes) => {
                let Some((_, msg)) = &delivered else {
                    return Err(at(&log, "no message was delivered".into()));
                };
                if msg != bytes {
                    return Err(at(
                        &log,
                        format!(
                            "delivered {:?}, expected {:?}",
                            String::from_utf8_lossy(msg),
                            String::from_utf8_lossy(bytes)
                        ),
                    ));
                }
            }
            Step::Envelope { field: name, value } => {
                let Some((env, _)) = &delivered else {
                    return Err(at(&log, "no message was delivered".into()));
                };
                match field(env, name) {
                    None => return Err(at(&log, format!("no envelope field {name}"))),
                    Some(v) if v != *value => {
                        return Err(at(
                            &log,
                            format!("envelope {name} is {v:?}, expected {value:?}"),
                        ))
                    }
                    Some(_) => {}
                }
            }
            Step::Commit(c) => commits.push_back(c.clone()),
        }
        idx += 1;
    }
    Ok(log)
}

fn files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "smtp"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_transcript_matches() {
    let mut failures = String::new();
    let mut sessions = 0;
    for path in files() {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        for sc in parse(&path) {
            sessions += 1;
            if let Err(e) = play(&file, &sc) {
                let _ = writeln!(failures, "== {file}: {}\n{e}\n", sc.title);
            }
        }
    }
    assert!(failures.is_empty(), "{failures}");
    assert!(sessions > 40, "only {sessions} sessions found");
}

#[test]
fn every_verb_has_its_file_and_every_named_code_is_shown() {
    let names: Vec<String> = files()
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().to_string())
        .collect();
    for verb in VERBS {
        assert!(
            names.iter().any(|n| n == verb),
            "no transcripts/{verb}.smtp"
        );
    }
    let all: String = files()
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    for code in CODES {
        assert!(
            all.lines()
                .any(|l| (l.starts_with("S:") || l.starts_with("S~")) && l[3..].starts_with(code)),
            "no transcript shows {code}"
        );
    }
}

/// The runner itself: a wrong expectation fails, naming the file and line.
#[test]
fn a_wrong_transcript_fails_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("wrong.smtp");
    std::fs::write(
        &path,
        "=== wrong\nC: EHLO c\nS~ 250-modtag.test\nS~ 250\nS~ 250\nS~ 250\nS~ 250\nS~ 250\nS~ 250\nS: 250 ENHANCEDSTATUSCODES\nC: NOOP\nS: 250 2.0.0 Not ok\n",
    )
    .unwrap();
    let sc = parse(&path);
    let err = play("wrong.smtp", &sc[0]).unwrap_err();
    assert!(
        err.starts_with("wrong.smtp:12: expected \"250 2.0.0 Not ok\""),
        "{err}"
    );
    // Fewer expectations than replies also fails.
    std::fs::write(
        &path,
        "=== short\nC: NOOP\nS: 250 2.0.0 Ok\nC: NOOP\nC: NOOP\nS: 250 2.0.0 Ok\n",
    )
    .unwrap();
    let err = play("wrong.smtp", &parse(&path)[0]).unwrap_err();
    assert!(
        err.contains("2 reply lines, the transcript expects 1"),
        "{err}"
    );
}
