//! The pages in a real headless Chromium over WebDriver: what a member of staff does, that
//! every page passes axe-core's WCAG 2.1 A/AA rules with no serious or critical violation,
//! and screenshots to look at (`target/screenshots/`).

use modtag_tests::browser::Browser;
use modtag_tests::*;

#[test]
fn signing_in_and_out_in_a_real_browser_is_accessible() {
    let d = Daemon::start(Options::default());
    let uri = d.add_user(
        "lene.holm",
        "lene.holm@kommune.localhost",
        "modtagelsen_leder",
    );
    let b = Browser::start();
    let base = format!("http://{}", d.http);

    b.goto(&format!("{base}/login"));
    assert_eq!(b.accessibility_violations(), Vec::<String>::new(), "/login");
    b.screenshot("login");
    // No script runs on our pages: none is there, and the policy forbids any.
    assert_eq!(b.eval("return document.scripts.length;"), 0);

    // A wrong code: the error is announced, and the page is still accessible.
    b.fill("username", "lene.holm");
    b.fill("password", TEST_PASSWORD);
    b.fill("totp", "000000");
    b.follow("button[type=submit]");
    assert!(b.text().contains("Du blev ikke logget ind"), "{}", b.text());
    assert_eq!(
        b.eval("return document.querySelector('[role=alert]') !== null;"),
        true
    );
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "/login with an error"
    );
    b.screenshot("login-error");

    // Signed in with the right code, once the wait after one failure (1 s) is over.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    b.goto(&format!("{base}/login"));
    b.fill("username", "lene.holm");
    b.fill("password", TEST_PASSWORD);
    b.fill("totp", &totp_code(&uri, 0));
    b.follow("button[type=submit]");
    assert!(b.text().contains("Logget ind som"), "{}", b.text());
    assert!(b.text().contains("Lene Holm"), "{}", b.text());
    // Sign-in lands on the person's first desk (issue 29).
    assert!(b.url().ends_with("/koe"), "{}", b.url());
    assert_eq!(b.accessibility_violations(), Vec::<String>::new(), "/koe");
    b.screenshot("home");

    b.follow("form[action='/logout'] button");
    assert!(b.url().ends_with("/login"), "{}", b.url());
    b.goto(&format!("{base}/"));
    assert!(b.url().ends_with("/login"), "signed out: {}", b.url());
}

#[test]
fn modtagelsens_queue_puts_akut_first_then_the_nearest_deadline() {
    let mut d = Daemon::start(Options::default());
    let first = d.send("Bekymring", "Vi er bekymrede for barnet, cpr 120315-4321.");
    let akut = d.send("Akut bekymring", "Det haster: barnet tør ikke gå hjem.");
    let trivsel = queued_as(&d.swaks(
        "trivselplus@localhost",
        "Trivsel+ Karen Poulsen",
        "CVR 13585628",
    ))
    .unwrap();
    let uri = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let b = Browser::start();
    b.sign_in(d.http, "modt", &uri);
    b.goto(&format!("http://{}/koe", d.http));
    let text = b.text();
    assert!(text.contains("Kø: Modtagelsen"), "{text}");
    assert!(text.contains(&first) && text.contains(&akut), "{text}");
    assert!(
        !text.contains(&trivsel),
        "Journalen's TRIVSEL+ is not on this desk: {text}"
    );
    // Akut first, above every deadline (issue 27), marked with the time since it came and
    // counted; then the nearest deadline, its time left in words, CPR masked.
    let refs = b.eval(
        "return [...document.querySelectorAll('table.queue tbody tr td:nth-child(2)')]
                 .map(td => td.textContent.trim());",
    );
    assert_eq!(refs, serde_json::json!([akut, first]));
    assert!(
        text.contains("1 akut henvendelse afventer vurdering") && text.contains("modtaget for"),
        "{text}"
    );
    assert!(
        text.contains("tilbage") && text.contains("120315-XXXX"),
        "{text}"
    );
    assert!(
        !text.contains("120315-4321"),
        "the full CPR stays off the queue"
    );
    assert!(text.contains("Akut"), "{text}");
    assert_eq!(b.accessibility_violations(), Vec::<String>::new(), "/koe");
    b.screenshot("queue");

    // Searched by reference: only that one.
    let listed = |b: &Browser| {
        b.eval(
            "return [...document.querySelectorAll('table.queue tbody tr td:nth-child(2)')]
                     .map(td => td.textContent.trim());",
        )
    };
    b.fill("q", &akut);
    b.follow("form.queue-search button");
    assert_eq!(listed(&b), serde_json::json!([akut]));
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "/koe searched"
    );
    // By CPR, through the blind index: the number travels in the form's body, never in the
    // address, and is not echoed back into the page.
    b.goto(&format!("http://{}/koe", d.http));
    b.fill("q", "120315-4321");
    b.follow("form.queue-search button");
    assert_eq!(listed(&b), serde_json::json!([first]));
    assert!(!b.url().contains("120315"), "{}", b.url());
    assert!(b.text().contains("Søgt på CPR-nummer"), "{}", b.text());
    assert!(!b.text().contains("120315-4321"), "{}", b.text());

    // Filtered by channel and by the day received (the filters may be in the address: no
    // personal data in them).
    let today = today_in_denmark();
    let koe = |query: &str| {
        b.goto(&format!("http://{}/koe?{query}", d.http));
        listed(&b)
    };
    let both = serde_json::json!([akut, first]);
    assert_eq!(
        koe(&format!("kanal=underretning&fra={today}&til={today}")),
        both
    );
    assert_eq!(koe("kanal=postfordeling"), serde_json::json!([]));
    assert!(
        b.text().contains("Ingen henvendelser med de valg"),
        "{}",
        b.text()
    );
    assert_eq!(
        koe(&format!("fra={}", today.tomorrow().unwrap())),
        serde_json::json!([])
    );
    assert_eq!(
        koe(&format!("til={}", today.yesterday().unwrap())),
        serde_json::json!([])
    );
    // A date that is not one is said so, and not used.
    assert_eq!(koe("fra=i+går"), both);
    assert!(
        b.text().contains("En dato skal skrives som"),
        "{}",
        b.text()
    );
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "/koe filtered, with a date error"
    );
    drop(b);
    assert!(d.stop().success());
    let searches = d.audit_text("listed");
    assert!(
        searches.contains("\"cpr\":\"120315-4321\"") && searches.contains("\"actor\":\"modt\""),
        "the search is audited with its criteria: {searches}"
    );
}

