//! `modtag-tests`: the harness for end-to-end tests that drive the real `modtag` binary.
//!
//! - [`Daemon`]: `modtag serve` in a temporary directory on free loopback ports, with a
//!   config generated from the demo, and the CLI run against it.
//! - [`Sink`]: Debian's `smtp-sink` as the outbound relay, dumping each message to a file.
//! - [`Gpg`]: Debian's `gpg` with a demo recipient's secret key, to decrypt what arrives.
//! - [`Smtp`]: a raw SMTP client for transcript-style checks.
//!
//! The binary is found beside the test executable (`target/debug/modtag`), which
//! `cargo test --workspace` builds because `modtag-intake` has integration tests; set
//! `MODTAG_BIN` to test another build. `cargo test -p modtag-tests` alone does not rebuild
//! the binary: after changing the daemon, run with `--workspace`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
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
pub mod forms;

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
}

impl Daemon {
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
        let child = Command::new(modtag_bin())
            .args(["serve", "--config"])
            .arg(&self.config)
            .arg("--data")
            .arg(&self.data)
            .env("MODTAG_LOG", "info")
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

    /// `modtag triage decide REF ARGS... --json` (as [`DEMO_ACCOUNT`]), asserting success.
    pub fn decide(&self, reference: &str, args: &[&str]) -> Value {
        let mut all = vec!["triage", "decide", reference, "--json"];
        all.extend_from_slice(args);
        self.cli_json(&all)
    }

