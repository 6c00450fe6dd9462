//! The checks that need more than a file's syntax: the main configuration's values, and
//! the beslutningstræ's rules against each other. Each problem names file and line. The
//! sections about what modtag serves over HTTP are in `web`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{invalid, line_of, ConfigError};
use crate::model::Config;

mod web;

/// The main configuration's values, one section at a time. The sections run in a fixed
/// order because that is the order an administrator is told the problems in.
pub(crate) fn validate_main(
    config: &Config,
    path: &Path,
    text: &str,
    errors: &mut Vec<ConfigError>,
) {
    check_keys(config, path, text, errors);
    check_mailboxes(config, path, text, errors);
    check_smtp(config, path, text, errors);
    web::check(config, path, text, errors);
    check_triage_clocks(config, path, text, errors);
    check_relay_retry(config, path, text, errors);
    validate_classify(&config.classify, path, text, errors);
    check_triage_policy(config, path, text, errors);
    check_audit(config, path, text, errors);
    check_relay_tls(config, path, text, errors);
    check_trivsel(config, path, text, errors);
    check_retention(config, path, text, errors);
    check_journal(config, path, text, errors);
    check_repeats(config, path, text, errors);
    if let Some(dp) = &config.digital_post {
        check_digital_post(dp, path, text, errors);
        let others = [
            Some(config.smtp.listen),
            Some(config.http.listen),
            config.public.as_ref().map(|p| p.listen),
        ];
        if let Some(r) = &dp.receipts {
            check_receipts_clients(r, path, text, errors);
        }
        if let Some(r) = dp
            .receipts
            .as_ref()
            .filter(|r| others.contains(&Some(r.listen)))
        {
            errors.push(invalid(
                path,
                line_of(text, "listen", &r.listen.to_string()),
                format!(
                    "digital_post.receipts.listen = {}: the receipts need an address of their \
                     own, apart from the SMTP, desk and forms listeners",
                    r.listen
                ),
            ));
        }
    }
}

/// `[digital_post.receipts]`: the Beskedfordeler's certificates named, each a fingerprint.
fn check_receipts_clients(
    r: &crate::digital_post::Receipts,
    path: &Path,
    text: &str,
    errors: &mut Vec<ConfigError>,
) {
    let bad =
        (r.client_certificates.iter()).find(|f| crate::digital_post::fingerprint(f).is_none());
    if let (Some(f), Err(e)) = (bad, r.pinned()) {
        // The bad one's own line when the list spans several.
        let line = (text.lines().position(|l| l.contains(&format!("\"{f}\""))))
            .map_or_else(|| line_of(text, "client_certificates", ""), |i| i + 1);
        errors.push(invalid(path, line, e));
    } else if r.client_certificates.is_empty() {
        errors.push(invalid(
            path,
            line_of(text, "client_ca_file", &r.client_ca_file),
            "digital_post.receipts.client_certificates is missing: give the SHA-256 fingerprint \
             of KOMBIT's Beskedfordeler client certificate (`openssl x509 -noout -fingerprint \
             -sha256 -in beskedfordeler.crt`); the authority alone issues certificates to every \
             organisation"
                .into(),
        ));
    }
}

/// `[digital_post]`: the kommune's own CVR (mod 11), a sender name, and services over
/// HTTPS only (the certificate authenticates each call; there is no plain variant).
fn check_digital_post(
    dp: &crate::digital_post::DigitalPost,
    path: &Path,
    text: &str,
    errors: &mut Vec<ConfigError>,
) {
    const WEIGHTS: [u32; 8] = [2, 7, 6, 5, 4, 3, 2, 1];
    let digits: Vec<u32> = dp
        .sender_cvr
        .chars()
        .filter_map(|c| c.to_digit(10))
        .collect();
    let valid = dp.sender_cvr.len() == 8
        && digits.len() == 8
        && digits.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum::<u32>() % 11 == 0;
    if !valid {
        errors.push(invalid(
            path,
            line_of(text, "sender_cvr", &dp.sender_cvr),
            format!(
                "digital_post.sender_cvr = {:?} is not a CVR number: give the kommune's 8 digits",
                dp.sender_cvr
            ),
        ));
    }
    if dp.sender_label.trim().is_empty() {
        errors.push(invalid(
            path,
            line_of(text, "sender_label", ""),
            "digital_post.sender_label is empty: give the kommune's name as the recipient is to see it".into(),
        ));
    }
    for (key, url) in dp.urls() {
        if !url.starts_with("https://") {
            errors.push(invalid(
                path,
                line_of(text, key, url),
                format!("digital_post.{key} = {url:?}: give the service's https:// address"),
            ));
        }
    }
}

