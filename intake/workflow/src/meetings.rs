//! The statusmøder's invitations (issue 16): `router::meetings` plans the school year,
//! `crate::ical` writes each meeting as an invitation; here the two meet, for the CLI's
//! files and for the mail the API queues. Sending a year again mails only what changed
//! against what was sent (`storage::series`): a new meeting, a moved one or one whose team
//! changed (SEQUENCE one on; someone no longer on the team gets a cancellation), one no
//! longer planned or cancelled by hand (`METHOD:CANCEL`). An invitation names staff only:
//! no child.

pub mod cancel;

use jiff::civil::{Date, DateTime};
use jiff::Timestamp;
use modtag_config::{Directory, Loaded};
use modtag_router::meetings::{school_year, teams};
use modtag_storage::series::{SentMeeting, SentSeries};

use crate::ical::{calendar, Invitation, Person};

/// Someone invited, or the organizer.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub email: String,
}

/// (directory id, address) of the organizer, then of each attendee.
fn everyone(organizer: &Member, attendees: &[Member]) -> Vec<(String, String)> {
    std::iter::once(organizer)
        .chain(attendees)
        .map(|m| (m.id.clone(), m.email.clone()))
        .collect()
}

/// One meeting as planned now.
pub struct Invite {
    pub uid: String,
    pub team: String,
    pub slug: String,
    pub start: DateTime,
    pub end: DateTime,
    pub summary: String,
    pub organizer: Member,
    /// Everyone else invited.
    pub attendees: Vec<Member>,
    /// Directory ids of the whole team (the organizer too), in the tree's order.
    pub members: Vec<String>,
    /// Marked with a forløb about a pupil in udskoling: the leaders of UU and fritid are
    /// among the attendees.
    pub udskoling: bool,
    /// The team has leaders to summon for udskoling (a school's team).
    pub offers_udskoling: bool,
}

fn description(organizer: &Member) -> String {
    format!(
        "Status- og mulighedsmøde (trin 2), indkaldt af {}.",
        organizer.name
    )
}

fn ics(
    uid: &str,
    summary: &str,
    (start, end): (DateTime, DateTime),
    organizer: &Member,
    attendees: &[Member],
    (sequence, cancel): (u32, bool),
    stamp: Timestamp,
) -> String {
    let people: Vec<Person> = attendees
        .iter()
        .map(|m| Person {
            name: &m.name,
            email: &m.email,
        })
        .collect();
    calendar(&Invitation {
        uid,
        sequence,
        cancel,
        summary,
        description: &description(organizer),
        start,
        end,
        organizer: Person {
            name: &organizer.name,
            email: &organizer.email,
        },
        attendees: &people,
        stamp,
    })
}

impl Invite {
    /// The invitation (`METHOD:REQUEST`), or its cancellation, at `sequence`.
    pub fn ics(&self, sequence: u32, cancel: bool, stamp: Timestamp) -> String {
        ics(
            &self.uid,
            &self.summary,
            (self.start, self.end),
            &self.organizer,
            &self.attendees,
            (sequence, cancel),
            stamp,
        )
    }

    /// (directory id, address) of everyone it goes to, the organizer first.
    pub fn to(&self) -> Vec<(String, String)> {
        everyone(&self.organizer, &self.attendees)
    }
}

/// The school year's invitations, each team's called by its organizer (the leader of PPR;
/// a private school's own leader), with the leaders of UU and fritid at the meetings whose
/// UID is in `udskoling`; an error says what the tree or the directory lacks.
pub fn statusmoeder(
    loaded: &Loaded,
    year: i16,
    udskoling: &[String],
) -> Result<Vec<Invite>, String> {
    let teams = teams(&loaded.tree, &loaded.directory);
    if let Some(t) = teams.iter().find(|t| t.organizer.is_none()) {
        return Err(format!(
            "no one calls the statusmøder of {}: the beslutningstræ's statusmoede rules for \
             it name no one with the action summon_statusmoede",
            t.name
        ));
    }
    let member = |p: &modtag_router::meetings::Member| Member {
        id: p.id.clone(),
        name: p.name.clone(),
        email: p.email.clone(),
    };
    Ok(school_year(year, &teams, &loaded.directory.calendar)
        .into_iter()
        .map(|m| {
            let uid = format!(
                "statusmoede-{}-{}@{}",
                m.team.slug,
                m.planned.strftime("%Y%m%d"),
                loaded.config.smtp.hostname
            );
            let marked = udskoling.contains(&uid) && !m.team.udskoling.is_empty();
            let organizer = m
                .team
                .organizer
                .as_ref()
                .map(member)
                .expect("checked above");
            let everyone: Vec<&modtag_router::meetings::Member> = (m.team.members.iter())
                .chain(m.team.udskoling.iter().filter(|_| marked))
                .collect();
            Invite {
                uid,
                summary: format!("Statusmøde: {}", m.team.name),
                team: m.team.name.clone(),
                slug: m.team.slug.clone(),
                start: m.start,
                end: m.end,
                attendees: (everyone.iter())
                    .filter(|p| p.id != organizer.id)
                    .map(|p| member(p))
                    .collect(),
                members: everyone.iter().map(|p| p.id.clone()).collect(),
                organizer,
                udskoling: marked,
                offers_udskoling: !m.team.udskoling.is_empty(),
            }
        })
        .collect())
}

