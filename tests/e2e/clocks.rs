//! Clocks a child can rely on (issue 27), the real daemon under libfaketime at fixed times:
//! akut first in every queue and on its own short clock, notices that say how urgent,
//! Modtagelsen's closing time handing what cannot wait to the døgnvagt (a Friday's early
//! close, a weekend, Christmas, Easter with the change to summer time), and a tilbagemelding
//! written only from an outcome a person recorded.

use modtag_tests::browser::Browser;
use modtag_tests::*;

/// A routine underretning; its reference.
fn routine(d: &Daemon, n: usize) -> String {
    d.send("Bekymring", &format!("Eleven virker trist ({n})."))
}

/// A police report with akut signals; its reference.
fn akut(d: &Daemon) -> String {
    d.send(
        "Underretning fra politiet",
        "Politiet har i nat været hjemme hos familien efter vold. Barnet er i akut fare.",
    )
}

/// The plain notices to `address` so far, as text.
fn notices_to(sink: &Sink, address: &str) -> Vec<String> {
    sink.wait(0)
        .iter()
        .filter(|m| rcpt_of(m) == address)
        .map(|m| plain_body(m))
        .collect()
}

/// Akut leads the queue above every deadline, in red with the time since it came and
/// counted; the API lists it first too. Its clock is two hours: then Modtagelsen's leader is
/// told, "Haster", and the routine ones wait their own hours.
#[test]
fn akut_leads_the_queue_and_runs_on_a_two_hour_clock() {
    // Tuesday 8 December 2026, 10:00 in Copenhagen: Modtagelsen is open.
    let mut d = Daemon::start(Options {
        faketime: Some("2026-12-08T09:00:00Z".into()),
        ..Options::default()
    });
    let sink = Sink::start(d.opts.relay_port);
    let first = routine(&d, 1);
    let second = routine(&d, 2);
    let urgent = akut(&d);
    let item = d.cli_json(&["triage", "show", &urgent, "--json"]);
    let received: jiff::Timestamp = item["received_at"].as_str().unwrap().parse().unwrap();
    let deadline: jiff::Timestamp = item["deadline"].as_str().unwrap().parse().unwrap();
    assert_eq!(deadline.duration_since(received).as_hours(), 2, "{item}");

    // An akut intake awaiting assessment stays on Modtagelsen's desk: no kind correction
    // moves it to Journalen's.
    let moved = d.cli(&["triage", "kind", &urgent, "postfordeling", "--reason", "x"]);
    assert!(!moved.status.success(), "{moved:?}");
    assert!(
        String::from_utf8_lossy(&moved.stderr).contains("stays on Modtagelsen's desk"),
        "{moved:?}"
    );

    let listed = d.cli_json(&["triage", "list", "--json"]);
    let order: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reference"].as_str().unwrap())
        .collect();
    assert_eq!(order, [urgent.as_str(), first.as_str(), second.as_str()]);

    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let b = Browser::start();
    b.sign_in_to(&d, "modt", &modt);
    b.goto(&format!("http://{}/koe", d.http));
    let text = b.text();
    assert!(
        text.contains("1 akut henvendelse afventer vurdering"),
        "{text}"
    );
    let top = b.eval(
        "const row = document.querySelector('table.queue tbody tr');
         return [row.querySelector('td:nth-child(2)').textContent.trim(),
                 row.querySelector('.mark-akut-first').textContent.trim(),
                 getComputedStyle(row.querySelector('.mark-akut-first')).backgroundColor,
                 row.textContent.includes('modtaget for')];",
    );
    assert_eq!(
        top,
        serde_json::json!([urgent, "Akut", "rgb(176, 0, 32)", true]),
        "{text}"
    );
    assert_eq!(b.accessibility_violations(), Vec::<String>::new(), "/koe");
    b.screenshot("queue-akut-first");

    // Two hours and a minute on, still not assessed: the leader hears it, urgently.
    assert!(d.stop().success());
    d.opts.faketime = Some("2026-12-08T11:01:00Z".into());
    d.spawn();
    let leader = wait_for(
        "the akut clock's notice to the leader",
        std::time::Duration::from_secs(30),
        || {
            let to_leader: Vec<String> = sink
                .wait(0)
                .into_iter()
                .filter(|m| rcpt_of(m) == "lene.holm@kommune.localhost")
                .collect();
            (!to_leader.is_empty()).then_some(to_leader)
        },
    );
    assert_eq!(leader.len(), 1, "only the akut one's clock ran out");
    assert!(
        leader[0].contains("Importance: high")
            && leader[0].contains(&format!("Haster: Frist: {urgent}")),
        "{}",
        leader[0]
    );
    assert!(!plain_body(&leader[0]).contains("vold"));
}

