//! The child's history on the item page (issue 29): every other intake that named the
//! child's CPR, open and closed, found through the blind index, as a line a caseworker
//! reads: when, what, who reported (as a kind, never a name), the trin, where the decision
//! sent it, the screening's outcome and who assessed it. "Gentagne underretninger" is
//! counted over every intake naming the CPR, as at arrival. Shown only to a person who sees
//! the whole intake, and a line only for an intake that person may open too
//! (`access::view`): Journalen does not learn Modtagelsen's underretninger from a TRIVSEL+
//! that names the CPR, nor a rådgiver another child's case from an intake naming two
//! children. The look is audited with the references shown.

use modtag_config::Loaded;
use modtag_router::deadline;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::{Item, ItemState};
use serde_json::json;

use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::state::ApiState;
use crate::app::blocking;
use crate::words::kind_name;

/// One earlier (or later) intake about the child.
pub(super) struct Line {
    pub reference: String,
    pub received: String,
    pub kind: &'static str,
    pub reporter: &'static str,
    pub trin: String,
    /// Where the decision sent it, or what is still to happen.
    pub decision: String,
    pub outcome: String,
    pub assessed_by: String,
    pub closed: bool,
}

/// The child's history as the item page shows it.
pub(super) struct History {
    pub lines: Vec<Line>,
    /// "Gentagne underretninger", counted from `lines` as the rule counts at arrival.
    pub repeated: bool,
    /// The rule, in words: how many within how many days.
    pub rule: String,
}

/// Every other intake naming one of `item`'s CPR numbers, newest first, with the audit
/// entry of the look. Nothing (and no entry) when the intake names no CPR.
pub(super) async fn of(
    state: &ApiState,
    caller: &Caller,
    item: &Item,
) -> Result<History, ApiError> {
    let cfg = state.app.policy.cfg();
    let store = state.app.store.clone();
    let (cprs, own) = (item.cprs.clone(), item.reference.clone());
    let mut others = blocking(move || {
        let mut refs: Vec<String> = Vec::new();
        for cpr in &cprs {
            let digits: String = cpr.chars().filter(char::is_ascii_digit).collect();
            refs.extend(store.items_for_cpr(&digits)?);
        }
        refs.sort();
        refs.dedup();
        refs.retain(|r| r != &own);
        store.items_by_reference(&refs)
    })
    .await?;
    others.sort_by_key(|i| std::cmp::Reverse(i.received_at));
    let now = state.now();
    let earlier: Vec<jiff::Timestamp> = others.iter().map(|o| o.received_at).collect();
    others.retain(|o| caller.view(o).is_some());
    if !others.is_empty() {
        let shown: Vec<&str> = others.iter().map(|i| i.reference.as_str()).collect();
        let event = Event::new(
            EventKind::Listed,
            &caller.actor,
            caller.purpose_or("triage"),
        )
        .reference(&item.reference)
        .details(json!({ "page": "barnets historik", "shown": shown }));
        crate::api::state::audit(state, event).await?;
    }
    Ok(History {
        repeated: modtag_workflow::accept::repeated(&cfg, earlier, item.received_at),
        rule: rule_words(&cfg),
        lines: others.iter().map(|o| line(o, now)).collect(),
    })
}

fn rule_words(cfg: &Loaded) -> String {
    let t = &cfg.config.triage;
    format!(
        "{} eller flere henvendelser om barnet inden for {} dage",
        t.repeat_threshold, t.repeat_window_days
    )
}

fn line(o: &Item, now: jiff::Timestamp) -> Line {
    let d = o.decision.as_ref();
    let words = |d: &modtag_storage::records::DecisionRecord| {
        let to: Vec<&str> = (d.recipients.iter())
            .map(|r| modtag_config::roles::role_words(&r.role))
            .collect();
        let akut = if d.akut { "akut; " } else { "" };
        match (to.is_empty(), &d.case_number) {
            (true, None) => format!("{akut}ikke sendt videre"),
            (true, Some(c)) => format!("{akut}sag {c}"),
            (false, None) => format!("{akut}sendt til {}", to.join(", ")),
            (false, Some(c)) => format!("{akut}sag {c}, sendt til {}", to.join(", ")),
        }
    };
    Line {
        reference: o.reference.clone(),
        received: deadline::spoken(o.received_at, now),
        kind: kind_name(o.kind),
        reporter: modtag_config::vocab::reporter_words(o.understanding.reporter.kind),
        trin: d
            .and_then(|d| d.trin)
            .map_or("–".into(), |t| format!("trin {t}")),
        decision: d.map_or_else(|| "ikke vurderet endnu".into(), words),
        outcome: (d.and_then(|d| d.screening_outcome.as_deref())).map_or("–".into(), |o| {
            modtag_config::vocab::outcome_words(o).to_string()
        }),
        assessed_by: d.map_or("–".into(), |d| d.actor.clone()),
        closed: o.state == ItemState::Closed,
    }
}
