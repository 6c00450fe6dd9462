//! A private institution's TRIVSEL+ forløb in the desk (issue 16, flow 2, steps 3-5): its
//! steps on the item page with who did each and when; the leader's answer with the staff
//! who join (sent on to the institution); and the administration's booking of the first
//! meeting in an allotted slot (`/koe/{reference}/moede`), moved or cancelled there too.
//! Each change is `workflow::forloeb`'s plan, committed with its audit entry under the
//! item's lock, durable before the answer.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use modtag_config::Loaded;
use modtag_router::{deadline, startmoede};
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::forloeb::Participant;
use modtag_storage::records::Item;
use modtag_storage::store::Batch;
use modtag_storage::{Store, StoreError};
use serde::Deserialize;
use serde_json::json;

use super::session::{Posted, SignedIn};
use super::signin::{page, refused, storage_trouble};
use crate::access;
use crate::api::auth::Caller;
use crate::api::state::{audit, load_item, ApiState};
use crate::app::blocking;
use crate::workflow::forloeb::{self, Step};
use crate::workflow::{booking, participants};

/// One step of the forløb as the item page lists it.
pub struct StepLine {
    pub name: &'static str,
    pub status: String,
    pub done: bool,
}

/// The forløb on the item page.
pub struct View {
    pub steps: Vec<StepLine>,
    pub reminders: Vec<String>,
    /// The signed-in person is a leader it waits for (or who may answer again).
    pub may_answer: bool,
    /// Their earlier answer, to change it.
    pub my_staff: String,
    /// The signed-in person works Journalen's desk: the booking is theirs.
    pub may_book: bool,
    pub booked: bool,
}

fn lines(people: &[Participant]) -> String {
    people
        .iter()
        .map(|p| format!("{} <{}>", p.name, p.email))
        .collect::<Vec<_>>()
        .join("\n")
}

/// "ingen medarbejdere" (a leader may have no one to send: issue 29), "2 medarbejder(e)".
fn staff_words(n: usize) -> String {
    match n {
        0 => "ingen medarbejdere".into(),
        n => format!("{n} medarbejder(e)"),
    }
}

fn day(date: jiff::civil::Date) -> String {
    date.strftime("%d.%m.%Y").to_string()
}