/// The year's invitations as planned now, with the udskoling marks kept in what was sent.
pub fn planned(
    loaded: &Loaded,
    year: i16,
    previous: Option<&SentSeries>,
) -> Result<Vec<Invite>, String> {
    let mut invites = statusmoeder(loaded, year, previous.map_or(&[][..], |p| &p.udskoling))?;
    // Moved by hand: the same meeting (its UID) at the new time, as long as before.
    for (uid, start) in previous.map_or(&[][..], |p| &p.moved) {
        let (Some(i), Ok(start)) = (
            invites.iter_mut().find(|i| i.uid == *uid),
            start.parse::<DateTime>(),
        ) else {
            continue;
        };
        i.end = start + (i.end - i.start);
        i.start = start;
    }
    Ok(invites)
}

/// Why a statusmøde cannot move to `start`, in Danish: a closed day, or outside its school
/// year (August to the summer holiday).
pub fn move_refusal(loaded: &Loaded, year: i16, start: DateTime) -> Option<String> {
    let day = start.date();
    // A year as posted (a crafted one included): no panic at the calendar's edge.
    let (Ok(first), Ok(summer)) = (
        Date::new(year, 8, 1),
        Date::new(year.saturating_add(1), 7, 1),
    ) else {
        return Some(format!("{year} er ikke et skoleår."));
    };
    if day < first || day >= summer {
        return Some(format!(
            "{} ligger uden for skoleåret {year}/{}.",
            day.strftime("%d.%m.%Y"),
            i32::from(year) + 1
        ));
    }
    if modtag_router::calendar::closed(day, &loaded.directory.calendar) {
        return Some(format!(
            "{} er en lukkedag: vælg en hverdag.",
            day.strftime("%d.%m.%Y")
        ));
    }
    if !(7..=17).contains(&start.hour()) {
        return Some("Et statusmøde begynder mellem kl. 07 og kl. 17.".into());
    }
    None
}

/// The part of a year within `scope` (team slugs; `None` is every team): `invites` keeps
/// those teams' meetings, and what was sent is split into theirs and the rest, which a
/// sending in that scope leaves as it is.
pub fn within(
    scope: Option<&[String]>,
    invites: &mut Vec<Invite>,
    previous: Option<SentSeries>,
) -> (Option<SentSeries>, Vec<SentMeeting>) {
    let Some(scope) = scope else {
        return (previous, Vec::new());
    };
    // `statusmoede-{slug}-{YYYYMMDD}@host`: the day after the slug, so that one school's
    // slug is never the beginning of another's.
    let mine = |uid: &str| {
        (scope.iter()).any(|slug| {
            uid.strip_prefix(&format!("statusmoede-{slug}-"))
                .and_then(|rest| rest.split_once('@'))
                .is_some_and(|(day, _)| day.len() == 8 && day.bytes().all(|b| b.is_ascii_digit()))
        })
    };
    invites.retain(|i| mine(&i.uid));
    let Some(mut previous) = previous else {
        return (None, Vec::new());
    };
    let (in_scope, others) = std::mem::take(&mut previous.meetings)
        .into_iter()
        .partition(|m| mine(&m.uid));
    previous.meetings = in_scope;
    (Some(previous), others)
}

/// Where a meeting stands against what was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    NotSent,
    Sent,
    /// Planned otherwise than sent (moved, or its team changed): sending updates it.
    Changed,
    Cancelled,
}

/// Where `invite` stands against `previous`.
pub fn standing(invite: &Invite, previous: Option<&SentSeries>) -> Standing {
    match previous.and_then(|p| p.meetings.iter().find(|m| m.uid == invite.uid)) {
        None => Standing::NotSent,
        Some(m) if m.cancelled => Standing::Cancelled,
        Some(m) if *m == record(invite, m.sequence, false) => Standing::Sent,
        Some(_) => Standing::Changed,
    }
}

