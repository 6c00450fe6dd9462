//! What both public forms share: the rate limits, the body read with its CSRF token, the
//! attachment check, and the submission taken through the SMTP path to its receipt.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use askama::Template;
use axum::extract::Multipart;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use modtag_config::{Channel, Loaded};

use super::compose::{self, From};
use super::upload::{self, Refused, Submission};
use crate::app::App;
use crate::smtp::limits::RateLimiter;
use crate::smtp::session::Envelope;
use crate::understand::attach;
use crate::workflow::accept::{self, Received};

/// The cookie the form's CSRF token is paired with.
pub(super) const FORM_COOKIE: &str = "modtag_formular";

pub struct PublicState {
    pub(super) app: Arc<App>,
    per_client: RateLimiter,
    everyone: RateLimiter,
    /// Made at start and kept only in memory: a client is counted and logged by a salted
    /// hash of its address (its /64 for IPv6), never by the address (issue 26: an anonymous
    /// reporter leaves no trace, in the log least of all).
    salt: [u8; 32],
    /// MitID Erhverv, when `[public.mitid_erhverv]` is configured.
    pub(super) saml: Option<Arc<crate::identity::saml::Saml>>,
}

impl PublicState {
    pub fn new(app: Arc<App>, saml: Option<crate::identity::saml::Saml>) -> Option<PublicState> {
        let p = app.policy.cfg().config.public.clone()?;
        Some(PublicState {
            app,
            per_client: RateLimiter::new(p.submissions_per_minute_per_client),
            everyone: RateLimiter::new(p.submissions_per_minute),
            salt: rand::random(),
            saml: saml.map(Arc::new),
        })
    }

    /// What a client is counted and logged as: a salted hash of its address, in the shape
    /// of an address for the rate limiter, and a short hex for the log.
    fn pseudonym(&self, client: IpAddr) -> (IpAddr, String) {
        use sha2::Digest as _;
        let bucket = crate::api::lockout::bucket(client);
        let mut h = sha2::Sha256::new();
        h.update(self.salt);
        h.update(bucket.to_string().as_bytes());
        let digest: [u8; 32] = h.finalize().into();
        let mut v6 = [0u8; 16];
        v6.copy_from_slice(&digest[..16]);
        (IpAddr::from(v6), hex::encode(&digest[..6]))
    }
}

#[derive(Template)]
#[template(path = "public/message.html")]
struct MessagePage<'a> {
    title: &'a str,
    text: &'a str,
    theme: &'a str,
}

pub(super) fn page(status: StatusCode, html: Result<String, askama::Error>) -> Response {
    match html {
        Ok(h) => (status, Html(h)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a public page could not be rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, "siden kunne ikke vises").into_response()
        }
    }
}

pub(super) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    page(
        status,
        MessagePage {
            title,
            text,
            theme: "borgerdk",
        }
        .render(),
    )
}

pub(super) async fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Siden findes ikke",
        "Her er kun formularerne til Send sikkert og til underretninger.",
    )
}

fn client(parts: &Parts, cfg: &Loaded) -> IpAddr {
    let trusted = cfg
        .config
        .public
        .as_ref()
        .map(|p| p.trusted_proxies.as_slice())
        .unwrap_or_default();
    crate::api::auth::client_behind(parts, trusted)
}

/// The CSRF token and the cookie that pairs it with this browser: the one the browser
/// already holds, or a fresh one. Kept while the browser keeps it, so that a form opened
/// in an older tab (or left with Back) is still sent, not refused with its text lost.
pub(super) fn pair(cfg: &Loaded, headers: &HeaderMap) -> (String, HeaderValue) {
    // Only one of the shape `token` makes: nothing else is echoed into a page or set again.
    let held = crate::api::auth::cookie(headers, FORM_COOKIE)
        .filter(|t| crate::identity::sessions::well_formed(t));
    let token = held.map_or_else(crate::identity::sessions::token, str::to_string);
    let secure = cfg
        .config
        .public
        .as_ref()
        .is_some_and(|p| !p.plain_loopback());
    let cookie = format!(
        "{FORM_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{}",
        if secure { "; Secure" } else { "" }
    );
    let value = HeaderValue::from_str(&cookie).expect("the token is URL-safe base64");
    (token, value)
}

