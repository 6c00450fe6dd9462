//! The XML signature and encryption work of the MitID Erhverv sign-in, done by Debian's
//! `xmlsec1` (Aleksey Sanin's XML Security Library, the implementation behind pysaml2,
//! Lasso and python-xmlsec) in a process of its own.
//!
//! Why not a Rust crate: checking an XML signature needs exclusive canonicalisation and
//! XML Encryption, which no well-kept pure-Rust crate offers; `samael` binds the same
//! library in-process through bindgen (libclang, which this workspace avoids, see the
//! OpenPGP backend) and is a 0.0 release. A child process parses hostile XML in C with
//! nothing but stdin and stdout, is killed after a deadline, and the response (personal
//! data) never reaches a disk: it goes through a pipe.
//!
//! What it is asked is narrow, so that what was checked is what modtag reads
//! (`response.rs`): decrypt the one `EncryptedData` with the service provider's key, with
//! only an `EncryptedKey` to find the session key by; and verify the one signature of a
//! document modtag built from the assertion alone, its `KeyInfo` removed, against the
//! IdP's certificate from the metadata: the key and the element are modtag's choice, never
//! the message's.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long one run may take before it is killed.
const DEADLINE: Duration = Duration::from_secs(10);
/// At most this much output is read (a response is a few kilobytes).
const MAX_OUTPUT: u64 = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Xmlsec {
    program: PathBuf,
}

impl Xmlsec {
    pub fn new(program: &str) -> Xmlsec {
        Xmlsec {
            program: PathBuf::from(program),
        }
    }

    /// Whether the program runs at all (checked at start, so a missing package stops
    /// start-up rather than the first sign-in).
    pub async fn version(&self) -> Result<String, String> {
        let (ok, out) = self
            .run(&["--version".as_ref()], b"")
            .await
            .map_err(|e| format!("{} could not run: {e}", self.program.display()))?;
        let text = String::from_utf8_lossy(&out).trim().to_string();
        if ok && text.starts_with("xmlsec1") {
            Ok(text)
        } else {
            Err(format!(
                "{} did not answer as xmlsec1 does (install Debian's xmlsec1)",
                self.program.display()
            ))
        }
    }

    /// The document with its `EncryptedData` replaced by what it decrypts to, with `key`.
    pub async fn decrypt(&self, key: &Path, doc: &[u8]) -> Result<Vec<u8>, String> {
        let args: [&std::ffi::OsStr; 8] = [
            "--decrypt".as_ref(),
            // The session key only from an EncryptedKey; no retrieval, no cipher reference.
            "--enabled-key-data".as_ref(),
            "enc-key".as_ref(),
            "--enabled-cipher-reference-uris".as_ref(),
            "empty".as_ref(),
            "--privkey-pem".as_ref(),
            key.as_os_str(),
            "-".as_ref(),
        ];
        match self.run(&args, doc).await {
            Ok((true, out)) => Ok(out),
            Ok((false, _)) => Err("xmlsec1 could not decrypt the assertion".into()),
            Err(e) => Err(format!("xmlsec1 could not run: {e}")),
        }
    }

    /// Whether the one signature in `doc` (an assertion, by its `ID`) verifies with the
    /// public key of the certificate `cert`.
    pub async fn verify(&self, cert: &Path, doc: &[u8]) -> Result<bool, String> {
        let args: [&std::ffi::OsStr; 10] = [
            "--verify".as_ref(),
            // The key is the one given here: no key from the message itself.
            "--enabled-key-data".as_ref(),
            "key-name".as_ref(),
            "--enabled-reference-uris".as_ref(),
            "same-doc".as_ref(),
            "--pubkey-cert-pem".as_ref(),
            cert.as_os_str(),
            "--id-attr:ID".as_ref(),
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion".as_ref(),
            "-".as_ref(),
        ];
        match self.run(&args, doc).await {
            Ok((ok, _)) => Ok(ok),
            Err(e) => Err(format!("xmlsec1 could not run: {e}")),
        }
    }

    /// Runs the program with `input` on stdin: whether it succeeded, and its stdout.
    async fn run(
        &self,
        args: &[&std::ffi::OsStr],
        input: &[u8],
    ) -> std::io::Result<(bool, Vec<u8>)> {
        let mut child = tokio::process::Command::new(&self.program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Its errors name certificates and libxml2's complaints, which may quote the
            // document: not logged.
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let mut stdin = child.stdin.take().expect("piped");
        let mut stdout = child.stdout.take().expect("piped");
        let input = input.to_vec();
        let work = async move {
            // Written and read at once, so that neither pipe fills while the other waits.
            let write = async {
                stdin.write_all(&input).await?;
                drop(stdin);
                Ok::<_, std::io::Error>(())
            };
            let read = async {
                let mut out = Vec::new();
                (&mut stdout).take(MAX_OUTPUT).read_to_end(&mut out).await?;
                Ok::<_, std::io::Error>(out)
            };
            let (written, out) = tokio::join!(write, read);
            // A program that stops reading early (it refused the input) is answered by its
            // exit status, not by the broken pipe.
            if let Err(e) = written {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(e);
                }
            }
            let out = out?;
            let status = child.wait().await?;
            Ok((status.success(), out))
        };
        tokio::time::timeout(DEADLINE, work)
            .await
            .unwrap_or_else(|_| Err(std::io::Error::other("xmlsec1 took too long")))
    }
}
