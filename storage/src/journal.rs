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
