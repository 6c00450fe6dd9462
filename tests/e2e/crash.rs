//! Durability by killing: concurrent senders, SIGKILL at a random moment, restart; every
//! message whose `250` a client saw is present and readable, and none is there twice.
//! `MODTAG_SLOW_TESTS=1` (set by `.ci/run`) runs more rounds.

use modtag_tests::*;
use std::collections::BTreeSet;
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Sends messages until the connection breaks or `stop` is set; returns the references of
/// the ones acknowledged with 250, and how many DATA phases were completed by the client.
pub(crate) fn sender(addr: SocketAddr, tag: String, stop: Arc<AtomicBool>) -> (Vec<String>, usize) {
    sender_of(addr, tag, stop, 2000)
}

/// [`sender`] with bodies of `size` bytes of text.
pub(crate) fn sender_of(
    addr: SocketAddr,
    tag: String,
    stop: Arc<AtomicBool>,
    size: usize,
) -> (Vec<String>, usize) {
    let mut acked = Vec::new();
    let mut attempts = 0;
    let mut run = || -> std::io::Result<()> {
        let s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut r = BufReader::new(s.try_clone()?);
        let mut w = s;
        let reply = read_reply;
        reply(&mut r)?;
        w.write_all(b"EHLO crash.example\r\n")?;
        reply(&mut r)?;
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            w.write_all(
                b"MAIL FROM:<a@b.example>\r\nRCPT TO:<underretning@localhost>\r\nDATA\r\n",
            )?;
            for _ in 0..3 {
                reply(&mut r)?;
            }
            // A named sender of its own (kvitteringer are capped per unproven address).
            write!(
                w,
                "From: <{tag}-{n}@afsender.example>\r\nSubject: crash {tag}-{n}\r\n\r\n{tag}-{n} {}\r\n.\r\n",
                "x".repeat(size)
            )?;
            attempts += 1;
            let rep = reply(&mut r)?;
            if let Some(reference) = queued_as(&rep) {
                acked.push(reference);
            }
        }
        Ok(())
    };
    let _ = run();
    (acked, attempts)
}

/// The seed in `var` when given (a replay), else one from the clock; printed either way.
pub(crate) fn seed(var: &str, what: &str) -> u64 {
    let seed = std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("{what} seed: {seed} (replay with {var}={seed})");
    seed
}

/// A small deterministic generator, seeded from the clock and printed for reruns.
pub(crate) fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn sigkill_under_load_loses_nothing_acknowledged() {
    let rounds = if std::env::var_os("MODTAG_SLOW_TESTS").is_some() {
        15
    } else {
        3
    };
    let mut seed = seed("MODTAG_CRASH_SEED", "crash test");
    let mut d = Daemon::start(Options {
        smtp_extra: "max_messages_per_minute_per_client = 1000000".into(),
        ..Options::default()
    });
    let mut acked: Vec<String> = Vec::new();
    let mut attempts = 0;
    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let (addr, stop) = (d.smtp, stop.clone());
                std::thread::spawn(move || sender(addr, format!("r{round}s{i}"), stop))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(150 + next(&mut seed) % 600));
        d.kill();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            let (a, n) = t.join().unwrap();
            acked.extend(a);
            attempts += n;
        }
        d.spawn();
    }
    assert!(
        !acked.is_empty(),
        "no message was acknowledged: the load never started"
    );

    let list = d.cli_json(&["triage", "list", "--all", "--json"]);
    let listed: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reference"].as_str().unwrap().to_string())
        .collect();
    let unique: BTreeSet<&String> = listed.iter().collect();
    assert_eq!(unique.len(), listed.len(), "a reference is listed twice");
    for r in &acked {
        assert!(
            unique.contains(r),
            "{r} was acknowledged but is gone after SIGKILL"
        );
    }
    assert!(
        listed.len() <= attempts,
        "{} items from {attempts} messages sent",
        listed.len()
    );
    // Readable: the acknowledged items decrypt (a sample, each one audited as a view).
    for r in acked.iter().step_by((acked.len() / 10).max(1)) {
        assert_eq!(
            d.cli_json(&["triage", "show", r, "--json"])["reference"],
            r.as_str()
        );
    }
    assert!(d.stop().success());
    let verify = d.cli(&["audit", "verify"]);
    assert!(
        verify.status.success(),
        "audit log after crashes: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    // Every acknowledged message has its `received` entry (read with the auditors' key).
    let received: BTreeSet<String> = d
        .audit_text("received")
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["reference"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for r in &acked {
        assert!(
            received.contains(r),
            "{r} was acknowledged but has no received entry"
        );
    }
    eprintln!(
        "{} acknowledged of {attempts} sent over {rounds} SIGKILLs",
        acked.len()
    );
}
