//! The case registry: import with line-precise errors, and the auto-link that forwards an
//! underretning to the rådgiver of the one open case matching its CPR.

use modtag_tests::*;

const CSV: &str = "case_number,cpr,child_name,raadgiver,area,institution,status\n\
SAG-100,120315-4321,Emil Hansen,anna.kristensen,dagtilbud,solsikken,open\n\
SAG-101,010120-4003,Ida Jensen,bo.nielsen,skole,bakkeskolen,open\n\
SAG-102,010120-4003,Ida Jensen,bo.nielsen,skole,bakkeskolen,open\n";

/// Emil's CPR from Bakkeskolen's own mail server, a known partner (127.0.0.2 over TLS,
/// `require_tls_networks`): a sender the auto-link may act on (issue 26). Its reference.
fn from_the_schools_server(d: &Daemon) -> String {
    let t = d.swaks_args(&[
        "--local-interface",
        "127.0.0.2",
        "--tls",
        "--to",
        "underretning@localhost",
        "--from",
        "kontor@bakkeskolen.dk",
        "--header",
        "Subject: Bekymring",
        "--body",
        "Emil 120315-4321 kom sulten i skole",
    ]);
    queued_as(&t).unwrap_or_else(|| panic!("{t}"))
}

#[test]
fn import_then_auto_link_to_the_one_open_case() {
    // The school's mail server is a known partner: 127.0.0.2, over TLS (issue 26).
    let opts = Options {
        smtp_extra: "require_tls_networks = [\"127.0.0.2/32\"]".into(),
        ..Options::default()
    };
    let sink = Sink::start(opts.relay_port);
    let d = Daemon::start(opts);
    let csv = d.dir.path().join("sager.csv");
    std::fs::write(&csv, CSV).unwrap();
    let report = d.cli_json(&["cases", "import", csv.to_str().unwrap(), "--json"]);
    assert_eq!(report["added"], 3);
    // Idempotent: the same file again changes nothing.
    let again = d.cli_json(&["cases", "import", csv.to_str().unwrap(), "--json"]);
    assert_eq!(
        (again["added"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(3))
    );

    // One open case for this CPR, from the school's own server over TLS: linked and
    // forwarded to its rådgiver at once.
    let linked = from_the_schools_server(&d);
    // Two open cases for this CPR: only a suggestion for a person.
    let ambiguous = d.send("Bekymring", "Ida 010120-4003 har fravær");
    // The same claim from a sender nothing proves ("som fagperson", the school's address
    // typed by anyone): only a suggestion, nothing to the rådgiver (issue 26, attack 2).
    let claimed = d.send(
        "Bekymring",
        "Jeg skriver som fagperson. Emil 120315-4321 kom sulten i skole",
    );

    // The same CPR from a citizen, or in a message someone forwarded: only a suggestion.
    let citizen = d.mail(
        "underretning@localhost",
        "nabo@gmail.example",
        "Bekymring",
        "Emil 120315-4321 virker trist",
    );
    let citizen = queued_as(&citizen).unwrap();
    let forwarded = d.mail("underretning@localhost", "kontor@bakkeskolen.dk", "VS: Bekymring", "Se nedenfor.\n\nFra: Nabo [mailto:nabo@gmail.example]\nSendt: 18. november 2026\nTil: Skolen\nEmne: Emil\n\nEmil 120315-4321 virker trist.");
    let forwarded = queued_as(&forwarded).unwrap();

    let list = d.cli_json(&["triage", "list", "--json"]);
    let find = |r: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["reference"] == r)
            .unwrap()
            .clone()
    };
    let a = find(&linked);
    assert_eq!(a["state"], "auto_linked");
    assert_eq!(a["case_number"], "SAG-100");
    for other in [&citizen, &forwarded, &claimed] {
        let i = find(other);
        assert_eq!(i["state"], "awaiting_assessment", "{i}");
        assert_eq!(i["suggestions"], serde_json::json!(["SAG-100"]), "{i}");
    }
    let b = find(&ambiguous);
    assert_eq!(b["state"], "awaiting_assessment");
    assert_eq!(b["case_number"], serde_json::Value::Null);
    assert_eq!(b["suggestions"], serde_json::json!(["SAG-101", "SAG-102"]));

    let shown = d.cli_json(&["triage", "show", &claimed, "--json"]);
    assert_eq!(shown["sender_trust"], "unverified", "{shown}");
    assert_eq!(
        d.cli_json(&["triage", "show", &linked, "--json"])["sender_trust"],
        "partner"
    );

    // Each sender gets a kvittering for each message it sent, and an address nothing
    // proves three a day at most (issue 26): the school's fourth is a person's to send.
    let dumps = sink.wait(5);
    let to_anna: Vec<&String> = dumps
        .iter()
        .filter(|d| rcpt_of(d) == "anna.kristensen@kommune.localhost")
        .collect();
    assert_eq!(to_anna.len(), 1, "only the auto-linked intake is forwarded");
    let plain = Gpg::with_demo_keys(&["raadgiver-anna"])
        .decrypt(&armored_block(to_anna[0]))
        .unwrap();
    assert!(plain.contains("kom sulten i skole"));
    let receipts = dumps
        .iter()
        .filter(|d| rcpt_of(d) == "kontor@bakkeskolen.dk")
        .count();
    // The school's, and the one it forwarded: the kvittering goes to who sent the mail to
    // modtag, never to the original's sender of a forward (issue 17).
    assert_eq!(
        receipts, 3,
        "a kvittering per message the school sent, three a day"
    );
    let fourth = d.cli_json(&["triage", "show", &forwarded, "--json"]);
    assert_eq!(fourth["kvittering"]["manual"], true, "{fourth}");
    assert_eq!(
        dumps
            .iter()
            .filter(|d| rcpt_of(d) == "nabo@gmail.example")
            .count(),
        1,
        "the citizen's own mail only: {:?}",
        dumps.iter().map(|d| rcpt_of(d)).collect::<Vec<_>>()
    );
    assert_eq!(sink.count(), 5);
}