/// `[keys]`: a store key kept apart needs a ring directory, or erasing would not hold
/// against an old copy of the data directory.
fn check_keys(config: &Config, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
    if let Some(keys) = &config.keys {
        if keys.ring_dir.is_none() {
            errors.push(invalid(
                path,
                line_of(text, "store_key", ""),
                "[keys] keeps the store key apart but names no ring_dir: add ring_dir = \"DIR\", a directory modtag may write (0700) apart from the data directory, so that a copy of the data directory cannot open what was erased since".into(),
            ));
        }
    }
}

/// `[[mailbox]]`: at least one, each a real address, none listed twice.
fn check_mailboxes(config: &Config, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
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
}

/// `[smtp]`: the memory budget holds the largest message and form submission, and no limit
/// is zero (which would refuse all mail).
fn check_smtp(config: &Config, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
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
}

/// `[triage]`'s clocks: the akut and assessment deadlines and the tilbagemelding period.
fn check_triage_clocks(config: &Config, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
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
}

/// `[relay]`'s retry schedule: it must start, and not start above its own ceiling.
fn check_relay_retry(config: &Config, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
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
}

/// `[classify]`: attachment types that parse, no empty akut word, and limits high enough
/// for ordinary mail.
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

/// `[triage]`'s policy: whom to link automatically, and escalations before the deadline.
fn check_triage_policy(config: &Config, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
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
}

/// `[audit]`: checkpoints and retention that actually happen.
fn check_audit(config: &Config, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
    let a = &config.audit;
    if a.checkpoint_every_entries == 0 || a.checkpoint_every_secs == 0 || a.retention_days < 1 {
        errors.push(invalid(
            path,
            line_of(text, "checkpoint_every_entries", &a.checkpoint_every_entries.to_string()),
            "audit.checkpoint_every_entries, checkpoint_every_secs and retention_days must each be at least 1".into(),
        ));
    }
}

/// `[relay] tls`: copies leave the machine only over TLS.
fn check_relay_tls(config: &Config, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
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
}

/// `[trivsel]`: settings under which a slot can ever be booked.
fn check_trivsel(config: &Config, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
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
}

/// `[retention]`: every rule waits at least a day and names the states it applies to.
fn check_retention(config: &Config, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
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
}

/// `[journal]`: a KLE emne for a kind that exists, written as KLE writes it; a hook with
/// its directories, certificate and a sensible polling interval.
fn check_journal(config: &Config, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
    let j = &config.journal;
    // `kle = { underretning = ... }` on one line, or a `[journal.kle]` table.
    let kle_line = |kind: &str| match line_of(text, kind, "") {
        1 => line_of(text, "kle", ""),
        n => n,
    };
    for (kind, emne) in &j.kle {
        if crate::vocab::Kind::parse(kind).is_none() {
            let kinds: Vec<&str> = crate::vocab::Kind::ALL.iter().map(|k| k.as_str()).collect();
            let msg = format!(
                "journal.kle names {kind:?}, which is not a kind: use {}",
                kinds.join(", ")
            );
            errors.push(invalid(path, kle_line(kind), msg));
        } else if !crate::journal::is_kle(emne) {
            let msg =
                format!("journal.kle.{kind} = {emne:?} is not a KLE emne: write it as 27.24.00");
            errors.push(invalid(path, kle_line(kind), msg));
        }
    }
    let Some(h) = &j.hook else { return };
    let empty = [
        ("system", &h.system),
        ("outbox_dir", &h.outbox_dir),
        ("receipts_dir", &h.receipts_dir),
        ("cert_file", &h.cert_file),
    ]
    .into_iter()
    .find(|(_, v)| v.trim().is_empty());
    if let Some((key, _)) = empty {
        let msg = format!("journal.hook.{key} is empty: give the case system's name, the drop and receipts directories and its certificate");
        errors.push(invalid(path, line_of(text, key, ""), msg));
    }
    if h.outbox_dir.trim() == h.receipts_dir.trim() {
        let msg = "journal.hook: outbox_dir and receipts_dir are the same directory: give the receipts a directory of their own".into();
        errors.push(invalid(path, line_of(text, "receipts_dir", ""), msg));
    }
    if !(1..=3600).contains(&h.poll_secs) {
        let msg = format!(
            "journal.hook.poll_secs = {}: give 1 to 3600 seconds",
            h.poll_secs
        );
        errors.push(invalid(path, line_of(text, "poll_secs", ""), msg));
    }
}

/// `[triage]`'s repeat detection: a threshold of at least two reports, in a window of at
/// least a day.
fn check_repeats(config: &Config, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
    let t = &config.triage;
    if t.repeat_threshold < 2 || t.repeat_window_days < 1 {
        errors.push(invalid(
            path,
            line_of(text, "repeat_threshold", &t.repeat_threshold.to_string()),
            "triage.repeat_threshold must be at least 2 and repeat_window_days at least 1".into(),
        ));
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
