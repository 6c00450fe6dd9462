//! The `modtag` command. Exit codes: 0 success; 1 failure (the message says what to fix);
//! 2 usage error; 3 the audit log failed verification.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use modtag_intake::client::Api;
use modtag_intake::daemon;
use serde_json::{json, Value};

#[derive(Parser)]
#[command(
    name = "modtag",
    version,
    about = "Secure intake and routing of underretninger and Send sikkert mail"
)]
#[command(
    after_help = "Examples:\n  modtag serve\n  modtag triage list\n  modtag triage decide MT-2026-000001 --actor 'Lene Holm' --trin 4\n  modtag audit verify --data ./modtag-data"
)]
struct Cli {
    /// Data directory of the daemon (keys, database).
    #[arg(
        long,
        global = true,
        env = "MODTAG_DATA",
        default_value = "./modtag-data"
    )]
    data: PathBuf,
    /// API address of a running daemon; found through the data directory when left out.
    #[arg(long, global = true, env = "MODTAG_API")]
    api: Option<String>,
    /// Who is acting, for the audit log.
    #[arg(long, global = true, env = "MODTAG_ACTOR")]
    actor: Option<String>,
    /// Why personal data is used, for the audit log (e.g. vurdering, journalisering); the
    /// daemon records a default per action when left out.
    #[arg(long, global = true, env = "MODTAG_PURPOSE")]
    purpose: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (SMTP and HTTP listeners, outbox).
    #[command(
        after_help = "Examples:\n  modtag serve                       # embedded demo configuration\n  modtag serve --config /etc/modtag/modtag.toml --data /var/lib/modtag"
    )]
    Serve {
        /// Configuration file; the embedded demo default when left out.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Check or print configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The triage queue of a running daemon.
    Triage {
        #[command(subcommand)]
        command: TriageCommand,
    },
    /// The case registry of a running daemon.
    Cases {
        #[command(subcommand)]
        command: CasesCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Routing decisions of the beslutningstræ.
    Route {
        #[command(subcommand)]
        command: RouteCommand,
    },
    /// Reports from the running daemon.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Copies and notices that the relay refused for good.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// List deliveries the relay refused for good (kept, not tried again), with its answer.
    Failed {
        #[arg(long)]
        json: bool,
    },
    /// Queue failed deliveries again, once the address or the relay has been put right.
    #[command(after_help = "Examples:\n  modtag outbox retry 17 18\n  modtag outbox retry --all")]
    Retry {
        /// Outbox ids, as `outbox failed` lists them.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        ids: Vec<u64>,
        /// Every failed delivery.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Were the 24 hours and the 6 hverdage kept? Intakes received FROM..TO (local days).
    #[command(after_help = "Example:\n  modtag report sla --from 2026-11-01 --to 2026-11-30")]
    Sla {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Check a configuration with its directory and beslutningstræ.
    #[command(
        after_help = "Examples:\n  modtag config check                # the embedded default\n  modtag config check modtag.toml"
    )]
    Check { file: Option<PathBuf> },
    /// Print the embedded default configuration, to start your own from.
    #[command(after_help = "Example:\n  modtag config template > modtag.toml")]
    Template,
    /// Make the running daemon read its configuration files again (as SIGHUP does). A set
    /// that fails the check is refused and the running one kept.
    Reload {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum TriageCommand {
    /// List open intakes (CPR masked).
    #[command(
        after_help = "Examples:\n  modtag triage list\n  modtag triage list --channel trivselplus --json"
    )]
    List {
        /// Only this channel: underretning, trivselplus or postfordeling.
        #[arg(long)]
        channel: Option<String>,
        /// Include closed intakes.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show one intake in full (audited as a view).
    Show {
        reference: String,
        #[arg(long)]
        json: bool,
    },
    /// Save one attachment of an intake to a new file (0600), checked against the hash
    /// recorded at intake. Audited. `triage show` lists them, numbered from 0.
    #[command(
        after_help = "Example:\n  modtag triage attachment MT-2026-000001 0 --out bilag.pdf --purpose vurdering"
    )]
    Attachment {
        reference: String,
        index: usize,
        /// A new file to write (an existing one is not overwritten).
        #[arg(long)]
        out: PathBuf,
        /// Also a flagged attachment (outside the allow-list, or not what it claims to be).
        #[arg(long)]
        allow_flagged: bool,
    },
    /// Close an assessed intake (audited, with the reason).
    Close {
        reference: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Record that a task on an intake is done: kvittering (sent by hand), tilbagemelding
    /// (feedback to a professional reporter, or --withhold with a reason if it would harm the
    /// child) or indkald_underretningsmoede.
    #[command(
        after_help = "Examples:\n  modtag triage task MT-2026-000001 kvittering --done\n  modtag triage task MT-2026-000001 tilbagemelding --withhold --reason 'Vil skade barnet'"
    )]
    Task {
        reference: String,
        kind: String,
        #[arg(long, conflicts_with = "withhold")]
        done: bool,
        /// Feedback only: not given, because it would harm the child (needs --reason).
        #[arg(long)]
        withhold: bool,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Correct the kind reading gave an intake (audited, with the reason).
    #[command(
        after_help = "Example:\n  modtag triage kind MT-2026-000003 lae165 --reason 'Lægens brev er en LÆ 165'"
    )]
    Kind {
        reference: String,
        /// underretning, trivselplus, postfordeling or lae165.
        kind: String,
        /// Why, for the audit log and the item's history.
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Record an assessment and route the intake.
    #[command(
        after_help = "Examples:\n  modtag triage decide MT-2026-000001 --actor 'Lene Holm' --trin 4\n  modtag triage decide MT-2026-000002 --actor 'Lene Holm' --trin 2 --consent --consent-by forældre --consent-how mundtligt --area dagtilbud --institution solsikken\n\nTrivselsbarometeret (--trin):\n  0  børn i trivsel: positiv udvikling\n  1  moderat trivsel: perioder med faldende trivsel, begyndende bekymring\n  2  faldende trivsel: tydelige tegn på faldende trivsel\n  3  udsatte trivselspositioner: tydelige tegn på mistrivsel, bekymrende vanskeligheder\n  4  truede trivselspositioner: alvorlig mistrivsel og/eller omsorgssvigt\nTrin 3 og 4 er underretninger til Modtagelsen; trin 0-2 håndteres lokalt med samtykke."
    )]
    Decide {
        reference: String,
        #[command(flatten)]
        decision: DecisionArgs,
        /// Assess an intake that was already decided again, saying why. The earlier decision
        /// is kept; only people the new one adds get a copy.
        #[arg(long, value_name = "REASON")]
        revise: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct DecisionArgs {
    /// The child has an open case (give --case, or rely on the auto-link).
    #[arg(long)]
    existing_case: bool,
    /// Case number of the existing case.
    #[arg(long = "case")]
    case_number: Option<String>,
    /// Trin on the TRIVSEL+ ladder, 0 to 4.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=4))]
    trin: Option<u8>,
    /// Parental (or the young person's) consent is recorded.
    #[arg(long)]
    consent: bool,
    /// dagpleje, dagtilbud, skole, privat_dagtilbud or privat_skole.
    #[arg(long)]
    area: Option<String>,
    /// Directory id of the child's institution.
    #[arg(long)]
    institution: Option<String>,
    #[arg(long)]
    akut: bool,
    #[arg(long)]
    out_of_hours: bool,
    #[arg(long)]
    udskoling: bool,
    #[arg(long, default_value = "")]
    note: String,
    /// With --consent: who gave it (forældre, mor, far, den unge ...).
    #[arg(long)]
    consent_by: Option<String>,
    /// With --consent: how (skriftligt, mundtligt, digitalt ...).
    #[arg(long)]
    consent_how: Option<String>,
    /// With --consent: when it was given (RFC 3339); now when left out.
    #[arg(long)]
    consent_at: Option<String>,
    /// With --consent: to what (default: contact with the lokal leder / Børneskolerådgivere).
    #[arg(long)]
    consent_scope: Option<String>,
}

#[derive(Subcommand)]
enum CasesCommand {
    /// Load or refresh cases from a CSV file (header: case_number,cpr,child_name,raadgiver,area,institution,status)
    /// or a JSON array of objects with those keys (a file ending in .json). All or nothing.
    #[command(
        after_help = "Examples:\n  modtag cases import sager.csv\n  modtag cases import sager.json"
    )]
    Import {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Write the case registry to stdout (CPR and names included; audited as an export).
    #[command(after_help = "Example:\n  modtag cases export --format csv > sager.csv")]
    Export {
        /// csv (the import's format) or json.
        #[arg(long, default_value = "csv")]
        format: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the audit log of a stopped daemon's data directory (or a copy): the chain, the
    /// Merkle tree, every stored checkpoint, and checkpoints kept elsewhere (which today's
    /// log must extend: a truncated or rolled-back log fails). Needs no secret key.
    #[command(
        after_help = "Examples:\n  modtag audit verify --data /backup/modtag-data\n  modtag audit verify --checkpoint kept-by-the-auditors.txt --key checkpoint.pub"
    )]
    Verify {
        /// A signed checkpoint kept outside the server (repeatable).
        #[arg(long)]
        checkpoint: Vec<PathBuf>,
        /// The checkpoint public key (hex); the data directory's checkpoint.pub by default.
        #[arg(long)]
        key: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Print the latest signed checkpoint (C2SP tlog-checkpoint).
    Checkpoint,
    /// An RFC 9162 inclusion proof that entry SEQ is in the log.
    Prove {
        seq: u64,
        #[arg(long)]
        json: bool,
    },
    /// Decrypt and list entries, for auditors (needs the auditors' secret key).
    #[command(
        after_help = "Example:\n  modtag audit read --key auditor.key.asc --from 2026-11-01 --kind viewed --reference MT-2026-000001"
    )]
    Read {
        /// The auditors' armored secret key (a 0600 file).
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        reference: Option<String>,
        /// Only entries about intakes naming this CPR (found through the blind index).
        #[arg(long)]
        cpr: Option<String>,
    },
    /// The dates and purposes of every use of one person's data (a data subject's access
    /// request); employees are named only with --with-employees.
    SubjectAccess {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        cpr: String,
        #[arg(long)]
        with_employees: bool,
    },
}

