//! SPF and DMARC verdicts against DNS served on loopback by Debian's dnsmasq: recorded and
//! shown, never used to refuse mail.

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

#[test]
fn spf_and_dmarc_are_recorded_not_enforced() {
    let port = free_port();
    let _dns = dns(
        port,
        &[
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
    let verdicts = |from: &str| {
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
        d.cli_json(&["triage", "show", &reference, "--json"])["transport"]["sender_auth"].clone()
    };
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
}
