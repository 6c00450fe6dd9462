//! Power cuts, not only SIGKILL (issue 32): modtag serves from a disk that forgets every
//! write, create, rename and unlink that was not synced (`forgetful-disk`, FUSE), under SMTP
//! load; at a random moment the disk is cut and the process killed together, and modtag
//! starts again on exactly what a disk would hold after the power came back. After each
//! cut every message a client saw `250` for is there, once, it opens, every assessment the
//! CLI was told was made is there, and `modtag check` reads the data directory through
//! (every intake, message file and outbox copy opens; the audit log verifies). Seeded and printed (`MODTAG_POWER_SEED` replays a run); 10 cuts, 100 with
//! `MODTAG_SLOW_TESTS=1`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use modtag_tests::*;

use super::crash::{next, seed, sender};

/// The forgetful disk over `live`, mounted at `mount`; cut, it writes what survived to `out`.
struct Disk {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    mount: PathBuf,
    out: PathBuf,
}

impl Disk {
    fn mount(live: &Path, mount: &Path, out: &Path) -> Disk {
        std::fs::create_dir_all(mount).unwrap();
        let bin = modtag_bin().with_file_name("forgetful-disk");
        let mut child = Command::new(&bin)
            .args([live, mount, out])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok);
        assert_eq!(
            first.as_deref(),
            Some("mounted"),
            "the forgetful disk did not mount (needs /dev/fuse and fuse3's fusermount3)"
        );
        Disk {
            child,
            lines,
            mount: mount.to_path_buf(),
            out: out.to_path_buf(),
        }
    }

    /// The power goes: from now on nothing reaches the disk; what survived is in `out`.
    fn cut(&mut self) {
        std::fs::write(self.out.with_extension("cut"), b"").unwrap();
        let said = self.lines.next().and_then(Result::ok);
        assert_eq!(said.as_deref(), Some("cut"));
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let _ = Command::new("fusermount3")
            .args(["-u", "-z"])
            .arg(&self.mount)
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The references the daemon lists, each once (asserted).
fn listed(d: &Daemon) -> BTreeSet<String> {
    let list = d.cli_json(&["triage", "list", "--all", "--json"]);
    let refs: Vec<String> = (list["items"].as_array().unwrap().iter())
        .map(|i| i["reference"].as_str().unwrap().to_string())
        .collect();
    let unique: BTreeSet<String> = refs.iter().cloned().collect();
    assert_eq!(unique.len(), refs.len(), "a reference is listed twice");
    unique
}

#[test]
fn a_power_cut_loses_nothing_acknowledged() {
    let cuts = match std::env::var_os("MODTAG_SLOW_TESTS") {
        Some(_) => 100,
        None => 10,
    };
    let mut seed = seed("MODTAG_POWER_SEED", "power-cut");
    let first = seed;
    let disks = tempfile::tempdir().unwrap();
    let mut live = disks.path().join("disk-0");
    std::fs::create_dir_all(&live).unwrap();
    let mut d = Daemon::new(Options {
        smtp_extra: "max_messages_per_minute_per_client = 1000000".into(),
        ..Options::default()
    });
    let mut acked: Vec<String> = Vec::new();
    // Assessments the CLI was told were made, while the load runs.
    let mut decided: Vec<String> = Vec::new();
    for cut in 0..cuts {
        let out = disks.path().join(format!("disk-{}", cut + 1));
        let mut disk = Disk::mount(&live, &disks.path().join(format!("mnt-{cut}")), &out);
        d.data = disk.mount.join("data");
        d.spawn();
        let stop = Arc::new(AtomicBool::new(false));
        let senders: Vec<_> = (0..4)
            .map(|i| {
                let (addr, stop) = (d.smtp, stop.clone());
                std::thread::spawn(move || sender(addr, format!("c{cut}s{i}"), stop))
            })
            .collect();
        let wait = Duration::from_millis(100 + next(&mut seed) % 900);
        let started = std::time::Instant::now();
        if let Some(r) = acked.iter().rev().find(|r| !decided.contains(r)).cloned() {
            let out = d.cli(&[
                "triage",
                "decide",
                &r,
                "--trin",
                "3",
                "--outcome",
                "boernefaglig_undersoegelse",
            ]);
            if out.status.success() {
                decided.push(r);
            }
        }
        std::thread::sleep(wait.saturating_sub(started.elapsed()));
        disk.cut();
        d.kill();
        stop.store(true, Ordering::Relaxed);
        for s in senders {
            acked.extend(s.join().unwrap().0);
        }
        drop(disk);

        // The power is back: modtag on what the disk kept.
        live = out;
        d.data = live.join("data");
        d.spawn();
        let there = listed(&d);
        let lost: Vec<&String> = acked.iter().filter(|r| !there.contains(*r)).collect();
        assert!(
            lost.is_empty(),
            "cut {cut} (seed {first}): acknowledged but gone after the power cut: {lost:?}"
        );
        for r in &decided {
            let state = &d.cli_json(&["triage", "show", r, "--json"])["state"];
            assert!(
                state != "awaiting_assessment",
                "cut {cut} (seed {first}): {r}'s answered assessment is gone"
            );
        }
        if let Some(r) = acked.last() {
            assert_eq!(
                d.cli_json(&["triage", "show", r, "--json"])["reference"],
                r.as_str()
            );
        }
        assert!(d.stop().success());
        // Offline, everything reads through: intakes, message files, outbox, audit log.
        let check = Command::new(modtag_bin())
            .arg("--data")
            .arg(&d.data)
            .args(["check", "--config"])
            .arg(&d.config)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "cut {cut} (seed {first}): modtag check after the cut: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
    }
    assert!(
        !acked.is_empty(),
        "no message was acknowledged: the load never started"
    );
    assert!(
        !decided.is_empty(),
        "no assessment was answered during the load"
    );
    eprintln!(
        "{cuts} power cuts, {} acknowledged messages and {} answered assessments, none lost",
        acked.len(),
        decided.len()
    );
}

/// A disk whose fsync fails (the failpoint of every durability step, under the real
/// binary): the store is poisoned and says so: mail gets `451`, a form `503`, readiness
/// fails; nothing is acknowledged that was not made durable; a restart on a sound disk
/// recovers everything acknowledged before.
#[test]
fn a_failed_fsync_refuses_new_work_until_restarted() {
    let disks = tempfile::tempdir().unwrap();
    let live = disks.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    let out = disks.path().join("out");
    let disk = Disk::mount(&live, &disks.path().join("mnt"), &out);
    let mut d = Daemon::new(Options::default());
    d.data = disk.mount.join("data");
    d.spawn();
    let before = d.send("Bekymring", "Før disken svigtede, cpr 120315-4321.");

    std::fs::write(out.with_extension("fail"), b"").unwrap();
    let t = d.swaks("underretning@localhost", "Bekymring", "Under fejlen.");
    assert!(t.contains("451"), "{t}");
    assert!(queued_as(&t).is_none(), "{t}");
    let t = d.swaks(
        "underretning@localhost",
        "Bekymring",
        "Stadig under fejlen.",
    );
    assert!(t.contains("451"), "the store stays poisoned: {t}");
    let (code, _) = http_get(d.http, "/readyz").unwrap();
    assert_eq!(code, 503);
    let (csrf, cookie) = modtag_tests::forms::form(d.public, "/underretning");
    let fields = super::public_forms::underretning_fields(&csrf, "20 30 40 50");
    let (code, _, page) =
        modtag_tests::forms::post(d.public, "/underretning", &cookie, &fields, &[]);
    assert_eq!(code, 503, "{page}");

    // The disk is sound again; a restart recovers, with what was acknowledged before.
    std::fs::remove_file(out.with_extension("fail")).unwrap();
    d.kill();
    d.spawn();
    let (code, _) = http_get(d.http, "/readyz").unwrap();
    assert_eq!(code, 200);
    assert!(listed(&d).contains(&before));
    let after = d.send("Bekymring", "Efter genstarten.");
    assert_ne!(after, before);
    drop(disk);
}
