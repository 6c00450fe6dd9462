//! The office calendar: Danish public holidays (DOMAIN.md), hverdage for the kvittering's
//! 6-day deadline, and Modtagelsen's opening hours for escalation. Pure: dates in, dates out.

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use modtag_config::directory::Calendar;

/// Where modtag shows and reckons office time.
pub fn tz() -> TimeZone {
    TimeZone::get("Europe/Copenhagen").expect("bundled tzdb has Europe/Copenhagen")
}

/// Easter Sunday (Gregorian; the anonymous algorithm of Meeus/Jones/Butcher).
pub fn easter(year: i16) -> Date {
    let y = i32::from(year);
    let (a, b, c) = (y % 19, y / 100, y % 100);
    let (d, e) = (b / 4, b % 4);
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date::new(year, month as i8, day as i8).expect("a valid Easter date")
}

/// The public holiday on `date`, by its Danish name, if any.
pub fn holiday(date: Date) -> Option<&'static str> {
    let e = easter(date.year());
    let offset = (date - e).get_days();
    let by_easter = match offset {
        -3 => Some("Skærtorsdag"),
        -2 => Some("Langfredag"),
        0 => Some("Påskedag"),
        1 => Some("2. påskedag"),
        // Store bededag was abolished from 2024.
        26 if date.year() <= 2023 => Some("Store bededag"),
        39 => Some("Kristi himmelfartsdag"),
        49 => Some("Pinsedag"),
        50 => Some("2. pinsedag"),
        _ => None,
    };
    by_easter.or(match (date.month(), date.day()) {
        (1, 1) => Some("Nytårsdag"),
        (12, 25) => Some("Juledag"),
        (12, 26) => Some("2. juledag"),
        _ => None,
    })
}

/// Closed all day: a weekend, a public holiday, or a closed day of the settings.
pub fn closed(date: Date, cal: &Calendar) -> bool {
    holiday(date).is_some()
        || matches!(date.weekday(), Weekday::Sunday)
        || (date.weekday() == Weekday::Saturday && !cal.saturday_is_hverdag)
        || (cal.closed_5_june && (date.month(), date.day()) == (6, 5))
        || (cal.closed_24_december && (date.month(), date.day()) == (12, 24))
        || (cal.closed_31_december && (date.month(), date.day()) == (12, 31))
        || cal.closed_days.contains(&date)
}

/// The day on which `n` hverdage after `from` have passed (the day of receipt not counted).
pub fn add_hverdage(from: Date, n: u32, cal: &Calendar) -> Date {
    let mut day = from;
    let mut left = n;
    while left > 0 {
        day = day.tomorrow().expect("a date before 9999");
        if !closed(day, cal) {
            left -= 1;
        }
    }
    day
}

pub fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Monday => "monday",
        Weekday::Tuesday => "tuesday",
        Weekday::Wednesday => "wednesday",
        Weekday::Thursday => "thursday",
        Weekday::Friday => "friday",
        Weekday::Saturday => "saturday",
        Weekday::Sunday => "sunday",
    }
}

/// Modtagelsen's hours on a local day (minutes after midnight, open and close), if it opens
/// at all: the weekday's hours, on a day that is no holiday or closed day. (A Saturday with
/// hours still closes on holidays.)
fn day_hours(date: Date, cal: &Calendar) -> Option<(u16, u16)> {
    if holiday(date).is_some()
        || cal.closed_days.contains(&date)
        || (cal.closed_5_june && (date.month(), date.day()) == (6, 5))
        || (cal.closed_24_december && (date.month(), date.day()) == (12, 24))
        || (cal.closed_31_december && (date.month(), date.day()) == (12, 31))
    {
        return None;
    }
    cal.hours(weekday_name(date.weekday()))
}

/// Is Modtagelsen open at `at`? Office hours on a day that is not closed, local time.
pub fn office_open(at: Timestamp, cal: &Calendar) -> bool {
    let local = at.to_zoned(tz());
    let Some((open, close)) = day_hours(local.date(), cal) else {
        return false;
    };
    let minute = local.hour() as u16 * 60 + local.minute() as u16;
    (open..close).contains(&minute)
}

/// How far ahead the calendar is searched for an opening: beyond it, the office is taken
/// as never opening (a calendar with no hours at all).
const HORIZON_DAYS: i32 = 60;