pub fn view(cfg: &Loaded, caller: &Caller, item: &Item, now: Timestamp) -> Option<View> {
    let f = item.forloeb.as_ref()?;
    let d = item.decision.as_ref()?;
    let name = |id: &str| {
        cfg.directory
            .person(id)
            .map_or(id.to_string(), |p| p.name.clone())
    };
    let leaders = forloeb::leaders(item);
    let answers: Vec<String> = leaders
        .iter()
        .map(|l| match f.answers.iter().find(|a| &a.person == l) {
            Some(a) => format!(
                "{} svarede {} ({}): {}, sendt til institutionen {}",
                name(l),
                deadline::spoken(a.at, now),
                a.user,
                staff_words(a.staff.len()),
                match item.letters.iter().find(|l| l.outbox_id == a.outbox_id) {
                    Some(l) => crate::words::letters::words(l, crate::words::When::Spoken(now)),
                    None if a.encrypted => "krypteret".into(),
                    None => "kun over TLS".into(),
                }
            ),
            None => format!("venter på {}", name(l)),
        })
        .collect();
    let latest = startmoede::window(&cfg.config.trivsel, item.received_at, now).1;
    let list = match f.lists.last() {
        Some(l) => format!(
            "modtaget {} som {} ({} deltager(e); knyttet ved {})",
            deadline::spoken(l.at, now),
            l.reference,
            l.participants.len(),
            l.linked_by
        ),
        None => "venter på den private leders liste".into(),
    };
    let meeting = match &f.meeting {
        Some(m) if m.cancelled.is_none() => format!(
            "{}-{}, {}; booket af {} {}; {} deltager(e) og den private leder inviteret",
            deadline::local_dated(&m.start),
            &m.end[11..],
            m.place,
            m.booked_by,
            deadline::spoken(m.booked_at, now),
            m.participants.len()
        ),
        Some(m) => format!(
            "mødet {} er aflyst{}; skal bookes igen senest {}",
            deadline::local_dated(&m.start),
            m.cancelled
                .as_ref()
                .map(|c| format!(" af {} {}: {}", c.by, deadline::spoken(c.at, now), c.reason))
                .unwrap_or_default(),
            day(latest)
        ),
        None => format!("skal holdes senest {}", day(latest)),
    };
    let step = forloeb::step(item, f);
    let me = caller.person.directory_id.as_deref();
    Some(View {
        steps: vec![
            StepLine {
                name: "Modtaget af Journalen",
                status: deadline::spoken(item.received_at, now),
                done: true,
            },
            StepLine {
                name: "Videresendt til lederne",
                status: format!(
                    "{} af {}: {}",
                    deadline::spoken(d.at, now),
                    d.actor,
                    leaders
                        .iter()
                        .map(|l| name(l))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                done: true,
            },
            StepLine {
                name: "Ledernes svar med medarbejdere",
                status: answers.join("; "),
                done: step != Step::Answers,
            },
            StepLine {
                name: "Deltagerliste fra den private leder",
                status: list,
                done: !f.lists.is_empty(),
            },
            StepLine {
                name: "Første møde",
                status: meeting,
                done: step == Step::Booked,
            },
        ],
        reminders: f
            .reminders
            .iter()
            .map(|r| {
                format!(
                    "{}: {} påmindet {}",
                    r.step,
                    r.to.join(", "),
                    deadline::spoken(r.at, now)
                )
            })
            .collect(),
        may_answer: me.is_some_and(|me| leaders.iter().any(|l| l == me)),
        my_staff: me
            .and_then(|me| f.answers.iter().find(|a| a.person == me))
            .map(|a| lines(&a.staff))
            .unwrap_or_default(),
        may_book: access::view::works(&caller.person, item),
        booked: step == Step::Booked,
    })
}

/// Who may make a change: a leader the forløb waits for, or Journalen.
#[derive(Clone, Copy)]
pub(super) enum Who {
    Leader,
    Journalen,
}

fn allowed(who: Who, person: &access::Person, item: &Item) -> bool {
    item.forloeb.is_some()
        && match who {
            Who::Leader => person
                .directory_id
                .as_ref()
                .is_some_and(|me| forloeb::leaders(item).contains(me)),
            Who::Journalen => access::view::works(person, item),
        }
}

pub(super) fn not_found() -> Response {
    refused(
        StatusCode::NOT_FOUND,
        "Ikke fundet",
        "Der er intet TRIVSEL+-forløb med den reference, som du kan arbejde med.",
    )
}

pub(super) type Plan = Box<
    dyn FnOnce(
            &Store,
            &Loaded,
            &mut Item,
            &mut Batch,
            Timestamp,
        ) -> Result<Result<(), String>, StoreError>
        + Send,
>;

/// The slots other forløb hold (from the clear summaries; nothing is decrypted).
fn taken_slots(store: &Store, except: &str) -> Result<Vec<jiff::civil::DateTime>, StoreError> {
    Ok(store
        .summaries_by_reference()?
        .into_iter()
        .filter(|(r, _)| r != except)
        .filter_map(|(_, s)| s.slot?.parse().ok())
        .collect())
}

/// Loads the item under its lock (and, for a booking, the slot's: two bookings of one slot
/// are taken one after the other, so the second sees the first), checks who may, lets
/// `plan` change it, and commits it with what `plan` queued and audited; `Ok(Err(why))`
/// when the plan refused (nothing is changed), `Err(page)` for no access or storage trouble.
pub(super) async fn change(
    state: &Arc<ApiState>,
    caller: &Caller,
    (reference, slot): (&str, Option<String>),
    who: Who,
    plan: Plan,
) -> Result<Result<(), String>, Response> {
    let (cfg, now) = (state.app.policy.cfg(), state.now());
    let r = reference.to_string();
    let person = caller.person.clone();
    let done = (state.app)
        .change(
            move |store| -> Result<Option<Result<(), String>>, StoreError> {
                let _held = match &slot {
                    Some(slot) => store.lock_booking(&r, slot),
                    None => vec![store.lock_item(&r)],
                };
                let Some(mut item) = store.item(&r)? else {
                    return Ok(None);
                };
                if !allowed(who, &person, &item) {
                    return Ok(None);
                }
                let mut batch = Batch::new();
                let outcome = plan(store, &cfg, &mut item, &mut batch, now)?;
                if outcome.is_ok() {
                    batch.item(item);
                    store.commit(batch, now)?;
                }
                Ok(Some(outcome))
            },
        )
        .await;
    match done {
        Ok(Some(Ok(()))) => Ok(Ok(())),
        Ok(Some(Err(why))) => Ok(Err(why)),
        Ok(None) => Err(not_found()),
        Err(e) => Err(storage_trouble(e)),
    }
}

struct OfferRow {
    value: String,
    label: String,
    refusal: Option<String>,
}

#[derive(Template)]
#[template(path = "moede.html")]
struct BookingPage<'a> {
    csrf: &'a str,
    reference: &'a str,
    received: String,
    latest: String,
    earliest: String,
    notice_days: i64,
    first_meeting_days: i64,
    place: &'a str,
    bookable: Vec<OfferRow>,
    unbookable: Vec<OfferRow>,
    participants: String,
    booked: Option<String>,
    error: Option<String>,
}

