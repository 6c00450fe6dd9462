//! STARTTLS on the wire: swaks and openssl as the peers.

use modtag_tests::*;
use std::process::Command;

/// `openssl s_client -starttls smtp` with one protocol version. The client's security level
/// is lowered so that it is willing to offer TLS 1.0/1.1: the refusal must be the server's.
fn handshake(d: &Daemon, version: &str) -> String {
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-starttls",
            "smtp",
            "-connect",
            &d.smtp.to_string(),
        ])
        .arg(format!("-{version}"))
        .args(["-cipher", "DEFAULT:@SECLEVEL=0"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl is installed");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn only_tls_1_2_and_1_3_are_accepted() {
    let d = Daemon::start(Options::default());
    for old in ["tls1", "tls1_1"] {
        let out = handshake(&d, old);
        assert!(
            out.contains("Cipher is (NONE)") && out.contains("alert"),
            "{old} was not refused:\n{out}"
        );
    }
    assert!(handshake(&d, "tls1_2").contains("New, TLSv1.2, Cipher is"));
    assert!(handshake(&d, "tls1_3").contains("New, TLSv1.3, Cipher is"));

    // Garbage instead of a ClientHello ends that connection only.
    let mut c = Smtp::connect(d.smtp);
    c.cmd("EHLO client.example");
    assert!(c.cmd("STARTTLS").starts_with("220"));
    c.send_raw(b"GET / HTTP/1.0\r\n\r\n");
    // A TLS alert record (content type 21), then the connection is closed.
    assert!(c.reply().starts_with('\u{15}'));
    assert_eq!(c.reply(), "", "the connection is closed");
    assert!(d.send("Efter", "TLS-fejl").starts_with("MT-"));

    // Operations see the refused handshakes (the two old versions and the garbage).
    let m = wait_for(
        "the handshakes counted",
        std::time::Duration::from_secs(10),
        || {
            let m = http_get(d.http, "/metrics").unwrap().1;
            m.contains("modtag_smtp_tls_handshakes_total{result=\"failed\"} 3\n")
                .then_some(m)
        },
    );
    assert!(
        m.contains("modtag_smtp_tls_handshakes_total{result=\"ok\"} 2\n"),
        "{m}"
    );
}

#[test]
fn swaks_over_starttls_and_the_tls_is_recorded() {
    let d = Daemon::start(Options::default());
    let t = d.swaks_args(&[
        "--to",
        "underretning@localhost",
        "-tls",
        "--body",
        "over TLS",
    ]);
    assert!(t.contains("TLS started"), "{t}");
    let reference = queued_as(&t).unwrap_or_else(|| panic!("{t}"));
    let item = d.cli_json(&["triage", "show", &reference, "--json"]);
    let tls = item["transport"]["tls"].as_str().unwrap();
    assert!(
        tls.starts_with("TLSv1_3 ") || tls.starts_with("TLSv1_2 "),
        "{tls}"
    );
    let plain = d.swaks_args(&["--to", "underretning@localhost", "--body", "plain"]);
    let reference = queued_as(&plain).unwrap();
    assert_eq!(
        d.cli_json(&["triage", "show", &reference, "--json"])["transport"]["tls"],
        "none"
    );
}

#[test]
fn forced_tls_partners_must_use_starttls() {
    let d = Daemon::start(Options {
        smtp_extra: "require_tls_domains = [\"skole.dk\"]".into(),
        ..Options::default()
    });
    let plain = d.swaks_args(&[
        "--to",
        "underretning@localhost",
        "--from",
        "kontor@bakke.skole.dk",
    ]);
    assert!(
        plain.contains("530 5.7.0 Must issue a STARTTLS command first"),
        "{plain}"
    );
    let tls = d.swaks_args(&[
        "--to",
        "underretning@localhost",
        "--from",
        "kontor@bakke.skole.dk",
        "-tls",
    ]);
    assert!(queued_as(&tls).is_some(), "{tls}");
    let other = d.swaks_args(&["--to", "underretning@localhost", "--from", "a@andet.dk"]);
    assert!(queued_as(&other).is_some(), "{other}");
}

/// Under systemd the TLS key can be a credential (`LoadCredential=`): `credential:NAME` in the
/// configuration reads `$CREDENTIALS_DIRECTORY/NAME`, and without that directory start-up
/// stops saying what to do.
#[test]
fn the_tls_key_can_be_a_systemd_credential() {
    use std::os::unix::fs::PermissionsExt;
    let creds = tempfile::tempdir().unwrap();
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args([
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=modtag-credential-test",
        ])
        .arg("-keyout")
        .arg(creds.path().join("modtag-tls.key"))
        .arg("-out")
        .arg(creds.path().join("modtag-tls.crt"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    // As systemd leaves them: readable by the service only.
    for f in ["modtag-tls.key", "modtag-tls.crt"] {
        std::fs::set_permissions(creds.path().join(f), std::fs::Permissions::from_mode(0o400))
            .unwrap();
    }
    let edits = vec![(
        "# [smtp.tls]\n# cert_file = \"tls/cert.pem\"\n# key_file = \"tls/key.pem\"".to_string(),
        "[smtp.tls]\ncert_file = \"credential:modtag-tls.crt\"\nkey_file = \"credential:modtag-tls.key\"".to_string(),
    )];
    let d = Daemon::start(Options {
        edits: edits.clone(),
        env: vec![(
            "CREDENTIALS_DIRECTORY".into(),
            creds.path().display().to_string(),
        )],
        ..Options::default()
    });
    let out = handshake(&d, "tls1_3");
    assert!(
        out.contains("CN=modtag-credential-test") || out.contains("CN = modtag-credential-test"),
        "{out}"
    );
    drop(d);

    // Without systemd's directory: a clear refusal.
    let mut d = Daemon::new(Options {
        edits,
        ..Options::default()
    });
    let out = Command::new(modtag_bin())
        .args(["serve", "--config"])
        .arg(&d.config)
        .arg("--data")
        .arg(&d.data)
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("credential:modtag-tls.crt needs a systemd credential")
            && err.contains("LoadCredential=modtag-tls.crt:"),
        "{err}"
    );
    // Nothing says a daemon runs there: no address for the CLI, no socket, no "started".
    let left: Vec<_> = ["daemon.json", "modtag.sock"]
        .into_iter()
        .filter(|f| d.data.join(f).exists())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("SMTP on")
            && !err.contains("modtag started"),
        "{out:?}"
    );
    d.kill();
}

/// modtag's own certificate for HTTPS (`[http.tls]`): with it, the staff listener may face
/// the network; browsers get `Secure` cookies, the CLI reaches it with a personal token and
/// the kommune's CA, and plain HTTP gets no answer.
#[test]
fn the_staff_listener_serves_https_with_its_own_certificate() {
    use std::os::unix::fs::PermissionsExt;
    let mut d = Daemon::new(Options::default());
    // The kommune's own certificate authority, and modtag's certificate from it.
    let at = |name: &str| d.dir.path().join(name);
    let openssl = |args: &[&str]| {
        let made = Command::new("openssl")
            .args(args)
            .current_dir(d.dir.path())
            .output()
            .unwrap();
        assert!(made.status.success(), "openssl {args:?}: {made:?}");
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &["-days", "2", "-subj", "/CN=Kommunens CA"],
            &["-keyout", "ca.key", "-out", "ca.crt"],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-subj",
                "/CN=modtag.kommune.localhost",
                "-keyout",
                "web.key",
                "-out",
                "web.csr",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        at("web.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "web.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "web.ext",
        "-out",
        "web.crt",
    ]);
    std::fs::set_permissions(at("web.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let cert = at("ca.crt");
    // On every address, which plain HTTP may not.
    // The public forms' listener too, with the same certificate.
    let port = d.http.port();
    let public = d.public.port();
    let config = std::fs::read_to_string(&d.config)
        .unwrap()
        .replace(
            &format!("listen = \"127.0.0.1:{port}\""),
            &format!("listen = \"0.0.0.0:{port}\""),
        )
        .replace(
            &format!("listen = \"127.0.0.1:{public}\""),
            &format!("listen = \"0.0.0.0:{public}\""),
        )
        + "\n[http.tls]\ncert_file = \"web.crt\"\nkey_file = \"web.key\"\n"
        + "\n[public.tls]\ncert_file = \"web.crt\"\nkey_file = \"web.key\"\n";
    std::fs::write(&d.config, config).unwrap();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let base = format!("https://127.0.0.1:{port}");
    d.spawn_until(|| {
        client
            .get(format!("{base}/healthz"))
            .send()
            .is_ok_and(|r| r.status() == 200)
    });
    let login = client.get(format!("{base}/login")).send().unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert_eq!(
        login.headers()["strict-transport-security"],
        "max-age=31536000",
        "browsers keep to HTTPS"
    );
    assert!(
        http_get(d.http, "/healthz").is_none(),
        "plain HTTP on the HTTPS port gets no answer"
    );
    let form = client
        .get(format!("https://127.0.0.1:{public}/sendsikkert"))
        .send()
        .unwrap();
    assert_eq!(form.status(), 200);
    let cookie = form.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert_eq!(
        form.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    assert!(
        http_get(d.public, "/sendsikkert").is_none(),
        "no plain HTTP there either"
    );

    let token = d.personal_token();
    let file = d.dir.path().join("token");
    std::fs::write(&file, &token).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cli = |ca: Option<&std::path::Path>| {
        let mut c = Command::new(modtag_bin());
        c.args(["--api", &base, "--token-file"])
            .arg(&file)
            .args(["triage", "list", "--json"]);
        if let Some(ca) = ca {
            c.env("MODTAG_CA_FILE", ca);
        }
        c.output().unwrap()
    };
    let out = cli(Some(&cert));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without the kommune's CA the certificate is not trusted, and the CLI says where it
    // could not go.
    let out = cli(None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("cannot reach modtag at {base}")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