/// A message that tries every way into a page: script, event handlers, `javascript:` and SVG
/// in the sender's name, the subject, the text and an attachment's file name.
const HOSTILE: &str = "From: \"<script>window.pwned=1</script>\" <kontor@bakkeskolen.dk>\r
To: underretning@localhost\r
Subject: <img src=x onerror=\"window.pwned=2\"> Bekymring\r
MIME-Version: 1.0\r
Content-Type: multipart/mixed; boundary=\"b1\"\r
\r
--b1\r
Content-Type: text/plain; charset=utf-8\r
\r
Vi er bekymrede for barnet, cpr 120315-4321.\r
<script>window.pwned=3</script> <a href=\"javascript:window.pwned=4\">klik</a>\r
<svg onload=\"window.pwned=5\"><circle r=\"9\"/></svg>\r
--b1\r
Content-Type: application/pdf; name=\"\\\"><img src=x onerror=window.pwned=6>.pdf\"\r
Content-Disposition: attachment; filename=\"\\\"><img src=x onerror=window.pwned=6>.pdf\"\r
Content-Transfer-Encoding: base64\r
\r
JVBERi0xLjQKJSBtb2R0YWcgdGVzdAo=\r
--b1--\r
";

#[test]
fn the_item_page_shows_hostile_content_as_text_and_only_to_its_desk() {
    let d = Daemon::start(Options::default());
    let eml = d.dir.path().join("hostile.eml");
    std::fs::write(&eml, HOSTILE).unwrap();
    let r = d.send_file("underretning@localhost", &eml);
    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let journal = d.add_user("journal", "journalen@kommune.localhost", "journalen");

    let b = Browser::start();
    b.sign_in(d.http, "modt", &modt);
    b.goto(&format!("http://{}/koe", d.http));
    b.follow(&format!("a[href='/koe/{r}']"));
    let text = b.text();
    assert!(text.contains(&format!("{r}: Underretning")), "{text}");
    assert!(
        text.contains("120315-4321"),
        "the full CPR on the item page: {text}"
    );
    // Every payload is there as text, and none became an element, a handler or a link.
    for shown in [
        "<script>window.pwned=1</script>",
        "<img src=x onerror=\"window.pwned=2\">",
        "<script>window.pwned=3</script>",
        "<svg onload=\"window.pwned=5\">",
    ] {
        assert!(text.contains(shown), "{shown} not shown as text:\n{text}");
    }
    let injected = b.eval(
        "return {
           elements: document.querySelectorAll('main script, main img, main svg, main iframe').length,
           handlers: [...document.querySelectorAll('*')].filter(e =>
             [...e.attributes].some(a => a.name.startsWith('on'))).length,
           links: document.querySelectorAll('a[href^=\"javascript\"]').length,
           pwned: window.pwned === undefined ? null : window.pwned };",
    );
    assert_eq!(
        injected,
        serde_json::json!({ "elements": 0, "handlers": 0, "links": 0, "pwned": null })
    );
    // The attachment is a download, its odd name only text.
    let href = b
        .eval("return document.querySelector('a[href*=\"/attachments/0\"]').getAttribute('href');");
    assert_eq!(
        href,
        serde_json::json!(format!("/api/v1/triage/{r}/attachments/0"))
    );
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "/koe/{r}"
    );
    b.screenshot("item");

    // Journalen has no reason to see an underretning: the same answer as for none at all.
    let other = Browser::start();
    other.sign_in(d.http, "journal", &journal);
    other.goto(&format!("http://{}/koe/{r}", d.http));
    assert!(other.text().contains("Ikke fundet"), "{}", other.text());
    assert!(!other.text().contains("120315"));
}

