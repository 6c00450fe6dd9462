//! `modtag route explain|simulate|statusmoeder`.

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
        RouteCommand::Statusmoeder {
            school_year,
            config,
            ics,
            send,
            cancel,
            json,
        } => {
            if *send {
                send_statusmoeder(ctx, *school_year, cancel.as_deref(), *json).await?
            } else {
                statusmoeder(*school_year, config.as_deref(), ics.as_deref(), *json)?
            }
        }
    }
    Ok(())
}

/// The daemon mails the series (only what changed since it last did), or cancels a day.
async fn send_statusmoeder(
    ctx: &Ctx<'_>,
    year: i16,
    cancel: Option<&str>,
    json: bool,
) -> Result<()> {
    let mut path = format!("/api/v1/meetings/statusmoeder?school_year={year}");
    if let Some(day) = cancel {
        let day: jiff::civil::Date = day
            .parse()
            .with_context(|| format!("--cancel {day:?} is not a date (YYYY-MM-DD)"))?;
        path.push_str(&format!("&cancel={day}"));
    }
    let sent: serde_json::Value = ctx.api()?.post(&path, &serde_json::json!({})).await?;
    if json {
        render::json(&sent);
    } else {
        println!(
            "{} invitations queued for the school year {year}/{}: {} new, {} changed, {} cancelled, {} unchanged",
            sent["invitations"],
            year + 1,
            sent["new"],
            sent["updated"],
            sent["cancelled"],
            sent["unchanged"],
        );
    }
    Ok(())
}

/// The series, printed or as JSON, or written as invitations.
fn statusmoeder(
    year: i16,
    config: Option<&std::path::Path>,
    ics: Option<&std::path::Path>,
    json: bool,
) -> Result<()> {
    let loaded = load_config(config)?;
    let invites = modtag_intake::meetings::statusmoeder(&loaded, year, &[])
        .map_err(|e| anyhow::anyhow!(e))?;
    let now = modtag_intake::clock::Clock::system().now();
    if let Some(dir) = ics {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot make {}", dir.display()))?;
        for i in &invites {
            let file = dir.join(format!("statusmoede-{}-{}.ics", i.slug, i.start.date()));
            std::fs::write(&file, i.ics(0, false, now))
                .with_context(|| format!("cannot write {}", file.display()))?;
        }
    }
    if json {
        let rows: Vec<serde_json::Value> = invites
            .iter()
            .map(|i| {
                serde_json::json!({
                    "team": i.team, "start": i.start.to_string(), "end": i.end.to_string(),
                    "uid": i.uid, "attendees": i.members,
                })
            })
            .collect();
        render::json(&rows);
    } else {
        for i in &invites {
            println!(
                "{} {}-{} {}: {}",
                i.start.date(),
                i.start.strftime("%H:%M"),
                i.end.strftime("%H:%M"),
                i.team,
                i.members.join(", ")
            );
        }
    }
    Ok(())
}
