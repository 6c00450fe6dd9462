//! The school year's statusmøder in the desk (issue 29, trin 2), for the leader of PPR (and
//! administrators; a private school's leader sees and sends her own school's): each lederteam's meetings with who calls and who is summoned, where
//! each stands against what was sent, and the three things done here: send the year (or
//! what changed), mark a meeting as having a forløb about a pupil in udskoling on its
//! agenda (the leaders of UU and fritid are then invited to it, and uninvited when the
//! mark goes), and cancel one meeting. Each is `api::meetings::send_year`, as the API's.
//! The pages name staff only, never a child.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::civil::DateTime;
use serde::Deserialize;

use super::session::{csrf_field, Posted, SignedIn};
use super::signin::{page, storage_trouble, MessagePage};
use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::meetings::{outside_window, running_school_year, send_year, sendable, YearChange};
use crate::api::state::ApiState;
use crate::app::blocking;
use crate::meetings::{planned, standing, Invite, Standing};
use modtag_storage::series::SentSeries;

struct Row {
    uid: String,
    when: String,
    standing: &'static str,
    invited: String,
    udskoling: bool,
    offers_udskoling: bool,
    cancelled: bool,
}

struct TeamView {
    name: String,
    organizer: String,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "statusmoeder.html")]
struct YearPage {
    csrf: String,
    year: i16,
    teams: Vec<TeamView>,
    /// Something was sent for the year already: the meetings may be marked and cancelled.
    sent: bool,
    /// Meetings not sent yet, or changed since.
    pending: usize,
    /// UU and fritid's leaders, in words, for the mark's button.
    udskoling_names: String,
    /// The running school year or the next: invitations may go out (another is only shown).
    sendable: bool,
}

#[derive(Deserialize)]
pub struct YearQuery {
    aar: Option<i16>,
    /// A meeting's UID (the cancellation's confirmation).
    #[serde(default)]
    uid: String,
}

#[derive(Template)]
#[template(path = "statusmoede_aflys.html")]
struct CancelPage {
    csrf: String,
    year: i16,
    uid: String,
    team: String,
    when: String,
    invited: String,
}

fn when(start: DateTime, end: DateTime, now: jiff::Timestamp) -> String {
    let at = start
        .in_tz("Europe/Copenhagen")
        .map_or(start.to_string(), |z| {
            modtag_router::deadline::spoken(z.timestamp(), now)
        });
    format!("{at}-{}", end.strftime("%H:%M"))
}

fn standing_words(s: Standing) -> &'static str {
    match s {
        Standing::NotSent => "ikke sendt",
        Standing::Sent => "sendt",
        Standing::Changed => "ændret, ikke sendt endnu",
        Standing::Cancelled => "aflyst",
    }
}

fn refused(status: StatusCode, text: &str) -> Response {
    let title = "Statusmøder";
    page(status, MessagePage { title, text }.render())
}

/// The school year asked for (by default the one running now), what was sent for it and
/// its meetings as planned now; or the page that says why not.
async fn the_year(
    state: &ApiState,
    caller: &Caller,
    asked: Option<i16>,
) -> Result<(i16, Option<SentSeries>, Vec<Invite>), Response> {
    let cfg = state.app.policy.cfg();
    let Ok(scope) = crate::api::meetings::scope(&cfg, caller) else {
        let why = "Statusmøderne indkaldes af lederen af PPR, en privat skoles af dens egen \
                   leder; siden er deres og administratorernes.";
        return Err(refused(StatusCode::FORBIDDEN, why));
    };
    let year = asked
        .filter(|y| (2000..=2100).contains(y))
        .unwrap_or_else(|| running_school_year(state.now()));
    let store = state.app.store.clone();
    let previous = blocking(move || store.series(year))
        .await
        .map_err(storage_trouble)?;
    match planned(&cfg, year, previous.as_ref()) {
        Ok(mut invites) => {
            // A private school's leader sees her own school's meetings only.
            crate::meetings::within(scope.as_deref(), &mut invites, None);
            Ok((year, previous, invites))
        }
        Err(why) => {
            let text = format!("Statusmøderne kan ikke planlægges: {why}");
            Err(refused(StatusCode::UNPROCESSABLE_ENTITY, &text))
        }
    }
}

