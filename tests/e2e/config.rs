//! Configuration errors stop start-up with the file, the line and what to fix.

use modtag_tests::*;
use std::process::Command;

fn serve_with(config: &std::path::Path, data: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(modtag_bin())
        .args(["serve", "--config"])
        .arg(config)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn invalid_config_stops_start_up_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_config(dir.path(), free_port(), free_port(), &Options::default());
    let text = std::fs::read_to_string(&good).unwrap();

    // A misspelt key: toml's own error, placed.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, text.replace("hostname = ", "hostnme = ")).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("hostname"))
        .unwrap()
        + 1;
    let (code, err) = serve_with(&bad, &dir.path().join("data"));
    assert_eq!(code, Some(1));
    assert!(err.contains(&format!("bad.toml:{line}:")), "{err}");
    assert!(err.contains("hostnme"), "{err}");
    assert!(
        !dir.path().join("data").exists(),
        "no data directory for a config that fails"
    );

    // A bad value: a channel that does not exist.
    std::fs::write(
        &bad,
        text.replace("channel = \"trivselplus\"", "channel = \"trivsel\""),
    )
    .unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("channel = \"trivselplus\""))
        .unwrap()
        + 1;
    let (code, err) = serve_with(&bad, &dir.path().join("data"));
    assert_eq!(code, Some(1));
    assert!(
        err.contains(&format!("bad.toml:{line}:")) && err.contains("trivsel"),
        "{err}"
    );

    // `config check` says the same without starting anything.
    let out = Command::new(modtag_bin())
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("bad.toml:{line}:")));

    // The public forms on a non-loopback address without TLS: refused, saying what to do.
    let public = text.lines().position(|l| l == "[public]").unwrap();
    let (line, listen) = text
        .lines()
        .enumerate()
        .skip(public)
        .find(|(_, l)| l.starts_with("listen = "))
        .unwrap();
    std::fs::write(
        &bad,
        text.replace(listen, &listen.replace("127.0.0.1", "0.0.0.0")),
    )
    .unwrap();
    let out = Command::new(modtag_bin())
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("bad.toml:{}:", line + 1)) && err.contains("[public.tls]"),
        "{err}"
    );

    // The desk's address for notification links must be one a browser opens.
    std::fs::write(
        &bad,
        text.replace(
            "# url = \"https://modtag.kommune.dk\"",
            "url = \"modtag.kommune.dk\"",
        ),
    )
    .unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("# url = \"https://modtag.kommune.dk\""))
        .unwrap()
        + 1;
    let out = Command::new(modtag_bin())
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("bad.toml:{line}:")) && err.contains("https://"),
        "{err}"
    );
}

#[test]
fn a_tree_naming_an_unknown_role_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let demo = root().join("deploy/demo");
    let tree = std::fs::read_to_string(demo.join("beslutningstrae.toml")).unwrap();
    let bad_tree = tree.replacen("to = [\"raadgiver\"]", "to = [\"raadgivr\"]", 1);
    std::fs::write(dir.path().join("tree.toml"), &bad_tree).unwrap();
    let config = write_config(dir.path(), free_port(), free_port(), &Options::default());
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace(
        &format!("{:?}", demo.join("beslutningstrae.toml")),
        "\"tree.toml\"",
    );
    std::fs::write(&config, text).unwrap();
    let rule_line = bad_tree
        .lines()
        .position(|l| l.contains("id = \"underretning-eksisterende-sag\""))
        .unwrap()
        + 1;
    let (code, err) = serve_with(&config, &dir.path().join("data"));
    assert_eq!(code, Some(1));
    assert!(err.contains(&format!("tree.toml:{rule_line}:")), "{err}");
    assert!(err.contains("unknown role \"raadgivr\""), "{err}");
}

