//! A person's triage decision: record it, route it, queue the encrypted copies.

use jiff::Timestamp;
use modtag_config::vocab::SCREENING_OUTCOMES;
use modtag_config::Loaded;
use modtag_config::ReporterKind;
use modtag_config::RouteKind;
use modtag_router::{route, Decision, Facts};
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::{
    Case, DecisionRecord, Item, ItemState, RevisedDecision, RoutedTo, Task, TaskKind,
};
use modtag_storage::store::{Batch, IdSource};
use modtag_storage::{Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access::view;
use crate::access::Person;
use crate::compose;

/// What a person decides at assessment (the HTTP API's request body).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// Who decides: the API fills it in with the authenticated caller's account.
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub existing_case: bool,
    pub case_number: Option<String>,
    pub trin: Option<u8>,
    #[serde(default)]
    pub consent: bool,
    pub area: Option<String>,
    pub institution: Option<String>,
    #[serde(default)]
    pub akut: bool,
    #[serde(default)]
    pub out_of_hours: bool,
    #[serde(default)]
    pub udskoling: bool,
    #[serde(default)]
    pub note: String,
    /// Who consented, how, when and to what; who and how are required with `consent`.
    pub consent_by: Option<String>,
    pub consent_how: Option<String>,
    pub consent_at: Option<Timestamp>,
    pub consent_scope: Option<String>,
    /// Why an intake already decided is assessed again (required to replace a decision).
    #[serde(default)]
    pub revise: Option<String>,
    /// The screening's outcome, one of [`SCREENING_OUTCOMES`].
    #[serde(default)]
    pub screening_outcome: Option<String>,
    /// Send the original to a lokal leder or the Børneskolerådgivere too (trin 0-2); never
    /// when the reporter is a citizen.
    #[serde(default)]
    pub attach_original: bool,
    /// Names in a TRIVSEL+ subject the directory did not match, resolved by Journalen to a
    /// directory person: routed by that person's name (issue 29).
    #[serde(default)]
    pub names_added: Vec<modtag_storage::records::NameAdded>,
}

