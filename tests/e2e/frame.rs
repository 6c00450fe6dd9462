//! The desk's frame and a day's pages in a real Chromium (issue 29): the kommune's name and
//! logo, the person's desks, the footer and the accessibility statement; the queue and the
//! item with the child's history at a phone's width; what the item page prints.

use modtag_tests::browser::Browser;
use modtag_tests::*;

const PHONE: (u32, u32) = (390, 844);

/// Modtagelsen's day: the queue and an intake with the child's history, on a desk screen
/// and a phone, then printed; the frame on each; axe-core clean throughout.
#[test]
fn the_desk_in_its_frame_on_a_screen_a_phone_and_paper() {
    let d = Daemon::start(Options::default());
    let first = d.send("Bekymring", "Emil kom sulten i skole, cpr 120315-4321.");
    d.decide(&first, &["--trin", "2", "--outcome", "afdaekning"]);
    let newest = d.send(
        "Bekymring for Emil",
        "Emil var ikke hentet fredag, cpr 120315-4321. MARKER-TEKST",
    );
    let uri = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let b = Browser::start();
    b.sign_in(d.http, "modt", &uri);

    // Signed in, she lands on her queue, in the kommune's frame.
    assert!(b.url().ends_with("/koe"), "{}", b.url());
    let text = b.text();
    for words in [
        "Fredericia Kommune",
        "Logget ind som",
        "Køen",
        "Sendt til mig",
        "Min konto",
        "Tilgængelighedserklæring",
    ] {
        assert!(text.contains(words), "{words}: {text}");
    }
    let current = b.eval("return document.querySelector('nav [aria-current=page]').textContent;");
    assert_eq!(current, "Køen");
    assert!(
        !text.contains(" CET") && !text.contains("Overblik"),
        "{text}"
    );
    assert_eq!(b.accessibility_violations(), Vec::<String>::new(), "/koe");
    b.screenshot("frame-queue");

    // On a phone the queue's rows become cards: nothing runs off the screen.
    b.set_size(PHONE.0, PHONE.1);
    let (page, window) = b.widths();
    assert!(
        page <= window,
        "the queue is {page} px wide in a {window} px window"
    );
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "/koe phone"
    );
    b.screenshot("frame-queue-phone");
    // The first deadline on the first screen: the search stays, the other filters fold
    // away until one is chosen (they filled a phone's first screen).
    let first_deadline = "return [document.querySelector('table.queue tbody td').getBoundingClientRect().bottom, window.innerHeight];";
    let v = b.eval(first_deadline);
    let (bottom, screen) = (v[0].as_f64().unwrap(), v[1].as_f64().unwrap());
    assert!(
        bottom <= screen,
        "the first deadline ends at {bottom} px on a {screen} px screen"
    );
    let folded = "return document.querySelector('details.more-filters').open;";
    assert_eq!(b.eval(folded), false);
    b.goto(&format!("http://{}/koe?tilstand=alle", d.http));
    assert_eq!(b.eval(folded), true, "a chosen filter is shown");
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "/koe phone, filters open"
    );
    b.screenshot("frame-queue-phone-filters");

    // The item: the history with the earlier intake, fitting the phone too.
    b.goto(&format!("http://{}/koe/{newest}", d.http));
    let text = b.text();
    assert!(text.contains("Barnets historik"), "{text}");
    assert!(
        text.contains("Afdækning") && text.contains("trin 2"),
        "{text}"
    );
    let (page, window) = b.widths();
    assert!(
        page <= window,
        "the item is {page} px wide in a {window} px window"
    );
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "item phone"
    );
    b.screenshot("frame-item-phone");
    b.set_size(1280, 900);
    assert_eq!(b.accessibility_violations(), Vec::<String>::new(), "item");
    b.screenshot("frame-item-before");
    b.eval("document.getElementById('historik').scrollIntoView(); return null;");
    b.screenshot("frame-item-history");

    // Printed: the intake, its reading and history; no frame, no forms, no buttons.
    let printed = b.printed_text();
    for words in [
        "MARKER-TEKST",
        "Barnets historik",
        first.as_str(),
        "Læsning",
    ] {
        assert!(printed.contains(words), "{words} printed: {printed}");
    }
    for words in [
        "Log ud",
        "Gem notat",
        "Vurdér henvendelsen",
        "Tilgængelighedserklæring",
        "Luk henvendelsen",
    ] {
        assert!(!printed.contains(words), "{words} printed: {printed}");
    }

    // Assessed, the assessment stands on the page.
    d.decide(
        &newest,
        &["--trin", "3", "--outcome", "boernefaglig_undersoegelse"],
    );
    b.goto(&format!("http://{}/koe/{newest}", d.http));
    let text = b.text();
    assert!(text.contains("Børnefaglig undersøgelse"), "{text}");
    assert!(
        text.contains("Sendt til Modtagelsen: Ny sag på trin 3-4"),
        "a mailbox named as its role is named once: {text}"
    );
    b.screenshot("frame-item-after");

    // The accessibility statement, from the configuration.
    b.follow("a[href='/was']");
    assert!(b.text().contains("WCAG 2.1"), "{}", b.text());
    assert_eq!(b.accessibility_violations(), Vec::<String>::new(), "/was");
}