#[derive(Subcommand)]
enum RouteCommand {
    /// Show whom the beslutningstræ would route a set of facts to, and why.
    #[command(
        after_help = "Example:\n  echo '{\"kind\":\"underretning\",\"trin\":2,\"area\":\"skole\",\"consent\":true}' > facts.json\n  modtag route explain facts.json"
    )]
    Explain {
        facts: PathBuf,
        /// Configuration whose tree and directory to use; the embedded default when left out.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Replay the running daemon's stored decisions against a candidate tree and list every
    /// intake whose recipients would change.
    #[command(
        after_help = "Example:\n  modtag route simulate --tree ny-beslutningstrae.toml --from 2026-11-01"
    )]
    Simulate {
        /// The candidate beslutningstræ (checked against the running directory).
        #[arg(long)]
        tree: PathBuf,
        /// Only decisions from this day on (YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// A failed audit verification, which has its own exit code.
#[derive(Debug)]
struct IntegrityFailure(String);
impl std::fmt::Display for IntegrityFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for IntegrityFailure {}

/// glibc's malloc hands blocks over 128 KiB back to the kernel when they are freed (and
/// trims heap tops over twice that), so every 500 KB message faulted in fresh zeroed pages
/// for each of its buffers: the largest single cost of intake at 500 KB. Messages up to
/// 8 MiB now reuse freed memory (larger ones still go straight back to the kernel), a heap
/// keeps at most 32 MiB free at its top, and there is one heap per core rather than eight,
/// which keeps the memory held that way small (measured in BENCHMARKS.md).
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        // SAFETY: mallopt only sets allocator parameters; no other thread runs yet.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 8 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_ARENA_MAX, i32::try_from(cores).unwrap_or(2));
        }
    }
}