#[test]
fn a_bad_case_file_is_refused_whole_with_line_numbers_and_no_values() {
    let d = Daemon::start(Options::default());
    let csv = d.dir.path().join("sager.csv");
    std::fs::write(
        &csv,
        "case_number,cpr,child_name,raadgiver,area,institution,status\n\
         SAG-1,120315-4321,Emil Hansen,anna.kristensen,dagtilbud,solsikken,open\n\
         SAG-2,310415-4321,Ida Jensen,anna.kristensen,,,open\n\
         SAG-3,120315-4321,Emil Hansen,nobody,,,open\n",
    )
    .unwrap();
    let out = d.cli(&["cases", "import", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3: cpr is not a valid CPR number"),
        "{err}"
    );
    assert!(
        err.contains("line 4: raadgiver \"nobody\" is not in the directory"),
        "{err}"
    );
    assert!(
        !err.contains("310415"),
        "error messages must not echo CPR numbers: {err}"
    );
    // Nothing was imported: a message with SAG-1's CPR is not linked.
    let r = d.send("Bekymring", "Emil 120315-4321");
    let list = d.cli_json(&["triage", "list", "--json"]);
    let item = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["reference"] == r.as_str())
        .unwrap()
        .clone();
    assert_eq!(item["state"], "awaiting_assessment");
}

