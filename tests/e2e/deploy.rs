//! The systemd unit in `deploy/systemd/` is valid and as locked down as we say.

use modtag_tests::*;
use std::process::Command;

#[test]
fn the_systemd_unit_verifies_and_is_locked_down() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("MODTAG_SLOW_TESTS").is_none(),
            "CI installs systemd-analyze (package systemd) for this test"
        );
        eprintln!("skipped: no systemd-analyze");
        return;
    }
    let unit = std::fs::read_to_string(root().join("deploy/systemd/modtag.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/modtag serve"));
    // Verified against the binary we built, where the unit expects the installed one.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("modtag.service");
    let unit = unit.replace("/usr/local/bin/modtag", &modtag_bin().display().to_string());
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.trim().is_empty(), "{said}");

    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let level: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for modtag.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    assert!(level <= 2.0, "exposure {level}:\n{text}");
}
