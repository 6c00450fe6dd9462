//! TRIVSEL+ and the duties after a decision (issue 16). Journalen's own reminders are tested
//! in `intake/workflow/tests/it/escalation.rs`; here Journalen passes a Send sikkert on to the
//! leaders with one action in the desk, and on trin 0-2 the institution's side gets the
//! screening, the original only when chosen and never a citizen's identity, each read with
//! Debian's gpg.

use modtag_tests::browser::Browser;
use modtag_tests::forms::{form, post, reference_on};
use modtag_tests::*;

#[test]
fn journalen_forwards_a_send_sikkert_to_the_named_leaders_with_one_action() {
    let mut d = Daemon::start(Options::default());
    let sink = Sink::start(d.opts.relay_port);
    // Friskolen (a private school) names the leader of PPR and someone the directory lacks.
    let (code, _, body) = modtag_tests::forms::friskolen_send_sikkert(
        d.public,
        "Ukendt Person",
        "Vi ønsker et TRIVSEL+-forløb for en elev i 4. klasse.",
    );
    assert_eq!(code, 200, "{body}");
    let r = reference_on(&body);
    let journal = d.add_user("journal", "journalen@kommune.localhost", "journalen");
    // Counted once the account's notices (made, enrolled) are out too.
    d.wait_outbox_idle();
    let before = sink.count();

    let b = Browser::start();
    b.sign_in(d.http, "journal", &journal);
    b.goto(&format!("http://{}/koe", d.http));
    assert!(b.text().contains(&r), "on Journalen's queue: {}", b.text());
    b.follow(&format!("a[href='/koe/{r}']"));
    b.follow(&format!("a[href='/koe/{r}/videresend']"));
    let preview = b.text();
    assert!(
        preview.contains("Karen Poulsen") && preview.contains("leder.ppr@kommune.localhost"),
        "{preview}"
    );
    assert!(
        preview.contains("Journalen afgør") && preview.contains("Ukendt Person"),
        "the name it could not match is left for Journalen: {preview}"
    );
    assert!(preview.contains("Friskolen"), "{preview}");
    assert_eq!(sink.count(), before, "a preview sends nothing");
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "the forward preview"
    );
    b.screenshot("trivsel-forward");
    b.follow("form[action$='/videresend'] button");
    assert!(b.url().ends_with(&format!("/koe/{r}")), "{}", b.url());
    assert!(
        b.text()
            .contains("Sendt til Karen Poulsen (lederen af PPR)"),
        "{}",
        b.text()
    );

    // The name it could not match stays on the item for Journalen (issue 29), with the
    // leaders the tree allows for a private school; she says whom it means, and that leader
    // gets the forward too and joins the forløb.
    let text = b.text();
    assert!(
        text.contains("Navne i emnet, som ikke blev fundet") && text.contains("«Ukendt Person» er"),
        "{text}"
    );
    let options = b.eval(
        "return Array.from(document.querySelectorAll('#navn-1 option')).map(o => o.textContent);",
    );
    assert!(
        options
            .to_string()
            .contains("Henrik Sørensen (distriktsskolelederen)")
            && !options.to_string().contains("Karen Poulsen"),
        "{options}"
    );
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "names left"
    );
    b.eval("document.getElementById('navn-1').value = 'henrik.soerensen'; return null;");
    b.follow("form[action$='/navn'] button");
    let text = b.text();
    assert!(
        text.contains("Sendt til Henrik Sørensen")
            && text.contains("Sendt til Karen Poulsen")
            && !text.contains("Navne i emnet, som ikke blev fundet")
            && text.contains("venter på Henrik Sørensen"),
        "{text}"
    );

    // The copy reaches the leader of PPR, encrypted to her, with the private school's message;
    // the resolved name's leader gets one too, and no one gets two.
    d.wait_outbox_idle();
    let mails = sink.wait(before + 2);
    let to = |a: &str| mails.iter().filter(|m| rcpt_of(m) == a).count();
    assert_eq!(
        (
            to("leder.ppr@kommune.localhost"),
            to("distriktsskoleleder@kommune.localhost")
        ),
        (1, 1)
    );
    let copy = mails
        .into_iter()
        .find(|m| rcpt_of(m) == "leder.ppr@kommune.localhost")
        .expect("a copy to the leader of PPR");
    let plain = Gpg::with_demo_keys(&["leder-ppr"])
        .decrypt(&armored_block(&copy))
        .unwrap();
    assert!(
        plain.contains(&format!("Reference: {r}")) && plain.contains("<leder@friskolen.dk>"),
        "the routing note and the school's message: {plain}"
    );
    assert!(d.stop().success());
    let decided = d.audit_text("decided");
    assert!(decided.contains("\"actor\":\"journal\""), "{decided}");
}

