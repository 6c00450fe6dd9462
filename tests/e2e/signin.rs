//! Signing in with a built-in account (issue 13, first part): Argon2id password and a TOTP
//! code computed here as an authenticator app would, a session cookie with the attributes a
//! browser needs, CSRF on every change, wrong and reused codes refused, a growing wait after
//! failures, sessions that end on sign-out, on disable and when idle, and the audit log
//! naming the person who signed in.

use std::time::Duration;

use modtag_tests::*;

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// The sign-in form: its CSRF token and the cookie that pairs with it.
fn form(d: &Daemon) -> (String, String) {
    let (code, head, body) = http_get_headers(d.http, "/login", &[]).unwrap();
    assert_eq!(code, 200, "{body}");
    let csrf = csrf_field(&body).unwrap();
    let cookie = set_cookie(&head, "modtag_login")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    (csrf, cookie)
}

/// Posts the sign-in form: `(status, header block, body)`.
fn sign_in(d: &Daemon, user: &str, password: &str, totp: &str) -> (u16, String, String) {
    let (csrf, cookie) = form(d);
    let body = format!(
        "username={user}&password={}&totp={totp}&csrf={csrf}",
        password.replace(' ', "+")
    );
    http_request(
        d.http,
        "POST",
        "/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &cookie),
        ],
        body.as_bytes(),
    )
    .unwrap()
}

/// Signs in and returns the session cookie (`modtag_session=...`).
fn session(d: &Daemon, user: &str, totp: &str) -> String {
    let (status, head, body) = sign_in(d, user, TEST_PASSWORD, totp);
    assert_eq!(status, 303, "{head}\n{body}");
    assert_eq!(header(&head, "location"), Some("/"));
    let c = set_cookie(&head, "modtag_session").unwrap();
    assert!(
        c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/"),
        "{c}"
    );
    assert!(!c.contains("Secure"), "plain HTTP on loopback: {c}");
    c.split(';').next().unwrap().to_string()
}

fn api(d: &Daemon, cookie: &str) -> u16 {
    http_get_headers(d.http, "/api/v1/triage", &[("Cookie", cookie)])
        .unwrap()
        .0
}

