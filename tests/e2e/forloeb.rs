//! A private institution's TRIVSEL+ forløb from the Send sikkert to the first meeting
//! (issue 16, flow 2), over the real listeners with the relay, Debian's gpg, Chromium and a
//! real iCalendar parser: Journalen forwards, the leader answers with staff (encrypted to
//! the institution's leader), the private leader's list comes to `bornogunge@` and joins its
//! forløb, Journalen books the first meeting (slots that break the 14-day or 5-day rule
//! refused with the reason), everyone is invited, and the cancellation reaches them all.
//! The reminders of a step left too long are tested at fixed times in
//! `intake/workflow/tests/it/forloeb.rs`.

use icalendar::{Calendar, CalendarComponent, Component};
use modtag_tests::browser::Browser;
use modtag_tests::forms::reference_on;
use modtag_tests::*;

/// A start-meeting slot every weekday, so that on any day some slot is too early, some
/// bookable and some too late.
fn every_weekday() -> Options {
    Options {
        edits: vec![(
            r#"slots = ["tuesday 09:00-10:30", "thursday 13:00-14:30"]"#.into(),
            r#"slots = ["monday 09:00-10:30", "tuesday 09:00-10:30", "wednesday 09:00-10:30", "thursday 13:00-14:30", "friday 09:00-10:30"]"#.into(),
        )],
        ..Options::default()
    }
}

/// Friskolen's Send sikkert naming the leader of PPR; returns its reference.
fn send_sikkert(d: &Daemon) -> String {
    let (code, _, body) = modtag_tests::forms::friskolen_send_sikkert(
        d.public,
        "",
        "Vi ønsker et TRIVSEL+-forløb for en elev i 2. klasse.",
    );
    assert_eq!(code, 200, "{body}");
    reference_on(&body)
}

/// The events of an invitation, read by the `icalendar` crate's parser.
fn event(ics: &str) -> icalendar::Event {
    let parsed: Calendar = ics.parse().expect("a real iCalendar parser reads it");
    parsed
        .components
        .into_iter()
        .find_map(|c| match c {
            CalendarComponent::Event(e) => Some(e),
            _ => None,
        })
        .expect("one event")
}

fn sign_out(b: &Browser) {
    b.follow("form[action='/logout'] button");
}

/// Journalen (the account `journal`, enrolled at `uri`) passes `r` on with one action, and
/// signs out; the item page it was left on.
fn forward_as_journalen(b: &Browser, d: &Daemon, r: &str, uri: &str) -> String {
    b.sign_in(d.http, "journal", uri);
    b.goto(&format!("http://{}/koe/{r}/videresend", d.http));
    b.follow("form[action$='/videresend'] button");
    let page = b.text();
    sign_out(b);
    page
}

/// The leader of PPR (the account `karen`) answers `r` with `staff` in the desk; the page
/// she is left on (still signed in).
fn answer_as_karen(b: &Browser, d: &Daemon, r: &str, uri: &str, staff: &str) -> String {
    b.sign_in(d.http, "karen", uri);
    b.goto(&format!("http://{}/koe/{r}", d.http));
    b.fill("svar-deltagere", staff);
    b.follow("form[action$='/svar'] button");
    b.text()
}

