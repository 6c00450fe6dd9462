//! The checks that need more than a file's syntax: the main configuration's values, and
//! the beslutningstræ's rules against each other. Each problem names file and line.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{invalid, line_of, ConfigError};
use crate::model::Config;

pub(crate) fn validate_main(
    config: &Config,
    path: &Path,
    text: &str,
    errors: &mut Vec<ConfigError>,
) {
    if let Some(keys) = &config.keys {
        if keys.ring_dir.is_none() {
            errors.push(invalid(
                path,
                line_of(text, "store_key", ""),
                "[keys] keeps the store key apart but names no ring_dir: add ring_dir = \"DIR\", a directory modtag may write (0700) apart from the data directory, so that a copy of the data directory cannot open what was erased since".into(),
            ));
        }
    }
    if config.mailboxes.is_empty() {
        errors.push(invalid(
            path,
            1,
            "no [[mailbox]] is configured: add at least one, e.g. address = \"underretning@localhost\", channel = \"underretning\"".into(),
        ));
    }
    let mut seen = BTreeMap::new();
    for m in &config.mailboxes {
        let line = line_of(text, "address", &m.address);
        if !m.address.contains('@') || m.address.starts_with('@') || m.address.ends_with('@') {
            errors.push(invalid(
                path,
                line,
                format!("mailbox address {:?} is not an e-mail address", m.address),
            ));
        }
        let earlier = seen.entry(m.address.to_ascii_lowercase()).or_insert(0);
        *earlier += 1;
        if *earlier > 1 {
            // Point at the repeat, not at the first listing.
            let repeats = config
                .mailboxes
                .iter()
                .take_while(|other| !std::ptr::eq(*other, m))
                .filter(|other| other.address == m.address)
                .count();
            errors.push(invalid(
                path,
                crate::error::line_of_nth(text, "address", &m.address, repeats),
                format!("mailbox {:?} is listed twice: keep one", m.address),
            ));
        }
    }
    if config.smtp.max_memory_bytes < config.smtp.max_message_size {
        errors.push(invalid(
            path,
            line_of(text, "max_memory_bytes", &config.smtp.max_memory_bytes.to_string()),
            format!(
                "smtp.max_memory_bytes ({}) must be at least smtp.max_message_size ({}), or no message of the largest size could be taken",
                config.smtp.max_memory_bytes, config.smtp.max_message_size
            ),
        ));
    }
    if let Some(p) = config
        .public
        .as_ref()
        .filter(|p| config.smtp.max_memory_bytes < p.max_request_bytes)
    {
        errors.push(invalid(
            path,
            line_of(text, "max_memory_bytes", &config.smtp.max_memory_bytes.to_string()),
            format!(
                "smtp.max_memory_bytes ({}) must be at least public.max_request_bytes ({}), or no submission of the largest size could be taken",
                config.smtp.max_memory_bytes, p.max_request_bytes
            ),
        ));
    }
    if config.smtp.max_message_size < 1024 {
        errors.push(invalid(
            path,
            line_of(
                text,
                "max_message_size",
                &config.smtp.max_message_size.to_string(),
            ),
            "smtp.max_message_size must be at least 1024 bytes".into(),
        ));
    }
    let s = &config.smtp;
    for (key, value) in [
        ("max_recipients", s.max_recipients as u64),
        ("idle_timeout_secs", s.idle_timeout_secs),
        ("max_errors", s.max_errors as u64),
        ("data_timeout_secs", s.data_timeout_secs),
        ("min_data_rate", s.min_data_rate),
        ("max_sessions", s.max_sessions as u64),
        ("max_sessions_per_client", s.max_sessions_per_client as u64),
        (
            "max_messages_per_minute_per_client",
            s.max_messages_per_minute_per_client as u64,
        ),
    ] {
        if value == 0 {
            errors.push(invalid(
                path,
                line_of(text, key, "0"),
                format!("smtp.{key} = 0 would refuse all mail: it must be at least 1"),
            ));
        }
    }
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
    if let Some(public) = &config.public {
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
                    format!(
                        "public.{key} = 0 would refuse every submission: it must be at least 1"
                    ),
                ));
            }
        }
    }
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
    if let Some(oidc) = &config.oidc {
        check_oidc(oidc, path, text, errors);
    }
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
    let akut = config.triage.akut_hours;
    if akut <= 0 || akut >= config.triage.assessment_hours {
        errors.push(invalid(
            path,
            line_of(text, "akut_hours", &akut.to_string()),
            format!(
                "triage.akut_hours = {akut}: an akut intake's clock must be at least one hour \
                 and shorter than assessment_hours ({})",
                config.triage.assessment_hours
            ),
        ));
    }
    if config.triage.assessment_hours <= 0 {
        errors.push(invalid(
            path,
            line_of(
                text,
                "assessment_hours",
                &config.triage.assessment_hours.to_string(),
            ),
            "triage.assessment_hours must be positive".into(),
        ));
    }
    if !(1..=12).contains(&config.triage.tilbagemelding_months) {
        errors.push(invalid(
            path,
            line_of(
                text,
                "tilbagemelding_months",
                &config.triage.tilbagemelding_months.to_string(),
            ),
            "triage.tilbagemelding_months must be from 1 to 12 (the law asks for 3)".into(),
        ));
    }
    if config.relay.retry_initial_secs == 0
        || config.relay.retry_max_secs < config.relay.retry_initial_secs
    {
        errors.push(invalid(
            path,
            line_of(
                text,
                "retry_initial_secs",
                &config.relay.retry_initial_secs.to_string(),
            ),
            "relay.retry_initial_secs must be at least 1 and no more than relay.retry_max_secs"
                .into(),
        ));
    }
    validate_classify(&config.classify, path, text, errors);
    let t = &config.triage;
    if !["professional", "any"].contains(&t.auto_link_senders.as_str()) {
        errors.push(invalid(
            path,
            line_of(text, "auto_link_senders", &t.auto_link_senders),
            format!(
                "triage.auto_link_senders = {:?}: use \"professional\" or \"any\"",
                t.auto_link_senders
            ),
        ));
    }
    let ascending = t.escalate_after_hours.windows(2).all(|w| w[0] < w[1]);
    if !ascending
        || t.escalate_after_hours.len() > 3
        || t.escalate_after_hours
            .iter()
            .any(|h| *h <= 0 || *h >= t.assessment_hours)
    {
        errors.push(invalid(
            path,
            line_of(text, "escalate_after_hours", ""),
            format!(
                "triage.escalate_after_hours must be up to three rising hours before the {}-hour deadline, e.g. [12, 18, 22]",
                t.assessment_hours
            ),
        ));
    }
    let a = &config.audit;
    if a.checkpoint_every_entries == 0 || a.checkpoint_every_secs == 0 || a.retention_days < 1 {
        errors.push(invalid(
            path,
            line_of(text, "checkpoint_every_entries", &a.checkpoint_every_entries.to_string()),
            "audit.checkpoint_every_entries, checkpoint_every_secs and retention_days must each be at least 1".into(),
        ));
    }
    // Datatilsynet: personal data by e-mail only over forced TLS 1.2+. Plain SMTP is for a
    // relay on this machine, where nothing crosses a network.
    let relay = &config.relay;
    let loopback = relay.host.eq_ignore_ascii_case("localhost")
        || relay
            .host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if relay.tls == crate::model::RelayTls::None && !loopback {
        errors.push(invalid(
            path,
            line_of(text, "tls", "none"),
            format!(
                "relay.tls = \"none\" would send copies in clear to {}: only a relay on loopback may go without TLS; use tls = \"starttls\" (or \"tls\")",
                relay.host
            ),
        ));
    }
    let tr = &config.trivsel;
    if tr.slots.is_empty()
        || tr.notice_days < 0
        || tr.remind_after_days < 1
        || tr.first_meeting_days <= tr.notice_days
    {
        errors.push(invalid(
            path,
            line_of(text, "first_meeting_days", &tr.first_meeting_days.to_string()),
            "trivsel: give at least one slot, remind_after_days of at least 1, and first_meeting_days more than notice_days (e.g. 14 and 5), or no slot could ever be booked".into(),
        ));
    }
    let retention = &config.retention;
    for rule in &retention.rules {
        if rule.after_days < 1 || rule.states.is_empty() {
            errors.push(invalid(
                path,
                line_of(text, "name", &rule.name),
                format!(
                    "retention rule {:?}: give after_days of at least 1 and at least one state",
                    rule.name
                ),
            ));
        }
    }
    if retention.failed_deliveries_days.is_some_and(|d| d < 1) {
        errors.push(invalid(
            path,
            line_of(text, "failed_deliveries_days", ""),
            "retention.failed_deliveries_days must be at least 1".into(),
        ));
    }
    if t.repeat_threshold < 2 || t.repeat_window_days < 1 {
        errors.push(invalid(
            path,
            line_of(text, "repeat_threshold", &t.repeat_threshold.to_string()),
            "triage.repeat_threshold must be at least 2 and repeat_window_days at least 1".into(),
        ));
    }
}