#[test]
fn a_person_signs_in_with_password_and_totp_and_is_named_in_the_audit_log() {
    let d = Daemon::start(Options::default());
    let uri = d.add_user(
        "lene.holm",
        "lene.holm@kommune.localhost",
        "modtagelsen_leder",
    );
    assert!(
        uri.starts_with("otpauth://totp/modtag:lene.holm?secret="),
        "{uri}"
    );
    let reference = d.send("Bekymring", "Tekst");

    // The form: strict headers, nothing cached.
    let (_, head, body) = http_get_headers(d.http, "/login", &[]).unwrap();
    let csp = header(&head, "content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(header(&head, "cache-control"), Some("no-store"));
    assert_eq!(header(&head, "referrer-policy"), Some("no-referrer"));
    assert!(body.contains("lang=\"da\"") && body.contains("for=\"totp\""));

    // A post that is not a form (a script's JSON): the reason in Danish, on a page.
    for path in ["/login", "/logout", "/tilmeld/abc"] {
        let (status, head, body) = http_request(
            d.http,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            b"{\"username\": \"lene.holm\"}",
        )
        .unwrap();
        assert_eq!(status, 415, "{path}: {body}");
        assert!(
            header(&head, "content-type").is_some_and(|t| t.starts_with("text/html"))
                && body.contains("Formularen kunne ikke læses"),
            "{path}: {head}{body}"
        );
    }

    // Without the form's cookie (a post from elsewhere): refused.
    let (csrf, _) = form(&d);
    let forged = format!("username=lene.holm&password=x&totp=000000&csrf={csrf}");
    let (status, _, _) = http_request(
        d.http,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        forged.as_bytes(),
    )
    .unwrap();
    assert_eq!(status, 403);

    // A wrong code, a wrong password: the same words, no session.
    let (status, head, body) = sign_in(&d, "lene.holm", TEST_PASSWORD, "000000");
    assert_eq!(status, 401);
    assert!(set_cookie(&head, "modtag_session").is_none());
    assert!(body.contains("forkert"), "{body}");

    let now = totp_code(&uri, 0);
    let cookie = session(&d, "lene.holm", &now);
    assert_eq!(api(&d, &cookie), 200);
    // The same code again is refused, even with the right password.
    assert_eq!(sign_in(&d, "lene.holm", TEST_PASSWORD, &now).0, 401);

    // A change through the API needs the session's CSRF token.
    let (status, _, body) = http_request(
        d.http,
        "POST",
        &format!("/api/v1/triage/{reference}/close"),
        &[("Cookie", &cookie), ("Content-Type", "application/json")],
        br#"{"reason":"x"}"#,
    )
    .unwrap();
    assert_eq!(status, 403, "{body}");

    // The landing page names the person; signing out ends the session.
    let (status, head, _) = http_get_headers(d.http, "/", &[("Cookie", &cookie)]).unwrap();
    assert_eq!(status, 303, "{head}");
    assert!(head.contains("location: /koe"), "her first desk: {head}");
    let (status, _, page) = http_get_headers(d.http, "/koe", &[("Cookie", &cookie)]).unwrap();
    assert_eq!(status, 200);
    assert!(
        page.contains("Logget ind som <strong>Lene Holm</strong>"),
        "{page}"
    );
    let csrf = csrf_field(&page).unwrap();
    let (status, _, _) = http_request(
        d.http,
        "POST",
        "/logout",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        format!("csrf={csrf}").as_bytes(),
    )
    .unwrap();
    assert_eq!(status, 303);
    assert_eq!(api(&d, &cookie), 401, "signed out");

    // Signed in again (the next code); disabling the account ends that session at once.
    let cookie = session(&d, "lene.holm", &totp_code(&uri, 1));
    assert_eq!(api(&d, &cookie), 200);
    let out = d.cli(&["users", "disable", "lene.holm"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(api(&d, &cookie), 401, "disabled");
    assert_eq!(
        sign_in(&d, "lene.holm", TEST_PASSWORD, &totp_code(&uri, -1)).0,
        401
    );

    let mut d = d;
    d.stop();
    let listed = d.audit_text("listed");
    assert!(listed.contains("\"actor\":\"lene.holm\""), "{listed}");
    let signed_in = d.audit_text("signed_in");
    assert_eq!(signed_in.lines().count(), 2, "{signed_in}");
    let failed = d.audit_text("login_failed");
    assert!(failed.contains("lene.holm"), "{failed}");
    let changed = d.audit_text("user_changed");
    assert!(changed.contains("disabled"), "{changed}");
}

#[test]
fn failures_make_one_address_wait_and_strangers_to_the_directory_get_no_access() {
    // The directory as a file of the test's own, to take Bo out of it later.
    let d = Daemon::start(Options {
        directory_edits: vec![("id = \"bo.nielsen\"".into(), "id = \"bo.nielsen\"".into())],
        ..Options::default()
    });
    // An account for the desk must be a person of the directory (issue 25).
    let out = d.cli(&[
        "users",
        "add",
        "fremmed",
        "--email",
        "x@nowhere.example",
        "--role",
        "raadgiver",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in the directory"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let uri = d.add_user("bo", "bo.nielsen@kommune.localhost", "raadgiver");
    // Bo leaves the directory: his account no longer opens the desk.
    let directory = d.dir.path().join("directory.toml");
    let text = std::fs::read_to_string(&directory).unwrap();
    std::fs::write(
        &directory,
        text.replace(
            "bo.nielsen@kommune.localhost",
            "bo.nielsen@andetsted.example",
        ),
    )
    .unwrap();
    assert!(d.cli(&["config", "reload"]).status.success());
    // A huge name or password is just wrong: nothing grows with it.
    let huge = "x".repeat(200_000);
    assert_eq!(sign_in(&d, &huge, TEST_PASSWORD, "123456").0, 401);
    assert_eq!(sign_in(&d, "bo", &huge, "123456").0, 401);
    // Three failures, then the address must wait before trying this account again.
    for _ in 0..3 {
        assert_eq!(sign_in(&d, "bo", "forkert", "123456").0, 401);
    }
    let (status, head, body) = sign_in(&d, "bo", TEST_PASSWORD, &totp_code(&uri, 0));
    assert_eq!(status, 429, "{body}");
    assert!(header(&head, "retry-after").is_some());
    assert!(body.contains("Vent"), "{body}");
    // Once the wait is over, the right password and code get through, but this account's
    // e-mail is no one in the directory: a clear page, no session.
    let (status, head, body) = wait_for("the wait to pass", Duration::from_secs(10), || {
        let r = sign_in(&d, "bo", TEST_PASSWORD, &totp_code(&uri, 0));
        (r.0 != 429).then_some(r)
    });
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Ingen adgang"), "{body}");
    assert!(set_cookie(&head, "modtag_session").is_none());
}

#[test]
fn an_idle_session_ends() {
    let opts = Options {
        edits: vec![(
            "session_idle_secs = 1800".into(),
            "session_idle_secs = 1".into(),
        )],
        ..Options::default()
    };
    let d = Daemon::start(opts);
    let uri = d.add_user("anna", "anna.kristensen@kommune.localhost", "raadgiver");
    let cookie = session(&d, "anna", &totp_code(&uri, 0));
    assert_eq!(api(&d, &cookie), 200);
    // Idleness cannot be polled for (each look is a request that keeps the session alive):
    // this waits for the clock, not for work.
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(
        api(&d, &cookie),
        401,
        "idle for two seconds with a one-second limit"
    );
    let (status, head, _) = http_get_headers(d.http, "/", &[("Cookie", &cookie)]).unwrap();
    assert_eq!(status, 303);
    assert_eq!(header(&head, "location"), Some("/login"));
}
