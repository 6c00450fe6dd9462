//! Journalisering (issue 31, first step): a person records where an intake was filed, from
//! the desk or the CLI, audited; a retention rule with `require_journalised` keeps an
//! unfiled intake and lists it as waiting.

use modtag_tests::*;

#[test]
fn retention_waits_for_the_record_the_desk_keeps() {
    let mut opts = Options::default();
    // The demo's rule for journalised intakes, due after a day for any intake done with.
    opts.edits.push((
        "case_linked = true\nstates = [\"routed\", \"closed\"]\nafter_days = 180".into(),
        "states = [\"routed\", \"closed\"]\nafter_days = 1".into(),
    ));
    opts.faketime = Some("2027-01-11T09:00:00Z".into());
    let mut d = Daemon::start(opts);
    let r = d.send("Bekymring", "Emil kom sulten i skole, cpr 120315-4321.");
    d.decide(
        &r,
        &["--trin", "3", "--outcome", "boernefaglig_undersoegelse"],
    );
    let out = d.cli(&["triage", "close", &r, "--reason", "færdig"]);
    assert!(out.status.success(), "{out:?}");
    // Two days on.
    assert!(d.stop().success());
    d.opts.faketime = Some("2027-01-13T09:00:00Z".into());
    d.spawn();

    // Due by its days, but not filed: kept, and said so.
    let dry = d.cli_json(&["retention", "run", "--dry-run", "--json"]);
    assert_eq!(dry["erased"], serde_json::json!([]), "{dry}");
    assert_eq!(dry["waiting"][0]["reference"], r.as_str(), "{dry}");
    let text = d.cli(&["retention", "run", "--dry-run"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("waiting to be journalised"),
        "{text:?}"
    );

    // Modtagelsen records where it was filed, on the item; a half-filled form is refused
    // with what was typed kept.
    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let modt = d.sign_in("modt", &modt);
    let (_, page) = modt.get(&d, &format!("/koe/{r}"));
    assert!(page.contains("Ikke journaliseret endnu"), "{page}");
    // The queue shows what is done with and not filed; the leader's overview counts it.
    let unfiled = "/koe?tilstand=ikke_journaliseret";
    let (_, queue) = modt.get(&d, unfiled);
    assert!(queue.contains(&r), "{queue}");
    let (_, queue) = modt.get(&d, "/koe");
    assert!(
        !queue.contains(&r),
        "not waiting for an assessment: {queue}"
    );
    let lene = d.add_user("lene", "lene.holm@kommune.localhost", "modtagelsen_leder");
    let lene = d.sign_in("lene", &lene);
    let (_, overview) = lene.get(&d, "/overblik");
    assert!(
        overview.contains("<span class=\"figure-value\">1</span> ikke journaliseret"),
        "{overview}"
    );
    let path = format!("/koe/{r}/journaliseret");
    let (status, page) = modt.post_form(&d, &path, &[("system", "eDoc"), ("dokument", "")]);
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("Skriv sagssystemet og dokumentets id.") && page.contains("value=\"eDoc\""),
        "{page}"
    );
    let (status, page) = modt.post_form(
        &d,
        &path,
        &[("system", "eDoc"), ("dokument", "2026-004711")],
    );
    assert_eq!(status, 303, "{page}");
    let (_, page) = modt.get(&d, &format!("/koe/{r}"));
    assert!(
        page.contains("Journaliseret i eDoc som 2026-004711, registreret af modt"),
        "{page}"
    );
    let shown = d.cli(&["triage", "show", &r]);
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("in eDoc as 2026-004711 by modt"),
        "{shown:?}"
    );

    let (_, queue) = modt.get(&d, unfiled);
    assert!(!queue.contains(&r), "filed: {queue}");
    // Filed: the rule may erase it now.
    let dry = d.cli_json(&["retention", "run", "--dry-run", "--json"]);
    assert_eq!(dry["erased"][0]["reference"], r.as_str(), "{dry}");
    assert_eq!(dry["waiting"], serde_json::json!([]), "{dry}");

    // The CLI records a correction; the audit log keeps both, under each person's name.
    let out = d.cli(&[
        "triage",
        "journalised",
        &r,
        "--system",
        "DUBU",
        "--document",
        "S-77",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("journalised in DUBU as S-77"));
    assert!(d.stop().success());
    let audit = d.audit_text("journalised");
    assert!(
        audit.contains(&r) && audit.contains("\"actor\":\"modt\""),
        "{audit}"
    );
    assert!(
        audit.contains(&format!("\"actor\":\"{DEMO_ACCOUNT}\"")),
        "{audit}"
    );
}

/// The item's Journalisering and the queue's "Ikke journaliseret" in Chromium: axe-clean,
/// the screenshot for a person to look at.
#[test]
fn journalisering_in_chromium() {
    let d = Daemon::start(Options::default());
    let r = d.send("Bekymring", "Emil kom sulten i skole, cpr 120315-4321.");
    d.decide(
        &r,
        &["--trin", "3", "--outcome", "boernefaglig_undersoegelse"],
    );
    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let b = modtag_tests::browser::Browser::start();
    b.sign_in_to(&d, "modt", &modt);
    b.goto(&format!(
        "http://{}/koe?tilstand=ikke_journaliseret",
        d.http
    ));
    assert!(b.text().contains(&r), "{}", b.text());
    assert_eq!(b.accessibility_violations(), Vec::<String>::new());
    b.goto(&format!("http://{}/koe/{r}#journaliseret", d.http));
    b.fill("journal-system", "eDoc");
    b.fill("journal-dokument", "2026-004711");
    b.follow("form[action$='/journaliseret'] button[type=submit]");
    assert!(
        b.text().contains("Journaliseret i eDoc som 2026-004711"),
        "{}",
        b.text()
    );
    assert_eq!(b.accessibility_violations(), Vec::<String>::new());
    b.eval("document.getElementById('journaliseret').scrollIntoView(); return null;");
    b.screenshot("item-journaliseret");
}