pub(super) fn with_cookie(mut res: Response, cookie: HeaderValue) -> Response {
    res.headers_mut().append(header::SET_COOKIE, cookie);
    res
}

/// One error in a form's summary: the field's id and what to do.
pub(super) type Problems = Vec<(&'static str, String)>;

/// The rate limits, per client and in all: the client's pseudonym for the log, or `429`.
// The error is the handler's answer, returned at once: its size costs nothing here.
#[allow(clippy::result_large_err)]
pub(super) fn limit(state: &PublicState, parts: &Parts, cfg: &Loaded) -> Result<String, Response> {
    let (key, who) = state.pseudonym(client(parts, cfg));
    let now = Instant::now();
    if !state.per_client.allow(key, now) || !state.everyone.allow(IpAddr::from([0; 4]), now) {
        tracing::warn!(client = %who, "public form: rate limit reached; answered 429");
        let mut res = message(
            StatusCode::TOO_MANY_REQUESTS,
            "For mange indsendelser lige nu",
            "Intet blev gemt. Vent et minut, og send igen.",
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return Err(res);
    }
    Ok(who)
}

/// The rate limits, a place in the memory budget, then the body within its limits and with
/// its CSRF token. The lease is the submission's place: hold it until it is stored.
pub(super) async fn receive(
    state: &PublicState,
    parts: &Parts,
    body: Multipart,
) -> Result<(Submission, crate::memory::Lease), Response> {
    let cfg = state.app.policy.cfg();
    let Some(public) = cfg.config.public.clone() else {
        return Err(not_found().await);
    };
    let who = limit(state, parts, &cfg)?;
    // No form cookie, no reading: the CSRF pair is checked before a byte of the body.
    let Some(csrf) = crate::api::auth::cookie(&parts.headers, FORM_COOKIE) else {
        tracing::info!(client = %who, "public form: no form cookie; answered 403");
        return Err(message(
            StatusCode::FORBIDDEN,
            "Formularen var udløbet",
            "Intet blev gemt. Åbn formularen igen, og send på ny.",
        ));
    };
    // As much as the body says it is (never more than the limit), before it is read; then
    // the lease grows with what arrives (a body without a length is counted as it comes).
    let size = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .unwrap_or(0)
        .min(public.max_request_bytes);
    let mut lease = crate::memory::Lease::new(state.app.memory.clone());
    let busy = || {
        let mut res = message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Der er travlt lige nu",
            "Intet blev gemt. Vent et øjeblik, og send igen.",
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        res
    };
    if !lease.grow_to(size) {
        tracing::warn!(client = %who, "public form: message memory budget used up; answered 503");
        return Err(busy());
    }
    let limits = upload::Limits {
        max_request_bytes: public.max_request_bytes,
        max_attachment_bytes: public.max_attachment_bytes,
        max_attachments: public.max_attachments,
    };
    upload::read(body, Some(csrf), &limits, &mut lease)
        .await
        .map_err(|why| {
            if why == Refused::Busy {
                tracing::warn!(client = %who, "public form: message memory budget used up; answered 503");
                return busy();
            }
            tracing::info!(client = %who, refused = ?why, "public form: submission refused");
            let mb = |b: usize| b / (1024 * 1024);
            let (status, title, text) = match why {
                Refused::Csrf => (
                    StatusCode::FORBIDDEN,
                    "Formularen var udløbet",
                    "Intet blev gemt. Åbn formularen igen, og send på ny.".to_string(),
                ),
                Refused::TooLarge => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Indsendelsen er for stor",
                    format!(
                        "Intet blev gemt. Alt i alt højst {} MB.",
                        mb(public.max_request_bytes)
                    ),
                ),
                Refused::AttachmentTooLarge => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Et bilag er for stort",
                    format!(
                        "Intet blev gemt. Hvert bilag må højst være {} MB.",
                        mb(public.max_attachment_bytes)
                    ),
                ),
                Refused::TooManyAttachments => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "For mange bilag",
                    format!("Intet blev gemt. Højst {} bilag.", public.max_attachments),
                ),
                Refused::Malformed | Refused::Busy => (
                    StatusCode::BAD_REQUEST,
                    "Indsendelsen kunne ikke læses",
                    "Intet blev gemt. Åbn formularen igen, og send på ny.".to_string(),
                ),
                Refused::Late => (
                    StatusCode::REQUEST_TIMEOUT,
                    "Indsendelsen kom ikke frem i tide",
                    "Intet blev gemt. Send igen, gerne med mindre bilag.".to_string(),
                ),
            };
            message(status, title, &text)
        })
        .map(|submission| (submission, lease))
}