/// Why a decision was not taken, mapped to HTTP statuses by the API.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("no intake with reference {0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("intake {0} has already been decided; to assess it again, say why (--revise REASON)")]
    AlreadyDecided(String),
    #[error("{0} is worked by another desk; you may read what was sent to you")]
    NotYourDesk(String),
    #[error("case {0} is not in the case registry")]
    UnknownCase(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn validate(input: &DecisionInput) -> Result<(), DecideError> {
    if input.actor.trim().is_empty() {
        return Err(DecideError::Invalid(
            "actor is required: the person who decides".into(),
        ));
    }
    if let Some(why) = facts_problem(input.trin, None) {
        return Err(DecideError::Invalid(why));
    }
    if input.consent
        && (input
            .consent_by
            .as_deref()
            .is_none_or(|s| s.trim().is_empty())
            || input
                .consent_how
                .as_deref()
                .is_none_or(|s| s.trim().is_empty()))
    {
        return Err(DecideError::Invalid(
            "consent must be recorded with who gave it and how (--consent-by forældre --consent-how mundtligt): nothing goes to a lokal leder without recorded consent".into(),
        ));
    }
    if let Some(o) = &input.screening_outcome {
        if !SCREENING_OUTCOMES.iter().any(|(id, _)| id == o) {
            let ids: Vec<&str> = SCREENING_OUTCOMES.iter().map(|(id, _)| *id).collect();
            return Err(DecideError::Invalid(format!(
                "unknown screening outcome {o:?}: use one of {}",
                ids.join(", ")
            )));
        }
    }
    if let Some(why) = facts_problem(None, input.area.as_deref()) {
        return Err(DecideError::Invalid(why));
    }
    Ok(())
}

/// A trin past 4 or an area the tree does not know, for a decision and `route explain`.
pub fn facts_problem(trin: Option<u8>, area: Option<&str>) -> Option<String> {
    if trin.is_some_and(|t| t > 4) {
        return Some("trin goes from 0 to 4".into());
    }
    let area = area.filter(|a| !modtag_config::roles::is_area(a))?;
    Some(format!(
        "unknown area {area:?}: use one of {}",
        modtag_config::roles::AREAS.join(", ")
    ))
}

/// What a decision needs from storage, read before anything is decided.
pub struct Known {
    pub item: Item,
    /// The case the decision names (or the one the intake was linked to).
    pub case: Option<Case>,
    /// The stored message, for the recipients' copies.
    pub raw: Vec<u8>,
}

/// Records and routes a decision: reads the intake, its case and its message under the
/// item's lock, lets [`plan`] decide, and commits the batch. Blocking; the caller flushes
/// before answering.
/// Records `input` as the decision on `reference`, if the one deciding works the intake's
/// desk (`works`, asked under the item's lock so a kind corrected meanwhile counts).
pub fn decide(
    store: &Store,
    cfg: &Loaded,
    reference: &str,
    input: &DecisionInput,
    works: impl Fn(&Item) -> Result<(), DecideError>,
    now: Timestamp,
) -> Result<(Decision, ItemState), DecideError> {
    validate(input)?;
    // Two decisions at once must not both pass the checks in `plan`.
    let _held = store.lock_item(reference);
    let item = store
        .item(reference)?
        .ok_or_else(|| DecideError::NotFound(reference.to_string()))?;
    works(&item)?;
    let known = known(store, item, input)?;
    let (batch, decision, state) = plan(cfg, known, input, store, now)?;
    store.commit(batch, now)?;
    Ok((decision, state))
}

/// The check [`decide`] makes under the item's lock: that `person` works the intake (so a
/// kind corrected meanwhile counts). Someone with no reason to see it at all is told it is
/// not there, as for no such intake.
pub fn worked_by(person: Person) -> impl Fn(&Item) -> Result<(), DecideError> {
    move |item| {
        if view::works(&person, item) {
            Ok(())
        } else if view::sight(&person, item).is_none() {
            Err(DecideError::NotFound(item.reference.clone()))
        } else {
            Err(DecideError::NotYourDesk(item.reference.clone()))
        }
    }
}

/// What `input` would do to `reference` (whom it routes to, and why; what the consent gate
/// holds back), computed as `decide` would and then thrown away: the decision form's route
/// preview. Nothing is written and no id is taken.
pub fn preview(
    store: &Store,
    cfg: &Loaded,
    reference: &str,
    input: &DecisionInput,
    now: Timestamp,
) -> Result<Decision, DecideError> {
    struct NoIds;
    impl modtag_storage::store::IdSource for NoIds {
        fn next_id(&self) -> Result<u64, StoreError> {
            Ok(0)
        }
    }
    validate(input)?;
    let item = store
        .item(reference)?
        .ok_or_else(|| DecideError::NotFound(reference.to_string()))?;
    let (_, decision, _) = plan(cfg, known(store, item, input)?, input, &NoIds, now)?;
    Ok(decision)
}

/// `input` with the names the current decision resolved, unless it resolves them again.
fn with_names(input: &DecisionInput, current: Option<&DecisionRecord>) -> DecisionInput {
    let mut out = input.clone();
    for n in current.map_or(&[][..], |d| &d.names_added) {
        if !out.names_added.iter().any(|m| m.written == n.written) {
            out.names_added.push(n.clone());
        }
    }
    out
}

/// What a decision on `item` reads besides it: the case it names and the stored message.
/// Refuses first what `plan` would refuse, before anything else is read.
fn known(store: &Store, item: Item, input: &DecisionInput) -> Result<Known, DecideError> {
    revision(&item, input)?;
    let case = match case_number(&item, input) {
        Some(n) => Some(
            store
                .case(&n)?
                .ok_or_else(|| DecideError::UnknownCase(n.clone()))?,
        ),
        None => None,
    };
    let raw = store
        .message(&item.reference)?
        .ok_or_else(|| DecideError::NotFound(item.reference.clone()))?;
    Ok(Known { item, case, raw })
}

/// Whether `input` may decide `item`: a first assessment, or a new one with its reason (the
/// reason, trimmed). A new assessment replaces the decision (kept, with its reason); what
/// was sent stays sent, and only people the new decision adds get a copy.
fn revision<'a>(item: &Item, input: &'a DecisionInput) -> Result<Option<&'a str>, DecideError> {
    let reference = &item.reference;
    let revise = input
        .revise
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    match (&item.decision, revise) {
        (None, None) if item.state.can_become(ItemState::Assessed) => Ok(None),
        (None, None) | (Some(_), None) => Err(DecideError::AlreadyDecided(reference.clone())),
        (None, Some(_)) => Err(DecideError::Invalid(format!(
            "{reference} has not been decided yet: there is nothing to revise"
        ))),
        (Some(_), Some(_)) if item.state == ItemState::Closed => Err(DecideError::Invalid(
            format!("{reference} is closed: a closed intake is not assessed again"),
        )),
        (Some(_), Some(_)) => Ok(revise),
    }
}

