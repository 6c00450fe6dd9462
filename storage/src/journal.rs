//! Where an intake was filed (issue 31, "journaliseret"): the case system and the document
//! id a person recorded, so that the record outside modtag can be found, and retention may
//! wait for it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journalised {
    /// The case system ("eDoc", "DUBU", "Nexus"...), as the person wrote it.
    pub system: String,
    /// The document's id there.
    pub document_id: String,
    pub by: String,
    pub at: Timestamp,
}

/// A journal package dropped for a case system that takes files (`[journal.hook]`): its
/// id, which the system's receipt must name, and who sent it when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    pub package_id: String,
    /// The file's name in the drop directory.
    pub file: String,
    pub system: String,
    pub by: String,
    pub at: Timestamp,
    /// When the system's receipt came back for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_at: Option<Timestamp>,
}