/// The office's open periods, as instants, from `at`'s local day on.
fn periods(at: Timestamp, cal: &Calendar) -> impl Iterator<Item = (Timestamp, Timestamp)> + '_ {
    let first = at.to_zoned(tz()).date();
    let instant = |date: Date, minute: u16| {
        date.at((minute / 60) as i8, (minute % 60) as i8, 0, 0)
            .to_zoned(tz())
            .ok()
            .map(|z| z.timestamp())
    };
    (0..HORIZON_DAYS).filter_map(move |n| {
        let date = first.checked_add(n.days()).ok()?;
        let (open, close) = day_hours(date, cal)?;
        Some((instant(date, open)?, instant(date, close)?))
    })
}

/// When Modtagelsen next opens after `at` (the start of its next open period; while it is
/// open, the one after this). `None`: not within the horizon.
pub fn next_opening(at: Timestamp, cal: &Calendar) -> Option<Timestamp> {
    periods(at, cal)
        .map(|(open, _)| open)
        .find(|open| *open > at)
}

/// When Modtagelsen next closes after `at`: the end of the period it is open in, or of the
/// next one. `None`: not within the horizon.
pub fn next_closing(at: Timestamp, cal: &Calendar) -> Option<Timestamp> {
    periods(at, cal)
        .map(|(_, close)| close)
        .find(|close| *close > at)
}

/// The kvittering's due date for something received at `at`: 6 hverdage later (local date).
pub fn kvittering_due(at: Timestamp, cal: &Calendar) -> Date {
    add_hverdage(at.to_zoned(tz()).date(), 6, cal)
}