#[test]
fn embedded_default_checks_clean_and_template_round_trips() {
    let out = modtag(&["config", "check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("embedded default: ok"));
    let tpl = modtag(&["config", "template"]);
    let tpl = String::from_utf8_lossy(&tpl.stdout).into_owned();
    let demo = std::fs::read_to_string(root().join("deploy/demo/modtag.toml")).unwrap();
    // The template is the demo with STARTTLS required of the relay (issue 17).
    let differs: Vec<(&str, &str)> = tpl
        .lines()
        .zip(demo.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(differs.len(), 1, "{differs:?}");
    assert!(differs[0].0.starts_with("tls = \"starttls\"") && differs[0].1 == "tls = \"none\"");
    assert_eq!(tpl.lines().count(), demo.lines().count());
    // Written beside the demo's policy files, it checks clean.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("modtag.toml");
    std::fs::write(
        &copy,
        tpl.replace(
            "\"directory.toml\"",
            &format!("{:?}", root().join("deploy/demo/directory.toml")),
        )
        .replace(
            "\"beslutningstrae.toml\"",
            &format!("{:?}", root().join("deploy/demo/beslutningstrae.toml")),
        )
        .replace(
            "\"keys/",
            &format!("\"{}/", root().join("deploy/demo/keys").display()),
        )
        .replace(
            "\"logo.svg\"",
            &format!("{:?}", root().join("deploy/demo/logo.svg")),
        ),
    )
    .unwrap();
    let out = modtag(&["config", "check", copy.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Public forms without their privacy notice (GDPR art. 13, issue 29): `config check` and
/// start-up both refuse, at `[public]`, naming the section to add and its keys.
#[test]
fn public_forms_without_a_privacy_notice_do_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_config(dir.path(), free_port(), free_port(), &Options::default());
    let text = std::fs::read_to_string(&good).unwrap();
    let start = text.find("[public.privacy]\n").unwrap();
    let end = start + text[start..].find("\n\n").unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, format!("{}{}", &text[..start], &text[end..])).unwrap();
    let line = text.lines().position(|l| l == "[public]").unwrap() + 1;
    let says = |err: &str| {
        err.contains(&format!("bad.toml:{line}:"))
            && err.contains("add a [public.privacy] section with controller, purpose")
    };
    let out = modtag(&["config", "check", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(says(&err), "{err}");
    let (code, err) = serve_with(&bad, &dir.path().join("data"));
    assert_eq!(code, Some(1), "{err}");
    assert!(says(&err), "{err}");
}

/// Plain SMTP to a relay off this machine is refused, with the file and line (issue 17).
#[test]
fn a_plaintext_relay_off_this_machine_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_config(dir.path(), free_port(), free_port(), &Options::default());
    let text = std::fs::read_to_string(&good).unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        text.replace("host = \"127.0.0.1\"", "host = \"relay.kommune.dk\""),
    )
    .unwrap();
    let line = std::fs::read_to_string(&bad)
        .unwrap()
        .lines()
        .position(|l| l.starts_with("tls = \"none\""))
        .unwrap()
        + 1;
    let out = modtag(&["config", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("bad.toml:{line}:"))
            && err.contains("relay.kommune.dk")
            && err.contains("starttls"),
        "{err}"
    );
}

#[test]
fn classify_settings_are_checked_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_config(dir.path(), free_port(), free_port(), &Options::default());
    let text = std::fs::read_to_string(&good).unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        text.replace("max_parts = 1000", "max_parts = 1").replace(
            "# attachment_types = [\"application/pdf\", \"image/*\", \"text/plain\"]",
            "attachment_types = [\"pdf\"]",
        ),
    )
    .unwrap();
    let line_of = |needle: &str| {
        std::fs::read_to_string(&bad)
            .unwrap()
            .lines()
            .position(|l| l.starts_with(needle))
            .unwrap()
            + 1
    };
    let out = Command::new(modtag_bin())
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("bad.toml:{}:", line_of("max_parts")))
            && err.contains("classify.max_parts must be at least 10"),
        "{err}"
    );
    assert!(
        err.contains(&format!("bad.toml:{}:", line_of("attachment_types")))
            && err.contains("\"pdf\" is not a type/subtype"),
        "{err}"
    );
}

/// The `route explain` examples in README.md print exactly what the README shows.
#[test]
fn readme_explain_examples_are_true() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut checked = 0;
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(file) = line.strip_prefix("$ modtag route explain ") else {
            continue;
        };
        let shown: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        let out = Command::new(modtag_bin())
            .args(["route", "explain", file])
            .current_dir(root())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            printed.lines().collect::<Vec<_>>(),
            shown,
            "README example {file}"
        );
        checked += 1;
    }
    assert!(checked >= 3, "the README shows {checked} explain examples");
}

/// `config check` reads every file start-up reads: a listener's certificate that is missing
/// or is not PEM, MitID Erhverv's metadata, Digital Post's key. Each is refused naming the
/// file, as start-up would refuse it, rather than passing the check and failing the start.
#[test]
fn config_check_reads_the_files_start_up_reads() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_config(dir.path(), free_port(), free_port(), &Options::default());
    let text = std::fs::read_to_string(&good).unwrap();
    let not_pem = dir.path().join("not-a-cert.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let key = dir.path().join("key.pem");
    std::fs::write(&key, "").unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let missing = dir.path().join("missing.pem");
    let cases = [
        (
            "[http]\n",
            format!("[http.tls]\ncert_file = {missing:?}\nkey_file = {key:?}\n\n[http]\n"),
            "missing.pem",
        ),
        (
            "[http]\n",
            format!("[http.tls]\ncert_file = {not_pem:?}\nkey_file = {key:?}\n\n[http]\n"),
            "not-a-cert.pem",
        ),
        (
            "[public.privacy]",
            format!(
                "[public.mitid_erhverv]\nidp_metadata = {missing:?}\nsigning_key = {key:?}\n\
                 signing_certificate = {not_pem:?}\nencryption_key = {key:?}\n\
                 encryption_certificate = {not_pem:?}\n\n[public.privacy]"
            ),
            "idp_metadata",
        ),
    ];
    for (anchor, insert, says) in cases {
        let bad = dir.path().join("bad.toml");
        assert!(text.contains(anchor), "{anchor}");
        std::fs::write(&bad, text.replacen(anchor, &insert, 1)).unwrap();
        let out = modtag(&["config", "check", bad.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{says}: {err}");
    }
    let out = modtag(&["config", "check", good.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
