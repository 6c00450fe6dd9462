//! The CLI on the server acts as a person (issue 13): the daemon learns the operating-system
//! user at the other end of `DATA/modtag.sock` from the kernel, and `[cli] accounts` names
//! the account that user acts as. No shared token, no claimed name.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

use modtag_tests::*;

/// `nobody` in Debian's user database.
const NOBODY: u32 = 65534;

fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Runs `modtag --data DATA ARGS...` as the operating-system user `nobody`, through a link
/// to the binary in a directory that user may pass (the build directory may be closed to
/// it). A hard link costs no disk; a copy (hundreds of MB) only across file systems.
fn cli_as_nobody(d: &Daemon, args: &[&str]) -> std::process::Output {
    let bin = d.dir.path().join("modtag-link");
    if !bin.exists() && std::fs::hard_link(modtag_bin(), &bin).is_err() {
        std::fs::copy(modtag_bin(), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    Command::new(&bin)
        .arg("--data")
        .arg(&d.data)
        .args(args)
        .current_dir("/")
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap()
}

#[test]
fn the_cli_acts_as_the_account_its_operating_system_user_is_mapped_to() {
    assert!(
        running_as_root(),
        "this test runs the CLI as another operating-system user, which needs root (CI runs \
         the suite as root)"
    );
    let mut d = Daemon::start(Options {
        edits: vec![(
            "accounts = { \"@serve\" = \"demo\" }".into(),
            "accounts = { \"@serve\" = \"demo\", \"nobody\" = \"lene.holm\" }".into(),
        )],
        ..Options::default()
    });
    // Others may pass through the test's directories to the socket; every file in the data
    // directory stays 0600.
    for dir in [d.dir.path(), d.data.as_path()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    let r = d.send("Bekymring for et barn", "Hun kommer sulten i skole.");

    // Mapped to an account that does not exist yet: refused, saying what to do.
    let out = cli_as_nobody(&d, &["triage", "list", "--json"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nobody acts as account \"lene.holm\", which does not exist"),
        "{err}"
    );

    // Once the account exists, `nobody` works as Lene Holm, Modtagelsen's leader.
    d.add_user(
        "lene.holm",
        "lene.holm@kommune.localhost",
        "modtagelsen_leder",
    );
    let list = cli_as_nobody(&d, &["triage", "list", "--json"]);
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    assert!(String::from_utf8_lossy(&list.stdout).contains(&r));
    let shown = cli_as_nobody(&d, &["triage", "show", &r, "--json"]);
    assert!(shown.status.success());
    // The account administration is not hers: she is no admin.
    let users = cli_as_nobody(&d, &["users", "list"]);
    assert!(!users.status.success());
    assert!(
        String::from_utf8_lossy(&users.stderr).contains("admin"),
        "{}",
        String::from_utf8_lossy(&users.stderr)
    );

    // The one running the tests (the daemon's own user) is the demo account.
    let mine = d.cli_json(&["triage", "show", &r, "--json"]);
    assert_eq!(mine["reference"], r.as_str());

    // Unmapped: nobody is refused once the mapping goes, and the refusal is audited.
    std::fs::write(
        &d.config,
        std::fs::read_to_string(&d.config)
            .unwrap()
            .replace(", \"nobody\" = \"lene.holm\"", ""),
    )
    .unwrap();
    let reloaded = d.cli(&["config", "reload"]);
    assert!(
        reloaded.status.success(),
        "{}",
        String::from_utf8_lossy(&reloaded.stderr)
    );
    let refused = cli_as_nobody(&d, &["triage", "list"]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("the operating-system user nobody may not use modtag here")
            && err.contains("403"),
        "{err}"
    );
    // A script that keeps trying is one burst in the audit log, not an entry a call.
    for _ in 0..20 {
        assert!(!cli_as_nobody(&d, &["triage", "list"]).status.success());
    }
    // The database's files are the daemon's alone, whatever passes through the directory.
    for f in files_below(&d.data.join("db")) {
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", f.display());
    }

    assert!(d.stop().success());
    assert!(
        !d.data.join("modtag.sock").exists(),
        "the socket goes at stop"
    );
    let viewed = d.audit_text("viewed");
    assert!(viewed.contains("\"actor\":\"lene.holm\""), "{viewed}");
    assert!(viewed.contains("\"actor\":\"demo\""), "{viewed}");
    let failed = d.audit_text("login_failed");
    assert!(failed.contains("\"os_user\":\"nobody\""), "{failed}");
    let bursts = failed.matches("\"os_user\":\"nobody\"").count();
    assert!(bursts <= 3, "{bursts} entries for 22 refusals:\n{failed}");
}

/// The CLI uses only a socket a daemon made in the data directory it is given (issue 25): a
/// stranger's socket (another user's directory) or a link to one elsewhere is refused, so a
/// command and its caller's identity never go to someone else's process.
#[test]
fn the_cli_refuses_a_socket_a_stranger_left() {
    assert!(
        running_as_root(),
        "this test makes files of another user, which needs root"
    );
    let dir = tempfile::tempdir().unwrap();
    // Another user's (nobody), or a system account's that is not modtag's (www-data, 33).
    let mut listening = Vec::new();
    for (uid, name) in [(NOBODY, "theirs"), (33, "www-data")] {
        let theirs = dir.path().join(name);
        std::fs::create_dir(&theirs).unwrap();
        let sock = theirs.join("modtag.sock");
        listening.push(std::os::unix::net::UnixListener::bind(&sock).unwrap());
        std::os::unix::fs::chown(&theirs, Some(uid), Some(uid)).unwrap();
        std::os::unix::fs::chown(&sock, Some(uid), Some(uid)).unwrap();
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = modtag(&["--data", theirs.to_str().unwrap(), "triage", "list"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            err.contains("refusing") && err.contains(&format!("uid {uid}")),
            "{err}"
        );
    }
    let sock = dir.path().join("theirs/modtag.sock");

    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::os::unix::fs::symlink(&sock, mine.join("modtag.sock")).unwrap();
    let out = modtag(&["--data", mine.to_str().unwrap(), "triage", "list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("it is a link"), "{err}");
}

#[test]
fn a_shared_token_from_an_older_data_directory_is_removed_and_opens_nothing() {
    let mut d = Daemon::new(Options::default());
    std::fs::create_dir_all(&d.data).unwrap();
    std::fs::set_permissions(&d.data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let old = d.data.join("api-token");
    std::fs::write(&old, "0123456789abcdef0123456789abcdef").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o600)).unwrap();
    d.spawn();
    assert!(!old.exists(), "the shared token is gone");
    let (code, _, _) = http_get_with(
        d.http,
        "/api/v1/triage",
        Some("0123456789abcdef0123456789abcdef"),
    )
    .unwrap();
    assert_eq!(code, 401);
    // `X-Modtag-Actor` names nobody: with a personal token the audit log has its person.
    let token = d.personal_token();
    let r = d.send("Bekymring", "tekst");
    let (code, _, _) = http_get_headers(
        d.http,
        &format!("/api/v1/triage/{r}"),
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("X-Modtag-Actor", "Someone Else"),
        ],
    )
    .unwrap();
    assert_eq!(code, 200);
    assert!(d.stop().success());
    let viewed = d.audit_text("viewed");
    assert!(viewed.contains("\"actor\":\"demo\""), "{viewed}");
    assert!(!viewed.contains("Someone Else"), "{viewed}");
}
