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

#[cfg(test)]
mod tests {
    use super::*;

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
