//! Power cuts, not only SIGKILL (issue 32): modtag serves from a disk that forgets every
//! write, create, rename and unlink that was not synced (`forgetful-disk`, FUSE), under
//! load (five SMTP sessions, one of long texts, a citizen's form after another, an
//! assessment by the CLI, the outbox delivering kvitteringer and checkpoints to smtp-sink);
//! at a random moment the disk is cut and the process killed together, and modtag starts
//! again on exactly what a disk would hold after the power came back (every other cut, a
//! disk that also wrote back a random part of what was not synced). Then [`power_back`]
//! checks what every user was told. Seeded and printed (`MODTAG_POWER_SEED` replays a run);
//! 10 cuts, 100 with `MODTAG_SLOW_TESTS=1`. `failpoints.rs` stops the power at each
//! durability step instead.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use modtag_tests::disk::Disk;
use modtag_tests::forms::{multipart, reference_on};
use modtag_tests::*;

use super::crash::{next, seed, sender_of};

/// The daemon the harness drives: the load is not rate limited, and a checkpoint of the
/// audit log goes to the auditors (smtp-sink) every 40 entries.
pub(crate) fn options() -> Options {
    let edits = [
        (
            "submissions_per_minute_per_client = 10",
            "submissions_per_minute_per_client = 1000000",
        ),
        (
            "submissions_per_minute = 300",
            "submissions_per_minute = 1000000",
        ),
        (
            "checkpoint_every_entries = 1000",
            "checkpoint_every_entries = 40",
        ),
    ];
    Options {
        smtp_extra: "max_messages_per_minute_per_client = 1000000".into(),
        edits: (edits.iter())
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        ..Options::default()
    }
}

/// What users were told while the power was on.
#[derive(Default)]
pub(crate) struct Told {
    /// Intakes acknowledged: a `250`, or a form's receipt page. Each has a named reporter
    /// of its own, so each is owed a kvittering.
    pub acked: Vec<String>,
    /// Assessments the CLI said were made.
    pub decided: Vec<String>,
}

/// The load of one stretch of power: five SMTP sessions and one citizen's browser.
pub(crate) struct Load {
    stop: Arc<AtomicBool>,
    smtp: Vec<JoinHandle<(Vec<String>, usize)>>,
    forms: JoinHandle<Vec<String>>,
}

impl Load {
    pub(crate) fn start(d: &Daemon, tag: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        // The fifth sends long texts: bigger message files, longer fsyncs.
        let smtp = (0..5)
            .map(|i| {
                let (addr, stop, tag) = (d.smtp, stop.clone(), format!("{tag}s{i}"));
                let size = if i == 4 { 100_000 } else { 2000 };
                std::thread::spawn(move || sender_of(addr, tag, stop, size))
            })
            .collect();
        let (public, stop2, tag) = (d.public, stop.clone(), format!("{tag}f"));
        let forms = std::thread::spawn(move || citizen(public, &tag, &stop2));
        Load { stop, smtp, forms }
    }

    /// Stops the load (after the power went); what was acknowledged.
    pub(crate) fn end(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        let mut acked: Vec<String> = (self.smtp.into_iter())
            .flat_map(|s| s.join().unwrap().0)
            .collect();
        acked.extend(self.forms.join().unwrap());
        acked
    }
}

/// Sends the underretning form, each time as a reporter with an address of their own,
/// until told to stop or the daemon is gone; the references the receipt pages showed.
fn citizen(public: SocketAddr, tag: &str, stop: &AtomicBool) -> Vec<String> {
    let mut acked = Vec::new();
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let Some((200, head, page)) = http_request(public, "GET", "/underretning", &[], b"") else {
            break;
        };
        let (Some(cookie), Some(csrf)) = (set_cookie(&head, "modtag_formular"), csrf_field(&page))
        else {
            break;
        };
        let cookie = cookie.split(';').next().unwrap().to_string();
        let email = format!("{tag}-{n}@indberetter.example");
        let mut fields = super::public_forms::underretning_fields(&csrf, "20 30 40 50");
        fields.retain(|(name, _)| *name != "email");
        fields.push(("email", &email));
        let (kind, body) = multipart(&fields, &[]);
        let headers = [("Content-Type", kind.as_str()), ("Cookie", cookie.as_str())];
        match http_request(public, "POST", "/underretning", &headers, &body) {
            Some((200, _, receipt)) => acked.push(reference_on(&receipt)),
            Some((code, _, page)) if code < 500 => panic!("the form refused ({code}): {page}"),
            _ => {}
        }
    }
    acked
}