/// Midnight at the start of `date`, local time, as an instant (for "due by the end of").
pub fn end_of_day(date: Date) -> Timestamp {
    date.tomorrow()
        .expect("a date before 9999")
        .to_zoned(tz())
        .expect("local midnight exists in Europe/Copenhagen")
        .timestamp()
        - 1.second()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn at(local: &str) -> Timestamp {
        local
            .parse::<jiff::civil::DateTime>()
            .unwrap()
            .to_zoned(tz())
            .unwrap()
            .timestamp()
    }

    /// Issue 27: when Modtagelsen closes and opens again, across a Friday's early close, a
    /// weekend, Christmas and the switch to summer time.
    #[test]
    fn openings_and_closings_across_weekends_holidays_and_summer_time() {
        let cal = Calendar::default();
        // Friday 11 December 2026, open until 13:00; then Monday 08:00.
        let friday = at("2026-12-11T10:00");
        assert!(office_open(friday, &cal));
        assert_eq!(next_closing(friday, &cal), Some(at("2026-12-11T13:00")));
        assert_eq!(next_opening(friday, &cal), Some(at("2026-12-14T08:00")));
        let evening = at("2026-12-11T14:00");
        assert!(!office_open(evening, &cal));
        assert_eq!(next_opening(evening, &cal), Some(at("2026-12-14T08:00")));
        assert_eq!(next_closing(evening, &cal), Some(at("2026-12-14T15:30")));
        // Wednesday 23 December after closing: the 24th is closed, then Christmas and a
        // Sunday: Monday the 28th.
        let christmas = at("2026-12-23T16:00");
        assert_eq!(next_opening(christmas, &cal), Some(at("2026-12-28T08:00")));
        // Wednesday 24 March 2027, 15:00 CET, open until 15:30; then Easter (Skærtorsdag to
        // 2. påskedag, the clocks going forward on Sunday the 28th): Tuesday 30 March 08:00
        // CEST, 06:00 UTC.
        let easter = at("2027-03-24T15:00");
        assert_eq!(
            next_closing(easter, &cal).map(|t| t.to_string()),
            Some("2027-03-24T14:30:00Z".to_string())
        );
        assert_eq!(
            next_opening(easter, &cal).map(|t| t.to_string()),
            Some("2027-03-30T06:00:00Z".to_string())
        );
    }

    #[test]
    fn easter_2020_to_2035() {
        let known = [
            (2020, 4, 12),
            (2021, 4, 4),
            (2022, 4, 17),
            (2023, 4, 9),
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2028, 4, 16),
            (2029, 4, 1),
            (2030, 4, 21),
            (2031, 4, 13),
            (2032, 3, 28),
            (2033, 4, 17),
            (2034, 4, 9),
            (2035, 3, 25),
        ];
        for (y, m, d) in known {
            assert_eq!(easter(y), date(y, m, d), "{y}");
            // Every Easter-based holiday of the year, by table.
            let e = easter(y);
            for (offset, name) in [
                (-3, "Skærtorsdag"),
                (-2, "Langfredag"),
                (0, "Påskedag"),
                (1, "2. påskedag"),
                (39, "Kristi himmelfartsdag"),
                (49, "Pinsedag"),
                (50, "2. pinsedag"),
            ] {
                let day = e.checked_add(offset.days()).unwrap();
                assert_eq!(holiday(day), Some(name), "{y} {offset}");
            }
            let bededag = e.checked_add(26.days()).unwrap();
            assert_eq!(holiday(bededag).is_some(), y <= 2023, "Store bededag {y}");
            assert_eq!(holiday(e.checked_add(2.days()).unwrap()), None, "{y}");
        }
    }

    #[test]
    fn fixed_holidays_and_settings() {
        let cal = Calendar::default();
        assert_eq!(holiday(date(2026, 1, 1)), Some("Nytårsdag"));
        assert_eq!(holiday(date(2026, 12, 25)), Some("Juledag"));
        assert_eq!(holiday(date(2026, 12, 26)), Some("2. juledag"));
        // Not public holidays, but closed by default and open when set so.
        for d in [date(2026, 6, 5), date(2026, 12, 24), date(2025, 12, 31)] {
            assert_eq!(holiday(d), None);
            assert!(closed(d, &cal), "{d}");
        }
        let open = Calendar {
            closed_5_june: false,
            closed_24_december: false,
            closed_31_december: false,
            ..Calendar::default()
        };
        assert!(!closed(date(2026, 6, 5), &open));
        assert!(!closed(date(2026, 12, 24), &open));
    }

    #[test]
    fn domain_md_examples_of_6_hverdage() {
        let cal = Calendar::default();
        assert_eq!(add_hverdage(date(2025, 4, 15), 6, &cal), date(2025, 4, 28));
        assert_eq!(add_hverdage(date(2026, 5, 8), 6, &cal), date(2026, 5, 19));
        // A plain week: Monday → the Tuesday after next.
        assert_eq!(add_hverdage(date(2026, 11, 23), 6, &cal), date(2026, 12, 1));
        // Christmas: received 22 Dec 2026 (Tue): 23 (1), 28 (2), 29 (3), 30 (4), 2 Jan is
        // Saturday, so 4 Jan (5), 5 Jan (6).
        assert_eq!(add_hverdage(date(2026, 12, 22), 6, &cal), date(2027, 1, 5));
        // Saturday as a hverdag when set.
        let sat = Calendar {
            saturday_is_hverdag: true,
            ..Calendar::default()
        };
        assert_eq!(
            add_hverdage(date(2026, 11, 20), 1, &sat),
            date(2026, 11, 21)
        );
    }

    #[test]
    fn office_hours_across_the_dst_switches() {
        let cal = Calendar::default();
        let at = |s: &str| -> Timestamp {
            s.parse::<jiff::civil::DateTime>()
                .unwrap()
                .to_zoned(tz())
                .unwrap()
                .timestamp()
        };
        // 2026-03-30 is the Monday after the switch to summer time (29 March).
        assert!(office_open(at("2026-03-30T08:00"), &cal));
        assert!(!office_open(at("2026-03-30T07:59"), &cal));
        assert_eq!(at("2026-03-30T08:00").to_string(), "2026-03-30T06:00:00Z");
        // 2026-10-26 is the Monday after the switch back (25 October): UTC+1 again.
        assert!(office_open(at("2026-10-26T08:00"), &cal));
        assert_eq!(at("2026-10-26T08:00").to_string(), "2026-10-26T07:00:00Z");
        // The switch days themselves are Sundays: closed all day.
        assert!(!office_open(at("2026-03-29T10:00"), &cal));
        assert!(!office_open(at("2026-10-25T10:00"), &cal));
        // Friday closes early; holidays close all day.
        assert!(!office_open(at("2026-11-27T13:00"), &cal));
        assert!(office_open(at("2026-11-27T12:59"), &cal));
        assert!(
            !office_open(at("2026-05-14T10:00"), &cal),
            "Kristi himmelfart"
        );
        // A kvittering due date, for something received late on a Friday evening UTC that is
        // already Saturday in Copenhagen.
        let late = "2026-05-08T22:30:00Z".parse::<Timestamp>().unwrap();
        assert_eq!(
            kvittering_due(late, &cal),
            date(2026, 5, 19),
            "received Saturday 9 May local"
        );
    }
}
