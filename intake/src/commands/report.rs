//! `modtag report sla`.

use anyhow::Result;
use modtag_intake::api::types::Sla;

use super::client::urlencode;
use super::Ctx;
use crate::cli::ReportCommand;
use crate::render;

pub async fn run(ctx: &Ctx<'_>, command: &ReportCommand) -> Result<()> {
    match command {
        ReportCommand::Sla { from, to, json } => {
            let sla: Sla = ctx
                .api()?
                .get(&format!(
                    "/api/v1/report/sla?from={}&to={}",
                    urlencode(from),
                    urlencode(to)
                ))
                .await?;
            if *json {
                render::json(&sla);
            } else {
                render::sla(&sla);
            }
        }
    }
    Ok(())
}
