//! `modtag report sla` and the Prometheus metrics: were the 24 hours and the 6 hverdage
//! kept? Aggregates only; nothing in a report identifies a child or a reporter.

use std::collections::BTreeMap;

use jiff::Timestamp;
use modtag_storage::summary::ItemSummary;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Sla {
    pub from: String,
    pub to: String,
    pub intakes: usize,
    pub by_kind: BTreeMap<String, usize>,
    pub assessed: usize,
    /// Intakes whose deadline passed in the period (and by now), assessed or not: what the
    /// share is of (issue 27: counting only the assessed flattered it to 100 % while two
    /// lay overdue).
    pub due: usize,
    /// Of those, the ones first assessed within their deadline.
    pub assessed_on_time: usize,
    /// Of those, the ones still not assessed.
    pub overdue_unassessed: usize,
    /// `assessed_on_time / due` (0..1); `None` when no deadline passed in the period.
    pub share_within_deadline: Option<f64>,
    pub median_minutes_to_assessment: Option<i64>,
    pub p95_minutes_to_assessment: Option<i64>,
    /// Not assessed and past the deadline now, whenever received (issue 27 review: one
    /// received before the period does not stop being overdue by ageing out of it).
    pub overdue_now: usize,
    pub kvitteringer_owed: usize,
    pub kvitteringer_on_time: usize,
    /// Owed, not sent, and not yet due.
    pub kvitteringer_pending: usize,
}

/// The value at quantile `q` of sorted `v` (nearest rank).
fn quantile(v: &[i64], q: f64) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

/// The figures for intakes received in `[from, to)`, as of `now`, from the items' summaries
/// (nothing is decrypted); the share within the deadline is of the intakes whose deadline
/// passed in `[from, to)` by `now`.
pub fn sla(items: &[ItemSummary], from: Timestamp, to: Timestamp, now: Timestamp) -> Sla {
    let mut s = Sla {
        from: from.to_string(),
        to: to.to_string(),
        ..Sla::default()
    };
    // An intake closed without ever being assessed (a participant list joined to its
    // forløb) owed no assessment: it is not counted either way.
    for item in items.iter().filter(|i| {
        i.deadline >= from
            && i.deadline < to
            && i.deadline <= now
            && (i.first_assessed_at.is_some() || i.state.awaits_assessment())
    }) {
        s.due += 1;
        match item.first_assessed_at {
            Some(at) if at <= item.deadline => s.assessed_on_time += 1,
            Some(_) => {}
            None => s.overdue_unassessed += 1,
        }
    }
    s.overdue_now = items
        .iter()
        .filter(|i| i.state.awaits_assessment() && now > i.deadline)
        .count();
    let mut minutes = Vec::new();
    for item in items
        .iter()
        .filter(|i| i.received_at >= from && i.received_at < to)
    {
        s.intakes += 1;
        *s.by_kind.entry(item.kind.as_str().to_string()).or_default() += 1;
        // The first assessment is the one the 24 hours are about, not a later one.
        if let Some(at) = item.first_assessed_at {
            s.assessed += 1;
            minutes.push((at - item.received_at).get_seconds() / 60);
        }
        if let Some(due) = &item.kvittering_due {
            s.kvitteringer_owed += 1;
            let due = due.parse::<jiff::civil::Date>().ok();
            let due_end = due.map(modtag_router::calendar::end_of_day);
            match (item.kvittering_sent_at, due_end) {
                (Some(sent), Some(end)) if sent <= end => s.kvitteringer_on_time += 1,
                (None, Some(end)) if now <= end => s.kvitteringer_pending += 1,
                _ => {}
            }
        }
    }
    minutes.sort_unstable();
    s.median_minutes_to_assessment = quantile(&minutes, 0.5);
    s.p95_minutes_to_assessment = quantile(&minutes, 0.95);
    s.share_within_deadline = (s.due > 0).then(|| s.assessed_on_time as f64 / s.due as f64);
    s
}

/// The outbox's state for monitoring, read without decrypting any entry.
#[derive(Debug, Default, Clone, Copy)]
pub struct OutboxCounts {
    pub pending: usize,
    pub failed: usize,
    /// Tried at least once and waiting to be tried again.
    pub deferred: usize,
    /// When the oldest of those was queued.
    pub oldest_deferred: Option<Timestamp>,
    /// Due and not readable (a damaged record or message file), put off meanwhile.
    pub unreadable: usize,
}

/// The store's own state for monitoring: what `/readyz` says, as gauges to alert on.
#[derive(Debug, Default, Clone, Copy)]
pub struct StoreHealth {
    /// A write could not be made durable: the store refuses new work until a restart.
    pub refusing_writes: bool,
    /// An erasure whose ring key was not replaced: an older backup still opens it.
    pub ring_key_owed: bool,
}