/// Modtagelsen's whole assessment in the browser: the new underretning at the top of the
/// queue, opened, decided (trin 4, akut), the route preview read, confirmed; the copies
/// reach the relay and the item leaves the queue of those awaiting assessment.
#[test]
fn modtagelsen_decides_in_the_browser_with_a_route_preview() {
    let d = Daemon::start(Options::default());
    let sink = Sink::start(d.opts.relay_port);
    let r = d.send(
        "Bekymring for en elev",
        "Vi er bekymrede for barnet, cpr 120315-4321.",
    );
    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    // Counted once the account's notices (made, enrolled) are out too.
    d.wait_outbox_idle();
    let before = sink.count();
    let b = Browser::start();
    b.sign_in(d.http, "modt", &modt);
    b.goto(&format!("http://{}/koe", d.http));
    b.follow(&format!("a[href='/koe/{r}']"));
    b.follow(&format!("a[href='/koe/{r}/vurdering']"));
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "the decision form"
    );
    b.screenshot("decide-form");

    // A post without the session's CSRF token (as another site's form would send) does
    // nothing and says so.
    b.eval("document.querySelector('main input[name=csrf]').value = 'forfalsket'; return null;");
    b.follow("button[value=preview]");
    assert!(b.text().contains("Formularen var udløbet"), "{}", b.text());
    b.goto(&format!("http://{}/koe/{r}/vurdering", d.http));

    // Nothing chosen: the error summary says what to fix, and links to the field.
    b.follow("button[value=preview]");
    assert!(
        b.text().contains("Vælg et trin på trivselsbarometeret"),
        "{}",
        b.text()
    );
    assert_eq!(
        b.eval("return document.querySelector('#fejl a').getAttribute('href');"),
        "#trin-0"
    );
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "the form with errors"
    );

    b.click("#trin-4");
    b.click("#akut");
    b.fill("screening", "Alvorlig bekymring; underretningsmøde.");
    b.follow("button[value=preview]");
    let preview = b.text();
    assert!(preview.contains("Modtagere for"), "{preview}");
    assert!(
        preview.contains("modtagelsen@kommune.localhost")
            && preview.contains("lene.holm@kommune.localhost")
            && preview.contains("underretning-akut"),
        "each recipient with the rule: {preview}"
    );
    assert_eq!(sink.count(), before, "a preview sends nothing");
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "the route preview"
    );
    b.screenshot("decide-preview");

    b.follow("button[value=confirm]");
    assert!(b.url().ends_with(&format!("/koe/{r}")), "{}", b.url());
    assert!(b.text().contains("Trin 4, akut af modt"), "{}", b.text());
    // The assessment stays on the item (issue 29): the screening as written, the trin in the
    // barometer's words, and what was recorded of consent.
    let item = b.text();
    assert!(
        item.contains("Screening og anbefaling")
            && item.contains("Alvorlig bekymring; underretningsmøde.")
            && item.contains("Trin 4: Truede trivselspositioner")
            && item.contains("Intet samtykke registreret"),
        "{item}"
    );
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "the item after assessment"
    );
    b.screenshot("item-assessed");
    d.wait_outbox_idle();
    // Modtagelsen's and its leader's copies (and at night the døgnvagt's: the calendar
    // says when).
    let routed = d.cli_json(&["triage", "show", &r, "--json"])["decision"]["recipients"]
        .as_array()
        .unwrap()
        .len();
    assert!((2..=3).contains(&routed), "{routed}");
    assert_eq!(sink.count(), before + routed);
    b.goto(&format!("http://{}/koe", d.http));
    assert!(
        !b.text().contains(&r),
        "decided: not awaiting assessment any more"
    );
    b.goto(&format!("http://{}/koe?tilstand=alle", d.http));
    assert!(b.text().contains(&r), "still open");
}

