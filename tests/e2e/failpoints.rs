//! The failpoint matrix (issue 32): the power goes, or the disk fails, at each durability
//! step in turn — a message file written, then fsynced, its directory synced, the database
//! transaction, the group commit's syncs of sled and of sled's log, a delivery the relay
//! took and its record, a checkpoint written and mailed (`modtag_storage::failpoint`) —
//! with the same checks as the power-cut harness after each ([`power_back`]).
//!
//! Crash: the daemon is killed at the step (by itself: SIGKILL) under load, and the disk
//! forgets what was not synced, as in a power cut. Error: the step fails once with EIO; a
//! failed sync or transaction poisons the store (mail `451`, readiness fails), anything
//! else refuses only the work it was part of; then the power goes too. Each starts from the
//! same small store whose last checkpoint waits in the outbox for the auditors.
//!
//! The binary must be built with the failpoints (`tests/run` does:
//! `--features modtag-intake/failpoints`); a release build never has them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use modtag_tests::disk::Disk;
use modtag_tests::*;

use super::power_cut::{decide_one, kept_checkpoint, options, power_back, Load, Told};

/// A step, how many times it passes before it fires (so that it fires under load, not at
/// start-up), and whether an error there poisons the store.
struct Step {
    name: &'static str,
    passes: u32,
    poisons: bool,
}

const MATRIX: [Step; 10] = [
    Step {
        name: "spool.write",
        passes: 20,
        poisons: false,
    },
    Step {
        name: "spool.fsync",
        passes: 20,
        poisons: true,
    },
    Step {
        // Synced once for each 64 names made ahead (and for each sequence's first).
        name: "spool.dir",
        passes: 2,
        poisons: true,
    },
    Step {
        name: "commit.transaction",
        passes: 20,
        poisons: true,
    },
    Step {
        name: "flush.db",
        passes: 10,
        poisons: true,
    },
    Step {
        name: "flush.log",
        passes: 10,
        poisons: true,
    },
    Step {
        name: "outbox.sent",
        passes: 5,
        poisons: false,
    },
    Step {
        name: "outbox.record",
        passes: 5,
        poisons: false,
    },
    // Checkpoints are written at shutdown (and every 40 entries, looked at every 5 s).
    Step {
        name: "checkpoint.write",
        passes: 0,
        poisons: false,
    },
    Step {
        name: "checkpoint.mail",
        passes: 0,
        poisons: false,
    },
];

#[derive(Clone, Copy, PartialEq, Debug)]
enum Action {
    Crash,
    Error,
    /// The disk hangs for a second at the step, then the power goes.
    SlowCrash,
}

#[test]
fn the_power_goes_at_each_durability_step() {
    matrix(Action::Crash);
}

/// While the group commit hangs on a slow disk, nothing it has not made durable leaves:
/// no kvittering or copy of an intake the power cut takes away.
#[test]
fn nothing_leaves_before_it_is_durable() {
    matrix(Action::SlowCrash);
}

#[test]
fn each_durability_step_fails_and_nothing_acknowledged_is_lost() {
    matrix(Action::Error);
}

fn matrix(action: Action) {
    let v = Command::new(modtag_bin())
        .arg("--version")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&v.stdout).contains("failpoints"),
        "{} has no failpoints: build it as tests/run does \
         (`cargo build --bin modtag --features failpoints`)",
        modtag_bin().display()
    );
    let dirs = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(options());
    let (base, refs, base_checkpoint) = base(&mut d, dirs.path());
    // A slow disk matters where the group commit waits on it.
    let steps = MATRIX.iter().filter(|s| {
        action != Action::SlowCrash || s.name.starts_with("flush.") || s.name == "spool.dir"
    });
    for (i, step) in steps.enumerate() {
        let live = dirs.path().join(format!("live-{i}"));
        let copied = Command::new("cp")
            .arg("-a")
            .arg(&base)
            .arg(&live)
            .status()
            .unwrap();
        assert!(copied.success());
        let sink = Sink::start(d.opts.relay_port);
        let out = dirs.path().join(format!("out-{i}"));
        let mut disk = Disk::mount(&live, &dirs.path().join(format!("mnt-{i}")), &out);
        let mut told = Told {
            acked: refs.clone(),
            ..Told::default()
        };
        let spec = match action {
            Action::Crash => format!("{}={}*off->return(crash)", step.name, step.passes),
            Action::Error => format!("{}={}*off->1*return(error)", step.name, step.passes),
            Action::SlowCrash => format!("{}={}*off->return(slow-crash)", step.name, step.passes),
        };
        let what = format!("FAILPOINTS={spec}");
        let log_from = d.stderr().len();
        d.data = disk.mount.join("data");
        d.opts.env = vec![("FAILPOINTS".into(), spec.clone())];
        d.spawn();
        let load = Load::start(&d, &format!("f{i}"));
        decide_one(&d, &mut told);
        let said = match action {
            Action::Error => format!("failpoint {}: error", step.name),
            _ => format!("failpoint {}: crash", step.name),
        };
        match action {
            Action::Crash | Action::SlowCrash => until_crashed(&mut d, &said, log_from, &what),
            Action::Error => told
                .acked
                .extend(refused_after_error(&mut d, step, &said, log_from, &what)),
        }
        // Every other step on a disk that also wrote back part of what was not synced.
        match i % 2 {
            0 => disk.cut(),
            _ => disk.cut_reordered(i as u64 + 1),
        }
        told.acked.extend(load.end());
        disk.retire();

        // The newest the auditors got by mail, or the base's they hold anyway.
        let kept = kept_checkpoint(&sink, dirs.path()).unwrap_or(base_checkpoint.clone());
        d.data = out.join("data");
        d.opts.env.clear();
        d.spawn();
        power_back(&mut d, &told, &sink, Some(kept), &what);
    }
}

