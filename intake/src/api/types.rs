//! The API's request and response bodies. The daemon's handlers produce them and the CLI's
//! client reads them, so the two cannot drift apart: a field renamed here is renamed for
//! both, and a field the CLI expects but the daemon no longer sends fails to deserialize
//! with a message instead of printing nothing (or panicking).

pub use crate::workflow::change::{
    Closed, JournalisedView, KindCorrected, NoteAdded, SenderConfirmedView, TaskDone,
};
use jiff::Timestamp;
use modtag_config::{Channel, Kind};
use modtag_router::Decision;
use modtag_storage::records::{
    Attachment, DecisionRecord, EarlierIntake, Escalation, Kvittering, RevisedDecision, StaffNote,
    Task, Transition, Transport, Understanding,
};
use serde::{Deserialize, Serialize};

pub use crate::report::Sla;
pub use crate::simulate::{Change, Simulation};
pub use crate::workflow::decide::DecisionInput as DecisionBody;

/// `GET /api/v1/triage`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ItemList {
    pub items: Vec<ItemSummaryView>,
}

/// One intake in the list: no subject, no names, CPR masked.
#[derive(Debug, Serialize, Deserialize)]
pub struct ItemSummaryView {
    pub reference: String,
    pub channel: Channel,
    pub kind: Kind,
    /// RFC 3339, UTC.
    pub received_at: String,
    pub deadline: String,
    /// The deadline in Europe/Copenhagen, for people.
    pub deadline_local: String,
    pub state: String,
    pub cpr: Vec<String>,
    pub case_number: Option<String>,
    pub suggestions: Vec<String>,
    pub attachments: usize,
    pub flagged_attachments: usize,
    pub akut: bool,
    pub reporter: String,
    pub parse_error: bool,
    pub overdue: bool,
    pub repeated: bool,
    pub earlier: usize,
    pub open_tasks: usize,
}

/// `GET /api/v1/triage/{reference}`: the intake as the caller may see it
/// (`access::view`), audited as a view. What their access leaves out is empty.
#[derive(Debug, Serialize, Deserialize)]
pub struct ItemView {
    /// `full` (the desk, the case's rådgiver), `sent` (what the decision sent a recipient),
    /// or `ended` (a new assessment no longer sends it to them: nothing but the dates).
    pub access: String,
    /// The recipient's role, for `sent`.
    pub role: Option<String>,
    /// When a new assessment stopped sending it to them, for `ended`.
    pub ended_at: Option<String>,
    /// How the sender is known (`authenticated`, `partner`, `unverified`), for `full`.
    #[serde(default)]
    pub sender_trust: Option<String>,
    /// A person's confirmation of an unverified sender, for `full`.
    #[serde(default)]
    pub sender_confirmed: Option<modtag_storage::records::SenderConfirmed>,
    /// When the reporter confirmed their address by the kvittering's one-time link, for
    /// `full`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_confirmed_at: Option<jiff::Timestamp>,
    /// Where it was filed, for `full` (issue 31).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journalised: Option<modtag_storage::journal::Journalised>,
    pub reference: String,
    pub channel: Channel,
    pub kind: Kind,
    pub received_at: String,
    pub deadline: String,
    pub deadline_local: String,
    pub state: String,
    /// Masked, as in the list.
    pub cpr: Vec<String>,
    pub cpr_full: Vec<String>,
    pub case_number: Option<String>,
    pub suggestions: Vec<String>,
    pub attachments: usize,
    pub flagged_attachments: usize,
    pub akut: bool,
    pub reporter: String,
    /// Why the message could not be read, if it could not.
    pub parse_error: Option<String>,
    pub overdue: bool,
    pub repeated: bool,
    pub earlier: usize,
    pub open_tasks: usize,
    pub subject: Option<String>,
    pub from: Option<String>,
    pub transport: Transport,
    pub attachment_list: Vec<Attachment>,
    pub understanding: Understanding,
    /// The message's text, read again from the encrypted message (never stored twice).
    pub text: Option<String>,
    pub decision: Option<DecisionRecord>,
    pub earlier_decisions: Vec<RevisedDecision>,
    pub earlier_intakes: Vec<EarlierIntake>,
    pub kvittering: Option<Kvittering>,
    pub escalations: Vec<Escalation>,
    pub tasks: Vec<Task>,
    /// The desk's notes (issue 29); none for a recipient.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub staff_notes: Vec<StaffNote>,
    pub history: Vec<Transition>,
    pub sent_to: Vec<String>,
}

/// `POST .../kind`.
#[derive(Debug, Serialize, Deserialize)]
pub struct KindBody {
    pub kind: String,
    pub reason: String,
}

/// `POST .../sender`: a person confirms who an unverified sender is, and how they know.
#[derive(Debug, Serialize, Deserialize)]
pub struct SenderBody {
    pub how: String,
}

/// `POST .../close`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CloseBody {
    pub reason: String,
}

/// `POST .../journal`: where it was filed (issue 31).
#[derive(Debug, Serialize, Deserialize)]
pub struct JournalBody {
    pub system: String,
    pub document_id: String,
}

/// `POST .../note`.
#[derive(Debug, Serialize, Deserialize)]
pub struct NoteBody {
    pub text: String,
}

/// `POST .../task`.
#[derive(Debug, Serialize, Deserialize)]
pub struct TaskBody {
    pub kind: String,
    /// `done`, or `withheld` (feedback only, with a reason).
    pub outcome: String,
    pub reason: Option<String>,
}

