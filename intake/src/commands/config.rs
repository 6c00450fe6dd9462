//! `modtag config check|template|reload`.

use anyhow::Result;
use modtag_intake::api::types::Reloaded;
use modtag_intake::policy::load_config;

use super::Ctx;
use crate::cli::ConfigCommand;
use crate::render;

pub async fn run(ctx: &Ctx<'_>, command: &ConfigCommand) -> Result<()> {
    match command {
        ConfigCommand::Check { file } => {
            let loaded = load_config(file.as_deref())?;
            // The decryption key is a secret the config crate never reads: check it here,
            // and every other file start-up reads (certificates, keys, metadata).
            modtag_intake::understand::Reader::new(&loaded)?;
            modtag_intake::tls::check_files(&loaded).await?;
            println!(
                "{}: ok ({} people, {} institutions, {} rules, tree {})",
                loaded.origin,
                loaded.directory.people.len(),
                loaded.directory.institutions.len(),
                loaded.tree.rules.len(),
                render::short_hash(&loaded.tree.hash)
            );
        }
        ConfigCommand::Template => print!("{}", modtag_config::embedded::template()),
        ConfigCommand::Reload { json } => {
            let r: Reloaded = ctx.api()?.post_file("/api/v1/config/reload", None).await?;
            if *json {
                render::json(&r);
            } else {
                render::reloaded(&r);
            }
        }
    }
    Ok(())
}
