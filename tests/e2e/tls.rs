//! STARTTLS on the wire: swaks and openssl as the peers.

use modtag_tests::*;
use std::process::Command;

/// `openssl s_client -starttls smtp` with one protocol version. The client's security level
/// is lowered so that it is willing to offer TLS 1.0/1.1: the refusal must be the server's.
fn handshake(d: &Daemon, version: &str) -> String {
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-starttls",
            "smtp",
            "-connect",
            &d.smtp.to_string(),
        ])
        .arg(format!("-{version}"))
        .args(["-cipher", "DEFAULT:@SECLEVEL=0"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl is installed");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn only_tls_1_2_and_1_3_are_accepted() {
    let d = Daemon::start(Options::default());
    for old in ["tls1", "tls1_1"] {
        let out = handshake(&d, old);
        assert!(
            out.contains("Cipher is (NONE)") && out.contains("alert"),
            "{old} was not refused:\n{out}"
        );
    }
    assert!(handshake(&d, "tls1_2").contains("New, TLSv1.2, Cipher is"));
    assert!(handshake(&d, "tls1_3").contains("New, TLSv1.3, Cipher is"));

    // Garbage instead of a ClientHello ends that connection only.
    let mut c = Smtp::connect(d.smtp);
    c.cmd("EHLO client.example");
    assert!(c.cmd("STARTTLS").starts_with("220"));
    c.send_raw(b"GET / HTTP/1.0\r\n\r\n");
    // A TLS alert record (content type 21), then the connection is closed.
    assert!(c.reply().starts_with('\u{15}'));
    assert_eq!(c.reply(), "", "the connection is closed");
    assert!(d.send("Efter", "TLS-fejl").starts_with("MT-"));

    // Operations see the refused handshakes (the two old versions and the garbage).
    let m = wait_for(
        "the handshakes counted",
        std::time::Duration::from_secs(10),
        || {
            let m = http_get(d.http, "/metrics").unwrap().1;
            m.contains("modtag_smtp_tls_handshakes_total{result=\"failed\"} 3\n")
                .then_some(m)
        },
    );
    assert!(
        m.contains("modtag_smtp_tls_handshakes_total{result=\"ok\"} 2\n"),
        "{m}"
    );
}

#[test]
fn swaks_over_starttls_and_the_tls_is_recorded() {
    let d = Daemon::start(Options::default());
    let t = d.swaks_args(&[
        "--to",
        "underretning@localhost",
        "-tls",
        "--body",
        "over TLS",
    ]);
    assert!(t.contains("TLS started"), "{t}");
    let reference = queued_as(&t).unwrap_or_else(|| panic!("{t}"));
    let item = d.cli_json(&["triage", "show", &reference, "--json"]);
    let tls = item["transport"]["tls"].as_str().unwrap();
    assert!(
        tls.starts_with("TLSv1_3 ") || tls.starts_with("TLSv1_2 "),
        "{tls}"
    );
    let plain = d.swaks_args(&["--to", "underretning@localhost", "--body", "plain"]);
    let reference = queued_as(&plain).unwrap();
    assert_eq!(
        d.cli_json(&["triage", "show", &reference, "--json"])["transport"]["tls"],
        "none"
    );
}

#[test]
fn forced_tls_partners_must_use_starttls() {
    let d = Daemon::start(Options {
        smtp_extra: "require_tls_domains = [\"skole.dk\"]".into(),
        ..Options::default()
    });
    let plain = d.swaks_args(&[
        "--to",
        "underretning@localhost",
        "--from",
        "kontor@bakke.skole.dk",
    ]);
    assert!(
        plain.contains("530 5.7.0 Must issue a STARTTLS command first"),
        "{plain}"
    );
    let tls = d.swaks_args(&[
        "--to",
        "underretning@localhost",
        "--from",
        "kontor@bakke.skole.dk",
        "-tls",
    ]);
    assert!(queued_as(&tls).is_some(), "{tls}");
    let other = d.swaks_args(&["--to", "underretning@localhost", "--from", "a@andet.dk"]);
    assert!(queued_as(&other).is_some(), "{other}");
}
