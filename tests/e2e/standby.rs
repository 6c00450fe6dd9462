//! A standby kept minutes behind by increments (issue 18): seeded from a backup, then sent
//! what changed while a client keeps sending mail and an intake is erased; when the first
//! server dies the standby's log verifies against the checkpoint the auditors kept, it
//! starts with every message acknowledged before the last increment began, the erased one
//! gone, and gives new mail references past any the lost daemon may have given.

use std::time::Instant;

use modtag_tests::*;

#[test]
fn a_standby_kept_by_increments_under_load_takes_over() {
    let mut d = Daemon::start(Options::default());
    let first: Vec<String> = (0..3)
        .map(|i| d.send("Bekymring", &format!("MARKER-standby-{i} Emil 120315-4321")))
        .collect();
    // The auditors keep the checkpoint written at a shutdown.
    let kept = d.keep_checkpoint();

    // Seeded from a backup that holds the keys; the store key comes from its escrow.
    let seed = d.dir.path().join("seed.mtb");
    let out = d.cli(&["backup", "create", seed.to_str().unwrap(), "--include-keys"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut standby = Daemon::new(Options::default());
    let store_key = d.data.join("store.key");
    let restored = d.cli_json(&[
        "backup",
        "restore",
        seed.to_str().unwrap(),
        standby.data.to_str().unwrap(),
        "--store-key",
        store_key.to_str().unwrap(),
        "--json",
    ]);
    std::fs::copy(&store_key, standby.data.join("store.key")).unwrap();
    let mut position = restored["position"].as_u64().expect("a position");

    // Shipped twice while mail keeps coming, an intake erased between.
    d.add_user("lene", "lene.holm@kommune.localhost", "modtagelsen_leder");
    let lene = d.token_file("lene");
    let load = Load::start(d.smtp, 3);
    let erased = &first[0];
    let out = d.cli_as(&lene, &["triage", "erase", erased, "--reason", "Fejlsendt"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut last_began = Instant::now();
    let mut files = Vec::new();
    for n in 0..2 {
        std::thread::sleep(std::time::Duration::from_millis(300));
        last_began = Instant::now();
        let file = d.dir.path().join(format!("increment-{n}.mti"));
        let since = position.to_string();
        let out = d.cli(&[
            "backup",
            "create",
            file.to_str().unwrap(),
            "--since",
            &since,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let applied = standby.cli_json(&["backup", "apply", file.to_str().unwrap(), "--json"]);
        eprintln!("increment {n}: {applied}");
        assert!(applied["intakes"].as_u64().unwrap() > 0, "{applied}");
        if n == 0 {
            assert_eq!(applied["gone"], serde_json::json!([erased]), "{applied}");
        }
        let next = applied["position"].as_u64().unwrap();
        assert!(next > position, "{applied}");
        position = next;
        files.push(file);
    }
    let acked = load.finish();
    // One applied twice (or one missed) is refused, saying which --since to take.
    let again = standby.cli(&["backup", "apply", files[1].to_str().unwrap()]);
    assert!(!again.status.success());
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(said.contains(&format!("--since {position}")), "{said}");

    // The first server dies; the standby's log extends the auditors' checkpoint.
    d.kill();
    let verifies = |standby: &Daemon| {
        let kept = kept.to_str().unwrap();
        let v = standby.cli_json(&["audit", "verify", "--checkpoint", kept, "--json"]);
        assert_eq!(v["ok"], true, "{v}");
    };
    verifies(&standby);
    standby.spawn();
    let shipped: Vec<&String> = first[1..]
        .iter()
        .chain(
            acked
                .iter()
                .filter(|(_, at)| *at < last_began)
                .map(|(r, _)| r),
        )
        .collect();
    assert!(shipped.len() >= 5, "{shipped:?}");
    for r in &shipped {
        let v = standby.cli_json(&["triage", "show", r, "--json"]);
        assert_eq!(v["reference"], r.as_str());
    }
    assert!(!standby.cli(&["triage", "show", erased]).status.success());
    let newest = standby.send("Bekymring", "Efter overtagelsen");
    let number = |r: &str| r.rsplit('-').next().unwrap().parse::<u64>().unwrap();
    let last_given = acked.iter().map(|(r, _)| number(r)).max().unwrap();
    assert!(
        number(&newest) > last_given + 9_000,
        "{newest} after {last_given}"
    );
    assert!(standby.stop().success());
    verifies(&standby);
}
