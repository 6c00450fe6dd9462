//! Loading and validating the three files together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use openpgp::parse::Parse;
use sequoia_openpgp as openpgp;
use sha2::{Digest, Sha256};

use crate::directory::{check_cert, Directory, DirectoryFile, Person};
use crate::error::{line_of, ConfigError};
use crate::model::Config;
use crate::tree::{Tree, TreeFile, ACTIONS, KINDS};
use crate::{embedded, roles};

/// A configuration with its directory and tree, checked against each other.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub directory: Directory,
    pub tree: Tree,
    /// The auditors' certificates from `[audit] auditor_certs`.
    pub auditors: Vec<openpgp::Cert>,
    /// Where the configuration came from, for messages (`embedded default` or a path).
    pub origin: String,
}

/// Where relative file names are read from: a directory on disk, or the embedded demo.
enum Source {
    Disk(PathBuf),
    Embedded,
}

impl Source {
    fn read(&self, rel: &str) -> Result<(PathBuf, String), ConfigError> {
        match self {
            Source::Disk(dir) => {
                let path = dir.join(rel);
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    file: path.clone(),
                    source,
                })?;
                Ok((path, text))
            }
            Source::Embedded => {
                let path = PathBuf::from(format!("<embedded>/{rel}"));
                match embedded::file(rel) {
                    Some(text) => Ok((path, text.to_string())),
                    None => Err(ConfigError::Read {
                        file: path,
                        source: std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "not part of the embedded default",
                        ),
                    }),
                }
            }
        }
    }

    /// The source that files named inside `file` are relative to.
    fn beside(&self, file: &Path) -> Source {
        match self {
            Source::Disk(_) => Source::Disk(
                file.parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from(".")),
            ),
            // Embedded names are all relative to deploy/demo/.
            Source::Embedded => Source::Embedded,
        }
    }
}

/// Loads the embedded demo configuration.
pub fn load_embedded() -> Result<Loaded, ConfigError> {
    let source = Source::Embedded;
    let (path, text) = source.read("modtag.toml")?;
    load_from(&source, &path, &text, "embedded default".into())
}

/// Loads `path` and the directory and tree it names.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    let source = Source::Disk(PathBuf::new());
    let origin = path.display().to_string();
    let mut loaded = load_from(&source.beside(path), path, &text, origin)?;
    loaded.config.base_dir = Some(
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    );
    Ok(loaded)
}

/// Checks a candidate beslutningstræ (`text`, named `path` in messages) against a directory,
/// as start-up would: for `route simulate`, before anyone deploys it.
pub fn check_tree(path: &Path, text: &str, directory: &Directory) -> Result<Tree, ConfigError> {
    let mut errors = Vec::new();
    let tree = parse_tree(path, text, directory, &mut errors)?;
    match errors.len() {
        0 => Ok(tree),
        1 => Err(errors.remove(0)),
        _ => Err(ConfigError::Many(errors)),
    }
}

fn load_from(
    source: &Source,
    path: &Path,
    text: &str,
    origin: String,
) -> Result<Loaded, ConfigError> {
    let config: Config = toml::from_str(text).map_err(|e| ConfigError::from_toml(path, text, e))?;
    let mut errors = Vec::new();
    validate_main(&config, path, text, &mut errors);

    let (dir_path, dir_text) = source.read(&config.policy.directory)?;
    let directory = parse_directory(&source.beside(&dir_path), &dir_path, &dir_text, &mut errors)?;
    let (tree_path, tree_text) = source.read(&config.policy.beslutningstrae)?;
    let tree = parse_tree(&tree_path, &tree_text, &directory, &mut errors)?;
    let auditors = parse_auditors(source, &config, path, text, &mut errors);

    if !errors.is_empty() {
        return Err(if errors.len() == 1 {
            errors.remove(0)
        } else {
            ConfigError::Many(errors)
        });
    }
    Ok(Loaded {
        config,
        directory,
        tree,
        auditors,
        origin,
    })
}

