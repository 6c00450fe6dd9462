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
    let out = d.subject_access("120315-4321", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sa: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
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

/// The store key replaced while a client keeps sending: every message acknowledged before,
/// during and after reads back, the CLI says what was sealed again, the old key is gone
/// from the data directory, the daemon starts again on the new key and refuses the old.
#[test]
fn the_store_key_is_replaced_under_load_and_nothing_is_lost() {
    let mut d = Daemon::start(Options::default());
    let first = d.send("Bekymring", "Emil 120315-4321 er ked af det");
    let old = std::fs::read(d.data.join("store.key")).unwrap();
    let load = Load::start(d.smtp, 3);
    let out = d.cli(&["keys", "rotate", "store"]);
    let acked = load.finish();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    eprintln!("{} acknowledged around the rotation: {said}", acked.len());
    assert!(
        said.contains("sealed again") && said.contains("store.key.retired-"),
        "{said}"
    );
    assert_ne!(std::fs::read(d.data.join("store.key")).unwrap(), old);
    assert!(!d.data.join("store.key.next").exists());
    let shows = |d: &Daemon, r: &str| {
        let out = d.cli(&["triage", "show", r]);
        assert!(
            out.status.success(),
            "{r}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    shows(&d, &first);
    for (r, _) in &acked {
        shows(&d, r);
    }
    assert!(d.stop().success());
    assert!(d.audit_text("key_rotated").contains("\"store\""));

    // It starts again on the new key and reads everything, and reminds the administrator
    // that the old key is still here.
    d.spawn();
    let started = std::fs::read_to_string(d.dir.path().join("stdout.log")).unwrap();
    assert!(
        started
            .lines()
            .any(|l| l.contains("store.key.retired-") && l.contains("not used")),
        "{started}"
    );
    shows(&d, &first);
    shows(&d, &acked.last().unwrap().0);
    let after = d.send("Bekymring", "Efter nøgleskiftet");
    shows(&d, &after);
    assert!(d.stop().success());
    // The old key given back is refused, saying which key the store is sealed to.
    let key = d.data.join("store.key");
    std::fs::remove_file(&key).unwrap();
    std::fs::write(&key, &old).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = d.serve_refused();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not to the one given"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// With `[keys]` the new store key is a file the administrator places on the server and
/// names as `next_store_key`: without one the rotation is refused saying so, and one sent
/// over the API is refused; with one, the daemon goes on under it, a start with the old
/// credential is refused, and a start with the new one reads everything.
#[test]
fn with_the_keys_apart_the_store_key_comes_from_the_administrator() {
    let keys = tempfile::tempdir().unwrap();
    for set in ["old", "new"] {
        let made = modtag(&["keys", "init", keys.path().join(set).to_str().unwrap()]);
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
    }
    let key = |set: &str, name: &str| keys.path().join(set).join(name).display().to_string();
    let section = format!(
        "[keys]\nstore_key = \"{}\"\nblind_index_key = \"{}\"\nring_dir = \"{}\"\n\n[kvittering]",
        key("old", "store.key"),
        key("old", "blind-index.key"),
        keys.path().join("ring").display()
    );
    let mut d = Daemon::start(Options {
        edits: vec![("[kvittering]".into(), section)],
        ..Options::default()
    });
    let r = d.send("Bekymring", "Emil 120315-4321 er ofte sulten.");
    let refused = d.cli(&["keys", "rotate", "store"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("next_store_key"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // A key never travels over the API, not even from an administrator (issue 25).
    let token = d.personal_token();
    let armored = std::fs::read_to_string(key("new", "store.key")).unwrap();
    let body = serde_json::json!({ "key": armored }).to_string();
    let (status, _, answer) = http_request(
        d.http,
        "POST",
        "/api/v1/keys/rotate/store",
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(status, 422, "{answer}");
    assert!(answer.contains("never sent to modtag"), "{answer}");
    // Named in the configuration, as a file only root placed: taken from there.
    let text = std::fs::read_to_string(&d.config).unwrap();
    std::fs::write(
        &d.config,
        text.replace(
            "[kvittering]",
            &format!(
                "next_store_key = \"{}\"\n\n[kvittering]",
                key("new", "store.key")
            ),
        ),
    )
    .unwrap();
    let reload = d.cli(&["config", "reload"]);
    assert!(
        reload.status.success(),
        "{}",
        String::from_utf8_lossy(&reload.stderr)
    );
    let out = d.cli(&["keys", "rotate", "store"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("seal the new key"));
    d.cli_json(&["triage", "show", &r, "--json"]);
    assert!(d.stop().success());
    assert!(!d.data.join("store.key").exists() && !d.data.join("store.key.next").exists());

    // As the CLI said: next_store_key goes; the old credential alone is refused.
    let text = std::fs::read_to_string(&d.config).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("next_store_key"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&d.config, text).unwrap();
    let out = d.serve_refused();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not to the one given"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&d.config).unwrap();
    std::fs::write(
        &d.config,
        text.replace(&key("old", "store.key"), &key("new", "store.key")),
    )
    .unwrap();
    d.spawn();
    let v = d.cli_json(&["triage", "show", &r, "--json"]);
    assert_eq!(v["reference"], r.as_str(), "{v}");
}
