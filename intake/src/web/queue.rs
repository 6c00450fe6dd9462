//! Køen (the queue): a desk's intakes awaiting assessment (or all open ones), the nearest
//! deadline first, with the time left
//! as words and a colour (plenty, under 6 hours, overdue), kind, akut, repeated reports,
//! the kvittering, masked CPR and the sender check. Filtered by kind and state, searched by
//! reference or CPR (posted, never in a URL), 50 to a page. Only the signed-in person's desk (Modtagelsen's underretninger
//! and LÆ 165; Journalen's postfordeling and TRIVSEL+); every showing is audited with its
//! criteria, as the API's list is.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use jiff::{SignedDuration, Timestamp};
use modtag_config::Kind;
use modtag_router::cpr::Cpr;
use modtag_router::deadline;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::{Item, ItemState};
use serde::Deserialize;
use serde_json::json;

use super::signin::{page, storage_trouble};
use crate::access;
use crate::api::auth::Caller;
use crate::api::state::{audit, ApiState};
use crate::app::blocking;

/// Rows per page.
const PER_PAGE: usize = 50;
/// Under this much time left, a deadline shows as short.
const SHORT: SignedDuration = SignedDuration::from_hours(6);

/// One row, all of it safe to show on the desk: no subject, no names, CPR masked.
pub(super) struct Row {
    pub reference: String,
    pub kind: &'static str,
    /// `rigelig`, `kort` or `overskredet`: the class and the tag's words.
    pub urgency: &'static str,
    pub left: String,
    pub deadline: String,
    pub akut: bool,
    pub repeated: bool,
    pub kvittering: &'static str,
    pub cpr: String,
    pub sender_check: &'static str,
    pub state: &'static str,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage<'a> {
    desk: &'a str,
    user: &'a str,
    csrf: &'a str,
    rows: Vec<Row>,
    total: usize,
    page: usize,
    pages: usize,
    kinds: Vec<(&'static str, &'static str, bool)>,
    q: &'a str,
    /// A CPR search: shown as such, the number never echoed into the page's form.
    searched_cpr: bool,
    kind: &'a str,
    all_open: bool,
    updated: String,
}

#[derive(Deserialize, Default)]
pub struct Filters {
    #[serde(default)]
    art: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    side: Option<usize>,
    /// `alle` for every open intake; by default those still awaiting assessment.
    #[serde(default)]
    tilstand: String,
}

/// Still owes its assessment (the queue's default): new, or forwarded by the auto-link.
fn awaiting(state: ItemState) -> bool {
    matches!(state, ItemState::AwaitingAssessment | ItemState::AutoLinked)
}

/// The kind's name on the desk.
pub(super) fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Underretning => "Underretning",
        Kind::Lae165 => "LÆ 165",
        Kind::Postfordeling => "Postfordeling",
        Kind::Trivselplus => "TRIVSEL+",
    }
}

/// Time left as a person reads it: "3 t 12 min", "overskredet med 1 t 5 min".
fn time_left(left: SignedDuration) -> String {
    let minutes = left.as_secs().unsigned_abs() / 60;
    let (h, m) = (minutes / 60, minutes % 60);
    let amount = match (h, m) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} t"),
        (h, m) => format!("{h} t {m} min"),
    };
    if left.is_negative() {
        format!("overskredet med {amount}")
    } else {
        format!("{amount} tilbage")
    }
}

pub(super) fn row(item: &Item, now: Timestamp) -> Row {
    let left = item.deadline.duration_since(now);
    let urgency = if left.is_negative() {
        "overskredet"
    } else if left < SHORT {
        "kort"
    } else {
        "rigelig"
    };
    let kvittering = match &item.kvittering {
        None => "ingen",
        Some(k) if k.sent_at.is_some() => "sendt",
        Some(k) if k.manual => "sendes manuelt",
        Some(_) => "afventer",
    };
    let sender_check = match &item.transport.sender_auth {
        None => "ikke tjekket",
        Some(v) if v.dmarc == "pass" => "DMARC bestået",
        Some(v) if v.dmarc == "fail" => "DMARC fejlet",
        Some(_) => "uafklaret",
    };
    let cpr: Vec<String> = item
        .cprs
        .iter()
        .filter_map(|c| Cpr::parse(c))
        .map(|c| c.masked())
        .collect();
    Row {
        reference: item.reference.clone(),
        kind: kind_name(item.kind),
        urgency,
        left: time_left(left),
        deadline: deadline::local(item.deadline),
        akut: !item.understanding.akut.is_empty(),
        repeated: item.repeated,
        kvittering,
        cpr: cpr.join(", "),
        sender_check,
        state: match item.state {
            ItemState::AwaitingAssessment => "afventer vurdering",
            ItemState::AutoLinked => "sendt til sagens rådgiver, afventer vurdering",
            ItemState::Assessed => "vurderet",
            ItemState::Routed => "vurderet og videresendt",
            ItemState::Closed => "lukket",
        },
    }
}

