//! What each verb does: the daemon's API for a running modtag (through [`client::Api`]),
//! the data directory itself for the offline audit commands, the configuration files for
//! `config` and `route explain`. Output goes through `render/`.

mod audit;
mod backup;
mod cases;
pub mod client;
mod config;
mod journal;
mod keys;
mod outbox;
mod report;
mod retention;
mod route;
mod triage;
mod users;

use anyhow::{Context, Result};

use crate::cli::{Cli, Command};
use client::Api;

/// A failed audit verification, which has its own exit code (3).
#[derive(Debug)]
pub struct IntegrityFailure(pub String);

impl std::fmt::Display for IntegrityFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for IntegrityFailure {}

/// How a command reaches the running daemon, made only when it needs to.
pub struct Ctx<'a> {
    pub cli: &'a Cli,
}

impl Ctx<'_> {
    pub fn api(&self) -> Result<Api> {
        Api::connect(
            &self.cli.data,
            self.cli.api.as_deref(),
            self.cli.token_file.as_deref(),
            self.cli.purpose.as_deref(),
        )
    }
}

pub async fn run(cli: Cli) -> Result<()> {
    let ctx = Ctx { cli: &cli };
    match &cli.command {
        Command::Serve { config } => {
            modtag_intake::daemon::serve(config.clone(), cli.data.clone()).await
        }
        Command::Check { config, json } => {
            let checked = modtag_intake::daemon::check(config.clone(), &cli.data)?;
            if *json {
                crate::render::json(&checked);
            } else {
                println!(
                    "{}: {} intakes, {} message files, {} outbox copies, {} audit entries read",
                    cli.data.display(),
                    checked.intakes,
                    checked.messages,
                    checked.outbox,
                    checked.audit_entries
                );
                for p in &checked.problems {
                    println!("problem: {p}");
                }
            }
            match checked.problems.len() {
                0 => Ok(()),
                n => anyhow::bail!(
                    "{n} problem(s) in {}: {}",
                    cli.data.display(),
                    modtag_intake::daemon::WAY_BACK
                ),
            }
        }
        Command::Config { command } => config::run(&ctx, command).await,
        Command::Triage { command } => triage::run(&ctx, command).await,
        Command::Cases { command } => cases::run(&ctx, command).await,
        Command::Audit { command } => audit::run(&ctx, command).await,
        Command::Route { command } => route::run(&ctx, command).await,
        Command::Report { command } => report::run(&ctx, command).await,
        Command::Outbox { command } => outbox::run(&ctx, command).await,
        Command::Users { command } => users::run(&ctx, command).await,
        Command::Backup { command } => backup::run(&ctx, command).await,
        Command::Retention { command } => retention::run(&ctx, command).await,
        Command::Keys { command } => keys::run(&ctx, command).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            use std::io::Write as _;
            let mut cmd = crate::cli::Cli::command();
            // Into a buffer first: clap_complete panics on a write error, and a reader that
            // stops early (`| head`) is no error.
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "modtag", &mut out);
            match std::io::stdout().write_all(&out) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(()),
            }
        }
        Command::Man { dir } => {
            use clap::CommandFactory;
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(crate::cli::Cli::command(), dir)
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
            println!("man pages written to {}", dir.display());
            Ok(())
        }
    }
}
