//! The `modtag` command. Exit codes: 0 success; 1 failure (the message says what to fix);
//! 2 usage error; 3 the audit log failed verification.
//!
//! `cli/` holds the clap types, `commands/` what each verb does, `render/` how answers are
//! printed; `hardening` runs first.

mod cli;
mod commands;
mod hardening;
mod render;

use std::process::ExitCode;

use clap::Parser;

use commands::IntegrityFailure;

/// jemalloc rather than glibc's malloc: an intake allocates and frees buffers of many
/// sizes on several threads at once (the listener, the blocking pool, sled's), and glibc's
/// allocator spent a fifth of intake's CPU time at 20 KB (its bins, consolidation and arena
/// locks); with jemalloc a tenth, and a 20 KB message costs about 11 % less CPU (BENCHMARKS.md,
/// "The allocator, and the spool's names"). It also keeps freed large buffers for reuse,
/// which glibc needed `mallopt` thresholds for.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    hardening::no_core_dumps();
    hardening::private_umask();
    hardening::no_library_backtraces();
    // A test build's crash and error injection (FAILPOINTS); nothing in any other build.
    modtag_storage::failpoint::arm_from_env();
    let cli = cli::Cli::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("MODTAG_LOG").unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // One JSON object per line for the kommune's log collector; the human format otherwise.
    // The command line (or MODTAG_LOG_FORMAT) first, then the configuration `serve` reads.
    let json = match (cli.log_format, &cli.command) {
        (Some(f), _) => matches!(f, cli::LogFormat::Json),
        (None, cli::Command::Serve { config: Some(path) }) => {
            modtag_config::operations::peek_log_format(path)
                == Some(modtag_config::operations::LogFormat::Json)
        }
        (None, _) => false,
    };
    if json {
        logs.json().flatten_event(true).init()
    } else {
        logs.init()
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("modtag: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("modtag: {e:#}");
            if e.downcast_ref::<IntegrityFailure>().is_some() {
                ExitCode::from(3)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
