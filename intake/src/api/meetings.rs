//! Mailing the school year's statusmøde invitations, for the leader of PPR (who summons
//! them) or an administrator: one mail per person per meeting, queued in the outbox in one
//! batch with its audit entry, under the meeting's stable UID (sent again, a calendar
//! updates the same meeting rather than adding one).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::OutboxEntry;
use modtag_storage::store::Batch;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::ApiError;
use super::state::{durable, ApiState};
use crate::access::Action;
use crate::app::blocking;
use crate::delivery::compose;

#[derive(Deserialize)]
pub struct Year {
    school_year: i16,
}

pub async fn statusmoeder(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Query(q): Query<Year>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Action::SendInvitations)?;
    if !(2000..=2100).contains(&q.school_year) {
        return Err(ApiError::bad_request("school_year is a year, e.g. 2027"));
    }
    let cfg = state.app.policy.cfg();
    let now = state.now();
    let invites =
        crate::meetings::statusmoeder(&cfg, q.school_year, now).map_err(ApiError::unprocessable)?;
    let store = state.app.store.clone();
    let (actor, purpose) = (
        caller.actor.clone(),
        caller.purpose_or("statusmoeder").to_string(),
    );
    let year = q.school_year;
    let sent = blocking(move || -> Result<Value, ApiError> {
        let mut b = Batch::new();
        let reference = format!("STATUSMOEDER-{year}");
        let mut count = 0;
        for i in &invites {
            let text = format!(
                "{}\n{} {}-{}\n\nInvitationen er vedhæftet som kalenderaftale.\n",
                i.summary,
                i.start.date(),
                i.start.strftime("%H:%M"),
                i.end.strftime("%H:%M"),
            );
            for (person, email) in &i.to {
                let id = store.next_id()?;
                let message =
                    compose::invitation(&cfg, &i.uid, id, email, &i.summary, &text, &i.ics, now);
                b.outbox(OutboxEntry::new(
                    id,
                    &reference,
                    ("statusmoede", person, email),
                    message,
                    now,
                ));
                count += 1;
            }
        }
        b.audit(
            Event::new(EventKind::InvitationsSent, &actor, &purpose).details(
                json!({ "school_year": year, "meetings": invites.len(), "invitations": count }),
            ),
        );
        store.commit(b, now)?;
        Ok(json!({ "school_year": year, "meetings": invites.len(), "invitations": count }))
    })
    .await?;
    durable(&state).await?;
    state.app.wake.notify_one();
    Ok(Json(sent))
}
