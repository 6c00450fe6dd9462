//! The statusmøder's invitations (issue 16): `router::meetings` plans the school year,
//! `delivery::ical` writes each meeting as an invitation; here the two meet, for the CLI's
//! files and for the mail the API queues. An invitation names staff only: no child.

use jiff::civil::DateTime;
use jiff::Timestamp;
use modtag_config::Loaded;
use modtag_router::meetings::{school_year, teams};

use crate::delivery::ical::{calendar, Invitation, Person};

/// One meeting's invitation and whom it goes to (the organizer too).
pub struct Invite {
    pub uid: String,
    pub team: &'static str,
    pub slug: &'static str,
    pub start: DateTime,
    pub end: DateTime,
    pub summary: String,
    /// The `VCALENDAR` text (`METHOD:REQUEST`).
    pub ics: String,
    /// (directory id, e-mail address) of each person it goes to, the organizer first.
    pub to: Vec<(String, String)>,
    pub members: Vec<String>,
}

/// The school year's invitations, organized by the leader of PPR; an error says what the
/// directory lacks.
pub fn statusmoeder(loaded: &Loaded, year: i16, stamp: Timestamp) -> Result<Vec<Invite>, String> {
    let organizer = loaded
        .directory
        .with_role("leder_ppr")
        .into_iter()
        .next()
        .ok_or("the directory has no leader of PPR (leder_ppr) to summon the statusmøder")?;
    let teams = teams(&loaded.tree, &loaded.directory);
    Ok(school_year(year, &teams, &loaded.directory.calendar)
        .into_iter()
        .map(|m| {
            let uid = format!(
                "statusmoede-{}-{}@{}",
                m.team.slug,
                m.start.date().strftime("%Y%m%d"),
                loaded.config.smtp.hostname
            );
            let others: Vec<_> = m
                .team
                .members
                .iter()
                .filter(|p| p.id != organizer.id)
                .collect();
            let attendees: Vec<Person> = others
                .iter()
                .map(|p| Person {
                    name: &p.name,
                    email: &p.email,
                })
                .collect();
            let summary = format!("Statusmøde: {}", m.team.name);
            let ics = calendar(&Invitation {
                uid: &uid,
                sequence: 0,
                cancel: false,
                summary: &summary,
                description: "Status- og mulighedsmøde (trin 2), indkaldt af lederen af PPR.",
                start: m.start,
                end: m.end,
                organizer: Person {
                    name: &organizer.name,
                    email: &organizer.email,
                },
                attendees: &attendees,
                stamp,
            });
            let to = std::iter::once((organizer.id.clone(), organizer.email.clone()))
                .chain(others.iter().map(|p| (p.id.clone(), p.email.clone())))
                .collect();
            Invite {
                uid,
                team: m.team.name,
                slug: m.team.slug,
                start: m.start,
                end: m.end,
                summary,
                ics,
                to,
                members: m.team.members.iter().map(|p| p.id.clone()).collect(),
            }
        })
        .collect())
}