/// The auditors' certificates: public only, usable for encryption. Audit payloads are
/// encrypted to them, and only the auditors' secret keys (never on the server) read them.
fn parse_auditors(
    source: &Source,
    config: &Config,
    path: &Path,
    text: &str,
    errors: &mut Vec<ConfigError>,
) -> Vec<openpgp::Cert> {
    let files = &config.audit.auditor_certs;
    if files.is_empty() {
        errors.push(invalid(
            path,
            line_of(text, "auditor_certs", ""),
            "[audit] auditor_certs is empty: give the auditors' OpenPGP certificate(s); their secret keys stay with the auditors".into(),
        ));
    }
    let mut certs = Vec::new();
    for file in files {
        let line = line_of(text, "auditor_certs", file);
        let cert = source
            .read(file)
            .map_err(|e| e.to_string())
            .and_then(|(_, t)| {
                openpgp::Cert::from_bytes(t.as_bytes())
                    .map_err(|e| format!("{file}: not an OpenPGP certificate: {e}"))
            });
        match cert {
            Ok(c) if c.is_tsk() => errors.push(invalid(
                path,
                line,
                format!("audit.auditor_certs: {file} holds a secret key: give the public certificate only, and keep the key with the auditors"),
            )),
            Ok(c) => match check_cert(&c) {
                Ok(()) => certs.push(c),
                Err(why) => errors.push(invalid(path, line, format!("audit.auditor_certs: {file}: {why}"))),
            },
            Err(e) => errors.push(invalid(path, line, format!("audit.auditor_certs: {e}"))),
        }
    }
    certs
}

fn invalid(file: &Path, line: usize, message: String) -> ConfigError {
    ConfigError::Invalid {
        file: file.to_path_buf(),
        line,
        message,
    }
}

