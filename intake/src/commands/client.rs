//! The CLI's client for a running daemon's API. It finds the daemon through the data
//! directory (`daemon.json` for the address, `api-token` for the token) unless given `--api`.
//! Answers are read into the API's own types (`modtag_intake::api::types`), so a field the
//! daemon does not send is an error that says so, never a silent blank.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use modtag_intake::daemon::DAEMON_FILE;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub struct Api {
    base: String,
    token: String,
    actor: String,
    purpose: Option<String>,
}

impl Api {
    pub fn connect(
        data: &Path,
        api: Option<&str>,
        token_file: Option<&Path>,
        actor: &str,
        purpose: Option<&str>,
    ) -> Result<Api> {
        let base = match api {
            Some(a) => a.trim_end_matches('/').to_string(),
            None => {
                let path = data.join(DAEMON_FILE);
                let text = std::fs::read_to_string(&path).with_context(|| {
                    format!(
                        "no running modtag found: {} is missing (start `modtag serve --data {}`, or give --api URL)",
                        path.display(),
                        data.display()
                    )
                })?;
                let v: Value = serde_json::from_str(&text)
                    .with_context(|| format!("{} is damaged", path.display()))?;
                v["api"]
                    .as_str()
                    .ok_or_else(|| anyhow!("{} names no api", path.display()))?
                    .to_string()
            }
        };
        let token = match token_file {
            // A secret file like the others: refused when others may read it.
            Some(f) => String::from_utf8_lossy(&modtag_storage::keys::read_secret(f)?)
                .trim()
                .to_string(),
            None => {
                modtag_storage::keys::read_api_token(data).context("cannot read the API token")?
            }
        };
        Ok(Api {
            base,
            token,
            actor: actor.to_string(),
            purpose: purpose.map(str::to_string),
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
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path))
            .header("authorization", format!("Bearer {}", self.token))
            .header("x-modtag-actor", &self.actor);
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
        let req = req.body(Full::new(Bytes::from(payload)))?;
        let resp = client
            .request(req)
            .await
            .with_context(|| format!("cannot reach modtag at {}", self.base))?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            let v: Value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
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
                bail!("{msg} ({status})\n{}", lines.join("\n"));
            }
            bail!("{msg} ({status})");
        }
        Ok(bytes)
    }
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
