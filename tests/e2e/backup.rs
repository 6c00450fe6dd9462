//! Backup and restore against the real binary (issues 17 and 18): a backup taken while a
//! client keeps sending mail holds every message acknowledged before it began; it verifies
//! offline and a damaged copy does not; restored elsewhere with the keyring exported after
//! an erasure, a daemon starts on it with those intakes, the erased one left out, and the
//! audit log verifies against the checkpoint the auditors kept.

use std::time::Instant;

use modtag_tests::*;

#[test]
fn a_backup_under_load_restores_on_another_daemon_and_keeps_an_erasure() {
    let mut d = Daemon::start(Options::default());
    let first: Vec<String> = (0..3)
        .map(|i| d.send("Bekymring", &format!("MARKER-backup-{i} Emil 120315-4321")))
        .collect();
    // The auditors keep the checkpoint written at a shutdown (of the log so far).
    let kept_checkpoint = d.keep_checkpoint();

    // A client that keeps sending, noting when each message was acknowledged.
    let load = Load::start(d.smtp, 5);
    let began = Instant::now();
    let file = d.dir.path().join("modtag.mtb");
    let out = d.cli(&["backup", "create", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let acked = load.finish();
    let before_backup: Vec<String> = first
        .iter()
        .cloned()
        .chain(
            acked
                .iter()
                .filter(|(_, at)| *at < began)
                .map(|(r, _)| r.clone()),
        )
        .collect();
    assert!(before_backup.len() >= 8);
    let during = acked.iter().filter(|(_, at)| *at >= began).count();
    eprintln!(
        "{} acknowledged before the backup, {during} while it ran",
        before_backup.len()
    );
    // Never over an existing file.
    let again = d.cli(&["backup", "create", file.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));

    // Verified offline with the store key; one changed byte fails it (exit 3).
    let store_key = d.data.join("store.key");
    let sk = store_key.to_str().unwrap();
    let v = d.cli_json(&[
        "backup",
        "verify",
        file.to_str().unwrap(),
        "--store-key",
        sk,
        "--json",
    ]);
    assert_eq!(v["ok"], true);
    assert!(
        v["items"].as_u64().unwrap() >= before_backup.len() as u64,
        "{v}"
    );
    assert_eq!(v["includes_keys"], false);
    let mut bytes = std::fs::read(&file).unwrap();
    let n = bytes.len() / 2;
    bytes[n] ^= 1;
    let damaged = d.dir.path().join("damaged.mtb");
    std::fs::write(&damaged, &bytes).unwrap();
    let bad = d.cli(&[
        "backup",
        "verify",
        damaged.to_str().unwrap(),
        "--store-key",
        sk,
    ]);
    assert_eq!(
        bad.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    // An intake from before the backup is erased; the keyring is exported after it.
    d.add_user("lene", "lene.holm@kommune.localhost", "modtagelsen_leder");
    let lene = d.token_file("lene");
    let erased = &first[0];
    let out = d.cli_as(&lene, &["triage", "erase", erased, "--reason", "Fejlsendt"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keyring = d.dir.path().join("modtag.keyring");
    let out = d.cli(&["backup", "keyring", keyring.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Restored on "another server": without the keyring it is refused (the backup's ring
    // key was destroyed by the erasure); with it, the erased intake is left out.
    let mut standby = Daemon::new(Options::default());
    let target = standby.data.to_str().unwrap().to_string();
    let refused = d.cli(&[
        "backup",
        "restore",
        file.to_str().unwrap(),
        &target,
        "--store-key",
        sk,
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--keyring"));
    let _ = std::fs::remove_dir_all(&standby.data);
    let restored = d.cli_json(&[
        "backup",
        "restore",
        file.to_str().unwrap(),
        &target,
        "--keyring",
        keyring.to_str().unwrap(),
        "--store-key",
        sk,
        "--json",
    ]);
    assert_eq!(restored["erased_since"], serde_json::json!([erased]));
    // The store and blind-index keys come from their escrow.
    for name in ["store.key", "blind-index.key"] {
        std::fs::copy(d.data.join(name), standby.data.join(name)).unwrap();
    }
    // The take-over check: the restored log verifies and extends the checkpoint the
    // auditors kept, so nothing acknowledged before it was lost or rewritten.
    let kept = kept_checkpoint.to_str().unwrap();
    let verify = standby.cli_json(&["audit", "verify", "--checkpoint", kept, "--json"]);
    assert_eq!(verify["ok"], true, "{verify}");
    assert!(d.stop().success());

    standby.spawn();
    for r in &before_backup[1..] {
        let v = standby.cli_json(&["triage", "show", r, "--json"]);
        assert_eq!(v["reference"], r.as_str());
    }
    let gone = standby.cli(&["triage", "show", erased]);
    assert!(!gone.status.success());
    // It takes mail, and its references skip past any the lost daemon may have given after
    // the backup.
    let newest = standby.send("Bekymring", "Efter genskabelsen");
    let number = |r: &str| r.rsplit('-').next().unwrap().parse::<u64>().unwrap();
    let last_given = acked.iter().map(|(r, _)| number(r)).max().unwrap();
    assert!(
        number(&newest) > last_given + 9_000,
        "{newest} after {last_given}"
    );
    assert!(standby.stop().success());
    let verify = standby.cli_json(&["audit", "verify", "--checkpoint", kept, "--json"]);
    assert_eq!(verify["ok"], true, "{verify}");
}