fn validate_main(config: &Config, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
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
    ] {
        if value == 0 {
            errors.push(invalid(
                path,
                line_of(text, key, "0"),
                format!("http.{key} = 0 would refuse every request: it must be at least 1"),
            ));
        }
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

fn parse_directory(
    source: &Source,
    path: &Path,
    text: &str,
    errors: &mut Vec<ConfigError>,
) -> Result<Directory, ConfigError> {
    let file: DirectoryFile =
        toml::from_str(text).map_err(|e| ConfigError::from_toml(path, text, e))?;
    let mut directory = Directory::default();
    for entry in file.people {
        let line = line_of(text, "id", &entry.id);
        for role in &entry.roles {
            if !roles::is_role(role) {
                errors.push(invalid(
                    path,
                    line,
                    format!(
                        "person {:?} has unknown role {role:?}: use one of {}",
                        entry.id,
                        roles::ROLE_IDS.join(", ")
                    ),
                ));
            }
        }
        let armored = match (&entry.cert, &entry.cert_file) {
            (Some(inline), None) => inline.clone(),
            (None, Some(file)) => match source.read(file) {
                Ok((_, t)) => t,
                Err(e) => {
                    errors.push(invalid(
                        path,
                        line,
                        format!("person {:?}: certificate file: {e}", entry.id),
                    ));
                    continue;
                }
            },
            _ => {
                errors.push(invalid(
                    path,
                    line,
                    format!(
                        "person {:?} needs exactly one of cert_file or cert (an armored OpenPGP certificate)",
                        entry.id
                    ),
                ));
                continue;
            }
        };
        let cert = match openpgp::Cert::from_bytes(armored.as_bytes()) {
            Ok(c) => c,
            Err(e) => {
                errors.push(invalid(
                    path,
                    line,
                    format!("person {:?}: certificate does not parse: {e}", entry.id),
                ));
                continue;
            }
        };
        if cert.is_tsk() {
            errors.push(invalid(
                path,
                line,
                format!(
                    "person {:?}: the certificate contains secret key material; give the public certificate only",
                    entry.id
                ),
            ));
            continue;
        }
        if let Err(why) = check_cert(&cert) {
            errors.push(invalid(path, line, format!("person {:?}: {why}", entry.id)));
            continue;
        }
        if directory.people.contains_key(&entry.id) {
            errors.push(invalid(
                path,
                line,
                format!("person id {:?} is used twice", entry.id),
            ));
            continue;
        }
        directory.people.insert(
            entry.id.clone(),
            Person {
                id: entry.id,
                name: entry.name,
                email: entry.email,
                roles: entry.roles,
                cert,
            },
        );
    }
    for inst in file.institutions {
        let line = line_of(text, "id", &inst.id);
        if !roles::is_area(&inst.area) {
            errors.push(invalid(
                path,
                line,
                format!(
                    "institution {:?} has unknown area {:?}: use one of {}",
                    inst.id,
                    inst.area,
                    roles::AREAS.join(", ")
                ),
            ));
        }
        let private = inst.area.starts_with("privat_");
        match (&inst.cvr, private) {
            (None, true) => errors.push(invalid(
                path,
                line,
                format!("private institution {:?} needs its cvr: it is answered through it (Flow 2)", inst.id),
            )),
            (Some(cvr), _) if !crate::directory::cvr_valid(cvr) => errors.push(invalid(
                path,
                line,
                format!("institution {:?}: cvr {cvr:?} is not a valid CVR number (8 digits, check digits by weights 2765 4321)", inst.id),
            )),
            _ => {}
        }
        if !directory.people.contains_key(&inst.leader) {
            errors.push(invalid(
                path,
                line,
                format!(
                    "institution {:?} names leader {:?}, who is not in the directory",
                    inst.id, inst.leader
                ),
            ));
        }
        directory.institutions.insert(inst.id.clone(), inst);
    }
    const DAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    for (day, hours) in &file.calendar.office_hours {
        if !DAYS.contains(&day.as_str()) {
            errors.push(invalid(
                path,
                line_of(text, day, hours),
                format!("calendar.office_hours: {day:?} is not a weekday: use monday ... sunday"),
            ));
        } else if crate::directory::parse_hours(hours).is_none() {
            errors.push(invalid(
                path,
                line_of(text, day, hours),
                format!("calendar.office_hours.{day} = {hours:?}: write opening hours as \"08:00-15:30\""),
            ));
        }
    }
    directory.calendar = file.calendar;
    Ok(directory)
}

/// Rules that can never match, and pairs that match exactly the same facts: with every
/// matching rule contributing, two rules on the same conditions are one rule written twice
/// (the same results) or a contradiction the administrator must settle (different results).
fn check_rule_logic(
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

fn parse_tree(
    path: &Path,
    text: &str,
    directory: &Directory,
    errors: &mut Vec<ConfigError>,
) -> Result<Tree, ConfigError> {
    let file: TreeFile = toml::from_str(text).map_err(|e| ConfigError::from_toml(path, text, e))?;
    let mut ids = BTreeMap::new();
    for rule in &file.rules {
        let line = line_of(text, "id", &rule.id);
        let seen = ids.entry(rule.id.clone()).or_insert(0usize);
        *seen += 1;
        if *seen > 1 {
            errors.push(invalid(
                path,
                crate::error::line_of_nth(text, "id", &rule.id, *seen - 1),
                format!("rule id {:?} is used twice", rule.id),
            ));
        }
        for role in &rule.to {
            if !roles::is_role(role) {
                errors.push(invalid(
                    path,
                    line,
                    format!("rule {:?} sends to unknown role {role:?}", rule.id),
                ));
            } else if !roles::CONTEXT_ROLES.contains(&role.as_str())
                && directory.with_role(role).is_empty()
            {
                errors.push(invalid(
                    path,
                    line,
                    format!(
                        "rule {:?} sends to role {role:?}, which no one in the directory holds: add a person with that role",
                        rule.id
                    ),
                ));
            }
        }
        for action in &rule.actions {
            if !ACTIONS.contains(&action.as_str()) {
                errors.push(invalid(
                    path,
                    line,
                    format!(
                        "rule {:?} names unknown action {action:?}: use one of {}",
                        rule.id,
                        ACTIONS.join(", ")
                    ),
                ));
            }
        }
        for kind in rule.when.kind.iter().flatten() {
            if !KINDS.contains(&kind.as_str()) {
                errors.push(invalid(
                    path,
                    line,
                    format!(
                        "rule {:?} names unknown kind {kind:?}: use one of {}",
                        rule.id,
                        KINDS.join(", ")
                    ),
                ));
            }
        }
        for area in rule.when.area.iter().flatten() {
            if !roles::is_area(area) {
                errors.push(invalid(
                    path,
                    line,
                    format!("rule {:?} names unknown area {area:?}", rule.id),
                ));
            }
        }
        if rule.when.trin.iter().flatten().any(|t| *t > 4) {
            errors.push(invalid(
                path,
                line,
                format!("rule {:?}: trin goes from 0 to 4", rule.id),
            ));
        }
        if rule.to.is_empty() && rule.actions.is_empty() {
            errors.push(invalid(
                path,
                line,
                format!(
                    "rule {:?} has neither recipients (to) nor actions: it would do nothing",
                    rule.id
                ),
            ));
        }
    }
    check_rule_logic(&file.rules, path, text, errors);
    Ok(Tree {
        rules: file.rules,
        hash: hex::encode(Sha256::digest(text.as_bytes())),
    })
}
