//! `modtag-tests`: the harness for end-to-end tests that drive the real `modtag` binary.
//!
//! - [`Daemon`] (here): `modtag serve` in a temporary directory on free loopback ports,
//!   with a config generated from the demo, and the CLI run against it.
//! - `relay.rs`: [`Sink`], Debian's `smtp-sink` as the outbound relay, dumping each message
//!   to a file, and [`Gpg`], Debian's `gpg` with a demo recipient's key, to decrypt it.
//! - `scan.rs`: what the tests look for in a daemon: [`PERSONAL_DATA`] in its logs (every
//!   daemon's, when it is dropped) and its peak memory.
//! - `smtp.rs`: [`Smtp`], a raw SMTP client for transcript-style checks; `load.rs`
//!   [`Load`], a client that keeps sending while a test does something else.
//! - `http.rs`: raw HTTP requests, cookies and CSRF fields; `forms.rs` the public forms'
//!   bodies; `browser.rs` headless Chromium over WebDriver; `oidc.rs` a real OpenID
//!   provider.
//!
//! The binary is found beside the test executable (`target/debug/modtag`), which
//! `cargo test --workspace` builds because `modtag-intake` has integration tests; set
//! `MODTAG_BIN` to test another build. `cargo test -p modtag-tests` alone does not rebuild
//! the binary: after changing the daemon, run with `--workspace`.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn modtag_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("MODTAG_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("modtag");
    assert!(
        bin.exists(),
        "{} not found: run the tests with `cargo test --workspace`, or set MODTAG_BIN",
        bin.display()
    );
    bin
}

/// Runs `modtag ARGS...` with no daemon (configuration, routing, offline audit).
pub fn modtag(args: &[&str]) -> Output {
    Command::new(modtag_bin()).args(args).output().unwrap()
}

/// A loopback port that was free a moment ago, and never handed out before in this
/// process: a daemon's SMTP, HTTP, public and relay ports must differ, and the kernel may
/// give a released port again at once.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut given = GIVEN.lock().unwrap();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Polls `f` until it returns `Some`, for at most `limit`. For waiting on another process
/// (a daemon starting, a relay receiving), never for our own work.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every regular file below `dir` (not the CLI's socket, which holds nothing).
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_below(&p));
            } else if p.is_file() {
                out.push(p);
            }
        }
    }
    out
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

pub mod browser;
mod desk;
mod digitalpost;
pub mod disk;
pub mod forms;
mod http;
mod load;
mod oidc;
mod relay;
mod saml;
pub mod scan;
mod smtp;

pub use desk::*;
pub use digitalpost::*;
pub use http::*;
pub use load::Load;
pub use oidc::*;
pub use relay::*;
pub use saml::*;
pub use scan::{peak_rss, PERSONAL_DATA};
pub use smtp::*;

/// Settings for a test daemon's generated configuration.
#[derive(Clone)]
pub struct Options {
    pub relay_port: u16,
    /// The public forms' listener (`[public] listen`).
    pub public_port: u16,
    pub max_message_size: usize,
    /// Extra lines for the `[smtp]` section.
    pub smtp_extra: String,
    /// Plain text replacements in the demo configuration, applied last.
    pub edits: Vec<(String, String)>,
    /// Plain text replacements in the demo directory (then written beside the configuration).
    pub directory_edits: Vec<(String, String)>,
    /// Extra environment for the daemon.
    pub env: Vec<(String, String)>,
    /// Runs the daemon under libfaketime (Debian's `faketime`) from this UTC instant
    /// (`2026-12-08T09:00:00Z`), its clock going on from there: for what depends on the
    /// time of day and the calendar. Change it between a stop and a spawn to move the clock.
    pub faketime: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            relay_port: free_port(),
            public_port: free_port(),
            max_message_size: 52428800,
            smtp_extra: String::new(),
            edits: Vec::new(),
            directory_edits: Vec::new(),
            env: Vec::new(),
            faketime: None,
        }
    }
}