/// A routing decision, as `route explain --json` and the decision API give it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecisionView {
    pub recipients: Vec<RecipientView>,
    pub withheld: Vec<WithheldView>,
    pub actions: Vec<ActionView>,
    pub matched: Vec<String>,
    pub refused: Option<String>,
    pub tree_hash: String,
    /// With `POST .../decision`: the intake and the state it is in now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecipientView {
    pub role: String,
    pub person: String,
    pub email: String,
    pub rule: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WithheldView {
    pub role: String,
    pub rule: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionView {
    pub action: String,
    pub rule: String,
}

impl DecisionView {
    pub fn of(d: &Decision) -> DecisionView {
        DecisionView {
            recipients: d
                .recipients
                .iter()
                .map(|r| RecipientView {
                    role: r.role.clone(),
                    person: r.person.clone(),
                    email: r.email.clone(),
                    rule: r.rule.clone(),
                    reason: r.reason.clone(),
                })
                .collect(),
            withheld: d
                .withheld
                .iter()
                .map(|w| WithheldView {
                    role: w.role.clone(),
                    rule: w.rule.clone(),
                    why: w.why.to_string(),
                })
                .collect(),
            actions: d
                .actions
                .iter()
                .map(|(a, r)| ActionView {
                    action: a.clone(),
                    rule: r.clone(),
                })
                .collect(),
            matched: d.matched.clone(),
            refused: d.refused.clone(),
            tree_hash: d.tree_hash.clone(),
            reference: None,
            state: None,
        }
    }
}

/// `POST /api/v1/cases/import`.
pub use modtag_workflow::registry::ImportCounts;

/// One row of `GET /api/v1/cases/export?format=json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CaseRow {
    pub case_number: String,
    pub cpr: String,
    pub child_name: String,
    pub raadgiver: String,
    pub area: Option<String>,
    pub institution: Option<String>,
    /// `open` or `closed`.
    pub status: String,
}

/// `POST /api/v1/config/reload`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Reloaded {
    pub tree_hash: String,
    pub previous_tree_hash: String,
    pub people: usize,
    pub institutions: usize,
    pub rules: usize,
    /// Sections that changed but take effect only after a restart.
    pub restart_needed: Vec<String>,
}

/// `POST /api/v1/route/simulate`.
#[derive(Debug, Serialize, Deserialize)]
pub struct SimulationView {
    #[serde(flatten)]
    pub simulation: Simulation,
    pub current_tree_hash: String,
}

/// One entry of `GET /api/v1/outbox/failed`: which intake, to whom, the relay's answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct FailedDelivery {
    pub id: u64,
    pub reference: String,
    pub role: String,
    pub person: String,
    pub attempts: u32,
    pub failed: Option<Timestamp>,
    pub error: Option<String>,
}

/// `POST /api/v1/retention/run`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RetentionRun {
    #[serde(default)]
    pub dry_run: bool,
}

/// `POST /api/v1/triage/{reference}/erase`.
#[derive(Debug, Serialize, Deserialize)]
pub struct EraseBody {
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Erased {
    pub reference: String,
    pub erased: bool,
    /// False when the erasure is done but the ring key could not be replaced yet (see
    /// `warning`).
    #[serde(default = "yes")]
    pub ring_replaced: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

fn yes() -> bool {
    true
}

/// `POST /api/v1/outbox/{id}/retry`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Requeued {
    pub id: u64,
    pub reference: String,
    pub queued: bool,
}

/// `POST /api/v1/users`: a built-in account. No password: the person chooses it at the
/// enrolment link (a body that gives one is refused).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub id: String,
    pub email: String,
    pub roles: Vec<String>,
}

/// The one-time enrolment link of a new or reset account, for the administrator to give the
/// person: shown once; it works once, until `expires`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Enrolment {
    pub id: String,
    pub enrolment_url: String,
    pub expires: Timestamp,
}

/// `POST /api/v1/users/{id}/roles`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Roles {
    pub roles: Vec<String>,
}

/// An account as listed: never its password hash or TOTP secret.
#[derive(Debug, Serialize, Deserialize)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub roles: Vec<String>,
    pub disabled: bool,
    pub created: Timestamp,
}

/// `POST /api/v1/users/{id}/token`: how long the token lives (90 days when left out).
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenRequest {
    pub days: Option<u32>,
}

/// A personal API token, shown once.
#[derive(Debug, Serialize, Deserialize)]
pub struct NewToken {
    pub token: String,
    pub expires: Timestamp,
}

/// `GET /api/v1/audit/log`: a page of the audit log as stored, for an auditor's copy.
#[derive(Debug, Serialize, Deserialize)]
pub struct AuditPage {
    /// The log's head when the copy began (`until`): the copy ends there.
    pub until: u64,
    /// Its hash (hex): the last entry must have it.
    pub head_hash: String,
    /// Entries after `after`, each as stored (base64): the auditor checks every hash.
    pub entries: Vec<AuditEntryView>,
    /// The checkpoints stored with the log, of trees up to `until` (first page only).
    pub checkpoints: Vec<String>,
    /// Whether entries up to `until` remain: ask again with `after` = the last `seq`.
    pub more: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AuditEntryView {
    pub seq: u64,
    pub entry: String,
}
