//! Køen (the queue): a desk's intakes awaiting assessment (or all open ones), akut ones
//! first (marked in red with the time since receipt, and counted), then the nearest
//! deadline, with the time left
//! as words and a colour (plenty, under 6 hours, overdue), kind, akut, repeated reports,
//! the kvittering, masked CPR and the sender check. Filtered by kind and state, searched by
//! reference or CPR (posted, never in a URL), 50 to a page. Only the signed-in person's desk (Modtagelsen's underretninger
//! and LÆ 165; Journalen's postfordeling and TRIVSEL+; the døgnvagt's, what Modtagelsen's
//! closing handed it); every showing is audited with its
//! criteria, as the API's list is.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use modtag_config::{Channel, Kind};
use modtag_router::cpr::Cpr;
use modtag_router::deadline;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::{Item, ItemState};
use modtag_storage::summary::ItemSummary;
use serde::Deserialize;
use serde_json::json;

use super::session::{Posted, SignedIn};
use super::signin::{page, storage_trouble};
use crate::access;
use crate::api::auth::Caller;
use crate::api::state::{audit, ApiState};
use crate::app::blocking;
use crate::words;
use crate::workflow::forloeb::{step as forloeb_step, Step};

/// Rows per page.
const PER_PAGE: usize = 50;
/// Under this much time left, a deadline shows as short.
const SHORT: SignedDuration = SignedDuration::from_hours(6);

/// One row, all of it safe to show on the desk: no subject, no names, CPR masked.
pub(super) struct Row {
    pub reference: String,
    pub kind: &'static str,
    /// `rigelig`, `kort`, `overskredet` or (once assessed) `vurderet`: the tag's class.
    pub urgency: &'static str,
    pub left: String,
    pub deadline: String,
    pub akut: bool,
    /// How long ago it came, for an akut intake ("modtaget for 35 min siden").
    pub since: String,
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
    /// The desk has TRIVSEL+ forløb: what waits for it includes their next steps.
    forloeb_desk: bool,
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
    /// TRIVSEL+ forløb with a step still to take (the answers, the list, the booking).
    in_forloeb: bool,
    /// "Ikke journaliseret": done with, not yet filed (issue 31).
    unfiled: bool,
    /// The channel filter's choices (id, name, chosen), and the received-date range.
    channels: Vec<(&'static str, &'static str, bool)>,
    from: &'a str,
    to: &'a str,
    /// A date that could not be read, to say so.
    date_error: Option<&'static str>,
    /// A filter beyond the search is chosen (or a date was refused): the filters are shown
    /// open. Otherwise they are folded, so the queue is on a phone's first screen.
    narrowed: bool,
    /// The filters (never a search) as a query string for the paging links.
    filter_query: String,
    updated: String,
    /// Akut intakes awaiting assessment on this desk (issue 27: said first).
    akut_waiting: usize,
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
    /// The mailbox it came in on.
    #[serde(default)]
    kanal: String,
    /// Received on or after this local day, and on or before that (`YYYY-MM-DD`).
    #[serde(default)]
    fra: String,
    #[serde(default)]
    til: String,
}

/// The channel's name on the desk.
fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Underretning => "Underretninger",
        Channel::Trivselplus => "TRIVSEL+",
        Channel::Postfordeling => "Postfordeling",
        Channel::Deltagerliste => "Deltagerlister",
    }
}

const CHANNELS: [Channel; 4] = [
    Channel::Underretning,
    Channel::Trivselplus,
    Channel::Postfordeling,
    Channel::Deltagerliste,
];

/// A local day's start, or `None` for an empty field; `Err` for one that is not a date.
fn day(field: &str) -> Result<Option<jiff::civil::Date>, ()> {
    let field = field.trim();
    if field.is_empty() {
        return Ok(None);
    }
    field.parse().map(Some).map_err(|_| ())
}

fn start_of(d: jiff::civil::Date) -> Option<Timestamp> {
    d.in_tz("Europe/Copenhagen").ok().map(|z| z.timestamp())
}

/// Still owes its assessment (the queue's default): new, or forwarded by the auto-link.
fn awaiting(state: ItemState) -> bool {
    matches!(state, ItemState::AwaitingAssessment | ItemState::AutoLinked)
}

