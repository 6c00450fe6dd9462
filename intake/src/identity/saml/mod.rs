//! MitID Erhverv on the public forms (issue 30): modtag as a SAML 2.0 service provider by
//! the OIOSAML 3 profile, with NemLog-in as the identity provider.
//!
//! A sign-in starts at `/mitid/log-ind` ([`Saml::start`]): a signed `AuthnRequest` by the
//! Redirect binding (`request.rs`), remembered in memory with the relay state and a cookie
//! that binds it to this browser. NemLog-in posts the response to `/saml/acs`
//! ([`Saml::finish`]): checked by `response.rs` (with `xmlsec1`, `xmlsec.rs`), its assertion
//! id used once, and the person becomes a sign-in for the forms, in memory only, for at most
//! `session_minutes`. A restart forgets every pending request and sign-in (a response to a
//! request from before it is refused). `metadata.rs` reads NemLog-in's metadata and writes
//! modtag's.

pub mod metadata;
pub mod request;
pub mod response;
mod xmlsec;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use modtag_config::mitid::MitIdErhverv;
use modtag_config::Loaded;

pub use response::{Professional, Refusal};

/// Sign-ins started and not finished, and sign-ins held, at most (beyond, the oldest go).
const MAX_PENDING: usize = 10_000;
/// How long a person has at NemLog-in before the request is forgotten.
const PENDING_FOR: Duration = Duration::from_secs(15 * 60);

/// Where the person goes once signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    SendSikkert,
    Underretning,
}

impl Target {
    pub fn path(self) -> &'static str {
        match self {
            Target::SendSikkert => "/sendsikkert",
            Target::Underretning => "/underretning",
        }
    }
}

struct Pending {
    request_id: String,
    /// SHA-256 of the cookie's value set with the request: the response must come back to
    /// the browser that asked.
    browser: [u8; 32],
    target: Target,
    at: Instant,
}

pub struct Saml {
    pub settings: MitIdErhverv,
    pub entity_id: String,
    pub acs: String,
    pub idp: metadata::Idp,
    metadata: String,
    signing_key: rsa::RsaPrivateKey,
    encryption_key: PathBuf,
    /// The IdP's signing certificates as PEM files for `xmlsec1` (public; removed at exit).
    idp_certificates: Vec<tempfile::NamedTempFile>,
    xmlsec: xmlsec::Xmlsec,
    pending: Mutex<HashMap<String, Pending>>,
    /// Assertion ids seen, until their validity ends.
    used: Mutex<HashMap<String, jiff::Timestamp>>,
    signed_in: Mutex<HashMap<[u8; 32], (Professional, Instant)>>,
}

