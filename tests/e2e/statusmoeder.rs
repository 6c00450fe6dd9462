//! The school year's statusmøder in the desk (issue 29), in a real Chromium with the relay:
//! the leader of PPR sees each lederteam's meetings (a private school's called by its own
//! leader), sends the year, marks a meeting as having a forløb about a pupil in udskoling
//! (the leaders of UU and fritid are invited, and uninvited when the mark goes) and cancels
//! one; no one else has the page.

use modtag_tests::browser::Browser;
use modtag_tests::*;

const YEAR: &str = "/statusmoeder?aar=2027";
/// A day of the school year 2026/2027, for the daemon's clock.
const IN_SCHOOL_YEAR_2026: &str = "2026-12-08T09:00:00Z";

/// The mails to `address` of the meeting whose UID starts with `uid`, as (method, ics).
fn invitations(mails: &[String], address: &str, uid: &str) -> Vec<(String, String)> {
    mails
        .iter()
        .filter(|m| rcpt_of(m) == address && m.contains("text/calendar"))
        .map(|m| calendar_part(m))
        .filter(|(_, ics)| ics.contains(&format!("UID:{uid}")))
        .collect()
}

/// The browser's session as a plain HTTP client (its cookie, the page's CSRF token).
fn karen_http(d: &Daemon, b: &Browser) -> Signed {
    let cookie =
        b.rt.block_on(b.client.get_named_cookie("modtag_session"))
            .expect("a session cookie");
    let cookie = format!("modtag_session={}", cookie.value());
    let (_, _, page) = http_get_headers(d.http, "/konto", &[("Cookie", &cookie)]).unwrap();
    Signed {
        user: "karen".into(),
        csrf: csrf_field(&page).expect("a CSRF token"),
        cookie,
    }
}