/// The demo configuration with free ports, short retries and absolute policy paths.
pub fn write_config(dir: &Path, smtp: u16, http: u16, opts: &Options) -> PathBuf {
    let demo = root().join("deploy/demo");
    let text = std::fs::read_to_string(demo.join("modtag.toml")).unwrap();
    let text = text
        .replace("127.0.0.1:2525", &format!("127.0.0.1:{smtp}"))
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{http}"))
        .replace("127.0.0.1:8081", &format!("127.0.0.1:{}", opts.public_port))
        .replace("port = 2526", &format!("port = {}", opts.relay_port))
        .replace("retry_initial_secs = 30", "retry_initial_secs = 1")
        .replace("retry_max_secs = 3600", "retry_max_secs = 2")
        .replace(
            "max_message_size = 52428800",
            &format!("max_message_size = {}", opts.max_message_size),
        )
        .replace(
            "\"directory.toml\"",
            &format!("{:?}", directory_file(dir, &demo, opts)),
        )
        .replace(
            "\"beslutningstrae.toml\"",
            &format!("{:?}", demo.join("beslutningstrae.toml")),
        )
        .replace("\"logo.svg\"", &format!("{:?}", demo.join("logo.svg")))
        .replace(
            "\"keys/auditor.cert.asc\"",
            &format!("{:?}", demo.join("keys/auditor.cert.asc")),
        );
    // Each extra `key = value` replaces the demo's line for that key, or is added.
    let mut text = text;
    for extra in opts.smtp_extra.lines().filter(|l| l.contains('=')) {
        let key = extra.split('=').next().unwrap().trim();
        text = text
            .lines()
            .filter(|l| l.split('=').next().map(str::trim) != Some(key))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n";
        text = text.replacen("[smtp]\n", &format!("[smtp]\n{extra}\n"), 1);
    }
    for (from, to) in &opts.edits {
        assert!(
            text.contains(from.as_str()),
            "the demo configuration has no {from:?}"
        );
        text = text.replace(from.as_str(), to);
    }
    let path = dir.join("modtag.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The demo directory, or an edited copy of it in `dir` (its certificates still the demo's).
fn directory_file(dir: &Path, demo: &Path, opts: &Options) -> PathBuf {
    if opts.directory_edits.is_empty() {
        return demo.join("directory.toml");
    }
    let mut text = std::fs::read_to_string(demo.join("directory.toml")).unwrap();
    for (from, to) in &opts.directory_edits {
        assert!(
            text.contains(from.as_str()),
            "the demo directory has no {from:?}"
        );
        text = text.replace(from.as_str(), to);
    }
    let keys = format!("cert_file = \"{}/keys/", demo.display());
    let path = dir.join("directory.toml");
    std::fs::write(&path, text.replace("cert_file = \"keys/", &keys)).unwrap();
    path
}

/// The account the demo configuration maps the operating-system user running `modtag serve`
/// (and so the tests' CLI) to: it works Modtagelsen's and Journalen's desks, and is admin.
pub const DEMO_ACCOUNT: &str = "demo";

pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub config: PathBuf,
    pub smtp: SocketAddr,
    pub http: SocketAddr,
    /// The public forms (`[public]`).
    pub public: SocketAddr,
    pub opts: Options,
    child: Option<Child>,
    /// Each account [`Daemon::add_user`] enrolled: its `otpauth://` URI, and how many sign-ins
    /// the harness made for it (each takes the next step's code).
    accounts: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// How far the daemon's clock is ahead of this process's, under `faketime`.
    clock_offset: jiff::SignedDuration,
}

impl Daemon {
    /// The daemon's time now (its `faketime`, or the real time).
    pub fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now() + self.clock_offset
    }

    /// The TOTP code of `steps` periods from the daemon's now, for the enrolment `uri`.
    pub fn totp(&self, uri: &str, steps: i64) -> String {
        totp_code_at(uri, self.now(), steps)
    }

    pub fn start(opts: Options) -> Daemon {
        let mut d = Daemon::new(opts);
        d.spawn();
        d
    }

    /// A configured daemon that is not running yet (to prepare its data directory first).
    pub fn new(opts: Options) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let (smtp, http) = (free_port(), free_port());
        let config = write_config(dir.path(), smtp, http, &opts);
        Daemon {
            data: dir.path().join("data"),
            dir,
            config,
            smtp: format!("127.0.0.1:{smtp}").parse().unwrap(),
            http: format!("127.0.0.1:{http}").parse().unwrap(),
            public: format!("127.0.0.1:{}", opts.public_port).parse().unwrap(),
            opts,
            child: None,
            accounts: Default::default(),
            clock_offset: jiff::SignedDuration::ZERO,
        }
    }

    /// Starts (again) on the same data directory and configuration.
    pub fn spawn(&mut self) {
        let http = self.http;
        self.spawn_until(|| http_get(http, "/healthz").is_some_and(|(code, _)| code == 200));
    }

    /// Starts, and waits until `ready` (for a listener that is not plain HTTP).
    pub fn spawn_until(&mut self, mut ready: impl FnMut() -> bool) {
        let log = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.path().join(name))
                .unwrap()
        };
        let mut command = match &self.opts.faketime {
            None => Command::new(modtag_bin()),
            Some(at) => {
                // The library itself, not the `faketime` wrapper: that forks, and a signal
                // to it would not reach the daemon.
                let at: jiff::Timestamp = at.parse().expect("faketime: a UTC instant");
                let mut c = Command::new(modtag_bin());
                c.env("LD_PRELOAD", libfaketime())
                    .env("FAKETIME", at.strftime("@%Y-%m-%d %H:%M:%S").to_string())
                    .env("TZ", "UTC");
                c
            }
        };
        let child = command
            .args(["serve", "--config"])
            .arg(&self.config)
            .arg("--data")
            .arg(&self.data)
            // Debug logging for every daemon of the suite: its logs are searched for the
            // personal data the tests use when it is dropped (see `PERSONAL_DATA`).
            .env("MODTAG_LOG", "debug")
            .envs(self.opts.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log("stdout.log"))
            .stderr(log("stderr.log"))
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_for("the daemon to be ready", Duration::from_secs(60), || {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "modtag serve exited with {status} at start-up:\n{}",
                    self.stderr()
                );
            }
            ready().then_some(())
        });
        if self.opts.faketime.is_some() {
            self.clock_offset = self.clock_ahead();
        }
    }

    /// How far the daemon's clock is ahead of this process's (libfaketime starts it when
    /// the daemon first asks for the time, not when it was spawned): by the `Date` of its
    /// answers, at the moment its second turns, so to a few milliseconds and not to the
    /// second (a TOTP code near a step's end depends on it).
    fn clock_ahead(&self) -> jiff::SignedDuration {
        let date = || {
            let (_, head, _) = http_get_headers(self.http, "/healthz", &[]).expect("healthz");
            let date = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("date")
                        .then(|| value.trim().to_string())
                })
                .expect("a Date header");
            jiff::fmt::rfc2822::parse(&date)
                .expect("an RFC 2822 date")
                .timestamp()
        };
        let first = date();
        loop {
            let asked = jiff::Timestamp::now();
            let theirs = date();
            if theirs != first {
                return theirs.duration_since(asked);
            }
        }
    }

    /// `modtag audit subject-access --cpr CPR` with the demo auditors' key (on a stopped
    /// daemon's data), and `extra` arguments.
    pub fn subject_access(&self, cpr: &str, extra: &[&str]) -> Output {
        let auditor = auditor_key(self.dir.path());
        let mut args = vec![
            "audit",
            "subject-access",
            "--key",
            auditor.to_str().unwrap(),
            "--cpr",
            cpr,
        ];
        args.extend_from_slice(extra);
        self.cli(&args)
    }

    /// Stops the daemon, writes the checkpoint of its log (signed at the shutdown) to the
    /// file the auditors keep, and starts it again; the file.
    pub fn keep_checkpoint(&mut self) -> PathBuf {
        assert!(self.stop().success());
        let kept = self.dir.path().join("kept-checkpoint");
        let out = self.cli(&["audit", "checkpoint"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&kept, &out.stdout).unwrap();
        self.spawn();
        kept
    }

    /// `modtag serve` on this daemon's configuration and data, expected to refuse to start:
    /// what it answered. One that is still running after a minute is killed, and the test
    /// fails.
    pub fn serve_refused(&self) -> Output {
        let mut child = Command::new(modtag_bin())
            .args(["serve", "--config"])
            .arg(&self.config)
            .arg("--data")
            .arg(&self.data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("modtag serve started where it should have refused");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        child.wait_with_output().unwrap()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("daemon running").id()
    }

    /// SIGTERM, then waits for the exit.
    pub fn stop(&mut self) -> ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        self.wait_exit(Duration::from_secs(60))
    }

    /// Waits for the daemon to exit by itself.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("daemon running");
        let start = Instant::now();
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return s;
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                panic!("modtag did not stop within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The daemon's exit status if it has exited (by itself: a crash), else `None`.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().unwrap()?;
        self.child = None;
        Some(status)
    }

    /// SIGKILL: the crash case.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs `modtag --data DATA ARGS...`: over the data directory's socket, as the account
    /// the demo configuration maps the user running the tests to ([`DEMO_ACCOUNT`]).
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(modtag_bin())
            .arg("--data")
            .arg(&self.data)
            .args(args)
            .output()
            .unwrap()
    }

    /// A personal API token of the demo account (`modtag users token demo`), for requests
    /// over HTTP.
    pub fn personal_token(&self) -> String {
        let out = self.cli(&["users", "token", DEMO_ACCOUNT, "--days", "1"]);
        assert!(
            out.status.success(),
            "users token: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.starts_with("mt_"))
            .expect("a token is printed")
            .to_string()
    }

    /// A personal API token that account `id` (enrolled by [`Daemon::add_user`]) made for
    /// itself, signed in with the next step's code, in a 0600 file for [`Daemon::cli_as`]:
    /// no one makes a token for another account.
    pub fn token_file(&self, id: &str) -> PathBuf {
        let uri = self
            .accounts
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} was not enrolled with add_user"));
        let signed = self.sign_in_at(id, &uri, 1);
        self.token_file_of(&signed)
    }

    /// Runs the CLI as the account whose token is in `token_file`.
    pub fn cli_as(&self, token_file: &Path, args: &[&str]) -> Output {
        let mut all = vec!["--token-file", token_file.to_str().unwrap()];
        all.extend_from_slice(args);
        self.cli(&all)
    }

    /// The audit log's entries of one kind, one JSON object per line as `modtag audit read`
    /// prints them, read with the demo auditors' key. Stop the daemon first.
    pub fn audit_text(&self, kind: &str) -> String {
        let key = auditor_key(self.dir.path());
        let out = self.cli(&[
            "audit",
            "read",
            "--key",
            key.to_str().unwrap(),
            "--kind",
            kind,
        ]);
        assert!(
            out.status.success(),
            "audit read: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// How many intakes the store holds, open and closed (`triage list --all`).
    pub fn intakes(&self) -> usize {
        self.cli_json(&["triage", "list", "--all", "--json"])["items"]
            .as_array()
            .expect("triage list --json has items")
            .len()
    }

    /// `modtag triage decide REF ARGS... --json` (as [`DEMO_ACCOUNT`]), asserting success.
    pub fn decide(&self, reference: &str, args: &[&str]) -> Value {
        let mut all = vec!["triage", "decide", reference, "--json"];
        all.extend_from_slice(args);
        self.cli_json(&all)
    }

    /// `modtag users add ID --email E --role R --json`, then the enrolment as the person
    /// does it at the link the administrator gave them: [`TEST_PASSWORD`] chosen twice, the
    /// authenticator's URI read off the page, a code confirmed (the previous step's, so that
    /// a sign-in right after may take this step's). Returns the `otpauth://` URI.
    pub fn add_user(&self, id: &str, email: &str, role: &str) -> String {
        let v = self.cli_json(&[
            "users", "add", id, "--email", email, "--role", role, "--json",
        ]);
        let url = v["enrolment_url"].as_str().expect("an enrolment link");
        let uri = self.enrol(url, TEST_PASSWORD);
        self.accounts
            .lock()
            .unwrap()
            .insert(id.to_string(), uri.clone());
        uri
    }

    /// Enrols at `url` (an enrolment link) with `password`; the `otpauth://` URI.
    pub fn enrol(&self, url: &str, password: &str) -> String {
        let path = &url[url.find("/tilmeld/").expect("a /tilmeld/ link")..];
        let (status, head, page) = http_get_headers(self.http, path, &[]).unwrap();
        assert_eq!(status, 200, "{page}");
        let cookie = cookie_of(&head, "modtag_tilmeld").expect("the form's cookie");
        let post = |cookie: &str, fields: &str, csrf: &str| {
            let body = format!("csrf={csrf}&{fields}");
            http_request(
                self.http,
                "POST",
                path,
                &[
                    ("Content-Type", "application/x-www-form-urlencoded"),
                    ("Cookie", cookie),
                ],
                body.as_bytes(),
            )
            .unwrap()
        };
        let pw = form_encode(password);
        let (status, head, page) = post(
            &cookie,
            &format!("password={pw}&password2={pw}"),
            &csrf_field(&page).unwrap(),
        );
        assert_eq!(status, 200, "{page}");
        let uri = page
            .split("<code class=\"secret\">")
            .map(|p| p.split("</code>").next().unwrap())
            .find(|c| c.starts_with("otpauth://"))
            .expect("the authenticator's URI on the page")
            .replace("&amp;", "&")
            .replace("&#x2f;", "/")
            .replace("&#x3d;", "=");
        // The rest of the enrolment is the browser's that chose the password (its cookie).
        let browser = cookie_of(&head, "modtag_tilmeld_browser").expect("the browser's cookie");
        // The previous step's code; should a 30-second step end between computing it and
        // the server checking it, the page comes back and the (new) previous step's is sent.
        let (mut cookie, mut page) = (cookie_of(&head, "modtag_tilmeld").unwrap(), page);
        for _ in 0..2 {
            let (status, head, done) = post(
                &format!("{cookie}; {browser}"),
                &format!("totp={}", self.totp(&uri, -1)),
                &csrf_field(&page).unwrap(),
            );
            if status == 200 && done.contains("Din konto er klar") {
                return uri;
            }
            assert_eq!(status, 422, "{done}");
            (cookie, page) = (cookie_of(&head, "modtag_tilmeld").unwrap(), done);
        }
        panic!("the enrolment's code was refused twice");
    }

    /// One figure of `/metrics` (no personal data, no token).
    pub fn metric(&self, name: &str) -> i64 {
        let m = http_get(self.http, "/metrics").unwrap().1;
        m.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /metrics:\n{m}"))
    }

    /// Waits until the outbox has nothing left to try: every copy and notice queued so far
    /// was delivered or refused for good, so no more will reach the relay.
    pub fn wait_outbox_idle(&self) {
        wait_for("the outbox to empty", Duration::from_secs(60), || {
            (self.metric("modtag_outbox_pending") == 0).then_some(())
        });
    }

    /// The references of the triage queue (`modtag triage list --json`), in its order.
    pub fn queue(&self) -> Vec<String> {
        let list = self.cli_json(&["triage", "list", "--json"]);
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["reference"].as_str().unwrap().to_string())
            .collect()
    }

    /// Runs the CLI, asserts success, parses stdout as JSON.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "modtag {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "modtag {args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Sends a message with swaks (a real SMTP client); returns swaks' transcript.
    pub fn swaks(&self, to: &str, subject: &str, body: &str) -> String {
        let out = Command::new("swaks")
            .args([
                "--server",
                &self.smtp.to_string(),
                "--to",
                to,
                "--from",
                "kontor@bakkeskolen.dk",
            ])
            .args(["--header", &format!("Subject: {subject}"), "--body", body])
            .output()
            .expect("swaks is installed (apt-get install swaks)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends a one-part message from `from` to `to` with swaks; returns its transcript.
    pub fn mail(&self, to: &str, from: &str, subject: &str, body: &str) -> String {
        self.swaks_args(&[
            "--to",
            to,
            "--from",
            from,
            "--header",
            &format!("Subject: {subject}"),
            "--body",
            body,
        ])
    }

    /// Runs swaks against the daemon with extra arguments; returns its transcript.
    pub fn swaks_args(&self, args: &[&str]) -> String {
        let out = Command::new("swaks")
            .args(["--server", &self.smtp.to_string()])
            .args(args)
            .output()
            .expect("swaks is installed (apt-get install swaks)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends a whole message file (headers and all) to `to` with swaks; returns its
    /// reference.
    pub fn send_file(&self, to: &str, file: &Path) -> String {
        let t = self.swaks_args(&[
            "--to",
            to,
            "--from",
            "afsender@example.org",
            "--data",
            &format!("@{}", file.display()),
        ]);
        queued_as(&t).unwrap_or_else(|| panic!("{}: not accepted:\n{t}", file.display()))
    }

    /// Sends with swaks and returns the reference from the `250 ... queued as` reply.
    pub fn send(&self, subject: &str, body: &str) -> String {
        let t = self.swaks("underretning@localhost", subject, body);
        queued_as(&t).unwrap_or_else(|| panic!("no 'queued as' in swaks transcript:\n{t}"))
    }

    /// An underretning from Bakkeskolen's leader, a professional of the directory with a
    /// certificate, whose sender a person has confirmed (the From is not authenticated
    /// here): what a tilbagemelding may go to (issue 26). Its reference.
    pub fn send_from_school_leader(&self) -> String {
        let r = queued_as(&self.mail(
            "underretning@localhost",
            "leder.bakkeskolen@kommune.localhost",
            "Bekymring",
            "Eleven har mange fravær, cpr 120315-4321.",
        ))
        .unwrap();
        let confirmed = self.cli(&[
            "triage",
            "confirm-sender",
            &r,
            "--how",
            "ringet til lederen",
        ]);
        assert!(confirmed.status.success(), "{confirmed:?}");
        r
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
        if !std::thread::panicking() {
            let found = self.personal_data_in_logs();
            assert!(
                found.is_empty(),
                "personal data in the daemon's log:\n{}",
                found.join("\n")
            );
        }
    }
}

/// A message of the classification corpus (`tests/data/corpus`).
pub fn corpus(name: &str) -> PathBuf {
    root().join("tests/data/corpus").join(name)
}

/// The demo auditors' secret key, copied to a 0600 file in `dir` (the key that reads the
/// audit log is never in a data directory).
pub fn auditor_key(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("auditor.key.asc");
    std::fs::copy(root().join("deploy/demo/keys/auditor.key.asc"), &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// SHA-256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The reference in a `250 2.0.0 Ok: queued as MT-...` line.
pub fn queued_as(transcript: &str) -> Option<String> {
    transcript
        .lines()
        .find_map(|l| l.split("queued as ").nth(1))
        .map(|r| r.trim().to_string())
}

/// Today as modtag reckons dates: in Europe/Copenhagen, not in the machine's zone (a test at
/// 00:15 Danish time on a UTC machine would otherwise ask about yesterday).
pub fn today_in_denmark() -> jiff::civil::Date {
    jiff::Timestamp::now()
        .in_tz("Europe/Copenhagen")
        .expect("jiff bundles Europe/Copenhagen")
        .date()
}

/// A weekday (not a holiday or closed day) `days` or more from today, at 09:00 local
/// (`YYYY-MM-DDT09:00`).
pub fn open_day_from(days: i64) -> String {
    let cal = modtag_config::directory::Calendar::default();
    let mut d = today_in_denmark()
        .checked_add(jiff::Span::new().days(days))
        .unwrap();
    while modtag_router::calendar::closed(d, &cal) {
        d = d.tomorrow().unwrap();
    }
    format!("{d}T09:00")
}

/// The password of every account the tests make.
pub const TEST_PASSWORD: &str = "korrekt hest batteri";

/// The code an authenticator app enrolled with `uri` shows `steps` periods (30 s) from now.
pub fn totp_code(uri: &str, steps: i64) -> String {
    totp_code_at(uri, jiff::Timestamp::now(), steps)
}

/// Debian's libfaketime (package `faketime`), wherever the architecture puts it.
fn libfaketime() -> PathBuf {
    std::fs::read_dir("/usr/lib")
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path().join("faketime/libfaketime.so.1"))
        .find(|p| p.exists())
        .expect("libfaketime is installed (apt-get install faketime)")
}

/// The TOTP code of `steps` periods from `now`.
pub fn totp_code_at(uri: &str, now: jiff::Timestamp, steps: i64) -> String {
    let t = totp_rs::TOTP::from_url(uri).unwrap();
    let at = now.as_second() + steps * 30;
    t.generate(u64::try_from(at).unwrap())
}