fn csrf_of(caller: &Caller) -> String {
    caller
        .session
        .as_ref()
        .map_or(String::new(), |s| s.csrf.clone())
}

/// `GET /statusmoeder?aar=2027`: the school year (by default the one running now).
pub async fn year(
    State(state): State<Arc<ApiState>>,
    Query(q): Query<YearQuery>,
    SignedIn(caller): SignedIn,
) -> Response {
    let (year, previous, invites) = match the_year(&state, &caller, q.aar).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let now = state.now();
    let cfg = state.app.policy.cfg();
    let mut teams: Vec<TeamView> = Vec::new();
    let mut pending = 0;
    for i in &invites {
        let s = standing(i, previous.as_ref());
        pending += usize::from(matches!(s, Standing::NotSent | Standing::Changed));
        let row = row(i, s, now);
        match teams.iter_mut().find(|t| t.name == i.team) {
            Some(t) => t.rows.push(row),
            None => teams.push(TeamView {
                name: i.team.clone(),
                organizer: i.organizer.name.clone(),
                rows: vec![row],
            }),
        }
    }
    let udskoling_names = modtag_router::meetings::teams(&cfg.tree, &cfg.directory)
        .into_iter()
        .flat_map(|t| t.udskoling)
        .map(|m| m.name)
        .fold(Vec::<String>::new(), |mut all, n| {
            if !all.contains(&n) {
                all.push(n);
            }
            all
        })
        .join(" og ");
    let year_page = YearPage {
        csrf: csrf_of(&caller),
        year,
        teams,
        sent: (invites.iter()).any(|i| standing(i, previous.as_ref()) != Standing::NotSent),
        pending,
        udskoling_names,
        sendable: sendable(year, state.now()),
    };
    page(StatusCode::OK, year_page.render())
}

fn row(i: &Invite, s: Standing, now: jiff::Timestamp) -> Row {
    Row {
        uid: i.uid.clone(),
        when: when(i.start, i.end, now),
        standing: standing_words(s),
        invited: (i.attendees.iter())
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        udskoling: i.udskoling,
        offers_udskoling: i.offers_udskoling,
        cancelled: s == Standing::Cancelled,
    }
}

#[derive(Deserialize)]
pub struct Act {
    #[serde(default)]
    csrf: String,
    aar: i16,
    #[serde(default)]
    uid: String,
    /// `ja` or `nej`: the udskoling mark set or taken off.
    #[serde(default)]
    til: String,
    /// A move's new day (`åååå-mm-dd`) and time (`tt:mm`).
    #[serde(default)]
    dag: String,
    #[serde(default)]
    tid: String,
}

csrf_field!(Act);

async fn done(state: &ApiState, caller: &Caller, year: i16, change: YearChange) -> Response {
    // Said here in Danish; one who may not send is told that first (by `send_year`),
    // whatever the year.
    let may = crate::api::meetings::scope(&state.app.policy.cfg(), caller).is_ok();
    let outside = outside_window(year, state.now(), &change);
    if may && (!(2000..=2100).contains(&year) || outside) {
        let (running, year) = (i32::from(running_school_year(state.now())), i32::from(year));
        let text = format!(
            "Intet blev sendt: invitationer sendes for det igangværende skoleår \
             ({running}/{}) og det næste ({}/{}), ikke for {year}/{}.",
            running + 1,
            running + 1,
            running + 2,
            year + 1
        );
        return refused(StatusCode::UNPROCESSABLE_ENTITY, &text);
    }
    match send_year(state, caller, year, change).await {
        Ok(_) => Redirect::to(&format!("/statusmoeder?aar={year}")).into_response(),
        Err(ApiError::Store(e)) => storage_trouble(e),
        Err(ApiError::Refused(StatusCode::FORBIDDEN, _)) => refused(
            StatusCode::FORBIDDEN,
            "Statusmøderne indkaldes af lederen af PPR; intet blev sendt.",
        ),
        Err(ApiError::Refused(status, _)) => refused(
            status,
            "Intet blev sendt: mødet findes ikke i skoleåret, som det er planlagt nu. Åbn \
             siden igen.",
        ),
        Err(e) => e.into_response(),
    }
}

