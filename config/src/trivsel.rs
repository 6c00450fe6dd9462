//! `[trivsel]`: the TRIVSEL+ forløb from a private institution (issue 16, flow 2): the
//! start-meeting slots the administration has been allotted, the 14-day and 5-day rules for
//! the first meeting, and how long a step may wait before its owner is reminded.

use serde::Deserialize;

use crate::directory::{parse_hours, WEEKDAYS};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trivsel {
    /// The allotted start-meeting slots, each week: `"tuesday 09:00-10:30"`. A slot on a
    /// closed day of the directory's calendar is not offered.
    #[serde(default = "default_slots")]
    pub slots: Vec<Slot>,
    /// Where the start meetings are held (the invitation's LOCATION).
    #[serde(default = "default_place")]
    pub place: String,
    /// "Børn og unge får hjælp indenfor 14 dage": the first meeting is held within this
    /// many days of the Send sikkert's receipt.
    #[serde(default = "default_first_meeting_days")]
    pub first_meeting_days: i64,
    /// Days of notice every participant gets, at least.
    #[serde(default = "default_notice_days")]
    pub notice_days: i64,
    /// A step of the forløb left this many days reminds whoever owns it (again after as
    /// many days while it stays undone).
    #[serde(default = "default_remind_after_days")]
    pub remind_after_days: i64,
}

impl Default for Trivsel {
    fn default() -> Self {
        Trivsel {
            slots: default_slots(),
            place: default_place(),
            first_meeting_days: default_first_meeting_days(),
            notice_days: default_notice_days(),
            remind_after_days: default_remind_after_days(),
        }
    }
}

/// A weekly slot: weekday (English, lower case, as the calendar's office hours) and local
/// start and end in minutes after midnight.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Slot {
    pub weekday: String,
    pub start: u16,
    pub end: u16,
}

impl TryFrom<String> for Slot {
    type Error = String;

    fn try_from(text: String) -> Result<Slot, String> {
        let shape = || {
            format!(
                "slot {text:?} is not a weekday and a time span: write e.g. \"tuesday 09:00-10:30\""
            )
        };
        let (day, hours) = text.trim().split_once(' ').ok_or_else(shape)?;
        let day = day.to_ascii_lowercase();
        if !WEEKDAYS.contains(&day.as_str()) {
            return Err(shape());
        }
        let (start, end) = parse_hours(hours.trim()).ok_or_else(shape)?;
        Ok(Slot {
            weekday: day,
            start,
            end,
        })
    }
}

fn default_slots() -> Vec<Slot> {
    ["tuesday 09:00-10:30", "thursday 13:00-14:30"]
        .into_iter()
        .map(|s| Slot::try_from(s.to_string()).expect("default slots"))
        .collect()
}

fn default_place() -> String {
    "Rådhuset, mødelokale TRIVSEL+".into()
}

fn default_first_meeting_days() -> i64 {
    14
}

fn default_notice_days() -> i64 {
    5
}

fn default_remind_after_days() -> i64 {
    3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_read_and_bad_ones_refused_with_what_to_write() {
        let s = Slot::try_from("Tuesday 09:00-10:30".to_string()).unwrap();
        assert_eq!((s.weekday.as_str(), s.start, s.end), ("tuesday", 540, 630));
        for bad in ["tirsdag 09:00-10:30", "tuesday 10:30-09:00", "tuesday", ""] {
            let e = Slot::try_from(bad.to_string()).unwrap_err();
            assert!(e.contains("tuesday 09:00-10:30"), "{e}");
        }
    }
}
