//! The workflow's plans live in `modtag-workflow` (no IO); named here under the paths the
//! listeners, pages, API and CLI use. The deadline worker that runs the escalation pass is
//! [`crate::deadlines`].

pub use modtag_workflow::{
    accept, autolink, booking, change, decide, escalation, forloeb, kvittering, overgang,
    participants, registry, retention, tilbagemelding,
};
