//! The Digital Post client (issue 30): KOMBIT Serviceplatformen's SF1601 KombiPostAfsend,
//! built from the service's public documentation as the municipal clients that use it in
//! production read it (itk-dev/serviceplatformen, OS2Forms, OS2valghalla; see
//! `tests/digitalpost/README.md`). Every call carries the kommune's OCES3 system certificate
//! (mutual TLS):
//!
//! 1. KOMBIT's security token service (REST WS-Trust) issues a SAML token for the service's
//!    entity id, for the kommune's CVR, bound to the certificate (`UseKey`);
//! 2. Serviceplatformen's token service exchanges it for a holder-of-key access token
//!    (kept until a minute before it expires);
//! 3. the letter is posted as a `kombi_request` with `KombiValgKode` "Digital Post" and the
//!    MeMo message, with a transaction id and time.
//!
//! The answer says only that the letter was taken for processing (its transmission id is
//! recorded on the item); delivery receipts come later through KOMBIT's Beskedfordeler.

use std::time::{Duration, Instant};

use base64::Engine as _;
use modtag_config::digital_post::DigitalPost;
use modtag_config::Loaded;
use modtag_storage::records::OutboxEntry;
use serde_json::{json, Value};

/// Why a letter did not go: for good (a person must act), or for now (tried again).
pub struct NotSent {
    pub permanent: bool,
    /// For the log: the service's status and error code, never its text.
    pub summary: String,
    /// For the audit entry (encrypted): what the service said.
    pub error: String,
}

pub struct Sf1601 {
    http: reqwest::Client,
    dp: DigitalPost,
    /// The certificate's DER, base64, as the token service's `UseKey`.
    use_key: String,
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
}