/// The case a decision is about: the one it names, or, for an existing case, the one the
/// intake was linked to.
fn case_number(item: &Item, input: &DecisionInput) -> Option<String> {
    input.case_number.clone().or_else(|| {
        input
            .existing_case
            .then(|| item.case_number.clone())
            .flatten()
    })
}

/// Everything a decision means, as one batch: the decision on the item (an earlier one kept
/// with its reason), the tasks it leaves, the audit entry, and a copy for each recipient
/// not sent one yet. Reads nothing from storage; `ids` numbers the copies.
pub fn plan(
    cfg: &Loaded,
    known: Known,
    input: &DecisionInput,
    ids: &dyn IdSource,
    now: Timestamp,
) -> Result<(Batch, Decision, ItemState), DecideError> {
    let Known {
        mut item,
        case,
        raw,
    } = known;
    let reference = item.reference.clone();
    let reference = reference.as_str();
    let revise = revision(&item, input)?;
    // Names Journalen resolved stay resolved when the intake is assessed again.
    let merged = with_names(input, item.decision.as_ref());
    let input = &merged;
    // Whom the routing sends it to before this decision: anyone the new one leaves out
    // loses their access to it (issue 25), which the audit entry records.
    let routed_before: Vec<String> = item
        .sent_to
        .iter()
        .filter(|p| view::routed_to(&item, p))
        .cloned()
        .collect();
    let case_number = case_number(&item, input);
    let facts = routing_facts(cfg, &item, case.as_ref(), input, now)?;
    let decision = route(&facts, &cfg.tree, &cfg.directory);

    item.case_number = case_number.clone();
    if let Some(c) = &case {
        item.add_child_name(&c.child_name);
    }
    let previous = item.decision.take();
    item.decision = Some(decision_record(input, &facts, &decision, case_number, now));
    let access_ended: Vec<&String> = routed_before
        .iter()
        .filter(|p| !decision.recipients.iter().any(|r| &&r.person == p))
        .collect();
    let previous_summary = previous
        .as_ref()
        .map(|d| json!({ "trin": d.trin, "area": d.area, "consent": d.consent, "at": d.at }));
    record_assessment(&mut item, previous, revise, input, now);
    add_tasks(cfg, &mut item, &facts, now);
    let mut batch = Batch::new();
    if revise.is_none() {
        tell_school_starter(ids, cfg, &item, &mut batch, now)?;
    }
    batch.audit(
        Event::new(
            if revise.is_some() {
                EventKind::Reassessed
            } else {
                EventKind::Decided
            },
            &input.actor,
            "assessment",
        )
        .reference(reference)
        .details(json!({
            "reason": revise,
            "previous": previous_summary,
            "existing_case": facts.existing_case,
            "case": item.case_number,
            "trin": input.trin,
            "consent": input.consent,
            "consent_by": input.consent_by,
            "consent_how": input.consent_how,
            "area": facts.area,
            "akut": input.akut,
            "out_of_hours": facts.out_of_hours,
            "screening_outcome": input.screening_outcome,
            "attach_original": input.attach_original,
            "access_ended": access_ended,
        })),
    );
    compose::enqueue(
        ids,
        cfg,
        &mut item,
        &raw,
        &decision,
        &input.actor,
        &mut batch,
        now,
    )?;
    if !decision.recipients.is_empty() && item.state.can_become(ItemState::Routed) {
        item.transition(ItemState::Routed, &input.actor, now, "routed");
    }
    if item.kind == modtag_config::Kind::Trivselplus {
        super::forloeb::begin(cfg, &mut item, now);
    }
    let state = item.state;
    batch.item(item);
    Ok((batch, decision, state))
}

