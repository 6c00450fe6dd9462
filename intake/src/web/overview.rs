//! Overblik: the leaders' view of whether the 24 hours are kept, week by week, from the same
//! figures as `modtag report sla` (the items' clear summaries; nothing is decrypted, nothing
//! names a child). The charts are SVG drawn here on the server, each with a table of its
//! numbers beside it for a screen reader; no script. Showing it is audited as the report is.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::summary::ItemSummary;
use modtag_storage::StoreError;
use serde::Deserialize;
use serde_json::json;

use super::session::SignedIn;
use super::signin::{page, storage_trouble, MessagePage};
use crate::access::Action;
use crate::api::state::{audit, ApiState};
use crate::app::blocking;
use crate::report::{sla, Sla};

/// The periods a leader may choose, in weeks; the first is the default.
const PERIODS: [u32; 4] = [12, 4, 26, 52];

/// The chart's frame, in SVG units (the picture scales to the page's width).
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 44.0;

struct Week {
    /// "uge 47"
    name: String,
    /// "16.11.2026"
    monday: String,
    sla: Sla,
}

impl Week {
    // A week in which no deadline passed has no share, one with nothing assessed no times: "–".
    fn share(&self) -> String {
        or_dash(self.sla.share_within_deadline.map(percent))
    }
    fn median(&self) -> String {
        or_dash(self.sla.median_minutes_to_assessment.map(hours))
    }
    fn p95(&self) -> String {
        or_dash(self.sla.p95_minutes_to_assessment.map(hours))
    }
}

/// A bar (and, for the time chart, the 95th percentile's mark above it) in SVG units.
struct Bar {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    /// The week's name under the bar, centred at `mid`.
    mid: f64,
    label: String,
    /// The value above the bar.
    value: String,
    value_y: f64,
    /// The mark of a second value (the 95th percentile), if any.
    mark_y: Option<f64>,
}

struct Tick {
    y: f64,
    label: String,
}

struct Chart {
    bars: Vec<Bar>,
    ticks: Vec<Tick>,
    /// A dashed line the bars are measured against (the 24 hours), with its label.
    line: Option<Tick>,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage<'a> {
    weeks_shown: u32,
    periods: &'a [u32],
    total: Sla,
    total_share: String,
    total_median: String,
    total_p95: String,
    failed_deliveries: usize,
    /// Done with and not yet filed in the case system (issue 31).
    unfiled: usize,
    weeks: Vec<Week>,
    share_chart: Chart,
    time_chart: Chart,
    width: f64,
    height: f64,
    left: f64,
    right_edge: f64,
    axis_y: f64,
}

#[derive(Deserialize)]
pub struct Period {
    uger: Option<u32>,
}

fn or_dash(figure: Option<String>) -> String {
    figure.unwrap_or_else(|| "–".into())
}

/// `0.923` as "92 %".
fn percent(share: f64) -> String {
    format!("{} %", (share * 100.0).round())
}

/// Minutes as hours with a decimal comma: "3,5 t".
fn hours(minutes: i64) -> String {
    format!("{:.1} t", minutes as f64 / 60.0).replace('.', ",")
}

fn local(d: Date) -> String {
    format!("{:02}.{:02}.{}", d.day(), d.month(), d.year())
}

/// The Monday (in Denmark) of the week `now` falls in.
fn this_monday(now: Timestamp) -> Date {
    let today = now.to_zoned(copenhagen()).date();
    today
        .checked_sub((today.weekday().to_monday_zero_offset() as i64).days())
        .unwrap_or(today)
}

fn copenhagen() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get("Europe/Copenhagen").unwrap_or(jiff::tz::TimeZone::UTC)
}

fn start_of(d: Date) -> Timestamp {
    d.to_zoned(copenhagen())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The last `n` weeks up to and including this one, oldest first.
fn weeks(items: &[ItemSummary], n: u32, now: Timestamp) -> Vec<Week> {
    let monday = this_monday(now);
    (0..n as i64)
        .rev()
        .filter_map(|back| {
            let from = monday.checked_sub((7 * back).days()).ok()?;
            let to = from.checked_add(7.days()).ok()?;
            Some(Week {
                name: format!("uge {}", from.iso_week_date().week()),
                monday: local(from),
                sla: sla(items, start_of(from), start_of(to), now),
            })
        })
        .collect()
}

/// Bars for `values` on a scale from 0 to `max`, with `ticks` labelled by `label`.
fn chart(
    weeks: &[Week],
    values: impl Fn(&Week) -> (Option<f64>, Option<f64>, String),
    max: f64,
    ticks: &[f64],
    label: impl Fn(f64) -> String,
) -> Chart {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let y_of = |v: f64| TOP + plot_h * (1.0 - (v / max).clamp(0.0, 1.0));
    let slot = plot_w / weeks.len().max(1) as f64;
    // Long periods show every other or every fourth week's name, so the names do not run
    // into each other.
    let every = (weeks.len() / 13).max(1);
    let bars = weeks
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let (value, mark, text) = values(w);
            let x = LEFT + slot * i as f64 + slot * 0.2;
            let y = value.map_or(y_of(0.0), y_of);
            Bar {
                x,
                y,
                w: slot * 0.6,
                h: y_of(0.0) - y,
                mid: x + slot * 0.3,
                label: if i % every == 0 {
                    w.name.clone()
                } else {
                    String::new()
                },
                value: if weeks.len() <= 13 {
                    text
                } else {
                    String::new()
                },
                value_y: y - 6.0,
                mark_y: mark.map(y_of),
            }
        })
        .collect();
    Chart {
        bars,
        ticks: ticks
            .iter()
            .map(|&t| Tick {
                y: y_of(t),
                label: label(t),
            })
            .collect(),
        line: None,
    }
}

