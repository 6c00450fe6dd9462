//! Need-to-know (issue 13): every API endpoint walked by a person of every role and by a
//! signed-out client. Each sees its share of the queue and nothing else; an admin manages
//! and sees no message content; a recipient reads what was sent to them; the audit log
//! names the signed-in person who looked.

use modtag_tests::*;

/// The status of a request, as `who` (or signed out), and whether it was the answer for an
/// intake that is not there (or not theirs: the same answer).
fn status(d: &Daemon, who: Option<&Signed>, method: &str, path: &str, body: &str) -> (u16, bool) {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(s) = who {
        headers.push(("Cookie", s.cookie.as_str()));
        headers.push(("X-CSRF-Token", s.csrf.as_str()));
    }
    let (status, _, body) = http_request(d.http, method, path, &headers, body.as_bytes()).unwrap();
    (status, body.contains("no intake with reference"))
}

fn references(d: &Daemon, who: &Signed) -> Vec<String> {
    let (_, _, body) =
        http_get_headers(d.http, "/api/v1/triage", &[("Cookie", &who.cookie)]).unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut refs: Vec<String> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reference"].as_str().unwrap().to_string())
        .collect();
    refs.sort();
    refs
}

#[test]
fn every_endpoint_with_every_role_and_signed_out() {
    let d = Daemon::start(Options::default());
    // Intakes: an underretning on Emil, whose case is Anna's, routed to her; a Trivsel+.
    let csv = d.dir.path().join("sager.csv");
    std::fs::write(
        &csv,
        "case_number,cpr,child_name,raadgiver,area,institution,status\n\
         SAG-100,120315-4321,Emil Hansen,anna.kristensen,dagtilbud,solsikken,open\n",
    )
    .unwrap();
    assert!(d
        .cli(&["cases", "import", csv.to_str().unwrap()])
        .status
        .success());
    let u = d.send("Bekymring", "Emil 120315-4321 kom sulten i skole");
    let t = queued_as(&d.swaks(
        "trivselplus@localhost",
        "Trivsel+ Karen Poulsen",
        "CVR 13585628",
    ))
    .unwrap();
    d.decide(&u, &["--existing-case", "--case", "SAG-100", "--trin", "3"]);

    let people = [
        ("modt", "modtagelsen@kommune.localhost", "modtagelsen"),
        ("journal", "journalen@kommune.localhost", "journalen"),
        ("anna", "anna.kristensen@kommune.localhost", "raadgiver"),
        ("it", "it@kommune.example", "admin"),
        ("revisor", "revisor@kommune.example", "auditor"),
    ];
    let signed: Vec<(&str, Signed)> = people
        .iter()
        .map(|(id, email, role)| (*id, d.sign_in(id, &d.add_user(id, email, role))))
        .collect();
    let who = |id: &str| &signed.iter().find(|(i, _)| *i == id).unwrap().1;

    // Each sees its share of the queue.
    assert_eq!(references(&d, who("modt")), std::slice::from_ref(&u));
    assert_eq!(references(&d, who("journal")), std::slice::from_ref(&t));
    assert_eq!(
        references(&d, who("anna")),
        std::slice::from_ref(&u),
        "what was sent to her"
    );
    assert!(
        references(&d, who("it")).is_empty(),
        "an admin sees no intake"
    );
    assert!(references(&d, who("revisor")).is_empty());

    let tree = std::fs::read_to_string(root().join("deploy/demo/beslutningstrae.toml")).unwrap();
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    let today = today_in_denmark().to_string();
    let sla = format!("/api/v1/report/sla?from={today}&to={today}");
    // (method, path, body, the people allowed; everyone else signed in gets 403, or for an
    // intake they have no reason to see the answer for no such intake: 404)
    let all = ["modt", "journal", "anna", "it", "revisor"];
    let table: Vec<(&str, String, String, Vec<&str>)> = vec![
        ("GET", "/api/v1/triage".into(), String::new(), all.to_vec()),
        (
            "GET",
            format!("/api/v1/triage/{u}"),
            String::new(),
            vec!["modt", "anna"],
        ),
        (
            "GET",
            format!("/api/v1/triage/{t}"),
            String::new(),
            vec!["journal"],
        ),
        (
            "GET",
            format!("/api/v1/triage/{u}/attachments/0"),
            String::new(),
            vec!["modt", "anna"],
        ),
        (
            "POST",
            format!("/api/v1/triage/{t}/kind"),
            r#"{"kind":"trivselplus","reason":"rettet"}"#.into(),
            vec!["journal"],
        ),
        (
            "POST",
            format!("/api/v1/triage/{u}/decision"),
            r#"{"actor":"","trin":3}"#.into(),
            vec!["modt"],
        ),
        (
            "POST",
            format!("/api/v1/triage/{u}/task"),
            r#"{"kind":"tilbagemelding","outcome":"done"}"#.into(),
            vec!["modt"],
        ),
        (
            "POST",
            "/api/v1/cases/import".into(),
            csv_text,
            vec!["modt"],
        ),
        (
            "GET",
            "/api/v1/cases/export".into(),
            String::new(),
            vec!["modt"],
        ),
        (
            "POST",
            "/api/v1/config/reload".into(),
            String::new(),
            vec!["it"],
        ),
        // Past intakes' decisions are their desks' to replay, not an administrator's.
        (
            "POST",
            "/api/v1/route/simulate".into(),
            tree,
            vec!["modt", "journal"],
        ),
        ("GET", sla, String::new(), vec!["it", "revisor"]),
        (
            "GET",
            "/api/v1/audit/checkpoint".into(),
            String::new(),
            vec!["it", "revisor"],
        ),
        (
            "GET",
            "/api/v1/audit/log".into(),
            String::new(),
            vec!["revisor"],
        ),
        (
            "GET",
            "/api/v1/outbox/failed".into(),
            String::new(),
            vec!["it"],
        ),
        (
            "POST",
            "/api/v1/outbox/999/retry".into(),
            String::new(),
            vec!["it"],
        ),
        ("GET", "/api/v1/users".into(), String::new(), vec!["it"]),
        (
            "POST",
            "/api/v1/users/nobody/disable".into(),
            String::new(),
            vec!["it"],
        ),
        (
            "POST",
            format!("/api/v1/triage/{u}/close"),
            r#"{"reason":"videre til rådgiveren"}"#.into(),
            vec!["modt"],
        ),
    ];
    let mut wrong = Vec::new();
    for (method, path, body, allowed) in &table {
        // Signed out: refused (after ten tries a minute from one address, with 429).
        let (anon, _) = status(&d, None, method, path, body);
        if anon != 401 && anon != 429 {
            wrong.push(format!(
                "signed out: {method} {path} → {anon}, expected 401"
            ));
        }
        for id in all {
            let (got, missing) = status(&d, Some(who(id)), method, path, body);
            // Who has a reason to see the intake a path names: a refusal says so (403);
            // to anyone else it is not there.
            let sees = (path.contains(&u) && ["modt", "anna"].contains(&id))
                || (path.contains(&t) && id == "journal")
                || !path.starts_with("/api/v1/triage/");
            let ok = if allowed.contains(&id) {
                got != 401 && got != 403 && !missing
            } else if sees {
                got == 403
            } else {
                got == 404 && missing
            };
            if !ok {
                let want = match (allowed.contains(&id), sees) {
                    (true, _) => "allowed",
                    (false, true) => "403",
                    (false, false) => "404 as for no such intake",
                };
                wrong.push(format!("{id}: {method} {path} → {got}, expected {want}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // What carries no personal data needs no one.
    for path in ["/healthz", "/metrics"] {
        assert_eq!(status(&d, None, "GET", path, "").0, 200, "{path}");
    }

    let mut d = d;
    d.stop();
    let viewed = d.audit_text("viewed");
    assert!(viewed.contains("\"actor\":\"anna\""), "{viewed}");
    assert!(!viewed.contains("\"actor\":\"it\""), "{viewed}");
    let closed = d.audit_text("closed");
    assert!(closed.contains("\"actor\":\"modt\""), "{closed}");
}

/// A personal API token acts as its person, with their share: the CLI with `--token-file`.
#[test]
fn a_personal_token_acts_as_its_person() {
    use std::os::unix::fs::PermissionsExt;
    let d = Daemon::start(Options::default());
    let u = d.send("Bekymring", "Tekst");
    let t = queued_as(&d.swaks(
        "trivselplus@localhost",
        "Trivsel+ Karen Poulsen",
        "CVR 13585628",
    ))
    .unwrap();
    d.add_user("journal", "journalen@kommune.localhost", "journalen");
    // An administrator makes no token for another account (issue 25).
    let out = d.cli(&["users", "token", "journal", "--days", "7"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("its own person"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Journalen makes its own, signed in.
    let file = d.token_file("journal");
    let token = std::fs::read_to_string(&file).unwrap();
    assert!(token.starts_with("mt_"), "{token}");

    // Readable by others: refused, like every secret file.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let as_journal = |args: &[&str]| {
        let mut all = vec!["--token-file", file.to_str().unwrap()];
        all.extend_from_slice(args);
        d.cli(&all)
    };
    assert!(!as_journal(&["triage", "list"]).status.success());
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();

    let list = as_journal(&["triage", "list", "--json"]);
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let refs: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reference"].as_str().unwrap())
        .collect();
    assert_eq!(refs, [t.as_str()], "Journalen's share only, not {u}");
    let reload = as_journal(&["config", "reload"]);
    assert!(!reload.status.success());
    assert!(
        String::from_utf8_lossy(&reload.stderr).contains("admin"),
        "{}",
        String::from_utf8_lossy(&reload.stderr)
    );
    // A token that is not one: refused as any wrong token.
    let (status, _, _) = http_get_headers(
        d.http,
        "/api/v1/triage",
        &[("Authorization", "Bearer mt_not-a-token")],
    )
    .unwrap();
    assert_eq!(status, 401);
    // Disabled: the token stops working.
    assert!(d.cli(&["users", "disable", "journal"]).status.success());
    assert!(!as_journal(&["triage", "list"]).status.success());
}
