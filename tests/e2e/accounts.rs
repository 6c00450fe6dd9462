//! Accounts an administrator manages and never becomes (issue 25): a one-time enrolment link
//! at which the person chooses their own password and sets up their authenticator, tokens
//! only for oneself, one account per e-mail, a person's own password change, a neutral
//! notice to the owner of every change; and the races and floods a sign-in must survive.

use std::time::Duration;

use modtag_tests::browser::Browser;
use modtag_tests::*;

/// The notices about an account that reached the relay: (recipient, decoded text).
fn notices(sink: &Sink, n: usize) -> Vec<(String, String)> {
    let found = || -> Vec<(String, String)> {
        sink.wait(1)
            .iter()
            // The subject is RFC 2047-encoded ("Din konto i modtag er ændret").
            .filter(|m| m.contains("Message-ID: <konto."))
            .filter(|m| rcpt_of(m) != "demo@kommune.localhost")
            .map(|m| (rcpt_of(m), plain_body(m)))
            .collect()
    };
    let start = std::time::Instant::now();
    loop {
        let got = found();
        if got.len() >= n {
            return got;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} of {n} account notices: {got:?}\n{:?}",
            got.len(),
            sink.wait(1)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Posts the sign-in form from client address `from` (behind the trusted proxy): its status
/// and the session cookie it set, if any.
fn sign_in(
    d: &Daemon,
    user: &str,
    password: &str,
    code: &str,
    from: &str,
) -> (u16, Option<String>) {
    let (status, head) = d.try_sign_in(user, password, code, &[("X-Forwarded-For", from)]);
    // Over HTTPS (here: behind a TLS proxy) the cookie is `__Host-` prefixed.
    let cookie = cookie_of(&head, "__Host-modtag_session").or(cookie_of(&head, "modtag_session"));
    (status, cookie)
}

#[test]
fn an_administrator_gives_a_link_and_never_a_password_or_a_token() {
    let d = Daemon::start(Options::default());
    let sink = Sink::start(d.opts.relay_port);
    // The administrator: a link, no password asked for, no TOTP secret shown.
    let out = d.cli(&[
        "users",
        "add",
        "modt",
        "--email",
        "modtagelsen@kommune.localhost",
        "--role",
        "modtagelsen",
    ]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("/tilmeld/") && !said.contains("otpauth"),
        "{said}"
    );
    let link = said
        .lines()
        .find(|l| l.contains("/tilmeld/"))
        .unwrap()
        .trim();

    // An account an administrator just made cannot be signed in to: it has no password.
    let (status, _) = sign_in(&d, "modt", "", "000000", "127.0.0.1");
    assert_eq!(status, 401);
    // A second account on the same e-mail (in any case) is refused.
    let out = d.cli(&[
        "users",
        "add",
        "modt2",
        "--email",
        "Modtagelsen@Kommune.Localhost",
        "--role",
        "modtagelsen",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("one account only"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An administrator makes no token for another account, on the socket or over HTTP.
    let out = d.cli(&["users", "token", "modt"]);
    assert!(!out.status.success());
    let admin = d.personal_token();
    let (status, _, _) = http_request(
        d.http,
        "POST",
        "/api/v1/users/modt/token",
        &[("Authorization", &format!("Bearer {admin}"))],
        b"",
    )
    .unwrap();
    assert_eq!(status, 403);
    // A body with a password is refused, not ignored.
    let (status, _, body) = http_request(
        d.http,
        "POST",
        "/api/v1/users",
        &[
            ("Authorization", &format!("Bearer {admin}")),
            ("Content-Type", "application/json"),
        ],
        br#"{"id":"x1","email":"x1@kommune.localhost","roles":["modtagelsen"],"password":"valgt-af-admin"}"#,
    )
    .unwrap();
    assert_eq!(status, 400, "{body}");

    // The person at the link, in a browser: two passwords that differ, then the QR code.
    let b = Browser::start();
    b.goto(link);
    assert!(b.text().contains("Trin 1 af 2"), "{}", b.text());
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "enrolment"
    );
    b.fill("password", TEST_PASSWORD);
    b.fill("password2", "noget andet helt");
    b.follow("button[type=submit]");
    assert!(b.text().contains("ikke ens"), "{}", b.text());
    // Someone else with the link opens it too, while she is still at the first step.
    let path = &link[link.find("/tilmeld/").unwrap()..];
    let (status, head, page) = http_get_headers(d.http, path, &[]).unwrap();
    assert_eq!(status, 200, "{page}");
    let theirs = cookie_of(&head, "modtag_tilmeld").unwrap();
    let their_csrf = csrf_field(&page).unwrap();
    b.fill("password", TEST_PASSWORD);
    b.fill("password2", TEST_PASSWORD);
    b.follow("button[type=submit]");
    assert!(b.text().contains("Trin 2 af 2"), "{}", b.text());
    // Now the enrolment is her browser's: the other is shown no secret, and can neither
    // choose another password nor confirm one.
    let (status, _, page) = http_get_headers(d.http, path, &[]).unwrap();
    assert_eq!(status, 409, "{page}");
    assert!(
        !page.contains("otpauth") && !page.contains("class=\"secret\""),
        "{page}"
    );
    assert!(page.contains("taget i brug"), "{page}");
    let (status, _, page) = http_request(
        d.http,
        "POST",
        path,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &theirs),
        ],
        format!("csrf={their_csrf}&password=angriberens+kode&password2=angriberens+kode")
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(status, 409, "{page}");
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "the QR step"
    );
    b.screenshot("enrolment-authenticator");
    let uri = b
        .eval("return [...document.querySelectorAll('code.secret')].map(c => c.textContent).find(t => t.startsWith('otpauth://'))")
        .as_str()
        .expect("the URI on the page")
        .to_string();
    b.fill("totp", "000000");
    b.follow("button[type=submit]");
    assert!(b.text().contains("passede ikke"), "{}", b.text());
    b.fill("totp", &totp_code(&uri, -1));
    b.follow("button[type=submit]");
    if b.text().contains("passede ikke") {
        // A 30-second step ended between the code and its check: the next one's previous.
        b.fill("totp", &totp_code(&uri, -1));
        b.follow("button[type=submit]");
    }
    assert!(b.text().contains("Din konto er klar"), "{}", b.text());
    // The link is spent.
    assert_eq!(http_get(d.http, path).unwrap().0, 404);
    let modt = d.sign_in("modt", &uri);

    // Her own token, signed in: yes.
    let (status, body) = modt.request(&d, "POST", "/api/v1/users/modt/token", "");
    assert_eq!(status, 200, "{body}");

    // Her own password: the old one and a code, then signed out everywhere.
    let (status, page) = modt.post_form(
        &d,
        "/konto",
        &[
            ("gammel", "forkert gammel"),
            ("password", "ny og hemmelig sætning"),
            ("password2", "ny og hemmelig sætning"),
            ("totp", &totp_code(&uri, 1)),
        ],
    );
    assert_eq!(status, 401, "{page}");
    let (status, _) = modt.post_form(
        &d,
        "/konto",
        &[
            ("gammel", TEST_PASSWORD),
            ("password", "ny og hemmelig sætning"),
            ("password2", "ny og hemmelig sætning"),
            ("totp", &totp_code(&uri, 1)),
        ],
    );
    assert_eq!(status, 303);
    assert_eq!(modt.get(&d, "/api/v1/triage").0, 401, "signed out");
    let (status, _) = sign_in(&d, "modt", TEST_PASSWORD, &totp_code(&uri, 0), "127.0.0.1");
    assert_eq!(status, 401, "the old password");

    // A reset: the password stops at once; the new link sets up a new one.
    let v = d.cli_json(&["users", "reset", "modt", "--json"]);
    let again = v["enrolment_url"].as_str().unwrap();
    let uri2 = d.enrol(again, TEST_PASSWORD);
    assert_ne!(uri, uri2, "a new TOTP secret");
    d.sign_in("modt", &uri2);
    // Roles and disable, each told to her.
    assert!(d
        .cli(&["users", "set-roles", "modt", "--role", "modtagelsen"])
        .status
        .success());
    assert!(d.cli(&["users", "disable", "modt"]).status.success());

    // What she was told, at her own address, and nothing else: the account made, enrolled,
    // a token, her password, the reset, enrolled again, roles, disabled.
    let told = notices(&sink, 8);
    assert!(
        told.iter()
            .all(|(to, _)| to == "modtagelsen@kommune.localhost"),
        "{told:?}"
    );
    for words in [
        "oprettet en konto til dig",
        "taget i brug",
        "ny personlig API-nøgle",
        "Adgangskoden til din konto",
        "nulstillet",
        "roller i modtag er ændret",
        "deaktiveret",
    ] {
        assert!(
            told.iter().any(|(_, t)| t.contains(words)),
            "{words}: {told:?}"
        );
    }
    assert!(
        told.iter()
            .all(|(_, t)| !t.contains(TEST_PASSWORD) && !t.contains("otpauth")),
        "{told:?}"
    );
}

/// One code sent eight times at once gives one session; a hundred sign-ins racing a disable
/// leave it disabled; a hundred wrong passwords at once are counted before they are checked,
/// and Argon2 stays within its memory (issue 25).
#[test]
fn sign_ins_that_race_take_a_code_once_and_never_undo_a_disable() {
    let d = Daemon::start(Options {
        // Behind a proxy on loopback, so each request can come from its own address.
        edits: vec![(
            "# trusted_proxies = [\"127.0.0.1/32\"]\n# The address".into(),
            "trusted_proxies = [\"127.0.0.1/32\"]\n# The address".into(),
        )],
        ..Options::default()
    });
    let uri = d.add_user("lene", "lene.holm@kommune.localhost", "modtagelsen_leder");
    let code = totp_code(&uri, 0);
    let won: Vec<u16> = std::thread::scope(|s| {
        let tries: Vec<_> = (0..8)
            .map(|i| {
                let (d, code) = (&d, &code);
                s.spawn(move || {
                    sign_in(d, "lene", TEST_PASSWORD, code, &format!("198.51.100.{i}")).0
                })
            })
            .collect();
        tries.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(won.iter().filter(|s| **s == 303).count(), 1, "{won:?}");
    assert_eq!(won.iter().filter(|s| **s == 401).count(), 7, "{won:?}");

    // Behind a TLS proxy the session cookie is `__Host-`: Secure, the whole site, no domain.
    let anna = d.add_user("anna", "anna.kristensen@kommune.localhost", "raadgiver");
    let (status, head) = d.try_sign_in("anna", TEST_PASSWORD, &totp_code(&anna, 0), &[]);
    assert_eq!(status, 303);
    let set = set_cookie(&head, "__Host-modtag_session").expect("a __Host- session cookie");
    assert!(
        set.contains("; Secure") && set.contains("Path=/") && !set.contains("Domain"),
        "{set}"
    );
    let mine = set.split(';').next().unwrap();
    let (status, _, _) = http_get_headers(d.http, "/api/v1/triage", &[("Cookie", mine)]).unwrap();
    assert_eq!(status, 200);
    // A second session cookie beside it (planted by a sibling domain): refused, not picked.
    let two = format!("__Host-modtag_session=planted; {mine}");
    let (status, _, body) =
        http_get_headers(d.http, "/api/v1/triage", &[("Cookie", &two)]).unwrap();
    assert_eq!(status, 400, "{body}");

    // A hundred sign-ins (the next codes) from a hundred addresses while the account is
    // disabled: it stays disabled, and no session made works.
    let sessions: Vec<Option<String>> = std::thread::scope(|s| {
        let tries: Vec<_> = (0..100)
            .map(|i| {
                let (d, uri) = (&d, &uri);
                s.spawn(move || {
                    let code = totp_code(uri, 1 - (i % 3) as i64);
                    sign_in(d, "lene", TEST_PASSWORD, &code, &format!("203.0.113.{i}")).1
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(150));
        assert!(d.cli(&["users", "disable", "lene"]).status.success());
        tries.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let users = d.cli_json(&["users", "list", "--json"]);
    let lene = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == "lene")
        .unwrap();
    assert_eq!(lene["disabled"], true, "{users}");
    for cookie in sessions.into_iter().flatten() {
        let (status, _, _) =
            http_get_headers(d.http, "/api/v1/triage", &[("Cookie", &cookie)]).unwrap();
        assert_eq!(status, 401);
    }

    // A hundred wrong passwords at once from one address: ten are checked, the rest wait.
    let before = peak_rss(d.pid());
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let tries: Vec<_> = (0..100)
            .map(|_| {
                let d = &d;
                s.spawn(move || sign_in(d, "nogen", "forkert", "123456", "192.0.2.1").0)
            })
            .collect();
        tries.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(checked <= 10, "{checked} checked: {statuses:?}");
    assert!(
        statuses.iter().all(|s| [401, 429].contains(s)),
        "{statuses:?}"
    );
    let grew = peak_rss(d.pid()).saturating_sub(before);
    assert!(grew < 300 << 20, "memory grew by {} MiB", grew >> 20);
    // An IPv6 client is counted by its /64: another address in it waits too.
    for i in 1..=10 {
        sign_in(
            &d,
            "nogen",
            "forkert",
            "123456",
            &format!("2001:db8:7:7::{i}"),
        );
    }
    let (status, _) = sign_in(&d, "nogen", "forkert", "123456", "2001:db8:7:7:abcd::1");
    assert_eq!(status, 429);
    let (status, _) = sign_in(&d, "nogen", "forkert", "123456", "2001:db8:7:8::1");
    assert_eq!(status, 401, "another /64");
}
