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
            json,
        } => statusmoeder(*school_year, config.as_deref(), ics.as_deref(), *json)?,
    }
    Ok(())
}

/// The series, printed or as JSON, and written as invitations when asked.
fn statusmoeder(
    year: i16,
    config: Option<&std::path::Path>,
    ics: Option<&std::path::Path>,
    json: bool,
) -> Result<()> {
    use modtag_intake::delivery::ical::{calendar, Invitation, Person};
    use modtag_router::meetings::{school_year, teams};
    let loaded = load_config(config)?;
    let teams = teams(&loaded.tree, &loaded.directory);
    let series = school_year(year, &teams, &loaded.directory.calendar);
    let organizer = loaded
        .directory
        .with_role("leder_ppr")
        .into_iter()
        .next()
        .context("the directory has no leader of PPR (leder_ppr) to summon the statusmøder")?;
    if let Some(dir) = ics {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot make {}", dir.display()))?;
    }
    let mut rows = Vec::new();
    for m in &series {
        let day = m.start.date();
        let uid = format!(
            "statusmoede-{}-{}@{}",
            m.team.slug,
            day.strftime("%Y%m%d"),
            loaded.config.smtp.hostname
        );
        let attendees: Vec<Person> = m
            .team
            .members
            .iter()
            .filter(|p| p.id != organizer.id)
            .map(|p| Person {
                name: &p.name,
                email: &p.email,
            })
            .collect();
        if let Some(dir) = ics {
            let text = calendar(&Invitation {
                uid: &uid,
                sequence: 0,
                cancel: false,
                summary: &format!("Statusmøde: {}", m.team.name),
                description: "Status- og mulighedsmøde (trin 2), indkaldt af lederen af PPR.",
                start: m.start,
                end: m.end,
                organizer: Person {
                    name: &organizer.name,
                    email: &organizer.email,
                },
                attendees: &attendees,
                stamp: jiff::Timestamp::now(),
            });
            let file = dir.join(format!("statusmoede-{}-{}.ics", m.team.slug, day));
            std::fs::write(&file, text)
                .with_context(|| format!("cannot write {}", file.display()))?;
        }
        rows.push(serde_json::json!({
            "team": m.team.name,
            "start": m.start.to_string(),
            "end": m.end.to_string(),
            "uid": uid,
            "attendees": m.team.members.iter().map(|p| &p.id).collect::<Vec<_>>(),
        }));
    }
    if json {
        render::json(&rows);
    } else {
        for m in &series {
            println!(
                "{} {}-{} {}: {}",
                m.start.date(),
                m.start.strftime("%H:%M"),
                m.end.strftime("%H:%M"),
                m.team.name,
                m.team
                    .members
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(())
}
