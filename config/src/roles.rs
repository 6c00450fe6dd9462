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

/// How a person reads role `id` in Danish ("den lokale leder"); the id itself if unknown.
pub fn role_words(id: &str) -> &str {
    match id {
        "modtagelsen" => "Modtagelsen",
        "modtagelsen_leder" => "lederen af Modtagelsen",
        "doegnvagt" => "døgnvagten",
        "journalen" => "Journalen",
        "raadgiver" => "sagens børne- og ungerådgiver",
        "lokal_leder" => "den lokale leder",
        "privat_leder" => "den private institutions leder",
        "boerneskoleraadgiver" => "Børneskolerådgiverne",
        "leder_ppr" => "lederen af PPR",
        "leder_dagpleje" => "lederen af dagplejen",
        "leder_sundhedspleje" => "lederen af Sundhedsplejen",
        "distriktsinstitutionsleder" => "distriktsinstitutionslederen",
        "leder_paedagogiske_vejledere" => "lederen af de pædagogiske vejledere",
        "distriktsskoleleder" => "distriktsskolelederen",
        "leder_boerneskoleraadgivere" => "lederen af Børneskolerådgiverne",
        "leder_uu" => "lederen af UU",
        "leder_fritid" => "lederen af fritid",
        other => other,
    }
}

pub fn is_role(id: &str) -> bool {
    ROLE_IDS.contains(&id)
}

pub fn is_area(id: &str) -> bool {
    AREAS.contains(&id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_role_has_danish_words() {
        for id in super::ROLE_IDS {
            assert_ne!(super::role_words(id), *id, "{id} has no words");
        }
    }
}
