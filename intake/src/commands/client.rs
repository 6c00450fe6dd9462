//! The CLI's client for a running daemon's API. On the server it talks over the data
//! directory's socket (`modtag.sock`), where the daemon learns the operating-system user from
//! the kernel and acts as the account the configuration maps it to; elsewhere (or as another
//! account) over HTTP with a personal token (`--token-file`), at `--api` or the address in
//! `daemon.json`. Answers are read into the API's own types (`modtag_intake::api::types`),
//! so a field the daemon does not send is an error that says so, never a silent blank.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use modtag_intake::daemon::{DAEMON_FILE, SOCKET_FILE};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// How requests reach the daemon.
enum Transport {
    /// The data directory's socket: the kernel says who we are.
    Socket(PathBuf),
    /// HTTP with a personal token.
    Http { base: String, token: String },
}

pub struct Api {
    transport: Transport,
    purpose: Option<String>,
}

impl Api {
    pub fn connect(
        data: &Path,
        api: Option<&str>,
        token_file: Option<&Path>,
        purpose: Option<&str>,
    ) -> Result<Api> {
        let purpose = purpose.map(str::to_string);
        let Some(token_file) = token_file else {
            if api.is_some() {
                bail!(
                    "--api needs --token-file: over HTTP you act with a personal token \
                     (`modtag users token ID` makes one); on the server, leave out --api"
                );
            }
            let socket = data.join(SOCKET_FILE);
            if std::fs::symlink_metadata(&socket).is_err() {
                bail!(
                    "no running modtag found: {} is missing (start `modtag serve --data {}`, \
                     or give --api URL --token-file FILE)",
                    socket.display(),
                    data.display()
                );
            }
            left_by_daemon(&socket, data)?;
            return Ok(Api {
                transport: Transport::Socket(socket),
                purpose,
            });
        };
        // A secret file like the others: refused when others may read it.
        let token = String::from_utf8_lossy(&modtag_storage::keys::read_secret(token_file)?)
            .trim()
            .to_string();
        let base = match api {
            Some(a) => a.trim_end_matches('/').to_string(),
            None => daemon_address(data)?,
        };
        Ok(Api {
            transport: Transport::Http { base, token },
            purpose,
        })
    }

    /// `GET path`, its JSON answer read as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let bytes = self.call_raw("GET", path, None).await?;
        read(path, &bytes)
    }

    /// `POST path` with a JSON body, its JSON answer read as `T`.
    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        let bytes = serde_json::to_vec(body)?;
        let answer = self
            .call_raw("POST", path, Some((bytes, "application/json")))
            .await?;
        read(path, &answer)
    }

    /// `POST path` with a file as it is (a tree, a case list), or nothing.
    pub async fn post_file<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<(Vec<u8>, &str)>,
    ) -> Result<T> {
        let answer = self.call_raw("POST", path, body).await?;
        read(path, &answer)
    }

    /// Sends a request; returns the body of a 2xx answer as it is (a file, say), or the
    /// API's error message.
    pub async fn call_raw(
        &self,
        method: &str,
        path: &str,
        body: Option<(Vec<u8>, &str)>,
    ) -> Result<Bytes> {
        let (status, bytes) = match self.send(method, path, body, true).await? {
            Answer::Socket(resp) => {
                let status = resp.status();
                (status, resp.into_body().collect().await?.to_bytes())
            }
            Answer::Http(resp) => {
                let status = resp.status();
                (status, resp.bytes().await?)
            }
        };
        if !status.is_success() {
            return Err(refusal(status, &bytes));
        }
        Ok(bytes)
    }

    /// `GET path` written to `out` as it arrives (a backup of any size): into a new file
    /// (0600, never over an existing one) that gets its name only once the whole answer
    /// is in; an answer cut short leaves nothing behind. Returns the bytes written.
    pub async fn download(&self, path: &str, out: &Path) -> Result<u64> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt;
        if out.exists() {
            bail!("{} exists: give a new file name", out.display());
        }
        let partial = out.with_extension("partial");
        let mut answer = self.send("GET", path, None, false).await?;
        let status = match &answer {
            Answer::Socket(r) => r.status(),
            Answer::Http(r) => r.status(),
        };
        if !status.is_success() {
            let bytes = match answer {
                Answer::Socket(r) => r.into_body().collect().await?.to_bytes(),
                Answer::Http(r) => r.bytes().await?,
            };
            return Err(refusal(status, &bytes));
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        let copied: Result<u64> = async {
            let mut n = 0u64;
            loop {
                let chunk = match &mut answer {
                    Answer::Socket(r) => match r.body_mut().frame().await {
                        Some(frame) => frame?.into_data().ok(),
                        None => break,
                    },
                    Answer::Http(r) => match r.chunk().await? {
                        Some(c) => Some(c),
                        None => break,
                    },
                };
                if let Some(chunk) = chunk {
                    file.write_all(&chunk)?;
                    n += chunk.len() as u64;
                }
            }
            file.sync_all()?;
            Ok(n)
        }
        .await;
        match copied {
            Ok(n) => {
                std::fs::rename(&partial, out)?;
                Ok(n)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e.context("the daemon's answer was cut short; nothing was kept"))
            }
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<(Vec<u8>, &str)>,
        time_limit: bool,
    ) -> Result<Answer> {
        let mut req = hyper::Request::builder().method(method);
        req = match &self.transport {
            Transport::Socket(_) => req.uri(path).header("host", "localhost"),
            Transport::Http { base, token } => req
                .uri(format!("{base}{path}"))
                .header("authorization", format!("Bearer {token}")),
        };
        if let Some(purpose) = &self.purpose {
            req = req.header("x-modtag-purpose", purpose);
        }
        let payload = match body {
            Some((bytes, content_type)) => {
                req = req.header("content-type", content_type);
                bytes
            }
            None => Vec::new(),
        };
        let req = req.body(Bytes::from(payload))?;
        Ok(match &self.transport {
            Transport::Socket(socket) => {
                Answer::Socket(over_socket(socket, req.map(Full::new)).await?)
            }
            Transport::Http { base, .. } => Answer::Http(
                https_client(time_limit)?
                    .execute(reqwest::Request::try_from(req)?)
                    .await
                    .with_context(|| format!("cannot reach modtag at {base}"))?,
            ),
        })
    }
}

