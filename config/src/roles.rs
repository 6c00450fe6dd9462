//! The role ids of DOMAIN.md. A tree, the directory, the audit log and the tests all speak
//! this one vocabulary, so an unknown id is a configuration error, never a silent no-op.

/// Every role id modtag knows.
pub const ROLE_IDS: &[&str] = &[
    "modtagelsen",
    "modtagelsen_leder",
    "doegnvagt",
    "journalen",
    "raadgiver",
    "lokal_leder",
    "privat_leder",
    "boerneskoleraadgiver",
    "leder_ppr",
    "leder_dagpleje",
    "leder_sundhedspleje",
    "distriktsinstitutionsleder",
    "leder_paedagogiske_vejledere",
    "distriktsskoleleder",
    "leder_boerneskoleraadgivere",
    "leder_uu",
    "leder_fritid",
];

/// Roles the configuration gives, not the directory: `admin` manages accounts and the
/// configuration (and sees no message content); `auditor` reads the audit views.
pub const SYSTEM_ROLES: &[&str] = &["admin", "auditor"];

/// Roles resolved from the case or the institution rather than by looking the role up in
/// the directory.
pub const CONTEXT_ROLES: &[&str] = &["raadgiver", "lokal_leder", "privat_leder"];

/// Areas (`area`) of DOMAIN.md.
pub const AREAS: &[&str] = &[
    "dagpleje",
    "dagtilbud",
    "skole",
    "privat_dagtilbud",
    "privat_skole",
];

pub fn is_role(id: &str) -> bool {
    ROLE_IDS.contains(&id)
}

pub fn is_area(id: &str) -> bool {
    AREAS.contains(&id)
}