/// Each upload of a type `[classify] attachment_types` allows, its content what it says.
pub(super) fn check_uploads(cfg: &Loaded, s: &Submission) -> Problems {
    s.uploads
        .iter()
        .filter_map(|u| {
            let a = attach::describe(
                &u.name,
                &u.declared,
                &u.bytes,
                &cfg.config.classify.attachment_types,
                "",
            );
            a.flagged.map(|why| {
                (
                    "attachment",
                    format!(
                        "Bilaget «{}» kan ikke modtages ({why}). Send det som PDF eller et andet tilladt format.",
                        attach::sanitize_name(&u.name)
                    ),
                )
            })
        })
        .collect()
}

#[derive(Template)]
#[template(path = "public/receipt.html")]
struct ReceiptPage<'a> {
    reference: &'a str,
    /// What happens next, for this form.
    next: &'a str,
    theme: &'a str,
}

/// The submission as a message, through the SMTP path; the receipt once it is durable.
#[allow(clippy::too_many_arguments)]
pub(super) async fn submit(
    state: &PublicState,
    channel: Channel,
    from: From<'_>,
    subject: &str,
    text: &str,
    s: &Submission,
    signed_in: Option<modtag_storage::records::SignedIn>,
    stated: impl FnOnce(&mut crate::understand::Reading) + Send + 'static,
) -> Response {
    let policy = state.app.policy.current();
    let (cfg, reader) = (policy.cfg.clone(), policy.reader.clone());
    let Some(to) = cfg
        .config
        .mailboxes
        .iter()
        .find(|m| m.channel == channel)
        .map(|m| m.address.clone())
    else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Formularen er ikke sat op",
            "Intet blev gemt. Kommunen har ingen postkasse til denne formular; ring til kommunen.",
        );
    };
    let now = state.app.clock.now();
    let host = cfg.config.smtp.hostname.clone();
    let raw = compose::message(from, &to, subject, text, &s.uploads, &host, now);
    let tls = if cfg
        .config
        .public
        .as_ref()
        .is_some_and(|p| p.plain_loopback())
    {
        "none".to_string()
    } else {
        "HTTPS (webformular)".to_string()
    };
    let rx = Received {
        envelope: Envelope {
            helo: "webformular".into(),
            mail_from: String::new(),
            rcpt_to: vec![to],
            channel,
            tls: Some(tls.clone()),
        },
        // Never the client's address (issue 26): an anonymous reporter leaves no trace.
        peer: "webformular".into(),
        tls,
        raw,
        sender_auth: None,
        signed_in,
    };
    let accepted = (state.app)
        .change(move |store| accept::accept_with(store, &cfg, &reader, rx, now, stated))
        .await;
    let reference = match accepted {
        Ok(r) => r,
        Err(e) => return storage_failed(&e.to_string()),
    };
    tracing::info!(%reference, channel = channel.as_str(), "web form accepted");
    let next = match channel {
        Channel::Trivselplus => {
            "Journalen sender din henvendelse videre til de ledere, den er til. Svaret kommer til institutionens adresse."
        }
        _ => "Modtagelsen vurderer din underretning inden for 24 timer. Har du skrevet din e-mailadresse, får du en kvittering.",
    };
    page(
        StatusCode::OK,
        ReceiptPage {
            reference: &reference,
            next,
            theme: if channel == Channel::Trivselplus {
                "virkdk"
            } else {
                "borgerdk"
            },
        }
        .render(),
    )
}

/// Nothing was kept: say so, and to try again (503, as SMTP's `451`).
pub(super) fn storage_failed(why: &str) -> Response {
    tracing::error!(error = %why, "public form: could not store a submission; answered 503");
    let mut res = message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Indsendelsen kunne ikke gemmes",
        "Intet blev gemt. Prøv igen om lidt.",
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    res
}
