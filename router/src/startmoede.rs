//! A TRIVSEL+ forløb's first meeting (issue 16, flow 2 step 5): the administration books it
//! in one of the allotted weekly slots, within `first_meeting_days` of the Send sikkert's
//! receipt ("børn og unge får hjælp indenfor 14 dage") and with at least `notice_days`
//! days' notice to every participant. Pure: the slots, the receipt, today and the calendar
//! in; the bookable slots, or why one is not, out.

use jiff::civil::{Date, DateTime};
use jiff::{Timestamp, ToSpan};
use modtag_config::directory::Calendar;
use modtag_config::trivsel::Trivsel;

use crate::calendar;

/// One allotted slot on a day, local time, and whether it may be booked (else why not).
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub start: DateTime,
    pub end: DateTime,
    pub refusal: Option<String>,
}

fn day(at: Timestamp) -> Date {
    at.to_zoned(calendar::tz()).date()
}

/// The slot that starts at `start`, if the allotted slots have one then on an open day.
fn slot_at(rules: &Trivsel, start: DateTime, cal: &Calendar) -> Option<DateTime> {
    let minutes = start.hour() as u16 * 60 + start.minute() as u16;
    let weekday = calendar::weekday_name(start.date().weekday());
    if calendar::closed(start.date(), cal) || start.second() != 0 || start.subsec_nanosecond() != 0
    {
        return None;
    }
    rules
        .slots
        .iter()
        .find(|s| s.weekday == weekday && s.start == minutes)
        .map(|s| start + (i64::from(s.end) - i64::from(s.start)).minutes())
}

/// The latest day the first meeting may be held, and the earliest that gives the notice.
pub fn window(rules: &Trivsel, received: Timestamp, now: Timestamp) -> (Date, Date) {
    let latest = day(received)
        .checked_add(rules.first_meeting_days.days())
        .expect("within the calendar");
    let earliest = day(now)
        .checked_add(rules.notice_days.days())
        .expect("within the calendar");
    (earliest, latest)
}

/// Whether the slot starting at `start` may be booked now (`taken`: the slots other forløb
/// hold); `Err` says why not, in Danish.
pub fn check(
    rules: &Trivsel,
    start: DateTime,
    (received, now): (Timestamp, Timestamp),
    cal: &Calendar,
    taken: &[DateTime],
) -> Result<DateTime, String> {
    let end = slot_at(rules, start, cal).ok_or_else(|| {
        format!(
            "{} er ikke en af de udleverede tider til opstartsmøder (eller dagen er lukket).",
            start.strftime("%d.%m.%Y kl. %H:%M")
        )
    })?;
    within(rules, start.date(), received, now)?;
    if taken.contains(&start) {
        return Err(format!(
            "{} er allerede booket til et andet TRIVSEL+-forløb: vælg en anden tid.",
            start.strftime("%d.%m.%Y kl. %H:%M")
        ));
    }
    Ok(end)
}

/// Whether a first meeting on `date` keeps both rules: within `first_meeting_days` of
/// `from` (the receipt, or an overgang's activation) and `notice_days` after today.
pub fn within(rules: &Trivsel, date: Date, from: Timestamp, now: Timestamp) -> Result<(), String> {
    let (earliest, latest) = window(rules, from, now);
    let start = date.at(0, 0, 0, 0);
    if start.date() > latest {
        return Err(format!(
            "Det første møde skal holdes inden for {} dage, senest {}; {} er for sent.",
            rules.first_meeting_days,
            latest.strftime("%d.%m.%Y"),
            start.date().strftime("%d.%m.%Y")
        ));
    }
    if start.date() < earliest {
        return Err(format!(
            "Deltagerne skal have mindst {} dages varsel: tidligst {}; {} er for tidligt.",
            rules.notice_days,
            earliest.strftime("%d.%m.%Y"),
            start.date().strftime("%d.%m.%Y")
        ));
    }
    Ok(())
}

