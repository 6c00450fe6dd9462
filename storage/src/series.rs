//! The statusmøde invitations sent for a school year (issue 16, trin 2), so that sending the
//! series again mails only what changed: a new meeting as a request, a moved one or one
//! whose team changed as an update (SEQUENCE one on), one no longer planned or cancelled
//! by hand as a cancellation. Staff ids only, no child; still sealed like every record
//! (kept in `meta` under `series:statusmoeder:YEAR`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SentSeries {
    pub school_year: i16,
    pub meetings: Vec<SentMeeting>,
    /// UIDs of the meetings the organizer marked as having a forløb about a pupil in
    /// udskoling on the agenda (the leaders of UU and fritid are summoned too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub udskoling: Vec<String>,
    /// Meetings the organizer moved by hand: UID and the new local start
    /// (`YYYY-MM-DDTHH:MM:SS`); the meeting keeps its UID, so calendars update.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentMeeting {
    /// The invitation's UID (team and planned day): the same meeting across changes.
    pub uid: String,
    pub team: String,
    /// Local start and end (`YYYY-MM-DDTHH:MM:SS`).
    pub start: String,
    pub end: String,
    /// Directory id of the organizer, and of everyone invited (the organizer first).
    pub organizer: String,
    pub members: Vec<String>,
    pub sequence: u32,
    #[serde(default)]
    pub cancelled: bool,
}

/// The `meta` key a school year's series is kept under.
pub fn key(school_year: i16) -> String {
    format!("series:statusmoeder:{school_year}")
}
