//! The journal package (issue 31): an assessed intake leaves modtag as one PDF/A record,
//! its attachments and metadata (JSON and XML) naming every file's SHA-256, from the CLI
//! and the desk, audited as "journalisering"; a case system that takes files gets it
//! encrypted in its drop directory, and its receipt marks the intake journalised.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use modtag_tests::*;
use sha2::{Digest, Sha256};

const TEXT: &str = "Drengen fortæller, at han ikke tør gå hjem efter skole. Hans søster på \
                    år har også været bange. Lærerne på Bakkeskolen er bekymrede.";

/// An underretning with CPR, Danish text and a PDF attachment, assessed: its reference.
fn assessed_intake(d: &Daemon, dir: &Path) -> String {
    let attachment = dir.join("referat.txt");
    std::fs::write(&attachment, "Referat af samtale med Emil, æøå.\n").unwrap();
    let t = d.swaks_args(&[
        "--to",
        "underretning@localhost",
        "--from",
        "kontor@bakkeskolen.dk",
        "--header",
        "Subject: Bekymring for Emil",
        "--body",
        &format!("{TEXT} CPR 120315-4321."),
        "--attach-type",
        "text/plain",
        "--attach",
        &format!("@{}", attachment.display()),
    ]);
    let r = queued_as(&t).unwrap_or_else(|| panic!("not accepted:\n{t}"));
    d.decide(
        &r,
        &["--trin", "3", "--outcome", "boernefaglig_undersoegelse"],
    );
    r
}

fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn run(cmd: &str, args: &[&str]) -> std::process::Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

#[test]
fn the_journal_package_reads_right_and_validates() {
    let mut d = Daemon::start(Options::default());
    let tmp = tempfile::tempdir().unwrap();
    let r = assessed_intake(&d, tmp.path());
    let out_dir = tmp.path().join("pakke");
    let out = d.cli(&["triage", "journal", &r, "--out", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let names: Vec<String> = ["journal.pdf", "metadata.json", "metadata.xml"]
        .iter()
        .map(|n| n.to_string())
        .collect();
    for n in &names {
        assert!(out_dir.join(n).is_file(), "{n} missing: {out:?}");
    }

    // The PDF passes qpdf's check, claims PDF/A-2b, and its text is there, æøå included.
    let pdf = out_dir.join("journal.pdf");
    let check = run("qpdf", &["--check", pdf.to_str().unwrap()]);
    assert!(check.status.success(), "{check:?}");
    let bytes = std::fs::read(&pdf).unwrap();
    let xmp = String::from_utf8_lossy(&bytes);
    assert!(
        xmp.contains("<pdfaid:part>2</pdfaid:part>")
            && xmp.contains("<pdfaid:conformance>B</pdfaid:conformance>"),
        "no PDF/A-2b identification"
    );
    let text = run("pdftotext", &["-layout", pdf.to_str().unwrap(), "-"]);
    let text = String::from_utf8_lossy(&text.stdout).replace('\n', " ");
    let words: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        r.as_str(),
        "Drengen fortæller, at han ikke tør gå hjem efter skole.",
        "Lærerne på Bakkeskolen er bekymrede.",
        "120315-4321",
        "Trin 3",
        "Børnefaglig undersøgelse",
        "Henvendelsens tekst",
        "Forløb i modtag",
        "27.24.00",
        "side 1 af",
    ] {
        assert!(
            words.contains(want),
            "{want:?} not in the PDF's text:\n{words}"
        );
    }
    // Its first page, for a person to look at.
    let shots = root().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let png = run(
        "pdftoppm",
        &[
            "-png",
            "-r",
            "70",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            pdf.to_str().unwrap(),
            shots.join("journalpakke-side-1").to_str().unwrap(),
        ],
    );
    assert!(png.status.success(), "{png:?}");

    // The metadata: the intake's facts and every file's hash, valid against the schemas.
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("metadata.json")).unwrap()).unwrap();
    assert_eq!(meta["reference"], r.as_str());
    assert_eq!(meta["kind"], "underretning");
    assert_eq!(meta["cpr"], serde_json::json!(["120315-4321"]));
    assert_eq!(meta["kle"], "27.24.00");
    assert_eq!(meta["trin"], 3);
    assert_eq!(meta["outcome"], "boernefaglig_undersoegelse");
    let files = meta["files"].as_array().unwrap();
    assert_eq!(files[0]["name"], "journal.pdf");
    assert_eq!(files.len(), 2, "{meta}");
    for f in files {
        let path = out_dir.join(f["name"].as_str().unwrap());
        assert_eq!(f["sha256"].as_str().unwrap(), sha256(&path), "{f}");
    }
    let attachment = out_dir.join(files[1]["name"].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(attachment).unwrap(),
        "Referat af samtale med Emil, æøå.\n"
    );
    let schemas = root().join("deploy/journal");
    let xsd = run(
        "xmllint",
        &[
            "--noout",
            "--schema",
            schemas.join("journalpakke.xsd").to_str().unwrap(),
            out_dir.join("metadata.xml").to_str().unwrap(),
        ],
    );
    assert!(xsd.status.success(), "{xsd:?}");
    let json = run(
        "/usr/bin/python3",
        &[
            "-c",
            "import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))",
            schemas.join("journalpakke.schema.json").to_str().unwrap(),
            out_dir.join("metadata.json").to_str().unwrap(),
        ],
    );
    assert!(json.status.success(), "{json:?}");
    let xml = std::fs::read_to_string(out_dir.join("metadata.xml")).unwrap();
    assert!(xml.contains(&format!(
        "<package_id>{}</package_id>",
        meta["package_id"].as_str().unwrap()
    )));

    // A second directory is never written over.
    let again = d.cli(&["triage", "journal", &r, "--out", out_dir.to_str().unwrap()]);
    assert!(!again.status.success(), "{again:?}");
    // Audited under the person's name with the purpose.
    assert!(d.stop().success());
    let audit = d.audit_text("journal_packaged");
    assert!(
        audit.contains("journalisering") && audit.contains(&r),
        "{audit}"
    );
}