async fn booking_page(
    state: &Arc<ApiState>,
    caller: &Caller,
    item: &Item,
    error: Option<(String, String)>,
) -> Response {
    let (store, r) = (state.app.store.clone(), item.reference.clone());
    let taken = match blocking(move || taken_slots(&store, &r)).await {
        Ok(t) => t,
        Err(e) => return storage_trouble(e),
    };
    let (cfg, now) = (state.app.policy.cfg(), state.now());
    let f = &item.forloeb.clone().unwrap_or_default();
    let rules = &cfg.config.trivsel;
    let (earliest, latest) = startmoede::window(rules, item.received_at, now);
    let (bookable, unbookable): (Vec<_>, Vec<_>) = startmoede::offers(
        rules,
        (item.received_at, now),
        &cfg.directory.calendar,
        &taken,
    )
    .into_iter()
    .map(|o| OfferRow {
        value: o.start.strftime("%Y-%m-%dT%H:%M").to_string(),
        label: format!(
            "{} kl. {}-{}",
            o.start.strftime("%A %d.%m.%Y"),
            o.start.strftime("%H:%M"),
            o.end.strftime("%H:%M")
        ),
        refusal: o.refusal,
    })
    .partition(|o| o.refusal.is_none());
    let booked = f
        .meeting
        .as_ref()
        .filter(|m| m.cancelled.is_none())
        .map(|m| {
            format!(
                "{}-{}, {}",
                deadline::local_dated(&m.start),
                &m.end[11..],
                m.place
            )
        });
    let participants = match (&error, &f.meeting) {
        (Some((_, typed)), _) => typed.clone(),
        (None, Some(m)) if m.cancelled.is_none() => lines(&m.participants),
        _ => lines(&forloeb::known_participants(f)),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let csrf = caller.session.as_ref().map_or("", |s| s.csrf.as_str());
    page(
        status,
        BookingPage {
            csrf,
            reference: &item.reference,
            received: deadline::spoken(item.received_at, now),
            latest: day(latest),
            earliest: day(earliest),
            notice_days: rules.notice_days,
            first_meeting_days: rules.first_meeting_days,
            place: &rules.place,
            bookable: danish_days(bookable),
            unbookable: danish_days(unbookable),
            participants,
            booked,
            error: error.map(|(why, _)| why),
        }
        .render(),
    )
}

/// jiff writes English weekday names; the desk speaks Danish.
fn danish_days(rows: Vec<OfferRow>) -> Vec<OfferRow> {
    const DAYS: [(&str, &str); 7] = [
        ("Monday", "mandag"),
        ("Tuesday", "tirsdag"),
        ("Wednesday", "onsdag"),
        ("Thursday", "torsdag"),
        ("Friday", "fredag"),
        ("Saturday", "lørdag"),
        ("Sunday", "søndag"),
    ];
    rows.into_iter()
        .map(|mut r| {
            for (en, da) in DAYS {
                r.label = r.label.replace(en, da);
            }
            r
        })
        .collect()
}

/// The booking page, for Journalen (viewing it is audited: it names the participants).
pub async fn booking(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    SignedIn(caller): SignedIn,
) -> Response {
    let item = match load_item(&state, &reference).await {
        Ok(item) if allowed(Who::Journalen, &caller.person, &item) => item,
        Ok(_) | Err(crate::api::error::ApiError::Refused(StatusCode::NOT_FOUND, _)) => {
            return not_found()
        }
        Err(e) => return e.into_response(),
    };
    let event = Event::new(
        EventKind::Viewed,
        &caller.actor,
        caller.purpose_or("booking"),
    )
    .reference(&reference)
    .details(json!({ "page": "moede" }));
    if let Err(e) = audit(&state, event).await {
        return e.into_response();
    }
    booking_page(&state, &caller, &item, None).await
}

#[derive(Deserialize)]
pub struct BookForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    tid: String,
    #[serde(default)]
    deltagere: String,
    /// "Jeg har bekræftet adresserne": addresses outside the directory and the institution.
    #[serde(default)]
    bekraeft: String,
    /// "Book alligevel": a participant's other modtag meeting at the time does not matter.
    #[serde(default)]
    alligevel: String,
}

