//! The triage duties through the real daemon and a real SMTP server (smtp-sink): the
//! kvittering to named reporters and never to anonymous ones, akut notices at once, the
//! history of a child, recorded consent, tasks, closing, and the SLA report and metrics.

use modtag_tests::*;

#[test]
fn kvittering_to_named_reporters_only_and_akut_notices_at_once() {
    // A Tuesday at 10:00, Modtagelsen open.
    let opts = Options {
        faketime: Some("2026-12-08T09:00:00Z".into()),
        ..Options::default()
    };
    let sink = Sink::start(opts.relay_port);
    let d = Daemon::start(opts);

    // An anonymous citizen first, then a named professional, then an akut message.
    let anonymous = d.send_file(
        "underretning@localhost",
        &corpus("03-citizen-anonymous.eml"),
    );
    let named = d.send("Bekymring for Emil", "Emil 120315-4321 er ked af det");
    let akut = d.send_file("underretning@localhost", &corpus("04-akut-signals.eml"));

    // The named ones (the school, the teacher) get a kvittering; both messages with akut
    // signals (the anonymous one speaks of bruises) notify Modtagelsen at once. Nothing
    // goes to the anonymous citizen.
    // Outside office hours the døgnvagt is told too: the items say whom they notified.
    let doegnvagt = [&anonymous, &akut]
        .iter()
        .filter(|r| {
            d.cli_json(&["triage", "show", r, "--json"])["escalations"][0]["to"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == "doegnvagten")
        })
        .count();
    let count = |dumps: &[String], addr: &str| dumps.iter().filter(|d| rcpt_of(d) == addr).count();
    let dumps = wait_for(
        "kvitteringer and akut notices",
        std::time::Duration::from_secs(60),
        || {
            let dumps = sink.wait(1);
            (count(&dumps, "modtagelsen@kommune.localhost") == 2
                && count(&dumps, "kontor@bakkeskolen.dk") == 1
                && count(&dumps, "hanne.laerer@bakkeskolen.dk") == 1
                && count(&dumps, "doegnvagt@kommune.localhost") == doegnvagt)
                .then_some(dumps)
        },
    );
    let to = |addr: &str| -> Vec<&String> { dumps.iter().filter(|d| rcpt_of(d) == addr).collect() };
    let kvittering = to("kontor@bakkeskolen.dk");
    assert_eq!(kvittering.len(), 1, "{dumps:?}");
    let text = plain_body(kvittering[0]);
    assert!(text.contains(&named) && text.contains("modtaget"), "{text}");
    assert!(
        !text.contains("Emil") && !text.contains("120315"),
        "no case data: {text}"
    );
    assert!(kvittering[0].contains(&format!("Subject: Kvittering for modtagelse ({named})")));
    assert_eq!(to("hanne.laerer@bakkeskolen.dk").len(), 1);
    let notices: Vec<String> = to("modtagelsen@kommune.localhost")
        .iter()
        .map(|d| plain_body(d))
        .collect();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(
        notices.iter().any(|n| n.contains(&akut)) && notices.iter().any(|n| n.contains(&anonymous))
    );
    assert!(
        notices
            .iter()
            .all(|n| !n.contains("slået") && !n.contains("120315")),
        "{notices:?}"
    );
    assert!(dumps.iter().all(|d| !rcpt_of(d).contains("bekymret")));

    let item = d.cli_json(&["triage", "show", &anonymous, "--json"]);
    assert_eq!(item["kvittering"], serde_json::Value::Null, "{item}");
    let item = d.cli_json(&["triage", "show", &named, "--json"]);
    assert_eq!(item["kvittering"]["sent_by"], "system");
    assert!(item["kvittering"]["due"]
        .as_str()
        .unwrap()
        .starts_with("20"));
    let item = d.cli_json(&["triage", "show", &akut, "--json"]);
    assert_eq!(item["escalations"][0]["stage"], 0);

    // A named reporter without a reply address: a kvittering to send by hand, by its date.
    let form = d.send_file("underretning@localhost", &corpus("26-form-fields.eml"));
    let item = d.cli_json(&["triage", "show", &form, "--json"]);
    assert_eq!(item["kvittering"]["manual"], true, "{item}");
    assert_eq!(item["tasks"][0]["kind"], "kvittering");
    let done = d.cli(&["triage", "task", &form, "kvittering", "--done"]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let item = d.cli_json(&["triage", "show", &form, "--json"]);
    assert_eq!(item["kvittering"]["sent_by"], DEMO_ACCOUNT);
}

#[test]
fn history_consent_tasks_closing_and_the_sla_report() {
    let d = Daemon::start(Options::default());
    // Three reports about the same child: the third is "gentagne underretninger".
    let refs: Vec<String> = (1..=3)
        .map(|i| d.send("Bekymring", &format!("Sofie 010120-1234, gang {i}")))
        .collect();
    let third = d.cli_json(&["triage", "show", &refs[2], "--json"]);
    assert_eq!(third["repeated"], true, "{third}");
    let earlier: Vec<&str> = third["earlier_intakes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reference"].as_str().unwrap())
        .collect();
    assert_eq!(earlier, [refs[0].as_str(), refs[1].as_str()]);
    let first = d.cli_json(&["triage", "show", &refs[0], "--json"]);
    assert_eq!(first["repeated"], false);
    let page = String::from_utf8_lossy(&d.cli(&["triage", "show", &refs[2]]).stdout).into_owned();
    assert!(
        page.contains("GENTAGNE") && page.contains(&refs[0]),
        "{page}"
    );

    // Consent must say who and how.
    let bare = d.cli(&[
        "triage",
        "decide",
        &refs[2],
        "--trin",
        "2",
        "--consent",
        "--area",
        "dagtilbud",
        "--institution",
        "solsikken",
    ]);
    assert!(!bare.status.success());
    assert!(String::from_utf8_lossy(&bare.stderr).contains("--consent-by"));
    d.decide(
        &refs[2],
        &[
            "--trin",
            "2",
            "--consent",
            "--consent-by",
            "forældre",
            "--consent-how",
            "mundtligt",
            "--area",
            "dagtilbud",
            "--institution",
            "solsikken",
        ],
    );
    let item = d.cli_json(&["triage", "show", &refs[2], "--json"]);
    let c = &item["decision"]["consent_record"];
    assert_eq!(
        (c["given_by"].as_str(), c["how"].as_str()),
        (Some("forældre"), Some("mundtligt"))
    );
    let tasks: Vec<&str> = item["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(tasks, ["indkald_underretningsmoede", "tilbagemelding"]);

    // Feedback may be withheld only with a reason.
    let no_reason = d.cli(&["triage", "task", &refs[2], "tilbagemelding", "--withhold"]);
    assert!(!no_reason.status.success());
    let withheld = d.cli(&[
        "triage",
        "task",
        &refs[2],
        "tilbagemelding",
        "--withhold",
        "--reason",
        "Oplysningen vil skade barnet",
    ]);
    assert!(
        withheld.status.success(),
        "{}",
        String::from_utf8_lossy(&withheld.stderr)
    );

    // Closing: only after assessment, and once.
    let early = d.cli(&["triage", "close", &refs[0], "--reason", "dublet"]);
    assert!(!early.status.success());
    assert!(String::from_utf8_lossy(&early.stderr).contains("only an assessed intake"));
    assert!(d
        .cli(&["triage", "close", &refs[2], "--reason", "overdraget"])
        .status
        .success());
    assert!(!d
        .cli(&["triage", "close", &refs[2], "--reason", "igen"])
        .status
        .success());
    let states: Vec<String> = d.cli_json(&["triage", "show", &refs[2], "--json"])["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            format!(
                "{}:{}",
                h["to"].as_str().unwrap(),
                h["actor"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            "awaiting_assessment:system",
            "assessed:demo",
            "routed:demo",
            "closed:demo"
        ]
    );

    // The SLA report and the metrics agree.
    // Yesterday to tomorrow, so that a run across midnight still holds all three.
    let today = today_in_denmark();
    let (from, to) = (
        today.yesterday().unwrap().to_string(),
        today.tomorrow().unwrap().to_string(),
    );
    let sla = d.cli_json(&["report", "sla", "--from", &from, "--to", &to, "--json"]);
    assert_eq!(sla["intakes"], 3, "{sla}");
    assert_eq!(sla["assessed"], 1);
    // No deadline has passed yet: nothing to share out (issue 27).
    assert_eq!(sla["due"], 0);
    assert_eq!(sla["share_within_deadline"], serde_json::Value::Null);
    assert_eq!(sla["overdue_now"], 0);
    assert_eq!(sla["kvitteringer_owed"], 3);
    let (code, metrics) = http_get(d.http, "/metrics").unwrap();
    assert_eq!(code, 200);
    assert!(
        metrics.contains("modtag_intakes_total{kind=\"underretning\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains("modtag_assessed_total 1"), "{metrics}");
    assert!(
        metrics.contains("modtag_deadlines_passed_total 0"),
        "{metrics}"
    );
    assert!(!metrics.contains("010120"), "no personal data in metrics");
}

/// A decided intake is assessed again with a reason: the earlier decision is kept beside the
/// new one, only people the new decision adds get a copy, the SLA counts the first
/// assessment, and a closed intake is not reopened this way.
#[test]
fn a_decision_is_revised_with_a_reason() {
    let opts = Options::default();
    let sink = Sink::start(opts.relay_port);
    let mut d = Daemon::start(opts);
    let r = d.send("Bekymring", "Tekst til Modtagelsen");
    d.decide(&r, &["--trin", "3"]);
    let first = d.cli_json(&["triage", "show", &r, "--json"]);
    let first_sent = first["sent_to"].as_array().unwrap().len();
    assert!(first_sent >= 1, "{first}");

    let plain = d.cli(&["triage", "decide", &r, "--trin", "2"]);
    assert!(String::from_utf8_lossy(&plain.stderr).contains("--revise REASON"));

    d.decide(
        &r,
        &[
            "--trin",
            "2",
            "--area",
            "skole",
            "--consent",
            "--consent-by",
            "forældre",
            "--consent-how",
            "mundtligt",
            "--revise",
            "Ny viden fra skolen",
        ],
    );
    let item = d.cli_json(&["triage", "show", &r, "--json"]);
    assert_eq!(item["decision"]["trin"], 2);
    let earlier = &item["earlier_decisions"][0];
    assert_eq!(earlier["decision"]["trin"], 3);
    assert_eq!(earlier["reason"], "Ny viden fra skolen");
    assert_eq!(earlier["replaced_by"], DEMO_ACCOUNT);
    let sent: Vec<String> = item["sent_to"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    assert!(
        sent.len() > first_sent,
        "the new decision adds people: {sent:?}"
    );
    // Each person once: the first decision's recipients get no second copy. Once the outbox
    // is empty nothing more can arrive.
    let dumps = sink.wait_kommune(sent.len());
    d.wait_outbox_idle();
    let rcpts: Vec<String> = sink
        .wait_kommune(sent.len())
        .iter()
        .map(|m| rcpt_of(m))
        .collect();
    assert_eq!(rcpts.len(), dumps.len(), "{rcpts:?}");
    let mut unique = rcpts.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), rcpts.len(), "{rcpts:?}");
    let sla = d.cli_json(&[
        "report",
        "sla",
        "--from",
        "2020-01-01",
        "--to",
        "2099-12-31",
        "--json",
    ]);
    assert_eq!(sla["assessed"], 1);

    d.cli_json(&[
        "triage",
        "close",
        &r,
        "--reason",
        "Overgået til trin 2-forløb",
        "--json",
    ]);
    let closed = d.cli(&["triage", "decide", &r, "--trin", "1", "--revise", "igen"]);
    assert!(String::from_utf8_lossy(&closed.stderr).contains("is closed"));

    assert!(d.stop().success());
    let text = d.audit_text("reassessed");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("Ny viden fra skolen") && text.contains("\"trin\":3"),
        "{text}"
    );
}
