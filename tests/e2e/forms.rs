//! The public forms (issue 15) on their own listener: Send sikkert and the underretning
//! form in a real browser, and over raw HTTP what an attacker would try: no token, a stale
//! one, an attachment too large, a forbidden type, a flood, a trickle. Each gets a clear
//! answer and leaves nothing stored.

use modtag_tests::browser::Browser;
use modtag_tests::forms::{form, multipart, post, reference_on};
use modtag_tests::*;

/// A small real PDF, as a private institution would attach.
const PDF: &[u8] = b"%PDF-1.4\n% modtag test\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// Send sikkert's fields from Friskolen (a private school in the demo directory).
fn send_sikkert_fields<'a>(csrf: &'a str, text: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("cvr", "13585628"),
        ("name", "Susanne Møller"),
        ("email", "leder@friskolen.dk"),
        ("leder", "karen.poulsen"),
        ("subject", ""),
        ("text", text),
    ]
}

/// A private school's leader sends a Trivsel+ with an attachment; a professional writes an
/// underretning with the template's fields. Each lands as the mail would have: the right
/// queue, the right reading, the kvittering to the named reporter.
#[test]
fn both_forms_in_a_real_browser_land_in_the_right_queue() {
    let d = Daemon::start(Options::default());
    let sink = Sink::start(d.opts.relay_port);
    let pdf = d.dir.path().join("handleplan.pdf");
    std::fs::write(&pdf, PDF).unwrap();
    let base = format!("http://{}", d.public);
    let b = Browser::start();

    b.goto(&format!("{base}/sendsikkert"));
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "/sendsikkert"
    );
    assert_eq!(b.eval("return document.scripts.length;"), 0);
    b.screenshot("form-sendsikkert");
    // Sent empty: the error summary links to each field.
    b.follow("form button[type=submit]");
    assert!(
        b.text().contains("Formularen kan ikke sendes endnu"),
        "{}",
        b.text()
    );
    assert_eq!(
        b.eval("return document.querySelector('#fejl a').getAttribute('href');"),
        "#cvr"
    );
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "/sendsikkert with errors"
    );
    b.fill("cvr", "13585628");
    b.fill("name", "Susanne Møller");
    b.fill("email", "leder@friskolen.dk");
    b.click("input[name=leder][value='karen.poulsen']");
    b.fill(
        "text",
        "Vi er bekymrede for en elev og beder om et TRIVSEL+-møde.",
    );
    b.fill("attachment", pdf.to_str().unwrap());
    b.follow("form button[type=submit]");
    let receipt = b.text();
    assert!(
        receipt.contains("Tak. Vi har modtaget din henvendelse"),
        "{receipt}"
    );
    assert!(
        !receipt.contains("bekymrede"),
        "nothing of the content: {receipt}"
    );
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "the receipt page"
    );
    b.screenshot("form-receipt");
    let trivsel = b.eval("return document.querySelector('.reference').textContent;");
    let trivsel = trivsel.as_str().unwrap().to_string();
    assert!(
        !b.url().contains(&trivsel) && !b.url().contains("bekym"),
        "{}",
        b.url()
    );
    let item = d.cli_json(&["triage", "show", &trivsel, "--json"]);
    assert_eq!(item["kind"], "trivselplus", "{item}");
    assert_eq!(item["channel"], "trivselplus", "{item}");
    assert!(item.to_string().contains("karen.poulsen"), "{item}");
    assert_eq!(item["attachments"], 1, "{item}");
    assert_eq!(item["flagged_attachments"], 0, "{item}");

    b.goto(&format!("{base}/underretning"));
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "/underretning"
    );
    b.screenshot("form-underretning");
    b.fill("barn_navn", "Sofie Hansen");
    b.fill("barn_cpr", "120315-4321");
    b.fill("foraeldre", "Mette og Jens Hansen");
    b.fill(
        "bekymring",
        "Sofie kommer sulten i skole og har blå mærker.",
    );
    b.fill("gjort", "Talt med Sofie.");
    b.click("#foraeldre_ved-nej");
    b.click("#indberetter-fagperson");
    b.fill("navn", "Lærer Jensen");
    b.fill("arbejdsplads", "Bakkeskolen");
    b.fill("email", "jensen@bakkeskolen.dk");
    b.follow("form button[type=submit]");
    assert!(b.text().contains("Tak. Vi har modtaget"), "{}", b.text());
    let r = b.eval("return document.querySelector('.reference').textContent;");
    let r = r.as_str().unwrap().to_string();
    let item = d.cli_json(&["triage", "show", &r, "--json"]);
    assert_eq!(item["kind"], "underretning", "{item}");
    let reporter = &item["understanding"]["reporter"];
    assert_eq!(reporter["kind"], "professional", "{item}");
    assert_eq!(reporter["organisation"], "Bakkeskolen", "{item}");
    assert_eq!(
        item["cpr_full"],
        serde_json::json!(["120315-4321"]),
        "{item}"
    );
    // The kvittering goes to the named professional.
    let kvittering = sink
        .wait(1)
        .into_iter()
        .find(|m| rcpt_of(m) == "jensen@bakkeskolen.dk");
    assert!(kvittering.is_some(), "a kvittering to the reporter");
}

