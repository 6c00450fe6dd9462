//! Statusmøder (trin 2, DOMAIN.md flow 3): the leader of PPR summons each lederteam every
//! 8th week for 2 hours (a private school's own leader summons its school's), planned each
//! August for the school year. Each team's members are whom the beslutningstræ's
//! `statusmoede` rules summon for its area, so a change to the tree changes the
//! invitations; the leaders of UU and fritid only to a meeting with a forløb about a pupil
//! in udskoling on its agenda. No meeting falls on a Danish public holiday or another
//! closed day of the calendar: such a date moves to the next open day, and the rhythm goes
//! on from the planned dates. Pure: (year, tree, directory, calendar) → meetings.

use jiff::civil::{Date, DateTime, Weekday};
use jiff::ToSpan;
use modtag_config::directory::{Calendar, Directory};
use modtag_config::tree::Tree;

use crate::calendar;
use crate::route::{route, Facts};

/// Someone invited: a directory person.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: String,
}

/// A lederteam and whom it summons.
#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    /// "Dagplejen", "Skoler", or a private school's own name.
    pub name: String,
    /// For identifiers: `dagplejen`, `dagtilbud`, `skoler`, `privat-<institution id>`.
    pub slug: String,
    /// Who calls the meeting: the one a `summon_statusmoede` rule names first (the leader of
    /// PPR; a private school's own leader for its school).
    pub organizer: Option<Member>,
    /// Everyone summoned, the organizer too, in the tree's order.
    pub members: Vec<Member>,
    /// Summoned besides when a forløb about a pupil in udskoling is on the agenda (the
    /// leaders of UU and fritid): only for the meetings marked so.
    pub udskoling: Vec<Member>,
}

/// One meeting of the series, in Danish local time.
#[derive(Debug, Clone, PartialEq)]
pub struct Meeting {
    pub team: Team,
    /// The day the 8-week rhythm planned it, before a closed day moved it: what names the
    /// meeting across changes.
    pub planned: Date,
    pub start: DateTime,
    pub end: DateTime,
}

/// The teams (DOMAIN.md): Dagplejen, Dagtilbud, Skoler, and each private school (called by
/// its own leader; the tree leaves out the leader of the Børneskolerådgivere there).
const TEAMS: [(&str, &str, &str); 4] = [
    ("Dagplejen", "dagplejen", "dagpleje"),
    ("Dagtilbud", "dagtilbud", "dagtilbud"),
    ("Skoler", "skoler", "skole"),
    ("", "privat", "privat_skole"),
];

/// The action that makes a rule's first recipient the one who calls the meeting.
const SUMMON: &str = "summon_statusmoede";

/// Weeks between two meetings of a team, and its length in hours.
pub const EVERY_WEEKS: i64 = 8;
pub const HOURS: i8 = 2;

/// Each team with the people the tree summons for its area (a team that summons no one
/// is left out); a private school is a team of its own, called by its leader.
pub fn teams(tree: &Tree, directory: &Directory) -> Vec<Team> {
    let mut out = Vec::new();
    for (name, slug, area) in TEAMS {
        let facts = |institution: Option<String>, udskoling: bool| Facts {
            kind: modtag_config::RouteKind::Statusmoede,
            area: Some(area.to_string()),
            udskoling,
            institution,
            ..Facts::default()
        };
        let schools: Vec<(String, String, Option<String>)> = if area == "privat_skole" {
            (directory.institutions.values())
                .filter(|i| i.area == area)
                .map(|i| {
                    (
                        i.name.clone(),
                        format!("{slug}-{}", i.id),
                        Some(i.id.clone()),
                    )
                })
                .collect()
        } else {
            vec![(name.to_string(), slug.to_string(), None)]
        };
        for (name, slug, institution) in schools {
            let (members, organizer) =
                summoned(tree, directory, &facts(institution.clone(), false));
            let (all, _) = summoned(tree, directory, &facts(institution, true));
            let udskoling = all.into_iter().filter(|m| !members.contains(m)).collect();
            if !members.is_empty() {
                out.push(Team {
                    name,
                    slug,
                    organizer,
                    members,
                    udskoling,
                });
            }
        }
    }
    out
}

/// Whom the tree summons for `facts`, each once, and who of them calls the meeting.
fn summoned(tree: &Tree, directory: &Directory, facts: &Facts) -> (Vec<Member>, Option<Member>) {
    let decision = route(facts, tree, directory);
    let mut members: Vec<Member> = Vec::new();
    let mut organizer = None;
    for r in decision.recipients {
        if r.rule.starts_with("fallback") || members.iter().any(|m| m.id == r.person) {
            continue;
        }
        let name = directory
            .person(&r.person)
            .map_or(r.person.clone(), |p| p.name.clone());
        let member = Member {
            id: r.person,
            name,
            email: r.email,
            role: r.role,
        };
        let summons = (decision.actions.iter()).any(|(a, rule)| a == SUMMON && *rule == r.rule);
        if summons && organizer.is_none() {
            organizer = Some(member.clone());
        }
        members.push(member);
    }
    (members, organizer)
}

/// The first meeting day of the school year that begins in August of `year`: the first
/// Tuesday on or after 15 August (after the summer holiday's first school week).
pub fn first_day(year: i16) -> Date {
    let mut d = Date::new(year, 8, 15).expect("15 August exists");
    while d.weekday() != Weekday::Tuesday {
        d = d.tomorrow().expect("within the year");
    }
    d
}

/// The open day on or after `d` (where a planned meeting on a closed day goes).
pub fn open_from(mut d: Date, cal: &Calendar) -> Date {
    while calendar::closed(d, cal) {
        d = d.tomorrow().expect("within the calendar");
    }
    d
}

/// The school year's series for every team: from [`first_day`] every [`EVERY_WEEKS`]
/// weeks until the summer holiday (1 July), each team for [`HOURS`] hours after the one
/// before it from 08:00, so the leader of PPR, who summons them all, is at each.
pub fn school_year(year: i16, teams: &[Team], cal: &Calendar) -> Vec<Meeting> {
    let summer = Date::new(year + 1, 7, 1).expect("1 July exists");
    let mut out = Vec::new();
    let mut planned = first_day(year);
    while planned < summer {
        let day = open_from(planned, cal);
        for (i, team) in teams.iter().enumerate() {
            let start = day.at(8 + HOURS * i as i8, 0, 0, 0);
            out.push(Meeting {
                team: team.clone(),
                planned,
                start,
                end: start + (HOURS as i64).hours(),
            });
        }
        planned = planned
            .checked_add((EVERY_WEEKS * 7).days())
            .expect("within the calendar");
    }
    out
}
