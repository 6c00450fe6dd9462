//! Reloading the policy files on SIGHUP and by API: a checked set replaces the running one
//! atomically and is audited with its hash; a set that fails the check is refused and the
//! running one kept; decisions record the hash of the tree that made them.

use std::process::Command;

use modtag_tests::*;

/// The test daemon's policy files as copies it can edit (the demo's are shared).
fn own_policy(d: &Daemon) -> (std::path::PathBuf, std::path::PathBuf) {
    let demo = root().join("deploy/demo");
    let tree = d.dir.path().join("beslutningstrae.toml");
    std::fs::copy(demo.join("beslutningstrae.toml"), &tree).unwrap();
    let text = std::fs::read_to_string(&d.config).unwrap().replace(
        &format!("{:?}", demo.join("beslutningstrae.toml")),
        &format!("{tree:?}"),
    );
    std::fs::write(&d.config, text).unwrap();
    (tree, demo)
}

fn tree_hash(d: &Daemon, reference: &str) -> String {
    let item = d.cli_json(&["triage", "show", reference, "--json"]);
    item["decision"]["tree_hash"].as_str().unwrap().to_string()
}

#[test]
fn reload_swaps_a_checked_tree_and_refuses_a_broken_one() {
    let mut d = Daemon::new(Options::default());
    let (tree, _) = own_policy(&d);
    d.spawn();
    let first = d.send("Bekymring", "nr 1");
    d.decide(&first, &["--trin", "4"]);
    let old_hash = tree_hash(&d, &first);

    // A new rule: trin 3-4 also goes to the leader of Modtagelsen.
    let text = std::fs::read_to_string(&tree).unwrap();
    std::fs::write(
        &tree,
        text.replace(
            "to = [\"modtagelsen\"]\nactions = [\"invite_underretningsmoede\"]",
            "to = [\"modtagelsen\", \"modtagelsen_leder\"]\nactions = [\"invite_underretningsmoede\"]",
        ),
    )
    .unwrap();
    let r = d.cli_json(&["config", "reload", "--json"]);
    assert_eq!(r["previous_tree_hash"], old_hash.as_str(), "{r}");
    let new_hash = r["tree_hash"].as_str().unwrap().to_string();
    assert_ne!(new_hash, old_hash);
    assert_eq!(r["restart_needed"], serde_json::json!([]));

    let second = d.send("Bekymring", "nr 2");
    let decision = d.decide(&second, &["--trin", "4"]);
    assert_eq!(
        decision["recipients"].as_array().unwrap().len(),
        2,
        "{decision}"
    );
    assert_eq!(tree_hash(&d, &second), new_hash);
    assert_eq!(
        tree_hash(&d, &first),
        old_hash,
        "earlier decisions keep their hash"
    );

    // A broken tree is refused with file and line, and the running one stays.
    std::fs::write(
        &tree,
        text.replace("to = [\"raadgiver\"]", "to = [\"sagsbehandler\"]"),
    )
    .unwrap();
    let out = d.cli(&["config", "reload"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("running one is kept")
            && err.contains("beslutningstrae.toml:")
            && err.contains("sagsbehandler"),
        "{err}"
    );
    // SIGHUP reloads too: back to the demo tree.
    std::fs::write(&tree, &text).unwrap();
    Command::new("kill")
        .args(["-HUP", &d.pid().to_string()])
        .status()
        .unwrap();
    wait_for(
        "the SIGHUP reload",
        std::time::Duration::from_secs(20),
        || d.stderr().contains("configuration reloaded").then_some(()),
    );
    let third = d.send("Bekymring", "nr 3");
    let decision = d.decide(&third, &["--trin", "4"]);
    assert_eq!(
        decision["recipients"].as_array().unwrap().len(),
        1,
        "{decision}"
    );
    assert_eq!(tree_hash(&d, &third), old_hash);

    // The KLE numbers are read per record: no restart.
    let config = std::fs::read_to_string(&d.config).unwrap();
    let kle = config.replace("trivselplus = \"27.24.00\"", "trivselplus = \"27.24.02\"");
    assert_ne!(kle, config, "the demo's [journal] kle");
    std::fs::write(&d.config, &kle).unwrap();
    let r = d.cli_json(&["config", "reload", "--json"]);
    assert_eq!(r["restart_needed"], serde_json::json!([]), "{r}");
    // The forms' rate limit is set when their listener starts: a restart is needed, and
    // said again at every reload until it comes.
    let rate = kle.replace("submissions_per_minute = 300", "submissions_per_minute = 7");
    assert_ne!(rate, kle, "the demo's [public]");
    std::fs::write(&d.config, rate).unwrap();
    let r = d.cli_json(&["config", "reload", "--json"]);
    assert_eq!(r["restart_needed"], serde_json::json!(["[public]"]), "{r}");
    let r = d.cli_json(&["config", "reload", "--json"]);
    assert_eq!(
        r["restart_needed"],
        serde_json::json!(["[public]"]),
        "what the daemon started with, not the last reload: {r}"
    );

    // Each attempt appended an audit entry; the chain still verifies.
    assert!(d.stop().success());
    assert!(d.cli(&["audit", "verify"]).status.success());
}

#[test]
fn simulate_lists_the_intakes_a_candidate_tree_would_route_differently() {
    let d = Daemon::start(Options::default());
    let four = d.send("Bekymring", "trin 4");
    d.decide(&four, &["--trin", "4"]);
    let existing = d.send("Bekymring", "eksisterende sag");
    d.decide(&existing, &["--existing-case", "--trin", "3"]);
    let _undecided = d.send("Bekymring", "ikke vurderet");

    let demo = std::fs::read_to_string(root().join("deploy/demo/beslutningstrae.toml")).unwrap();
    let candidate = d.dir.path().join("ny.toml");
    std::fs::write(
        &candidate,
        demo.replace(
            "to = [\"modtagelsen\"]\nactions = [\"invite_underretningsmoede\"]",
            "to = [\"modtagelsen\", \"modtagelsen_leder\"]\nactions = [\"invite_underretningsmoede\"]",
        ),
    )
    .unwrap();
    let tree = candidate.display().to_string();
    let sim = d.cli_json(&["route", "simulate", "--tree", &tree, "--json"]);
    assert_eq!(sim["replayed"], 2, "{sim}");
    let changes = sim["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{sim}");
    assert_eq!(changes[0]["reference"], four.as_str());
    assert_eq!(
        changes[0]["before"],
        serde_json::json!(["modtagelsen:modtagelsen"])
    );
    assert_eq!(
        changes[0]["after"],
        serde_json::json!(["modtagelsen:modtagelsen", "modtagelsen_leder:lene.holm"])
    );
    let human = d.cli(&["route", "simulate", "--tree", &tree]);
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("2 decisions replayed") && human.contains("1 would change"),
        "{human}"
    );

    // From the day after tomorrow (Danish dates; two days, so that a run across midnight
    // holds) nothing is replayed; the running tree itself changes nothing.
    let tomorrow = (today_in_denmark() + jiff::ToSpan::days(2)).to_string();
    let later = d.cli_json(&[
        "route", "simulate", "--tree", &tree, "--from", &tomorrow, "--json",
    ]);
    assert_eq!(later["replayed"], 0, "{later}");
    let same = root()
        .join("deploy/demo/beslutningstrae.toml")
        .display()
        .to_string();
    let same = d.cli_json(&["route", "simulate", "--tree", &same, "--json"]);
    assert_eq!(same["changes"], serde_json::json!([]), "{same}");

    // A candidate that fails the check is refused with its line.
    std::fs::write(
        &candidate,
        demo.replace("to = [\"journalen\"]", "to = [\"journal\"]"),
    )
    .unwrap();
    let out = d.cli(&["route", "simulate", "--tree", &tree]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ny.toml:") && err.contains("unknown role \"journal\""),
        "{err}"
    );
}
