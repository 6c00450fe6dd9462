//! The overgang in the desk (issue 29, flow 4), in Chromium with the relay and gpg: the
//! rådgiver moves her case back to trin 2; a refusal lists every reason and keeps what was
//! typed; the beslutningstræ then sets up the team as on trin 2 (on the folkeskole area the
//! Børneskolerådgivere, not the school's leader), and they get the hand-over, encrypted.

use modtag_tests::browser::Browser;
use modtag_tests::*;

#[test]
fn a_raadgiver_moves_her_case_to_trin_2_from_the_desk() {
    let d = Daemon::start(Options::default());
    let sink = Sink::start(d.opts.relay_port);
    let csv = d.dir.path().join("sager.csv");
    std::fs::write(
        &csv,
        "case_number,cpr,child_name,raadgiver,area,institution,status\n\
         SAG-300,120315-4321,Emil Hansen,anna.kristensen,skole,bakkeskolen,open\n",
    )
    .unwrap();
    d.cli_json(&["cases", "import", csv.to_str().unwrap(), "--json"]);
    let anna = d.add_user("anna", "anna.kristensen@kommune.localhost", "raadgiver");
    d.wait_outbox_idle();
    let before = sink.count();

    let b = Browser::start();
    b.sign_in(d.http, "anna", &anna);
    b.follow("nav a[href='/overgang']");
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "the form"
    );
    let yesterday = today_in_denmark().yesterday().unwrap().to_string();
    let meeting = open_day_from(6);
    let (day, time) = meeting.split_once('T').unwrap();
    b.fill("sag", "SAG-300");
    b.fill("samtykke_hvem", "forældre");
    b.fill("samtykke_hvordan", "skriftligt");
    b.fill("ophoert", &yesterday);
    b.fill("moede_dag", day);
    b.fill("moede_tid", time);
    b.follow("form[action='/overgang'] button");
    // Refused: the second consent is missing; what was typed stays.
    let text = b.text();
    assert!(
        text.contains("Overgangen blev ikke sendt")
            && text.contains("dele det nuværende forløbs oplysninger mangler"),
        "{text}"
    );
    let kept = b.eval("return document.getElementById('samtykke_hvem').value;");
    assert_eq!(kept, "forældre");
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "refused"
    );
    b.screenshot("overgang-refused");
    d.wait_outbox_idle();
    assert_eq!(sink.count(), before, "a refused overgang sends nothing");

    b.fill("deling_hvem", "forældre");
    b.fill("deling_hvordan", "skriftligt");
    b.follow("form[action='/overgang'] button");
    let text = b.text();
    assert!(
        text.contains("Sag SAG-300 overgår til trin 2")
            && text.contains("Anna Kristensen")
            && text.contains("Børneskolerådgiverne"),
        "{text}"
    );
    b.screenshot("overgang-sent");
    d.wait_outbox_idle();
    let mails = sink.wait(before + 4);
    let handover = mails
        .iter()
        .find(|m| {
            rcpt_of(m) == "boerneskoleraadgivere@kommune.localhost" && m.contains("BEGIN PGP")
        })
        .expect("the hand-over to the Børneskolerådgivere");
    let plain = Gpg::with_demo_keys(&["boerneskoleraadgivere"])
        .decrypt(&armored_block(handover))
        .unwrap();
    assert!(plain.contains("Sag: SAG-300"), "{plain}");
    assert!(
        mails
            .iter()
            .all(|m| rcpt_of(m) != "leder.bakkeskolen@kommune.localhost"),
        "the school's leader hears from the Børneskolerådgivere, as on trin 2"
    );

    // Posted again (a second click, a reload of the answer): answered as it was, nothing
    // sent twice, and a case registry import keeps it so; another first meeting is refused.
    d.cli_json(&["cases", "import", csv.to_str().unwrap(), "--json"]);
    let sent = sink.count();
    let again = d.sign_in_at("anna", &anna, 1);
    let mut form = vec![
        ("sag", "SAG-300"),
        ("samtykke_hvem", "forældre"),
        ("samtykke_hvordan", "skriftligt"),
        ("deling_hvem", "forældre"),
        ("deling_hvordan", "skriftligt"),
        ("ophoert", yesterday.as_str()),
        ("moede_dag", day),
        ("moede_tid", time),
    ];
    let (status, page) = again.post_form(&d, "/overgang", &form);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Intet er sendt igen") && page.contains("Anna Kristensen"),
        "{page}"
    );
    // Another hour of the same day: still a day the meeting may be on.
    form[7] = ("moede_tid", "13:00");
    let (status, page) = again.post_form(&d, "/overgang", &form);
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("overgik allerede til trin 2") && page.contains("sendes ikke igen"),
        "{page}"
    );
    d.wait_outbox_idle();
    assert_eq!(sink.count(), sent, "nothing sent twice");

    // Another rådgiver cannot move Anna's case: told as if it did not exist.
    let bo = d.add_user("bo", "bo.nielsen@kommune.localhost", "raadgiver");
    let bo = d.sign_in("bo", &bo);
    let (status, page) = bo.post_form(&d, "/overgang", &[("sag", "SAG-300")]);
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("Der er ingen sag SAG-300, som du kan flytte"),
        "{page}"
    );
    // Journalen has no overgang at all.
    let journal = d.add_user("journal", "journalen@kommune.localhost", "journalen");
    let journal = d.sign_in("journal", &journal);
    let (status, _) = journal.get(&d, "/overgang");
    assert_eq!(status, 403);
}