/// A response, read whole or as it arrives.
enum Answer {
    Socket(hyper::Response<hyper::body::Incoming>),
    Http(reqwest::Response),
}

/// The API's refusal as an error: its message, and each placed error on a line of its own.
fn refusal(status: hyper::StatusCode, bytes: &[u8]) -> anyhow::Error {
    let v: Value = serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into()));
    let msg = v["error"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string());
    if let Some(errors) = v["errors"].as_array() {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| match e.as_str() {
                // Already placed (`file:line: message`).
                Some(text) => format!("  {text}"),
                None => format!(
                    "  line {}: {}",
                    e["line"],
                    e["message"].as_str().unwrap_or("")
                ),
            })
            .collect();
        return anyhow!("{msg} ({status})\n{}", lines.join("\n"));
    }
    anyhow!("{msg} ({status})")
}

/// The client for HTTP and HTTPS (rustls). A kommune's own certificate authority is added
/// from `MODTAG_CA_FILE` (PEM) when set.
/// `time_limit`: a whole answer within five minutes (a download has none: a backup takes
/// as long as it takes; the connection still has to be made within 30 seconds).
fn https_client(time_limit: bool) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(30));
    if time_limit {
        builder = builder.timeout(std::time::Duration::from_secs(300));
    }
    if let Some(ca) = std::env::var_os("MODTAG_CA_FILE") {
        let pem = std::fs::read(&ca)
            .with_context(|| format!("MODTAG_CA_FILE: cannot read {}", Path::new(&ca).display()))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("MODTAG_CA_FILE: {} is not PEM", Path::new(&ca).display()))?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder.build()?)
}

/// One request over the daemon's Unix socket.
async fn over_socket(
    socket: &Path,
    req: hyper::Request<Full<Bytes>>,
) -> Result<hyper::Response<hyper::body::Incoming>> {
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .with_context(|| format!("cannot reach modtag at {}", socket.display()))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
        .send_request(req)
        .await
        .with_context(|| format!("modtag at {} did not answer", socket.display()))
}

/// The HTTP address of the daemon that runs on `data`, from its `daemon.json`.
fn daemon_address(data: &Path) -> Result<String> {
    let path = data.join(DAEMON_FILE);
    if std::fs::symlink_metadata(&path).is_ok() {
        left_by_daemon(&path, data)?;
    }
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no running modtag found: {} is missing (start `modtag serve --data {}`, or give --api URL)",
            path.display(),
            data.display()
        )
    })?;
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display()))?;
    Ok(v["api"]
        .as_str()
        .ok_or_else(|| anyhow!("{} names no api", path.display()))?
        .to_string())
}

/// Checks a file the running daemon leaves in its data directory (its socket, `daemon.json`)
/// before the CLI trusts it with a command or a token: it is there itself, not a link to
/// elsewhere; the directory is not writable by others; and both belong to root or to the
/// directory's owner, who is root, the user running this command, or the daemon's own user
/// (`modtag`, as the unit runs it; `MODTAG_DAEMON_USER` names another). A socket a stranger left would otherwise receive what its caller
/// does, as that caller (issue 25).
fn left_by_daemon(path: &Path, data: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let dir = std::fs::metadata(data).with_context(|| format!("cannot read {}", data.display()))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let refuse = |why: String| {
        anyhow!(
            "refusing {}: {why}; the CLI uses only the socket a modtag daemon made in the data \
             directory it is given",
            path.display()
        )
    };
    if meta.file_type().is_symlink() {
        return Err(refuse("it is a link".into()));
    }
    if dir.mode() & 0o022 != 0 {
        return Err(refuse(format!(
            "{} may be written by others (mode {:o})",
            data.display(),
            dir.mode() & 0o777
        )));
    }
    // Not any system account: www-data's directory is not modtag's (issue 25 review).
    let daemon_user = std::env::var("MODTAG_DAEMON_USER").unwrap_or_else(|_| "modtag".into());
    let trusted_dir = dir.uid() == 0
        || dir.uid() == me
        || modtag_intake::identity::local::os_user_name(dir.uid()).as_deref()
            == Some(daemon_user.as_str());
    if !trusted_dir {
        return Err(refuse(format!(
            "{} belongs to uid {}, neither root, you, nor the daemon's user (modtag, or MODTAG_DAEMON_USER)",
            data.display(),
            dir.uid()
        )));
    }
    if meta.uid() != 0 && meta.uid() != dir.uid() {
        return Err(refuse(format!(
            "it belongs to uid {}, neither root nor the owner of {}",
            meta.uid(),
            data.display()
        )));
    }
    Ok(())
}

/// Reads an answer as the type this CLI expects; a mismatch names the endpoint.
fn read<T: DeserializeOwned>(path: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).with_context(|| {
        let endpoint = path.split('?').next().unwrap_or(path);
        format!(
            "the daemon's answer to {endpoint} is not what this modtag expects; are the daemon \
             and the command the same version?"
        )
    })
}

/// Percent-encodes a query value (file names, dates).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
