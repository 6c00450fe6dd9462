//! `modtag outbox failed|retry`.

use anyhow::Result;
use modtag_intake::api::types::{FailedDelivery, Requeued};

use super::Ctx;
use crate::cli::OutboxCommand;
use crate::render;

pub async fn run(ctx: &Ctx<'_>, command: &OutboxCommand) -> Result<()> {
    let api = ctx.api()?;
    match command {
        OutboxCommand::Failed { json } => {
            let failed: Vec<FailedDelivery> = api.get("/api/v1/outbox/failed").await?;
            if *json {
                render::json(&failed);
            } else {
                render::failed_deliveries(&failed);
            }
        }
        OutboxCommand::Retry { ids, all } => {
            let mut ids = ids.clone();
            if *all {
                let failed: Vec<FailedDelivery> = api.get("/api/v1/outbox/failed").await?;
                ids = failed.iter().map(|e| e.id).collect();
            }
            for id in ids {
                let r: Requeued = api
                    .post_file(&format!("/api/v1/outbox/{id}/retry"), None)
                    .await?;
                println!("{id}: queued again ({})", r.reference);
            }
        }
    }
    Ok(())
}