/// `GET /koe`: kind, state and page in the address; no search (a CPR must never be in a URL).
pub async fn queue(
    State(state): State<Arc<ApiState>>,
    mut parts: Parts,
    Query(mut f): Query<Filters>,
) -> Response {
    let caller = match super::session::signed_in(&mut parts, &state).await {
        Ok(c) => c,
        Err(to_login) => return to_login,
    };
    f.q.clear();
    render(&state, &caller, &f).await
}

/// `POST /koe`: the filter form, with a search by reference or CPR in the body (a CPR is
/// found through the blind index; the search is audited with its criteria).
pub async fn search(
    State(state): State<Arc<ApiState>>,
    mut parts: Parts,
    Form(f): Form<Filters>,
) -> Response {
    let caller = match super::session::posting(&mut parts, &state, &f.csrf).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    render(&state, &caller, &f).await
}

async fn render(state: &ApiState, caller: &Caller, f: &Filters) -> Response {
    let desk = access::desk_kinds(&caller.person);
    let desk_name = match (
        desk.contains(&Kind::Underretning),
        desk.contains(&Kind::Trivselplus),
    ) {
        (true, true) => "Modtagelsen og Journalen",
        (true, false) => "Modtagelsen",
        (false, true) => "Journalen",
        (false, false) => "",
    };
    let kind = Kind::parse(&f.art).filter(|k| desk.contains(k));
    let q = f.q.trim().to_ascii_uppercase();
    let cpr = Cpr::parse(&q);
    let all_open = f.tilstand == "alle";
    // The criteria go into the audit entry (encrypted to the auditors), never into a URL.
    let search = match (&cpr, q.is_empty()) {
        (Some(c), _) => json!({ "cpr": c.formatted() }),
        (None, false) => json!({ "reference": q }),
        (None, true) => serde_json::Value::Null,
    };
    let event = Event::new(EventKind::Listed, &caller.actor, caller.purpose_or("triage"))
        .details(json!({ "page": "koe", "kind": kind.map(|k| k.as_str()), "search": search, "all_open": all_open }));
    if let Err(e) = audit(state, event).await {
        return e.into_response();
    }
    let store = state.app.store.clone();
    let digits = cpr.as_ref().map(|c| c.digits().to_string());
    let found = blocking(move || {
        let refs = digits.map(|d| store.items_for_cpr(&d)).transpose()?;
        Ok::<_, modtag_storage::StoreError>((store.items_where(ItemState::is_open)?, refs))
    })
    .await;
    let (items, cpr_refs) = match found {
        Ok(found) => found,
        Err(e) => return storage_trouble(e),
    };
    let now = state.now();
    let mut mine: Vec<&Item> = items
        .iter()
        .filter(|i| i.state.is_open() && desk.contains(&i.kind))
        .filter(|i| all_open || awaiting(i.state))
        .filter(|i| kind.is_none_or(|k| i.kind == k))
        .filter(|i| match &cpr_refs {
            Some(refs) => refs.contains(&i.reference),
            None => q.is_empty() || i.reference.contains(&q),
        })
        .collect();
    mine.sort_by_key(|i| (i.deadline, i.reference.clone()));
    let total = mine.len();
    let pages = total.div_ceil(PER_PAGE).max(1);
    let page_no = f.side.unwrap_or(1).clamp(1, pages);
    let rows = mine
        .iter()
        .skip((page_no - 1) * PER_PAGE)
        .take(PER_PAGE)
        .map(|i| row(i, now))
        .collect();
    let kinds = desk
        .iter()
        .map(|k| (k.as_str(), kind_name(*k), Some(*k) == kind))
        .collect();
    let csrf = caller.session.as_ref().map_or("", |s| s.csrf.as_str());
    page(
        StatusCode::OK,
        QueuePage {
            desk: desk_name,
            user: &caller.actor,
            csrf,
            rows,
            total,
            page: page_no,
            pages,
            kinds,
            q: if cpr.is_some() { "" } else { &q },
            searched_cpr: cpr.is_some(),
            kind: kind.map_or("", |k| k.as_str()),
            all_open,
            updated: deadline::local(now),
        }
        .render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_reads_as_a_person_says_it() {
        assert_eq!(
            time_left(SignedDuration::from_mins(192)),
            "3 t 12 min tilbage"
        );
        assert_eq!(time_left(SignedDuration::from_mins(45)), "45 min tilbage");
        assert_eq!(time_left(SignedDuration::from_hours(2)), "2 t tilbage");
        assert_eq!(
            time_left(SignedDuration::from_mins(-65)),
            "overskredet med 1 t 5 min"
        );
    }
}
