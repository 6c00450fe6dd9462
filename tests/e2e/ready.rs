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