/// What the lokal leder's copy holds, decrypted with her key.
fn leaders_copy(d: &Daemon, sink: &Sink, reference: &str) -> String {
    d.wait_outbox_idle();
    let copy = sink
        .wait(1)
        .into_iter()
        .filter(|m| rcpt_of(m) == "leder.solsikken@kommune.localhost")
        .find(|m| m.contains(reference))
        .expect("a copy to the lokal leder");
    Gpg::with_demo_keys(&["leder-solsikken"])
        .decrypt(&armored_block(&copy))
        .unwrap()
}

fn trin_2(d: &Daemon, reference: &str, more: &[&str]) -> serde_json::Value {
    let mut args = vec![
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
        "--outcome",
        "trivselplus_anbefalet",
        "--note",
        "Anbefaler et TRIVSEL+-forløb med pædagogen.",
    ];
    args.extend_from_slice(more);
    d.decide(reference, &args)
}

#[test]
fn the_institution_gets_the_screening_and_the_original_only_when_chosen() {
    let d = Daemon::start(Options::default());
    let sink = Sink::start(d.opts.relay_port);

    // A professional's report, the original not chosen: the screening only.
    let r1 = d.send("Bekymring", "Barnet kommer sulten, cpr 120315-4321.");
    trin_2(&d, &r1, &[]);
    let copy = leaders_copy(&d, &sink, &r1);
    assert!(
        copy.contains("Udfald af screeningen: TRIVSEL+ anbefales")
            && copy.contains("Anbefaler et TRIVSEL+-forløb med pædagogen."),
        "{copy}"
    );
    assert!(
        !copy.contains("sulten") && !copy.contains("message/rfc822") && !copy.contains("120315"),
        "no original: {copy}"
    );

    // Chosen, for a professional nothing proves (a typed From, "som fagperson"): not
    // attached, so a citizen who claims to be one is not sent to the institution (issue 26).
    let r2 = d.send(
        "Bekymring",
        "Som fagperson: barnet er ofte trist, cpr 120315-4321.",
    );
    trin_2(&d, &r2, &["--attach-original"]);
    let copy = leaders_copy(&d, &sink, &r2);
    assert!(
        !copy.contains("message/rfc822") && !copy.contains("ofte trist"),
        "{copy}"
    );

    // Chosen, for a professional a person confirmed (called the school back): attached.
    let r2 = d.send("Bekymring", "Barnet er ofte trist, cpr 120315-4321.");
    let confirmed = d.cli(&[
        "triage",
        "confirm-sender",
        &r2,
        "--how",
        "ringet tilbage til skolens kontor",
    ]);
    assert!(
        confirmed.status.success(),
        "{}",
        String::from_utf8_lossy(&confirmed.stderr)
    );
    trin_2(&d, &r2, &["--attach-original"]);
    let copy = leaders_copy(&d, &sink, &r2);
    assert!(
        copy.contains("message/rfc822") && copy.contains("ofte trist"),
        "{copy}"
    );

    // Chosen, for a citizen: never, so the institution cannot learn who reported.
    let t = d.swaks_args(&[
        "--to",
        "underretning@localhost",
        "--from",
        "nabo@example.net",
        "--header",
        "From: Nabo Nielsen <nabo@example.net>",
        "--header",
        "Subject: Bekymring",
        "--body",
        "Jeg hører råb fra naboens lejlighed. Venlig hilsen Nabo Nielsen",
    ]);
    let r3 = queued_as(&t).unwrap();
    assert_eq!(
        d.cli_json(&["triage", "show", &r3, "--json"])["understanding"]["reporter"]["kind"],
        "citizen"
    );
    trin_2(&d, &r3, &["--attach-original"]);
    let copy = leaders_copy(&d, &sink, &r3);
    assert!(
        !copy.contains("Nabo") && !copy.contains("nabo@example.net") && !copy.contains("råb"),
        "a citizen's identity never reaches the institution: {copy}"
    );
}