/// The received-date filter as instants (from the start of `fra`, to the end of `til`), and
/// what to say when a date could not be read.
fn received_range(
    f: &Filters,
) -> (
    Option<&'static str>,
    Option<jiff::Timestamp>,
    Option<jiff::Timestamp>,
) {
    let (from_day, to_day) = (day(&f.fra), day(&f.til));
    let date_error = (from_day.is_err() || to_day.is_err())
        .then_some("En dato skal skrives som åååå-mm-dd. Den blev ikke brugt.");
    let from = from_day.ok().flatten().and_then(start_of);
    let to = to_day
        .ok()
        .flatten()
        .and_then(|d| d.tomorrow().ok())
        .and_then(start_of);
    (date_error, from, to)
}

/// Done with: routed or closed (what a case system files).
fn done(state: ItemState) -> bool {
    matches!(state, ItemState::Routed | ItemState::Closed)
}

/// The kind's name on the desk.
/// A length of time as a person says it: "3 t 12 min", "45 min", "2 t".
fn span(d: SignedDuration) -> String {
    let minutes = d.as_secs().unsigned_abs() / 60;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} t"),
        (h, m) => format!("{h} t {m} min"),
    }
}

/// Time left as a person reads it: "3 t 12 min", "overskredet med 1 t 5 min".
fn time_left(left: SignedDuration) -> String {
    let amount = span(left);
    if left.is_negative() {
        format!("overskredet med {amount}")
    } else {
        format!("{amount} tilbage")
    }
}

