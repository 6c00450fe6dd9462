//! `modtag check` (issue 32): a stopped data directory read through offline: every intake
//! decrypts, every message file matches its hash, every outbox copy's file is there, the
//! audit log verifies. A damaged file is named with the way back; a restore made from a
//! backup passes.

use modtag_tests::*;

/// `modtag check` on `data` with `d`'s configuration (the daemon stopped).
pub(crate) fn check(d: &Daemon, data: &std::path::Path) -> std::process::Output {
    Command::new(modtag_bin())
        .arg("--data")
        .arg(data)
        .args(["check", "--config"])
        .arg(&d.config)
        .output()
        .unwrap()
}

use std::process::Command;

#[test]
fn check_reads_a_stopped_data_directory_through() {
    let mut d = Daemon::start(Options::default());
    let first = d.send("Bekymring", "Emil kom sulten i skole, cpr 120315-4321.");
    d.decide(
        &first,
        &["--trin", "3", "--outcome", "boernefaglig_undersoegelse"],
    );
    let second = d.send("Bekymring", "Sofie græder i frikvarteret.");
    let backup = d.dir.path().join("modtag.mtb");
    let out = d.cli(&["backup", "create", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let keyring = d.dir.path().join("modtag.keyring");
    let out = d.cli(&["backup", "keyring", keyring.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(d.stop().success());

    let ok = check(&d, &d.data);
    assert!(ok.status.success(), "{ok:?}");
    let said = String::from_utf8_lossy(&ok.stdout);
    assert!(said.contains("2 intakes, 2 message files"), "{said}");
    assert!(!said.contains("problem"), "{said}");

    // One changed byte in a message file: named, with the way back, and no content shown.
    let file = d.data.join("spool").join(format!("{second}.pgp"));
    let mut bytes = std::fs::read(&file).unwrap();
    let n = bytes.len() / 2;
    bytes[n] ^= 1;
    std::fs::write(&file, &bytes).unwrap();
    let bad = check(&d, &d.data);
    assert!(!bad.status.success());
    let said = String::from_utf8_lossy(&bad.stdout);
    assert!(
        said.contains(&format!("problem: the message of {second}")),
        "{said}"
    );
    assert!(!said.contains(&format!("the message of {first}")), "{said}");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("1 problem(s)") && err.contains("backup restore"),
        "{err}"
    );
    assert!(!said.contains("Sofie") && !err.contains("Sofie"));

    // The way back: the backup restored elsewhere passes.
    let restored = d.dir.path().join("restored");
    let out = d.cli(&[
        "backup",
        "restore",
        backup.to_str().unwrap(),
        restored.to_str().unwrap(),
        "--keyring",
        keyring.to_str().unwrap(),
        "--store-key",
        d.data.join("store.key").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    for name in ["store.key", "blind-index.key"] {
        std::fs::copy(d.data.join(name), restored.join(name)).unwrap();
    }
    let ok = check(&d, &restored);
    assert!(ok.status.success(), "{ok:?}");

    // No data directory: said, and nothing made.
    let none = d.dir.path().join("nowhere");
    let out = check(&d, &none);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no data directory here"));
    assert!(!none.exists());
}
