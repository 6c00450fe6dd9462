//! The checks on what modtag serves over HTTP: the staff's desk, the public forms, the
//! addresses people open them at, sign-in through OpenID Connect, and sessions.

use std::path::Path;

use crate::error::{invalid, line_of, ConfigError};
use crate::model::Config;

/// The web sections, in the order their problems are reported.
pub(super) fn check(config: &Config, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
    check_http(config, path, text, errors);
    if let Some(public) = &config.public {
        check_public(public, config, path, text, errors);
    }
    check_urls(config, path, text, errors);
    if let Some(oidc) = &config.oidc {
        check_oidc(oidc, path, text, errors);
    }
    check_sessions(config, path, text, errors);
}

/// `[http]`: no limit is zero, and personal data is not served as plain HTTP beyond
/// loopback.
fn check_http(config: &Config, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
    for (key, value) in [
        ("max_connections", config.http.max_connections as u64),
        ("request_timeout_secs", config.http.request_timeout_secs),
        ("session_idle_secs", config.http.session_idle_secs),
        ("session_max_secs", config.http.session_max_secs),
    ] {
        if value == 0 {
            errors.push(invalid(
                path,
                line_of(text, key, "0"),
                format!("http.{key} = 0 would refuse every request: it must be at least 1"),
            ));
        }
    }
    if !config.http.listen.ip().is_loopback()
        && config.http.trusted_proxies.is_empty()
        && config.http.tls.is_none()
    {
        errors.push(invalid(
            path,
            line_of(text, "listen", &config.http.listen.to_string()),
            format!(
                "http.listen = {}: modtag would serve sign-in and personal data as plain HTTP on \
                 a non-loopback address; give modtag a certificate ([http.tls] cert_file and \
                 key_file), or listen on 127.0.0.1 behind a reverse proxy that terminates TLS \
                 and name it in trusted_proxies",
                config.http.listen
            ),
        ));
    }
}

/// `[public]`: the forms are not taken as plain HTTP beyond loopback, listen on an address
/// of their own, no limit is zero, and they carry a privacy notice.
fn check_public(
    public: &crate::public::Public,
    config: &Config,
    path: &Path,
    text: &str,
    errors: &mut Vec<ConfigError>,
) {
    if !public.listen.ip().is_loopback()
        && public.trusted_proxies.is_empty()
        && public.tls.is_none()
    {
        errors.push(invalid(
            path,
            line_of(text, "listen", &public.listen.to_string()),
            format!(
                "public.listen = {}: the forms would take reports about children as plain \
                 HTTP on a non-loopback address; give [public.tls] cert_file and key_file, \
                 or listen on 127.0.0.1 behind a TLS-terminating proxy named in \
                 public.trusted_proxies",
                public.listen
            ),
        ));
    }
    if public.listen == config.http.listen || public.listen == config.smtp.listen {
        errors.push(invalid(
            path,
            line_of(text, "listen", &public.listen.to_string()),
            format!(
                "public.listen = {}: the public forms need an address of their own, apart \
                 from the staff's [http] and from SMTP",
                public.listen
            ),
        ));
    }
    for (key, value) in [
        ("max_request_bytes", public.max_request_bytes as u64),
        ("max_attachment_bytes", public.max_attachment_bytes as u64),
        (
            "submissions_per_minute_per_client",
            public.submissions_per_minute_per_client as u64,
        ),
        (
            "submissions_per_minute",
            public.submissions_per_minute as u64,
        ),
        ("max_connections", public.max_connections as u64),
        ("request_timeout_secs", public.request_timeout_secs),
    ] {
        if value == 0 {
            errors.push(invalid(
                path,
                line_of(text, key, "0"),
                format!("public.{key} = 0 would refuse every submission: it must be at least 1"),
            ));
        }
    }
    check_privacy(public, path, text, errors);
    if let Some(m) = &public.mitid_erhverv {
        check_mitid(public, m, path, text, errors);
    }
}

/// `[public.mitid_erhverv]`: NemLog-in posts the assertion to an absolute address, so the
/// forms' address must be known; and the clock skew stays small (an old assertion must not
/// pass).
fn check_mitid(
    public: &crate::public::Public,
    m: &crate::mitid::MitIdErhverv,
    path: &Path,
    text: &str,
    errors: &mut Vec<ConfigError>,
) {
    let line = |key: &str| {
        text.lines()
            .position(|l| l.trim_start().starts_with(key))
            .map_or(1, |i| i + 1)
    };
    if public.forms_url().is_none() {
        errors.push(invalid(
            path,
            line("[public.mitid_erhverv]"),
            "[public.mitid_erhverv] needs the forms' address: give public.url (the https:// \
             address people open the forms at), to which NemLog-in returns the sign-in"
                .into(),
        ));
    }
    if m.max_clock_skew_secs > 600 || m.session_minutes == 0 || m.session_minutes > 480 {
        errors.push(invalid(
            path,
            line("max_clock_skew_secs"),
            "public.mitid_erhverv: max_clock_skew_secs may be at most 600 and session_minutes \
             1 to 480"
                .into(),
        ));
    }
}

