//! `modtag route explain|simulate`.

use anyhow::{Context, Result};
use modtag_intake::api::types::{DecisionView, SimulationView};
use modtag_intake::policy::load_config;

use super::client::urlencode;
use super::Ctx;
use crate::cli::RouteCommand;
use crate::render;

pub async fn run(ctx: &Ctx<'_>, command: &RouteCommand) -> Result<()> {
    match command {
        RouteCommand::Explain {
            facts,
            config,
            json,
        } => {
            let loaded = load_config(config.as_deref())?;
            let f = modtag_intake::explain::read_facts(facts)?;
            let d = DecisionView::of(&modtag_router::route(&f, &loaded.tree, &loaded.directory));
            if *json {
                render::json(&d);
            } else {
                render::decision(&d);
            }
        }
        RouteCommand::Simulate { tree, from, json } => {
            let text =
                std::fs::read(tree).with_context(|| format!("cannot read {}", tree.display()))?;
            let mut path = format!(
                "/api/v1/route/simulate?name={}",
                urlencode(&tree.display().to_string())
            );
            if let Some(f) = from {
                path.push_str(&format!("&from={}", urlencode(f)));
            }
            let sim: SimulationView = ctx
                .api()?
                .post_file(&path, Some((text, "application/toml")))
                .await?;
            if *json {
                render::json(&sim);
            } else {
                render::simulation(&sim);
            }
        }
    }
    Ok(())
}