/// Friday 11 December 2026: Modtagelsen closes at 13:00 until Monday 08:00. What came in
/// before and is due before Monday goes to the døgnvagt at 13:00 in one notice; what comes
/// in while closed goes at once; the døgnvagt's queue shows them, and the døgnvagt works them.
#[test]
fn friday_closing_hands_over_to_the_doegnvagt() {
    let d = Daemon::start(Options {
        faketime: Some("2026-12-11T11:59:40Z".into()),
        ..Options::default()
    });
    let sink = Sink::start(d.opts.relay_port);
    let before = routine(&d, 1);
    assert!(
        notices_to(&sink, "doegnvagt@kommune.localhost").is_empty(),
        "open until 13:00"
    );
    let handed = wait_for(
        "the hand-over at 13:00",
        std::time::Duration::from_secs(60),
        || {
            let n = notices_to(&sink, "doegnvagt@kommune.localhost");
            (!n.is_empty()).then_some(n)
        },
    );
    assert_eq!(handed.len(), 1, "{handed:?}");
    assert!(
        handed[0].contains(&before)
            && handed[0].contains("2026-12-14 08:00")
            && !handed[0].contains("trist"),
        "{}",
        handed[0]
    );
    let item = d.cli_json(&["triage", "show", &before, "--json"]);
    let at = item["escalations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["stage"] == 9)
        .map(|e| e["at"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("handed over: {item}"));
    assert!(
        at.starts_with("2026-12-11T12:00:0"),
        "at closing time: {at}"
    );

    // While closed: at once.
    let after = routine(&d, 2);
    let item = d.cli_json(&["triage", "show", &after, "--json"]);
    assert!(
        item["escalations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["stage"] == 9),
        "{item}"
    );

    let dv = d.add_user("dv", "doegnvagt@kommune.localhost", "doegnvagt");
    let b = Browser::start();
    b.sign_in_to(&d, "dv", &dv);
    b.goto(&format!("http://{}/koe", d.http));
    let text = b.text();
    assert!(
        text.contains("Kø: Døgnvagten") && text.contains(&before) && text.contains(&after),
        "{text}"
    );
    assert_eq!(b.accessibility_violations(), Vec::<String>::new(), "/koe");
    b.screenshot("queue-doegnvagt");
    // (The browser took this step's code: a code is taken once.)
    let dv = d.sign_in_at("dv", &dv, 1);
    let (status, page) = dv.get(&d, &format!("/koe/{before}"));
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Vurdér") || page.contains("Vurder"),
        "the døgnvagt works it"
    );
    // It holds the intake for a night: moving it off Modtagelsen's desk is not its to do.
    let (status, page) = dv.post_form(
        &d,
        &format!("/koe/{before}/art"),
        &[("art", "postfordeling"), ("begrundelse", "ikke vores")],
    );
    assert_ne!(status, 303, "{page}");
    let item = d.cli_json(&["triage", "show", &before, "--json"]);
    assert_eq!(item["kind"], "underretning", "{item}");
}

/// Christmas and Easter: received after closing on 23 December (the 24th closed, then the
/// holidays and a Sunday), an intake is the døgnvagt's at once; on the Wednesday before
/// Easter 2027, Modtagelsen's closing at 15:30 hands it over, and the notice says when it
/// opens again: Tuesday 30 March, 08:00 summer time.
#[test]
fn christmas_and_easter_hand_over_across_the_holidays_and_summer_time() {
    let mut d = Daemon::start(Options {
        faketime: Some("2026-12-23T15:00:00Z".into()),
        ..Options::default()
    });
    let sink = Sink::start(d.opts.relay_port);
    let christmas = routine(&d, 1);
    let handed = wait_for("the hand-over", std::time::Duration::from_secs(30), || {
        let n = notices_to(&sink, "doegnvagt@kommune.localhost");
        (!n.is_empty()).then_some(n)
    });
    assert!(
        handed[0].contains(&christmas) && handed[0].contains("2026-12-28 08:00"),
        "{}",
        handed[0]
    );

    assert!(d.stop().success());
    d.opts.faketime = Some("2027-03-24T14:29:45Z".into());
    d.spawn();
    let easter = routine(&d, 2);
    let handed = wait_for(
        "the hand-over at 15:30",
        std::time::Duration::from_secs(60),
        || {
            let n: Vec<String> = notices_to(&sink, "doegnvagt@kommune.localhost")
                .into_iter()
                .filter(|n| n.contains(&easter))
                .collect();
            (!n.is_empty()).then_some(n)
        },
    );
    assert!(handed[0].contains("2027-03-30 08:00 CEST"), "{}", handed[0]);

    // Tuesday 30 March, 07:30 summer time: an akut intake is due at 09:30, after opening,
    // so it is not handed over; but the døgnvagt is told at once, and so it is on its queue.
    assert!(d.stop().success());
    d.opts.faketime = Some("2027-03-30T05:30:00Z".into());
    d.spawn();
    let early = akut(&d);
    let item = d.cli_json(&["triage", "show", &early, "--json"]);
    let escalations = item["escalations"].as_array().unwrap();
    assert!(
        escalations.iter().all(|e| e["stage"] != 9)
            && escalations
                .iter()
                .any(|e| e["roles"].to_string().contains("doegnvagt")),
        "{item}"
    );
    let dv = d.add_user("dv", "doegnvagt@kommune.localhost", "doegnvagt");
    let dv = d.sign_in("dv", &dv);
    let (_, queue) = dv.get(&d, "/koe");
    assert!(
        queue.contains(&early) && queue.contains("1 akut henvendelse afventer vurdering"),
        "{queue}"
    );
}

/// The tilbagemelding is offered only after an assessment that recorded an outcome (an akut
/// trin-4 assessment without one told a school that nothing was begun); the draft is written
/// from that outcome and names it; once approved, the page shows the letter exactly as sent.
#[test]
fn a_tilbagemelding_is_written_only_from_a_recorded_outcome() {
    let d = Daemon::start(Options {
        faketime: Some("2026-12-08T09:00:00Z".into()),
        ..Options::default()
    });
    let _sink = Sink::start(d.opts.relay_port);
    let r = d.send_from_school_leader();
    d.decide(&r, &["--trin", "4", "--akut"]);
    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let modt = d.sign_in("modt", &modt);
    let (_, page) = modt.get(&d, &format!("/koe/{r}"));
    assert!(
        !page.contains("id=\"brev\""),
        "no letter without an outcome"
    );
    assert!(page.contains("intet udfald"), "{page}");
    let letter = [("brev", "Vi har ikke iværksat noget.")];
    let (status, page) = modt.post_form(&d, &format!("/koe/{r}/tilbagemelding"), &letter);
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("intet udfald"), "{page}");
    let done = d.cli(&["triage", "task", &r, "tilbagemelding", "--done"]);
    assert!(!done.status.success(), "nothing to have told: {done:?}");

    let revise = |outcome: &str, why: &str| {
        d.decide(
            &r,
            &[
                "--trin",
                "4",
                "--akut",
                "--outcome",
                outcome,
                "--revise",
                why,
            ],
        );
    };
    revise("boernefaglig_undersoegelse", "Screeningen er færdig");
    let (_, page) = modt.get(&d, &format!("/koe/{r}"));
    assert!(
        page.contains("id=\"brev\"") && page.contains("<strong>Børnefaglig undersøgelse</strong>"),
        "{page}"
    );
    let from = page
        .split("name=\"vurdering\" value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .unwrap()
        .to_string();
    // A new assessment changes the outcome: the letter drafted from the old one is refused.
    revise("ingen_yderligere", "Undersøgelsen var ikke nødvendig");
    let stale = [
        ("brev", "…iværksat en børnefaglig undersøgelse."),
        ("vurdering", &from),
    ];
    let (status, page) = modt.post_form(&d, &format!("/koe/{r}/tilbagemelding"), &stale);
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("vurderingen er ændret"), "{page}");
    let sent = "Kære Peter Larsen\n\nVi kan oplyse, at kommunen ikke har iværksat en undersøgelse.\n\nMed venlig hilsen\nModtagelsen";
    let (status, page) = modt.approve_letter(&d, &r, sent);
    assert_eq!(status, 303, "{page}");
    let (_, page) = modt.get(&d, &format!("/koe/{r}"));
    assert!(page.contains("Brevet, som det blev sendt"), "{page}");
    let shown = page
        .split("<pre class=\"letter\">")
        .nth(1)
        .and_then(|p| p.split("</pre>").next())
        .expect("the letter as sent");
    assert_eq!(shown, sent);
}