pub(super) fn row(item: &Item, now: Timestamp) -> Row {
    let left = item.deadline.duration_since(now);
    // Once assessed, the 24 hours are met (or missed) for good: no countdown.
    let assessed = !item.state.awaits_assessment();
    let urgency = if assessed {
        "vurderet"
    } else if left.is_negative() {
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
    let cpr = crate::access::view::masked(&item.cprs);
    Row {
        reference: item.reference.clone(),
        kind: words::kind_name(item.kind),
        urgency,
        left: if assessed {
            "vurderet".into()
        } else {
            time_left(left)
        },
        deadline: deadline::spoken(item.deadline, now),
        // Akut signals in the text, or a person decided it akut.
        akut: item.akut(),
        since: format!(
            "modtaget for {} siden",
            span(now.duration_since(item.received_at))
        ),
        repeated: item.repeated,
        kvittering,
        cpr: cpr.join(", "),
        sender_check,
        state: match item.forloeb.as_ref().map(|f| forloeb_step(item, f)) {
            // A TRIVSEL+ forløb's next step is what its row waits for (issue 29).
            Some(Step::Answers) => "TRIVSEL+-forløb: venter på ledernes svar",
            Some(Step::List) => "TRIVSEL+-forløb: venter på deltagerlisten",
            Some(Step::Booking) => "TRIVSEL+-forløb: det første møde skal bookes",
            _ => words::state(item.state),
        },
    }
}

/// `GET /koe`: kind, state and page in the address; no search (a CPR must never be in a URL).
pub async fn queue(
    State(state): State<Arc<ApiState>>,
    Query(mut f): Query<Filters>,
    SignedIn(caller): SignedIn,
) -> Response {
    f.q.clear();
    render(&state, &caller, &f).await
}

/// `POST /koe`: the filter form, with a search by reference or CPR in the body (a CPR is
/// found through the blind index; the search is audited with its criteria).
pub async fn search(
    State(state): State<Arc<ApiState>>,
    Posted(caller, f): Posted<Filters>,
) -> Response {
    render(&state, &caller, &f).await
}

impl Filters {
    /// Whether a filter beyond the search was given (a date that cannot be read too).
    fn narrowed(&self) -> bool {
        [&self.art, &self.tilstand, &self.kanal, &self.fra, &self.til]
            .iter()
            .any(|v| !v.trim().is_empty())
    }
}

async fn render(state: &ApiState, caller: &Caller, f: &Filters) -> Response {
    let (desk, doegnvagt, desk_name) = desk_of(caller);
    let kind = Kind::parse(&f.art).filter(|k| desk.contains(k));
    let channel = Channel::parse(&f.kanal);
    let q = f.q.trim().to_ascii_uppercase();
    let cpr = Cpr::parse(&q);
    // Not a CPR: a reference (or part of one), or the child's name (issue 29).
    let name = Some(f.q.trim().to_string()).filter(|n| cpr.is_none() && !n.is_empty());
    let all_open = f.tilstand == "alle";
    let in_forloeb = f.tilstand == "forloeb";
    // Done with (routed or closed) and not yet filed in the case system (issue 31).
    let unfiled = f.tilstand == "ikke_journaliseret";
    let event = listed(
        caller,
        f,
        (kind, channel),
        (&cpr, &q),
        (all_open, in_forloeb),
    );
    if let Err(e) = audit(state, event).await {
        return e.into_response();
    }
    let (date_error, from, to) = received_range(f);

    // Filter, sort and page on the summaries in clear; decrypt only the page's rows.
    let store = state.app.store.clone();
    let digits = cpr.as_ref().map(|c| c.digits().to_string());
    let found = blocking(move || {
        let refs = match (digits, name) {
            (Some(d), _) => Some(store.items_for_cpr(&d)?),
            (None, Some(n)) => Some(store.items_for_child_name(&n)?),
            (None, None) => None,
        };
        Ok::<_, modtag_storage::StoreError>((store.summaries_by_reference()?, refs))
    })
    .await;
    let (summaries, found_refs) = match found {
        Ok(found) => found,
        Err(e) => return storage_trouble(e),
    };
    // A search (by CPR or reference) finds closed intakes too: the child's earlier ones
    // (issue 29).
    let searching = !q.is_empty();
    let mut mine: Vec<(String, ItemSummary)> = summaries
        .into_iter()
        .filter(|(_, s)| (searching || unfiled || s.state.is_open()) && desk.contains(&s.kind))
        .filter(|(_, s)| !doegnvagt || (s.doegnvagt && awaiting(s.state)))
        .filter(|(_, s)| match in_forloeb {
            _ if unfiled => !s.journalised && done(s.state),
            true => s.step_due.is_some(),
            // What waits for the desk: an assessment, or a forløb's next step (Journalen's
            // booking: issue 29).
            false => searching || all_open || awaiting(s.state) || s.step_due.is_some(),
        })
        .filter(|(_, s)| kind.is_none_or(|k| s.kind == k))
        .filter(|(_, s)| channel.is_none_or(|c| s.channel == Some(c)))
        .filter(|(_, s)| from.is_none_or(|t| s.received_at >= t))
        .filter(|(_, s)| to.is_none_or(|t| s.received_at < t))
        .filter(|(r, _)| match (&found_refs, &cpr) {
            (Some(refs), Some(_)) => refs.contains(r),
            (refs, _) => q.is_empty() || r.contains(&q) || refs.iter().flatten().any(|f| f == r),
        })
        .collect();
    let akut_waiting = akut_first(&mut mine);
    let total = mine.len();
    let pages = total.div_ceil(PER_PAGE).max(1);
    let page_no = f.side.unwrap_or(1).clamp(1, pages);
    let shown: Vec<String> = mine
        .into_iter()
        .skip((page_no - 1) * PER_PAGE)
        .take(PER_PAGE)
        .map(|(r, _)| r)
        .collect();
    let store = state.app.store.clone();
    let items = match blocking(move || store.items_by_reference(&shown)).await {
        Ok(items) => items,
        Err(e) => return storage_trouble(e),
    };
    let now = state.now();
    let rows = items.iter().map(|i| row(i, now)).collect();
    let kinds = desk
        .iter()
        .map(|k| (k.as_str(), words::kind_name(*k), Some(*k) == kind))
        .collect();
    let csrf = caller.session.as_ref().map_or("", |s| s.csrf.as_str());
    page(
        StatusCode::OK,
        QueuePage {
            desk: desk_name,
            forloeb_desk: desk.contains(&Kind::Trivselplus),
            csrf,
            rows,
            total,
            page: page_no,
            pages,
            kinds,
            q: if cpr.is_some() { "" } else { f.q.trim() },
            searched_cpr: cpr.is_some(),
            kind: kind.map_or("", |k| k.as_str()),
            all_open,
            in_forloeb,
            unfiled,
            channels: CHANNELS
                .iter()
                .map(|c| (c.as_str(), channel_name(*c), Some(*c) == channel))
                .collect(),
            narrowed: f.narrowed(),
            from: if from.is_some() { f.fra.trim() } else { "" },
            to: if to.is_some() { f.til.trim() } else { "" },
            date_error,
            filter_query: filter_query(kind, &f.tilstand, channel, &f.fra, &f.til, from, to),
            updated: deadline::spoken(now, now),
            akut_waiting,
        }
        .render(),
    )
}

/// Sorts the queue: awaiting akut first, above every deadline (issue 27); then what awaits
/// assessment by its deadline; then the rest ("Alle åbne"). Returns how many akut await.
fn akut_first(mine: &mut [(String, ItemSummary)]) -> usize {
    mine.sort_by_key(|(r, s)| {
        let waiting = awaiting(s.state);
        (!(s.akut && waiting), !waiting, s.deadline, r.clone())
    });
    (mine.iter())
        .filter(|(_, s)| s.akut && awaiting(s.state))
        .count()
}

/// The desk a person's queue shows (the kinds, whether it is the døgnvagt's) and its name.
fn desk_of(caller: &Caller) -> (Vec<Kind>, bool, &'static str) {
    let mut desk = access::desk_kinds(&caller.person);
    // The døgnvagt's queue: what Modtagelsen's closing (or a notice outside office hours)
    // gave it, while it awaits assessment: what it works (`access::view::works`).
    let doegnvagt = caller.person.has("doegnvagt") && desk.is_empty();
    if doegnvagt {
        desk.extend([Kind::Underretning, Kind::Lae165]);
    }
    let desk_name = match (
        desk.contains(&Kind::Underretning),
        desk.contains(&Kind::Trivselplus),
    ) {
        _ if doegnvagt => "Døgnvagten",
        (true, true) => "Modtagelsen og Journalen",
        (true, false) => "Modtagelsen",
        (false, true) => "Journalen",
        (false, false) => "",
    };
    (desk, doegnvagt, desk_name)
}

/// The audit entry of one look at the queue: the filters and the search. The criteria go
/// into the audit entry (encrypted to the auditors), never into a URL.
fn listed(
    caller: &Caller,
    f: &Filters,
    (kind, channel): (Option<Kind>, Option<Channel>),
    (cpr, q): (&Option<Cpr>, &str),
    (all_open, in_forloeb): (bool, bool),
) -> Event {
    let search = match (cpr, q.is_empty()) {
        (Some(c), _) => json!({ "cpr": c.formatted() }),
        (None, false) => json!({ "reference_or_child_name": f.q.trim() }),
        (None, true) => serde_json::Value::Null,
    };
    Event::new(
        EventKind::Listed,
        &caller.actor,
        caller.purpose_or("triage"),
    )
    .details(json!({
        "page": "koe", "kind": kind.map(|k| k.as_str()), "search": search,
        "all_open": all_open, "forloeb": in_forloeb, "state": f.tilstand,
        "channel": channel.map(|c| c.as_str()),
        "from": f.fra.trim(), "to": f.til.trim(),
    }))
}

/// The filters as a query string for the paging links: kind, state, channel and the dates
/// that were read (values from closed lists and digits only; never a search).
fn filter_query(
    kind: Option<Kind>,
    tilstand: &str,
    channel: Option<Channel>,
    fra: &str,
    til: &str,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
) -> String {
    format!(
        "art={}&tilstand={}&kanal={}&fra={}&til={}",
        kind.map_or("", |k| k.as_str()),
        match tilstand {
            "alle" => "alle",
            "forloeb" => "forloeb",
            _ => "",
        },
        channel.map_or("", |c| c.as_str()),
        if from.is_some() { fra.trim() } else { "" },
        if to.is_some() { til.trim() } else { "" },
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

super::session::csrf_field!(Filters);