pub async fn overview(
    State(state): State<Arc<ApiState>>,
    Query(period): Query<Period>,
    SignedIn(caller): SignedIn,
) -> Response {
    if caller.require(Action::ReportSla).is_err() {
        return page(
            StatusCode::FORBIDDEN,
            MessagePage {
                title: "Ingen adgang",
                text: "Overblikket ses af Modtagelsens leder, administratorer og revisorer.",
            }
            .render(),
        );
    }
    let n = period
        .uger
        .filter(|n| PERIODS.contains(n))
        .unwrap_or(PERIODS[0]);
    let event = Event::new(
        EventKind::Report,
        &caller.actor,
        caller.purpose_or("sla report"),
    )
    .details(json!({ "report": "overblik", "weeks": n }));
    if let Err(e) = audit(&state, event).await {
        return e.into_response();
    }
    let store = state.app.store.clone();
    let read = blocking(move || Ok::<_, StoreError>((store.summaries()?, store.outbox_failed())));
    let (items, failed_deliveries) = match read.await {
        Ok(r) => r,
        Err(e) => return storage_trouble(e),
    };
    let now = state.now();
    let unfiled = (items.iter())
        .filter(|s| {
            !s.journalised
                && matches!(
                    s.state,
                    modtag_storage::records::ItemState::Routed
                        | modtag_storage::records::ItemState::Closed
                )
        })
        .count();
    let weeks = weeks(&items, n, now);
    let first = weeks
        .first()
        .map_or(now, |w| w.sla.from.parse().unwrap_or(now));
    let total = sla(&items, first, now, now);

    let share_chart = chart(
        &weeks,
        |w| (w.sla.share_within_deadline, None, w.share()),
        1.0,
        &[0.0, 0.25, 0.5, 0.75, 1.0],
        percent,
    );
    // Hours on a scale that always shows the 24-hour line, and the slowest week's p95.
    let slowest = weeks
        .iter()
        .filter_map(|w| w.sla.p95_minutes_to_assessment)
        .max()
        .unwrap_or(0) as f64
        / 60.0;
    let max_h = ((slowest.max(24.0) / 6.0).ceil() * 6.0).max(24.0);
    let step = if max_h > 48.0 { 12.0 } else { 6.0 };
    let ticks: Vec<f64> = (0..)
        .map(|i| i as f64 * step)
        .take_while(|t| *t <= max_h)
        .collect();
    let mut time_chart = chart(
        &weeks,
        |w| {
            let h = |m: Option<i64>| m.map(|m| m as f64 / 60.0);
            (
                h(w.sla.median_minutes_to_assessment),
                h(w.sla.p95_minutes_to_assessment),
                w.median(),
            )
        },
        max_h,
        &ticks,
        |t| format!("{t} t"),
    );
    time_chart.line = Some(Tick {
        y: TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - 24.0 / max_h),
        label: "24 timer".into(),
    });

    page(
        StatusCode::OK,
        OverviewPage {
            weeks_shown: n,
            periods: &PERIODS,
            total_share: or_dash(total.share_within_deadline.map(percent)),
            total_median: or_dash(total.median_minutes_to_assessment.map(hours)),
            total_p95: or_dash(total.p95_minutes_to_assessment.map(hours)),
            total,
            failed_deliveries,
            unfiled,
            weeks,
            share_chart,
            time_chart,
            width: WIDTH,
            height: HEIGHT,
            left: LEFT,
            right_edge: WIDTH - RIGHT,
            axis_y: HEIGHT - BOTTOM,
        }
        .render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_the_danish_way() {
        assert_eq!(percent(0.923), "92 %");
        assert_eq!(hours(210), "3,5 t");
        let monday = this_monday("2026-12-03T10:00:00Z".parse().unwrap());
        assert_eq!(local(monday), "30.11.2026");
        // Sunday evening in Denmark is still the week that began on Monday.
        let sunday = this_monday("2026-12-06T22:30:00Z".parse().unwrap());
        assert_eq!(local(sunday), "30.11.2026");
    }
}