    /// `modtag users add ID --email E --role R --json` with [`TEST_PASSWORD`] on standard
    /// input; the account's `otpauth://` URI.
    pub fn add_user(&self, id: &str, email: &str, role: &str) -> String {
        let mut child = Command::new(modtag_bin())
            .arg("--data")
            .arg(&self.data)
            .args([
                "users", "add", id, "--email", email, "--role", role, "--json",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{TEST_PASSWORD}").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "users add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["otpauth_uri"].as_str().unwrap().to_string()
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
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
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

/// A minimal HTTP GET: `(status, body)`, or `None` if nothing answers.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    http_get_with(addr, path, None).map(|(code, _, body)| (code, body))
}

/// An HTTP GET with an optional bearer token: `(status, header block, body)`.
pub fn http_get_with(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
) -> Option<(u16, String, String)> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    http_get_headers(addr, path, &headers)
}

/// An HTTP GET with these request headers: `(status, header block, body)`.
pub fn http_get_headers(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Option<(u16, String, String)> {
    http_request(addr, "GET", path, headers, b"")
}

/// Any HTTP request, raw: `(status, header block, body)`. The path is sent as given (so a
/// test can send bytes a client library would refuse).
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, String, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let length = if body.is_empty() {
        String::new()
    } else {
        format!("Content-Length: {}\r\n", body.len())
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{extra}{length}Connection: close\r\n\r\n"
    )
    .ok()?;
    // The server may answer before reading a refused body; a failed write is not an error.
    let _ = s.write_all(body);
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split_whitespace().nth(1)?.parse().ok()?;
    let (head, body) = buf.split_once("\r\n\r\n").unwrap_or((&buf, ""));
    Some((code, head.to_string(), body.to_string()))
}

/// Debian's `smtp-sink` as the relay: every message lands in a file of its own.
pub struct Sink {
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Sink {
    pub fn start(port: u16) -> Sink {
        Sink::start_with(port, &[])
    }

    /// With extra smtp-sink options, e.g. `["-f", "RCPT"]` to refuse every recipient.
    pub fn start_with(port: u16, options: &[&str]) -> Sink {
        let dir = tempfile::tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let mut cmd = Command::new("smtp-sink");
        if is_root() {
            cmd.args(["-u", "nobody"]);
        }
        let child = cmd
            .args(options)
            .arg("-d")
            .arg(format!("{}/%M.", dir.path().display()))
            .arg(format!("127.0.0.1:{port}"))
            .arg("100")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("smtp-sink is installed (apt-get install postfix)");
        wait_for("smtp-sink to listen", Duration::from_secs(10), || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        });
        Sink { dir, child }
    }

    /// Waits until `n` complete messages have arrived; returns them. smtp-sink writes a
    /// dump as the message streams in, so a file counts once it holds the closing
    /// boundary of modtag's PGP/MIME message.
    pub fn wait(&self, n: usize) -> Vec<String> {
        wait_for(
            &format!("{n} messages at smtp-sink"),
            Duration::from_secs(60),
            || {
                let dumps: Vec<String> = files_below(self.dir.path())
                    .iter()
                    .filter_map(|f| std::fs::read_to_string(f).ok())
                    .filter(|d| is_complete(d))
                    .collect();
                (dumps.len() >= n).then_some(dumps)
            },
        )
    }

    /// Waits for `n` complete messages to the kommune's own people (`@kommune.localhost`),
    /// leaving out kvitteringer to reporters; returns those.
    pub fn wait_kommune(&self, n: usize) -> Vec<String> {
        wait_for(
            &format!("{n} messages to the kommune at smtp-sink"),
            Duration::from_secs(60),
            || {
                let dumps: Vec<String> = self
                    .wait(1)
                    .into_iter()
                    .filter(|d| rcpt_of(d).ends_with("@kommune.localhost"))
                    .collect();
                (dumps.len() >= n).then_some(dumps)
            },
        )
    }

    pub fn count(&self) -> usize {
        files_below(self.dir.path()).len()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_complete(dump: &str) -> bool {
    let pgp = dump.contains("-----END PGP MESSAGE-----") && dump.trim_end().ends_with("--");
    // Kvitteringer and deadline notices are short plain messages, written in one piece.
    let plain = dump.contains("Auto-Submitted: auto-generated") && body_of(dump).ends_with('\n');
    // Calendar invitations: complete once the closing boundary is there.
    let invitation = dump.contains("text/calendar") && dump.trim_end().ends_with("--");
    pgp || plain || invitation
}

/// The decoded text of a plain (base64) message from modtag, as smtp-sink dumped it.
pub fn plain_body(dump: &str) -> String {
    let joined: String = body_of(dump).split_whitespace().collect();
    let bytes = base64_decode(&joined);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// What follows the header block (smtp-sink dumps with CRLF or LF line ends).
fn body_of(dump: &str) -> &str {
    let crlf = dump.find("\r\n\r\n").map(|p| p + 4);
    let lf = dump.find("\n\n").map(|p| p + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => &dump[a.min(b)..],
        (Some(a), None) | (None, Some(a)) => &dump[a..],
        (None, None) => "",
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_default()
}

/// The envelope recipient smtp-sink recorded.
pub fn rcpt_of(dump: &str) -> String {
    dump.lines()
        .find_map(|l| l.strip_prefix("X-Rcpt-Args: <"))
        .map(|l| l.trim_end_matches('>').to_string())
        .unwrap_or_default()
}

/// The armored OpenPGP block of a PGP/MIME message.
pub fn armored_block(dump: &str) -> String {
    let start = dump
        .find("-----BEGIN PGP MESSAGE-----")
        .expect("an OpenPGP block");
    let end = dump
        .find("-----END PGP MESSAGE-----")
        .expect("end of the OpenPGP block");
    dump[start..end + "-----END PGP MESSAGE-----".len()].to_string() + "\n"
}

/// Debian's gpg with one or more demo secret keys imported.
pub struct Gpg {
    home: tempfile::TempDir,
}

impl Gpg {
    /// `keys` are demo key names, as in `deploy/demo/keys/NAME.key.asc`.
    pub fn with_demo_keys(keys: &[&str]) -> Gpg {
        let home = tempfile::tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        for k in keys {
            let status = Command::new("gpg")
                .arg("--homedir")
                .arg(home.path())
                .args(["--batch", "--quiet", "--import"])
                .arg(root().join(format!("deploy/demo/keys/{k}.key.asc")))
                .stderr(Stdio::null())
                .status()
                .expect("gpg is installed");
            assert!(status.success(), "gpg could not import {k}");
        }
        Gpg { home }
    }

    /// Decrypts an armored message; `Err` carries gpg's complaint.
    pub fn decrypt(&self, armored: &str) -> Result<String, String> {
        let mut child = Command::new("gpg")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--batch", "--quiet", "--decrypt"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(armored.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

/// Reads one SMTP reply, all of its lines (`250-...` continues, `250 ...` ends it).
pub fn read_reply(r: &mut impl BufRead) -> std::io::Result<String> {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        all.push_str(&line);
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(all);
        }
    }
}

/// A raw SMTP client for transcripts: send a line, read the whole reply.
pub struct Smtp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    pub greeting: String,
}

impl Smtp {
    pub fn connect(addr: SocketAddr) -> Smtp {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut c = Smtp {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
            greeting: String::new(),
        };
        c.greeting = c.reply();
        c
    }

    /// A session from `helo` that has started a message to Modtagelsen (after `354`).
    pub fn in_data(addr: SocketAddr, helo: &str) -> Smtp {
        let mut c = Smtp::connect(addr);
        c.cmd(&format!("EHLO {helo}"));
        c.start_message();
        c
    }

    /// MAIL, RCPT to Modtagelsen and DATA, checked up to `354`.
    pub fn start_message(&mut self) {
        assert!(self.cmd("MAIL FROM:<a@b.example>").starts_with("250"));
        assert!(self
            .cmd("RCPT TO:<underretning@localhost>")
            .starts_with("250"));
        let r = self.cmd("DATA");
        assert!(r.starts_with("354"), "{r}");
    }

    /// Reads one (possibly multi-line) reply.
    pub fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).unwrap_or(0) == 0 {
                return all;
            }
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return all;
            }
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
    }

    /// Sends `bytes` one at a time, `every` apart, from a thread of its own (a slow-loris
    /// client); it stops at the end or when the connection is closed.
    pub fn trickle(&self, bytes: &[u8], every: Duration) -> std::thread::JoinHandle<usize> {
        let mut w = self.writer.try_clone().unwrap();
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            for (sent, b) in bytes.iter().enumerate() {
                if w.write_all(&[*b]).is_err() {
                    return sent;
                }
                std::thread::sleep(every);
            }
            bytes.len()
        })
    }