/// What an attacker tries over HTTP: each is answered clearly and stores nothing; the desk
/// and the API are not behind the public listener.
#[test]
fn hostile_submissions_are_refused_and_leave_nothing_behind() {
    let d = Daemon::start(Options {
        edits: vec![
            (
                "submissions_per_minute_per_client = 10".into(),
                "submissions_per_minute_per_client = 8".into(),
            ),
            (
                "request_timeout_secs = 60".into(),
                "request_timeout_secs = 2".into(),
            ),
        ],
        ..Options::default()
    });
    let public = d.public;
    let before = d.intakes();

    // A body that trickles: refused when the deadline passes, and nothing kept.
    let (csrf, cookie) = form(public, "/sendsikkert");
    let (kind, body) = multipart(&send_sikkert_fields(&csrf, "langsom"), &[]);
    let mut s = std::net::TcpStream::connect(public).unwrap();
    use std::io::{Read, Write};
    write!(
        s,
        "POST /sendsikkert HTTP/1.1\r\nHost: x\r\nContent-Type: {kind}\r\nCookie: {cookie}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body[..body.len() / 2]).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("Indsendelsen kom ikke frem i tide"),
        "{answer}"
    );

    // A professional cannot report anonymously; the form says so.
    let (csrf, cookie) = form(public, "/underretning");
    let (code, _, body) = post(
        public,
        "/underretning",
        &cookie,
        &[
            ("csrf", &csrf),
            ("barn_navn", "Sofie"),
            ("bekymring", "Bekymring"),
            ("indberetter", "fagperson"),
            ("anonymous", "ja"),
        ],
        &[],
    );
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains("Fagpersoner kan ikke underrette anonymt"),
        "{body}"
    );

    // No token, and a stale one (a token the browser's cookie does not pair with).
    let (_, cookie) = form(public, "/sendsikkert");
    let (code, _, body) = post(
        public,
        "/sendsikkert",
        &cookie,
        &send_sikkert_fields("", "x")[1..],
        &[],
    );
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("Formularen var udløbet"), "{body}");
    let (code, _, _) = post(
        public,
        "/sendsikkert",
        &cookie,
        &send_sikkert_fields("gammel", "x"),
        &[],
    );
    assert_eq!(code, 403);
    // The form opened again in the same browser (a second tab, or Back): the token stays
    // the browser's, so the first tab's form still pairs and is not lost as "udløbet".
    let (first, cookie) = form(public, "/sendsikkert");
    let again = |cookie: &str| {
        let (code, head, body) =
            http_request(public, "GET", "/underretning", &[("Cookie", cookie)], b"").unwrap();
        assert_eq!(code, 200, "{head}");
        let set = set_cookie(&head, "modtag_formular").expect("the form's cookie");
        (
            csrf_field(&body).unwrap(),
            set.split(';').next().unwrap().to_string(),
        )
    };
    assert_eq!(again(&cookie), (first.clone(), cookie.clone()));
    // A cookie not of its making is not taken, nor echoed into the page.
    let (token, set) = again("modtag_formular=\"><script>");
    assert!(
        token.len() == 43 && token != first && !set.contains("script"),
        "{set}"
    );

    // An attachment over max_attachment_bytes (10 MiB in the demo): 413 while it streams.
    // Its file name names a child, and the refusal is logged: the log scan at the end
    // checks that the name is not.
    let (csrf, cookie) = form(public, "/sendsikkert");
    let big = vec![b'%'; 10 * 1024 * 1024 + 1];
    let (code, _, body) = post(
        public,
        "/sendsikkert",
        &cookie,
        &send_sikkert_fields(&csrf, "stor"),
        &[("Sofie-bekymring.pdf", "application/pdf", &big)],
    );
    assert_eq!(code, 413, "{body}");
    assert!(body.contains("Et bilag er for stort"), "{body}");

    // A program posing as a PDF: the form again, saying why.
    let (csrf, cookie) = form(public, "/sendsikkert");
    let (code, _, body) = post(
        public,
        "/sendsikkert",
        &cookie,
        &send_sikkert_fields(&csrf, "program"),
        &[(
            "faktura.pdf",
            "application/pdf",
            b"MZ\x90\x00\x03\x00\x00\x00program",
        )],
    );
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("kan ikke modtages"), "{body}");
    assert_eq!(d.intakes(), before, "nothing refused was stored");

    // The desk, the sign-in and the API are not here.
    for path in ["/login", "/koe", "/api/v1/triage", "/metrics", "/healthz"] {
        let (code, _, _) = http_request(public, "GET", path, &[], b"").unwrap();
        assert_eq!(code, 404, "{path} on the public listener");
    }

    // A flood from one client: after 8 a minute, 429 with Retry-After.
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let (csrf, cookie) = form(public, "/sendsikkert");
        let (code, head, _) = post(
            public,
            "/sendsikkert",
            &cookie,
            &send_sikkert_fields(&csrf, ""),
            &[],
        );
        if code == 429 {
            assert!(
                head.to_ascii_lowercase().contains("retry-after: 60"),
                "{head}"
            );
        }
        statuses.push(code);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(d.intakes(), before, "{statuses:?}");
}