#[test]
fn a_private_institutions_trivselplus_runs_from_send_sikkert_to_the_first_meeting() {
    let mut d = Daemon::start(every_weekday());
    let sink = Sink::start(d.opts.relay_port);
    let r = send_sikkert(&d);
    let journal = d.add_user("journal", "journalen@kommune.localhost", "journalen");
    let karen = d.add_user("karen", "leder.ppr@kommune.localhost", "leder_ppr");

    // Step 2: Journalen passes it on with one action.
    let b = Browser::start();
    let page = forward_as_journalen(&b, &d, &r, &journal);
    assert!(
        page.contains("TRIVSEL+-forløbet") && page.contains("venter på Karen Poulsen"),
        "{page}"
    );

    // Step 3: the leader of PPR answers with her staff; it goes to Friskolen's leader,
    // encrypted to her certificate.
    let page = answer_as_karen(
        &b,
        &d,
        &r,
        &karen,
        "Anne Jensen <anne.jensen@kommune.localhost>\nBo Berg, bo.berg@kommune.localhost",
    );
    assert!(
        page.contains("Karen Poulsen svarede")
            && page.contains("2 medarbejder(e), sendt til institutionen krypteret"),
        "{page}"
    );
    assert!(
        page.contains("venter på den private leders liste"),
        "{page}"
    );
    b.screenshot("forloeb-answered");
    d.wait_outbox_idle();
    let answer = sink
        .wait(1)
        .into_iter()
        .find(|m| rcpt_of(m) == "leder@friskolen.localhost")
        .expect("the answer to Friskolen's leader");
    let headers = answer.split("\n\n").next().unwrap_or_default();
    assert!(
        headers.contains(&format!("Subject: Sikker post {r}")) && !answer.contains("Anne Jensen"),
        "only the reference outside the encryption: {headers}"
    );
    let plain = Gpg::with_demo_keys(&["leder-friskolen"])
        .decrypt(&armored_block(&answer))
        .unwrap();
    assert!(
        plain.contains("Anne Jensen <anne.jensen@kommune.localhost>")
            && plain.contains("Bo Berg <bo.berg@kommune.localhost>")
            && plain.contains("bornogunge@localhost")
            && plain.contains(&r),
        "{plain}"
    );
    sign_out(&b);

    // Step 4: the private leader mails the list to bornogunge@ with the reference.
    let before = sink.count();
    let t = d.swaks_args(&[
        "--to",
        "bornogunge@localhost",
        "--from",
        "leder@friskolen.dk",
        "--header",
        &format!("Subject: Deltagere til {r}"),
        "--body",
        "Hej\n\nDeltagere:\nAnne Jensen <anne.jensen@kommune.localhost>\nBo Berg <bo.berg@kommune.localhost>\n\
         Lise Holm <lise.holm@friskolen.dk>\nSusanne Møller <leder@friskolen.localhost>\n\nVenlig hilsen\nSusanne",
    ]);
    let list = queued_as(&t).unwrap_or_else(|| panic!("the list is accepted: {t}"));
    d.wait_outbox_idle();
    assert_eq!(sink.count(), before, "no kvittering for a participant list");

    // Nothing proves who sent it (anyone can type the reference): it waits for Journalen,
    // who calls the private leader and confirms (issue 26); then it joins the forløb.
    b.sign_in_again(d.http, "journal", &journal);
    b.goto(&format!("http://{}/koe/{list}", d.http));
    assert!(
        b.text().contains("Deltagerliste – afsender ikke bekræftet"),
        "{}",
        b.text()
    );
    b.fill("afsender-hvordan", "ringet til Susanne Møller på Friskolen");
    b.follow("form[action$='/afsender'] button");
    assert!(
        b.text().contains(&format!("knyttet til TRIVSEL+ {r}")),
        "{}",
        b.text()
    );

    // Step 5: Journalen books; slots that break a rule are refused with the reason.
    // Journalen finds the forløb that waits for it in the queue.
    b.goto(&format!("http://{}/koe?tilstand=forloeb", d.http));
    assert!(b.text().contains(&r), "{}", b.text());
    b.follow(&format!("a[href='/koe/{r}']"));
    let page = b.text();
    assert!(
        page.contains(&format!("som {list} (4 deltager(e); knyttet ved journal)")),
        "{page}"
    );
    b.follow(&format!("a[href='/koe/{r}/moede']"));
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "the booking page"
    );
    b.screenshot("forloeb-booking");
    let typed = b.eval("return document.getElementById('deltagere').value;");
    let typed = typed.as_str().unwrap_or_default();
    assert!(
        typed.contains("Lise Holm <lise.holm@friskolen.dk>") && typed.contains("Anne Jensen"),
        "the participants from the answers and the list: {typed}"
    );
    let before = sink.count();
    for (words, why) in [("varsel", "for tidligt"), ("14 dage", "for sent")] {
        // A hostile or stale form: a slot the page lists as unusable, posted anyway.
        let slot = b.eval(&format!(
            "const row = [...document.querySelectorAll('#udelukkede tbody tr')]
               .find(r => r.textContent.includes('{words}'));
             return row.querySelector('time').getAttribute('datetime');"
        ));
        let slot = slot
            .as_str()
            .expect("an unusable slot is listed")
            .to_string();
        b.eval(&format!(
            "document.querySelector('input[name=tid]').value = '{slot}'; return null;"
        ));
        b.follow("form[action$='/moede'] button[type=submit]");
        let page = b.text();
        assert!(
            page.contains("Mødet blev ikke booket") && page.contains(why),
            "{slot}: {page}"
        );
    }
    assert_eq!(sink.count(), before, "a refused booking sends nothing");
    let chosen = b.eval("return document.querySelector('input[name=tid]:checked').value;");
    let chosen = chosen.as_str().unwrap().to_string();
    b.follow("form[action$='/moede'] button[type=submit]");
    let page = b.text();
    assert!(page.contains("booket af journal"), "{page}");
    b.screenshot("forloeb-booked");
    b.goto(&format!("http://{}/koe?tilstand=forloeb", d.http));
    assert!(
        !b.text().contains(&r),
        "booked: nothing waits: {}",
        b.text()
    );

    // Each participant and the private leader get the invitation, and Journalen a copy.
    d.wait_outbox_idle();
    let invited: Vec<String> = sink
        .wait(before + 5)
        .into_iter()
        .filter(|m| m.contains("method=REQUEST"))
        .collect();
    let mut to: Vec<String> = invited.iter().map(|m| rcpt_of(m)).collect();
    to.sort();
    assert_eq!(
        to,
        [
            "anne.jensen@kommune.localhost",
            "bo.berg@kommune.localhost",
            "journalen@kommune.localhost",
            "leder@friskolen.localhost",
            "lise.holm@friskolen.dk",
        ]
    );
    let (method, ics) = calendar_part(&invited[0]);
    assert_eq!(method, "REQUEST");
    assert!(ics.contains("BEGIN:VTIMEZONE") && ics.contains("TZID:Europe/Copenhagen"));
    let e = event(&ics);
    let uid = e.get_uid().unwrap().to_string();
    assert!(uid.starts_with("trivselplus-"), "{uid}");
    assert_eq!(e.property_value("SEQUENCE"), Some("0"));
    let start = e.properties().get("DTSTART").unwrap();
    assert_eq!(
        start.value(),
        chosen.replace(['-', ':'], "") + "00",
        "the chosen slot in local time"
    );
    assert_eq!(
        start.params().get("TZID").map(|p| p.value()),
        Some("Europe/Copenhagen")
    );
    assert_eq!(e.multi_properties().get("ATTENDEE").map(Vec::len), Some(4));
    assert!(
        e.property_value("ORGANIZER")
            .is_some_and(|o| o == "mailto:journalen@kommune.localhost"),
        "{ics}"
    );
    assert!(
        !ics.contains("elev"),
        "the invitation names no child: {ics}"
    );
    // The same booking posted again (a second click): it stands, no one is invited twice.
    let before = sink.count();
    b.goto(&format!("http://{}/koe/{r}/moede", d.http));
    b.eval(&format!(
        "document.querySelector('input[name=tid][value=\"{chosen}\"]').checked = true; return null;"
    ));
    b.follow("form[action$='/moede'] button[type=submit]");
    assert!(b.text().contains("booket af journal"), "{}", b.text());
    d.wait_outbox_idle();
    assert_eq!(sink.count(), before, "no second invitation");

    // Cancelled: everyone gets METHOD:CANCEL for the same UID, one SEQUENCE on.
    let before = sink.count();
    b.goto(&format!("http://{}/koe/{r}/moede", d.http));
    b.fill("begrundelse", "Forældrene er syge");
    b.follow("form[action$='/aflys'] button");
    assert!(b.text().contains("er aflyst af journal"), "{}", b.text());
    d.wait_outbox_idle();
    let cancelled: Vec<String> = sink
        .wait(before + 5)
        .into_iter()
        .filter(|m| m.contains("method=CANCEL"))
        .collect();
    assert_eq!(cancelled.len(), 5);
    let (method, ics) = calendar_part(&cancelled[0]);
    assert_eq!(method, "CANCEL");
    let e = event(&ics);
    assert_eq!(e.get_uid(), Some(uid.as_str()));
    assert_eq!(e.property_value("SEQUENCE"), Some("1"));

    assert!(d.stop().success());
    let answered = d.audit_text("leader_answered");
    assert!(answered.contains("\"actor\":\"karen\""), "{answered}");
    let booked = d.audit_text("meeting_booked");
    assert!(booked.contains("\"actor\":\"journal\""), "{booked}");
    assert!(d.audit_text("participants_linked").contains(&list));
    assert!(d
        .audit_text("meeting_cancelled")
        .contains("Forældrene er syge"));
}

