//! The API and CLI at their edges: authentication, bad input, and `route explain`.

use modtag_tests::*;

#[test]
fn the_api_needs_the_token_but_healthz_does_not() {
    let d = Daemon::start(Options::default());
    assert_eq!(http_get(d.http, "/healthz").unwrap().0, 200);
    let (code, body) = http_get(d.http, "/api/v1/triage").unwrap();
    assert_eq!(code, 401);
    assert!(body.contains("personal API token"), "{body}");
    assert_eq!(http_get(d.http, "/api/v2/triage").unwrap().0, 404);
    // The failed login is in the audit log, with the path and without any token.
    let mut d = d;
    assert!(d.stop().success());
    let text = d.audit_text("login_failed");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("\"path\":\"/api/v1/triage\"") && text.contains("\"token_given\":false"),
        "{text}"
    );
}

#[test]
fn failed_logins_are_throttled_per_address() {
    let mut d = Daemon::start(Options::default());
    let token = d.personal_token();
    let token = token.as_str();
    assert_eq!(
        http_get_with(d.http, "/api/v1/triage", Some(token))
            .unwrap()
            .0,
        200
    );
    // Requests with no token at all are not guesses: they do not count towards a lockout.
    for _ in 0..15 {
        assert_eq!(http_get(d.http, "/api/v1/triage").unwrap().0, 401);
    }
    for n in 1..=10 {
        let (code, _, _) = http_get_with(d.http, "/api/v1/triage", Some("wrong-token")).unwrap();
        assert_eq!(code, 401, "failure {n}");
    }
    // Locked out now, the right token included, with how long to wait.
    let (code, head, body) = http_get_with(d.http, "/api/v1/triage", Some(token)).unwrap();
    assert_eq!(code, 429, "{head}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: "),
        "{head}"
    );
    assert!(body.contains("too many failed logins"), "{body}");
    assert_eq!(
        http_get(d.http, "/healthz").unwrap().0,
        200,
        "health is not locked out"
    );
    for _ in 0..20 {
        assert_eq!(
            http_get_with(d.http, "/api/v1/triage", Some("x"))
                .unwrap()
                .0,
            429
        );
    }
    // A burst of failures is audited once (and again when it starts a wait), the lockout
    // once; the refusals during it are not (issue 25: a client cannot grow the log a request
    // at a time).
    assert!(d.stop().success());
    let failed = d.audit_text("login_failed");
    assert!((1..=2).contains(&failed.lines().count()), "{failed}");
    assert_eq!(d.audit_text("login_throttled").lines().count(), 1);
}

/// `GET /api/v1/triage` as a proxy would forward it for `client`: the status.
fn list_as(d: &Daemon, client: &str, auth: &str) -> u16 {
    http_get_headers(
        d.http,
        "/api/v1/triage",
        &[("Authorization", auth), ("X-Forwarded-For", client)],
    )
    .unwrap()
    .0
}

/// Behind a reverse proxy every caller has the proxy's address: with the proxy trusted, the
/// lockout counts the client it names; without, a forged `X-Forwarded-For` changes nothing.
#[test]
fn the_lockout_counts_the_client_behind_a_trusted_proxy() {
    let d = Daemon::start(Options {
        edits: vec![(
            "[http]\n".into(),
            "[http]\ntrusted_proxies = [\"127.0.0.1/32\"]\n".into(),
        )],
        ..Options::default()
    });
    let bearer = format!("Bearer {}", d.personal_token());
    let get = |client: &str, auth: &str| list_as(&d, client, auth);
    for _ in 0..10 {
        assert_eq!(get("203.0.113.7", "Bearer wrong"), 401);
    }
    assert_eq!(
        get("203.0.113.7", &bearer),
        429,
        "the guesser is locked out"
    );
    assert_eq!(
        get("203.0.113.8", &bearer),
        200,
        "a colleague behind the same proxy is not"
    );
    // The guesser cannot pick another address: the proxy appends the real one last.
    assert_eq!(get("198.51.100.1, 203.0.113.7", &bearer), 429);

    // Without trusted proxies the header is not believed: ten failures under ten forged
    // addresses lock out the one real address.
    let d = Daemon::start(Options::default());
    let get = |client: &str, auth: &str| list_as(&d, client, auth);
    for n in 0..10 {
        assert_eq!(get(&format!("203.0.113.{n}"), "Bearer wrong"), 401);
    }
    assert_eq!(get("203.0.113.99", "Bearer wrong"), 429);
}

