//! What a recipient who is not the desk sees (issue 25): a citizen's underretning routed on
//! trin 2 with consent to the lokal leder of Solsikken, without the original. She reads the
//! screening she was sent, in the desk (Chromium), the API and the CLI, and nothing of the
//! neighbour who wrote it; a new assessment that no longer sends it to her ends her access;
//! someone with no reason to see it gets the same answer as for no such intake.

use modtag_tests::browser::Browser;
use modtag_tests::*;
use serde_json::Value;

/// A neighbour's report, with an attachment: everything here but the CPR's first half must
/// stay out of what the lokal leder sees.
const NABO: &str = "From: Nabo Hansen <nabo.hansen@example.org>\r\n\
To: underretning@localhost\r\n\
Subject: Bekymring for drengen i nummer 7\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Jeg hører råben hver aften hos naboen. Drengen, cpr 120315-4321, ser trist ud.\r\n\
--b1\r\n\
Content-Type: text/plain; name=\"naboens-noter.txt\"\r\n\
Content-Disposition: attachment; filename=\"naboens-noter.txt\"\r\n\
\r\n\
Noter om naboen.\r\n\
--b1--\r\n";

const SCREENING: &str =
    "Screeningen viser faldende trivsel i børnehaven. Vi anbefaler et TRIVSEL+ forløb.";

/// Words of the report, its writer and Modtagelsen's own work that no recipient on the
/// institution's side may read.
const NOT_FOR_HER: [&str; 9] = [
    "Nabo Hansen",
    "nabo.hansen@example.org",
    "120315-4321",
    "råben",
    "naboens-noter",
    "nummer 7",
    "indkald",
    "127.0.0.1",
    "citizen with a name",
];

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn trin_2(d: &Daemon, r: &str, extra: &[&str]) {
    let mut args = vec![
        "--trin",
        "2",
        "--consent",
        "--consent-by",
        "forældre",
        "--consent-how",
        "mundtligt",
        "--outcome",
        "trivselplus_anbefalet",
        "--note",
        SCREENING,
    ];
    args.extend_from_slice(extra);
    d.decide(r, &args);
}

