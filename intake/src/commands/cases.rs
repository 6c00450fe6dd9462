//! `modtag cases import|export`.

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
    }
    Ok(())
}
