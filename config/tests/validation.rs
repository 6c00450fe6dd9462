//! Every check of the configuration files, by table: a change to the demo files, and the
//! message (with file and line) an administrator gets for it.

use std::path::{Path, PathBuf};

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/demo")
}

/// The demo configuration in a temporary directory, with `edit` applied to one of its files;
/// returns the error text of loading it (empty if it loads).
fn load_with(file: &str, from: &str, to: &str) -> (String, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(demo().join("keys"), dir.path().join("keys")).unwrap();
    std::fs::copy(demo().join("logo.svg"), dir.path().join("logo.svg")).unwrap();
    for name in ["modtag.toml", "directory.toml", "beslutningstrae.toml"] {
        let mut text = std::fs::read_to_string(demo().join(name)).unwrap();
        if name == file {
            assert!(text.contains(from), "{name} has no {from:?}");
            text = text.replacen(from, to, 1);
        }
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let path = dir.path().join(file);
    let err = match modtag_config::load(&dir.path().join("modtag.toml")) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    };
    (err, path, dir)
}

/// The line holding `needle` (`2nd:needle` for its second occurrence).
fn line_in(path: &Path, needle: &str) -> usize {
    let (skip, needle) = match needle.strip_prefix("2nd:") {
        Some(n) => (1, n),
        None => (0, needle),
    };
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(skip)
        .map(|(i, _)| i)
        .unwrap_or_else(|| panic!("{needle:?} not in {}", path.display()))
        + 1
}