#[test]
fn only_the_desk_that_works_an_intake_gets_its_package() {
    let d = Daemon::start(Options::default());
    let tmp = tempfile::tempdir().unwrap();
    let r = assessed_intake(&d, tmp.path());
    let fresh = d.send("Bekymring", "Ny underretning, cpr 120315-4321.");

    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let modt = d.sign_in("modt", &modt);
    let (status, headers, body) = get_raw(&d, &modt, &format!("/koe/{r}/journal"));
    assert_eq!(status, 200);
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("content-type: application/zip"),
        "{headers}"
    );
    assert!(body.starts_with("PK\u{3}\u{4}"), "not a zip");
    let (_, page) = modt.get(&d, &format!("/koe/{r}"));
    assert!(
        page.contains(&format!("href=\"/koe/{r}/journal\"")),
        "{page}"
    );
    // Not before it is assessed, said in Danish on the item.
    let (status, _, body) = get_raw(&d, &modt, &format!("/koe/{fresh}/journal"));
    assert_eq!(status, 409);
    assert!(
        body.contains("Henvendelsen er ikke vurderet endnu"),
        "{body}"
    );

    // Journalen does not work an underretning; a stranger's reference is not found.
    let jour = d.add_user("jour", "journalen@kommune.localhost", "journalen");
    let jour = d.sign_in("jour", &jour);
    let (status, _, _) = get_raw(&d, &jour, &format!("/koe/{r}/journal"));
    assert_eq!(status, 404);
    // Without a hook, sending is refused with what to do instead.
    let (status, page) = modt.post_form(&d, &format!("/koe/{r}/journal/send"), &[]);
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("hent journalpakken"), "{page}");
}

/// The case system's integration (`tests/journal/casesystem.py`) with the demo case
/// system's key; stopped when dropped.
struct CaseSystem {
    child: Child,
    _gpg: tempfile::TempDir,
}

