//! What the desk adds to an intake: its notes, and the recipients' "modtaget".

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A note a person of the desk wrote on an intake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffNote {
    pub by: String,
    pub at: Timestamp,
    pub text: String,
}

/// A recipient's "modtaget": who (directory id and account) and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TakenOver {
    pub person: String,
    pub user: String,
    pub at: Timestamp,
}
