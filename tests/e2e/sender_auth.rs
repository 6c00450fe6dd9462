//! SPF, DKIM and DMARC verdicts against DNS served on loopback by Debian's dnsmasq: recorded and
//! shown, never used to refuse mail.

use base64::Engine as _;
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dkim::DkimSigner;
use modtag_tests::*;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Dns(Child);

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dns(port: u16, txt: &[(&str, &str)]) -> Dns {
    let mut cmd = Command::new("dnsmasq");
    // Authoritative for example.: unknown names get NXDOMAIN, as from a real zone, rather
    // than REFUSED (which resolvers rightly treat as a temporary error).
    cmd.args([
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--pid-file=",
        "--local=/example/",
    ])
    .args([
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        &format!("--port={port}"),
    ])
    .arg("--user=root");
    for (name, value) in txt {
        cmd.arg(format!("--txt-record={name},{value}"));
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dnsmasq is installed (apt-get install dnsmasq-base)");
    wait_for("dnsmasq to listen", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    Dns(child)
}

/// A DKIM key of `partner.example` (selector `modtag`) and its DNS record.
fn dkim_key() -> (Ed25519Key, String) {
    let pkcs8 = Ed25519Key::generate_pkcs8().unwrap();
    let key = Ed25519Key::from_pkcs8_der(&pkcs8).unwrap();
    let public = base64::engine::general_purpose::STANDARD.encode(key.public_key());
    (key, format!("v=DKIM1; k=ed25519; p={public}"))
}

fn signed_message(key: Ed25519Key, body: &str) -> String {
    let message = format!(
        "From: Kontoret <kontor@partner.example>\r\nTo: underretning@localhost\r\n\
         Subject: Bekymring\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n\
         Message-ID: <dkim-1@partner.example>\r\n\r\n{body}\r\n"
    );
    let signature = DkimSigner::from_key(key)
        .domain("partner.example")
        .selector("modtag")
        .headers(["From", "To", "Subject", "Date", "Message-ID"])
        .sign(message.as_bytes())
        .unwrap();
    format!("{}{message}", signature.to_header())
}

#[test]
fn spf_dkim_and_dmarc_are_recorded_not_enforced() {
    let port = free_port();
    let (key, dkim_record) = dkim_key();
    let _dns = dns(
        port,
        &[
            ("modtag._domainkey.partner.example", &dkim_record),
            ("partner.example", "v=spf1 ip4:127.0.0.1 -all"),
            ("_dmarc.partner.example", "v=DMARC1; p=reject"),
            ("spoof.example", "v=spf1 -all"),
            ("_dmarc.spoof.example", "v=DMARC1; p=reject"),
        ],
    );
    let d = Daemon::start(Options {
        edits: vec![
            ("enabled = false".into(), "enabled = true".into()),
            (
                "# nameserver = \"127.0.0.1:53\"".into(),
                format!("nameserver = \"127.0.0.1:{port}\" #"),
            ),
        ],
        ..Options::default()
    });
    let shown = |from: &str| {
        let t = d.swaks_args(&[
            "--to",
            "underretning@localhost",
            "--from",
            from,
            "--header",
            &format!("From: <{from}>"),
        ]);
        let reference = queued_as(&t).unwrap_or_else(|| {
            panic!("mail from {from} must be accepted whatever its verdicts:\n{t}")
        });
        d.cli_json(&["triage", "show", &reference, "--json"])
    };
    let verdicts = |from: &str| shown(from)["transport"]["sender_auth"].clone();
    let good = verdicts("kontor@partner.example");
    assert_eq!(
        (
            good["spf"].as_str(),
            good["dmarc"].as_str(),
            good["dkim"].as_str()
        ),
        (Some("pass"), Some("pass"), Some("none")),
        "{good}"
    );
    let bad = verdicts("kontor@spoof.example");
    assert_eq!(
        (bad["spf"].as_str(), bad["dmarc"].as_str()),
        (Some("fail"), Some("fail")),
        "{bad}"
    );
    let unknown = verdicts("kontor@nowhere.example");
    assert_eq!(unknown["spf"], "none", "{unknown}");

    // The kvittering goes by mail only to a From: that DMARC authenticates; a forged one
    // cannot make modtag write to any address: a person sends it (issue 17).
    let authentic = shown("kontor@partner.example");
    assert_eq!(
        authentic["kvittering"]["sent_by"], "system",
        "{}",
        authentic["kvittering"]
    );
    let forged = shown("kontor@spoof.example");
    assert_eq!(
        forged["kvittering"]["manual"], true,
        "{}",
        forged["kvittering"]
    );
    assert!(
        forged["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["kind"] == "kvittering"),
        "{}",
        forged["tasks"]
    );

    // A message signed by the partner's key passes DKIM; the same signature over a body
    // changed on the way fails, and the mail is still taken.
    let signed = signed_message(key, "Vi er bekymrede for en elev.");
    let tampered = signed.replace("bekymrede", "BEKYMREDE");
    let dkim = |message: &str| {
        let file = d.dir.path().join("signed.eml");
        std::fs::write(&file, message).unwrap();
        let t = d.swaks_args(&[
            "--to",
            "underretning@localhost",
            "--from",
            "kontor@partner.example",
            "--data",
            &format!("@{}", file.display()),
        ]);
        let reference = queued_as(&t).unwrap_or_else(|| panic!("{t}"));
        d.cli_json(&["triage", "show", &reference, "--json"])["transport"]["sender_auth"].clone()
    };
    let good = dkim(&signed);
    assert_eq!(
        (good["dkim"].as_str(), good["dmarc"].as_str()),
        (Some("pass"), Some("pass")),
        "{good}"
    );
    let bad = dkim(&tampered);
    assert_eq!(bad["dkim"].as_str(), Some("fail"), "{bad}");
}