/// A client cannot hold the API: a header that never ends closes its connection, a body that
/// never ends gets 408, and connections beyond the cap get 503 while the rest work.
#[test]
fn slow_or_many_http_clients_cannot_hold_the_api() {
    use std::io::{Read, Write};
    let d = Daemon::start(Options {
        edits: vec![
            ("max_connections = 256".into(), "max_connections = 3".into()),
            (
                "request_timeout_secs = 30".into(),
                "request_timeout_secs = 2".into(),
            ),
        ],
        ..Options::default()
    });
    let token = d.personal_token();
    let open = |head: &str| {
        let mut s = std::net::TcpStream::connect(d.http).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        s.write_all(head.as_bytes()).unwrap();
        s
    };
    let answer = |s: &mut std::net::TcpStream| {
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        text
    };

    // Three connections that never finish their header fill the cap.
    let mut held: Vec<_> = (0..3)
        .map(|_| open("GET /healthz HTTP/1.1\r\nHost: x\r\n"))
        .collect();
    // The next is refused once the daemon has taken those three (until then it is answered
    // as any other, so ask again).
    let text = wait_for(
        "the connection cap to be full",
        std::time::Duration::from_secs(10),
        || {
            let mut over = open("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let text = answer(&mut over);
            text.starts_with("HTTP/1.1 503").then_some(text)
        },
    );
    assert!(text.contains("Retry-After: 1") && text.contains("too many connections"));
    // After the header deadline they are closed, and the API answers again.
    for s in &mut held {
        assert_eq!(answer(s), "", "closed without a reply");
    }
    wait_for(
        "a free connection slot",
        std::time::Duration::from_secs(10),
        || (http_get(d.http, "/healthz")?.0 == 200).then_some(()),
    );

    // A body that never arrives in full.
    let mut slow = open(&format!(
        "POST /api/v1/cases/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: text/csv\r\nContent-Length: 100\r\nConnection: close\r\n\r\nsag",
        token
    ));
    let text = answer(&mut slow);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("did not arrive within 2 seconds"), "{text}");
}

/// Refusals that come from the HTTP layer itself are JSON like every other API error.
#[test]
fn every_refusal_is_json_with_a_message() {
    let d = Daemon::start(Options::default());
    let bearer = format!("Bearer {}", d.personal_token());
    let auth = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/json"),
    ];
    let r = d.send("Bekymring", "tekst");
    let cases: [(&str, String, Vec<u8>, u16, &str); 4] = [
        (
            "POST",
            format!("/api/v1/triage/{r}/decision"),
            vec![b' '; 5 << 20],
            413,
            "over the 2 MiB limit",
        ),
        (
            "GET",
            format!("/api/v1/triage/{r}/decision"),
            vec![],
            405,
            "method not allowed",
        ),
        (
            "GET",
            "/api/v1/triage/%FF%FE".into(),
            vec![],
            400,
            "Invalid UTF-8",
        ),
        (
            "POST",
            format!("/api/v1/triage/{r}/decision"),
            b"{\"trin\": ".to_vec(),
            400,
            "decision body is not valid",
        ),
    ];
    for (method, path, body, status, says) in cases {
        let (code, head, text) = http_request(d.http, method, &path, &auth, &body).unwrap();
        assert_eq!(code, status, "{method} {path}: {head}\n{text}");
        let v: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text:?}"));
        let message = v["error"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{method} {path}: {message:?}");
        if status == 405 {
            assert!(head.to_ascii_lowercase().contains("allow: post"), "{head}");
        }
    }
}