/// A lokal leder's desks: what was sent to her and her account, nothing of Modtagelsen's;
/// she lands on "Sendt til mig". The logo is the configuration's drawing, under the same
/// no-script policy as every page.
#[test]
fn a_leaders_frame_offers_only_her_desks() {
    let d = Daemon::start(Options::default());
    let uri = d.add_user("mette", "leder.solsikken@kommune.localhost", "lokal_leder");
    let mette = d.sign_in("mette", &uri);
    let (status, head, _) = http_get_headers(d.http, "/", &[("Cookie", &mette.cookie)]).unwrap();
    assert_eq!(status, 303, "{head}");
    assert!(head.contains("location: /sendt-til-mig"), "{head}");
    let (_, page) = mette.get(&d, "/sendt-til-mig");
    assert!(
        page.contains("href=\"/sendt-til-mig\" aria-current=\"page\""),
        "{page}"
    );
    for not in ["href=\"/koe\"", "/overblik", "/fejlede-leverancer"] {
        assert!(!page.contains(not), "{not}: {page}");
    }
    let (status, head, svg) = http_get_headers(d.http, "/static/logo.svg", &[]).unwrap();
    assert_eq!(status, 200);
    assert!(
        head.contains("image/svg+xml") && svg.starts_with("<svg"),
        "{head}"
    );
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    // An answer the listener gives itself (a body over its limit) has the same headers.
    let big = vec![b'x'; 3 * 1024 * 1024];
    let (status, head, _) = http_request(d.http, "POST", "/koe", &[], &big).unwrap();
    assert_eq!(status, 413, "{head}");
    assert!(
        head.contains("content-security-policy: default-src 'none'")
            && head.contains("x-frame-options: DENY")
            && head.contains("cache-control: no-store"),
        "{head}"
    );
    // Signed out, the frame names no one and offers no desk.
    let (_, _, login) = http_get_headers(d.http, "/login", &[]).unwrap();
    assert!(
        login.contains("Fredericia Kommune") && !login.contains("Log ud"),
        "{login}"
    );
}

/// A sender cannot make an intake unreadable by its size (the attack: 14 MB of characters
/// that HTML escapes sixfold): the item page opens, framed, with the text.
#[test]
fn a_huge_intake_opens_framed() {
    let d = Daemon::start(Options::default());
    let line = "\"".repeat(900);
    let mut eml = String::from(
        "From: kontor@bakkeskolen.dk\r\nTo: underretning@localhost\r\nSubject: Stor\r\n\r\n",
    );
    for _ in 0..15_000 {
        eml.push_str(&line);
        eml.push_str("\r\n");
    }
    let file = d.dir.path().join("stor.eml");
    std::fs::write(&file, &eml).unwrap();
    let r = d.send_file("underretning@localhost", &file);
    let uri = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let modt = d.sign_in("modt", &uri);
    let (status, page) = modt.get(&d, &format!("/koe/{r}"));
    assert_eq!(status, 200);
    assert!(
        page.len() > 64 * 1024 * 1024 && page.contains("Log ud") && page.contains("&#34;&#34;"),
        "{} bytes: {}",
        page.len(),
        &page[..page.len().min(400)]
    );
}