/// The references the daemon lists, each once (asserted).
pub(crate) fn listed(d: &Daemon) -> BTreeSet<String> {
    let list = d.cli_json(&["triage", "list", "--all", "--json"]);
    let refs: Vec<String> = (list["items"].as_array().unwrap().iter())
        .map(|i| i["reference"].as_str().unwrap().to_string())
        .collect();
    let unique: BTreeSet<String> = refs.iter().cloned().collect();
    assert_eq!(unique.len(), refs.len(), "a reference is listed twice");
    unique
}

fn subject_of(dump: &str) -> Option<&str> {
    dump.lines().find_map(|l| l.strip_prefix("Subject: "))
}

/// The reference in a kvittering's subject, if `dump` is one.
fn kvittering_of(dump: &str) -> Option<String> {
    let r = subject_of(dump)?.strip_prefix("Kvittering for modtagelse (")?;
    Some(r.trim_end().trim_end_matches(')').to_string())
}

/// The intake a message from modtag is about, as its subject names it (a kvittering, a
/// copy, a notice: `MT-2026-000123`).
fn reference_of(dump: &str) -> Option<String> {
    let subject = subject_of(dump)?;
    let at = subject.find("MT-")?;
    let r: String = (subject[at..].chars())
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    Some(r)
}

/// The newest checkpoint of the audit log that reached the auditors (smtp-sink), as the
/// file they keep: what the log must still extend after any cut.
pub(crate) fn kept_checkpoint(sink: &Sink, dir: &std::path::Path) -> Option<PathBuf> {
    let newest = (sink.wait(0).iter())
        .filter(|d| rcpt_of(d) == "revision@kommune.localhost")
        .filter_map(|d| {
            let body = plain_body(d).replace("\r\n", "\n");
            let at = body.find("\n\n")? + 2;
            let note = body[at..].to_string();
            let size: u64 = note.lines().nth(1)?.parse().ok()?;
            Some((size, note))
        })
        .max_by_key(|(size, _)| *size)?;
    let path = dir.join(format!("checkpoint-{}", newest.0));
    std::fs::write(&path, newest.1).unwrap();
    Some(path)
}