impl Sf1601 {
    /// The client `[digital_post]` configures, its certificate and key read: `None` without
    /// the section, an error that says what to fix otherwise.
    pub fn load(cfg: &Loaded) -> Result<Option<Sf1601>, String> {
        let Some(dp) = cfg.config.digital_post.clone() else {
            return Ok(None);
        };
        let read = |key: &str, file: &str| {
            let path = cfg
                .config
                .secret_path(file)
                .map_err(|e| format!("digital_post.{key}: {e}"))?;
            std::fs::read(&path)
                .map_err(|e| format!("digital_post.{key}: cannot read {}: {e}", path.display()))
        };
        let cert = read("certificate", &dp.certificate)?;
        let key_path = cfg
            .config
            .secret_path(&dp.key)
            .map_err(|e| format!("digital_post.key: {e}"))?;
        private(&key_path)?;
        let key = read("key", &dp.key)?;
        let der = pem_der(&cert).ok_or(
            "digital_post.certificate: not a PEM certificate (-----BEGIN CERTIFICATE-----)",
        )?;
        let identity = reqwest::Identity::from_pem(&[cert.as_slice(), b"\n", &key].concat())
            .map_err(|_| "digital_post.key: not the certificate's key in PEM (PKCS#8 or RSA)")?;
        let mut http = reqwest::Client::builder()
            .identity(identity)
            .http1_only()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(ca) = &dp.ca_file {
            let pem = read("ca_file", ca)?;
            let roots = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|_| "digital_post.ca_file: not PEM certificates")?;
            http = http.tls_built_in_root_certs(false);
            for root in roots {
                http = http.add_root_certificate(root);
            }
        }
        let http = http
            .build()
            .map_err(|e| format!("digital_post: the HTTPS client could not be made: {e}"))?;
        Ok(Some(Sf1601 {
            http,
            use_key: base64::engine::general_purpose::STANDARD.encode(der),
            dp,
            token: tokio::sync::Mutex::default(),
        }))
    }

    /// Sends the letter in `entry`: the service's transmission id.
    pub async fn send(&self, entry: &OutboxEntry, now: jiff::Timestamp) -> Result<String, NotSent> {
        let token = self.access_token().await?;
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><kombi_request>\
             <KombiValgKode>Digital Post</KombiValgKode>{}</kombi_request>",
            entry.message
        );
        let res = self
            .http
            .post(&self.dp.service_url)
            .header("Authorization", token)
            .header("x-TransaktionsId", modtag_workflow::memo::uuid_v4())
            .header(
                "x-TransaktionsTid",
                now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            )
            .header("Content-Type", "application/xml; charset=utf-8")
            .header("Accept", "application/xml")
            .body(body)
            .send()
            .await
            .map_err(unreachable)?;
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        let field = |name: &str| element(&text, name);
        if status.is_success() && field("Result").as_deref() == Some("true") {
            return field("TransmissionID").ok_or_else(|| NotSent {
                permanent: false,
                summary: "Serviceplatformen answered without a transmission id".into(),
                error: bounded(&text),
            });
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            *self.token.lock().await = None;
        }
        let code = field("FejlKode").unwrap_or_default();
        Err(NotSent {
            permanent: status.is_client_error() && ![401, 408, 429].contains(&status.as_u16()),
            summary: format!("Serviceplatformen answered {} {code}", status.as_u16())
                .trim()
                .to_string(),
            error: bounded(&text),
        })
    }

    /// The holder-of-key token, fetched (steps 1 and 2) when there is none or it is about
    /// to expire.
    async fn access_token(&self) -> Result<String, NotSent> {
        let mut held = self.token.lock().await;
        if let Some((token, until)) = held.as_ref() {
            if *until > Instant::now() {
                return Ok(token.clone());
            }
        }
        let issued: Value = self
            .json(self.http.post(&self.dp.sts_url).json(&json!({
                "TokenType": "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0",
                "RequestType": "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue",
                "KeyType": "http://docs.oasis-open.org/ws-sx/ws-trust/200512/PublicKey",
                "AnvenderKontekst": { "Cvr": self.dp.sender_cvr },
                "UseKey": self.use_key,
                "AppliesTo": { "EndpointReference": { "Address": self.dp.service_entity_id } },
                "OnBehalfOf": null,
            })))
            .await?;
        let assertion = issued["RequestedSecurityToken"]["Assertion"]
            .as_str()
            .ok_or_else(|| answer_error("the token service gave no assertion"))?;
        let token: Value = self
            .json(
                self.http
                    .post(&self.dp.token_url)
                    .form(&[("saml-token", assertion)]),
            )
            .await?;
        let (Some(kind), Some(value)) =
            (token["token_type"].as_str(), token["access_token"].as_str())
        else {
            return Err(answer_error("the access token service gave no token"));
        };
        let lasts = token["expires_in"]
            .as_u64()
            .unwrap_or(300)
            .saturating_sub(60);
        let token = format!("{kind} {value}");
        *held = Some((token.clone(), Instant::now() + Duration::from_secs(lasts)));
        Ok(token)
    }

    async fn json(&self, req: reqwest::RequestBuilder) -> Result<Value, NotSent> {
        let res = req.send().await.map_err(unreachable)?;
        let status = res.status();
        if !status.is_success() {
            let text = res.text().await.unwrap_or_default();
            return Err(NotSent {
                // A refused token is the kommune's set-up (certificate, agreement): a
                // person must see to it, but the letter waits for them, it is not lost.
                permanent: false,
                summary: format!("a token service answered {}", status.as_u16()),
                error: bounded(&text),
            });
        }
        res.json()
            .await
            .map_err(|_| answer_error("a token service answered something else than JSON"))
    }
}

fn unreachable(e: reqwest::Error) -> NotSent {
    NotSent {
        permanent: false,
        summary: "Serviceplatformen could not be reached".into(),
        error: e.to_string(),
    }
}

fn answer_error(what: &str) -> NotSent {
    NotSent {
        permanent: false,
        summary: what.into(),
        error: what.into(),
    }
}

/// At most 2,000 characters of what a service said, for the audit entry.
fn bounded(text: &str) -> String {
    text.chars().take(2000).collect()
}

/// The text of the first element `name` (any namespace) in an XML answer.
fn element(xml: &str, name: &str) -> Option<String> {
    let doc = crate::xml::parse(xml, 1 << 20)?;
    let found = doc
        .descendants()
        .find(|n| n.tag_name().name() == name)?
        .text()?
        .trim()
        .to_string();
    Some(found)
}

/// A key file only its owner reads.
fn private(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("digital_post.key: cannot read {}: {e}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "digital_post.key: {} is readable by others: chmod 600 it (or pass it as a systemd credential)",
            path.display()
        ));
    }
    Ok(())
}

/// The DER of the first certificate in PEM.
fn pem_der(pem: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(pem).ok()?;
    let begin = "-----BEGIN CERTIFICATE-----";
    let start = text.find(begin)? + begin.len();
    let stop = start + text[start..].find("-----END CERTIFICATE-----")?;
    let body: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}