/// [`StoreHealth`] as Prometheus text.
pub fn health_metrics(h: StoreHealth) -> String {
    let mut out = String::new();
    for (name, help, v) in [
        (
            "modtag_storage_refusing_writes",
            "1 when a write could not be made durable and the store refuses new work until a restart.",
            h.refusing_writes,
        ),
        (
            "modtag_ring_key_owed",
            "1 when an erasure's ring key replacement failed and is still owed.",
            h.ring_key_owed,
        ),
    ] {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}\n",
            u8::from(v)
        ));
    }
    out
}

/// The same figures over all stored intakes, and the outbox's, as Prometheus text (format
/// 0.0.4).
pub fn metrics(items: &[ItemSummary], outbox: OutboxCounts, now: Timestamp) -> String {
    let s = sla(items, Timestamp::MIN, Timestamp::MAX, now);
    let open = items.iter().filter(|i| i.state.is_open()).count();
    let unassessed = items.iter().filter(|i| i.state.awaits_assessment()).count();
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, kind: &str, lines: Vec<(String, String)>| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, value) in lines {
            out.push_str(&format!("{name}{labels} {value}\n"));
        }
    };
    gauge(
        "modtag_intakes_total",
        "Intakes received, by kind.",
        "counter",
        s.by_kind
            .iter()
            .map(|(k, n)| (format!("{{kind=\"{k}\"}}"), n.to_string()))
            .collect(),
    );
    gauge(
        "modtag_items_open",
        "Intakes not closed.",
        "gauge",
        vec![(String::new(), open.to_string())],
    );
    gauge(
        "modtag_items_unassessed",
        "Intakes still owed their 24-hour assessment.",
        "gauge",
        vec![(String::new(), unassessed.to_string())],
    );
    gauge(
        "modtag_items_overdue",
        "Unassessed intakes past their deadline.",
        "gauge",
        vec![(String::new(), s.overdue_now.to_string())],
    );
    gauge(
        "modtag_assessed_total",
        "Intakes assessed.",
        "counter",
        vec![(String::new(), s.assessed.to_string())],
    );
    gauge(
        "modtag_deadlines_passed_total",
        "Intakes whose assessment deadline has passed, assessed or not.",
        "counter",
        vec![(String::new(), s.due.to_string())],
    );
    gauge(
        "modtag_assessed_on_time_total",
        "Of those, intakes first assessed within their deadline.",
        "counter",
        vec![(String::new(), s.assessed_on_time.to_string())],
    );
    gauge(
        "modtag_overdue_unassessed",
        "Of those, intakes still not assessed.",
        "gauge",
        vec![(String::new(), s.overdue_unassessed.to_string())],
    );
    gauge(
        "modtag_assessment_minutes",
        "Minutes from receipt to assessment.",
        "summary",
        [
            ("0.5", s.median_minutes_to_assessment),
            ("0.95", s.p95_minutes_to_assessment),
        ]
        .into_iter()
        .filter_map(|(q, v)| v.map(|v| (format!("{{quantile=\"{q}\"}}"), v.to_string())))
        .collect(),
    );
    gauge(
        "modtag_kvitteringer_owed_total",
        "Kvitteringer owed to named reporters.",
        "counter",
        vec![(String::new(), s.kvitteringer_owed.to_string())],
    );
    gauge(
        "modtag_kvitteringer_on_time_total",
        "Kvitteringer sent within 6 hverdage.",
        "counter",
        vec![(String::new(), s.kvitteringer_on_time.to_string())],
    );
    for (name, help, value) in outbox_gauges(&outbox, now) {
        gauge(name, help, "gauge", vec![(String::new(), value)]);
    }
    out
}

/// The outbox's figures: name, help and value of each gauge.
fn outbox_gauges(
    outbox: &OutboxCounts,
    now: Timestamp,
) -> [(&'static str, &'static str, String); 5] {
    let age = outbox
        .oldest_deferred
        .map_or(0, |t| now.duration_since(t).as_secs().max(0));
    [
        (
            "modtag_outbox_pending",
            "Copies and notices waiting for the relay.",
            outbox.pending.to_string(),
        ),
        (
            "modtag_outbox_deferred",
            "Copies and notices tried and waiting to be tried again (a relay down, say).",
            outbox.deferred.to_string(),
        ),
        (
            "modtag_outbox_oldest_deferred_seconds",
            "Age of the oldest copy or notice still waiting after a failed try (0 when none).",
            age.to_string(),
        ),
        (
            "modtag_outbox_failed",
            "Copies and notices the relay refused for good: kept, not tried again.",
            outbox.failed.to_string(),
        ),
        (
            "modtag_outbox_unreadable",
            "Copies and notices due whose record or message file cannot be read (the log names them).",
            outbox.unreadable.to_string(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn nearest_rank() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), Some(50));
        assert_eq!(quantile(&v, 0.95), Some(95));
        assert_eq!(quantile(&[7], 0.95), Some(7));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