/// What the beslutningstræ routes on: the person's input, filled in from the case where the
/// input leaves something out, and the office calendar. An institution must be one the
/// directory knows.
fn routing_facts(
    cfg: &Loaded,
    item: &Item,
    case: Option<&Case>,
    input: &DecisionInput,
    now: Timestamp,
) -> Result<Facts, DecideError> {
    if let Some(inst) = &input.institution {
        if cfg.directory.institution(inst).is_none() {
            return Err(DecideError::Invalid(format!(
                "institution {inst:?} is not in the directory"
            )));
        }
    }
    Ok(Facts {
        // DOMAIN.md flow 1: an LÆ 165 and whatever Journalen forwards are assessed and
        // routed as underretninger; the beslutningstræ speaks of those.
        kind: item.kind.routing(),
        trin: input.trin,
        area: input
            .area
            .clone()
            .or_else(|| case.and_then(|c| c.area.clone())),
        udskoling: input.udskoling,
        existing_case: input.existing_case || case.is_some(),
        consent: input.consent,
        // An intake is never an overgang: its second consent does not apply.
        consent_share: false,
        akut: input.akut,
        // Issue 16: outside office hours is the directory's calendar's to say, not a flag
        // the person must remember (they may still set it, e.g. for a call at 15:25).
        out_of_hours: input.out_of_hours
            || !modtag_router::calendar::office_open(now, &cfg.directory.calendar),
        institution: input
            .institution
            .clone()
            .or_else(|| case.and_then(|c| c.institution.clone())),
        raadgiver: case.map(|c| c.raadgiver.clone()),
        // Every name the subject gave, matched or not: the router matches them again
        // against the directory the decision is made with; and whom Journalen resolved an
        // unmatched one to, by the directory's name.
        names: trivsel_names(item)
            .into_iter()
            .chain(
                (input.names_added.iter())
                    .filter_map(|n| cfg.directory.person(&n.person))
                    .map(|p| p.name.clone()),
            )
            .collect(),
    })
}

/// The decision as the item keeps it: what the person gave (with the consent, who gave it
/// and how), the facts it was routed on, and whom the routing chose.
fn decision_record(
    input: &DecisionInput,
    facts: &Facts,
    decision: &Decision,
    case_number: Option<String>,
    now: Timestamp,
) -> DecisionRecord {
    let consent_record = input.consent.then(|| modtag_storage::records::Consent {
        given_by: input.consent_by.clone().unwrap_or_default(),
        how: input.consent_how.clone().unwrap_or_default(),
        at: input.consent_at.unwrap_or(now),
        scope: input
            .consent_scope
            .clone()
            .unwrap_or_else(|| "kontakt til lokal leder / Børneskolerådgivere".into()),
    });
    DecisionRecord {
        consent_record,
        at: now,
        actor: input.actor.clone(),
        existing_case: facts.existing_case,
        case_number,
        trin: input.trin,
        consent: input.consent,
        area: facts.area.clone(),
        institution: facts.institution.clone(),
        akut: input.akut,
        out_of_hours: facts.out_of_hours,
        udskoling: input.udskoling,
        note: input.note.clone(),
        tree_hash: decision.tree_hash.clone(),
        recipients: decision
            .recipients
            .iter()
            .map(|r| RoutedTo {
                role: r.role.clone(),
                person: r.person.clone(),
                rule: r.rule.clone(),
            })
            .collect(),
        actions: decision.actions.iter().map(|(a, _)| a.clone()).collect(),
        refused: decision.refused.clone(),
        screening_outcome: input.screening_outcome.clone(),
        attach_original: input.attach_original,
        names_added: input.names_added.clone(),
    }
}