/// Books (or moves) the first meeting; a slot that breaks a rule, or a list that cannot
/// be read, gives the page again saying why, with what was typed.
pub async fn book(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    Posted(caller, form): Posted<BookForm>,
) -> Response {
    let checked = match form.tid.parse::<jiff::civil::DateTime>() {
        Err(_) => Err("Vælg en af de udleverede tider.".to_string()),
        Ok(start) => participants::parse_participants(&form.deltagere).map(|p| (start, p)),
    };
    let outcome = match checked {
        Ok((start, people)) => {
            let actor = caller.actor.clone();
            let confirmed = booking::Confirmed {
                addresses: !form.bekraeft.is_empty(),
                clashes: !form.alligevel.is_empty(),
            };
            let plan: Plan = Box::new(move |store, cfg, item, batch, now| {
                let taken = taken_slots(store, &item.reference)?;
                let busy = booking::busy_on(store, cfg, start.date())?;
                booking::book(
                    store,
                    cfg,
                    item,
                    (start, &taken, &busy),
                    (people, confirmed),
                    &actor,
                    batch,
                    now,
                )
            });
            let slot = Some(start.to_string());
            change(&state, &caller, (&reference, slot), Who::Journalen, plan).await
        }
        Err(why) => Ok(Err(why)),
    };
    match outcome {
        Ok(Ok(())) => Redirect::to(&format!("/koe/{reference}#forloeb")).into_response(),
        Ok(Err(why)) => {
            let item = match load_item(&state, &reference).await {
                Ok(item) if allowed(Who::Journalen, &caller.person, &item) => item,
                _ => return not_found(),
            };
            booking_page(&state, &caller, &item, Some((why, form.deltagere))).await
        }
        Err(page) => page,
    }
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    begrundelse: String,
}

pub async fn cancel(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    Posted(caller, form): Posted<CancelForm>,
) -> Response {
    let reason = form.begrundelse.trim().to_string();
    if reason.is_empty() {
        return refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Mødet blev ikke aflyst",
            "Skriv hvorfor mødet aflyses; deltagerne får besked.",
        );
    }
    let actor = caller.actor.clone();
    let plan: Plan = Box::new(move |store, cfg, item, batch, now| {
        booking::cancel(store, cfg, item, &actor, &reason, batch, now)
    });
    match change(&state, &caller, (&reference, None), Who::Journalen, plan).await {
        Ok(Ok(())) => Redirect::to(&format!("/koe/{reference}#forloeb")).into_response(),
        Ok(Err(why)) => refused(StatusCode::CONFLICT, "Mødet blev ikke aflyst", &why),
        Err(page) => page,
    }
}

super::session::csrf_field!(CancelForm, BookForm);