/// A marker in a submission's text and attachment is nowhere on disk in clear: the
/// upload is held in memory and stored only encrypted.
#[test]
fn a_submission_reaches_the_disk_only_encrypted() {
    // Any temporary file the daemon made would be here.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(Options {
        env: vec![("TMPDIR".into(), tmp.path().display().to_string())],
        ..Options::default()
    });
    let marker = "MARKOR-formular-7c1e";
    let (csrf, cookie) = form(d.public, "/sendsikkert");
    let attachment = format!("%PDF-1.4\n{marker}\n%%EOF\n");
    let (code, _, body) = post(
        d.public,
        "/sendsikkert",
        &cookie,
        &send_sikkert_fields(&csrf, marker),
        &[("bilag.pdf", "application/pdf", attachment.as_bytes())],
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("MT-"), "{body}");
    assert!(d.stop().success());
    for file in files_below(d.dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !contains(&bytes, marker.as_bytes()),
            "{} holds the marker",
            file.display()
        );
    }
    for file in files_below(tmp.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !contains(&bytes, marker.as_bytes()),
            "{} holds the marker",
            file.display()
        );
    }
}

/// A citizen may report anonymously: the reading says so, and no kvittering is owed.
#[test]
fn an_anonymous_citizen_is_taken_and_owed_no_kvittering() {
    let d = Daemon::start(Options::default());
    let (csrf, cookie) = form(d.public, "/underretning");
    let (code, _, body) = post(
        d.public,
        "/underretning",
        &cookie,
        &[
            ("csrf", &csrf),
            ("barn_navn", "Emil"),
            ("barn_cpr", "010120-1234"),
            ("bekymring", "Der er råb og skrig hver aften."),
            ("indberetter", "borger"),
            ("anonymous", "ja"),
            ("navn", "Skal ikke bruges"),
            ("telefon", "20 30 40 50"),
        ],
        &[],
    );
    assert_eq!(code, 200, "{body}");
    let r = reference_on(&body);
    let item = d.cli_json(&["triage", "show", &r, "--json"]);
    assert_eq!(
        item["understanding"]["reporter"]["kind"], "anonymous",
        "{item}"
    );
    assert!(
        item["understanding"]["reporter"]["name"].is_null(),
        "{item}"
    );
    assert!(item["kvittering"].is_null(), "{item}");
    assert_eq!(
        item["cpr_full"],
        serde_json::json!(["010120-1234"]),
        "{item}"
    );
    let text = item["text"].as_str().unwrap();
    assert!(
        !text.contains("Skal ikke bruges") && !text.contains("20 30 40 50"),
        "{item}"
    );
}

/// An institution the directory does not know is taken, never refused, and flagged for
/// Journalen.
#[test]
fn an_unknown_cvr_is_taken_and_flagged_for_journalen() {
    let d = Daemon::start(Options::default());
    let (csrf, cookie) = form(d.public, "/sendsikkert");
    let mut fields = send_sikkert_fields(&csrf, "Fra en ny privat institution.");
    fields[1] = ("cvr", "12345674");
    let (code, _, body) = post(d.public, "/sendsikkert", &cookie, &fields, &[]);
    assert_eq!(code, 200, "{body}");
    let r = reference_on(&body);
    let item = d.cli_json(&["triage", "show", &r, "--json"]);
    assert_eq!(item["kind"], "trivselplus", "{item}");
    assert!(
        item["understanding"]["notes"]
            .to_string()
            .contains("CVR 12345674 er ikke en af kommunens private institutioner"),
        "{item}"
    );
}

