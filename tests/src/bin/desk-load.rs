//! A benchmark client for the desk's pages: signs in with the sign-in form, then times
//! sequential requests of each page (one connection each, on loopback, so a request's time
//! is the server's time plus a loopback round trip) and prints the median, p95 and slowest.
//!
//! `desk-load ADDR USER REQUESTS` with the password and the TOTP enrolment URI
//! (`otpauth://...`) on standard input, one per line, e.g. from `deploy/bench/desk-queue.sh`.

use std::io::BufRead;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use modtag_tests::{csrf_field, http_request, set_cookie, totp_code};

fn cookie_of(head: &str, name: &str) -> String {
    let c = set_cookie(head, name).unwrap_or_else(|| panic!("no {name} cookie in:\n{head}"));
    c.split(';').next().unwrap().to_string()
}

/// Signs in with the form; returns the session cookie.
fn sign_in(addr: SocketAddr, user: &str, password: &str, uri: &str) -> String {
    let (_, head, body) = http_request(addr, "GET", "/login", &[], b"").expect("modtag answers");
    let csrf = csrf_field(&body).expect("the sign-in form");
    let form = cookie_of(&head, "modtag_login");
    let body = format!(
        "username={user}&password={}&totp={}&csrf={csrf}",
        password.replace(' ', "+"),
        totp_code(uri, 0)
    );
    let (code, head, _) = http_request(
        addr,
        "POST",
        "/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &form),
        ],
        body.as_bytes(),
    )
    .expect("modtag answers");
    assert_eq!(code, 303, "signed in:\n{head}");
    cookie_of(&head, "modtag_session")
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Times `n` requests; prints one line. Every answer must be 200.
fn time(
    addr: SocketAddr,
    label: &str,
    n: usize,
    request: impl Fn() -> Option<(u16, String, String)>,
) {
    let mut took = Vec::with_capacity(n);
    let mut size = 0;
    for _ in 0..n {
        let t = Instant::now();
        let (code, head, body) = request().expect("modtag answers");
        took.push(t.elapsed());
        assert_eq!(code, 200, "{label}: {head}");
        size = body.len();
    }
    took.sort();
    let at = |q: f64| took[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
    println!(
        "{label:<40} n={n:<4} p50 {:>9}  p95 {:>9}  max {:>9}  ({} KB, {addr})",
        ms(at(0.5)),
        ms(at(0.95)),
        ms(took[n - 1]),
        size / 1024
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 3 {
        eprintln!("usage: desk-load ADDR USER REQUESTS  (password and otpauth URI on stdin)");
        std::process::exit(2);
    }
    let addr: SocketAddr = args[0].parse().expect("ADDR is host:port");
    let n: usize = args[2].parse().expect("REQUESTS is a number");
    let mut lines = std::io::stdin().lock().lines();
    let password = lines.next().expect("the password").unwrap();
    let uri = lines.next().expect("the otpauth URI").unwrap();
    let session = sign_in(addr, &args[1], &password, &uri);
    let cookie = [("Cookie", session.as_str())];
    let get = |path: &'static str| move || http_request(addr, "GET", path, &cookie, b"");

    let (_, _, page) = get("/koe")().expect("modtag answers");
    let csrf = csrf_field(&page).expect("the queue's form");
    let form = [
        ("Cookie", session.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    for (label, path) in [
        ("GET /koe (first page)", "/koe"),
        ("GET /koe?side=100 (a late page)", "/koe?side=100"),
        (
            "GET /koe filtered (all open, channel)",
            "/koe?tilstand=alle&kanal=underretning",
        ),
        ("GET /sendt-til-mig", "/sendt-til-mig"),
        ("GET /overblik (12 weeks)", "/overblik"),
    ] {
        time(addr, label, n, get(path));
    }
    let search = format!("csrf={csrf}&q=MT-2026-0000");
    time(addr, "POST /koe (search by reference)", n, || {
        http_request(addr, "POST", "/koe", &form, search.as_bytes())
    });
    let cpr = format!("csrf={csrf}&q=120315-4321");
    time(addr, "POST /koe (search by CPR)", n, || {
        http_request(addr, "POST", "/koe", &form, cpr.as_bytes())
    });
}
