//! `modtag cases import|export|overgang`.

use anyhow::{Context, Result};
use modtag_intake::api::types::{CaseRow, ImportCounts};

use super::client::urlencode;
use super::Ctx;
use crate::cli::CasesCommand;
use crate::render;

pub async fn run(ctx: &Ctx<'_>, command: &CasesCommand) -> Result<()> {
    match command {
        CasesCommand::Export { format } => {
            let path = format!("/api/v1/cases/export?format={}", urlencode(format));
            if format == "json" {
                let rows: Vec<CaseRow> = ctx.api()?.get(&path).await?;
                render::json(&rows);
            } else {
                // CSV as the daemon writes it, which `cases import` reads back.
                let bytes = ctx.api()?.call_raw("GET", &path, None).await?;
                use std::io::Write as _;
                std::io::stdout().write_all(&bytes)?;
            }
        }
        CasesCommand::Import { file, json } => {
            let text =
                std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let content_type = if file.extension().is_some_and(|e| e == "json") {
                "application/json"
            } else {
                "text/csv"
            };
            let counts: ImportCounts = ctx
                .api()?
                .post_file("/api/v1/cases/import", Some((text, content_type)))
                .await
                .with_context(|| format!("{}: import refused", file.display()))?;
            if *json {
                render::json(&counts);
            } else {
                println!(
                    "{}: {} added, {} updated, {} unchanged",
                    file.display(),
                    counts.added,
                    counts.updated,
                    counts.unchanged
                );
            }
        }
        CasesCommand::Overgang(a) => overgang(ctx, a).await?,
    }
    Ok(())
}

async fn overgang(ctx: &Ctx<'_>, a: &crate::cli::OvergangArgs) -> Result<()> {
    use modtag_intake::workflow::overgang::{Activated, ConsentInput, OvergangInput};
    let consent = |by: &Option<String>, how: &Option<String>| {
        by.as_ref().map(|by| ConsentInput {
            given_by: by.clone(),
            how: how.clone().unwrap_or_default(),
            at: None,
        })
    };
    let measures_ended = match &a.measures_ended {
        Some(d) => Some(
            d.parse()
                .with_context(|| format!("--measures-ended {d:?} is not a date (YYYY-MM-DD)"))?,
        ),
        None => None,
    };
    let first_meeting = match &a.first_meeting {
        Some(t) => Some(t.parse().with_context(|| {
            format!("--first-meeting {t:?} is not a local time (YYYY-MM-DDTHH:MM)")
        })?),
        None => None,
    };
    let input = OvergangInput {
        consent: consent(&a.consent_by, &a.consent_how),
        consent_share: consent(&a.share_by, &a.share_how),
        measures_ended,
        first_meeting,
        minutes: a.minutes,
        place: a.place.clone(),
        note: a.note.clone(),
    };
    let path = format!("/api/v1/cases/{}/overgang", urlencode(&a.case_number));
    let done: Activated = ctx.api()?.post(&path, &input).await?;
    if a.json {
        render::json(&done);
    } else {
        println!(
            "{}: overgang to trin 2; first meeting {}; told and invited: {}",
            done.case_number,
            done.first_meeting,
            done.recipients
                .iter()
                .map(|(p, r)| format!("{p} ({r})"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}
