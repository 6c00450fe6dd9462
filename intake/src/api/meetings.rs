//! Mailing the school year's statusmøde invitations, for the leader of PPR (who summons
//! them), an administrator, or a private school's leader for her own school (`scope`): one
//! mail per person per meeting, queued in the outbox in one batch with its audit entry and
//! the record of what was sent, under the meeting's stable UID. Sent again, only what
//! changed goes out (`meetings::sending`); `cancel=DATE` cancels that day's meetings.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::series::SentSeries;
use modtag_storage::store::Batch;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::ApiError;
use super::state::ApiState;
use crate::access::Action;
use crate::delivery::compose;

#[derive(Deserialize)]
pub struct Year {
    school_year: i16,
    /// Cancel the meetings on this day (`YYYY-MM-DD`).
    #[serde(default)]
    cancel: Option<jiff::civil::Date>,
}

pub async fn statusmoeder(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Query(q): Query<Year>,
) -> Result<Json<Value>, ApiError> {
    let change = YearChange {
        cancel_day: q.cancel,
        ..YearChange::default()
    };
    Ok(Json(
        send_year(&state, &caller, q.school_year, change).await?,
    ))
}

/// What a sending changes besides mailing what changed: a day or one meeting cancelled, or
/// a meeting marked (or unmarked) as having a forløb about a pupil in udskoling.
#[derive(Default)]
pub struct YearChange {
    pub cancel_day: Option<jiff::civil::Date>,
    pub cancel_uid: Option<String>,
    pub udskoling: Option<(String, bool)>,
    /// A meeting moved to a new local start.
    pub moved: Option<(String, jiff::civil::DateTime)>,
}

/// Whose statusmøder a caller sends: every team's for the leader of PPR and administrators
/// (`None`); a private school's leader only the teams she calls (their slugs); no one
/// else's (`Err`).
pub fn scope(
    cfg: &modtag_config::Loaded,
    caller: &Caller,
) -> Result<Option<Vec<String>>, ApiError> {
    caller.require(Action::SendInvitations)?;
    if caller.person.has("leder_ppr") || caller.person.has("admin") {
        return Ok(None);
    }
    let me = caller.person.directory_id.as_deref();
    let own: Vec<String> = modtag_router::meetings::teams(&cfg.tree, &cfg.directory)
        .into_iter()
        .filter(|t| {
            t.organizer
                .as_ref()
                .is_some_and(|o| Some(o.id.as_str()) == me)
        })
        .map(|t| t.slug)
        .collect();
    match own.is_empty() {
        true => Err(ApiError::Refused(
            axum::http::StatusCode::FORBIDDEN,
            "you call no lederteam's statusmøder".into(),
        )),
        false => Ok(Some(own)),
    }
}

/// The school year running at `now` (it begins in August, in Copenhagen), by the year it
/// begins in.
pub fn running_school_year(now: jiff::Timestamp) -> i16 {
    let today = now.to_zoned(modtag_router::calendar::tz()).date();
    match today.month() >= 8 {
        true => today.year(),
        false => today.year() - 1,
    }
}

/// Whether invitations for `year` may go out at `now`: the running school year, or the
/// next one being planned. Any other is a typo that would summon whole lederteams to
/// meetings years off.
pub fn sendable(year: i16, now: jiff::Timestamp) -> bool {
    let running = running_school_year(now);
    year == running || year == running + 1
}

/// Whether `change` to `year`'s statusmøder is refused at `now` for the year alone: outside
/// the running school year and the next only cancellations go (of meetings sent, which
/// `send_year` checks). The API's and the page's one check.
pub fn outside_window(year: i16, now: jiff::Timestamp, change: &YearChange) -> bool {
    let cancel_only = change.udskoling.is_none()
        && change.moved.is_none()
        && (change.cancel_day.is_some() || change.cancel_uid.is_some());
    !sendable(year, now) && !cancel_only
}