/// An institution whose leader has no certificate is answered only over TLS: the relay on
/// loopback offers none, so the answer waits in the outbox and never reaches it in clear.
#[test]
fn an_answer_to_an_institution_without_a_certificate_never_leaves_in_clear() {
    let mut d = Daemon::start(Options {
        directory_edits: vec![(
            "cert_file = \"keys/leder-friskolen.cert.asc\"".into(),
            String::new(),
        )],
        ..Options::default()
    });
    let sink = Sink::start(d.opts.relay_port);
    let r = send_sikkert(&d);
    let journal = d.add_user("journal", "journalen@kommune.localhost", "journalen");
    let karen = d.add_user("karen", "leder.ppr@kommune.localhost", "leder_ppr");
    let b = Browser::start();
    forward_as_journalen(&b, &d, &r, &journal);
    let page = answer_as_karen(
        &b,
        &d,
        &r,
        &karen,
        "Anne Jensen <anne.jensen@kommune.localhost>",
    );
    assert!(
        page.contains("sendt til institutionen kun over TLS"),
        "{page}"
    );
    wait_for(
        "the answer to be tried",
        std::time::Duration::from_secs(30),
        || (d.metric("modtag_outbox_deferred") >= 1).then_some(()),
    );
    assert!(
        sink.wait(0)
            .iter()
            .all(|m| rcpt_of(m) != "leder@friskolen.localhost"),
        "nothing reached the institution over plain SMTP"
    );
    assert!(d.stop().success());
}