/// A local leader without an OpenPGP certificate is sent a notification that carries the
/// reference and a link only; the link takes her through the sign-in to the item, she reads
/// it in the desk, marks it "modtaget", and Modtagelsen sees who took it over.
#[test]
fn a_leader_without_a_certificate_is_notified_reads_in_the_desk_and_takes_it_over() {
    let mut d = Daemon::start(Options {
        directory_edits: vec![(
            "cert_file = \"keys/leder-solsikken.cert.asc\"\n".into(),
            String::new(),
        )],
        ..Options::default()
    });
    let sink = Sink::start(d.opts.relay_port);
    let r = d.send("Bekymring", "Vi er bekymrede for barnet, cpr 120315-4321.");
    d.wait_outbox_idle();
    let before = sink.count();
    // The school's address is only typed: a person confirms who sent it (issue 26).
    assert!(d
        .cli(&["triage", "confirm-sender", &r, "--how", "ringet til skolen"])
        .status
        .success());
    let routed = d.decide(
        &r,
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
            // A professional's report: with the original attached she reads it in the desk.
            "--attach-original",
        ],
    );
    assert!(routed.to_string().contains("mette.joergensen"), "{routed}");
    d.wait_outbox_idle();
    let sent = sink.wait(before + 1);
    let to_mette: Vec<&String> = sent
        .iter()
        .filter(|m| rcpt_of(m) == "leder.solsikken@kommune.localhost")
        .collect();
    assert_eq!(to_mette.len(), 1, "one mail to her");
    let mail = to_mette[0];
    assert!(
        !mail.contains("BEGIN PGP"),
        "no certificate, no encrypted copy"
    );
    assert!(
        mail.contains(&format!("Subject: Ny henvendelse til dig i modtag: {r}")),
        "{mail}"
    );
    let body = plain_body(mail);
    let link = format!("http://{}/koe/{r}", d.http);
    assert!(body.contains(&link), "the reference and a link: {body}");
    for secret in ["120315", "bekymrede", "Bekymring"] {
        assert!(
            !mail.contains(secret) && !body.contains(secret),
            "{secret} in {mail}\n{body}"
        );
    }

    let mette = d.add_user("mette", "leder.solsikken@kommune.localhost", "lokal_leder");
    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");

    // The link from the mail: first the sign-in, then the item itself.
    let b = Browser::start();
    b.goto(&link);
    assert!(b.url().ends_with("/login"), "{}", b.url());
    b.fill("username", "mette");
    b.fill("password", TEST_PASSWORD);
    b.fill("totp", &totp_code(&mette, 0));
    b.follow("button[type=submit]");
    assert_eq!(b.url(), link, "the sign-in ends at the item");
    assert!(
        b.text().contains("Vi er bekymrede for barnet"),
        "she reads it: {}",
        b.text()
    );
    b.goto(&format!("http://{}/sendt-til-mig", d.http));
    let text = b.text();
    assert!(text.contains(&r) && text.contains("Nej"), "{text}");
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "/sendt-til-mig"
    );
    b.screenshot("sent-to-me");
    b.follow(&format!("a[href='/koe/{r}']"));
    b.follow("form[action$='/modtaget'] button");
    assert!(
        b.text().contains("Du markerede den som modtaget"),
        "{}",
        b.text()
    );
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "the item, taken over"
    );
    b.goto(&format!("http://{}/sendt-til-mig", d.http));
    assert!(!b.text().contains("Nej"), "{}", b.text());
    // She has no queue: that is Modtagelsen's and Journalen's.
    b.goto(&format!("http://{}/koe", d.http));
    assert!(b.text().contains("Du har ingen kø"), "{}", b.text());

    let m = Browser::start();
    m.sign_in(d.http, "modt", &modt);
    m.goto(&format!("http://{}/koe/{r}", d.http));
    assert!(
        m.text().contains("Modtaget af: mette.joergensen"),
        "{}",
        m.text()
    );
    assert!(d.stop().success());
    let taken = d.audit_text("taken_over");
    assert!(
        taken.contains("\"actor\":\"mette\"") && taken.contains(&r),
        "{taken}"
    );
}
