//! How answers are printed for a person at a terminal (`--json` prints them as they are).
//! The item page and the queue are in [`item`]; the short answers are here.

pub mod item;
mod text;

use text::or_dash;

use modtag_intake::api::types::{DecisionView, FailedDelivery, Reloaded, SimulationView, Sla};
use serde::Serialize;

pub fn json<T: Serialize + ?Sized>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// The first 12 hex digits of a tree hash, as people compare them.
pub fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

pub fn decision(v: &DecisionView) {
    if v.recipients.is_empty() {
        println!("No one receives a copy.");
    }
    for r in &v.recipients {
        println!(
            "→ {} ({}) as {}: rule {}: {}",
            r.person, r.email, r.role, r.rule, r.reason
        );
    }
    for w in &v.withheld {
        println!("✗ {} withheld (rule {}): {}", w.role, w.rule, w.why);
    }
    for a in &v.actions {
        println!("• action {} (rule {})", a.action, a.rule);
    }
    if let Some(r) = &v.refused {
        println!("Not everything was sent: {r}");
    }
}

pub fn reloaded(r: &Reloaded) {
    println!(
        "reloaded: tree {} (was {}), {} people, {} institutions, {} rules",
        short_hash(&r.tree_hash),
        short_hash(&r.previous_tree_hash),
        r.people,
        r.institutions,
        r.rules
    );
    if !r.restart_needed.is_empty() {
        println!(
            "restart modtag for changes to {} to take effect",
            r.restart_needed.join(", ")
        );
    }
}

pub fn sla(s: &Sla) {
    println!("intakes received {} to {}: {}", s.from, s.to, s.intakes);
    for (kind, n) in &s.by_kind {
        println!("  {kind:<14} {n}");
    }
    let share = s
        .share_within_deadline
        .map(|s| format!("{:.1} %", s * 100.0))
        .unwrap_or_else(|| "-".into());
    println!(
        "assessed: {}; median {} min, p95 {} min",
        s.assessed,
        or_dash(&s.median_minutes_to_assessment),
        or_dash(&s.p95_minutes_to_assessment)
    );
    println!(
        "deadlines passed in the period: {}; assessed within the deadline: {} ({share}); \
         still not assessed: {}",
        s.due, s.assessed_on_time, s.overdue_unassessed
    );
    println!("overdue now (not assessed): {}", s.overdue_now);
    println!(
        "kvitteringer: {} owed, {} on time, {} pending",
        s.kvitteringer_owed, s.kvitteringer_on_time, s.kvitteringer_pending
    );
}

pub fn simulation(v: &SimulationView) {
    let sim = &v.simulation;
    println!(
        "{} decisions replayed with {} (running: {}); {} would change",
        sim.replayed,
        short_hash(&sim.candidate_tree_hash),
        short_hash(&v.current_tree_hash),
        sim.changes.len()
    );
    for c in &sim.changes {
        println!("{} (decided {})", c.reference, c.decided_at);
        println!("    now:       {}", c.before.join(", "));
        println!("    candidate: {}", c.after.join(", "));
    }
}

pub fn failed_deliveries(list: &[FailedDelivery]) {
    if list.is_empty() {
        println!("no failed deliveries");
    }
    for e in list {
        println!(
            "{:>6}  {}  {} ({})  {} attempt(s), failed {}\n        {}",
            e.id,
            e.reference,
            e.role,
            e.person,
            e.attempts,
            e.failed.map(|t| t.to_string()).unwrap_or_default(),
            e.error.as_deref().unwrap_or(""),
        );
    }
}