#[test]
fn bad_decisions_are_refused_with_what_to_fix() {
    let d = Daemon::start(Options::default());
    let r = d.send("Bekymring", "tekst");
    // `modtag triage decide REF ARGS...`: exit code and error text.
    let decide = |reference: &str, args: &[&str]| {
        let mut all = vec!["triage", "decide", reference];
        all.extend_from_slice(args);
        let out = d.cli(&all);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = decide(&r, &["--area", "skolen"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("unknown area \"skolen\""), "{err}");
    let (_, err) = decide(&r, &["--case", "SAG-404"]);
    assert!(
        err.contains("case SAG-404 is not in the case registry"),
        "{err}"
    );
    let (_, err) = decide("MT-2026-999999", &[]);
    assert!(
        err.contains("no intake with reference MT-2026-999999"),
        "{err}"
    );
    let (code, _) = decide(&r, &["--trin", "9"]);
    assert_eq!(code, Some(2), "clap refuses trin 9 as a usage error");

    // Decided once; a second decision is a conflict, not a silent overwrite.
    d.decide(&r, &["--trin", "3"]);
    let (_, again) = decide(&r, &["--trin", "1"]);
    assert!(again.contains("already been decided"), "{again}");
    let item = d.cli_json(&["triage", "show", &r, "--json"]);
    assert_eq!(item["decision"]["trin"], 3);
    assert_eq!(
        item["decision"]["actor"], DEMO_ACCOUNT,
        "the account, not a claimed name"
    );
    assert_eq!(item["state"], "routed");
}

#[test]
fn route_explain_gives_reasons_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let facts = dir.path().join("facts.json");
    // The example in `modtag route explain --help`.
    std::fs::write(
        &facts,
        r#"{"kind":"underretning","trin":2,"area":"skole","consent":true}"#,
    )
    .unwrap();
    let out = modtag(&["route", "explain", "--json", facts.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["recipients"][0]["role"], "boerneskoleraadgiver");
    assert_eq!(
        v["recipients"][0]["rule"],
        "underretning-trin-0-2-folkeskole"
    );
    assert!(v["recipients"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("Børneskolerådgiverne"));
    assert_eq!(v["refused"], serde_json::Value::Null);

    // Without consent the human output says what was withheld and why.
    std::fs::write(&facts, r#"{"kind":"underretning","trin":2,"area":"skole"}"#).unwrap();
    let out = modtag(&["route", "explain", facts.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("boerneskoleraadgiver withheld") && text.contains("samtykke mangler"),
        "{text}"
    );

    // A broken facts file names the file and the place.
    std::fs::write(&facts, "{\"kind\": \"underretning\",\n \"trin\": \"to\"}").unwrap();
    let out = modtag(&["route", "explain", facts.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("facts.json:2:"), "{err}");
}

/// The API's answers carry the pages' security headers (never stored, never framed, no
/// script), and `/metrics` answers on loopback only, or to a scraper with the metrics token
/// (issue 25).
#[test]
fn api_answers_are_never_stored_and_metrics_stay_local() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("metrics.token");
    std::fs::write(&token_file, "prometheus-hemmelighed\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let d = Daemon::start(Options {
        edits: vec![
            (
                "# trusted_proxies = [\"127.0.0.1/32\"]\n# The address".into(),
                "trusted_proxies = [\"127.0.0.1/32\"]\n# The address".into(),
            ),
            (
                "# metrics_token = \"metrics.token\"".into(),
                format!("metrics_token = {:?}", token_file.display().to_string()),
            ),
        ],
        ..Options::default()
    });
    let token = d.personal_token();
    let (status, head, _) = http_get_with(d.http, "/api/v1/triage", Some(&token)).unwrap();
    assert_eq!(status, 200);
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("cache-control: no-store"), "{head}");
    assert!(
        lower.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    assert!(lower.contains("x-frame-options: deny"), "{head}");

    // On loopback, as before; from elsewhere (behind the proxy), only with the token.
    assert_eq!(http_get(d.http, "/metrics").unwrap().0, 200);
    let from = |auth: Option<&str>| {
        let mut h = vec![("X-Forwarded-For", "203.0.113.9")];
        if let Some(a) = auth {
            h.push(("Authorization", a));
        }
        http_get_headers(d.http, "/metrics", &h).unwrap()
    };
    let (status, _, body) = from(None);
    assert_eq!(status, 403, "{body}");
    assert!(!body.contains("modtag_outbox_pending"), "{body}");
    assert_eq!(from(Some("Bearer forkert")).0, 403);
    let (status, _, body) = from(Some("Bearer prometheus-hemmelighed"));
    assert_eq!(status, 200);
    assert!(body.contains("modtag_outbox_pending"), "{body}");
}
