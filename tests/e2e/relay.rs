//! A relay that is down: copies wait in the durable outbox and go out when it comes back. A
//! relay that refuses for good: nothing is retried, Modtagelsen is told, and a person can
//! queue the copies again.

use modtag_tests::*;

#[test]
fn copies_wait_for_a_relay_that_is_down() {
    let opts = Options::default();
    let relay_port = opts.relay_port;
    let d = Daemon::start(opts);
    let reference = d.send("Bekymring", "Tekst til Modtagelsen");
    d.decide(&reference, &["--trin", "3"]);
    wait_for(
        "a deferred delivery",
        std::time::Duration::from_secs(30),
        || d.stderr().contains("delivery deferred").then_some(()),
    );
    // IT operations see it without reading anything: how many wait, and for how long.
    let gauge = |name: &str| d.metric(name);
    // (The log line comes just before the deferral is committed.)
    wait_for(
        "the deferral to age",
        std::time::Duration::from_secs(10),
        || {
            (gauge("modtag_outbox_deferred") >= 1
                && gauge("modtag_outbox_oldest_deferred_seconds") >= 1)
                .then_some(())
        },
    );
    let sink = Sink::start(relay_port);
    let dumps = sink.wait_kommune(1);
    assert_eq!(rcpt_of(&dumps[0]), "modtagelsen@kommune.localhost");
    wait_for(
        "the outbox to drain",
        std::time::Duration::from_secs(30),
        || (gauge("modtag_outbox_deferred") == 0).then_some(()),
    );
    assert_eq!(gauge("modtag_outbox_oldest_deferred_seconds"), 0);
    let plain = Gpg::with_demo_keys(&["modtagelsen"])
        .decrypt(&armored_block(&dumps[0]))
        .unwrap();
    assert!(plain.contains("Tekst til Modtagelsen"));
}

#[test]
fn a_permanent_refusal_is_kept_reported_and_can_be_retried() {
    let opts = Options::default();
    let relay_port = opts.relay_port;
    let refusing = Sink::start_with(
        relay_port,
        &[
            "-f",
            "RCPT",
            "-B",
            "550 5.1.1 <x@y>: Recipient address rejected: User unknown",
        ],
    );
    let d = Daemon::start(opts);
    let reference = d.send("Bekymring", "Tekst til Modtagelsen");
    d.decide(&reference, &["--trin", "3"]);

    // Every delivery fails (the notices to Modtagelsen too, through the same relay), and
    // then nothing more happens: a refusal for good is not retried, and a failed notice
    // starts no notice of its own.
    let failed = || d.cli_json(&["outbox", "failed", "--json"]);
    d.wait_outbox_idle();
    let settled = failed().as_array().unwrap().len();
    assert!(settled >= 2, "the copy and its notices failed: {settled}");
    let list = failed();
    let list = list.as_array().unwrap();
    assert!(
        list.iter().all(|e| e["reference"] == reference.as_str()
            && e["error"].as_str().unwrap().contains("550")),
        "{list:?}"
    );
    // The refused kvittering is owed by hand now, with a task that says so.
    let shown = d.cli_json(&["triage", "show", &reference, "--json"]);
    assert_eq!(
        shown["kvittering"]["manual"], true,
        "{}",
        shown["kvittering"]
    );
    assert!(shown["kvittering"]["sent_at"].is_null());
    let open_task = |v: &serde_json::Value| {
        v["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["kind"] == "kvittering" && t["done_at"].is_null())
    };
    assert!(open_task(&shown), "{}", shown["tasks"]);
    let metrics = http_get(d.http, "/metrics").unwrap().1;
    assert!(
        metrics.contains(&format!("modtag_outbox_failed {settled}")),
        "{metrics}"
    );
    assert!(metrics.contains("modtag_outbox_pending 0"), "{metrics}");
    let log = d.stderr();
    assert!(log.contains("delivery failed for good") && log.contains("relay replied 550"));
    assert!(
        !log.contains("delivery deferred"),
        "a 5xx is not a deferral"
    );
    assert!(
        !log.contains("Recipient address rejected"),
        "the relay's reply text (it can quote an address) stays out of the log"
    );

    // The relay is put right; a person queues everything again and it goes out, including
    // the notices that tell Modtagelsen which copy did not arrive.
    drop(refusing);
    let sink = Sink::start(relay_port);
    let out = d.cli(&["outbox", "retry", "--all"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dumps = sink.wait(settled);
    let notices: Vec<&String> = dumps
        .iter()
        .filter(|m| m.contains(&format!("Subject: Levering mislykkedes: {reference}")))
        .collect();
    // Modtagelsen and its leader (the demo's Lene Holm) hear of it.
    let told: std::collections::BTreeSet<String> = notices.iter().map(|m| rcpt_of(m)).collect();
    assert!(
        told.contains("modtagelsen@kommune.localhost")
            && told.contains("lene.holm@kommune.localhost"),
        "{told:?}"
    );
    let text = plain_body(notices[0]);
    assert!(
        text.contains(&reference) && text.contains("550") && text.contains("modtag outbox retry"),
        "{text}"
    );
    wait_for(
        "the outbox to empty",
        std::time::Duration::from_secs(30),
        || failed().as_array().unwrap().is_empty().then_some(()),
    );
    // The kvittering went out after all: sent by the system, the task done.
    let shown = d.cli_json(&["triage", "show", &reference, "--json"]);
    assert_eq!(
        shown["kvittering"]["sent_by"], "system",
        "{}",
        shown["kvittering"]
    );
    assert!(!open_task(&shown), "{}", shown["tasks"]);
    // Retrying something that has not failed is refused with a reason.
    let again = d.cli(&["outbox", "retry", "999999"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no outbox entry 999999"));
}
