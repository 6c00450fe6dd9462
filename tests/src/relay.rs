//! The far side of delivery: Debian's `smtp-sink` as the relay, reading what it got, and
//! Debian's `gpg` with the demo keys to decrypt it.

use std::io::Write;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{files_below, is_root, root, wait_for};

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

/// The `text/calendar` part of an invitation from modtag, decoded, and its iTIP method
/// (`REQUEST`, `CANCEL`) from the part's content type.
pub fn calendar_part(dump: &str) -> (String, String) {
    let (_, rest) = dump
        .split_once("Content-Type: text/calendar; charset=utf-8; method=")
        .expect("a text/calendar part");
    let method: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
    let b64: String = body_of(rest)
        .lines()
        .take_while(|l| !l.starts_with("--"))
        .collect::<String>()
        .split_whitespace()
        .collect();
    let ics = String::from_utf8(base64_decode(&b64)).expect("UTF-8 calendar text");
    (method, ics)
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
        let gpg = Gpg { home };
        for k in keys {
            gpg.import(&root().join(format!("deploy/demo/keys/{k}.key.asc")));
        }
        gpg
    }

    /// Imports a key or a certificate (a demo secret key, modtag's signing certificate).
    pub fn import(&self, cert: &std::path::Path) {
        let status = Command::new("gpg")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--batch", "--quiet", "--import"])
            .arg(cert)
            .stderr(Stdio::null())
            .status()
            .expect("gpg is installed");
        assert!(status.success(), "gpg could not import {}", cert.display());
    }

    /// gpg with `args` on this keyring, `input` on its standard input.
    fn gpg(&self, args: &[&str], input: impl AsRef<[u8]>) -> std::process::Output {
        let mut child = Command::new("gpg")
            .arg("--homedir")
            .arg(self.home.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_ref())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Decrypts a binary OpenPGP message (an audit entry's payload) with nothing else.
    pub fn decrypt_binary(&self, message: &[u8]) -> Result<String, String> {
        let out = self.gpg(&["--batch", "--quiet", "--decrypt"], message);
        match out.status.success() {
            true => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
            false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
        }
    }

    /// Decrypts an armored message and reports what gpg made of its signature: the
    /// plaintext (empty if none) and gpg's status lines (`[GNUPG:] GOODSIG ...`,
    /// `NO_PUBKEY`, `DECRYPTION_FAILED` ...).
    pub fn decrypt_verified(&self, armored: &str) -> (String, String) {
        let out = self.gpg(&["--batch", "--status-fd", "2", "--decrypt"], armored);
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Decrypts an armored message; `Err` carries gpg's complaint. A signature by a key this
    /// keyring lacks (modtag's own, until its certificate is imported) leaves the message
    /// readable, as for a recipient who has not imported it: gpg then exits 2 with the
    /// plaintext written, which is taken as read here (`decrypt_verified` checks signatures).
    pub fn decrypt(&self, armored: &str) -> Result<String, String> {
        let out = self.gpg(&["--batch", "--quiet", "--decrypt"], armored);
        let err = String::from_utf8_lossy(&out.stderr);
        let unknown_signer = err.contains("Can't check signature: No public key")
            && !err.contains("decryption failed")
            && !out.stdout.is_empty();
        if out.status.success() || unknown_signer {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(err.into_owned())
        }
    }
}
