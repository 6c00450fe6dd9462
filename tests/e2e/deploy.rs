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

/// Shell completions and man pages come from the same CLI definition as the command itself
/// (issue 18): bash reads the completion script, and there is a page per command.
#[test]
fn completions_and_man_pages_are_generated_from_the_cli() {
    let out = modtag(&["completions", "bash"]);
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        script.contains("overgang") && script.contains("statusmoeder"),
        "every verb completes"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("modtag.bash");
    std::fs::write(&file, script.as_bytes()).unwrap();
    let checked = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    for shell in ["zsh", "fish"] {
        assert!(modtag(&["completions", shell]).status.success(), "{shell}");
    }
    let pages = dir.path().join("man1");
    let out = modtag(&["man", pages.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for page in [
        "modtag.1",
        "modtag-triage-decide.1",
        "modtag-keys-init.1",
        "modtag-audit-export.1",
    ] {
        let text =
            std::fs::read_to_string(pages.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page} is roff: {}",
            &text[..80.min(text.len())]
        );
    }
}

/// The container file's shape (no container runtime runs here to build it): the binary
/// built from the lock file, a final stage with no shell running as a non-root user, the
/// data directory a volume, nothing secret copied in, and the same `serve` the unit runs.
#[test]
fn the_container_file_runs_modtag_as_a_non_root_user_on_a_volume() {
    let text = std::fs::read_to_string(root().join("deploy/Containerfile")).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let stages: Vec<usize> = (0..lines.len())
        .filter(|i| lines[*i].starts_with("FROM "))
        .collect();
    assert_eq!(stages.len(), 2, "a build stage and a runtime stage");
    assert!(lines
        .iter()
        .any(|l| l.starts_with("RUN cargo build --release --locked")));
    let runtime = &lines[stages[1]..];
    assert!(runtime[0].contains("distroless"), "{}", runtime[0]);
    let user = runtime
        .iter()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER");
    assert!(
        !user.starts_with('0') && !user.starts_with("root"),
        "not root: {user}"
    );
    assert!(runtime.contains(&"VOLUME [\"/var/lib/modtag\"]"));
    for l in &lines {
        let copies_secret = l.starts_with("COPY")
            && [".key", ".pem", "credstore", "keys/"]
                .iter()
                .any(|k| l.contains(k));
        assert!(!copies_secret, "{l}");
    }
    let cmd = runtime
        .iter()
        .find(|l| l.starts_with("CMD"))
        .expect("a CMD");
    assert!(
        cmd.contains("\"serve\"") && cmd.contains("\"/var/lib/modtag\""),
        "{cmd}"
    );
    // The unit runs the same command line.
    let unit = std::fs::read_to_string(root().join("deploy/systemd/modtag.service")).unwrap();
    assert!(unit.contains("modtag serve --config /etc/modtag/modtag.toml --data /var/lib/modtag"));
}
