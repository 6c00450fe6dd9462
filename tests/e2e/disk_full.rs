//! A full disk: the daemon answers `452 4.3.1`, keeps what it acknowledged, and takes mail
//! again once space is freed. The data directory is a small tmpfs (needs root, as in CI).

use std::path::{Path, PathBuf};
use std::process::Command;

use modtag_tests::*;

/// A tmpfs mounted on `dir` for the life of the value.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Mount(dir.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn free_bytes(dir: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap()
}

/// Starts `d` on a 24 MiB tmpfs as its data directory; `None` (the test skips) where no
/// tmpfs can be mounted, which CI (root) must be able to do.
fn start_on_tmpfs(d: &mut Daemon) -> Option<Mount> {
    let Some(mount) = Mount::tmpfs(&d.data, "24m") else {
        assert!(
            std::env::var_os("MODTAG_SLOW_TESTS").is_none(),
            "CI runs as root and must be able to mount a tmpfs for this test"
        );
        eprintln!("skipped: cannot mount a tmpfs (not root)");
        return None;
    };
    d.spawn();
    Some(mount)
}

/// Fills `dir` until about `leave` bytes are free.
fn ballast(dir: &Path, leave: u64) -> PathBuf {
    let path = dir.join("ballast");
    let size = free_bytes(dir).saturating_sub(leave);
    std::fs::write(&path, vec![0u8; size as usize]).unwrap();
    path
}

fn body(kib: usize) -> String {
    // Text that does not compress away inside the OpenPGP packet.
    let mut x: u32 = 12345;
    (0..kib * 16)
        .map(|_| {
            x = x.wrapping_mul(1103515245).wrapping_add(12345);
            format!("{:063x}\n", u128::from(x) * 0x9e3779b97f4a7c15)
        })
        .collect()
}

#[test]
fn full_disk_is_a_temporary_failure_and_loses_nothing() {
    // The check at MAIL FROM is off here: this is the disk filling while a message is written.
    let mut d = Daemon::new(Options {
        smtp_extra: "min_free_bytes = 0".into(),
        ..Options::default()
    });
    let Some(_mount) = start_on_tmpfs(&mut d) else {
        return;
    };
    let before: Vec<String> = (0..3).map(|i| d.send("Før", &format!("nr {i}"))).collect();

    let weight = ballast(&d.data, 64 * 1024);
    let big = d.dir.path().join("big.txt");
    std::fs::write(&big, body(256)).unwrap();
    let t = d.swaks(
        "underretning@localhost",
        "Fuld disk",
        &format!("@{}", big.display()),
    );
    assert!(
        t.contains("452 4.3.1"),
        "a full disk must be answered 452 4.3.1:\n{t}"
    );
    assert!(queued_as(&t).is_none(), "{t}");

    // Nothing half-written stays behind, and room again means mail again.
    std::fs::remove_file(&weight).unwrap();
    let after = d.send("Efter", "Plads igen");
    assert!(d.stop().success(), "{}", d.stderr());
    let leftovers: Vec<_> = files_below(&d.data.join("spool"))
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".pgp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    d.spawn();
    let listed = d.queue();
    let mut expected: Vec<&str> = before.iter().map(String::as_str).collect();
    expected.push(&after);
    assert_eq!(listed, expected);
    assert!(d.stop().success());
    assert!(d.cli(&["audit", "verify"]).status.success());
    assert!(!d.stderr().contains("Fuld disk"), "no subject in the log");
}

/// Short of space, modtag says so at MAIL FROM (`452 4.3.1`, before the client sends the
/// message), counting the client's SIZE=; with room again it takes mail.
#[test]
fn short_of_space_mail_is_refused_before_the_message_is_sent() {
    let mut d = Daemon::new(Options {
        max_message_size: 4 << 20,
        ..Options::default()
    });
    let Some(_mount) = start_on_tmpfs(&mut d) else {
        return;
    };
    // The default keeps 1.5 x max_message_size (6 MiB) free.
    let weight = ballast(&d.data, 3 << 20);
    let mut c = Smtp::connect(d.smtp);
    c.cmd("EHLO client.example");
    let r = c.cmd("MAIL FROM:<a@skole.example>");
    assert!(r.starts_with("452 4.3.1"), "{r}");
    std::fs::remove_file(&weight).unwrap();

    // 8 MiB free: enough for an unsized message, not for one announced at 3 MB.
    let weight = ballast(&d.data, 8 << 20);
    let r = c.cmd("MAIL FROM:<a@skole.example> SIZE=3000000");
    assert!(r.starts_with("452 4.3.1"), "{r}");
    assert!(c
        .cmd("MAIL FROM:<a@skole.example> SIZE=1000")
        .starts_with("250"));
    assert!(c.cmd("QUIT").starts_with("221"));
    std::fs::remove_file(&weight).unwrap();
    let r = d.send("Plads", "igen");
    assert!(r.starts_with("MT-"));
    let m = http_get(d.http, "/metrics").unwrap().1;
    assert!(
        m.contains("modtag_smtp_refusals_total{code=\"452\",enhanced=\"4.3.1\"} 2\n"),
        "{m}"
    );
}