#[test]
fn the_leader_of_ppr_sends_marks_and_cancels_the_years_statusmoeder() {
    // In the school year 2026/2027: 2027/2028 is the next, which may be sent.
    let d = Daemon::start(Options {
        faketime: Some(IN_SCHOOL_YEAR_2026.into()),
        ..Options::default()
    });
    let sink = Sink::start(d.opts.relay_port);
    let karen = d.add_user("karen", "leder.ppr@kommune.localhost", "leder_ppr");
    let b = Browser::start();
    b.sign_in_to(&d, "karen", &karen);
    b.follow("nav a[href='/statusmoeder']");
    b.goto(&format!("http://{}{YEAR}", d.http));
    let text = b.text();
    for words in [
        "Statusmøder 2027/2028",
        "Dagplejen",
        "Skoler",
        "Friskolen",
        "Indkaldes af Susanne Møller",
        "Årets invitationer er ikke sendt",
    ] {
        assert!(text.contains(words), "{words}: {text}");
    }
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "not sent"
    );
    // The account's own notices are out of the way first.
    d.wait_outbox_idle();
    let before = sink.count();
    b.follow("form[action='/statusmoeder/send'] button");
    assert!(
        b.text().contains("Alle invitationer er sendt"),
        "{}",
        b.text()
    );
    d.wait_outbox_idle();
    assert_eq!(sink.wait(before + 84).len(), before + 84);
    assert_eq!(b.accessibility_violations(), Vec::<String>::new(), "sent");
    b.screenshot("statusmoeder");

    // An udskoling forløb on Skoler's first meeting: the leaders of UU and fritid are
    // invited to that meeting, the team gets the update.
    let skoler = "statusmoede-skoler-20270817@";
    let mark =
        format!("form[action='/statusmoeder/udskoling']:has(input[value^='{skoler}']) button");
    b.follow(&mark);
    assert!(b.text().contains("Udskolingsforløb"), "{}", b.text());
    d.wait_outbox_idle();
    let mails = sink.wait(before + 84 + 6);
    for leader in [
        "leder.uu@kommune.localhost",
        "leder.fritid@kommune.localhost",
    ] {
        let got = invitations(&mails, leader, skoler);
        assert_eq!(got.len(), 1, "{leader}");
        assert_eq!(got[0].0, "REQUEST");
    }
    let update = invitations(
        &mails,
        "leder.boerneskoleraadgivere@kommune.localhost",
        skoler,
    );
    assert!(
        update.iter().any(|(_, ics)| ics.contains("SEQUENCE:1")),
        "{update:?}"
    );
    assert!(
        invitations(
            &mails,
            "leder.uu@kommune.localhost",
            "statusmoede-skoler-20271012@"
        )
        .is_empty(),
        "only the marked meeting"
    );

    // The mark taken off: they get the cancellation of that meeting.
    b.follow(&mark);
    d.wait_outbox_idle();
    let mails = sink.wait(before + 84 + 6 + 6);
    let uu = invitations(&mails, "leder.uu@kommune.localhost", skoler);
    assert!(
        uu.iter()
            .any(|(m, ics)| m == "CANCEL" && ics.contains("SEQUENCE:2")),
        "{uu:?}"
    );

    // One meeting moved (Dagplejen's second, to Thursday 14 October 09:00): its three get
    // the update of the same meeting; a weekend is refused.
    d.wait_outbox_idle();
    let before_move = sink.count();
    let second = "statusmoede-dagplejen-20271012@modtag.localhost";
    let karen_http = karen_http(&d, &b);
    let moved = [
        ("aar", "2027"),
        ("uid", second),
        ("dag", "2027-10-16"),
        ("tid", "09:00"),
    ];
    let (status, page) = karen_http.post_form(&d, "/statusmoeder/flyt", &moved);
    assert_eq!(status, 422);
    assert!(page.contains("lukkedag"), "{page}");
    let moved = [
        ("aar", "2027"),
        ("uid", second),
        ("dag", "2027-10-14"),
        ("tid", "09:00"),
    ];
    let (status, page) = karen_http.post_form(&d, "/statusmoeder/flyt", &moved);
    assert_eq!(status, 303, "{page}");
    d.wait_outbox_idle();
    let mails = sink.wait(before_move + 3);
    assert_eq!(mails.len(), before_move + 3);
    let update = invitations(&mails, "leder.sundhedspleje@kommune.localhost", second);
    assert!(
        update.iter().any(|(m, ics)| m == "REQUEST"
            && ics.contains("DTSTART;TZID=Europe/Copenhagen:20271014T090000")
            && ics.contains("SEQUENCE:1")),
        "{update:?}"
    );
    b.goto(&format!("http://{}{YEAR}", d.http));
    assert!(
        b.text().contains("tors. 14. okt. 2027 09:00-11:00"),
        "{}",
        b.text()
    );

    // One meeting cancelled: Dagplejen's first, to its three.
    let dagplejen = "statusmoede-dagplejen-20270817@";
    b.follow(&format!("a[href*='uid={}']", dagplejen.replace('@', "%40")));
    assert!(b.text().contains("Aflys statusmødet?"), "{}", b.text());
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "confirm"
    );
    b.follow("form[action='/statusmoeder/aflys'] button");
    d.wait_outbox_idle();
    let mails = sink.wait(before + 84 + 6 + 6 + 3);
    let cancels: Vec<_> = (mails.iter())
        .filter(|m| m.contains("text/calendar"))
        .map(|m| calendar_part(m))
        .filter(|(m, ics)| m == "CANCEL" && ics.contains(dagplejen))
        .collect();
    assert_eq!(cancels.len(), 3);
    assert!(b.text().contains("aflyst"), "{}", b.text());

    // Friskolen's own leader: her school's meetings only; she marks her first one with an
    // udskoling forløb, and only that meeting's invitations go out.
    let susanne = d.add_user("susanne", "leder@friskolen.localhost", "privat_leder");
    let susanne = d.sign_in("susanne", &susanne);
    let (status, page) = susanne.get(&d, YEAR);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<h2>Friskolen</h2>") && !page.contains("<h2>Skoler</h2>"),
        "{page}"
    );
    d.wait_outbox_idle();
    let before = sink.count();
    let friskolen = "statusmoede-privat-friskolen-20270817@modtag.localhost";
    let marked = [("aar", "2027"), ("uid", friskolen), ("til", "ja")];
    let (status, page) = susanne.post_form(&d, "/statusmoeder/udskoling", &marked);
    assert_eq!(status, 303, "{page}");
    d.wait_outbox_idle();
    let mails = sink.wait(before + 5);
    assert_eq!(
        mails.len(),
        before + 5,
        "her meeting's three and UU and fritid"
    );
    let uu = invitations(
        &mails,
        "leder.uu@kommune.localhost",
        "statusmoede-privat-friskolen-",
    );
    assert_eq!(uu.len(), 1);
    assert!(
        uu[0].1.contains("ORGANIZER;CN=Susanne Møller"),
        "{}",
        uu[0].1
    );
    // Another team's meeting is not hers to cancel.
    let skoler_uid = "statusmoede-skoler-20271012@modtag.localhost";
    let (status, _) = susanne.post_form(
        &d,
        "/statusmoeder/aflys",
        &[("aar", "2027"), ("uid", skoler_uid)],
    );
    assert_eq!(status, 422);
    // Nor to mark (the attack: UU and fritid invited to Skoler's meeting by Friskolen's
    // leader), nor a UID made up, nor a meeting of a year not sent (which would mail the
    // whole year).
    let junk = "x".repeat(1000);
    for (aar, uid) in [
        ("2027", skoler_uid),
        ("2027", junk.as_str()),
        (
            "2030",
            "statusmoede-privat-friskolen-20300820@modtag.localhost",
        ),
    ] {
        let mark = [("aar", aar), ("uid", uid), ("til", "ja")];
        let (status, _) = susanne.post_form(&d, "/statusmoeder/udskoling", &mark);
        assert_eq!(status, 422, "{aar} {}", &uid[..uid.len().min(40)]);
    }
    // A year far off (a typo for 2027) is only shown: no button sends it, and a post
    // that tries is refused with the years that may be sent.
    let (status, page) = karen_http.get(&d, "/statusmoeder?aar=2072");
    assert_eq!(status, 200, "{page}");
    assert!(
        !page.contains("action=\"/statusmoeder/send\"") && page.contains("kan kun ses"),
        "{page}"
    );
    let (status, page) = karen_http.post_form(&d, "/statusmoeder/send", &[("aar", "2072")]);
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("(2026/2027) og det næste (2027/2028)"),
        "{page}"
    );
    d.wait_outbox_idle();
    assert_eq!(sink.count(), before + 5, "nothing more was sent");
    // The leader of PPR sees one mark in the whole year: Friskolen's.
    b.goto(&format!("http://{}{YEAR}", d.http));
    let marks = b.eval("return document.querySelectorAll('main .mark-gentagen').length;");
    assert_eq!(marks, 1, "her own mark only");

    // Modtagelsen has neither the page nor the link.
    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let modt = d.sign_in("modt", &modt);
    let (status, page) = modt.get(&d, YEAR);
    assert_eq!(status, 403, "{page}");
    let (_, queue) = modt.get(&d, "/koe");
    assert!(!queue.contains("href=\"/statusmoeder\""), "{queue}");
    let (status, _) = modt.post_form(&d, "/statusmoeder/send", &[("aar", "2027")]);
    assert_eq!(status, 403);
}
