//! The `modtag` binary as Cargo builds it, without a daemon: the embedded configuration
//! checks, and the beslutningstræ's reasons reach a person in the kommune's words though the
//! routing decides on typed values (issue 28). An integration test here is also what makes
//! `cargo test --workspace` build the binary that the end-to-end suite in `tests/` drives.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn modtag(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_modtag"))
        .args(args)
        .current_dir(dir.path())
        .output()
        .unwrap()
}

fn demo_facts(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/demo/facts")
        .join(name)
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_embedded_default_checks() {
    let text = stdout(&modtag(&["config", "check"]));
    assert!(text.starts_with("embedded default: ok"), "{text}");
}

#[test]
fn a_recipient_held_back_and_a_name_left_for_journalen_say_why() {
    let facts = demo_facts("trin2-folkeskole-uden-samtykke.json");
    let text = stdout(&modtag(&["route", "explain", facts.to_str().unwrap()]));
    assert!(
        text.contains("✗ boerneskoleraadgiver withheld")
            && text.contains("samtykke mangler: intet sendes uden forældrenes")
            && text.contains("Not everything was sent: samtykke mangler"),
        "{text}"
    );
    let facts = demo_facts("trivselplus-navne.json");
    let text = stdout(&modtag(&["route", "explain", facts.to_str().unwrap()]));
    assert!(
        text.contains("«Ukendt Person» findes ikke i kataloget; Journalen afgør")
            && text.contains("journalen"),
        "{text}"
    );
}

#[test]
fn facts_of_a_kind_the_tree_does_not_route_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let facts = dir.path().join("facts.json");
    std::fs::write(&facts, r#"{"kind":"trivsel","trin":2}"#).unwrap();
    let out = modtag(&["route", "explain", facts.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        err.contains(
            "kind \"trivsel\" is not one of underretning, trivselplus, statusmoede, overgang"
        ),
        "{err}"
    );
}
