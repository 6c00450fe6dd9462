//! Need-to-know: what each person may see and do, as a pure function of who they are. The
//! API asks these rules for every request from a signed-in person; a refusal is a 403 that
//! says which role would be needed, and reading what one may not see is never audited as
//! read (it never happens).
//!
//! - Modtagelsen and its leader work the underretning queue (underretninger and LÆ 165);
//!   Journalen works postfordeling and TRIVSEL+; the døgnvagt works what an escalation hands
//!   it outside office hours.
//! - Anyone else sees of an intake what was routed to them, and no more (`view`).
//! - Modtagelsen's leader (and an admin) sees failed deliveries and may queue them again;
//!   leaders see the SLA figures; Modtagelsen keeps the case registry.
//! - An admin manages accounts and the configuration and sees no message content; an
//!   auditor reads the audit views.
//!
//! Roles: a person's roles are those of their account that the directory also gives the
//! directory person with the account's e-mail (the directory is authoritative; an account can
//! only narrow it), plus the system roles `admin` and `auditor` from the account.

use modtag_config::{Directory, Kind};

pub use modtag_config::roles::SYSTEM_ROLES;

pub mod view;

/// Who is asking, as far as the rules care.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub user: String,
    /// The directory person with the account's e-mail, if any.
    pub directory_id: Option<String>,
    pub roles: Vec<String>,
}

impl Person {
    /// The person behind an account: its roles narrowed to what the directory gives the
    /// person or member of staff with the account's e-mail.
    pub fn of(user: &str, email: &str, account_roles: &[String], directory: &Directory) -> Person {
        let entry = directory.roles_of_email(email);
        let roles = account_roles
            .iter()
            .filter(|r| {
                SYSTEM_ROLES.contains(&r.as_str())
                    || entry.is_some_and(|(_, given)| given.iter().any(|d| d == *r))
            })
            .cloned()
            .collect();
        Person {
            user: user.to_string(),
            directory_id: entry.map(|(id, _)| id.to_string()),
            roles,
        }
    }

    pub fn has(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    fn any(&self, roles: &[&str]) -> bool {
        roles.iter().any(|r| self.has(r))
    }
}

const UNDERRETNING_DESK: [&str; 2] = ["modtagelsen", "modtagelsen_leder"];
const JOURNAL_DESK: [&str; 1] = ["journalen"];

/// The kinds whose queue `p` works.
pub fn desk_kinds(p: &Person) -> Vec<Kind> {
    let mut kinds = Vec::new();
    if p.any(&UNDERRETNING_DESK) {
        kinds.extend([Kind::Underretning, Kind::Lae165]);
    }
    if p.any(&JOURNAL_DESK) {
        kinds.extend([Kind::Postfordeling, Kind::Trivselplus]);
    }
    kinds
}

/// What a request does, beyond one intake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CasesImport,
    CasesExport,
    ConfigReload,
    RouteSimulate,
    ReportSla,
    OutboxFailed,
    OutboxRetry,
    ManageUsers,
    AuditCheckpoint,
    /// Copy the (encrypted) audit log from the running daemon, to verify and read it.
    AuditCopy,
    /// Mail the school year's statusmøde invitations (the leader of PPR summons them; a
    /// private school's leader her own school's: `api::meetings::scope`).
    SendInvitations,
    /// Move a case back to a trin-2 forløb (flow 4); the case's own rådgiver may too.
    Overgang,
    /// Run the `[retention]` rules now (or see what they would erase).
    Retention,
    /// Erase one intake, with a reason (a mistaken intake, a data subject's request).
    Erase,
    /// Take a backup or export the keyring (encrypted to the store key: nothing in it is
    /// readable without that key).
    Backup,
    /// Replace one of the daemon's keys.
    RotateKeys,
}

/// The roles that allow `action`, for the refusal's message too.
pub fn roles_for(action: Action) -> &'static [&'static str] {
    match action {
        Action::CasesImport | Action::CasesExport => &["modtagelsen", "modtagelsen_leder"],
        Action::ConfigReload | Action::ManageUsers => &["admin"],
        // A simulation replays past intakes' decisions: their desks', not an administrator's
        // (issue 25).
        Action::RouteSimulate => &["modtagelsen", "modtagelsen_leder", "journalen"],
        Action::ReportSla => &["modtagelsen_leder", "admin", "auditor"],
        Action::OutboxFailed | Action::OutboxRetry => &["modtagelsen_leder", "admin"],
        Action::AuditCheckpoint => &["auditor", "admin"],
        Action::AuditCopy => &["auditor"],
        Action::SendInvitations => &["leder_ppr", "admin", "privat_leder"],
        Action::Overgang => &["modtagelsen", "modtagelsen_leder"],
        Action::Retention => &["modtagelsen_leder", "admin"],
        Action::Erase => &["modtagelsen_leder"],
        Action::Backup | Action::RotateKeys => &["admin"],
    }
}

pub fn may(p: &Person, action: Action) -> bool {
    p.any(roles_for(action))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(roles: &[&str], id: Option<&str>) -> Person {
        Person {
            user: "x".into(),
            directory_id: id.map(str::to_string),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn actions_by_role() {
        let modt = person(&["modtagelsen"], Some("modtagelsen"));
        let admin = person(&["admin"], None);
        assert!(may(&admin, Action::ManageUsers) && !may(&modt, Action::ManageUsers));
        assert!(may(
            &person(&["modtagelsen_leder"], None),
            Action::OutboxRetry
        ));
        assert!(!may(&modt, Action::OutboxRetry));
        // The leader of PPR summons the statusmøder; Modtagelsen does not.
        assert!(may(
            &person(&["leder_ppr"], Some("karen.poulsen")),
            Action::SendInvitations
        ));
        assert!(!may(&modt, Action::SendInvitations));
        // A private school's leader calls her school's (which ones: `api::meetings::scope`).
        assert!(may(
            &person(&["privat_leder"], Some("susanne.moeller")),
            Action::SendInvitations
        ));
        assert_eq!(desk_kinds(&modt), [Kind::Underretning, Kind::Lae165]);
        assert!(desk_kinds(&person(&["doegnvagt"], Some("doegnvagten"))).is_empty());
    }

    #[test]
    fn the_directory_is_authoritative_for_roles() {
        let cfg = modtag_config::load_embedded().unwrap();
        let roles = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // The directory makes Lene Holm Modtagelsen's leader; an account cannot add more.
        let lene = Person::of(
            "lene",
            "LENE.HOLM@kommune.localhost",
            &roles(&["modtagelsen_leder", "journalen", "admin"]),
            &cfg.directory,
        );
        assert_eq!(lene.directory_id.as_deref(), Some("lene.holm"));
        assert_eq!(lene.roles, ["modtagelsen_leder", "admin"]);
        let stranger = Person::of(
            "x",
            "x@example.org",
            &roles(&["modtagelsen"]),
            &cfg.directory,
        );
        assert!(stranger.roles.is_empty() && stranger.directory_id.is_none());
    }
}