/// Every allotted slot from today until a week past the latest allowed day, each with why
/// it cannot be booked where it cannot: the administration sees the whole picture.
pub fn offers(
    rules: &Trivsel,
    (received, now): (Timestamp, Timestamp),
    cal: &Calendar,
    taken: &[DateTime],
) -> Vec<Offer> {
    let (_, latest) = window(rules, received, now);
    let mut out = Vec::new();
    let mut d = day(now);
    let last = latest.checked_add(7.days()).expect("within the calendar");
    while d <= last {
        let weekday = calendar::weekday_name(d.weekday());
        let mut todays: Vec<_> = rules
            .slots
            .iter()
            .filter(|s| s.weekday == weekday)
            .collect();
        todays.sort_by_key(|s| s.start);
        for s in todays {
            let start = d.at((s.start / 60) as i8, (s.start % 60) as i8, 0, 0);
            if calendar::closed(d, cal) {
                continue;
            }
            let refusal = check(rules, start, (received, now), cal, taken).err();
            out.push(Offer {
                start,
                end: start + (i64::from(s.end) - i64::from(s.start)).minutes(),
                refusal,
            });
        }
        d = d.tomorrow().expect("within the calendar");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_14_day_and_5_day_rules_by_table() {
        let rules = Trivsel::default(); // tuesday 09:00-10:30, thursday 13:00-14:30
        let cal = Calendar::default();
        // Received Tuesday 1 December 2026, booked the same day.
        let received = at("2026-12-01T10:00:00+01:00");
        let now = received;
        let table = [
            // (start, ok, words in the refusal)
            ("2026-12-03T13:00", false, "varsel"), // Thursday, 2 days
            ("2026-12-08T09:00", true, ""),        // Tuesday, 7 days
            ("2026-12-10T13:00", true, ""),        // Thursday, 9 days
            ("2026-12-15T09:00", true, ""),        // Tuesday, 14 days: the last day
            ("2026-12-17T13:00", false, "14 dage"), // Thursday, 16 days
            ("2026-12-08T10:00", false, "udleverede"), // not a slot's start
            ("2026-12-09T09:00", false, "udleverede"), // a Wednesday
            // A slot's start with seconds or a fraction of one is not the slot: it would
            // slip past "allerede booket" (found by attacking issue 28's booking lock).
            ("2026-12-08T09:00:30", false, "udleverede"),
            ("2026-12-08T09:00:00.5", false, "udleverede"),
            ("2026-12-08T09:00:00.000000001", false, "udleverede"),
        ];
        for (start, ok, words) in table {
            let r = check(&rules, start.parse().unwrap(), (received, now), &cal, &[]);
            assert_eq!(r.is_ok(), ok, "{start}: {r:?}");
            if let Err(why) = r {
                assert!(why.contains(words), "{start}: {why}");
            }
        }
        let tuesday: DateTime = "2026-12-08T09:00".parse().unwrap();
        let end = check(&rules, tuesday, (received, now), &cal, &[]).unwrap();
        assert_eq!(end, "2026-12-08T10:30".parse::<DateTime>().unwrap());
        // Held by another forløb: refused, and said so.
        let why = check(&rules, tuesday, (received, now), &cal, &[tuesday]).unwrap_err();
        assert!(why.contains("allerede booket"), "{why}");
    }

    #[test]
    fn a_holiday_slot_is_neither_offered_nor_bookable() {
        let rules = Trivsel::default();
        let cal = Calendar::default();
        // Received 10 December: Thursday 24 December is closed (juleaftensdag).
        let received = at("2026-12-10T10:00:00+01:00");
        let offers = offers(&rules, (received, received), &cal, &[]);
        assert!(
            offers.iter().all(|o| o.start.date().day() != 24),
            "{offers:?}"
        );
        assert!(offers.iter().any(|o| o.refusal.is_none()));
        let christmas_eve: DateTime = "2026-12-24T13:00".parse().unwrap();
        assert!(check(&rules, christmas_eve, (received, received), &cal, &[]).is_err());
        // The first offer is today's or later, and the list reaches past the latest day.
        assert!(offers
            .iter()
            .any(|o| o.refusal.as_deref().is_some_and(|r| r.contains("14 dage"))));
    }
}