fn validate_classify(
    c: &crate::model::Classify,
    path: &Path,
    text: &str,
    errors: &mut Vec<ConfigError>,
) {
    for t in &c.attachment_types {
        let ok = t
            .split_once('/')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && !t.contains(' '));
        if !ok {
            errors.push(invalid(
                path,
                line_of(text, "attachment_types", t),
                format!("classify.attachment_types: {t:?} is not a type/subtype (e.g. \"application/pdf\" or \"image/*\")"),
            ));
        }
    }
    if c.akut_words.iter().any(|w| w.trim().is_empty()) {
        errors.push(invalid(
            path,
            line_of(text, "akut_words", ""),
            "classify.akut_words has an empty entry: remove it".into(),
        ));
    }
    for (name, value, min) in [
        ("max_parts", c.max_parts, 10),
        ("max_depth", c.max_depth, 2),
        ("max_header_bytes", c.max_header_bytes, 4096),
    ] {
        if value < min {
            errors.push(invalid(
                path,
                line_of(text, name, &value.to_string()),
                format!("classify.{name} must be at least {min}: a smaller limit would leave ordinary mail unread"),
            ));
        }
    }
}

/// Rules that can never match, and pairs that match exactly the same facts: with every
/// matching rule contributing, two rules on the same conditions are one rule written twice
/// (the same results) or a contradiction the administrator must settle (different results).
pub(crate) fn check_rule_logic(
    rules: &[crate::tree::Rule],
    path: &Path,
    text: &str,
    errors: &mut Vec<ConfigError>,
) {
    for rule in rules {
        if let Some(why) = rule.when.never_matches() {
            errors.push(invalid(
                path,
                line_of(text, "id", &rule.id),
                format!("rule {:?} can never match: {why}", rule.id),
            ));
        }
    }
    for (i, a) in rules.iter().enumerate() {
        for b in &rules[i + 1..] {
            if a.when.normalized() != b.when.normalized() {
                continue;
            }
            let same = {
                let (mut ta, mut tb) = (a.to.clone(), b.to.clone());
                let (mut aa, mut ab) = (a.actions.clone(), b.actions.clone());
                ta.sort();
                tb.sort();
                aa.sort();
                ab.sort();
                ta == tb && aa == ab
            };
            let message = if same {
                format!(
                    "rules {:?} and {:?} match the same facts with the same result: remove one",
                    a.id, b.id
                )
            } else {
                format!(
                    "rules {:?} (line {}) and {:?} match exactly the same facts with different results: merge them into one rule, or make their `when` differ",
                    a.id,
                    line_of(text, "id", &a.id),
                    b.id
                )
            };
            errors.push(invalid(path, line_of(text, "id", &b.id), message));
        }
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
