//! The routing decision: which people receive a copy, and why.

use std::borrow::Cow;

use modtag_config::tree::When;
use modtag_config::{Directory, RouteKind, Rule, Tree};

pub use crate::why::Why;

/// The facts a person (or the mechanical auto-link rule) has established about an intake.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub kind: RouteKind,
    pub trin: Option<u8>,
    pub area: Option<String>,
    pub udskoling: bool,
    pub existing_case: bool,
    pub consent: bool,
    /// For an `overgang` (issue 16): the second consent, to share the current forløb's
    /// information; without both, nothing goes out.
    pub consent_share: bool,
    pub akut: bool,
    pub out_of_hours: bool,
    /// Directory id of the child's institution, to resolve `lokal_leder` / `privat_leder`.
    pub institution: Option<String>,
    /// Directory id of the case's responsible rådgiver, to resolve `raadgiver`.
    pub raadgiver: Option<String>,
    /// For `trivselplus`: the names written in the subject (each entry may hold several).
    pub names: Vec<String>,
}

/// One person who receives a copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    pub role: String,
    /// Directory id.
    pub person: String,
    pub email: String,
    pub rule: String,
    pub reason: String,
}

/// A recipient a rule named but the consent gate or the directory held back.
#[derive(Debug, Clone, PartialEq)]
pub struct Withheld {
    pub role: String,
    pub rule: String,
    pub why: Why,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    pub recipients: Vec<Recipient>,
    /// `(action, rule id)`.
    pub actions: Vec<(String, String)>,
    pub withheld: Vec<Withheld>,
    /// Why nothing (or not everything) was sent, in plain words; `None` when all went out.
    pub refused: Option<String>,
    /// Rules that matched, in tree order.
    pub matched: Vec<String>,
    /// Hash of the rule set that made the decision.
    pub tree_hash: String,
}

/// Roles that may only be contacted with recorded consent (DOMAIN.md Flow 1.5, Flow 4).
const CONSENT_ROLES: &[&str] = &["lokal_leder", "boerneskoleraadgiver"];

fn matches(when: &When, f: &Facts) -> bool {
    fn any<T: PartialEq>(list: &Option<Vec<T>>, v: Option<&T>) -> bool {
        match (list, v) {
            (None, _) => true,
            (Some(l), Some(v)) => l.contains(v),
            (Some(_), None) => false,
        }
    }
    fn is(cond: Option<bool>, v: bool) -> bool {
        cond.is_none_or(|c| c == v)
    }
    // The tree names kinds as written (checked against `RouteKind` when it is loaded).
    (when.kind.as_ref()).is_none_or(|l| l.iter().any(|k| k == f.kind.as_str()))
        && any(&when.trin, f.trin.as_ref())
        && any(&when.area, f.area.as_ref())
        && is(when.existing_case, f.existing_case)
        && is(when.consent, f.consent)
        && is(when.akut, f.akut)
        && is(when.out_of_hours, f.out_of_hours)
        && is(when.udskoling, f.udskoling)
}

/// Decides who receives what. Pure: same facts, tree and directory, same decision.
pub fn route(facts: &Facts, tree: &Tree, directory: &Directory) -> Decision {
    let facts = &*with_derived_area(facts, directory);
    let mut d = Decision {
        tree_hash: tree.hash.clone(),
        ..Decision::default()
    };
    for rule in tree.rules.iter().filter(|r| matches(&r.when, facts)) {
        apply_rule(rule, facts, directory, &mut d);
    }
    if facts.kind == RouteKind::Trivselplus && !facts.names.is_empty() {
        route_names(facts, tree, directory, &mut d);
    }
    to_modtagelsen_if_unresolved(directory, &mut d);
    to_owner_if_no_one(facts.kind, directory, &mut d);
    d.refused = refusal(&d);
    d
}

/// The area follows from the institution when a person gave only the institution, so that
/// rules on the area match as if it had been given.
fn with_derived_area<'a>(facts: &'a Facts, directory: &Directory) -> Cow<'a, Facts> {
    match (
        &facts.area,
        facts
            .institution
            .as_deref()
            .and_then(|i| directory.institution(i)),
    ) {
        (None, Some(inst)) => Cow::Owned(Facts {
            area: Some(inst.area.clone()),
            ..facts.clone()
        }),
        _ => Cow::Borrowed(facts),
    }
}

