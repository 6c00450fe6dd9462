//! Reading messages as staff see them (issue 4), through the real listener: encrypted mail
//! decrypted with the kommune's key, Trivsel+ names, forwards by Journalen, akut signals,
//! and a person's correction of the kind, audited.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use modtag_tests::*;

/// The demo's Modtagelsen key as the kommune's decryption key, in a 0600 file.
fn key_file(dir: &Path, mode: u32) -> PathBuf {
    let path = dir.join("kommune.key.asc");
    std::fs::copy(root().join("deploy/demo/keys/modtagelsen.key.asc"), &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn with_key(path: &Path) -> Options {
    Options {
        edits: vec![(
            "# decryption_key_file = \"keys/modtagelsen.key.asc\"".into(),
            format!("decryption_key_file = {:?}", path.display().to_string()),
        )],
        ..Options::default()
    }
}

#[test]
fn staff_see_kind_reporter_names_and_decrypted_text() {
    let keys = tempfile::tempdir().unwrap();
    let d = Daemon::start(with_key(&key_file(keys.path(), 0o600)));

    // PGP/MIME, signed by a directory person, encrypted to the kommune's key.
    let r = d.send_file(
        "underretning@localhost",
        &corpus("66-pgp-mime-signed-known.eml"),
    );
    let item = d.cli_json(&["triage", "show", &r, "--json"]);
    let pgp = &item["understanding"]["openpgp"];
    assert_eq!(pgp["decrypted"], true, "{item}");
    assert_eq!(pgp["signature"], "good", "{item}");
    assert_eq!(pgp["signer"], "Susanne Møller", "{item}");
    assert_eq!(item["cpr_full"][0], "120315-4321");
    assert!(
        item["text"].as_str().unwrap().contains("Vi er bekymrede"),
        "{item}"
    );
    assert_eq!(
        item["attachment_list"][0]["sniffed_type"],
        "application/pdf"
    );

    // Trivsel+ through Send sikkert: names matched, the misspelled one left for Journalen.
    let r = d.send_file("trivselplus@localhost", &corpus("33-trivsel-unmatched.eml"));
    let item = d.cli_json(&["triage", "show", &r, "--json"]);
    assert_eq!(item["kind"], "trivselplus");
    let t = &item["understanding"]["trivsel"];
    assert_eq!(t["matched"][0]["person"], "karen.poulsen", "{t}");
    assert_eq!(t["unmatched"][0]["written"], "Ukendt Person", "{t}");

    // A forward by Journalen: the original's sender counts, the forwarder is recorded.
    let fwd = d.send_file("postfordeling@localhost", &corpus("45-fwd-outlook-da.eml"));
    let item = d.cli_json(&["triage", "show", &fwd, "--json"]);
    assert_eq!(item["kind"], "postfordeling");
    let o = &item["understanding"]["original"];
    assert_eq!(
        o["from"], "Hanne Lærer <hanne.laerer@bakkeskolen.dk>",
        "{o}"
    );
    assert_eq!(
        o["forwarded_by"], "Journalen <journalen@kommune.localhost>",
        "{o}"
    );
    assert_eq!(
        item["understanding"]["reporter"]["organisation"],
        "Bakkeskolen"
    );

    // Akut signals highlight the item in the list and on the page.
    let akut = d.send_file("underretning@localhost", &corpus("04-akut-signals.eml"));
    let list = d.cli_json(&["triage", "list", "--json"]);
    let row = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["reference"] == akut.as_str())
        .unwrap();
    assert_eq!(row["akut"], true);
    assert_eq!(row["cpr"][0], "120315-XXXX", "masked in the list");
    let page = d.cli(&["triage", "show", &akut]);
    let page = String::from_utf8_lossy(&page.stdout);
    assert!(
        page.contains("AKUT signals: haster, slået, tør ikke gå hjem"),
        "{page}"
    );
    assert!(
        page.contains("Eleven Emil 120315-4321 fortæller"),
        "the text: {page}"
    );

    // A person corrects a kind; the correction is in the history and the audit log.
    let out = d.cli(&["triage", "kind", &fwd, "lae165", "--reason", "Lægens brev"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let item = d.cli_json(&["triage", "show", &fwd, "--json"]);
    assert_eq!(item["kind"], "lae165");
    let last = item["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["actor"], DEMO_ACCOUNT);
    assert!(
        last["note"]
            .as_str()
            .unwrap()
            .contains("postfordeling → lae165"),
        "{last}"
    );
    // An LÆ 165 is assessed and routed as an underretning.
    let decision = d.decide(&fwd, &["--trin", "4"]);
    let roles: Vec<&str> = decision["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["modtagelsen"], "{decision}");
    let bad = d.cli(&["triage", "kind", &fwd, "spam", "--reason", "x"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown kind"));
    assert!(!d.stderr().contains("Emil"), "no message text in the log");
}

#[test]
fn a_readable_decryption_key_is_refused_at_start_up() {
    let keys = tempfile::tempdir().unwrap();
    let path = key_file(keys.path(), 0o644);
    let d = Daemon::new(with_key(&path));
    let out = Command::new(modtag_bin())
        .args(["serve", "--config"])
        .arg(&d.config)
        .arg("--data")
        .arg(&d.data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("decryption_key_file") && err.contains("kommune.key.asc"),
        "{err}"
    );
    assert!(
        !d.data.exists(),
        "nothing is created before the key is readable"
    );
}

/// Staff save an attachment (here from inside a winmail.dat) to a file: the bytes are the
/// ones described at intake, the file is 0600, the read is audited with who and why, and a
/// flagged attachment needs saying so.
#[test]
fn attachments_are_saved_checked_and_audited() {
    let mut d = Daemon::start(Options::default());
    let r = d.send_file("underretning@localhost", &corpus("21-winmail-dat.eml"));
    let shown = d.cli_json(&["triage", "show", &r, "--json"]);
    let listed = shown["attachment_list"].as_array().unwrap().clone();
    assert_eq!(listed[1]["name"], "Notat om Emil.pdf");
    let out = d.dir.path().join("notat.pdf");
    let save = |index: &str, out: &Path, extra: &[&str]| {
        let mut args = vec![
            "triage",
            "attachment",
            &r,
            index,
            "--out",
            out.to_str().unwrap(),
            "--purpose",
            "vurdering før mødet",
        ];
        args.extend_from_slice(extra);
        d.cli(&args)
    };
    let ok = save("1", &out, &[]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    assert_eq!(
        sha256_hex(&bytes),
        listed[1]["sha256"].as_str().unwrap(),
        "the bytes described at intake"
    );
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // An existing file is not overwritten; a wrong number says how many there are.
    let again = save("1", &out, &[]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("cannot create"));
    let beyond = save("9", &d.dir.path().join("x"), &[]);
    assert!(
        String::from_utf8_lossy(&beyond.stderr).contains("has 3 attachment(s)"),
        "{}",
        String::from_utf8_lossy(&beyond.stderr)
    );
    // The winmail.dat itself is flagged: only when asked for explicitly.
    let dat = d.dir.path().join("winmail.dat");
    let refused = save("0", &dat, &[]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is flagged"));
    assert!(!dat.exists());
    assert!(save("0", &dat, &["--allow-flagged"]).status.success());

    assert!(d.stop().success());
    let text = d.audit_text("attachment_viewed");
    // The first save and the flagged one: a refused request reads nothing.
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.contains(&format!("\"actor\":\"{DEMO_ACCOUNT}\""))
            && text.contains("vurdering før mødet"),
        "{text}"
    );
}

/// A compression bomb encrypted to the kommune's key (600 MB of zeros that gpg packs into
/// well under a megabyte) is kept and read no further than the message size cap: the
/// process's peak memory stays far below what unpacking it would take, at intake and when
/// staff open it.
#[test]
fn a_compression_bomb_is_read_no_further_than_the_size_cap() {
    let keys = tempfile::tempdir().unwrap();
    let mut opts = with_key(&key_file(keys.path(), 0o600));
    opts.max_message_size = 20 * 1024 * 1024;
    let d = Daemon::start(opts);
    let home = tempfile::tempdir().unwrap();
    let bomb =
        Command::new("bash")
            .arg("-c")
            .arg(format!(
            "head -c 600000000 /dev/zero | gpg --homedir {} --batch --quiet --trust-model always \
             --compress-algo zlib -z 9 --armor --encrypt --recipient-file {}",
            home.path().display(),
            root().join("deploy/demo/keys/modtagelsen.cert.asc").display()
        ))
            .output()
            .unwrap();
    assert!(
        bomb.status.success(),
        "{}",
        String::from_utf8_lossy(&bomb.stderr)
    );
    assert!(bomb.stdout.len() < 2_000_000, "{} bytes", bomb.stdout.len());
    let file = keys.path().join("bomb.eml");
    let mut message =
        b"From: nabo@example.org\r\nTo: underretning@localhost\r\nSubject: Til kommunen\r\n\r\n"
            .to_vec();
    message.extend(
        String::from_utf8_lossy(&bomb.stdout)
            .replace('\n', "\r\n")
            .as_bytes(),
    );
    std::fs::write(&file, &message).unwrap();
    let r = d.send_file("underretning@localhost", &file);
    let item = d.cli_json(&["triage", "show", &r, "--json"]);
    assert_eq!(item["reference"], r.as_str(), "kept and shown");
    let peak = peak_rss(d.pid());
    eprintln!(
        "peak RSS with a 600 MB bomb and a 20 MiB cap: {} MiB",
        peak >> 20
    );
    assert!(peak < 300 << 20, "peak RSS {} MiB", peak >> 20);
}