/// Sends the school year's statusmøder as planned now with `change`, for the leader of PPR
/// or an administrator (or a private school's leader, her own school's only): the API's
/// and the desk's one way (see the module's comment).
pub async fn send_year(
    state: &ApiState,
    caller: &Caller,
    year: i16,
    change: YearChange,
) -> Result<Value, ApiError> {
    let cfg = state.app.policy.cfg();
    // Who may not send at all is told so first, whatever the year.
    let scope = scope(&cfg, caller)?;
    let now = state.now();
    let running = running_school_year(now);
    let refused = move || {
        ApiError::unprocessable(format!(
            "invitations go out for the running school year ({running}) or the next ({}), not {year}",
            running.saturating_add(1)
        ))
    };
    // Another year's meetings may only be cancelled, and only once sent: a series sent for
    // a wrong year must be taken back.
    if outside_window(year, now, &change) {
        return Err(refused());
    }
    let in_window = sendable(year, now);
    let (actor, purpose) = (
        caller.actor.clone(),
        caller.purpose_or("statusmoeder").to_string(),
    );
    state
        .app
        .change(move |store| -> Result<Value, ApiError> {
            let reference = format!("STATUSMOEDER-{year}");
            // One sending of a year at a time: each compares with what the last one kept.
            let _held = store.lock_item(&reference);
            let mut previous = store.series(year)?;
            if !in_window && previous.is_none() {
                return Err(refused());
            }
            one_of_yours(&cfg, year, scope.as_deref(), previous.as_ref(), &change)?;
            if let Some((_, start)) = &change.moved {
                if let Some(why) = crate::meetings::move_refusal(&cfg, year, *start) {
                    return Err(ApiError::unprocessable(why));
                }
            }
            if change.udskoling.is_some() || change.moved.is_some() {
                let s = previous.get_or_insert_with(|| SentSeries {
                    school_year: year,
                    ..SentSeries::default()
                });
                if let Some((uid, marked)) = &change.udskoling {
                    s.udskoling.retain(|u| u != uid);
                    if *marked {
                        s.udskoling.push(uid.clone());
                    }
                }
                if let Some((uid, start)) = &change.moved {
                    s.moved.retain(|(u, _)| u != uid);
                    s.moved.push((uid.clone(), start.to_string()));
                }
            }
            let mut invites = crate::meetings::planned(&cfg, year, previous.as_ref())
                .map_err(ApiError::unprocessable)?;
            // Out of the caller's scope every meeting stays as it was sent.
            let (previous, others) =
                crate::meetings::within(scope.as_deref(), &mut invites, previous);
            let cancel = (change.cancel_day, change.cancel_uid.as_deref());
            let mut plan = match in_window {
                true => {
                    crate::meetings::sending(&cfg.directory, year, &invites, previous, cancel, now)
                }
                // Another year: its meetings as they were sent, and only the cancellation.
                false => crate::meetings::cancel::cancelling(
                    &cfg.directory,
                    previous.unwrap_or_default(),
                    cancel,
                    now,
                ),
            }
            .map_err(ApiError::unprocessable)?;
            plan.series.meetings.extend(others);
            let mut b = Batch::new();
            let mut count = 0;
            for m in &plan.mails {
                let mail = compose::InvitationMail {
                    uid: &m.uid,
                    subject: &m.subject,
                    text: &m.text,
                    ics: &m.ics,
                };
                for (person, email) in &m.to {
                    let to = compose::PlainTo {
                        role: "statusmoede",
                        person,
                        email,
                    };
                    b.outbox(compose::invitation_entry(
                        store, &cfg, &reference, to, &mail, now,
                    )?);
                    count += 1;
                }
            }
            let answer = json!({
                "school_year": year, "meetings": invites.len(), "invitations": count,
                "new": plan.new, "updated": plan.updated, "cancelled": plan.cancelled,
                "unchanged": plan.unchanged, "udskoling": change.udskoling,
                "moved": change.moved.as_ref().map(|(uid, at)| (uid, at.to_string())),
                "cancelled_meeting": change.cancel_uid,
            });
            b.audit(
                Event::new(EventKind::InvitationsSent, &actor, &purpose).details(answer.clone()),
            );
            b.series(plan.series);
            store.commit(b, now)?;
            Ok(answer)
        })
        .await
}

/// A change to one meeting (its udskoling mark, its cancellation) is to a meeting of the
/// caller's teams that was sent and is not cancelled: never another team's, never a UID
/// made up, and never a whole year mailed as its side effect.
fn one_of_yours(
    cfg: &modtag_config::Loaded,
    year: i16,
    scope: Option<&[String]>,
    previous: Option<&SentSeries>,
    change: &YearChange,
) -> Result<(), ApiError> {
    let target = (change.udskoling.as_ref().map(|(uid, _)| uid))
        .or(change.cancel_uid.as_ref())
        .or(change.moved.as_ref().map(|(uid, _)| uid));
    let Some(uid) = target else {
        return Ok(());
    };
    let mut mine =
        crate::meetings::planned(cfg, year, previous).map_err(ApiError::unprocessable)?;
    crate::meetings::within(scope, &mut mine, None);
    use crate::meetings::Standing;
    match mine
        .iter()
        .find(|i| &i.uid == uid)
        .map(|i| crate::meetings::standing(i, previous))
    {
        Some(Standing::Sent | Standing::Changed) => Ok(()),
        Some(Standing::NotSent) => Err(ApiError::unprocessable(
            "send the school year's invitations before changing one meeting",
        )),
        Some(Standing::Cancelled) => Err(ApiError::unprocessable("that statusmøde is cancelled")),
        None => Err(ApiError::unprocessable(format!(
            "no statusmøde {uid} of yours in the school year {year}/{}",
            year + 1
        ))),
    }
}