/// One matching rule: its actions are recorded, and each role it sends to either receives
/// a copy or is withheld with the reason (consent, or no one to resolve it to).
fn apply_rule(rule: &Rule, facts: &Facts, directory: &Directory, d: &mut Decision) {
    d.matched.push(rule.id.clone());
    let gated = rule.actions.iter().any(|a| a == "require_consent");
    for action in &rule.actions {
        d.actions.push((action.clone(), rule.id.clone()));
    }
    for role in &rule.to {
        if facts.kind == RouteKind::Overgang && facts.consent && !facts.consent_share {
            d.withheld.push(Withheld {
                role: role.clone(),
                rule: rule.id.clone(),
                why: Why::ConsentToShareMissing,
            });
            continue;
        }
        if (gated || CONSENT_ROLES.contains(&role.as_str())) && !facts.consent {
            d.withheld.push(Withheld {
                role: role.clone(),
                rule: rule.id.clone(),
                why: Why::ConsentMissing,
            });
            continue;
        }
        let people = resolve(role, facts, directory);
        if people.is_empty() {
            d.withheld.push(Withheld {
                role: role.clone(),
                rule: rule.id.clone(),
                why: Why::unresolved(role),
            });
            continue;
        }
        for person in people {
            if d.recipients.iter().any(|r| r.person == person.id) {
                continue;
            }
            d.recipients.push(Recipient {
                role: role.clone(),
                person: person.id.clone(),
                email: person.email.clone(),
                rule: rule.id.clone(),
                reason: rule.reason.clone(),
            });
        }
    }
}

/// The roles a rule named that could not be resolved from the case or institution (names
/// Journalen resolves are not among them).
fn unresolved(d: &Decision) -> Vec<&Withheld> {
    d.withheld
        .iter()
        .filter(|w| w.why.is_unresolved())
        .collect()
}