/// One mail to queue: the same invitation to each of `to`.
pub struct Mail {
    pub uid: String,
    pub subject: String,
    pub text: String,
    pub ics: String,
    pub to: Vec<(String, String)>,
}

/// What sending the year again does, and what is then kept as sent.
#[derive(Default)]
pub struct Sending {
    pub mails: Vec<Mail>,
    pub series: SentSeries,
    pub new: usize,
    pub updated: usize,
    pub cancelled: usize,
    pub unchanged: usize,
}

fn member(dir: &Directory, id: &str) -> Option<Member> {
    dir.person(id).map(|p| Member {
        id: p.id.clone(),
        name: p.name.clone(),
        email: p.email.clone(),
    })
}

fn text(what: &str, summary: &str, start: DateTime, end: DateTime) -> String {
    format!(
        "{what}{summary}\n{} {}-{}\n\nInvitationen er vedhæftet som kalenderaftale.\n",
        start.date(),
        start.strftime("%H:%M"),
        end.strftime("%H:%M"),
    )
}

/// The cancellation of a meeting as it was sent, to everyone it was sent to who is still
/// in the directory.
fn cancellation(
    dir: &Directory,
    sent: &SentMeeting,
    sequence: u32,
    stamp: Timestamp,
) -> Option<Mail> {
    let start: DateTime = sent.start.parse().ok()?;
    let end: DateTime = sent.end.parse().ok()?;
    let organizer = member(dir, &sent.organizer)?;
    let attendees: Vec<Member> = sent
        .members
        .iter()
        .filter(|id| **id != sent.organizer)
        .filter_map(|id| member(dir, id))
        .collect();
    let summary = format!("Statusmøde: {}", sent.team);
    let to = everyone(&organizer, &attendees);
    Some(Mail {
        uid: sent.uid.clone(),
        subject: format!("Aflyst: {summary}"),
        text: text("AFLYST: ", &summary, start, end),
        ics: ics(
            &sent.uid,
            &summary,
            (start, end),
            &organizer,
            &attendees,
            (sequence, true),
            stamp,
        ),
        to,
    })
}

fn record(i: &Invite, sequence: u32, cancelled: bool) -> SentMeeting {
    SentMeeting {
        uid: i.uid.clone(),
        team: i.team.clone(),
        start: i.start.to_string(),
        end: i.end.to_string(),
        organizer: i.organizer.id.clone(),
        members: i.members.clone(),
        sequence,
        cancelled,
    }
}

/// A cancellation names a day with a meeting, or a meeting of the year.
fn check_cancel(
    invites: &[Invite],
    year: i16,
    (cancel_day, cancel_uid): (Option<Date>, Option<&str>),
) -> Result<(), String> {
    if let Some(day) = cancel_day {
        if !invites.iter().any(|i| i.start.date() == day) {
            return Err(format!(
                "no statusmøde of the school year {year}/{} falls on {day}",
                year + 1
            ));
        }
    }
    if let Some(uid) = cancel_uid {
        if !invites.iter().any(|i| i.uid == uid) {
            return Err(format!(
                "the school year {year}/{} has no statusmøde {uid}",
                year + 1
            ));
        }
    }
    Ok(())
}