impl CaseSystem {
    fn start(outbox: &Path, receipts: &Path, filed: &Path) -> CaseSystem {
        let gpg = tempfile::tempdir().unwrap();
        let import = run(
            "gpg",
            &[
                "--homedir",
                gpg.path().to_str().unwrap(),
                "--batch",
                "--quiet",
                "--import",
                root()
                    .join("deploy/demo/keys/sagssystem.key.asc")
                    .to_str()
                    .unwrap(),
            ],
        );
        assert!(import.status.success(), "{import:?}");
        let child = Command::new("python3")
            .arg(root().join("tests/journal/casesystem.py"))
            .args([outbox, receipts, gpg.path(), filed])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 runs");
        CaseSystem { child, _gpg: gpg }
    }
}

impl Drop for CaseSystem {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn hooked(dirs: &[PathBuf; 2]) -> Options {
    let mut opts = Options::default();
    let section = format!(
        "[journal.hook]\nsystem = \"eDoc\"\noutbox_dir = {:?}\nreceipts_dir = {:?}\ncert_file = {:?}\npoll_secs = 1\n\n# A case system that takes files: packages",
        dirs[0],
        dirs[1],
        root().join("deploy/demo/keys/sagssystem.cert.asc")
    );
    opts.edits
        .push(("# A case system that takes files: packages".into(), section));
    opts
}

#[test]
fn a_case_system_that_takes_files_files_it_with_one_action() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = [tmp.path().join("ud"), tmp.path().join("kvitteringer")];
    let filed = tmp.path().join("arkiv");
    for dir in dirs.iter().chain([&filed]) {
        std::fs::create_dir_all(dir).unwrap();
    }
    let mut d = Daemon::start(hooked(&dirs));
    let r = assessed_intake(&d, tmp.path());
    let other = assessed_intake(&d, tmp.path());
    let _system = CaseSystem::start(&dirs[0], &dirs[1], &filed);

    // One action on the desk: the package goes, encrypted, and the receipt files it.
    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let modt = d.sign_in("modt", &modt);
    let (_, page) = modt.get(&d, &format!("/koe/{r}"));
    assert!(page.contains("Send til eDoc"), "{page}");
    let (status, page) = modt.post_form(&d, &format!("/koe/{r}/journal/send"), &[]);
    assert_eq!(status, 303, "{page}");
    let filed_page = wait_for(|| {
        let (_, page) = modt.get(&d, &format!("/koe/{r}"));
        page.contains("Journaliseret i eDoc som 2026-004712")
            .then_some(page)
    });
    assert!(filed_page.contains("kvittering modtaget"), "{filed_page}");
    assert!(!filed_page.contains("Send til eDoc"), "{filed_page}");
    // What the case system got was encrypted to it: nothing in the drop is readable.
    let dropped: Vec<_> = std::fs::read_dir(&filed).unwrap().flatten().collect();
    let sealed = dropped
        .iter()
        .find(|e| e.file_name().to_string_lossy().ends_with(".zip.pgp"))
        .expect("the package reached the case system");
    let raw = std::fs::read(sealed.path()).unwrap();
    assert!(
        !String::from_utf8_lossy(&raw).contains("120315"),
        "plaintext in the drop"
    );
    assert!(filed.join(&r).join("journal.pdf").is_file());
    let shown = d.cli_json(&["triage", "show", &r, "--json"]);
    assert_eq!(
        shown["journalised"]["document_id"], "2026-004712",
        "{shown}"
    );

    // A receipt nobody could write without opening a package is refused and left with why.
    let forged = dirs[1].join("forfalsket.json");
    let mut f = std::fs::File::create(&forged).unwrap();
    let body = format!("{{\"reference\": \"{other}\", \"package_id\": \"00000000-0000-4000-8000-000000000000\", \"document_id\": \"X\"}}");
    f.write_all(body.as_bytes()).unwrap();
    drop(f);
    let why =
        wait_for(|| std::fs::read_to_string(dirs[1].join("afvist/forfalsket.json.fejl.txt")).ok());
    assert!(why.contains("no intake has a package"), "{why}");
    let shown = d.cli_json(&["triage", "show", &other, "--json"]);
    assert!(shown["journalised"].is_null(), "{shown}");

