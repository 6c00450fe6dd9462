//! Cancelling a school year's statusmøder outside the year running and the next: from what
//! was sent, nothing planned anew.

use jiff::civil::Date;
use jiff::Timestamp;
use modtag_config::Directory;
use modtag_storage::series::SentSeries;

use super::{cancellation, Sending};

/// Only the cancellations asked for (the meetings on `cancel_day`, or `cancel_uid`), of the
/// meetings as they were sent: for a school year outside the one running and the next,
/// where nothing else may go out (the plan may have changed since; its updates and new
/// meetings are not for a year past or a year sent by mistake). `Err` when no meeting that
/// was sent and not cancelled matches.
pub fn cancelling(
    dir: &Directory,
    previous: SentSeries,
    (cancel_day, cancel_uid): (Option<Date>, Option<&str>),
    stamp: Timestamp,
) -> Result<Sending, String> {
    let year = previous.school_year;
    let mut out = Sending {
        series: previous,
        ..Sending::default()
    };
    for m in &mut out.series.meetings {
        let day = m.start.get(..10).and_then(|d| d.parse::<Date>().ok());
        let asked =
            cancel_uid == Some(m.uid.as_str()) || (cancel_day.is_some() && day == cancel_day);
        if m.cancelled || !asked {
            out.unchanged += 1;
            continue;
        }
        m.sequence += 1;
        out.mails.extend(cancellation(dir, m, m.sequence, stamp));
        m.cancelled = true;
        out.cancelled += 1;
    }
    if out.cancelled == 0 {
        let what = match (cancel_uid, cancel_day) {
            (Some(uid), _) => uid.to_string(),
            (None, Some(d)) => format!("on {d}"),
            (None, None) => "to cancel".into(),
        };
        return Err(format!(
            "the school year {year}/{} has no statusmøde sent and not cancelled {what}",
            i32::from(year) + 1
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{planned, sending};
    use super::*;

    fn stamp() -> Timestamp {
        "2027-08-01T08:00:00Z".parse().unwrap()
    }

    /// A year past: cancelling one day sends that day's cancellations and nothing else,
    /// though the plan has changed since (a meeting moved, one new).
    #[test]
    fn a_year_past_sends_only_the_cancellations_asked_for() {
        let cfg = modtag_config::load_embedded().unwrap();
        let invites = planned(&cfg, 2027, None).unwrap();
        let first = sending(&cfg.directory, 2027, &invites, None, (None, None), stamp()).unwrap();
        let mut sent = first.series.clone();
        sent.meetings.pop();
        sent.meetings[0].start = "2027-08-17T10:00:00".into();
        let day: Date = "2027-10-12".parse().unwrap();
        let on_day = (sent.meetings.iter())
            .filter(|m| m.start.starts_with("2027-10-12"))
            .count();
        let done = cancelling(&cfg.directory, sent.clone(), (Some(day), None), stamp()).unwrap();
        assert_eq!((done.cancelled, done.new, done.updated), (on_day, 0, 0));
        assert!(
            done.mails.iter().all(|m| m.ics.contains("METHOD:CANCEL")),
            "only cancellations"
        );
        assert_eq!(
            done.series.meetings.len(),
            sent.meetings.len(),
            "nothing added"
        );
        assert_eq!(
            done.series.meetings[0].start, "2027-08-17T10:00:00",
            "as sent"
        );
        let again = cancelling(&cfg.directory, done.series, (Some(day), None), stamp());
        assert!(again.is_err(), "cancelled already");
    }
}