/// What to mail for `invites` given what was sent before (its udskoling marks kept), with
/// the meetings on `cancel_day`, or the one meeting `cancel_uid`, cancelled; `Err` when no
/// meeting falls on that day or has that UID.
pub fn sending(
    dir: &Directory,
    year: i16,
    invites: &[Invite],
    previous: Option<SentSeries>,
    (cancel_day, cancel_uid): (Option<Date>, Option<&str>),
    stamp: Timestamp,
) -> Result<Sending, String> {
    check_cancel(invites, year, (cancel_day, cancel_uid))?;
    // The organizer's marks and moves are kept with what is sent.
    let mut series = previous.unwrap_or_default();
    let mut before = std::mem::take(&mut series.meetings);
    series.school_year = year;
    let mut out = Sending {
        series,
        ..Sending::default()
    };
    for i in invites {
        let old = before
            .iter()
            .position(|m| m.uid == i.uid)
            .map(|at| before.remove(at));
        let cancel_now = cancel_day == Some(i.start.date()) || cancel_uid == Some(i.uid.as_str());
        let meeting = match old {
            Some(o) if o.cancelled => {
                out.unchanged += 1;
                o
            }
            Some(o) if cancel_now => {
                out.mails
                    .extend(cancellation(dir, &o, o.sequence + 1, stamp));
                out.cancelled += 1;
                SentMeeting {
                    sequence: o.sequence + 1,
                    cancelled: true,
                    ..o
                }
            }
            Some(o) if o == record(i, o.sequence, false) => {
                out.unchanged += 1;
                o
            }
            Some(o) => {
                let sequence = o.sequence + 1;
                out.mails.push(Mail {
                    uid: i.uid.clone(),
                    subject: format!("Ændret: {}", i.summary),
                    text: text("ÆNDRET: ", &i.summary, i.start, i.end),
                    ics: i.ics(sequence, false, stamp),
                    to: i.to(),
                });
                // Who is no longer on the team has the meeting taken out of the calendar.
                let gone: Vec<String> = o
                    .members
                    .iter()
                    .filter(|m| !i.members.contains(m))
                    .cloned()
                    .collect();
                if !gone.is_empty() {
                    let left = SentMeeting {
                        members: std::iter::once(o.organizer.clone()).chain(gone).collect(),
                        ..o.clone()
                    };
                    if let Some(mut m) = cancellation(dir, &left, sequence, stamp) {
                        m.to.retain(|(id, _)| *id != o.organizer);
                        out.mails.push(m);
                    }
                }
                out.updated += 1;
                record(i, sequence, false)
            }
            // Cancelled before it was ever sent: it is simply never sent.
            None if cancel_now => record(i, 0, true),
            None => {
                out.mails.push(Mail {
                    uid: i.uid.clone(),
                    subject: i.summary.clone(),
                    text: text("", &i.summary, i.start, i.end),
                    ics: i.ics(0, false, stamp),
                    to: i.to(),
                });
                out.new += 1;
                record(i, 0, false)
            }
        };
        out.series.meetings.push(meeting);
    }
    // Sent once, no longer planned (the tree or the calendar changed): cancelled.
    for o in before {
        if o.cancelled {
            out.series.meetings.push(o);
            continue;
        }
        out.mails
            .extend(cancellation(dir, &o, o.sequence + 1, stamp));
        out.cancelled += 1;
        out.series.meetings.push(SentMeeting {
            sequence: o.sequence + 1,
            cancelled: true,
            ..o
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Timestamp {
        "2027-08-01T08:00:00Z".parse().unwrap()
    }

    #[test]
    fn sent_again_only_what_changed_goes_out() {
        let mut cfg = modtag_config::load_embedded().unwrap();
        let invites = statusmoeder(&cfg, 2027, &[]).unwrap();
        let first = sending(&cfg.directory, 2027, &invites, None, (None, None), stamp()).unwrap();
        assert_eq!((first.new, first.mails.len()), (24, 24));
        // Again: nothing.
        let again = sending(
            &cfg.directory,
            2027,
            &invites,
            Some(first.series.clone()),
            (None, None),
            stamp(),
        )
        .unwrap();
        assert_eq!((again.unchanged, again.mails.len()), (24, 0));

        // The first day becomes a closed day: its four meetings move to the next open day
        // as updates of the same meetings (same UID, SEQUENCE 1).
        let first_day = invites[0].start.date();
        cfg.directory.calendar.closed_days.push(first_day);
        let moved_plan = statusmoeder(&cfg, 2027, &[]).unwrap();
        let moved = sending(
            &cfg.directory,
            2027,
            &moved_plan,
            Some(first.series.clone()),
            (None, None),
            stamp(),
        )
        .unwrap();
        assert_eq!(
            (moved.updated, moved.unchanged, moved.cancelled),
            (4, 20, 0)
        );
        assert!(moved.mails.iter().all(|m| m.ics.contains("SEQUENCE:1\r\n")));
        assert_eq!(moved.mails[0].uid, invites[0].uid);

        // Cancelled by hand: a CANCEL to everyone, and never sent again.
        let day = moved_plan[4].start.date();
        let cancelled = sending(
            &cfg.directory,
            2027,
            &moved_plan,
            Some(moved.series.clone()),
            (Some(day), None),
            stamp(),
        )
        .unwrap();
        assert_eq!(cancelled.cancelled, 4);
        assert!(cancelled
            .mails
            .iter()
            .all(|m| m.ics.contains("METHOD:CANCEL\r\n")));
        let after = sending(
            &cfg.directory,
            2027,
            &moved_plan,
            Some(cancelled.series),
            (None, None),
            stamp(),
        )
        .unwrap();
        assert_eq!(after.mails.len(), 0, "a cancelled meeting stays cancelled");

        assert!(sending(
            &cfg.directory,
            2027,
            &moved_plan,
            None,
            (Some(first_day), None),
            stamp()
        )
        .is_err());
    }
}
