//! What a person sees of one intake (issue 25): one pure function, [`view`], which the desk's
//! item page, the API and (through the API) the CLI all use, so no handler decides on its own
//! what to leave out.
//!
//! - The desk that owns the intake (Modtagelsen and its leader for underretninger and LÆ 165,
//!   Journalen for TRIVSEL+ and postfordeling; the døgnvagt for an intake handed to it out of
//!   hours by an escalation) and the case's rådgiver see it whole.
//! - Every other recipient sees what the decision sent them: the reference, the dates, the
//!   trin in the barometer's words, the screening and recommendation, the outcome, the
//!   consent, whom else it went to by role only, and the original (text, subject, sender,
//!   attachments) only when the reporter is a professional and the copy carried it. Never a
//!   citizen's or an anonymous reporter's identity; the CPR masked; no tasks, route notes,
//!   sender checks, transport, case number or the child's earlier intakes.
//! - Someone a new assessment no longer sends it to sees only that, and when.
//!
//! The mail copy follows the same rules ([`gets_whole`], [`gets_original`]), so what a person
//! reads in the desk is what their encrypted copy said.

use jiff::Timestamp;
use modtag_config::ReporterKind;
use modtag_config::RouteKind;
use modtag_router::cpr::Cpr;
use modtag_storage::records::{DecisionRecord, Item, RoutedTo, Transport};

use super::{desk_kinds, Person};

/// Roles on the institution's side of trin 0-2: they get the original only when the person
/// deciding chose to attach it (and never a citizen's).
pub const INSTITUTION_ROLES: [&str; 3] = ["lokal_leder", "boerneskoleraadgiver", "privat_leder"];

/// Roles whose copy is the whole intake: the desks' own mailboxes and leader, and the case's
/// rådgiver, who takes the case on.
const WHOLE: [&str; 4] = ["modtagelsen", "modtagelsen_leder", "journalen", "raadgiver"];

/// How `p` sees an intake.
#[derive(Debug, Clone, PartialEq)]
pub enum Sight {
    /// All of it: the owning desk, or the case's rådgiver.
    Full,
    /// What the decision sent them as `role`; the original only when `original`.
    Sent { role: String, original: bool },
    /// It was sent to them, and a new assessment at `at` no longer sends it.
    Ended { at: Timestamp },
}

/// An intake as one person may see it: `item` holds only what `sight` allows (everything
/// else empty), so whatever renders it cannot show more.
#[derive(Debug, Clone)]
pub struct View {
    pub sight: Sight,
    pub item: Item,
}

impl View {
    /// Whether the message's text and attachments may be read again for this person.
    pub fn reads_original(&self) -> bool {
        match &self.sight {
            Sight::Full => true,
            Sight::Sent { original, .. } => *original,
            Sight::Ended { .. } => false,
        }
    }
}

/// Whether a copy for `role` is the whole intake.
pub fn gets_whole(role: &str) -> bool {
    WHOLE.contains(&role)
}

/// Whether a copy for `role` carries the original message: always for [`gets_whole`] roles;
/// otherwise only a professional's, and on the institution's side only when the decision
/// chose to attach it and the sender is known (issue 26: "som fagperson" is anyone's to
/// write, and a citizen's identity must never reach an institution on such a claim).
pub fn gets_original(role: &str, item: &Item) -> bool {
    if gets_whole(role) {
        return true;
    }
    let professional = item.understanding.reporter.kind == ReporterKind::Professional;
    let attached = item.decision.as_ref().is_some_and(|d| d.attach_original);
    if INSTITUTION_ROLES.contains(&role) {
        // The claim must be the known sender's own: a forward's "fagperson" is only what the
        // forwarded text says, whoever forwarded it.
        professional
            && attached
            && item.sender_known()
            && crate::understand::reporter_is_sender(item)
    } else {
        professional
    }
}

/// Whether `p` works `item` (decides, corrects, closes, books): the desk of its kind, or the
/// døgnvagt an escalation handed it to outside office hours.
pub fn works(p: &Person, item: &Item) -> bool {
    desk_kinds(p).contains(&item.kind) || handed_to(p, item)
}

/// An underretning the escalation gave to the døgnvagt (this member of it, or the døgnvagt as
/// a role: the hand-over when Modtagelsen closes): outside office hours Modtagelsen's
/// assessment is theirs, until it is made (by them, or by Modtagelsen, after
/// which what the decision routes decides, as for anyone).
fn handed_to(p: &Person, item: &Item) -> bool {
    // The døgnvagt is a rota: whoever is on it now has what was handed to it.
    let escalated = item.escalations.iter().any(|e| {
        e.roles.iter().any(|r| r == "doegnvagt")
            || p.directory_id.as_ref().is_some_and(|me| e.to.contains(me))
    });
    let still_theirs =
        item.state.awaits_assessment() || item.decision.as_ref().is_some_and(|d| d.actor == p.user);
    p.has("doegnvagt")
        && item.kind.routing() == RouteKind::Underretning
        && escalated
        && still_theirs
}

/// Who the intake's routing sends it to now, with their role: the decision's recipients, or
/// before any decision the rådgiver the mechanical rule forwarded it to (the only copy that
/// goes out without one).
fn routed_now(item: &Item) -> Vec<(&str, &str)> {
    match &item.decision {
        Some(d) => d
            .recipients
            .iter()
            .map(|r| (r.person.as_str(), r.role.as_str()))
            .collect(),
        None => item
            .sent_to
            .iter()
            .map(|p| (p.as_str(), "raadgiver"))
            .collect(),
    }
}