/// A small store, stopped (its shutdown checkpoint queued for the auditors, whose relay is
/// not up yet): what each step of the matrix starts from, what it acknowledged, and its
/// checkpoint as the auditors keep it (`modtag audit checkpoint`): the power may go before
/// the outbox mails it.
fn base(d: &mut Daemon, dir: &Path) -> (PathBuf, Vec<String>, PathBuf) {
    let base = dir.join("base");
    d.data = base.join("data");
    d.spawn();
    let refs = (0..3)
        .map(|i| {
            queued_as(&d.mail(
                "underretning@localhost",
                &format!("b{i}@afsender.example"),
                "Bekymring",
                "Før.",
            ))
            .unwrap()
        })
        .collect();
    assert!(d.stop().success());
    let out = d.cli(&["audit", "checkpoint"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kept = dir.join("base-checkpoint");
    std::fs::write(&kept, &out.stdout).unwrap();
    (base, refs, kept)
}

/// Waits for the daemon to kill itself at the step, under load; a step only reached at
/// shutdown (a checkpoint) is reached by stopping it.
fn until_crashed(d: &mut Daemon, said: &str, log_from: usize, what: &str) {
    let started = Instant::now();
    while d.exited().is_none() {
        if started.elapsed() > Duration::from_millis(2500) {
            Command::new("kill")
                .args(["-TERM", &d.pid().to_string()])
                .status()
                .unwrap();
            let status = d.wait_exit(Duration::from_secs(60));
            assert!(
                !status.success(),
                "{what}: the daemon stopped without reaching the step"
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = &d.stderr()[log_from..];
    assert!(
        log.contains(said),
        "{what}: the daemon died, but not at the step:\n{log}"
    );
}

/// Waits until the step has failed; then the store refuses new work if the failure
/// poisoned it (mail `451`, `/readyz` 503) and takes it otherwise (its reference). Then
/// the power goes.
fn refused_after_error(
    d: &mut Daemon,
    step: &Step,
    said: &str,
    log_from: usize,
    what: &str,
) -> Option<String> {
    let mut taken = None;
    if step.passes == 0 {
        // Reached at shutdown: the daemon still stops, having said why.
        std::thread::sleep(Duration::from_millis(500));
        d.stop();
    } else {
        wait_for(said, Duration::from_secs(30), || {
            d.stderr()[log_from..].contains(said).then_some(())
        });
        let t = d.mail(
            "underretning@localhost",
            "efter@afsender.example",
            "Bekymring",
            "Efter fejlen.",
        );
        let ready = http_get(d.http, "/readyz").unwrap().0;
        if step.poisons {
            assert!(t.contains("451") && queued_as(&t).is_none(), "{what}: {t}");
            assert_eq!(ready, 503, "{what}: still ready with a poisoned store");
            assert_eq!(d.metric("modtag_storage_refusing_writes"), 1, "{what}");
        } else {
            taken = queued_as(&t);
            assert!(
                taken.is_some(),
                "{what}: refused after an error that did not poison: {t}"
            );
            assert_eq!(ready, 200, "{what}");
            assert_eq!(d.metric("modtag_storage_refusing_writes"), 0, "{what}");
        }
        d.kill();
    }
    let log = &d.stderr()[log_from..];
    assert!(log.contains(said), "{what}: the step never failed:\n{log}");
    taken
}