/// The receipt page comes after the same durable commit as SMTP's `250`: killed at once
/// after it, modtag still has the submission when it starts again.
#[test]
fn a_receipt_survives_a_kill_at_once_after_it() {
    let mut d = Daemon::start(Options::default());
    let (csrf, cookie) = form(d.public, "/sendsikkert");
    let (code, _, body) = post(
        d.public,
        "/sendsikkert",
        &cookie,
        &send_sikkert_fields(&csrf, "Lige før strømmen gik."),
        &[("plan.pdf", "application/pdf", PDF)],
    );
    d.kill();
    assert_eq!(code, 200, "{body}");
    let r = reference_on(&body);
    d.spawn();
    let item = d.cli_json(&["triage", "show", &r, "--json"]);
    assert_eq!(item["kind"], "trivselplus", "{item}");
    assert_eq!(item["attachments"], 1, "{item}");
}

/// A flood of large uploads the forms refuse (no form cookie, or past the rate limit) is
/// refused before its body is read, so the daemon's memory does not grow with it (issue 25:
/// 120 refused 26 MiB uploads took 2.3 GiB when bodies were read whole first).
#[test]
fn refused_uploads_are_never_read_into_memory() {
    let d = Daemon::start(Options::default());
    let big = vec![b'x'; 20 << 20];
    let (_, cookie) = form(d.public, "/underretning");
    let (kind, body) = multipart(&[("csrf", "x")], &[("stor.pdf", "application/pdf", &big)]);
    let before = peak_rss(d.pid());
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let sent: Vec<_> = (0..40)
            .map(|i| {
                let (d, kind, body, cookie) = (&d, &kind, &body, &cookie);
                s.spawn(move || {
                    // Half without the form's cookie, half with it (and so past the rate
                    // limit after the first ten).
                    let mut headers = vec![("Content-Type", kind.as_str())];
                    if i % 2 == 1 {
                        headers.push(("Cookie", cookie.as_str()));
                    }
                    let wait = std::time::Duration::from_secs(60);
                    // A refusal may come while the body is still being sent: the server
                    // then closes, and the client sees its connection reset (0).
                    http_request_within(d.public, "POST", "/underretning", &headers, body, wait)
                        .map_or(0, |r| r.0)
                })
            })
            .collect();
        sent.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert!(
        statuses.iter().all(|s| [0, 403, 429].contains(s)),
        "{statuses:?}"
    );
    let grew = peak_rss(d.pid()).saturating_sub(before);
    assert!(
        grew < 150 << 20,
        "memory grew by {} MiB for refused uploads",
        grew >> 20
    );

    // Chunked (no length to count up front), with any cookie, and a first part of 20 MB
    // named csrf: refused at its first kilobyte, never held.
    let before = peak_rss(d.pid());
    std::thread::scope(|s| {
        for _ in 0..20 {
            let d = &d;
            s.spawn(move || {
                use std::io::{Read, Write};
                let Ok(mut c) = std::net::TcpStream::connect(d.public) else {
                    return;
                };
                let b = "grnse";
                let _ = write!(
                    c,
                    "POST /underretning HTTP/1.1\r\nHost: x\r\nCookie: modtag_formular=abc\r\n\
                     Content-Type: multipart/form-data; boundary={b}\r\n\
                     Transfer-Encoding: chunked\r\n\r\n"
                );
                let head =
                    format!("--{b}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n");
                let _ = write!(c, "{:x}\r\n{head}\r\n", head.len());
                let chunk = vec![b'a'; 1 << 20];
                for _ in 0..20 {
                    if write!(c, "{:x}\r\n", chunk.len()).is_err()
                        || c.write_all(&chunk).is_err()
                        || c.write_all(b"\r\n").is_err()
                    {
                        break;
                    }
                }
                let mut answer = String::new();
                let _ = c.read_to_string(&mut answer);
            });
        }
    });
    let grew = peak_rss(d.pid()).saturating_sub(before);
    assert!(
        grew < 100 << 20,
        "memory grew by {} MiB for chunked first parts",
        grew >> 20
    );
}