/// Flow 4: a case moves back to trin 2 only with both consents, the measures ended and the
/// first meeting within 14 days with 5 days' notice; then the rådgiver and the lokal leder
/// get the hand-over (gpg reads it) and the invitation.
#[test]
fn an_overgang_to_trin_2_is_refused_until_its_conditions_hold() {
    let mut d = Daemon::start(Options::default());
    let sink = Sink::start(d.opts.relay_port);
    let csv = d.dir.path().join("sager.csv");
    std::fs::write(
        &csv,
        "case_number,cpr,child_name,raadgiver,area,institution,status\n\
         SAG-200,120315-4321,Emil Hansen,anna.kristensen,dagtilbud,solsikken,open\n",
    )
    .unwrap();
    d.cli_json(&["cases", "import", csv.to_str().unwrap(), "--json"]);
    let yesterday = today_in_denmark().yesterday().unwrap().to_string();
    let meeting = open_day_from(6);

    let out = d.cli(&[
        "cases",
        "overgang",
        "SAG-200",
        "--consent-by",
        "forældre",
        "--consent-how",
        "skriftligt",
        "--first-meeting",
        &meeting,
    ]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        said.contains("dele det nuværende forløbs oplysninger mangler")
            && said.contains("Foranstaltningerne skal være afsluttet"),
        "both reasons at once: {said}"
    );
    let too_late = open_day_from(20);
    // Both consents and the measures' end, and the first meeting at `at`.
    let complete = |at: &str, json: bool| {
        let mut args = vec![
            "cases",
            "overgang",
            "SAG-200",
            "--consent-by",
            "forældre",
            "--consent-how",
            "skriftligt",
            "--share-by",
            "forældre",
            "--share-how",
            "skriftligt",
            "--measures-ended",
            &yesterday,
            "--first-meeting",
        ];
        args.push(at);
        if json {
            args.push("--json");
        }
        d.cli(&args)
    };
    let out = complete(&too_late, false);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && said.contains("inden for 14 dage"),
        "{said}"
    );
    d.wait_outbox_idle();
    assert_eq!(sink.count(), 0, "a refused overgang sends nothing");

    let out = complete(&meeting, true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["invitations"], 2, "{done}");
    d.wait_outbox_idle();
    let mails = sink.wait(4);
    let handover = mails
        .iter()
        .find(|m| rcpt_of(m) == "leder.solsikken@kommune.localhost" && m.contains("BEGIN PGP"))
        .expect("the hand-over to the lokal leder");
    let plain = Gpg::with_demo_keys(&["leder-solsikken"])
        .decrypt(&armored_block(handover))
        .unwrap();
    assert!(
        plain.contains("Emil Hansen (120315-4321)") && plain.contains("Sag: SAG-200"),
        "{plain}"
    );
    let invitation = mails
        .iter()
        .find(|m| rcpt_of(m) == "leder.solsikken@kommune.localhost" && m.contains("text/calendar"))
        .expect("the invitation to the lokal leder");
    assert!(!invitation.contains("Emil"), "no child in an invitation");
    let (method, ics) = calendar_part(invitation);
    assert_eq!(method, "REQUEST");
    let e = event(&ics);
    assert_eq!(
        e.property_value("ORGANIZER"),
        Some("mailto:anna.kristensen@kommune.localhost")
    );
    assert_eq!(e.multi_properties().get("ATTENDEE").map(Vec::len), Some(2));
    assert!(d.stop().success());
    let audited = d.audit_text("overgang_activated");
    assert!(
        audited.contains("\"actor\":\"demo\"") && audited.contains("SAG-200"),
        "{audited}"
    );
}

