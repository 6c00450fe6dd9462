//! Erasure against the real binary (issue 17): Modtagelsen's leader erases an intake with a
//! reason; nobody else may; it is gone from every reading and from the spool, the ring key
//! is replaced, and the audit log keeps who, why and which reference, and still verifies.

use modtag_tests::*;

#[test]
fn the_leader_erases_an_intake_with_a_reason_and_the_log_keeps_it() {
    let d = Daemon::start(Options::default());
    let gone = d.send(
        "Bekymring",
        "MARKER-erase-17 Emil 120315-4321 er ofte sulten.",
    );
    let kept = d.send("Bekymring", "Anden underretning om Emil 120315-4321.");
    let third = d.send("Bekymring", "Tredje underretning om Emil 120315-4321.");
    assert!(d.data.join(format!("spool/{gone}.pgp")).exists());
    assert!(d.data.join("ring-1.key").exists());

    // Modtagelsen (the demo account) works the queue but may not erase.
    let refused = d.cli(&["triage", "erase", &gone, "--reason", "Fejl"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("modtagelsen_leder"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    d.add_user("lene", "lene.holm@kommune.localhost", "modtagelsen_leder");
    let lene = d.token_file("lene");
    // An intake she has no reason to see (Journalen's TRIVSEL+) is, to her, not there: the
    // right to erase is no way to learn which references exist (issue 25 review).
    let theirs = queued_as(&d.swaks(
        "trivselplus@localhost",
        "Trivsel+ Karen Poulsen",
        "CVR 13585628",
    ))
    .unwrap();
    let not_hers = d.cli_as(&lene, &["triage", "erase", &theirs, "--reason", "Fejl"]);
    let missing = d.cli_as(
        &lene,
        &["triage", "erase", "MT-2026-999999", "--reason", "Fejl"],
    );
    assert!(!not_hers.status.success() && !missing.status.success());
    assert_eq!(
        String::from_utf8_lossy(&not_hers.stderr).replace(&theirs, "REF"),
        String::from_utf8_lossy(&missing.stderr).replace("MT-2026-999999", "REF")
    );
    assert_eq!(
        d.cli_json(&["triage", "show", &theirs, "--json"])["reference"],
        theirs.as_str(),
        "still there"
    );
    let no_reason = d.cli_as(&lene, &["triage", "erase", &gone, "--reason", " "]);
    assert!(!no_reason.status.success());
    assert!(String::from_utf8_lossy(&no_reason.stderr).contains("needs a reason"));
    let erased = d.cli_as(
        &lene,
        &[
            "triage",
            "erase",
            &gone,
            "--reason",
            "Sendt til forkert kommune",
        ],
    );
    assert!(
        erased.status.success(),
        "{}",
        String::from_utf8_lossy(&erased.stderr)
    );
    assert!(String::from_utf8_lossy(&erased.stdout).contains("erased"));
    let again = d.cli_as(&lene, &["triage", "erase", &gone, "--reason", "igen"]);
    assert!(!again.status.success(), "once");

    // Gone from the queue, its page and the spool; the other intake whole.
    let show = d.cli(&["triage", "show", &gone]);
    assert!(!show.status.success());
    let refs = d.queue();
    assert!(refs.contains(&kept) && !refs.contains(&gone), "{refs:?}");
    assert!(!d.data.join(format!("spool/{gone}.pgp")).exists());
    assert!(!d.data.join("ring-1.key").exists());
    assert!(d.data.join("ring-2.key").exists());
    let v = d.cli_json(&["triage", "show", &kept, "--json"]);
    assert_eq!(v["reference"], kept.as_str());

    // A ring key that cannot be written (a directory stands where it would go): the
    // erasure is done and said so, and the exit status says the ring key is still owed;
    // the next retention run replaces it though nothing is due.
    let blocker = d.data.join("ring-3.key.adding");
    std::fs::create_dir(&blocker).unwrap();
    let reason = "Sendt til forkert kommune";
    let owed = d.cli_as(&lene, &["triage", "erase", &third, "--reason", reason]);
    let said = String::from_utf8_lossy(&owed.stderr);
    assert!(!owed.status.success(), "{said}");
    assert!(
        said.contains("erased, but the ring key could not be replaced")
            && said.contains("modtag retention run"),
        "{said}"
    );
    assert!(!d.cli(&["triage", "show", &third]).status.success());
    assert!(d.data.join("ring-2.key").exists());
    assert_eq!(
        d.metric("modtag_ring_key_owed"),
        1,
        "for monitoring to alert on"
    );
    std::fs::remove_dir(&blocker).unwrap();
    let run = d.cli_as(&lene, &["retention", "run"]);
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{said}");
    assert!(
        said.contains("0 intake(s) erased") && said.contains("ring key replaced"),
        "{said}"
    );
    assert!(!d.data.join("ring-2.key").exists());
    assert!(d.data.join("ring-3.key").exists());
    assert_eq!(d.metric("modtag_ring_key_owed"), 0);

    // Nothing is due under the demo's rules yet; a dry run says so and changes nothing.
    let dry = d.cli_as(&lene, &["retention", "run", "--dry-run", "--json"]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["erased"], serde_json::json!([]));

    let mut d = d;
    assert!(d.stop().success());
    let verify = d.cli(&["audit", "verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let erasure = d.audit_text("erased");
    assert!(erasure.contains(&gone), "{erasure}");
    assert!(erasure.contains("Sendt til forkert kommune"), "{erasure}");
    assert!(erasure.contains("lene"), "{erasure}");
    assert!(d.audit_text("ring_rotated").contains("keys_rewrapped"));
    // And the marker is nowhere in the data directory in clear.
    for f in files_below(&d.data) {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert!(!contains(&bytes, b"MARKER-erase-17"), "{f:?}");
    }
}