impl Saml {
    /// The sign-in `[public.mitid_erhverv]` configures, its files read and `xmlsec1` tried:
    /// `None` without the section, an error that says what to fix otherwise.
    pub async fn load(cfg: &Loaded) -> Result<Option<Saml>, String> {
        let Some(public) = cfg.config.public.as_ref() else {
            return Ok(None);
        };
        let Some(settings) = public.mitid_erhverv.clone() else {
            return Ok(None);
        };
        let base = public
            .forms_url()
            .ok_or("[public.mitid_erhverv] needs public.url")?;
        let path = |key: &str, file: &str| {
            cfg.config
                .secret_path(file)
                .map_err(|e| format!("public.mitid_erhverv.{key}: {e}"))
        };
        let read = |key: &str, file: &str| {
            let p = path(key, file)?;
            std::fs::read_to_string(&p).map_err(|e| {
                format!(
                    "public.mitid_erhverv.{key}: cannot read {}: {e}",
                    p.display()
                )
            })
        };
        let idp = metadata::idp(&read("idp_metadata", &settings.idp_metadata)?)
            .map_err(|e| format!("public.mitid_erhverv.idp_metadata: {e}"))?;
        let signing_key = private_key(&path("signing_key", &settings.signing_key)?)
            .map_err(|e| format!("public.mitid_erhverv.signing_key: {e}"))?;
        let encryption_key = path("encryption_key", &settings.encryption_key)?;
        private_key(&encryption_key)
            .map_err(|e| format!("public.mitid_erhverv.encryption_key: {e}"))?;
        let certificate = |key: &str, file: &str| {
            pem_body(&read(key, file)?, "CERTIFICATE").ok_or(format!(
                "public.mitid_erhverv.{key}: not a PEM certificate (-----BEGIN CERTIFICATE-----)"
            ))
        };
        let signing = certificate("signing_certificate", &settings.signing_certificate)?;
        let encryption = certificate("encryption_certificate", &settings.encryption_certificate)?;
        let xmlsec = xmlsec::Xmlsec::new(&settings.xmlsec1);
        xmlsec
            .version()
            .await
            .map_err(|e| format!("public.mitid_erhverv.xmlsec1: {e}"))?;
        let idp_certificates = idp
            .signing_certificates
            .iter()
            .map(|der| pem_file(der))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("the IdP's certificates could not be written for xmlsec1: {e}"))?;
        let entity_id = settings
            .entity_id
            .clone()
            .unwrap_or_else(|| format!("{base}/saml/metadata"));
        let acs = format!("{base}/saml/acs");
        Ok(Some(Saml {
            metadata: metadata::service_provider(&entity_id, &acs, &signing, &encryption),
            settings,
            entity_id,
            acs,
            idp,
            signing_key,
            encryption_key,
            idp_certificates,
            xmlsec,
            pending: Mutex::default(),
            used: Mutex::default(),
            signed_in: Mutex::default(),
        }))
    }

    /// modtag's SP metadata.
    pub fn metadata(&self) -> &str {
        &self.metadata
    }

    /// A new sign-in: the address to send the browser to, and the cookie value that binds
    /// the answer to it.
    pub fn start(&self, target: Target, now: jiff::Timestamp) -> (String, String) {
        let request_id = format!("_{}", hex::encode(rand::random::<[u8; 20]>()));
        let relay = hex::encode(rand::random::<[u8; 16]>());
        let browser = crate::identity::sessions::token();
        let xml =
            request::authn_request(&request_id, now, &self.entity_id, &self.acs, &self.idp.sso);
        let url = request::redirect(&self.idp.sso, &xml, &relay, &self.signing_key);
        let mut pending = self.pending.lock().expect("not poisoned");
        pending.retain(|_, p| p.at.elapsed() < PENDING_FOR);
        if pending.len() >= MAX_PENDING {
            let oldest = pending
                .iter()
                .min_by_key(|(_, p)| p.at)
                .map(|(k, _)| k.clone());
            pending.remove(&oldest.expect("not empty"));
        }
        pending.insert(
            relay,
            Pending {
                request_id,
                browser: digest(&browser),
                target,
                at: Instant::now(),
            },
        );
        (url, browser)
    }

    /// The ACS: the response checked against the request it answers (once), its assertion
    /// id used once.
    pub async fn finish(
        &self,
        relay: &str,
        browser: Option<&str>,
        encoded: &str,
        now: jiff::Timestamp,
    ) -> Result<(Professional, Target), Refusal> {
        // Taken (once) only by the browser that asked: another, knowing the relay state,
        // can neither use nor cancel it.
        let pending = {
            let mut waiting = self.pending.lock().expect("not poisoned");
            let bound = waiting.get(relay).is_some_and(|p| {
                browser.is_some_and(|b| crate::identity::constant_time_eq(&digest(b), &p.browser))
            });
            if bound {
                waiting.remove(relay)
            } else {
                None
            }
        };
        let Some(pending) = pending.filter(|p| p.at.elapsed() < PENDING_FOR) else {
            return Err(Refusal::NotOurs);
        };
        let clean: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(clean)
            .map_err(|_| Refusal::Malformed)?;
        let text = String::from_utf8(raw).map_err(|_| Refusal::Malformed)?;
        let want = response::Expected {
            request_id: &pending.request_id,
            acs: &self.acs,
            audience: &self.entity_id,
            idp: &self.idp.entity_id,
            now,
            skew: jiff::SignedDuration::from_secs(self.settings.max_clock_skew_secs as i64),
        };
        response::check_outer(&response::parse(&text)?, &want)?;
        let decrypted = self
            .xmlsec
            .decrypt(&self.encryption_key, text.as_bytes())
            .await
            .map_err(|_| Refusal::NotEncrypted)?;
        let decrypted = String::from_utf8(decrypted).map_err(|_| Refusal::Malformed)?;
        let isolated = response::isolate(&decrypted)?;
        response::check_signature_shape(&isolated)?;
        let mut verified = false;
        for cert in &self.idp_certificates {
            match self.xmlsec.verify(cert.path(), isolated.as_bytes()).await {
                Ok(true) => verified = true,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, "MitID Erhverv: xmlsec1 failed");
                    return Err(Refusal::Unavailable);
                }
            }
            if verified {
                break;
            }
        }
        if !verified {
            return Err(Refusal::NotSigned);
        }
        let person = response::read(&isolated, &want)?;
        let mut used = self.used.lock().expect("not poisoned");
        used.retain(|_, until| *until > now - want.skew);
        if used.contains_key(&person.assertion_id) || used.len() >= MAX_PENDING * 10 {
            return Err(Refusal::Replayed);
        }
        used.insert(person.assertion_id.clone(), person.valid_until + want.skew);
        Ok((person, pending.target))
    }

    /// A sign-in for the forms: the cookie value that carries it.
    pub fn hold(&self, person: Professional) -> String {
        let token = crate::identity::sessions::token();
        let until = Instant::now() + Duration::from_secs(self.settings.session_minutes * 60);
        let mut held = self.signed_in.lock().expect("not poisoned");
        held.retain(|_, (_, u)| *u > Instant::now());
        if held.len() >= MAX_PENDING {
            let oldest = held.iter().min_by_key(|(_, (_, u))| *u).map(|(k, _)| *k);
            held.remove(&oldest.expect("not empty"));
        }
        held.insert(digest(&token), (person, until));
        token
    }

    /// Who the cookie's value signed in, while the sign-in lasts.
    pub fn signed_in(&self, token: &str) -> Option<Professional> {
        let held = self.signed_in.lock().expect("not poisoned");
        held.get(&digest(token))
            .filter(|(_, until)| *until > Instant::now())
            .map(|(p, _)| p.clone())
    }

    /// Ends a sign-in ("Log ud").
    pub fn release(&self, token: &str) {
        self.signed_in
            .lock()
            .expect("not poisoned")
            .remove(&digest(token));
    }
}