/// Two forløb booked into the same slot at the same moment by two people at Journalen: one
/// gets it, the other is told it is taken. Bookings of one slot are taken one after the
/// other in the store (issue 28), not by a lock in one page's code.
#[test]
fn one_slot_is_booked_once_when_two_ask_at_once() {
    let d = Daemon::start(Options::default());
    let refs: Vec<String> = (0..2)
        .map(|i| {
            let (code, _, body) = modtag_tests::forms::friskolen_send_sikkert(
                d.public,
                "",
                &format!("Forløb nummer {i} for en elev."),
            );
            assert_eq!(code, 200, "{body}");
            let r = reference_on(&body);
            d.decide(
                &r,
                &["--institution", "friskolen", "--area", "privat_skole"],
            );
            r
        })
        .collect();
    let uri = d.add_user("journal", "journalen@kommune.localhost", "journalen");
    let first = d.sign_in("journal", &uri);
    let second = d.sign_in_at("journal", &uri, 1);
    let (_, page) = first.get(&d, &format!("/koe/{}/moede", refs[0]));
    let slot = modtag_tests::forms::first_slot(&page);
    let people = "Lise Holm <lise.holm@friskolen.dk>";
    let barrier = std::sync::Barrier::new(2);
    let book = |who: &Signed, r: &str| {
        barrier.wait();
        let form = [("tid", slot.as_str()), ("deltagere", people)];
        who.post_form(&d, &format!("/koe/{r}/moede"), &form).0
    };
    let codes: Vec<u16> = std::thread::scope(|s| {
        let a = s.spawn(|| book(&first, &refs[0]));
        let b = s.spawn(|| book(&second, &refs[1]));
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(sorted, [303, 422], "one booking, one refusal: {codes:?}");
    let booked: Vec<bool> = refs
        .iter()
        .map(|r| first.get(&d, &format!("/koe/{r}")).1.contains("booket af"))
        .collect();
    assert_eq!(booked.iter().filter(|b| **b).count(), 1, "{booked:?}");
}
