//! The API and CLI at their edges: authentication, bad input, and `route explain`.

use modtag_tests::*;
use std::process::Command;

#[test]
fn the_api_needs_the_token_but_healthz_does_not() {
    let d = Daemon::start(Options::default());
    assert_eq!(http_get(d.http, "/healthz").unwrap().0, 200);
    let (code, body) = http_get(d.http, "/api/v1/triage").unwrap();
    assert_eq!(code, 401);
    assert!(body.contains("bearer token"), "{body}");
    assert_eq!(http_get(d.http, "/api/v2/triage").unwrap().0, 404);
}

#[test]
fn bad_decisions_are_refused_with_what_to_fix() {
    let d = Daemon::start(Options::default());
    let r = d.send("Bekymring", "tekst");
    let out = d.cli(&[
        "triage",
        "decide",
        &r,
        "--actor",
        "Lene Holm",
        "--area",
        "skolen",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown area \"skolen\""));
    let out = d.cli(&[
        "triage",
        "decide",
        &r,
        "--actor",
        "Lene Holm",
        "--case",
        "SAG-404",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("case SAG-404 is not in the case registry")
    );
    let out = d.cli(&["triage", "decide", "MT-2026-999999", "--actor", "Lene Holm"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no intake with reference MT-2026-999999")
    );
    let out = d.cli(&[
        "triage",
        "decide",
        &r,
        "--actor",
        "Lene Holm",
        "--trin",
        "9",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap refuses trin 9 as a usage error"
    );

    // Decided once; a second decision is a conflict, not a silent overwrite.
    d.cli_json(&[
        "triage",
        "decide",
        &r,
        "--actor",
        "Lene Holm",
        "--trin",
        "3",
        "--json",
    ]);
    let again = d.cli(&[
        "triage",
        "decide",
        &r,
        "--actor",
        "Lene Holm",
        "--trin",
        "1",
    ]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already been decided"));
    let item = d.cli_json(&["triage", "show", &r, "--json"]);
    assert_eq!(item["decision"]["trin"], 3);
    assert_eq!(item["decision"]["actor"], "Lene Holm");
    assert_eq!(item["state"], "routed");
}

#[test]
fn route_explain_gives_reasons_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let facts = dir.path().join("facts.json");
    // The example in `modtag route explain --help`.
    std::fs::write(
        &facts,
        r#"{"kind":"underretning","trin":2,"area":"skole","consent":true}"#,
    )
    .unwrap();
    let out = Command::new(modtag_bin())
        .args(["route", "explain", "--json"])
        .arg(&facts)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["recipients"][0]["role"], "boerneskoleraadgiver");
    assert_eq!(
        v["recipients"][0]["rule"],
        "underretning-trin-0-2-folkeskole"
    );
    assert!(v["recipients"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("Børneskolerådgiverne"));
    assert_eq!(v["refused"], serde_json::Value::Null);

    // Without consent the human output says what was withheld and why.
    std::fs::write(&facts, r#"{"kind":"underretning","trin":2,"area":"skole"}"#).unwrap();
    let out = Command::new(modtag_bin())
        .args(["route", "explain"])
        .arg(&facts)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("boerneskoleraadgiver withheld") && text.contains("samtykke mangler"),
        "{text}"
    );

    // A broken facts file names the file and the place.
    std::fs::write(&facts, "{\"kind\": \"underretning\",\n \"trin\": \"to\"}").unwrap();
    let out = Command::new(modtag_bin())
        .args(["route", "explain"])
        .arg(&facts)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("facts.json:2:"), "{err}");
}
