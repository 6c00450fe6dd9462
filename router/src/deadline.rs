//! Deadlines. Instants are UTC [`jiff::Timestamp`]s; the 24-hour assessment deadline is
//! elapsed time, so daylight-saving switches in Europe/Copenhagen do not move it.

use jiff::{SignedDuration, Timestamp};

/// When an underretning received at `received` must have been assessed.
pub fn assessment_deadline(received: Timestamp, hours: i64) -> Timestamp {
    received
        .checked_add(SignedDuration::from_hours(hours))
        .unwrap_or(Timestamp::MAX)
}

/// An instant as RFC 3339 in UTC, to the second: what the API and `--json` print.
pub fn rfc3339(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An instant as staff see it: Europe/Copenhagen local time with its offset.
pub fn local(ts: Timestamp) -> String {
    match jiff::tz::TimeZone::get("Europe/Copenhagen") {
        Ok(tz) => ts.to_zoned(tz).strftime("%Y-%m-%d %H:%M %Z").to_string(),
        Err(_) => ts.to_string(),
    }
}

/// An instant as a record states it, whenever it is read: "03.12.2026 kl. 10:00"
/// (Copenhagen time), for a journal package (issue 31).
pub fn dated(ts: Timestamp) -> String {
    match jiff::tz::TimeZone::get("Europe/Copenhagen") {
        Ok(tz) => ts.to_zoned(tz).strftime("%d.%m.%Y kl. %H:%M").to_string(),
        Err(_) => rfc3339(ts),
    }
}

/// A local time as a meeting states it ("2026-12-08T09:00"), as [`dated`] words an
/// instant: "08.12.2026 kl. 09:00"; as it is if it is no such time.
pub fn local_dated(local: &str) -> String {
    local
        .parse::<jiff::civil::DateTime>()
        .map_or(local.to_string(), |t| {
            t.strftime("%d.%m.%Y kl. %H:%M").to_string()
        })
}

/// An instant as people say it on the desk (issue 29), in Copenhagen time, seen from `now`:
/// "i dag 09:40", "i går 16:05", "i morgen 08:00", "fre. 11. dec. 09:40", and with the year
/// when it is not this year's ("tors. 3. dec. 2025 10:00").
pub fn spoken(ts: Timestamp, now: Timestamp) -> String {
    const DAYS: [&str; 7] = ["man.", "tirs.", "ons.", "tors.", "fre.", "lør.", "søn."];
    const MONTHS: [&str; 12] = [
        "jan.", "feb.", "mar.", "apr.", "maj", "jun.", "jul.", "aug.", "sep.", "okt.", "nov.",
        "dec.",
    ];
    let Ok(tz) = jiff::tz::TimeZone::get("Europe/Copenhagen") else {
        return local(ts);
    };
    let (at, today) = (ts.to_zoned(tz.clone()), now.to_zoned(tz).date());
    let time = at.strftime("%H:%M");
    let date = at.date();
    let day = if date == today {
        "i dag".to_string()
    } else if today.yesterday().ok() == Some(date) {
        "i går".to_string()
    } else if today.tomorrow().ok() == Some(date) {
        "i morgen".to_string()
    } else {
        let weekday = DAYS[date.weekday().to_monday_zero_offset() as usize];
        let month = MONTHS[date.month() as usize - 1];
        match date.year() == today.year() {
            true => format!("{weekday} {}. {month}", date.day()),
            false => format!("{weekday} {}. {month} {}", date.day(), date.year()),
        }
    };
    format!("{day} {time}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_as_people_say_them() {
        let now: Timestamp = "2026-12-07T08:30:00Z".parse().unwrap(); // Monday 09:30 CET
        let say = |t: &str| spoken(t.parse().unwrap(), now);
        assert_eq!(say("2026-12-07T08:40:00Z"), "i dag 09:40");
        assert_eq!(say("2026-12-06T15:05:00Z"), "i går 16:05");
        assert_eq!(say("2026-12-08T07:00:00Z"), "i morgen 08:00");
        assert_eq!(say("2026-12-11T08:40:00Z"), "fre. 11. dec. 09:40");
        assert_eq!(say("2026-07-01T08:00:00Z"), "ons. 1. jul. 10:00");
        assert_eq!(say("2025-12-04T09:00:00Z"), "tors. 4. dec. 2025 10:00");
        // Just before midnight UTC is already tomorrow in Copenhagen.
        assert_eq!(say("2026-12-07T23:30:00Z"), "i morgen 00:30");
    }

    #[test]
    fn deadline_is_24_elapsed_hours_across_dst() {
        // Sunday 2026-03-29 02:00 local clocks jump to 03:00: 24 elapsed hours after
        // Saturday 12:00 CET is Sunday 13:00 CEST on the wall clock.
        let received: Timestamp = "2026-03-28T11:00:00Z".parse().unwrap();
        let due = assessment_deadline(received, 24);
        assert_eq!(due.to_string(), "2026-03-29T11:00:00Z");
        assert_eq!(local(received), "2026-03-28 12:00 CET");
        assert_eq!(local(due), "2026-03-29 13:00 CEST");

        // Last Sunday of October: clocks go back, the wall clock shows 11:00 again.
        let received: Timestamp = "2026-10-24T10:00:00Z".parse().unwrap();
        assert_eq!(local(received), "2026-10-24 12:00 CEST");
        assert_eq!(
            local(assessment_deadline(received, 24)),
            "2026-10-25 11:00 CET"
        );
    }
}