/// Without consent nothing reaches the institution, and the intake is not left with no
/// one: it stays with Modtagelsen, which the decision says.
#[test]
fn a_decision_that_sends_nowhere_leaves_the_intake_with_modtagelsen() {
    let d = Daemon::start(Options::default());
    let r = d.send("Bekymring", "Barnet er ked af det.");
    let routed = d.decide(
        &r,
        &[
            "--trin",
            "1",
            "--area",
            "dagtilbud",
            "--institution",
            "solsikken",
        ],
    );
    let to: Vec<&str> = routed["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["person"].as_str().unwrap())
        .collect();
    assert_eq!(to, ["modtagelsen"], "{routed}");
    assert!(
        routed.to_string().contains("fallback-ingen-modtager"),
        "{routed}"
    );
    assert!(
        routed["refused"]
            .as_str()
            .unwrap()
            .contains("samtykke mangler"),
        "{routed}"
    );
}

/// The tilbagemelding to a professional: due three months after receipt, drafted by modtag
/// from the screening's outcome, approved in the desk, and sent to the reporter's address.
#[test]
fn modtagelsen_approves_the_drafted_tilbagemelding_and_it_reaches_the_reporter() {
    let mut d = Daemon::start(Options::default());
    let sink = Sink::start(d.opts.relay_port);
    // The school's leader, a person of the directory with a certificate: once a person has
    // confirmed the sender (this From is not authenticated here), the letter goes to that
    // address, encrypted (issue 26).
    let r = d.send_from_school_leader();
    d.decide(
        &r,
        &["--trin", "3", "--outcome", "boernefaglig_undersoegelse"],
    );
    let shown = d.cli_json(&["triage", "show", &r, "--json"]);
    let task = shown["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "tilbagemelding")
        .cloned()
        .expect("a tilbagemelding task for the professional");
    let due: jiff::Timestamp = task["due"].as_str().unwrap().parse().unwrap();
    let received: jiff::Timestamp = shown["received_at"].as_str().unwrap().parse().unwrap();
    let days = (due - received).get_seconds() / 86400;
    assert!((89..=92).contains(&days), "three months: {days} days");
    d.wait_outbox_idle();
    let before = sink.count();

    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let b = Browser::start();
    b.sign_in(d.http, "modt", &modt);
    b.goto(&format!("http://{}/koe/{r}", d.http));
    let draft = b.eval("return document.querySelector('#brev').value;");
    let draft = draft.as_str().unwrap();
    assert!(
        draft.contains("børnefaglig undersøgelse")
            && draft.contains(&r)
            && !draft.contains("120315"),
        "{draft}"
    );
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "the item page with the drafted letter"
    );
    b.screenshot("tilbagemelding");
    b.fill("brev", "\nPS: Ring gerne, hvis I har spørgsmål.");
    b.follow("form[action$='/tilbagemelding'] button");
    assert!(b.text().contains("sendt"), "{}", b.text());
    d.wait_outbox_idle();
    let letter = sink
        .wait(before + 1)
        .into_iter()
        .find(|m| rcpt_of(m) == "leder.bakkeskolen@kommune.localhost" && m.contains(&r))
        .expect("the letter to the reporter");
    assert!(!letter.contains("børnefaglig"), "never in clear: {letter}");
    let body = Gpg::with_demo_keys(&["leder-bakkeskolen"])
        .decrypt(&armored_block(&letter))
        .unwrap();
    assert!(
        body.contains("børnefaglig undersøgelse") && body.contains("PS: Ring gerne"),
        "{body}"
    );
    assert!(d.stop().success());
    let done = d.audit_text("task_done");
    assert!(
        done.contains("\"actor\":\"modt\"") && done.contains("tilbagemelding"),
        "{done}"
    );
}

/// `modtag route statusmoeder`: the school year's series from the embedded tree, and one
/// invitation per meeting: the leader of PPR calls the kommune's teams, a private school's
/// leader her own (without the leader of the Børneskolerådgivere); the leaders of UU and
/// fritid only when a meeting is marked with an udskoling forløb (in the desk), so not here.
#[test]
fn the_statusmoede_series_is_planned_and_written_as_invitations() {
    let dir = tempfile::tempdir().unwrap();
    let out = modtag(&[
        "route",
        "statusmoeder",
        "--school-year",
        "2027",
        "--json",
        "--ics",
        dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let series: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let series = series.as_array().unwrap();
    assert_eq!(series.len(), 6 * 4, "six dates for four lederteams");
    assert_eq!(series[0]["start"], "2027-08-17T08:00:00");
    assert_eq!(series[4]["start"], "2027-10-12T08:00:00", "eight weeks on");
    let files = files_below(dir.path());
    assert_eq!(files.len(), series.len());
    let first =
        std::fs::read_to_string(dir.path().join("statusmoede-skoler-2027-08-17.ics")).unwrap();
    assert!(
        first.contains("METHOD:REQUEST\r\n")
            && first.contains("UID:statusmoede-skoler-20270817@")
            && first.contains("ORGANIZER;CN=Karen Poulsen:mailto:leder.ppr@kommune.localhost")
            && first.contains("mailto:leder.boerneskoleraadgivere@")
            && !first.contains("mailto:leder.uu@kommune.localhost"),
        "{first}"
    );
    let private = std::fs::read_to_string(
        dir.path()
            .join("statusmoede-privat-friskolen-2027-08-17.ics"),
    )
    .unwrap();
    assert!(
        private.contains("ORGANIZER;CN=Susanne Møller:mailto:leder@friskolen.localhost")
            && !private.contains("leder.ppr@")
            && !private.contains("leder.boerneskoleraadgivere@"),
        "{private}"
    );
}

/// `--send`: the running daemon mails every invitation (the leader of PPR to herself as
/// organizer, each member once per meeting) as a calendar request, and audits it.
#[test]
fn the_statusmoede_invitations_are_mailed_as_calendar_requests() {
    // In the school year 2026/2027, whose next may be sent; one years off may not.
    let mut d = Daemon::start(Options {
        faketime: Some("2026-12-08T09:00:00Z".into()),
        ..Options::default()
    });
    let typo = d.cli(&["route", "statusmoeder", "--school-year", "2072", "--send"]);
    let said = String::from_utf8_lossy(&typo.stderr);
    assert!(!typo.status.success(), "{said}");
    assert!(
        said.contains("running school year (2026) or the next (2027)"),
        "{said}"
    );
    let sink = Sink::start(d.opts.relay_port);
    let sent = d.cli_json(&[
        "route",
        "statusmoeder",
        "--school-year",
        "2027",
        "--send",
        "--json",
    ]);
    assert_eq!(sent["meetings"], 24, "{sent}");
    // Per day, everyone with the organizer: Dagplejen 3, Dagtilbud 4, Skoler 4, Friskolen 3
    // (called by its own leader).
    assert_eq!(sent["invitations"], 6 * (3 + 4 + 4 + 3), "{sent}");
    d.wait_outbox_idle();
    let mails = sink.wait(84);
    let to = |address: &str| -> Vec<&String> {
        mails.iter().filter(|m| rcpt_of(m) == address).collect()
    };
    assert!(
        to("leder.uu@kommune.localhost").is_empty(),
        "the leader of UU only to a meeting with an udskoling forløb"
    );
    let to_school = to("leder.boerneskoleraadgivere@kommune.localhost");
    assert_eq!(to_school.len(), 6, "Skoler's six, not Friskolen's");
    let (method, ics) = calendar_part(to_school[0]);
    assert_eq!(method, "REQUEST");
    assert!(
        ics.contains("UID:statusmoede-skoler-")
            && ics.contains("ORGANIZER;CN=Karen Poulsen:mailto:leder.ppr@kommune.localhost"),
        "{ics}"
    );

    // Sent again: nothing has changed, so nothing goes out.
    let again = d.cli_json(&[
        "route",
        "statusmoeder",
        "--school-year",
        "2027",
        "--send",
        "--json",
    ]);
    assert_eq!(
        (again["invitations"].as_i64(), again["unchanged"].as_i64()),
        (Some(0), Some(24)),
        "{again}"
    );
    // The first day cancelled: everyone invited that day gets METHOD:CANCEL, SEQUENCE 1.
    let cancelled = d.cli_json(&[
        "route",
        "statusmoeder",
        "--school-year",
        "2027",
        "--send",
        "--cancel",
        "2027-08-17",
        "--json",
    ]);
    assert_eq!(cancelled["cancelled"], 4, "{cancelled}");
    assert_eq!(cancelled["invitations"], 14, "{cancelled}");
    d.wait_outbox_idle();
    let cancels: Vec<String> = sink
        .wait(84 + 14)
        .into_iter()
        .filter(|m| m.contains("method=CANCEL"))
        .collect();
    assert_eq!(cancels.len(), 14);
    let (_, ics) = calendar_part(&cancels[0]);
    assert!(
        ics.contains("METHOD:CANCEL") && ics.contains("SEQUENCE:1") && ics.contains("20270817@"),
        "{ics}"
    );
    let out = d.cli(&[
        "route",
        "statusmoeder",
        "--school-year",
        "2027",
        "--send",
        "--cancel",
        "2027-08-18",
    ]);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no statusmøde"),
        "a day without a meeting: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A year on (2028/2029 running): 2027's meetings are no longer sent or changed, but
    // what was sent can still be cancelled (a year sent by mistake must be taken back).
    assert!(d.stop().success());
    d.opts.faketime = Some("2028-09-01T09:00:00Z".into());
    d.spawn();
    let late = d.cli(&["route", "statusmoeder", "--school-year", "2027", "--send"]);
    let said = String::from_utf8_lossy(&late.stderr);
    assert!(!late.status.success() && said.contains("(2028)"), "{said}");
    let taken_back = d.cli_json(&[
        "route",
        "statusmoeder",
        "--school-year",
        "2027",
        "--send",
        "--cancel",
        "2027-10-12",
        "--json",
    ]);
    assert_eq!(taken_back["cancelled"], 4, "{taken_back}");
    let never = d.cli(&[
        "route",
        "statusmoeder",
        "--school-year",
        "2025",
        "--send",
        "--cancel",
        "2025-10-14",
    ]);
    let said = String::from_utf8_lossy(&never.stderr);
    assert!(
        !never.status.success() && said.contains("not 2025"),
        "a past year never sent has nothing to cancel: {said}"
    );
    assert!(d.stop().success());
    let audited = d.audit_text("invitations_sent");
    assert!(audited.contains("\"invitations\":84"), "{audited}");
}

/// "Børn på vej i skole": a private dagtilbud's TRIVSEL+ about a child starting school is
/// recognised, and when Journalen passes it on the institution is told to contact the
/// coming school's leader itself.
#[test]
fn a_child_on_its_way_to_school_sends_the_institution_to_the_school_leader() {
    let d = Daemon::start(Options::default());
    let sink = Sink::start(d.opts.relay_port);
    let (csrf, cookie) = form(d.public, "/sendsikkert");
    let (code, _, body) = post(
        d.public,
        "/sendsikkert",
        &cookie,
        &[
            ("csrf", &csrf),
            ("cvr", "29345600"),
            ("name", "Ole Krog"),
            ("email", "leder@mariehoenen.dk"),
            ("leder", "karen.poulsen"),
            (
                "text",
                "Børn på vej i skole: en dreng begynder i 0. klasse til august.",
            ),
        ],
        &[],
    );
    assert_eq!(code, 200, "{body}");
    let r = reference_on(&body);
    let item = d.cli_json(&["triage", "show", &r, "--json"]);
    assert!(
        item["understanding"]["notes"]
            .to_string()
            .contains("Børn på vej i skole"),
        "{item}"
    );
    d.decide(&r, &[]);
    d.wait_outbox_idle();
    let told = sink
        .wait(1)
        .into_iter()
        .find(|m| rcpt_of(m) == "leder@mariehoenen.dk")
        .expect("a notice to the private institution");
    let text = plain_body(&told);
    assert!(
        text.contains("kontakter I selv lederen af den skole") && text.contains(&r),
        "{text}"
    );
    assert!(!text.contains("dreng"), "nothing of the content: {text}");
}