    /// Sends a command line and returns the reply.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send_raw(format!("{line}\r\n").as_bytes());
        self.reply()
    }
}

/// The password of every account the tests make.
pub const TEST_PASSWORD: &str = "korrekt hest batteri";

/// The code an authenticator app enrolled with `uri` shows `steps` periods (30 s) from now.
pub fn totp_code(uri: &str, steps: i64) -> String {
    let t = totp_rs::TOTP::from_url(uri).unwrap();
    let at = jiff::Timestamp::now().as_second() + steps * 30;
    t.generate(u64::try_from(at).unwrap())
}

/// The whole `Set-Cookie` value for cookie `name` in a response's header block.
pub fn set_cookie<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        let v = v.trim();
        (k.eq_ignore_ascii_case("set-cookie") && v.starts_with(&format!("{name}="))).then_some(v)
    })
}

/// The value of a page's hidden `csrf` field.
pub fn csrf_field(page: &str) -> Option<String> {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(str::to_string)
}

/// panva's `oidc-provider` on loopback (`tests/oidc/provider.mjs`, installed there by
/// `npm ci`), with one client registered.
pub struct OpenIdProvider {
    pub issuer: String,
    child: Child,
}

impl OpenIdProvider {
    pub fn start(client_id: &str, secret: &str, redirect_uri: &str) -> OpenIdProvider {
        let dir = root().join("tests/oidc");
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "the OpenID provider is not installed: run `npm ci` in {}",
            dir.display()
        );
        let port = free_port();
        // Its output (warnings about running as a test fixture, and any server error with
        // its stack) goes to a file in the temporary directory, for when a test fails.
        let log = std::env::temp_dir().join(format!("modtag-oidc-provider-{port}.log"));
        let child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .args([&port.to_string(), client_id, secret, redirect_uri])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("node runs");
        let issuer = format!("http://127.0.0.1:{port}");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        wait_for("the OpenID provider", Duration::from_secs(30), || {
            http_get(addr, "/.well-known/openid-configuration").filter(|(c, _)| *c == 200)
        });
        OpenIdProvider { issuer, child }
    }

    /// What the token endpoint hands out next (see `provider.mjs`).
    pub fn set_mode(&self, mode: &str) {
        let addr: SocketAddr = self.issuer.trim_start_matches("http://").parse().unwrap();
        let (code, _) = http_get(addr, &format!("/__mode/{mode}")).unwrap();
        assert_eq!(code, 200);
    }
}

impl Drop for OpenIdProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