/// The item's history: a first assessment moves it to assessed; a new one keeps the
/// decision it replaces, with who replaced it and why.
fn record_assessment(
    item: &mut Item,
    previous: Option<DecisionRecord>,
    revise: Option<&str>,
    input: &DecisionInput,
    now: Timestamp,
) {
    match (previous, revise) {
        (Some(decision), Some(reason)) => {
            item.earlier_decisions.push(RevisedDecision {
                decision,
                replaced_at: now,
                replaced_by: input.actor.clone(),
                reason: reason.to_string(),
            });
            // The state stays (assessed or routed); the history says what happened.
            let state = item.state;
            item.transition(
                state,
                &input.actor,
                now,
                &format!("assessed again: {reason}"),
            );
        }
        _ => item.transition(ItemState::Assessed, &input.actor, now, "assessed"),
    }
}

/// What the assessment leaves a person to do: a new case's underretningsmøde, and a
/// professional reporter's tilbagemelding with its deadline. Each once.
fn add_tasks(cfg: &Loaded, item: &mut Item, facts: &Facts, now: Timestamp) {
    let task = |kind: TaskKind, reason: &str| Task {
        kind,
        created: now,
        due: None,
        done_at: None,
        done_by: None,
        outcome: None,
        letter: None,
        reason: Some(reason.into()),
    };
    let has_task = |item: &Item, kind: TaskKind| item.tasks.iter().any(|t| t.kind == kind);
    if !facts.existing_case
        && item.kind.routing() == RouteKind::Underretning
        && !has_task(item, TaskKind::IndkaldUnderretningsmoede)
    {
        item.tasks.push(task(
            TaskKind::IndkaldUnderretningsmoede,
            "ny sag: indkald familie, barn og evt. underretter til underretningsmøde",
        ));
    }
    if item.understanding.reporter.kind == ReporterKind::Professional
        && item.kind.routing() == RouteKind::Underretning
        && !has_task(item, TaskKind::Tilbagemelding)
    {
        let mut t = task(
            TaskKind::Tilbagemelding,
            "fagperson: giv besked om, hvorvidt der er iværksat undersøgelse eller indsats",
        );
        t.due = Some(super::tilbagemelding::due(
            item.received_at,
            cfg.config.triage.tilbagemelding_months,
        ));
        item.tasks.push(t);
    }
}

/// "Børn på vej i skole": the private institution is told, once (at the first assessment),
/// to contact the coming school's leader itself (the reference only; no child).
fn tell_school_starter(
    ids: &dyn IdSource,
    cfg: &Loaded,
    item: &Item,
    batch: &mut Batch,
    now: Timestamp,
) -> Result<(), DecideError> {
    let reference = item.reference.as_str();
    let school_starter = item
        .understanding
        .notes
        .iter()
        .any(|n| n == crate::understand::SCHOOL_STARTER);
    if !school_starter {
        return Ok(());
    }
    if let Some(email) = item.understanding.reporter.email.clone() {
        batch.outbox(compose::plain_entry(
            ids,
            cfg,
            reference,
            compose::PlainTo {
                role: "reporter",
                person: "reporter",
                email: &email,
            },
            &format!("Børn på vej i skole: {reference}"),
            &format!(
                "Jeres henvendelse {reference} handler om et barn på vej i skole.\n\n\
                 Efter kommunens arbejdsgang kontakter I selv lederen af den skole, barnet \
                 skal begynde i. Journalen har sendt henvendelsen videre til de ledere, I \
                 nævnte.\n"
            ),
            now,
        )?);
    }
    Ok(())
}

/// Every name a Trivsel+ subject gave, matched or not: the router matches them again
/// against the directory the decision is made with.
pub fn trivsel_names(item: &modtag_storage::records::Item) -> Vec<String> {
    item.understanding
        .trivsel
        .as_ref()
        .map(|t| {
            t.matched
                .iter()
                .map(|m| m.written.clone())
                .chain(t.unmatched.iter().map(|m| m.written.clone()))
                .collect()
        })
        .unwrap_or_default()
}