    // The drop's name gives nothing away: the package id a receipt needs is only inside.
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(filed.join(&r).join("metadata.json")).unwrap())
            .unwrap();
    let package_id = meta["package_id"].as_str().unwrap();
    assert!(!sealed.file_name().to_string_lossy().contains(package_id));
    assert!(!sealed.file_name().to_string_lossy().contains(&r));
    // A second receipt for the same package does not replace the filing.
    let again = format!(
        "{{\"reference\": \"{r}\", \"package_id\": \"{package_id}\", \"document_id\": \"ANDET\"}}"
    );
    std::fs::write(dirs[1].join("igen.json"), again).unwrap();
    let why = wait_for(|| std::fs::read_to_string(dirs[1].join("afvist/igen.json.fejl.txt")).ok());
    assert!(why.contains("taken already"), "{why}");
    // A link to another file and a FIFO are not read (nor do they stall the watcher).
    std::os::unix::fs::symlink("/etc/hostname", dirs[1].join("link.json")).unwrap();
    let fifo = run("mkfifo", &[dirs[1].join("fifo.json").to_str().unwrap()]);
    assert!(fifo.status.success(), "{fifo:?}");
    for name in ["link.json", "fifo.json"] {
        let note = dirs[1].join(format!("afvist/{name}.fejl.txt"));
        let why = wait_for(|| std::fs::read_to_string(&note).ok());
        assert!(
            why.contains("not opened as a plain file") || why.contains("not a plain file"),
            "{why}"
        );
    }

    // The CLI sends too, and the watcher still reads receipts.
    let out = d.cli(&["triage", "journal-send", &other]);
    assert!(out.status.success(), "{out:?}");
    wait_for(|| {
        let shown = d.cli_json(&["triage", "show", &other, "--json"]);
        (shown["journalised"]["system"] == "eDoc").then_some(())
    });
    assert!(d.stop().success());
    let receipt = d.audit_text("journal_receipt");
    assert!(
        receipt.contains("2026-004712") && receipt.contains(&r),
        "{receipt}"
    );
}

#[test]
fn a_hook_that_cannot_work_stops_start_up_with_what_to_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = [tmp.path().join("mangler"), tmp.path().join("kvitteringer")];
    std::fs::create_dir_all(&dirs[1]).unwrap();
    let config = write_config(tmp.path(), free_port(), free_port(), &hooked(&dirs));
    let out = modtag(&["config", "check", config.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("journal.hook.outbox_dir") && err.contains("is not a directory"),
        "{err}"
    );
}

/// A GET as `who`: status, header block and body (lossy).
fn get_raw(d: &Daemon, who: &Signed, path: &str) -> (u16, String, String) {
    http_request(d.http, "GET", path, &[("Cookie", who.cookie.as_str())], b"")
        .expect("the daemon answers")
}

/// Polls `f` for up to 20 seconds.
fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("not within 20 seconds");
}

#[test]
fn send_to_the_case_system_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = [tmp.path().join("ud"), tmp.path().join("kvitteringer")];
    let filed = tmp.path().join("arkiv");
    for dir in dirs.iter().chain([&filed]) {
        std::fs::create_dir_all(dir).unwrap();
    }
    let d = Daemon::start(hooked(&dirs));
    let r = assessed_intake(&d, tmp.path());
    let _system = CaseSystem::start(&dirs[0], &dirs[1], &filed);
    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let b = modtag_tests::browser::Browser::start();
    b.sign_in_to(&d, "modt", &modt);
    b.goto(&format!("http://{}/koe/{r}#journaliseret", d.http));
    assert!(b.text().contains("Hent journalpakken"), "{}", b.text());
    assert_eq!(b.accessibility_violations(), Vec::<String>::new());
    b.eval("document.getElementById('journaliseret').scrollIntoView(); return null;");
    b.screenshot("item-send-til-sagssystem");
    b.follow("form[action$='/journal/send'] button[type=submit]");
    // A fresh load each time (the same address with only its #fragment would not reload).
    wait_for(|| {
        b.goto(&format!("http://{}/koe/{r}", d.http));
        b.text()
            .contains("Journaliseret i eDoc som 2026-004712")
            .then_some(())
    });
    assert_eq!(b.accessibility_violations(), Vec::<String>::new());
    b.eval("document.getElementById('journaliseret').scrollIntoView(); return null;");
    b.screenshot("item-journaliseret-af-sagssystem");
}
