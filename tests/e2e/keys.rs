//! Replacing the checkpoint key of a running daemon (issue 17): the checkpoint written at
//! the change hands over to the new key, so the public key the auditors kept from the start
//! verifies the whole log across the rotation, and the new key alone does not vouch for the
//! history before it.

use modtag_tests::*;

#[test]
fn the_auditors_first_key_verifies_the_log_across_a_checkpoint_key_rotation() {
    let mut d = Daemon::start(Options::default());
    d.send("Bekymring", "Emil 120315-4321 er ked af det");
    assert!(d.stop().success());
    let kept = d.dir.path().join("kept-before.txt");
    std::fs::write(&kept, d.cli(&["audit", "checkpoint"]).stdout).unwrap();
    let first_key = d.dir.path().join("first.pub");
    std::fs::copy(d.data.join("checkpoint.pub"), &first_key).unwrap();
    let old = std::fs::read_to_string(&first_key).unwrap();

    d.spawn();
    let out = d.cli(&["keys", "rotate", "checkpoint"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    let new = std::fs::read_to_string(d.data.join("checkpoint.pub")).unwrap();
    assert_ne!(new.trim(), old.trim());
    assert!(
        said.contains(&format!("modtag-next-key {}", new.trim())),
        "{said}"
    );
    let retired = std::fs::read_to_string(d.data.join("checkpoint-retired.pub")).unwrap();
    assert_eq!(retired.trim(), old.trim());
    // Only an administrator replaces keys.
    d.add_user("lene", "lene.holm@kommune.localhost", "modtagelsen_leder");
    let lene = d.token_file("lene");
    assert!(!d
        .cli_as(&lene, &["keys", "rotate", "checkpoint"])
        .status
        .success());

    let second = d.send("Bekymring", "Sofie 010120-1234 igen");
    d.cli_json(&["triage", "show", &second, "--json"]);
    assert!(d.stop().success());
    let after = d.dir.path().join("kept-after.txt");
    std::fs::write(&after, d.cli(&["audit", "checkpoint"]).stdout).unwrap();
    assert!(!std::fs::read_to_string(&after)
        .unwrap()
        .contains("modtag-next-key"));

    // The data directory's keys, and the auditors' first key alone, both verify it all.
    let v = d.cli_json(&["audit", "verify", "--json"]);
    assert_eq!(v["ok"], true, "{v}");
    let (k, a, b) = (
        first_key.to_str().unwrap(),
        kept.to_str().unwrap(),
        after.to_str().unwrap(),
    );
    let v = d.cli_json(&[
        "audit",
        "verify",
        "--key",
        k,
        "--checkpoint",
        a,
        "--checkpoint",
        b,
        "--json",
    ]);
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["checkpoints"].as_u64().unwrap() >= 5, "{v}");
    // The new key alone does not vouch for the checkpoints before it.
    let new_key = d.dir.path().join("new.pub");
    std::fs::copy(d.data.join("checkpoint.pub"), &new_key).unwrap();
    let only_new = d.cli(&["audit", "verify", "--key", new_key.to_str().unwrap()]);
    assert_eq!(only_new.status.code(), Some(3));
    let rotated = d.audit_text("key_rotated");
    assert!(
        rotated.contains("checkpoint") && rotated.contains(new.trim()),
        "{rotated}"
    );
}

/// The blind-index key replaced while the daemon runs: a child's earlier intake is still
/// found when the next report about the child arrives, and the auditors' subject access
/// finds both with the new key.
#[test]
fn a_childs_history_is_found_across_a_blind_index_key_rotation() {
    let mut d = Daemon::start(Options::default());
    d.send("Bekymring", "Emil 120315-4321 er ked af det");
    let old = std::fs::read(d.data.join("blind-index.key")).unwrap();
    let out = d.cli(&["keys", "rotate", "blind-index"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("written again"));
    assert_ne!(std::fs::read(d.data.join("blind-index.key")).unwrap(), old);
    assert!(!d.data.join("blind-index.key.next").exists());

    let second = d.send("Bekymring", "Emil 120315-4321 igen");
    let v = d.cli_json(&["triage", "show", &second, "--json"]);
    assert_eq!(v["earlier"], 1, "{v}");
    assert!(d.stop().success());
    let auditor = auditor_key(d.dir.path());
    let sa = d.cli_json(&[
        "audit",
        "subject-access",
        "--key",
        auditor.to_str().unwrap(),
        "--cpr",
        "120315-4321",
    ]);
    assert_eq!(sa["intakes"], 2, "{sa}");
    assert!(d.audit_text("key_rotated").contains("blind-index"));
    // It starts again on the new key.
    d.spawn();
    let third = d.send("Bekymring", "Emil 120315-4321 en tredje gang");
    assert_eq!(
        d.cli_json(&["triage", "show", &third, "--json"])["earlier"],
        2
    );
}
