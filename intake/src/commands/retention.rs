//! `modtag retention run [--dry-run]`.

use anyhow::Result;
use modtag_intake::api::types::RetentionRun;
use modtag_intake::workflow::retention::RetentionReport;

use super::Ctx;
use crate::cli::RetentionCommand;
use crate::render;

pub async fn run(ctx: &Ctx<'_>, command: &RetentionCommand) -> Result<()> {
    let RetentionCommand::Run { dry_run, json } = command;
    let report: RetentionReport = ctx
        .api()?
        .post("/api/v1/retention/run", &RetentionRun { dry_run: *dry_run })
        .await?;
    if *json {
        render::json(&report);
        return owed(&report);
    }
    let verb = if report.dry_run {
        "would erase"
    } else {
        "erased"
    };
    for e in &report.erased {
        println!(
            "{}: {verb} by rule {} (unchanged since {})",
            e.reference, e.rule, e.since
        );
    }
    for e in &report.waiting {
        println!(
            "{}: kept, waiting to be journalised (rule {} requires the record; unchanged since {})",
            e.reference, e.rule, e.since
        );
    }
    let removed = if report.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for id in &report.deliveries_removed {
        println!("outbox {id}: failed delivery {removed}");
    }
    println!(
        "{} intake(s) {verb}, {} waiting to be journalised, {} failed deliveries {removed}{}",
        report.erased.len(),
        report.waiting.len(),
        report.deliveries_removed.len(),
        if report.ring_rotated {
            "; ring key replaced, so no older copy opens"
        } else {
            ""
        }
    );
    owed(&report)
}

/// Done, but not all of it: an operator must look, and the exit status says so too.
fn owed(report: &RetentionReport) -> Result<()> {
    match &report.ring_owed {
        Some(owed) => anyhow::bail!("{owed}"),
        None => Ok(()),
    }
}