/// `[public.privacy]`: forms that collect personal data must say how it is processed (GDPR
/// art. 13), so a public listener without the notice, or with a part of it empty, is an
/// error rather than forms that say nothing.
fn check_privacy(
    public: &crate::public::Public,
    path: &Path,
    text: &str,
    errors: &mut Vec<ConfigError>,
) {
    let Some(privacy) = &public.privacy else {
        let line = text
            .lines()
            .position(|l| l.trim() == "[public]")
            .map_or(1, |i| i + 1);
        errors.push(invalid(
            path,
            line,
            "[public] has no [public.privacy]: the forms must tell a person who the data \
             controller is, what their data is for and on what legal basis, who receives it, \
             how long it is kept, their rights, where to complain and how to reach the data \
             protection officer (GDPR art. 13); add a [public.privacy] section with \
             controller, purpose, legal_basis, recipients, retention, rights, complaint and \
             dpo (`modtag config template` shows the demo's)"
                .to_string(),
        ));
        return;
    };
    for key in privacy.empty_fields() {
        let empty = match key {
            "recipients" | "rights" => "is empty or has an empty entry",
            _ => "is empty",
        };
        errors.push(invalid(
            path,
            line_of(text, key, ""),
            format!(
                "public.privacy.{key} {empty}: write what the forms are to tell a person \
                 there, in Danish (GDPR art. 13; the demo configuration has an example)"
            ),
        ));
    }
}

/// `public.url` and `http.url`: the addresses links point at, https unless plain HTTP on
/// loopback.
fn check_urls(config: &Config, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
    if let Some(url) = config.public.as_ref().and_then(|p| p.url.as_ref()) {
        let plain_ok = config.public.as_ref().is_some_and(|p| p.plain_loopback())
            && url.starts_with("http://");
        if !(url.starts_with("https://") || plain_ok) || url.contains(char::is_whitespace) {
            errors.push(invalid(
                path,
                line_of(text, "url", url),
                format!(
                    "public.url = {url:?}: give the address citizens open the forms at, \
                     beginning with https:// (http:// only for plain HTTP on loopback)"
                ),
            ));
        }
    }
    if let Some(url) = &config.http.url {
        let plain_ok = config.http.plain_loopback() && url.starts_with("http://");
        if !(url.starts_with("https://") || plain_ok) || url.contains(char::is_whitespace) {
            errors.push(invalid(
                path,
                line_of(text, "url", url),
                format!(
                    "http.url = {url:?}: give the address staff open the desk at, beginning \
                     with https:// (http:// only for plain HTTP on loopback)"
                ),
            ));
        }
    }
}

/// `[http]` sessions: the idle limit is the shorter one.
fn check_sessions(config: &Config, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
    if config.http.session_idle_secs > config.http.session_max_secs {
        errors.push(invalid(
            path,
            line_of(
                text,
                "session_idle_secs",
                &config.http.session_idle_secs.to_string(),
            ),
            "http.session_idle_secs is longer than session_max_secs: a session ends at the \
             shorter of the two, so make the idle time the shorter"
                .into(),
        ));
    }
}

/// `[oidc]`: URLs that parse, a secret from exactly one place, a claim and match modtag
/// knows, and system roles only.
fn check_oidc(oidc: &crate::model::Oidc, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
    let mut bad = |key: &str, value: &str, message: String| {
        errors.push(invalid(path, line_of(text, key, value), message));
    };
    for (key, value) in [
        ("issuer", &oidc.issuer),
        ("redirect_url", &oidc.redirect_url),
    ] {
        let https = value.starts_with("https://");
        let loopback_http = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|p| value.starts_with(p));
        if !https && !loopback_http {
            bad(
                key,
                value,
                format!(
                    "oidc.{key} = {value:?}: give an https:// URL (plain http only on loopback)"
                ),
            );
        }
    }
    if !oidc.redirect_url.ends_with("/login/oidc/callback") {
        bad(
            "redirect_url",
            &oidc.redirect_url,
            "oidc.redirect_url must be modtag's address followed by /login/oidc/callback".into(),
        );
    }
    if oidc.client_id.trim().is_empty() {
        bad("client_id", "", "oidc.client_id is empty".into());
    }
    if oidc.client_secret_file.is_some() == oidc.client_secret_credential.is_some() {
        bad(
            "client_id",
            &oidc.client_id,
            "[oidc] needs exactly one of client_secret_file (a 0600 file) or \
             client_secret_credential (a systemd credential's name)"
                .into(),
        );
    }
    if !crate::model::OIDC_CLAIMS.contains(&oidc.claim.as_str()) {
        bad(
            "claim",
            &oidc.claim,
            format!(
                "oidc.claim = {:?}: use one of {}",
                oidc.claim,
                crate::model::OIDC_CLAIMS.join(", ")
            ),
        );
    }
    if !["email", "id"].contains(&oidc.match_by.as_str()) {
        bad(
            "match",
            &oidc.match_by,
            format!("oidc.match = {:?}: use email or id", oidc.match_by),
        );
    }
    for (id, roles) in &oidc.system_roles {
        if let Some(r) = roles
            .iter()
            .find(|r| !crate::roles::SYSTEM_ROLES.contains(&r.as_str()))
        {
            bad(
                "system_roles",
                "",
                format!(
                    "oidc.system_roles.{id}: {r:?} is not a system role; use {} (the directory \
                     gives the others)",
                    crate::roles::SYSTEM_ROLES.join(", ")
                ),
            );
        }
    }
}
