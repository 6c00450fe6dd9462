//! The records modtag stores. Each is serialized to JSON and encrypted to the store key
//! before it reaches sled; these types are the stored format, so fields are only ever added
//! with defaults.

use jiff::Timestamp;
pub use modtag_config::{Channel, Kind, ReporterKind};
use serde::{Deserialize, Serialize};

/// Kept here too: callers name it as a record among the others.
pub use crate::outbox::{DigitalPostLetter, DigitalPostTo, OutboxEntry};

pub use crate::account::{ApiToken, Enrolment, User};
pub use crate::desk::{StaffNote, TakenOver};
pub use crate::trust::{AddressProof, SenderConfirmed, SenderTrust, SignedIn};

/// Where an intake is in its life. Each change is recorded in [`Item::history`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    /// Waiting for a person's 24-hour assessment.
    AwaitingAssessment,
    /// Forwarded to the one matching case's rådgiver by the mechanical rule; Modtagelsen
    /// still owes the assessment.
    AutoLinked,
    Assessed,
    Routed,
    Closed,
}

impl ItemState {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::AwaitingAssessment => "awaiting_assessment",
            ItemState::AutoLinked => "auto_linked",
            ItemState::Assessed => "assessed",
            ItemState::Routed => "routed",
            ItemState::Closed => "closed",
        }
    }

    pub fn is_open(self) -> bool {
        !matches!(self, ItemState::Closed)
    }

    /// Still owed its 24-hour assessment.
    pub fn awaits_assessment(self) -> bool {
        matches!(self, ItemState::AwaitingAssessment | ItemState::AutoLinked)
    }

    /// The triage state machine: received → awaiting assessment (or auto-linked) →
    /// assessed → routed → closed. A decision that routes nothing closes from assessed.
    pub fn can_become(self, to: ItemState) -> bool {
        use ItemState::*;
        matches!(
            (self, to),
            (AwaitingAssessment, AutoLinked)
                | (AwaitingAssessment | AutoLinked, Assessed)
                | (Assessed, Routed)
                | (Assessed | Routed, Closed)
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transition {
    pub at: Timestamp,
    pub actor: String,
    pub to: ItemState,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    /// Sanitised: no path, no control characters.
    pub name: String,
    /// As declared by the sender.
    pub content_type: String,
    pub size: usize,
    /// As recognised from the content itself.
    #[serde(default)]
    pub sniffed_type: String,
    /// SHA-256 of the decoded content, hex.
    #[serde(default)]
    pub sha256: String,
    /// Why it is not offered for inline display (type outside the allow-list, declared and
    /// real type disagree); `None` when it may be shown.
    #[serde(default)]
    pub flagged: Option<String>,
    /// Where it came from when not a plain MIME part: `winmail.dat`, `message/rfc822`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub inside: String,
}

/// What reading a message found out, for staff to see at once. Stored with the item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Understanding {
    /// Why the item has its kind, in plain words.
    pub kind_reason: String,
    /// For a forwarded message: the original's sender, date and subject, and the forwarder.
    pub original: Option<Original>,
    pub cvrs: Vec<CvrFound>,
    pub reporter: Reporter,
    /// Akut words and phrases found (highlight only).
    pub akut: Vec<String>,
    /// Names in a Trivsel+ subject, matched against the directory or left for Journalen.
    pub trivsel: Option<TrivselNames>,
    /// The child's name, when the text gives it on a "Barnets navn:" line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_name: Option<String>,
    /// Set when the message arrived OpenPGP-encrypted.
    pub openpgp: Option<OpenPgpInfo>,
    /// What could not be read, or is worth knowing (modulus-11, limits reached, ...).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Original {
    pub from: Option<String>,
    pub date: Option<String>,
    pub subject: Option<String>,
    /// The forwarding staff member (the outer message's sender).
    pub forwarded_by: Option<String>,
    /// How the original was found: `message/rfc822`, `outlook-da`, `outlook-en`,
    /// `videresendt`, `forwarded`, `original-message`.
    pub style: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CvrFound {
    pub number: String,
    pub valid: bool,
    /// The directory institution with this CVR.
    pub institution: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Reporter {
    pub kind: ReporterKind,
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub role: Option<String>,
    pub email: Option<String>,
    /// Why this kind, in plain words.
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrivselNames {
    pub matched: Vec<NameMatch>,
    pub unmatched: Vec<NameMiss>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NameMatch {
    /// As written in the subject.
    pub written: String,
    /// Directory id and name.
    pub person: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NameMiss {
    pub written: String,
    /// A close directory name, for Journalen to confirm (never used by itself).
    #[serde(default)]
    pub suggestion: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OpenPgpInfo {
    pub decrypted: bool,
    /// `none`, `good`, `bad`, `unknown-key`.
    pub signature: String,
    /// Who signed (directory name, or the key's fingerprint).
    pub signer: Option<String>,
}

/// Transport facts recorded with a message.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Transport {
    pub peer: String,
    pub helo: String,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// `none`, or the TLS version and cipher suite.
    pub tls: String,
    pub size: usize,
    /// SPF, DKIM and DMARC verdicts, when sender authentication is on.
    #[serde(default)]
    pub sender_auth: Option<SenderVerdicts>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SenderVerdicts {
    pub spf: String,
    pub dkim: String,
    pub dmarc: String,
}

/// What a person decided about an intake, and what the router made of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub at: Timestamp,
    pub actor: String,
    pub existing_case: bool,
    pub case_number: Option<String>,
    pub trin: Option<u8>,
    pub consent: bool,
    pub area: Option<String>,
    pub institution: Option<String>,
    pub akut: bool,
    pub out_of_hours: bool,
    pub udskoling: bool,
    pub note: String,
    /// Who consented, how, when and to what (required when `consent`).
    #[serde(default)]
    pub consent_record: Option<Consent>,
    pub tree_hash: String,
    pub recipients: Vec<RoutedTo>,
    pub actions: Vec<String>,
    pub refused: Option<String>,
    /// The screening's outcome (issue 16): `afdaekning`, `boernefaglig_undersoegelse`,
    /// `ingen_yderligere` or `trivselplus_anbefalet`. (Left out when none, as in records
    /// written before it existed.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screening_outcome: Option<String>,
    /// Whether a lokal leder or the Børneskolerådgivere get the original too; otherwise the
    /// screening and its recommendation only (never a citizen reporter's identity).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub attach_original: bool,
    /// Names in a TRIVSEL+ subject the directory did not match, which Journalen resolved
    /// to a person (issue 29): routed as that person's name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names_added: Vec<NameAdded>,
}

/// A name as the subject wrote it, and the directory person Journalen says it means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NameAdded {
    pub written: String,
    /// Directory id.
    pub person: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consent {
    /// Who gave it: `forældre`, `mor`, `far`, `den unge` ...
    pub given_by: String,
    /// How: `skriftligt`, `mundtligt`, `digitalt` ...
    pub how: String,
    /// When (as recorded by the person; may be before the decision).
    pub at: Timestamp,
    /// To what: e.g. `kontakt til lokal leder`, `deling af journal`.
    pub scope: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoutedTo {
    pub role: String,
    pub person: String,
    pub rule: String,
}

/// One intake: a message and the triage item made from it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    pub reference: String,
    pub channel: Channel,
    pub kind: Kind,
    pub received_at: Timestamp,
    pub deadline: Timestamp,
    pub state: ItemState,
    pub transport: Transport,
    pub subject: Option<String>,
    pub from: Option<String>,
    /// Valid CPR numbers found, formatted `DDMMYY-SSSS`.
    pub cprs: Vec<String>,
    pub attachments: Vec<Attachment>,
    /// Set when the message could not be parsed; the raw message is kept regardless.
    pub parse_error: Option<String>,
    #[serde(default)]
    pub understanding: Understanding,
    pub case_number: Option<String>,
    /// Cases a person should consider (several matches): never linked automatically.
    pub suggestions: Vec<String>,
    pub decision: Option<DecisionRecord>,
    /// Decisions replaced by a new assessment, oldest first, each with why it was replaced.
    #[serde(default)]
    pub earlier_decisions: Vec<RevisedDecision>,
    pub history: Vec<Transition>,
    /// Directory ids of everyone a copy was queued for, so no one gets it twice.
    #[serde(default)]
    pub sent_to: Vec<String>,
    /// Earlier intakes about the same child (by blind index), oldest first.
    #[serde(default)]
    pub earlier: Vec<EarlierIntake>,
    /// The child's names: as the intake gave it ("Barnets navn:") and as the case system
    /// has it (a known or linked case), each once. Found again through the blind index by
    /// the normalised form, never kept in clear outside the encrypted item (issue 29).
    /// Only added to, so that erasure finds every index key the item ever had.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub child_names: Vec<String>,
    /// "Gentagne underretninger": enough reports about the child within the window.
    #[serde(default)]
    pub repeated: bool,
    #[serde(default)]
    pub kvittering: Option<Kvittering>,
    /// Deadline notifications sent, by stage; stored so a restart never sends one twice.
    #[serde(default)]
    pub escalations: Vec<Escalation>,
    #[serde(default)]
    pub tasks: Vec<Task>,
    /// Recipients who marked their copy as taken over ("modtaget"), so Modtagelsen sees who
    /// has it.
    #[serde(default)]
    pub taken_over: Vec<TakenOver>,
    /// What the desk wrote down about the intake, in order (issue 29): internal, never in a
    /// copy or on a recipient's page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub staff_notes: Vec<StaffNote>,
    /// A private institution's TRIVSEL+ forløb, once Journalen has passed it on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forloeb: Option<crate::forloeb::Forloeb>,
    /// How the sender is known (intakes from before it are unverified).
    #[serde(default)]
    pub sender_trust: SenderTrust,
    /// Where it was filed, once a person recorded it (issue 31).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journalised: Option<crate::journal::Journalised>,
    /// Journal packages dropped for the case system, awaiting or with its receipt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub journal_dropped: Vec<crate::journal::Dropped>,
    /// Letters to Digital Post about this intake, with what became of each (issue 30).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub letters: Vec<crate::outbox::DigitalPostLetter>,
    /// Who NemLog-in signed in, when `sender_trust` is MitID Erhverv.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_in: Option<SignedIn>,
    /// A person confirmed who the sender is, when its transport did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_confirmed: Option<SenderConfirmed>,
    /// The reporter's address and the one-time link its kvittering carried to confirm it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_proof: Option<AddressProof>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlierIntake {
    pub reference: String,
    pub received_at: Timestamp,
    pub kind: Kind,
}

/// The receipt a named reporter is owed within 6 hverdage (barnets lov).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kvittering {
    /// Local date by which it must be sent (`YYYY-MM-DD`).
    pub due: String,
    /// When modtag queued it (automatic), or when a person recorded sending it.
    pub sent_at: Option<Timestamp>,
    /// Who sent it: `system` for the automatic one.
    pub sent_by: Option<String>,
    /// True when it must be sent by hand (a named reporter without an address we can use).
    pub manual: bool,
    /// The address modtag sent it to by itself (counted per address and day: issue 26).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// A decision as it stood before a new assessment replaced it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevisedDecision {
    pub decision: DecisionRecord,
    pub replaced_at: Timestamp,
    pub replaced_by: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    /// 1, 2, 3 by the configured thresholds (an akut item's short clock is its 3); 0 for an
    /// akut item's immediate notice; [`Escalation::HANDOVER`] for the hand-over to the
    /// døgnvagt when Modtagelsen closes.
    pub stage: u8,
    pub at: Timestamp,
    /// Directory ids notified.
    pub to: Vec<String>,
    /// The roles notified (older records have none: their `to` says who).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

impl Escalation {
    /// The stage of the hand-over to the døgnvagt (issue 27).
    pub const HANDOVER: u8 = 9;
}

/// Work a person owes on an intake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub kind: TaskKind,
    pub created: Timestamp,
    pub due: Option<Timestamp>,
    pub done_at: Option<Timestamp>,
    pub done_by: Option<String>,
    pub outcome: Option<TaskOutcome>,
    pub reason: Option<String>,
    /// A tilbagemelding's letter exactly as it was sent (issue 27).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub letter: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Call an underretningsmøde (trin 3-4 on an existing case).
    IndkaldUnderretningsmoede,
    /// Feedback to a professional reporter (barnets lov § 137).
    Tilbagemelding,
    /// A kvittering to send by hand.
    Kvittering,
}

modtag_config::closed_names!(TaskKind {
    IndkaldUnderretningsmoede => "indkald_underretningsmoede",
    Tilbagemelding => "tilbagemelding",
    Kvittering => "kvittering",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskOutcome {
    /// A kvittering that a retry got out after all.
    Sent,
    Done,
    /// Feedback not given because it would harm the child (with a reason).
    Withheld,
}

modtag_config::closed_names!(TaskOutcome {
    Sent => "sent",
    Done => "done",
    Withheld => "withheld",
});

impl Item {
    /// A new intake awaiting assessment, with nothing read, decided or sent yet.
    pub fn received(
        reference: &str,
        channel: Channel,
        kind: Kind,
        received_at: Timestamp,
        deadline: Timestamp,
        transport: Transport,
    ) -> Item {
        Item {
            reference: reference.to_string(),
            channel,
            kind,
            received_at,
            deadline,
            state: ItemState::AwaitingAssessment,
            transport,
            subject: None,
            from: None,
            cprs: Vec::new(),
            attachments: Vec::new(),
            parse_error: None,
            understanding: Understanding::default(),
            case_number: None,
            suggestions: Vec::new(),
            decision: None,
            earlier_decisions: Vec::new(),
            history: Vec::new(),
            sent_to: Vec::new(),
            earlier: Vec::new(),
            child_names: Vec::new(),
            repeated: false,
            kvittering: None,
            escalations: Vec::new(),
            tasks: Vec::new(),
            taken_over: Vec::new(),
            staff_notes: Vec::new(),
            forloeb: None,
            sender_trust: SenderTrust::Unverified,
            signed_in: None,
            letters: Vec::new(),
            journalised: None,
            journal_dropped: Vec::new(),
            sender_confirmed: None,
            address_proof: None,
        }
    }

    /// Adds a name the child goes by (a case's, or the intake's own), unless it is there
    /// already as the blind index reads names.
    pub fn add_child_name(&mut self, name: &str) {
        let n = crate::names::normalised_name(name);
        if !n.is_empty()
            && !(self.child_names.iter()).any(|c| crate::names::normalised_name(c) == n)
        {
            self.child_names.push(name.trim().to_string());
        }
    }

    /// Akut: signals in the text, or a person decided it akut (issue 27: it leads every
    /// queue it is on).
    pub fn akut(&self) -> bool {
        !self.understanding.akut.is_empty() || self.decision.as_ref().is_some_and(|d| d.akut)
    }

    /// Handed over to the døgnvagt when Modtagelsen closed (or received while closed).
    pub fn handed_over(&self) -> bool {
        self.escalations
            .iter()
            .any(|e| e.stage == Escalation::HANDOVER)
    }

    /// The døgnvagt was given it (handed over, or told by a notice outside office hours):
    /// until it is assessed, it is on the døgnvagt's queue, as the døgnvagt works it.
    pub fn with_doegnvagt(&self) -> bool {
        self.escalations
            .iter()
            .any(|e| e.roles.iter().any(|r| r == "doegnvagt"))
    }

    /// Moves the item to `to`, recording who and when.
    pub fn transition(&mut self, to: ItemState, actor: &str, at: Timestamp, note: &str) {
        self.state = to;
        self.history.push(Transition {
            at,
            actor: actor.to_string(),
            to,
            note: note.to_string(),
        });
    }
}

/// A case from the kommune's case system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub case_number: String,
    /// `DDMMYY-SSSS`.
    pub cpr: String,
    pub child_name: String,
    /// Directory id of the responsible børne- og ungerådgiver.
    pub raadgiver: String,
    pub area: Option<String>,
    pub institution: Option<String>,
    pub open: bool,
    /// The overgang to trin 2 once it was sent (kept across imports of the case registry):
    /// a second one would hand the case over and invite everyone again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overgang: Option<crate::forloeb::OvergangSent>,
}

#[cfg(test)]
mod tests {
    use super::ItemState::{self, *};

    #[test]
    fn state_machine_by_table() {
        let all = [AwaitingAssessment, AutoLinked, Assessed, Routed, Closed];
        let allowed = [
            (AwaitingAssessment, AutoLinked),
            (AwaitingAssessment, Assessed),
            (AutoLinked, Assessed),
            (Assessed, Routed),
            (Assessed, Closed),
            (Routed, Closed),
        ];
        for from in all {
            for to in all {
                let want = allowed.contains(&(from, to));
                assert_eq!(from.can_become(to), want, "{from:?} → {to:?}");
            }
        }
        // Nothing leaves Closed, and nothing goes back to awaiting assessment.
        assert!(all
            .iter()
            .all(|s| !Closed.can_become(*s) && !s.can_become(AwaitingAssessment)));
        let _: ItemState = Closed;
    }
}