#[test]
fn json_import_is_idempotent_and_export_round_trips() {
    let d = Daemon::start(Options::default());
    let json = d.dir.path().join("sager.json");
    std::fs::write(
        &json,
        r#"[
  {"case_number": "SAG-7", "cpr": "120315-4321", "child_name": "Emil Hansen",
   "raadgiver": "anna.kristensen", "area": "skole", "institution": "bakkeskolen",
   "status": "open"},
  {"case_number": "SAG-8", "cpr": "010120-1234", "child_name": "Sofie Jensen",
   "raadgiver": "bo.nielsen", "status": "closed"}
]"#,
    )
    .unwrap();
    let path = json.to_str().unwrap();
    let first = d.cli_json(&["cases", "import", path, "--json"]);
    assert_eq!(
        (first["added"].as_u64(), first["unchanged"].as_u64()),
        (Some(2), Some(0))
    );
    let again = d.cli_json(&["cases", "import", path, "--json"]);
    assert_eq!(
        (again["added"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(2))
    );

    // The export is the import's CSV; importing it changes nothing.
    let out = d.cli(&["cases", "export"]);
    assert!(out.status.success());
    let csv = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(csv.starts_with("case_number,cpr,child_name,raadgiver,area,institution,status"));
    assert!(
        csv.contains("SAG-8,010120-1234,Sofie Jensen,bo.nielsen,,,closed"),
        "{csv}"
    );
    let exported = d.dir.path().join("eksport.csv");
    std::fs::write(&exported, &csv).unwrap();
    let back = d.cli_json(&["cases", "import", exported.to_str().unwrap(), "--json"]);
    assert_eq!(back["unchanged"], 2, "{back}");

    // A bad JSON case names the line where it starts, and nothing is imported.
    std::fs::write(
        &json,
        "[\n  {\"case_number\": \"SAG-9\", \"cpr\": \"120315-4321\", \"child_name\": \"X\",\n   \"raadgiver\": \"anna.kristensen\", \"status\": \"open\"},\n  {\"case_number\": \"SAG-10\", \"cpr\": \"999999-9999\", \"child_name\": \"Y\",\n   \"raadgiver\": \"anna.kristensen\", \"status\": \"open\"}\n]",
    )
    .unwrap();
    let bad = d.cli(&["cases", "import", path]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("line 4: cpr is not a valid CPR number"),
        "{err}"
    );
    assert!(!err.contains("999999"), "{err}");
    let csv_after = String::from_utf8_lossy(&d.cli(&["cases", "export"]).stdout).into_owned();
    assert!(!csv_after.contains("SAG-9"));
}

/// The assessment form starts from the case the auto-link found (issue 29), and a case
/// number the registry does not know is refused in Danish, keeping what was typed.
#[test]
fn the_assessment_form_starts_from_the_linked_case() {
    let opts = Options {
        smtp_extra: "require_tls_networks = [\"127.0.0.2/32\"]".into(),
        ..Options::default()
    };
    let d = Daemon::start(opts);
    let csv = d.dir.path().join("sager.csv");
    std::fs::write(&csv, CSV).unwrap();
    d.cli_json(&["cases", "import", csv.to_str().unwrap(), "--json"]);
    let linked = from_the_schools_server(&d);
    let other = d.send("Bekymring", "Ida 010120-4003 har fravær");
    let uri = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let modt = d.sign_in("modt", &uri);

    let (_, form) = modt.get(&d, &format!("/koe/{linked}/vurdering"));
    assert!(
        form.contains("value=\"eksisterende\" checked") && form.contains("value=\"SAG-100\""),
        "{form}"
    );
    let (_, form) = modt.get(&d, &format!("/koe/{other}/vurdering"));
    assert!(form.contains("value=\"ny\" checked"), "{form}");

    let (status, page) = modt.post_form(
        &d,
        &format!("/koe/{other}/vurdering"),
        &[
            ("sag", "eksisterende"),
            ("sagsnummer", "SAG-999"),
            ("trin", "2"),
            ("screening", "Fravær; skolen følger op."),
            ("step", "preview"),
        ],
    );
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("Sagen SAG-999 findes ikke i sagsregistret")
            && page.contains("Fravær; skolen følger op.")
            && !page.contains("case registry"),
        "{page}"
    );
}
