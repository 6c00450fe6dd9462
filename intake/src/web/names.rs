//! Names in a TRIVSEL+ subject that the forward could not match (issue 29): they stay on the
//! item for Journalen, each with the leaders the beslutningstræ allows for the
//! institution's area, and Journalen says whom a name means. That is a new decision with
//! the name resolved (`DecisionInput::names_added`, kept across later assessments): the
//! person gets the copy and joins the forløb's leaders; everyone else keeps theirs. The
//! post is `changes::resolve_name`.

use modtag_config::{Kind, Loaded, RouteKind};
use modtag_router::route::{allowed_leader_roles, NAMES_RULE};
use modtag_router::{route, Facts};
use modtag_storage::records::Item;

use crate::workflow::decide::trivsel_names;

/// A name left unmatched, and whom it may be (directory id, name, role in words).
pub(super) struct NameLeft {
    pub written: String,
    pub candidates: Vec<(String, String)>,
}

/// The routing facts of `item`'s forward as it stands, with its resolved names.
fn facts(cfg: &Loaded, item: &Item) -> Option<Facts> {
    let d = item
        .decision
        .as_ref()
        .filter(|_| item.kind == Kind::Trivselplus)?;
    let added = (d.names_added.iter())
        .filter_map(|n| cfg.directory.person(&n.person))
        .map(|p| p.name.clone());
    Some(Facts {
        kind: RouteKind::Trivselplus,
        area: d.area.clone(),
        institution: d.institution.clone(),
        udskoling: d.udskoling,
        names: trivsel_names(item).into_iter().chain(added).collect(),
        ..Facts::default()
    })
}

/// The names the forward left for Journalen, each with the leaders it may mean.
pub(super) fn left(cfg: &Loaded, item: &Item) -> Vec<NameLeft> {
    let Some(facts) = facts(cfg, item) else {
        return Vec::new();
    };
    let d = route(&facts, &cfg.tree, &cfg.directory);
    let allowed = allowed_leader_roles(&facts, &cfg.tree);
    let mut candidates: Vec<(String, String)> = (cfg.directory.people.values())
        .filter(|p| p.roles.iter().any(|r| allowed.contains(r)))
        .filter(|p| !d.recipients.iter().any(|r| r.person == p.id))
        .map(|p| {
            let role = p.roles.iter().find(|r| allowed.contains(r));
            let words = role.map_or("", |r| modtag_config::roles::role_words(r));
            (p.id.clone(), format!("{} ({words})", p.name))
        })
        .collect();
    candidates.sort_by(|a, b| a.1.cmp(&b.1));
    let resolved = |written: &str| {
        (item.decision.iter()).any(|d| d.names_added.iter().any(|n| n.written == written))
    };
    (d.withheld.iter())
        .filter(|w| w.rule == NAMES_RULE && !resolved(&w.role))
        .map(|w| NameLeft {
            written: w.role.clone(),
            candidates: candidates.clone(),
        })
        .collect()
}
