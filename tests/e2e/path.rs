//! The whole path: SMTP in, encrypted at rest, listed, decided, delivered encrypted,
//! decrypted by gpg, audited, and the audit log's tamper check.

use modtag_tests::*;

const MARKER: &str = "MARKER-e2e-5d1c0b";
const CPR: &str = "120315-4321";

#[test]
fn smtp_to_encrypted_delivery_end_to_end() {
    let opts = Options::default();
    let sink = Sink::start(opts.relay_port);
    let mut d = Daemon::start(opts);

    let transcript = d.swaks(
        "underretning@localhost",
        "Bekymring for en elev",
        &format!("{MARKER}: Vi er bekymrede for barnet, cpr {CPR}. Hun virker trist."),
    );
    assert!(
        transcript.contains("<-  250 2.0.0 Ok: queued as MT-"),
        "{transcript}"
    );
    let reference = queued_as(&transcript).unwrap();

    // No plaintext at rest: neither the marker nor the CPR, in either form.
    for file in files_below(&d.data) {
        let bytes = std::fs::read(&file).unwrap();
        for needle in [MARKER, CPR, "1203154321", "Bekymring for en elev"] {
            assert!(
                !contains(&bytes, needle.as_bytes()),
                "{needle} in plaintext in {}",
                file.display()
            );
        }
    }

    // The item is listed with a deadline 24 hours after receipt, CPR masked.
    let list = d.cli_json(&["triage", "list", "--json"]);
    let items = list["items"].as_array().unwrap();
    let item = items
        .iter()
        .find(|i| i["reference"] == reference.as_str())
        .expect("item listed");
    assert_eq!(item["channel"], "underretning");
    assert_eq!(item["state"], "awaiting_assessment");
    assert_eq!(item["cpr"][0], "120315-XXXX");
    let received: jiff::Timestamp = item["received_at"].as_str().unwrap().parse().unwrap();
    let deadline: jiff::Timestamp = item["deadline"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        deadline.as_second() - received.as_second(),
        24 * 3600,
        "deadline is 24 h after receipt"
    );
    assert!(
        !list.to_string().contains(CPR),
        "list view shows the CPR unmasked"
    );

    // A decision routes it: new case on trin 4, akut → Modtagelsen and its leader, and
    // outside office hours (the directory's calendar says when) the døgnvagt.
    let decision = d.decide(&reference, &["--trin", "4", "--akut"]);
    let roles: Vec<&str> = decision["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    let ooh =
        d.cli_json(&["triage", "show", &reference, "--json"])["decision"]["out_of_hours"] == true;
    let mut expected = vec!["modtagelsen", "modtagelsen_leder"];
    if ooh {
        expected.push("doegnvagt");
    }
    assert_eq!(roles, expected);

    // The relay receives one encrypted copy per recipient, which gpg decrypts to the original.
    let dumps = sink.wait_kommune(expected.len());
    let keys = [
        ("modtagelsen@kommune.localhost", "modtagelsen"),
        ("lene.holm@kommune.localhost", "modtagelsen-leder"),
        ("doegnvagt@kommune.localhost", "doegnvagt"),
    ];
    let mut got: Vec<String> = Vec::new();
    for dump in &dumps {
        let rcpt = rcpt_of(dump);
        let (_, key) = keys
            .iter()
            .find(|(addr, _)| *addr == rcpt)
            .unwrap_or_else(|| panic!("unexpected recipient {rcpt}"));
        let headers = dump
            .split("\r\n\r\n")
            .next()
            .unwrap_or(dump)
            .split("\n\n")
            .next()
            .unwrap();
        for needle in [MARKER, CPR, "Bekymring"] {
            assert!(!headers.contains(needle), "outer headers leak {needle}");
        }
        assert!(
            !dump.contains(MARKER),
            "the copy to {rcpt} is not encrypted"
        );
        let armored = armored_block(dump);
        // Only the recipient's own key opens it.
        let other = if *key == "modtagelsen" {
            "modtagelsen-leder"
        } else {
            "modtagelsen"
        };
        assert!(
            Gpg::with_demo_keys(&[other]).decrypt(&armored).is_err(),
            "{other} could read {rcpt}'s copy"
        );
        let plain = Gpg::with_demo_keys(&[key])
            .decrypt(&armored)
            .expect("gpg decrypts");
        assert!(
            plain.contains(MARKER),
            "decrypted copy lacks the original text"
        );
        assert!(plain.contains(CPR));
        assert!(plain.contains(&reference));
        got.push(rcpt);
    }
    got.sort();
    let mut want = vec![
        "lene.holm@kommune.localhost",
        "modtagelsen@kommune.localhost",
    ];
    if ooh {
        want.insert(0, "doegnvagt@kommune.localhost");
    }
    assert_eq!(got, want);

    // Stopped cleanly, the audit log verifies offline...
    assert!(
        d.stop().success(),
        "SIGTERM should stop modtag with exit 0:\n{}",
        d.stderr()
    );
    let ok = d.cli(&["audit", "verify", "--json"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    // received, parsed, listed, decided, routed, delivered ×2 at the least.
    assert!(report["entries"].as_u64().unwrap() >= 7, "{report}");

    // Each entry opens on its own with the auditors' key in GnuPG 2.2; the entries the
    // intake wrote together share one PKESK (one key agreement, issue 33), a later
    // commit's entry has its own.
    {
        let db = sled::open(d.data.join("db")).unwrap();
        let audit = db.open_tree("audit").unwrap();
        let gpg = Gpg::with_demo_keys(&["auditor"]);
        let mut opened = Vec::new();
        for kv in audit.iter() {
            let payload = entry_payload(&kv.unwrap().1);
            let text = gpg
                .decrypt_binary(&payload)
                .expect("gpg opens an entry alone");
            opened.push((text, first_packet(&payload).to_vec()));
        }
        let kind = |k: &str| {
            let k = format!("\"kind\":\"{k}\"");
            opened
                .iter()
                .find(|(t, _)| t.contains(&k))
                .expect("entry of that kind")
        };
        let (received, parsed, keys) = (kind("received"), kind("parsed"), kind("keys_created"));
        assert!(received.0.contains(&reference) && parsed.0.contains(&reference));
        assert_eq!(
            received.1, parsed.1,
            "one commit's entries share their PKESK"
        );
        assert_ne!(keys.1, received.1, "another commit's entry has its own");
    }

    // ...and fails, with exit code 3, after one byte of one entry is changed.
    {
        let db = sled::open(d.data.join("db")).unwrap();
        let audit = db.open_tree("audit").unwrap();
        let (key, value) = audit.iter().nth(2).unwrap().unwrap();
        let mut v = value.to_vec();
        let last = v.len() - 1;
        v[last] ^= 0x01;
        audit.insert(key, v).unwrap();
        db.flush().unwrap();
    }
    let bad = d.cli(&["audit", "verify"]);
    assert_eq!(
        bad.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(msg.contains("entry 3") && msg.contains("changed"), "{msg}");
}

#[test]
fn audit_verify_detects_a_removed_entry() {
    let mut d = Daemon::start(Options::default());
    d.send("Bekymring", "tekst");
    d.send("Bekymring", "tekst");
    assert!(d.stop().success());
    {
        let db = sled::open(d.data.join("db")).unwrap();
        let audit = db.open_tree("audit").unwrap();
        let (key, _) = audit.iter().nth(1).unwrap().unwrap();
        audit.remove(key).unwrap();
        db.flush().unwrap();
    }
    let bad = d.cli(&["audit", "verify"]);
    assert_eq!(bad.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("missing or reordered"));
}

/// Plaintext lives only in memory, so the daemon allows no core dump of that memory.
#[test]
fn the_daemon_never_dumps_core() {
    let d = Daemon::start(Options::default());
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", d.pid())).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], ["0", "0"], "{core}");
}

/// An audit entry's payload, as the tree stores it (`storage/src/audit`): format, sequence
/// number and time (17 bytes), the kind (its length, then it), the previous entry's and
/// its own hash (64 bytes), then the OpenPGP message.
fn entry_payload(entry: &[u8]) -> Vec<u8> {
    let kind = entry[17] as usize;
    entry[18 + kind + 64..].to_vec()
}

/// An OpenPGP message's first packet (new-format header, as modtag writes): a PKESK here.
fn first_packet(message: &[u8]) -> &[u8] {
    let (header, len) = match message[1] {
        l @ 0..192 => (2, l as usize),
        l @ 192..224 => (3, ((l as usize - 192) << 8) + message[2] as usize + 192),
        _ => panic!("a PKESK of an unexpected length"),
    };
    &message[..header + len]
}