/// Plaintext of messages exists only in memory, so memory must not reach the disk: no core
/// dump (systemd-coredump or `core_pattern` would write one on a crash), and not dumpable
/// (which also keeps other processes of the same user from attaching a debugger or reading
/// `/proc/PID/mem`). Swap is the operator's part: see README.
fn no_core_dumps() {
    #[cfg(target_os = "linux")]
    {
        let zero = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain system calls on this process with valid arguments; no memory is
        // shared with them beyond `zero`, which outlives the call.
        let (limit, dumpable) = unsafe {
            (
                libc::setrlimit(libc::RLIMIT_CORE, &zero),
                libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0),
            )
        };
        if limit != 0 || dumpable != 0 {
            eprintln!("modtag: warning: could not turn off core dumps");
        }
    }
}

fn main() -> ExitCode {
    no_core_dumps();
    tune_malloc();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MODTAG_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
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
    match rt.block_on(run(cli)) {
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

fn actor(cli: &Cli) -> String {
    cli.actor
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "cli".into())
}

fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

async fn run(cli: Cli) -> Result<()> {
    let who = actor(&cli);
    let api = || Api::connect(&cli.data, cli.api.as_deref(), &who, cli.purpose.as_deref());
    match &cli.command {
        Command::Serve { config } => daemon::serve(config.clone(), cli.data.clone()).await,
        Command::Config {
            command: ConfigCommand::Check { file },
        } => {
            let loaded = daemon::load_config(file.as_deref())?;
            // The decryption key is a secret the config crate never reads: check it here.
            modtag_intake::understand::Reader::new(&loaded)?;
            println!(
                "{}: ok ({} people, {} institutions, {} rules, tree {})",
                loaded.origin,
                loaded.directory.people.len(),
                loaded.directory.institutions.len(),
                loaded.tree.rules.len(),
                &loaded.tree.hash[..12]
            );
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Reload { json },
        } => {
            let v = api()?.call("POST", "/api/v1/config/reload", None).await?;
            if *json {
                print_json(&v);
            } else {
                println!(
                    "reloaded: tree {} (was {}), {} people, {} institutions, {} rules",
                    &compact(&v["tree_hash"])[..12],
                    &compact(&v["previous_tree_hash"])[..12],
                    v["people"],
                    v["institutions"],
                    v["rules"]
                );
                if let Some(r) = v["restart_needed"].as_array().filter(|r| !r.is_empty()) {
                    println!(
                        "restart modtag for changes to {} to take effect",
                        r.iter().map(compact).collect::<Vec<_>>().join(", ")
                    );
                }
            }
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Template,
        } => {
            print!("{}", modtag_config::embedded::main_config());
            Ok(())
        }
        Command::Triage {
            command: TriageCommand::List { channel, all, json },
        } => {
            let mut path = format!("/api/v1/triage?all={all}");
            if let Some(c) = channel {
                path.push_str(&format!("&channel={c}"));
            }
            let v = api()?.call("GET", &path, None).await?;
            if *json {
                print_json(&v);
            } else {
                print_list(&v);
            }
            Ok(())
        }
        Command::Triage {
            command: TriageCommand::Show { reference, json },
        } => {
            let v = api()?
                .call("GET", &format!("/api/v1/triage/{reference}"), None)
                .await?;
            if *json {
                print_json(&v);
            } else {
                print_item(&v);
            }
            Ok(())
        }
        Command::Triage {
            command:
                TriageCommand::Attachment {
                    reference,
                    index,
                    out,
                    allow_flagged,
                },
        } => {
            // The file first: nothing is read (and audited) for a file that cannot be made.
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let query = if *allow_flagged {
                "?allow_flagged=true"
            } else {
                ""
            };
            let fetched = api()?
                .call_raw(
                    "GET",
                    &format!("/api/v1/triage/{reference}/attachments/{index}{query}"),
                    None,
                )
                .await;
            let written = fetched.and_then(|bytes| {
                file.write_all(&bytes)
                    .and_then(|()| file.sync_all())
                    .with_context(|| format!("cannot write {}", out.display()))
                    .map(|()| bytes.len())
            });
            match written {
                Ok(n) => println!(
                    "{reference}: attachment {index} saved to {} ({n} bytes)",
                    out.display()
                ),
                Err(e) => {
                    let _ = std::fs::remove_file(out);
                    return Err(e);
                }
            }
            Ok(())
        }
        Command::Triage {
            command:
                TriageCommand::Close {
                    reference,
                    reason,
                    json,
                },
        } => {
            let body = json!({ "reason": reason });
            let v = api()?
                .call(
                    "POST",
                    &format!("/api/v1/triage/{reference}/close"),
                    Some((serde_json::to_vec(&body)?, "application/json")),
                )
                .await?;
            if *json {
                print_json(&v);
            } else {
                println!("{reference}: closed");
            }
            Ok(())
        }
        Command::Triage {
            command:
                TriageCommand::Task {
                    reference,
                    kind,
                    done,
                    withhold,
                    reason,
                    json,
                },
        } => {
            if !done && !withhold {
                anyhow::bail!(
                    "say --done, or --withhold --reason R for feedback that would harm the child"
                );
            }
            let body = json!({
                "kind": kind,
                "outcome": if *withhold { "withheld" } else { "done" },
                "reason": reason,
            });
            let v = api()?
                .call(
                    "POST",
                    &format!("/api/v1/triage/{reference}/task"),
                    Some((serde_json::to_vec(&body)?, "application/json")),
                )
                .await?;
            if *json {
                print_json(&v);
            } else {
                println!("{reference}: {kind} {}", compact(&v["outcome"]));
            }
            Ok(())
        }
        Command::Triage {
            command:
                TriageCommand::Kind {
                    reference,
                    kind,
                    reason,
                    json,
                },
        } => {
            let body = json!({ "kind": kind, "reason": reason });
            let v = api()?
                .call(
                    "POST",
                    &format!("/api/v1/triage/{reference}/kind"),
                    Some((serde_json::to_vec(&body)?, "application/json")),
                )
                .await?;
            if *json {
                print_json(&v);
            } else {
                println!(
                    "{reference}: kind {} → {}",
                    compact(&v["from"]),
                    compact(&v["kind"])
                );
            }
            Ok(())
        }
        Command::Triage {
            command:
                TriageCommand::Decide {
                    reference,
                    decision: d,
                    revise,
                    json,
                },
        } => {
            let body = json!({
                "actor": who, "existing_case": d.existing_case, "case_number": d.case_number,
                "trin": d.trin, "consent": d.consent, "area": d.area, "institution": d.institution,
                "akut": d.akut, "out_of_hours": d.out_of_hours, "udskoling": d.udskoling, "note": d.note,
                "consent_by": d.consent_by, "consent_how": d.consent_how, "consent_at": d.consent_at,
                "consent_scope": d.consent_scope, "revise": revise,
            });
            let v = api()?
                .call(
                    "POST",
                    &format!("/api/v1/triage/{reference}/decision"),
                    Some((serde_json::to_vec(&body)?, "application/json")),
                )
                .await?;
            if *json {
                print_json(&v);
            } else {
                print_decision(&v);
            }
            Ok(())
        }
        Command::Cases {
            command: CasesCommand::Export { format },
        } => {
            let v = api()?
                .call(
                    "GET",
                    &format!("/api/v1/cases/export?format={}", urlencode(format)),
                    None,
                )
                .await?;
            match v {
                Value::String(csv) => print!("{csv}"),
                other => print_json(&other),
            }
            Ok(())
        }
        Command::Cases {
            command: CasesCommand::Import { file, json },
        } => {
            let text =
                std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let content_type = if file.extension().is_some_and(|e| e == "json") {
                "application/json"
            } else {
                "text/csv"
            };
            let v = api()?
                .call("POST", "/api/v1/cases/import", Some((text, content_type)))
                .await
                .with_context(|| format!("{}: import refused", file.display()))?;
            if *json {
                print_json(&v);
            } else {
                println!(
                    "{}: {} added, {} updated, {} unchanged",
                    file.display(),
                    v["added"],
                    v["updated"],
                    v["unchanged"]
                );
            }
            Ok(())
        }
        Command::Audit {
            command:
                AuditCommand::Verify {
                    checkpoint,
                    key,
                    json,
                },
        } => {
            let mut notes = Vec::new();
            for f in checkpoint {
                notes.push(
                    std::fs::read_to_string(f)
                        .with_context(|| format!("cannot read {}", f.display()))?,
                );
            }
            let key = match key {
                Some(k) => Some(
                    std::fs::read_to_string(k)
                        .map_err(anyhow::Error::from)
                        .and_then(|t| {
                            modtag_storage::checkpoint::parse_public(&t)
                                .map_err(|e| anyhow::anyhow!(e))
                        })
                        .with_context(|| format!("{}: not a checkpoint public key", k.display()))?,
                ),
                None => None,
            };
            match modtag_storage::store::verify_offline(&cli.data, &notes, key) {
                Ok(report) => {
                    if *json {
                        print_json(
                            &json!({ "ok": true, "entries": report.entries, "head": report.head,
                            "root": report.root, "checkpoints": report.checkpoints,
                            "first": report.first, "last": report.last }),
                        );
                    } else {
                        println!(
                            "audit log ok: {} entries, head {}, tree root {}, {} checkpoint(s) verified{}",
                            report.entries,
                            &report.head[..16],
                            &report.root[..16],
                            report.checkpoints,
                            report.last.map(|l| format!(", last entry {l}")).unwrap_or_default()
                        );
                    }
                    Ok(())
                }
                Err(modtag_storage::store::VerifyError::Broken(b)) => {
                    if *json {
                        print_json(&json!({ "ok": false, "seq": b.seq, "error": b.what }));
                    }
                    Err(IntegrityFailure(format!("{}: {b}", cli.data.display())).into())
                }
                Err(e) => Err(anyhow::anyhow!("{e}")),
            }
        }
        Command::Audit {
            command: AuditCommand::Checkpoint,
        } => match modtag_storage::store::checkpoint_offline(&cli.data) {
            Ok(Some(note)) => {
                print!("{note}");
                Ok(())
            }
            Ok(None) => anyhow::bail!("{}: no checkpoint has been written yet", cli.data.display()),
            Err(e) => Err(anyhow::anyhow!("{e}")),
        },
        Command::Audit {
            command: AuditCommand::Prove { seq, json },
        } => {
            let p = modtag_storage::store::prove_offline(&cli.data, *seq)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if *json {
                print_json(&json!(p));
            } else {
                println!(
                    "entry {} is leaf {} of a tree of {}",
                    p.seq, p.leaf_index, p.tree_size
                );
                println!("leaf hash  {}", p.leaf_hash);
                println!("root hash  {}", p.root_hash);
                for (i, h) in p.inclusion_path.iter().enumerate() {
                    println!("path[{i:>2}]   {h}");
                }
                if let Some(c) = p.checkpoint {
                    println!("\n{c}");
                }
            }
            Ok(())
        }
        Command::Audit {
            command:
                AuditCommand::Read {
                    key,
                    from,
                    to,
                    kind,
                    reference,
                    cpr,
                },
        } => {
            use modtag_intake::audit_cli as a;
            let reads = a::read_all(&cli.data, key)?;
            let mut references = reference.as_ref().map(|r| vec![r.clone()]);
            if let Some(c) = cpr {
                references = Some(a::references_for_cpr(&cli.data, c)?);
            }
            let filter = a::Filter {
                from: from.as_deref().map(a::instant).transpose()?,
                to: to.as_deref().map(a::instant).transpose()?,
                kind: kind.clone(),
                references,
            };
            for r in reads.iter().filter(|r| filter.keeps(r)) {
                println!("{}", a::as_json(r));
            }
            Ok(())
        }
        Command::Audit {
            command:
                AuditCommand::SubjectAccess {
                    key,
                    cpr,
                    with_employees,
                },
        } => {
            use modtag_intake::audit_cli as a;
            let reads = a::read_all(&cli.data, key)?;
            let refs = a::references_for_cpr(&cli.data, cpr)?;
            let uses = a::subject_access(&reads, &refs, *with_employees);
            print_json(&json!({ "intakes": refs.len(), "uses": uses }));
            Ok(())
        }
        Command::Outbox {
            command: OutboxCommand::Failed { json },
        } => {
            let v = api()?.call("GET", "/api/v1/outbox/failed", None).await?;
            if *json {
                print_json(&v);
            } else {
                let list = v.as_array().cloned().unwrap_or_default();
                if list.is_empty() {
                    println!("no failed deliveries");
                }
                for e in list {
                    println!(
                        "{:>6}  {}  {} ({})  {} attempt(s), failed {}\n        {}",
                        e["id"],
                        e["reference"].as_str().unwrap_or(""),
                        e["role"].as_str().unwrap_or(""),
                        e["person"].as_str().unwrap_or(""),
                        e["attempts"],
                        e["failed"].as_str().unwrap_or(""),
                        e["error"].as_str().unwrap_or(""),
                    );
                }
            }
            Ok(())
        }
        Command::Outbox {
            command: OutboxCommand::Retry { ids, all },
        } => {
            let client = api()?;
            let mut ids = ids.clone();
            if *all {
                let v = client.call("GET", "/api/v1/outbox/failed", None).await?;
                ids = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e["id"].as_u64())
                    .collect();
            }
            for id in ids {
                let v = client
                    .call("POST", &format!("/api/v1/outbox/{id}/retry"), None)
                    .await?;
                println!(
                    "{id}: queued again ({})",
                    v["reference"].as_str().unwrap_or("")
                );
            }
            Ok(())
        }
        Command::Report {
            command: ReportCommand::Sla { from, to, json },
        } => {
            let v = api()?
                .call(
                    "GET",
                    &format!(
                        "/api/v1/report/sla?from={}&to={}",
                        urlencode(from),
                        urlencode(to)
                    ),
                    None,
                )
                .await?;
            if *json {
                print_json(&v);
            } else {
                println!("intakes received {from} to {to}: {}", v["intakes"]);
                for (kind, n) in v["by_kind"].as_object().into_iter().flatten() {
                    println!("  {kind:<14} {n}");
                }
                let share = v["share_within_deadline"]
                    .as_f64()
                    .map(|s| format!("{:.1} %", s * 100.0))
                    .unwrap_or_else(|| "-".into());
                println!(
                    "assessed: {} ({} within the deadline: {share}); median {} min, p95 {} min",
                    v["assessed"],
                    v["assessed_within_deadline"],
                    compact(&v["median_minutes_to_assessment"]),
                    compact(&v["p95_minutes_to_assessment"])
                );
                println!("overdue now (not assessed): {}", v["overdue_now"]);
                println!(
                    "kvitteringer: {} owed, {} on time, {} pending",
                    v["kvitteringer_owed"], v["kvitteringer_on_time"], v["kvitteringer_pending"]
                );
            }
            Ok(())
        }
        Command::Route {
            command: RouteCommand::Simulate { tree, from, json },
        } => {
            let text =
                std::fs::read(tree).with_context(|| format!("cannot read {}", tree.display()))?;
            let mut path = format!(
                "/api/v1/route/simulate?name={}",
                urlencode(&tree.display().to_string())
            );
            if let Some(f) = from {
                path.push_str(&format!("&from={}", urlencode(f)));
            }
            let v = api()?
                .call("POST", &path, Some((text, "application/toml")))
                .await?;
            if *json {
                print_json(&v);
            } else {
                let changes = v["changes"].as_array().cloned().unwrap_or_default();
                println!(
                    "{} decisions replayed with {} (running: {}); {} would change",
                    v["replayed"],
                    &compact(&v["candidate_tree_hash"])[..12],
                    &compact(&v["current_tree_hash"])[..12],
                    changes.len()
                );
                for c in changes {
                    let list = |k: &str| {
                        c[k].as_array()
                            .map(|a| a.iter().map(compact).collect::<Vec<_>>().join(", "))
                            .unwrap_or_default()
                    };
                    println!(
                        "{} (decided {})",
                        compact(&c["reference"]),
                        compact(&c["decided_at"])
                    );
                    println!("    now:       {}", list("before"));
                    println!("    candidate: {}", list("after"));
                }
            }
            Ok(())
        }
        Command::Route {
            command:
                RouteCommand::Explain {
                    facts,
                    config,
                    json,
                },
        } => {
            let loaded = daemon::load_config(config.as_deref())?;
            let f = modtag_intake::explain::read_facts(facts)?;
            let d = modtag_router::route(&f, &loaded.tree, &loaded.directory);
            let v = modtag_intake::explain::to_json(&d);
            if *json {
                print_json(&v);
            } else {
                print_decision(&v);
            }
            Ok(())
        }
    }
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// The item page: what staff see first, then the message's text, then the transport.
fn print_item(v: &Value) {
    let u = &v["understanding"];
    let line = |k: &str, val: String| println!("{k:>14}: {val}");
    line("reference", compact(&v["reference"]));
    line(
        "kind",
        format!("{} ({})", compact(&v["kind"]), compact(&u["kind_reason"])),
    );
    line("state", compact(&v["state"]));
    line(
        "deadline",
        format!(
            "{}{}",
            compact(&v["deadline_local"]),
            if v["overdue"] == true {
                "  OVERDUE: not assessed within the deadline"
            } else {
                ""
            }
        ),
    );
    if v["repeated"] == true {
        line("GENTAGNE", "gentagne underretninger om samme barn".into());
    }
    for e in v["earlier_intakes"].as_array().into_iter().flatten() {
        line(
            "earlier intake",
            format!(
                "{} {} ({})",
                compact(&e["reference"]),
                compact(&e["received_at"]),
                compact(&e["kind"])
            ),
        );
    }
    if let Some(k) = v["kvittering"].as_object() {
        line(
            "kvittering",
            match k["sent_at"].as_str() {
                Some(at) => format!(
                    "sent {at} by {} (due {})",
                    compact(&k["sent_by"]),
                    compact(&k["due"])
                ),
                None => format!("TO SEND BY HAND by {}", compact(&k["due"])),
            },
        );
    }
    for e in v["earlier_decisions"].as_array().into_iter().flatten() {
        line(
            "replaced",
            format!(
                "trin {} by {} at {}, replaced by {} at {}: {}",
                compact(&e["decision"]["trin"]),
                compact(&e["decision"]["actor"]),
                compact(&e["decision"]["at"]),
                compact(&e["replaced_by"]),
                compact(&e["replaced_at"]),
                compact(&e["reason"])
            ),
        );
    }
    for e in v["escalations"].as_array().into_iter().flatten() {
        line(
            "notified",
            format!(
                "stage {} at {} to {}",
                e["stage"],
                compact(&e["at"]),
                compact(&e["to"])
            ),
        );
    }
    for t in v["tasks"].as_array().into_iter().flatten() {
        line(
            "task",
            format!(
                "{} {}",
                compact(&t["kind"]),
                match t["outcome"].as_str() {
                    Some(o) => format!("{o} by {}", compact(&t["done_by"])),
                    None => "open".into(),
                }
            ),
        );
    }
    if u["akut"].as_array().is_some_and(|a| !a.is_empty()) {
        line(
            "AKUT signals",
            u["akut"]
                .as_array()
                .unwrap()
                .iter()
                .map(compact)
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    line("subject", compact(&v["subject"]));
    line("from", compact(&v["from"]));
    if !u["original"].is_null() {
        let o = &u["original"];
        line("original from", compact(&o["from"]));
        line("original date", compact(&o["date"]));
        line("orig. subject", compact(&o["subject"]));
        line(
            "forwarded by",
            format!(
                "{} (found as {})",
                compact(&o["forwarded_by"]),
                compact(&o["style"])
            ),
        );
    }
    let r = &u["reporter"];
    line(
        "reporter",
        format!(
            "{}: {} ({})",
            compact(&r["kind"]),
            [&r["name"], &r["role"], &r["organisation"], &r["email"]]
                .iter()
                .filter(|x| !x.is_null())
                .map(|x| compact(x))
                .collect::<Vec<_>>()
                .join(", "),
            compact(&r["reason"])
        ),
    );
    line(
        "CPR",
        v["cpr_full"]
            .as_array()
            .map(|a| a.iter().map(compact).collect::<Vec<_>>().join(", "))
            .unwrap_or_default(),
    );
    for c in u["cvrs"].as_array().into_iter().flatten() {
        line(
            "CVR",
            format!(
                "{} ({}{})",
                compact(&c["number"]),
                if c["valid"] == true {
                    "valid"
                } else {
                    "INVALID"
                },
                c["institution"]
                    .as_str()
                    .map(|i| format!(", {i}"))
                    .unwrap_or_default()
            ),
        );
    }
    if let Some(t) = u["trivsel"].as_object() {
        for m in t["matched"].as_array().into_iter().flatten() {
            line(
                "Trivsel+ name",
                format!("{} → {}", compact(&m["written"]), compact(&m["name"])),
            );
        }
        for m in t["unmatched"].as_array().into_iter().flatten() {
            line(
                "NOT MATCHED",
                format!(
                    "{} (for Journalen{})",
                    compact(&m["written"]),
                    m["suggestion"]
                        .as_str()
                        .map(|s| format!("; perhaps {s}?"))
                        .unwrap_or_default()
                ),
            );
        }
    }
    if let Some(p) = u["openpgp"].as_object() {
        line(
            "OpenPGP",
            format!(
                "{}, signature {}{}",
                if p["decrypted"] == true {
                    "decrypted"
                } else {
                    "NOT decrypted"
                },
                compact(&p["signature"]),
                p["signer"]
                    .as_str()
                    .map(|s| format!(" by {s}"))
                    .unwrap_or_default()
            ),
        );
    }
    for a in v["attachment_list"].as_array().into_iter().flatten() {
        line(
            "attachment",
            format!(
                "{} ({}, {} bytes{}{})",
                compact(&a["name"]),
                compact(&a["sniffed_type"]),
                a["size"],
                a["inside"]
                    .as_str()
                    .map(|i| format!(", inside {i}"))
                    .unwrap_or_default(),
                a["flagged"]
                    .as_str()
                    .map(|f| format!("; FLAGGED: {f}, not shown inline"))
                    .unwrap_or_default()
            ),
        );
    }
    for n in u["notes"].as_array().into_iter().flatten() {
        line("note", compact(n));
    }
    if v["parse_error"].is_string() {
        line("could not read", compact(&v["parse_error"]));
    }
    line("case", compact(&v["case_number"]));
    let t = &v["transport"];
    line(
        "transport",
        format!(
            "from {} (HELO {}), TLS {}, {} bytes",
            compact(&t["peer"]),
            compact(&t["helo"]),
            compact(&t["tls"]),
            t["size"]
        ),
    );
    if let Some(a) = t["sender_auth"].as_object() {
        line(
            "sender auth",
            format!(
                "SPF {}, DKIM {}, DMARC {}",
                compact(&a["spf"]),
                compact(&a["dkim"]),
                compact(&a["dmarc"])
            ),
        );
    }
    println!();
    println!("{}", v["text"].as_str().unwrap_or("(no text)"));
}

fn print_list(v: &Value) {
    let items = v["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        println!("no open intakes");
        return;
    }
    println!(
        "{:<9} {:<16} {:<14} {:<13} {:<22} {:<22} {:<20} CPR",
        "", "REFERENCE", "CHANNEL", "KIND", "RECEIVED (UTC)", "DEADLINE (local)", "STATE"
    );
    for i in items {
        let cpr: Vec<String> = i["cpr"]
            .as_array()
            .into_iter()
            .flatten()
            .map(compact)
            .collect();
        // Akut signals and flagged attachments are highlighted, never decided on.
        let marks = format!(
            "{}{}{}",
            if i["overdue"] == true { "LATE" } else { "" },
            if i["akut"] == true { "AKUT" } else { "" },
            if i["flagged_attachments"].as_u64().unwrap_or(0) > 0 {
                "!"
            } else {
                ""
            }
        );
        println!(
            "{:<9} {:<16} {:<14} {:<13} {:<22} {:<22} {:<20} {}",
            marks,
            compact(&i["reference"]),
            compact(&i["channel"]),
            compact(&i["kind"]),
            compact(&i["received_at"]),
            compact(&i["deadline_local"]),
            compact(&i["state"]),
            if cpr.is_empty() {
                "-".into()
            } else {
                cpr.join(" ")
            }
        );
    }
}

fn print_decision(v: &Value) {
    let recipients = v["recipients"].as_array().cloned().unwrap_or_default();
    if recipients.is_empty() {
        println!("No one receives a copy.");
    }
    for r in recipients {
        println!(
            "→ {} ({}) as {}: rule {}: {}",
            compact(&r["person"]),
            compact(&r["email"]),
            compact(&r["role"]),
            compact(&r["rule"]),
            compact(&r["reason"])
        );
    }
    for w in v["withheld"].as_array().into_iter().flatten() {
        println!(
            "✗ {} withheld (rule {}): {}",
            compact(&w["role"]),
            compact(&w["rule"]),
            compact(&w["why"])
        );
    }
    for a in v["actions"].as_array().into_iter().flatten() {
        println!(
            "• action {} (rule {})",
            compact(&a["action"]),
            compact(&a["rule"])
        );
    }
    if let Some(r) = v["refused"].as_str() {
        println!("Not everything was sent: {r}");
    }
}

/// Percent-encodes a query value (file names, dates).
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