#[test]
fn a_lokal_leder_reads_the_screening_and_nothing_of_the_citizen() {
    let d = Daemon::start(Options::default());
    let eml = d.dir.path().join("nabo.eml");
    std::fs::write(&eml, NABO).unwrap();
    let r = d.send_file("underretning@localhost", &eml);
    let other = d.send("Bekymring", "Et andet barn, 010101-1234");
    trin_2(
        &d,
        &r,
        &["--area", "dagtilbud", "--institution", "solsikken"],
    );
    // The desk's own note (issue 29) is no recipient's to read.
    let noted = d.cli(&[
        "triage",
        "note",
        &r,
        "--text",
        "Intern: ring til naboen igen",
    ]);
    assert!(noted.status.success(), "{noted:?}");
    let mette_uri = d.add_user("mette", "leder.solsikken@kommune.localhost", "lokal_leder");
    let peter_uri = d.add_user(
        "peter",
        "leder.bakkeskolen@kommune.localhost",
        "lokal_leder",
    );
    let mette = d.sign_in("mette", &mette_uri);
    let peter = d.sign_in("peter", &peter_uri);

    // The API: what she was sent, as a recipient.
    let (status, body) = mette.get(&d, &format!("/api/v1/triage/{r}"));
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    assert_eq!(v["access"], "sent");
    assert_eq!(v["role"], "lokal_leder");
    assert_eq!(v["decision"]["note"], SCREENING);
    assert_eq!(v["decision"]["trin"], 2);
    assert_eq!(v["decision"]["consent_record"]["given_by"], "forældre");
    assert_eq!(v["decision"]["screening_outcome"], "trivselplus_anbefalet");
    assert_eq!(v["cpr_full"], serde_json::json!(["120315-XXXX"]));
    assert!(v["text"].is_null() && v["tasks"].as_array().unwrap().is_empty());
    assert!(v["decision"]["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["person"] == "" && r["role"] == "lokal_leder"));
    for secret in NOT_FOR_HER.iter().chain(&["ring til naboen"]) {
        assert!(!body.contains(secret), "{secret} in {body}");
    }
    let (status, _) = mette.get(&d, &format!("/api/v1/triage/{r}/attachments/0"));
    assert_eq!(status, 404, "the attachment is part of the original");
    let (_, list) = mette.get(&d, "/api/v1/triage");
    assert!(list.contains(&r) && !list.contains(&other), "{list}");

    // The desk's page, in a browser as she would read it.
    let b = Browser::start();
    b.sign_in_again(d.http, "mette", &mette_uri);
    b.goto(&format!("http://{}/koe/{r}", d.http));
    let page = b.text();
    for shown in [
        "Sendt til dig som den lokale leder",
        "Trin 2: Faldende trivsel",
        "TRIVSEL+ anbefales",
        SCREENING,
        "Givet af forældre, mundtligt",
        "120315-XXXX",
        "Den oprindelige henvendelse er ikke sendt til dig",
    ] {
        assert!(page.contains(shown), "{shown} not in {page}");
    }
    for secret in NOT_FOR_HER {
        assert!(!page.contains(secret), "{secret} in {page}");
    }
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "sent page"
    );
    b.screenshot("recipient-lokal-leder");
    // Her own account: the password change (the old one and a code).
    b.goto(&format!("http://{}/konto", d.http));
    assert!(b.text().contains("Skift adgangskode"), "{}", b.text());
    assert_eq!(b.accessibility_violations(), Vec::<String>::new(), "/konto");

    // Someone with no reason, a reference that does not exist: one answer, on the API and
    // on the desk, so references cannot be probed.
    let missing = "MT-2026-999999";
    for (who, reference) in [(&peter, &r), (&mette, &other)] {
        for path in ["/api/v1/triage/", "/koe/", "/api/v1/triage/"] {
            let (s1, b1) = who.get(&d, &format!("{path}{reference}"));
            let (s2, b2) = who.get(&d, &format!("{path}{missing}"));
            assert_eq!((s1, s2), (404, 404), "{path}{reference}: {b1}");
            assert_eq!(
                b1.replace(reference.as_str(), "REF"),
                b2.replace(missing, "REF")
            );
        }
        let (s, _) = who.request(
            &d,
            "POST",
            &format!("/api/v1/triage/{reference}/close"),
            r#"{"reason":"x"}"#,
        );
        assert_eq!(s, 404, "a change to what they cannot see: as for nothing");
    }

    // A new assessment no longer sends it to her: her access ends, and says so.
    trin_2(
        &d,
        &r,
        &[
            "--area",
            "skole",
            "--institution",
            "bakkeskolen",
            "--revise",
            "barnet går i skole",
        ],
    );
    b.goto(&format!("http://{}/koe/{r}", d.http));
    let page = b.text();
    assert!(page.contains("Ikke længere sendt til dig"), "{page}");
    assert!(
        !page.contains(SCREENING) && !page.contains("120315"),
        "{page}"
    );
    assert_eq!(b.accessibility_violations(), Vec::<String>::new(), "ended");
    b.goto(&format!("http://{}/sendt-til-mig", d.http));
    assert!(!b.text().contains(&r), "{}", b.text());
    let (status, body) = mette.get(&d, &format!("/api/v1/triage/{r}"));
    assert_eq!(status, 200);
    let v = json(&body);
    assert_eq!(v["access"], "ended");
    assert!(v["decision"].is_null() && v["cpr"].as_array().unwrap().is_empty());
    let (_, list) = mette.get(&d, "/api/v1/triage");
    assert!(!list.contains(&r), "{list}");

    let mut d = d;
    assert!(d.stop().success());
    let reassessed = d.audit_text("reassessed");
    assert!(
        reassessed.contains("\"access_ended\":[\"mette.joergensen\"]"),
        "{reassessed}"
    );
    let viewed = d.audit_text("viewed");
    assert!(
        viewed.contains("\"actor\":\"mette\"") && viewed.contains("\"access\":\"sent\""),
        "{viewed}"
    );
}

/// A professional's report with the original attached: the lokal leder reads it, with its
/// attachment; through the CLI with her own token as in the desk.
#[test]
fn a_professionals_original_reaches_the_lokal_leder_when_attached() {
    let d = Daemon::start(Options::default());
    let eml = d.dir.path().join("skole.eml");
    std::fs::write(
        &eml,
        NABO.replace(
            "Nabo Hansen <nabo.hansen@example.org>",
            "Lærer <kontor@solsikken.dk>",
        ),
    )
    .unwrap();
    let r = d.send_file("underretning@localhost", &eml);
    // Nothing proves the sender: a person confirms it before the original may go (issue 26).
    assert!(d
        .cli(&[
            "triage",
            "confirm-sender",
            &r,
            "--how",
            "ringet til børnehaven"
        ])
        .status
        .success());
    trin_2(
        &d,
        &r,
        &[
            "--area",
            "dagtilbud",
            "--institution",
            "solsikken",
            "--attach-original",
        ],
    );
    let uri = d.add_user("mette", "leder.solsikken@kommune.localhost", "lokal_leder");
    let mette = d.sign_in("mette", &uri);
    let (_, body) = mette.get(&d, &format!("/api/v1/triage/{r}"));
    let v = json(&body);
    assert_eq!(v["access"], "sent");
    assert!(v["text"].as_str().unwrap().contains("råben"), "{body}");
    assert_eq!(v["from"], "Lærer <kontor@solsikken.dk>");
    assert_eq!(v["cpr_full"], serde_json::json!(["120315-XXXX"]));
    let (status, bytes) = mette.get(&d, &format!("/api/v1/triage/{r}/attachments/0"));
    assert_eq!((status, bytes.as_str()), (200, "Noter om naboen."));
    let token = d.token_file_of(&mette);
    let out = d.cli_as(&token, &["triage", "show", &r]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        shown.contains("lokal_leder") && shown.contains(SCREENING) && shown.contains("råben"),
        "{shown}"
    );
    // The CPR field is masked; the original's own text is the professional's to have sent.
    assert!(shown.contains("CPR: 120315-XXXX"), "{shown}");
}
