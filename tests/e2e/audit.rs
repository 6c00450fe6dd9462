//! The audit log as auditors use it, offline on stopped data directories: signed
//! checkpoints (C2SP), verification against a checkpoint kept elsewhere (a rolled-back copy
//! fails), RFC 9162 inclusion proofs checked by an independent verifier here, reading with
//! the auditors' key only, and a data subject's access report.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use modtag_tests::*;
use sha2::{Digest, Sha256};

fn node(l: &[u8], r: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().to_vec()
}

/// RFC 9162 §2.1.3.2, written from the RFC for this test (not modtag's code).
fn rfc9162_verify_inclusion(
    index: u64,
    size: u64,
    leaf: &[u8],
    path: &[Vec<u8>],
    root: &[u8],
) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnn, mut snn) = (index, size - 1);
    let mut r = leaf.to_vec();
    for p in path {
        if snn == 0 {
            return false;
        }
        if fnn % 2 == 1 || fnn == snn {
            r = node(p, &r);
            while fnn % 2 == 0 && fnn != 0 {
                fnn >>= 1;
                snn >>= 1;
            }
        } else {
            r = node(&r, p);
        }
        fnn >>= 1;
        snn >>= 1;
    }
    snn == 0 && r == root
}

fn copy_dir(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn checkpoints_proofs_reading_and_subject_access() {
    let mut d = Daemon::start(Options::default());
    let first = d.send("Bekymring", "Emil 120315-4321 er ked af det");
    d.cli_json(&["triage", "show", &first, "--json"]);
    assert!(d.stop().success());

    // The shutdown checkpoint covers the whole log; keep it outside the server.
    let out = d.cli(&["audit", "checkpoint"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let note = String::from_utf8(out.stdout).unwrap();
    assert!(note.starts_with("modtag.localhost/audit\n"), "{note}");
    assert!(
        note.contains("\n\n\u{2014} modtag.localhost/audit "),
        "{note}"
    );
    let kept = d.dir.path().join("kept-by-the-auditors.txt");
    std::fs::write(&kept, &note).unwrap();
    let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();

    // An older copy of the data directory, taken now.
    let backup = d.dir.path().join("backup");
    copy_dir(&d.data, &backup);

    d.spawn();
    let second = d.send("Bekymring", "Sofie 010120-1234 igen");
    assert!(d.stop().success());
    let kept_arg = kept.to_str().unwrap();
    let ok = d.cli_json(&["audit", "verify", "--checkpoint", kept_arg, "--json"]);
    assert_eq!(ok["ok"], true, "{ok}");
    assert!(ok["entries"].as_u64().unwrap() > size);
    assert!(
        ok["checkpoints"].as_u64().unwrap() >= 3,
        "two stored and the kept one: {ok}"
    );

    // Rolled back: the backup looks whole by itself, but not against a newer checkpoint.
    let newer = d.dir.path().join("newer.txt");
    std::fs::write(&newer, d.cli(&["audit", "checkpoint"]).stdout).unwrap();
    let run = |data: &Path, args: &[&str]| {
        std::process::Command::new(modtag_bin())
            .arg("--data")
            .arg(data)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&backup, &["audit", "verify"]).status.success());
    let rolled = run(
        &backup,
        &["audit", "verify", "--checkpoint", newer.to_str().unwrap()],
    );
    assert_eq!(rolled.status.code(), Some(3), "an integrity failure");
    assert!(String::from_utf8_lossy(&rolled.stderr).contains("truncated or rolled back"));

    // An inclusion proof that an independent RFC 9162 verifier accepts.
    let proof = d.cli_json(&["audit", "prove", "2", "--json"]);
    let hexes = |v: &serde_json::Value| hex_decode(v.as_str().unwrap());
    let path: Vec<Vec<u8>> = proof["inclusion_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(hexes)
        .collect();
    let (n, tree_root, leaf) = (
        proof["tree_size"].as_u64().unwrap(),
        hexes(&proof["root_hash"]),
        hexes(&proof["leaf_hash"]),
    );
    assert!(
        rfc9162_verify_inclusion(1, n, &leaf, &path, &tree_root),
        "{proof}"
    );
    assert!(!rfc9162_verify_inclusion(2, n, &leaf, &path, &tree_root));

    // Reading needs the auditors' key, which is not in the data directory: no file there is
    // a secret key except the store's own and the one that signs copies, and neither opens
    // the log.
    let outside = auditor_key(d.dir.path());
    for f in walk(&d.data) {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert!(
            !contains(&bytes, b"PRIVATE KEY BLOCK")
                || f.ends_with("store.key")
                || f.ends_with("signing.key"),
            "{f:?}"
        );
    }
    let store_key = d.dir.path().join("store-key-copy.asc");
    std::fs::copy(d.data.join("store.key"), &store_key).unwrap();
    std::fs::set_permissions(&store_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let with_store_key = d.cli(&["audit", "read", "--key", store_key.to_str().unwrap()]);
    assert!(!with_store_key.status.success());
    assert!(String::from_utf8_lossy(&with_store_key.stderr).contains("not the auditors' key"));
    let read = d.cli(&[
        "audit",
        "read",
        "--key",
        outside.to_str().unwrap(),
        "--kind",
        "received",
    ]);
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&read.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let refs: Vec<&str> = lines
        .iter()
        .map(|l| l["reference"].as_str().unwrap())
        .collect();
    assert_eq!(refs, [first.as_str(), second.as_str()]);
    let wrong = d.dir.path().join("wrong.key");
    std::fs::copy(root().join("deploy/demo/keys/modtagelsen.key.asc"), &wrong).unwrap();
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let refused = d.cli(&["audit", "read", "--key", wrong.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not the auditors' key"));

    // Subject access: dates and purposes of every use of Emil's data, no employee names
    // unless asked for.
    let sa = d.cli_json(&[
        "audit",
        "subject-access",
        "--key",
        outside.to_str().unwrap(),
        "--cpr",
        "120315-4321",
    ]);
    let uses = sa["uses"].as_array().unwrap();
    let kinds: Vec<&str> = uses.iter().map(|u| u["use"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"received") && kinds.contains(&"viewed"),
        "{sa}"
    );
    assert!(
        uses.iter()
            .all(|u| u["reference"] == first.as_str() && u.get("by").is_none()),
        "{sa}"
    );
    let named = d.cli_json(&[
        "audit",
        "subject-access",
        "--key",
        outside.to_str().unwrap(),
        "--cpr",
        "120315-4321",
        "--with-employees",
    ]);
    assert!(
        named["uses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["by"] == DEMO_ACCOUNT),
        "{named}"
    );
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    files_below(dir)
}

/// An auditor copies the running daemon's log over the API and checks and reads the copy
/// with their own keys: no stop, no trust in the daemon. A daemon started on a rolled-back
/// copy of its data is caught against a checkpoint the auditors kept.
#[test]
fn an_auditor_verifies_and_reads_the_running_daemons_log() {
    let mut d = Daemon::start(Options::default());
    let first = d.send("Bekymring", "Emil 120315-4321 er ked af det");
    d.cli_json(&["triage", "show", &first, "--json"]);
    d.add_user("revisor", "revisor@kommune.localhost", "auditor");
    let token = d.token_file("revisor");
    // The checkpoint public key, as the auditors keep it apart from the server.
    let pubkey = d.dir.path().join("checkpoint.pub");
    std::fs::copy(d.data.join("checkpoint.pub"), &pubkey).unwrap();
    assert!(d.stop().success());
    let kept = d.dir.path().join("kept.txt");
    std::fs::write(&kept, d.cli(&["audit", "checkpoint"]).stdout).unwrap();
    let backup = d.dir.path().join("backup");
    copy_dir(&d.data, &backup);

    d.spawn();
    let second = d.send("Bekymring", "Sofie 010120-1234 igen");
    let live = |data: &Path, args: &[&str]| {
        std::process::Command::new(modtag_bin())
            .arg("--data")
            .arg(data)
            .arg("--token-file")
            .arg(&token)
            .args(args)
            .output()
            .unwrap()
    };
    let (key, kept_arg) = (pubkey.to_str().unwrap(), kept.to_str().unwrap());
    let out = live(
        &d.data,
        &[
            "audit",
            "verify",
            "--live",
            "--key",
            key,
            "--checkpoint",
            kept_arg,
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert!(report["checkpoints"].as_u64().unwrap() >= 2, "{report}");
    // Without the key the auditors keep, the daemon's word is not taken.
    let out = live(&d.data, &["audit", "verify", "--live"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--live needs --key"));

    let auditor = auditor_key(d.dir.path());
    let out = live(
        &d.data,
        &[
            "audit",
            "read",
            "--live",
            "--key",
            auditor.to_str().unwrap(),
            "--kind",
            "received",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = String::from_utf8_lossy(&out.stdout);
    assert!(read.contains(&first) && read.contains(&second), "{read}");
    // Modtagelsen's desk is not an auditor.
    let out = d.cli(&["audit", "verify", "--live", "--key", key]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs one of the roles auditor"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.stop().success());
    let copied = d.audit_text("audit_copied");
    assert!(copied.contains("\"actor\":\"revisor\""), "{copied}");

    // The server rolled back to the older copy and started: the kept newer checkpoint
    // shows that entries are gone.
    let newer = d.dir.path().join("newer.txt");
    std::fs::write(&newer, d.cli(&["audit", "checkpoint"]).stdout).unwrap();
    let mut old = Daemon::new(Options::default());
    copy_dir(&backup, &old.data);
    old.spawn();
    let out = live(
        &old.data,
        &[
            "audit",
            "verify",
            "--live",
            "--key",
            key,
            "--checkpoint",
            newer.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated or rolled back"));
}