/// Nothing is dropped: what could not be resolved from the case or institution goes to
/// Modtagelsen for a person to place.
fn to_modtagelsen_if_unresolved(directory: &Directory, d: &mut Decision) {
    let unresolved = unresolved(d);
    if unresolved.is_empty() {
        return;
    }
    let roles = unresolved
        .iter()
        .map(|w| w.role.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    for person in directory.with_role("modtagelsen") {
        if !d.recipients.iter().any(|r| r.person == person.id) {
            d.recipients.push(Recipient {
                role: "modtagelsen".into(),
                person: person.id.clone(),
                email: person.email.clone(),
                rule: "fallback-unresolved".into(),
                reason: format!("Kunne ikke finde modtager for {roles}: Modtagelsen placerer den."),
            });
        }
    }
}

/// A decision never leaves a mailbox's intake with no one (issue 16): when nothing goes
/// anywhere (no rule fits, or consent holds everything back), it stays with the team that
/// owns the mailbox, and the refusal says why.
fn to_owner_if_no_one(kind: RouteKind, directory: &Directory, d: &mut Decision) {
    if !d.recipients.is_empty() {
        return;
    }
    let Some((owner, team)) = owner_of(kind) else {
        return;
    };
    for person in directory.with_role(owner) {
        d.recipients.push(Recipient {
            role: owner.into(),
            person: person.id.clone(),
            email: person.email.clone(),
            rule: "fallback-ingen-modtager".into(),
            reason: format!("Ingen anden får den efter beslutningstræet: den bliver hos {team}."),
        });
    }
}

/// Why nothing (or not everything) was sent, in plain words; `None` when all went out.
fn refusal(d: &Decision) -> Option<String> {
    let mut why = Vec::new();
    if d.withheld
        .iter()
        .any(|w| w.why == Why::ConsentToShareMissing)
    {
        why.push(
            "samtykke til at dele forløbets oplysninger mangler: intet sendes ved overgangen"
                .to_string(),
        );
    } else if d.withheld.iter().any(|w| w.why.is_consent()) {
        why.push("samtykke mangler: lokal leder / Børneskolerådgivere får intet".to_string());
    }
    let unresolved = unresolved(d);
    if !unresolved.is_empty() {
        why.push(
            unresolved
                .iter()
                .map(|w| w.why.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
    let names_left: Vec<&str> = d
        .withheld
        .iter()
        .filter(|w| w.why.is_name())
        .map(|w| w.role.as_str())
        .collect();
    if !names_left.is_empty() {
        why.push(format!(
            "Journalen afgør {} navn(e) fra emnet",
            names_left.len()
        ));
    }
    if d.matched.is_empty() {
        why.push("ingen regel i beslutningstræet passer på disse fakta".into());
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// The team that owns the mailbox an intake of this routing kind came to, and its name.
fn owner_of(kind: RouteKind) -> Option<(&'static str, &'static str)> {
    match kind {
        RouteKind::Underretning => Some(("modtagelsen", "Modtagelsen")),
        RouteKind::Trivselplus => Some(("journalen", "Journalen")),
        RouteKind::Statusmoede | RouteKind::Overgang => None,
    }
}

/// The pseudo-rule under which Trivsel+ names are routed.
pub const NAMES_RULE: &str = "trivselplus-navne";

/// The leaders a Trivsel+ submission may name for the child's area: those Flow 3 summons
/// to a status meeting there (the tree's `statusmoede` rules), plus the leader of PPR.
pub fn allowed_leader_roles(facts: &Facts, tree: &Tree) -> Vec<String> {
    let mut roles = vec!["leder_ppr".to_string()];
    let mut probe = Facts {
        kind: RouteKind::Statusmoede,
        names: Vec::new(),
        ..facts.clone()
    };
    // DOMAIN.md's lists have no row for a private dagtilbud: its children's team is the
    // district's dagtilbud team, so its Send sikkert may name those leaders (issue 16).
    let own_list = tree.rules.iter().any(|r| {
        r.when
            .kind
            .as_ref()
            .is_some_and(|k| k.iter().any(|k| k == RouteKind::Statusmoede.as_str()))
            && r.when
                .area
                .as_ref()
                .is_some_and(|a| facts.area.as_ref().is_some_and(|f| a.contains(f)))
    });
    if facts.area.as_deref() == Some("privat_dagtilbud") && !own_list {
        probe.area = Some("dagtilbud".into());
    }
    for rule in &tree.rules {
        let is_status = rule
            .when
            .kind
            .as_ref()
            .is_some_and(|k| k.iter().any(|k| k == RouteKind::Statusmoede.as_str()));
        // Without an area, any area's leaders may be named.
        let fits = if facts.area.is_some() {
            matches(&rule.when, &probe)
        } else {
            matches(
                &When {
                    area: None,
                    udskoling: None,
                    ..rule.when.clone()
                },
                &probe,
            )
        };
        if is_status && fits {
            for role in &rule.to {
                if !roles.contains(role)
                    && !modtag_config::roles::CONTEXT_ROLES.contains(&role.as_str())
                {
                    roles.push(role.clone());
                }
            }
        }
    }
    roles
}

/// DOMAIN.md: each name is matched against the directory and the leaders the tree allows for
/// the area; matches receive the submission, the rest is Journalen's to resolve.
fn route_names(facts: &Facts, tree: &Tree, directory: &Directory, d: &mut Decision) {
    let allowed = allowed_leader_roles(facts, tree);
    let text = facts.names.join(", ");
    let mut left = false;
    for result in crate::names::match_names(&text, directory) {
        match result {
            crate::names::NameResult::Matched(written, id, name) => {
                let Some(person) = directory.person(&id) else {
                    continue;
                };
                match person.roles.iter().find(|r| allowed.contains(r)) {
                    Some(role) => {
                        if !d.recipients.iter().any(|r| r.person == id) {
                            d.recipients.push(Recipient {
                                role: role.clone(),
                                person: id.clone(),
                                email: person.email.clone(),
                                rule: NAMES_RULE.into(),
                                reason: format!("«{written}» i emnet er {name} ({role})."),
                            });
                        }
                    }
                    None => {
                        left = true;
                        d.withheld.push(Withheld {
                            role: written,
                            rule: NAMES_RULE.into(),
                            why: Why::NotAnAllowedLeader {
                                name,
                                allowed: allowed.clone(),
                            },
                        });
                    }
                }
            }
            crate::names::NameResult::Unmatched(written, suggestion) => {
                left = true;
                d.withheld.push(Withheld {
                    role: written.clone(),
                    rule: NAMES_RULE.into(),
                    why: Why::NotInDirectory {
                        written,
                        suggestion,
                    },
                });
            }
        }
    }
    if left {
        for person in directory.with_role("journalen") {
            if !d.recipients.iter().any(|r| r.person == person.id) {
                d.recipients.push(Recipient {
                    role: "journalen".into(),
                    person: person.id.clone(),
                    email: person.email.clone(),
                    rule: NAMES_RULE.into(),
                    reason: "Navne i emnet, der ikke kunne matches, afgøres af Journalen.".into(),
                });
            }
        }
    }
}

fn resolve<'a>(
    role: &str,
    facts: &Facts,
    directory: &'a Directory,
) -> Vec<&'a modtag_config::Person> {
    match role {
        "raadgiver" => facts
            .raadgiver
            .as_deref()
            .and_then(|id| directory.person(id))
            .into_iter()
            .collect(),
        // The lokal leder is the leader of the child's institution, private or not; a
        // privat_leder exists only for a private institution.
        "lokal_leder" | "privat_leder" => facts
            .institution
            .as_deref()
            .and_then(|id| directory.institution(id))
            .filter(|inst| role == "lokal_leder" || inst.area.starts_with("privat_"))
            .and_then(|inst| directory.person(&inst.leader))
            .into_iter()
            .collect(),
        other => directory.with_role(other),
    }
}