/// Whether the intake's routing sends it to `me` (a directory id) now.
pub fn routed_to(item: &Item, me: &str) -> bool {
    routed_now(item).iter().any(|(who, _)| *who == me)
}

/// How `p` sees `item`, or `None` when they have no reason to see it at all.
pub fn sight(p: &Person, item: &Item) -> Option<Sight> {
    if works(p, item) {
        return Some(Sight::Full);
    }
    let me = p.directory_id.as_deref()?;
    if let Some((_, role)) = routed_now(item).into_iter().find(|(who, _)| *who == me) {
        return Some(if role == "raadgiver" {
            Sight::Full
        } else {
            Sight::Sent {
                role: role.to_string(),
                original: gets_original(role, item),
            }
        });
    }
    item.sent_to.iter().any(|s| s == me).then(|| Sight::Ended {
        at: ended_at(item, me),
    })
}

/// When the routing stopped sending `item` to `me`: the assessment after the last decision
/// that named them (or the first assessment, for the rådgiver the mechanical rule chose).
fn ended_at(item: &Item, me: &str) -> Timestamp {
    let mut decisions: Vec<(&DecisionRecord, Timestamp)> = item
        .earlier_decisions
        .iter()
        .map(|e| (&e.decision, e.replaced_at))
        .collect();
    if let Some(d) = &item.decision {
        decisions.push((d, d.at));
    }
    let named = |d: &DecisionRecord| d.recipients.iter().any(|r| r.person == me);
    match decisions.iter().rposition(|(d, _)| named(d)) {
        Some(i) => decisions[i].1,
        None => decisions.first().map_or(item.received_at, |(d, _)| d.at),
    }
}

/// What `p` may see of `item`, or `None` (then say "not found", as for no such intake).
pub fn view(p: &Person, item: &Item) -> Option<View> {
    let sight = sight(p, item)?;
    let item = match &sight {
        Sight::Full => item.clone(),
        Sight::Sent { original, .. } => as_sent(item, p.directory_id.as_deref(), *original),
        Sight::Ended { .. } => bare(item),
    };
    Some(View { sight, item })
}

/// CPR numbers as lists and recipients may see them (`DDMMYY-XXXX`); one masked already
/// stays as it is.
pub fn masked(cprs: &[String]) -> Vec<String> {
    cprs.iter()
        .filter_map(|c| match Cpr::parse(c) {
            Some(cpr) => Some(cpr.masked()),
            None => c.ends_with("-XXXX").then(|| c.clone()),
        })
        .collect()
}

/// The reference and dates only.
fn bare(item: &Item) -> Item {
    let mut out = Item::received(
        &item.reference,
        item.channel,
        item.kind,
        item.received_at,
        item.deadline,
        Transport::default(),
    );
    out.state = item.state;
    out
}

/// What a recipient's copy said, as an item.
fn as_sent(item: &Item, me: Option<&str>, original: bool) -> Item {
    let mut out = bare(item);
    out.cprs = masked(&item.cprs);
    out.understanding.reporter.kind = item.understanding.reporter.kind;
    if original {
        // The original names its (professional) writer, so the item may too.
        out.understanding.reporter = item.understanding.reporter.clone();
        out.understanding.reporter.reason = String::new();
        out.subject = item.subject.clone();
        out.from = item.from.clone();
        out.attachments = item.attachments.clone();
    }
    out.decision = item.decision.as_ref().map(as_sent_decision);
    // The forløb is the leaders' to answer in; it holds the staff they and the institution
    // named, not the reporter.
    out.forloeb = item.forloeb.clone();
    out.taken_over = item
        .taken_over
        .iter()
        .filter(|t| Some(t.person.as_str()) == me)
        .cloned()
        .collect();
    out.sent_to = me.map(str::to_string).into_iter().collect();
    out
}

/// The decision as a recipient reads it: the trin, the screening and recommendation, the
/// outcome, the consent, and the others it went to by role only. Every field is named here
/// on purpose (no `..d.clone()`): a field added to the record later does not reach a
/// recipient until someone decides it may.
fn as_sent_decision(d: &DecisionRecord) -> DecisionRecord {
    let mut roles: Vec<RoutedTo> = Vec::new();
    for r in &d.recipients {
        if !roles.iter().any(|k| k.role == r.role) {
            roles.push(RoutedTo {
                role: r.role.clone(),
                person: String::new(),
                rule: String::new(),
            });
        }
    }
    DecisionRecord {
        at: d.at,
        actor: d.actor.clone(),
        existing_case: false,
        case_number: None,
        trin: d.trin,
        consent: d.consent,
        area: d.area.clone(),
        institution: d.institution.clone(),
        akut: d.akut,
        out_of_hours: d.out_of_hours,
        udskoling: d.udskoling,
        note: d.note.clone(),
        consent_record: d.consent_record.clone(),
        tree_hash: String::new(),
        recipients: roles,
        actions: d
            .actions
            .iter()
            .filter(|a| a.starts_with("recommend_"))
            .cloned()
            .collect(),
        refused: None,
        screening_outcome: d.screening_outcome.clone(),
        attach_original: d.attach_original,
        // Journalen's own resolving of names in a subject is not the recipient's.
        names_added: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