/// `POST /statusmoeder/send`: the year's invitations, or what changed since they went.
pub async fn send(State(state): State<Arc<ApiState>>, Posted(caller, f): Posted<Act>) -> Response {
    done(&state, &caller, f.aar, YearChange::default()).await
}

/// `POST /statusmoeder/udskoling`: a meeting marked (or no longer) as having a forløb
/// about a pupil in udskoling; the leaders of UU and fritid are invited (or uninvited).
pub async fn udskoling(
    State(state): State<Arc<ApiState>>,
    Posted(caller, f): Posted<Act>,
) -> Response {
    let change = YearChange {
        udskoling: Some((f.uid, f.til == "ja")),
        ..YearChange::default()
    };
    done(&state, &caller, f.aar, change).await
}

/// `GET /statusmoeder/aflys?aar=2027&uid=...`: what a cancellation cancels, to confirm.
pub async fn confirm_cancel(
    State(state): State<Arc<ApiState>>,
    Query(q): Query<YearQuery>,
    SignedIn(caller): SignedIn,
) -> Response {
    let (year, previous, invites) = match the_year(&state, &caller, q.aar).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let Some(i) = invites
        .iter()
        .find(|i| i.uid == q.uid && standing(i, previous.as_ref()) != Standing::Cancelled)
    else {
        let why = "Der er intet planlagt møde med den adresse i skoleåret.";
        return refused(StatusCode::NOT_FOUND, why);
    };
    let r = row(i, Standing::Sent, state.now());
    let confirm = CancelPage {
        csrf: csrf_of(&caller),
        year,
        uid: r.uid,
        team: i.team.clone(),
        when: r.when,
        invited: r.invited,
    };
    page(StatusCode::OK, confirm.render())
}

/// `POST /statusmoeder/flyt`: one meeting moved to another day or time; everyone invited
/// gets the update (the same meeting, one SEQUENCE on).
pub async fn move_meeting(
    State(state): State<Arc<ApiState>>,
    Posted(caller, f): Posted<Act>,
) -> Response {
    let start = match (
        f.dag.trim().parse::<jiff::civil::Date>(),
        f.tid.trim().parse::<jiff::civil::Time>(),
    ) {
        (Ok(d), Ok(t)) => DateTime::from_parts(d, t),
        _ => {
            let why = "Skriv den nye dag som åååå-mm-dd og tiden som tt:mm. Intet blev sendt.";
            return refused(StatusCode::UNPROCESSABLE_ENTITY, why);
        }
    };
    if let Some(why) = crate::meetings::move_refusal(&state.app.policy.cfg(), f.aar, start) {
        return refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("{why} Intet blev sendt."),
        );
    }
    let change = YearChange {
        moved: Some((f.uid, start)),
        ..YearChange::default()
    };
    done(&state, &caller, f.aar, change).await
}

/// `POST /statusmoeder/aflys`: one meeting cancelled; everyone invited gets the
/// cancellation.
pub async fn cancel(
    State(state): State<Arc<ApiState>>,
    Posted(caller, f): Posted<Act>,
) -> Response {
    let change = YearChange {
        cancel_uid: Some(f.uid),
        ..YearChange::default()
    };
    done(&state, &caller, f.aar, change).await
}
