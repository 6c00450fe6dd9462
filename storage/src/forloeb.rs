//! A private institution's TRIVSEL+ forløb (issue 16, flow 2), kept on the TRIVSEL+ intake
//! that began it: Journalen's forward (the item's decision), each leader's answer with the
//! staff who join the tværfaglige udførerteam, the private leader's list of participants
//! (a mail to `bornogunge@`, linked), and the first meeting booked in an allotted slot.
//! Each step records who did it and when; `step_due` is when the open step's owner is next
//! reminded, copied into the clear summary so the reminder pass decrypts only what is due.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Forloeb {
    pub answers: Vec<LeaderAnswer>,
    pub lists: Vec<ParticipantList>,
    /// The first meeting; a cancelled one stays with its cancellation until rebooked.
    pub meeting: Option<Meeting>,
    pub reminders: Vec<StepReminder>,
    /// When the open step's owner is reminded next; `None` once the meeting is booked.
    pub step_due: Option<Timestamp>,
}

/// Someone invited to the first meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub name: String,
    pub email: String,
}

/// A leader's answer: the staff appointed, sent on to the private institution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderAnswer {
    /// Directory id of the leader, and the account that answered.
    pub person: String,
    pub user: String,
    pub at: Timestamp,
    pub staff: Vec<Participant>,
    /// The outbox entry that carries it to the institution, and whether it went encrypted
    /// (else it may only leave over TLS).
    pub outbox_id: u64,
    pub encrypted: bool,
}

/// The private leader's list, received on the participant-list mailbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantList {
    /// The intake that carried it.
    pub reference: String,
    pub at: Timestamp,
    /// How it was linked: `reference` (in the subject), `cvr` (the sender's institution),
    /// or the account of the person who linked it.
    pub linked_by: String,
    pub participants: Vec<Participant>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meeting {
    /// Local (Europe/Copenhagen) start and end, `YYYY-MM-DDTHH:MM`.
    pub start: String,
    pub end: String,
    pub place: String,
    pub participants: Vec<Participant>,
    pub booked_by: String,
    pub booked_at: Timestamp,
    /// The invitation's stable UID and its SEQUENCE (raised by each change).
    pub uid: String,
    pub sequence: u32,
    #[serde(default)]
    pub cancelled: Option<Cancelled>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cancelled {
    pub by: String,
    pub at: Timestamp,
    pub reason: String,
}

/// A reminder sent for a step left too long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReminder {
    /// `svar` (the leaders' answers), `deltagerliste`, `booking`.
    pub step: String,
    pub at: Timestamp,
    /// Directory ids (or `institution`) reminded.
    pub to: Vec<String>,
}

/// When a case's overgang to a trin-2 forløb (flow 4) was sent, by whom, for which first
/// meeting, to whom (kept on the case: see `records::Case::overgang`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OvergangSent {
    pub at: Timestamp,
    pub by: String,
    /// `YYYY-MM-DDTHH:MM`, local time.
    pub first_meeting: String,
    /// Directory ids with their roles.
    pub recipients: Vec<(String, String)>,
}
