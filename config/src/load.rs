//! Loading and validating the three files together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use openpgp::parse::Parse;
use sequoia_openpgp as openpgp;
use sha2::{Digest, Sha256};

use crate::check::{check_rule_logic, validate_main};
use crate::directory::{
    check_cert, Directory, DirectoryFile, Institution, Person, PersonEntry, Staff,
};
use crate::error::{invalid, line_of, ConfigError};
use crate::model::Config;
use crate::tree::{Tree, TreeFile, ACTIONS};
use crate::RouteKind;
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
    /// The kommune's logo (`[kommune] logo`), an SVG drawing checked at load.
    pub logo: Option<String>,
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
    check_cli(&config, &directory, path, text, &mut errors);
    let logo = read_logo(source, &config, path, text, &mut errors);

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
        logo,
    })
}

/// `[kommune] logo`: the SVG file, read and checked (see `kommune::logo_problem`).
fn read_logo(
    source: &Source,
    config: &Config,
    path: &Path,
    text: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<String> {
    let file = config.kommune.logo.as_deref()?;
    let line = line_of(text, "logo", file);
    let problem = match source.read(file) {
        Ok((_, svg)) => match crate::kommune::logo_problem(&svg) {
            None => return Some(svg),
            Some(p) => p,
        },
        Err(e) => format!("cannot be read: {e}"),
    };
    errors.push(invalid(
        path,
        line,
        format!("[kommune] logo {file:?} {problem}"),
    ));
    None
}

/// `[cli]`: every mapped account is named, and each demo account has roles modtag knows
/// and an e-mail the directory knows (its roles are narrowed to the directory's).
fn check_cli(
    config: &Config,
    directory: &Directory,
    path: &Path,
    text: &str,
    errors: &mut Vec<ConfigError>,
) {
    for (os_user, account) in &config.cli.accounts {
        if os_user.trim().is_empty() || account.trim().is_empty() {
            errors.push(invalid(
                path,
                line_of(text, "accounts", ""),
                "cli.accounts: each entry maps an operating-system user to a modtag account id; \
                 neither may be empty"
                    .into(),
            ));
        }
    }
    for demo in &config.cli.demo_accounts {
        let line = line_of(text, "id", &demo.id);
        for role in &demo.roles {
            if !roles::is_role(role) && !roles::SYSTEM_ROLES.contains(&role.as_str()) {
                errors.push(invalid(
                    path,
                    line,
                    format!(
                        "cli.demo_account {:?} has unknown role {role:?}: use one of {}, {}",
                        demo.id,
                        roles::SYSTEM_ROLES.join(", "),
                        roles::ROLE_IDS.join(", ")
                    ),
                ));
            }
        }
        if directory.roles_of_email(&demo.email).is_none() {
            errors.push(invalid(
                path,
                line,
                format!(
                    "cli.demo_account {:?}: the directory knows no one with its e-mail, so it \
                     would have no roles; add a [[staff]] entry with that e-mail",
                    demo.id
                ),
            ));
        }
    }
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

/// `directory.toml`: people, staff, institutions and the office calendar, each part checked
/// as it is added. The parts go in this order because the later ones are checked against
/// the earlier (a staff member's id against the people's, an institution's leader).
fn parse_directory(
    source: &Source,
    path: &Path,
    text: &str,
    errors: &mut Vec<ConfigError>,
) -> Result<Directory, ConfigError> {
    let file: DirectoryFile =
        toml::from_str(text).map_err(|e| ConfigError::from_toml(path, text, e))?;
    let mut directory = Directory::default();
    add_people(source, file.people, path, text, &mut directory, errors);
    add_staff(file.staff, path, text, &mut directory, errors);
    add_institutions(file.institutions, path, text, &mut directory, errors);
    check_office_hours(&file.calendar, path, text, errors);
    directory.calendar = file.calendar;
    Ok(directory)
}

/// `[[person]]`: known roles, a usable certificate (or none), and an id used once.
fn add_people(
    source: &Source,
    people: Vec<PersonEntry>,
    path: &Path,
    text: &str,
    directory: &mut Directory,
    errors: &mut Vec<ConfigError>,
) {
    for entry in people {
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
        let cert = match person_cert(source, &entry) {
            Ok(c) => c,
            Err(why) => {
                errors.push(invalid(path, line, why));
                continue;
            }
        };
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
}

/// A person's certificate, inline or from its file and checked; `Err` is what to report.
/// Without a certificate a person is sent a notification (the reference and a link to the
/// desk) in place of the encrypted copy.
fn person_cert(source: &Source, entry: &PersonEntry) -> Result<Option<openpgp::Cert>, String> {
    let armored = match (&entry.cert, &entry.cert_file) {
        (Some(inline), None) => Some(inline.clone()),
        (None, Some(file)) => match source.read(file) {
            Ok((_, t)) => Some(t),
            Err(e) => return Err(format!("person {:?}: certificate file: {e}", entry.id)),
        },
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(format!(
                "person {:?} has both cert_file and cert: give one (or neither, and the person is sent a link to the desk)",
                entry.id
            ))
        }
    };
    armored.map(|a| checked_cert(&entry.id, &a)).transpose()
}

/// `[[staff]]`: known roles, and an id and e-mail no one else in the directory has.
fn add_staff(
    staff: Vec<Staff>,
    path: &Path,
    text: &str,
    directory: &mut Directory,
    errors: &mut Vec<ConfigError>,
) {
    for member in staff {
        let line = line_of(text, "id", &member.id);
        for role in &member.roles {
            if !roles::is_role(role) {
                errors.push(invalid(
                    path,
                    line,
                    format!(
                        "staff {:?} has unknown role {role:?}: use one of {}",
                        member.id,
                        roles::ROLE_IDS.join(", ")
                    ),
                ));
            }
        }
        let taken =
            directory.people.contains_key(&member.id) || directory.staff.contains_key(&member.id);
        let email_taken = directory.roles_of_email(&member.email).is_some();
        if taken || email_taken {
            errors.push(invalid(
                path,
                line,
                format!(
                    "staff {:?}: the {} is already in the directory; each id and e-mail names one \
                     person",
                    member.id,
                    if taken { "id" } else { "e-mail" }
                ),
            ));
            continue;
        }
        directory.staff.insert(member.id.clone(), member);
    }
}

/// `[[institution]]`: a known area, a valid CVR (required for a private one), and a leader
/// who is in the directory.
fn add_institutions(
    institutions: Vec<Institution>,
    path: &Path,
    text: &str,
    directory: &mut Directory,
    errors: &mut Vec<ConfigError>,
) {
    for inst in institutions {
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
}

/// `[calendar] office_hours`: weekdays only, each with opening hours that parse.
fn check_office_hours(
    calendar: &crate::directory::Calendar,
    path: &Path,
    text: &str,
    errors: &mut Vec<ConfigError>,
) {
    for (day, hours) in &calendar.office_hours {
        if !crate::directory::WEEKDAYS.contains(&day.as_str()) {
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
            if RouteKind::parse(kind).is_none() {
                errors.push(invalid(
                    path,
                    line,
                    format!(
                        "rule {:?} names unknown kind {kind:?}: use one of {}",
                        rule.id,
                        RouteKind::ALL
                            .iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
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

/// A person's armored certificate, parsed and checked to be public and usable for
/// encryption today.
fn checked_cert(id: &str, armored: &str) -> Result<openpgp::Cert, String> {
    let cert = openpgp::Cert::from_bytes(armored.as_bytes())
        .map_err(|e| format!("person {id:?}: certificate does not parse: {e}"))?;
    if cert.is_tsk() {
        return Err(format!(
            "person {id:?}: the certificate contains secret key material; give the public certificate only"
        ));
    }
    check_cert(&cert).map_err(|why| format!("person {id:?}: {why}"))?;
    Ok(cert)
}
