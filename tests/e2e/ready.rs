//! Readiness (issue 18): `/readyz` is 200 only while the store takes writes, the SMTP
//! listener accepts and the outbox is not stuck; otherwise 503 with the reasons, for a load
//! balancer or an orchestrator. `/healthz` stays the liveness probe.

use modtag_tests::*;

#[test]
fn readyz_says_when_a_copy_has_waited_too_long_for_the_relay() {
    let d = Daemon::start(Options {
        edits: vec![(
            "ready_outbox_max_age_secs = 900".into(),
            "ready_outbox_max_age_secs = 2".into(),
        )],
        ..Options::default()
    });
    let (code, body) = http_get(d.http, "/readyz").unwrap();
    assert_eq!(
        (code, body.contains("\"ready\":true")),
        (200, true),
        "{body}"
    );

    // No relay listens: the kvittering and the copy wait, and after the allowed age the
    // daemon is not ready, saying why; it stays alive.
    let r = d.send("Bekymring", "Emil 120315-4321 er ofte sulten.");
    d.decide(&r, &["--trin", "4"]);
    let body = wait_for(
        "readyz to say the relay is unreachable",
        std::time::Duration::from_secs(30),
        || {
            let (code, body) = http_get(d.http, "/readyz").unwrap();
            (code == 503).then_some(body)
        },
    );
    assert!(body.contains("waited") && body.contains("relay"), "{body}");
    assert_eq!(
        http_get(d.http, "/healthz").unwrap().0,
        200,
        "alive all the same"
    );

    // The relay is back: the copies go, and it is ready again.
    let _sink = Sink::start(d.opts.relay_port);
    d.wait_outbox_idle();
    wait_for(
        "readyz to be 200 again",
        std::time::Duration::from_secs(30),
        || (http_get(d.http, "/readyz").unwrap().0 == 200).then_some(()),
    );
}

/// `[log] format = "json"` (or `--log-format json`, MODTAG_LOG_FORMAT): one JSON object
/// per line for the kommune's log collector, at debug level too, and no CPR, name, subject
/// or text of a message in any.
#[test]
fn json_logs_are_one_object_a_line_and_carry_no_personal_data() {
    let mut d = Daemon::start(Options {
        edits: vec![("format = \"human\"".into(), "format = \"json\"".into())],
        env: vec![("MODTAG_LOG".into(), "debug".into())],
        ..Options::default()
    });
    let sink = Sink::start(d.opts.relay_port);
    let r = d.send(
        "Bekymring for Ellen Vinther-Kjær",
        "Ellen Vinther-Kjær 110418-4420 MARKERTEKST-93 sover i skolen.",
    );
    d.decide(&r, &["--trin", "4"]);
    d.wait_outbox_idle();
    sink.wait(1);
    assert!(d.stop().success());
    let log = d.stderr();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() > 5, "{log}");
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
        for cpr in ["110418-4420", "1104184420", "110418 4420"] {
            assert!(!line.contains(cpr), "{cpr} in the log: {line}");
        }
        // The CPR's halves as numbers of their own in modtag's lines: "4420" inside a
        // timestamp's fraction of a second ("55.644205Z") is not the CPR, nor is a sled
        // log sequence number that happens to be 4420.
        if !v["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("sled::"))
        {
            for half in ["110418", "4420"] {
                assert!(!holds_number(line, half), "{half} in the log: {line}");
            }
        }
        for secret in ["Vinther", "Ellen", "MARKERTEKST-93", "Bekymring for"] {
            assert!(!line.contains(secret), "{secret} in the log: {line}");
        }
    }
    assert!(log.contains(&r), "references are logged: {log}");
}

/// Whether `number` stands in `line` as a run of digits of its own (no digit either side).
fn holds_number(line: &str, number: &str) -> bool {
    line.match_indices(number).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + number.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// A copy whose message file is damaged on disk does not hold up the others: they go to the
/// relay, the log names it by id, `/metrics` counts it and `/readyz`, once it has been so for
/// the allowed age, says a copy cannot be read.
#[test]
fn a_copy_that_cannot_be_read_does_not_hold_up_the_others() {
    let d = Daemon::start(Options {
        edits: vec![(
            "ready_outbox_max_age_secs = 900".into(),
            "ready_outbox_max_age_secs = 2".into(),
        )],
        ..Options::default()
    });
    // No relay yet: the copies wait, each in a message file of its own (over 8 KiB).
    let long = "Emil 120315-4321 er ofte sulten og træt om morgenen. ".repeat(300);
    for subject in ["Bekymring", "Bekymring igen"] {
        let r = d.send(subject, &long);
        d.decide(&r, &["--trin", "4"]);
    }
    let spool = d.data.join("spool");
    let copies = wait_for(
        "the copies' message files",
        std::time::Duration::from_secs(30),
        || {
            let mut files: Vec<_> = (std::fs::read_dir(&spool).unwrap())
                .map(|e| e.unwrap().path())
                .filter(|p| p.to_string_lossy().contains("outbox-"))
                .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
                .collect();
            files.sort();
            (files.len() >= 2).then_some(files)
        },
    );
    let pending = d.metric("modtag_outbox_pending");
    std::fs::write(&copies[0], b"not what modtag wrote").unwrap();

    let sink = Sink::start(d.opts.relay_port);
    wait_for(
        "every other copy delivered",
        std::time::Duration::from_secs(60),
        || (d.metric("modtag_outbox_pending") == 1).then_some(()),
    );
    assert_eq!(d.metric("modtag_outbox_unreadable"), 1);
    assert!(
        sink.count() as i64 >= pending - 1,
        "the others reached the relay"
    );
    let reason = "copies in the outbox that cannot be read (a damaged record or message file): 1";
    wait_for(
        "readyz to say a copy cannot be read",
        std::time::Duration::from_secs(30),
        || {
            let (code, body) = http_get(d.http, "/readyz").unwrap();
            (code == 503 && body.contains(reason)).then_some(())
        },
    );
    let log = d.stderr();
    assert!(log.contains("an outbox copy cannot be read"), "{log}");
    assert!(!log.contains("120315-4321"), "no CPR in the log: {log}");
}