fn digest(s: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(s.as_bytes()).into()
}

/// An RSA private key from a PEM file (PKCS#8 or PKCS#1), private to modtag (0600).
fn private_key(path: &std::path::Path) -> Result<rsa::RsaPrivateKey, String> {
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::pkcs8::DecodePrivateKey as _;
    use std::os::unix::fs::PermissionsExt as _;
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{} is readable by others: chmod 600 it (or pass it as a systemd credential)",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    rsa::RsaPrivateKey::from_pkcs8_pem(&text)
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(&text))
        .map_err(|_| format!("{} is not an RSA private key in PEM", path.display()))
}

/// The base64 body of a PEM block of `label`, on one line.
fn pem_body(text: &str, label: &str) -> Option<String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let body: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(&body)
        .ok()
        .filter(|der| !der.is_empty())
        .map(|_| body)
}

/// A certificate (base64 DER) as a PEM file for `xmlsec1`.
fn pem_file(der: &str) -> std::io::Result<tempfile::NamedTempFile> {
    use std::io::Write as _;
    let mut file = tempfile::Builder::new()
        .prefix("modtag-nemlogin-")
        .suffix(".pem")
        .tempfile()?;
    writeln!(file, "-----BEGIN CERTIFICATE-----")?;
    for line in der.as_bytes().chunks(64) {
        file.write_all(line)?;
        writeln!(file)?;
    }
    writeln!(file, "-----END CERTIFICATE-----")?;
    file.flush()?;
    Ok(file)
}