/// After the power came back, with the daemon running on what the disk kept: every intake
/// a user was told of is there, once, and opens; every answered assessment is there; no
/// kvittering went out for an intake that is not there, and once the outbox has caught up
/// every acknowledged intake's kvittering reached the relay (delivered before the cut or
/// sent again); then, stopped, `modtag check` reads the directory through and the audit
/// log extends the newest checkpoint the auditors got before the cut. `what` names the cut.
pub(crate) fn power_back(
    d: &mut Daemon,
    told: &Told,
    sink: &Sink,
    kept: Option<PathBuf>,
    what: &str,
) {
    let there = listed(d);
    let lost: Vec<&String> = told.acked.iter().filter(|r| !there.contains(*r)).collect();
    assert!(lost.is_empty(), "{what}: acknowledged but gone: {lost:?}");
    for r in &told.decided {
        let state = &d.cli_json(&["triage", "show", r, "--json"])["state"];
        assert!(
            state != "awaiting_assessment",
            "{what}: {r}'s answered assessment is gone"
        );
    }
    if let Some(r) = told.acked.last() {
        assert_eq!(
            d.cli_json(&["triage", "show", r, "--json"])["reference"],
            r.as_str()
        );
    }
    let sent = |sink: &Sink| -> BTreeSet<String> {
        sink.wait(0)
            .iter()
            .filter_map(|d| kvittering_of(d))
            .collect()
    };
    let about: BTreeSet<String> = sink
        .wait(0)
        .iter()
        .filter_map(|d| reference_of(d))
        .collect();
    let ghosts: Vec<&String> = about.iter().filter(|r| !there.contains(*r)).collect();
    assert!(
        ghosts.is_empty(),
        "{what}: a kvittering or copy went out for an intake the disk did not keep: {ghosts:?}"
    );
    let started = std::time::Instant::now();
    while d.metric("modtag_outbox_pending") > 0 {
        if started.elapsed() > Duration::from_secs(60) {
            let log = d.stderr();
            let tail: Vec<&str> = (log.lines())
                .filter(|l| l.contains("ERROR") || l.contains("WARN"))
                .collect();
            panic!(
                "{what}: the outbox never emptied:\n{}",
                tail[tail.len().saturating_sub(20)..].join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let sent = wait_for(
        "the kvitteringer at smtp-sink",
        Duration::from_secs(30),
        || {
            let sent = sent(sink);
            told.acked.iter().all(|r| sent.contains(r)).then_some(sent)
        },
    );
    assert!(told.acked.iter().all(|r| sent.contains(r)), "{what}");
    eprintln!(
        "{what}: {} intakes acknowledged, {} kvitteringer at the relay, checkpoint kept: {:?}",
        told.acked.len(),
        sent.len(),
        kept.as_ref().and_then(|k| k.file_name())
    );

    assert!(d.stop().success());
    let check = super::check::check(d, &d.data);
    assert!(
        check.status.success(),
        "{what}: modtag check: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    if let Some(kept) = kept {
        let out = d.cli(&["audit", "verify", "--checkpoint", kept.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{what}: the audit log no longer extends the checkpoint the auditors got ({}): {}{}",
            kept.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
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
    let opts = options();
    let sink = Sink::start(opts.relay_port);
    let mut d = Daemon::new(opts);
    let mut told = Told::default();
    for cut in 0..cuts {
        let out = disks.path().join(format!("disk-{}", cut + 1));
        let mut disk = Disk::mount(&live, &disks.path().join(format!("mnt-{cut}")), &out);
        d.data = disk.mount.join("data");
        d.spawn();
        let load = Load::start(&d, &format!("c{cut}"));
        let wait = Duration::from_millis(100 + next(&mut seed) % 900);
        let started = std::time::Instant::now();
        decide_one(&d, &mut told);
        std::thread::sleep(wait.saturating_sub(started.elapsed()));
        // Every other cut on a disk that also wrote back part of what was not synced.
        match cut % 2 {
            0 => disk.cut(),
            _ => disk.cut_reordered(next(&mut seed)),
        }
        d.kill();
        told.acked.extend(load.end());
        disk.retire();

        // The power is back: modtag on what the disk kept.
        let kept = kept_checkpoint(&sink, disks.path());
        live = out;
        d.data = live.join("data");
        d.spawn();
        power_back(
            &mut d,
            &told,
            &sink,
            kept,
            &format!("cut {cut} (seed {first})"),
        );
    }
    assert!(
        !told.acked.is_empty(),
        "no message was acknowledged: the load never started"
    );
    assert!(
        !told.decided.is_empty(),
        "no assessment was answered during the load"
    );
    eprintln!(
        "{cuts} power cuts, {} acknowledged intakes and {} answered assessments, none lost",
        told.acked.len(),
        told.decided.len()
    );
}

/// Assesses the newest acknowledged intake not yet assessed, by the CLI, noting it if the
/// CLI said it was done.
pub(crate) fn decide_one(d: &Daemon, told: &mut Told) {
    let Some(r) = told
        .acked
        .iter()
        .rev()
        .find(|r| !told.decided.contains(r))
        .cloned()
    else {
        return;
    };
    let args = [
        "triage",
        "decide",
        &r,
        "--trin",
        "3",
        "--outcome",
        "boernefaglig_undersoegelse",
    ];
    if d.cli(&args).status.success() {
        told.decided.push(r);
    }
}

/// A disk whose fsync fails (every durability step at once, under the real binary): the
/// store is poisoned and says so: mail gets `451`, a form `503`, readiness fails; nothing is
/// acknowledged that was not made durable; a restart on a sound disk recovers everything
/// acknowledged before.
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

    disk.fail_fsyncs(true);
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
    disk.fail_fsyncs(false);
    d.kill();
    d.spawn();
    let (code, _) = http_get(d.http, "/readyz").unwrap();
    assert_eq!(code, 200);
    assert!(listed(&d).contains(&before));
    let after = d.send("Bekymring", "Efter genstarten.");
    assert_ne!(after, before);
    drop(disk);
}