/// An `[oidc]` section with something wrong on each line.
const OIDC: &str = "[oidc]
issuer = \"http://idp.example.org\"
client_id = \"modtag\"
redirect_url = \"https://modtag.example.org/callback\"
claim = \"upn\"
system_roles = { \"lene.holm\" = [\"superbruger\"] }

[policy]
";

#[test]
fn each_problem_is_reported_with_file_line_and_what_to_do() {
    const TREE: &str = "beslutningstrae.toml";
    const DIR: &str = "directory.toml";
    const MAIN: &str = "modtag.toml";
    // (file, replace, with, a line that the error must point at (in the tree when it starts
    // with `tree:`), what the message says)
    let table: &[(&str, &str, &str, &str, &str)] = &[
        (
            MAIN,
            "kle = { underretning = \"27.24.00\"",
            "kle = { underretning = \"27.24\"",
            "kle = {",
            "journal.kle.underretning = \"27.24\" is not a KLE emne: write it as 27.24.00",
        ),
        (
            MAIN,
            "kle = { underretning = \"27.24.00\"",
            "kle = { underretninger = \"27.24.00\"",
            "kle = {",
            "journal.kle names \"underretninger\", which is not a kind",
        ),
        (
            TREE,
            "to = [\"raadgiver\"]",
            "to = [\"sagsbehandler\"]",
            "id = \"underretning-eksisterende-sag\"",
            "sends to unknown role \"sagsbehandler\"",
        ),
        (
            TREE,
            "actions = [\"invite_underretningsmoede\"]",
            "actions = [\"ring_til_mor\"]",
            "id = \"underretning-ny-sag-trin-3-4\"",
            "names unknown action \"ring_til_mor\"",
        ),
        (
            TREE,
            "when = { kind = [\"trivselplus\"] }",
            "when = { kind = [\"trivsel\"] }",
            "id = \"trivselplus-journalen\"",
            "names unknown kind \"trivsel\"",
        ),
        (
            TREE,
            "area = [\"dagpleje\"] }",
            "area = [\"vuggestue\"] }",
            "id = \"statusmoede-dagpleje\"",
            "names unknown area \"vuggestue\"",
        ),
        (
            TREE,
            "trin = [3, 4] }",
            "trin = [3, 5] }",
            "id = \"underretning-ny-sag-trin-3-4\"",
            "trin goes from 0 to 4",
        ),
        (
            TREE,
            "id = \"underretning-akut\"\n",
            "id = \"underretning-ny-sag-trin-3-4\"\n",
            "2nd:id = \"underretning-ny-sag-trin-3-4\"",
            "is used twice",
        ),
        // A role no one holds: the leader of fritid removed from the directory's roles.
        (
            DIR,
            "roles = [\"leder_fritid\"]",
            "roles = [\"leder_uu\"]",
            "tree:id = \"statusmoede-udskoling\"",
            "which no one in the directory holds",
        ),
        // Rules that can never match.
        (
            TREE,
            "when = { kind = [\"trivselplus\"] }",
            "when = { kind = [\"trivselplus\"], area = [] }",
            "id = \"trivselplus-journalen\"",
            "can never match: `area = []` matches nothing",
        ),
        (
            TREE,
            "area = [\"skole\", \"privat_skole\"], udskoling = true",
            "area = [\"dagtilbud\"], udskoling = true",
            "id = \"statusmoede-udskoling\"",
            "can never match: udskoling = true with no school area",
        ),
        (
            TREE,
            "when = { kind = [\"statusmoede\"], area = [\"dagpleje\"] }",
            "when = { kind = [\"statusmoede\"], area = [\"dagpleje\"], akut = true }",
            "id = \"statusmoede-dagpleje\"",
            "existing_case and akut never apply",
        ),
        // Two rules on the same facts with different results.
        (
            TREE,
            "when = { kind = [\"underretning\"], akut = true, out_of_hours = true }",
            "when = { akut = true, kind = [\"underretning\"] }",
            "id = \"underretning-akut-udenfor-aabningstid\"",
            "match exactly the same facts with different results",
        ),
        // A syntax error, placed.
        (
            TREE,
            "reason = \"Akut underretning: lederen",
            "reason = Akut underretning: lederen",
            "reason = Akut underretning: lederen",
            "invalid",
        ),
        // Directory: unknown role, missing certificate, leader not in the directory, bad area.
        (
            DIR,
            "roles = [\"leder_uu\"]",
            "roles = [\"leder_uuu\"]",
            "id = \"martin.olsen\"",
            "has unknown role \"leder_uuu\"",
        ),
        (
            DIR,
            "cert_file = \"keys/leder-uu.cert.asc\"",
            "cert_file = \"keys/ingen.cert.asc\"",
            "id = \"martin.olsen\"",
            "certificate file",
        ),
        (
            DIR,
            "leader = \"peter.larsen\"",
            "leader = \"peter.jensen\"",
            "id = \"bakkeskolen\"",
            "names leader \"peter.jensen\", who is not in the directory",
        ),
        (
            DIR,
            "area = \"skole\"",
            "area = \"folkeskole\"",
            "id = \"bakkeskolen\"",
            "has unknown area \"folkeskole\"",
        ),
        (
            DIR,
            "cert_file = \"keys/leder-uu.cert.asc\"",
            "cert_file = \"keys/leder-uu.key.asc\"",
            "id = \"martin.olsen\"",
            "contains secret key material",
        ),
        (
            MAIN,
            "address = \"trivselplus@localhost\"",
            "address = \"underretning@localhost\"",
            "2nd:address = \"underretning@localhost\"",
            "mailbox \"underretning@localhost\" is listed twice",
        ),
        (
            MAIN,
            "address = \"trivselplus@localhost\"",
            "address = \"trivselplus\"",
            "address = \"trivselplus\"",
            "mailbox address \"trivselplus\" is not an e-mail address",
        ),
        (
            MAIN,
            "max_message_size = 52428800",
            "max_message_size = 100",
            "max_message_size = 100",
            "smtp.max_message_size must be at least 1024 bytes",
        ),
        (
            MAIN,
            "max_sessions = 200",
            "max_sessions = 0",
            "max_sessions = 0",
            "smtp.max_sessions = 0 would refuse all mail",
        ),
        (
            MAIN,
            "min_data_rate = 500",
            "min_data_rate = 0",
            "min_data_rate = 0",
            "smtp.min_data_rate = 0 would refuse all mail",
        ),
        (
            MAIN,
            "idle_timeout_secs = 300",
            "idle_timeout_secs = 0",
            "idle_timeout_secs = 0",
            "smtp.idle_timeout_secs = 0 would refuse all mail",
        ),
        (
            MAIN,
            "max_connections = 256",
            "max_connections = 0",
            "max_connections = 0",
            "http.max_connections = 0 would refuse every request",
        ),
        (
            MAIN,
            "session_idle_secs = 1800",
            "session_idle_secs = 40000",
            "session_idle_secs = 40000",
            "http.session_idle_secs is longer than session_max_secs",
        ),
        (
            MAIN,
            "listen = \"127.0.0.1:8080\"",
            "listen = \"0.0.0.0:8080\"",
            "listen = \"0.0.0.0:8080\"",
            "plain HTTP on a non-loopback address",
        ),
        (
            MAIN,
            "retry_initial_secs = 30",
            "retry_initial_secs = 0",
            "retry_initial_secs = 0",
            "relay.retry_initial_secs must be at least 1",
        ),
        (
            MAIN,
            "assessment_hours = 24",
            "assessment_hours = 0",
            "assessment_hours = 0",
            "triage.assessment_hours must be positive",
        ),
        (
            MAIN,
            "auto_link_senders = \"professional\"",
            "auto_link_senders = \"alle\"",
            "auto_link_senders = \"alle\"",
            "use \"professional\" or \"any\"",
        ),
        (
            MAIN,
            "akut_hours = 2",
            "akut_hours = 30",
            "akut_hours = 30",
            "triage.akut_hours = 30: an akut intake's clock must be at least one hour",
        ),
        (
            MAIN,
            "escalate_after_hours = [12, 18, 22]",
            "escalate_after_hours = [12, 30]",
            "escalate_after_hours = [12, 30]",
            "triage.escalate_after_hours must be up to three rising hours",
        ),
        (
            MAIN,
            "checkpoint_every_entries = 1000",
            "checkpoint_every_entries = 0",
            "checkpoint_every_entries = 0",
            "audit.checkpoint_every_entries, checkpoint_every_secs and retention_days",
        ),
        (
            MAIN,
            "repeat_threshold = 3",
            "repeat_threshold = 1",
            "repeat_threshold = 1",
            "triage.repeat_threshold must be at least 2",
        ),
        (
            MAIN,
            "roles = [\"modtagelsen\", \"journalen\", \"admin\"]",
            "roles = [\"modtagelsen\", \"superbruger\"]",
            "id = \"demo\"",
            "cli.demo_account \"demo\" has unknown role \"superbruger\"",
        ),
        (
            MAIN,
            "email = \"demo@kommune.localhost\"",
            "email = \"ukendt@kommune.localhost\"",
            "id = \"demo\"",
            "the directory knows no one with its e-mail",
        ),
        (
            DIR,
            "roles = [\"modtagelsen\", \"journalen\"]",
            "roles = [\"modtagelsen\", \"kok\"]",
            "id = \"demo\"",
            "staff \"demo\" has unknown role \"kok\"",
        ),
        (
            DIR,
            "email = \"demo@kommune.localhost\"",
            "email = \"journalen@kommune.localhost\"",
            "id = \"demo\"",
            "staff \"demo\": the e-mail is already in the directory",
        ),
        (
            MAIN,
            "accounts = { \"@serve\" = \"demo\" }",
            "accounts = { \"@serve\" = \"\" }",
            "accounts = {",
            "neither may be empty",
        ),
        (
            MAIN,
            "# url = \"https://underret.kommune.dk\"",
            "url = \"underret.kommune.dk\"",
            "url = \"underret.kommune.dk\"",
            "public.url = \"underret.kommune.dk\": give the address citizens open the forms at",
        ),
        (
            MAIN,
            "[policy]\n",
            OIDC,
            "issuer = \"http://idp.example.org\"",
            "give an https:// URL (plain http only on loopback)",
        ),
        (
            MAIN,
            "[policy]\n",
            OIDC,
            "redirect_url = \"https://modtag.example.org/callback\"",
            "must be modtag's address followed by /login/oidc/callback",
        ),
        (
            MAIN,
            "[policy]\n",
            OIDC,
            "client_id = \"modtag\"",
            "needs exactly one of client_secret_file",
        ),
        (
            MAIN,
            "[policy]\n",
            OIDC,
            "claim = \"upn\"",
            "use one of email, preferred_username, sub",
        ),
        (
            MAIN,
            "[policy]\n",
            OIDC,
            "system_roles = { \"lene.holm\"",
            "\"superbruger\" is not a system role",
        ),
        (
            MAIN,
            "logo = \"logo.svg\"",
            "logo = \"mangler.svg\"",
            "logo = \"mangler.svg\"",
            "[kommune] logo \"mangler.svg\" cannot be read",
        ),
        (
            MAIN,
            "max_sessions = 200",
            "max_session = 200",
            "max_session = 200",
            "unknown field `max_session`",
        ),
        (
            MAIN,
            // The rest of the line becomes a comment.
            "dpo = \"Har du",
            "dpo = \" \" # Har du",
            "dpo = \" \"",
            "public.privacy.dpo is empty: write what the forms are to tell a person there",
        ),
        (
            MAIN,
            "rights = [\n",
            "rights = [\"  \",\n",
            "rights = [\"  \",",
            "public.privacy.rights is empty or has an empty entry",
        ),
    ];
    for (file, from, to, at, says) in table {
        let (err, path, _dir) = load_with(file, from, to);
        let (path, at) = match at.strip_prefix("tree:") {
            Some(at) => (path.with_file_name(TREE), at),
            None => (path, *at),
        };
        let line = line_in(&path, at);
        let place = format!("{}:{line}:", path.display());
        assert!(
            err.lines().any(|l| l.contains(&place) && l.contains(says)),
            "{file}: {from:?} → {to:?}\nwanted {place} … {says}\ngot:\n{err}"
        );
    }
    let (err, _, _dir) = load_with(TREE, "", "");
    assert!(err.is_empty(), "the demo itself loads: {err}");
}

/// Public forms without their privacy notice (GDPR art. 13) do not start: the error points
/// at `[public]` and names the section and its keys.
#[test]
fn public_forms_without_a_privacy_notice_are_refused() {
    let text = std::fs::read_to_string(demo().join("modtag.toml")).unwrap();
    let start = text.find("[public.privacy]\n").expect("the demo's notice");
    let end = start + text[start..].find("\n\n").expect("the section's end");
    let (err, path, _dir) = load_with("modtag.toml", &text[start..end], "");
    let place = format!("{}:{}:", path.display(), line_in(&path, "[public]"));
    assert!(
        err.lines().any(|l| l.contains(&place)
            && l.contains("[public] has no [public.privacy]")
            && l.contains("controller, purpose, legal_basis, recipients, retention, rights, complaint and dpo")),
        "{err}"
    );
}

/// A person whose certificate has expired or was revoked cannot receive mail: refused with
/// the person and the reason, at the person's line.
#[test]
fn expired_and_revoked_certificates_are_refused() {
    use openpgp::cert::CertBuilder;
    use openpgp::serialize::SerializeInto;
    use sequoia_openpgp as openpgp;
    use std::time::{Duration, SystemTime};

    let dir = tempfile::tempdir().unwrap();
    let two_years_ago = SystemTime::now() - Duration::from_secs(2 * 365 * 86400);
    let (expired, _) = CertBuilder::general_purpose(Some("Udløbet <x@kommune.localhost>"))
        .set_creation_time(two_years_ago)
        .set_validity_period(Duration::from_secs(86400))
        .generate()
        .unwrap();
    let (live, revocation) =
        CertBuilder::general_purpose(Some("Tilbagekaldt <y@kommune.localhost>"))
            .generate()
            .unwrap();
    let (revoked, _) = live.insert_packets(revocation).unwrap();
    for (name, cert, says) in [
        ("expired", expired, "has expired"),
        ("revoked", revoked, "is revoked"),
    ] {
        let file = dir.path().join(format!("{name}.asc"));
        std::fs::write(&file, cert.armored().to_vec().unwrap()).unwrap();
        let (err, path, _d) = load_with(
            "directory.toml",
            "cert_file = \"keys/leder-uu.cert.asc\"",
            &format!("cert_file = {:?}", file.display().to_string()),
        );
        let place = format!(
            "{}:{}:",
            path.display(),
            line_in(&path, "id = \"martin.olsen\"")
        );
        assert!(
            err.lines()
                .any(|l| l.contains(&place) && l.contains("martin.olsen") && l.contains(says)),
            "{name}: {err}"
        );
    }
}

/// `[digital_post]` and `[public.mitid_erhverv]` (issue 30): the kommune's CVR with its
/// check digits, the services over HTTPS only, the receipts on an address of their own; the
/// sign-in with a small clock skew. Each at its line, saying what to write.
#[test]
fn the_national_rails_are_checked() {
    let section = "[digital_post]
sender_cvr = \"69116419\"
sender_label = \"\"
sts_url = \"http://sts.example.dk/issue\"
token_url = \"https://sp.example.dk/token\"
service_url = \"https://sp.example.dk/kombi\"
certificate = \"oces3.crt\"
key = \"oces3.key\"

[digital_post.receipts]
listen = \"127.0.0.1:8081\"
client_ca_file = \"kombit.pem\"
tls = { cert_file = \"r.crt\", key_file = \"r.key\" }

[public.privacy]";
    let (err, path, _dir) = load_with("modtag.toml", "[public.privacy]", section);
    for (needle, says) in [
        ("sender_cvr", "is not a CVR number"),
        ("sender_label", "sender_label is empty"),
        ("sts_url", "give the service's https:// address"),
        (
            "listen = \"127.0.0.1:8081\"",
            "need an address of their own",
        ),
        // Any certificate from the authority would do, without KOMBIT's own named.
        (
            "client_ca_file",
            "client_certificates is missing: give the SHA-256 fingerprint",
        ),
    ] {
        let place = format!("{}:{}:", path.display(), line_in(&path, needle));
        assert!(
            err.lines().any(|l| l.contains(&place) && l.contains(says)),
            "{needle}: {err}"
        );
    }
    // A fingerprint that is not one, on its own line of a list that spans several.
    let fingerprints = section.replace(
        "client_ca_file = \"kombit.pem\"",
        "client_ca_file = \"kombit.pem\"\nclient_certificates = [\n  \"A8:11:46:30:F1:03:78:79:15:35:06:D8:01:62:74:B0:7C:0F:94:83:D5:FA:E5:B9:E1:DC:62:8E:F9:F4:0E:83\",\n  \"kombit.crt\",\n]",
    );
    let (err, path, _dir) = load_with("modtag.toml", "[public.privacy]", &fingerprints);
    let place = format!("{}:{}:", path.display(), line_in(&path, "\"kombit.crt\""));
    assert!(
        err.lines().any(
            |l| l.contains(&place) && l.contains("\"kombit.crt\" is not a SHA-256 fingerprint")
        ),
        "{err}"
    );
    assert!(!err.contains("client_certificates is missing"), "{err}");
    let mitid = "[public.mitid_erhverv]
idp_metadata = \"idp.xml\"
signing_key = \"s.key\"
signing_certificate = \"s.crt\"
encryption_key = \"e.key\"
encryption_certificate = \"e.crt\"
max_clock_skew_secs = 3600

[public.privacy]";
    let (err, path, _dir) = load_with("modtag.toml", "[public.privacy]", mitid);
    let place = format!(
        "{}:{}:",
        path.display(),
        line_in(&path, "max_clock_skew_secs")
    );
    assert!(
        err.lines()
            .any(|l| l.contains(&place) && l.contains("max_clock_skew_secs may be at most 600")),
        "{err}"
    );
}
