//! The command line, as clap types: noun then verb (`modtag triage decide`). What each
//! verb does is in `commands/`, how its answer is printed in `render/`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod audit;
mod triage;
mod users;

pub use audit::AuditCommand;
pub use triage::{DecisionArgs, TriageCommand};
pub use users::UsersCommand;

/// The version `--version` prints; a test build says it has failpoints (see
/// `modtag_storage::failpoint`).
const VERSION: &str = if modtag_storage::failpoint::BUILT_IN {
    concat!(env!("CARGO_PKG_VERSION"), " (test build with failpoints)")
} else {
    env!("CARGO_PKG_VERSION")
};

#[derive(Parser)]
#[command(
    name = "modtag",
    version = VERSION,
    about = "Secure intake and routing of underretninger and Send sikkert mail"
)]
#[command(
    after_help = "Examples:\n  modtag serve\n  modtag triage list\n  modtag triage decide MT-2026-000001 --trin 4\n  modtag audit verify --data ./modtag-data"
)]
pub struct Cli {
    /// Data directory of the daemon (keys, database).
    #[arg(
        long,
        global = true,
        env = "MODTAG_DATA",
        default_value = "./modtag-data"
    )]
    pub data: PathBuf,
    /// API address of a running daemon (with --token-file). Left out, the command talks to
    /// the daemon over the socket in the data directory, as the account that the
    /// configuration's [cli] accounts maps your operating-system user to.
    #[arg(long, global = true, env = "MODTAG_API")]
    pub api: Option<String>,
    /// A personal API token (a 0600 file; `modtag users token` makes one): act as that
    /// person over HTTP(S), at --api or the address the data directory names. A kommune's
    /// own certificate authority for HTTPS goes in MODTAG_CA_FILE (PEM).
    #[arg(long, global = true, env = "MODTAG_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Why personal data is used, for the audit log (e.g. vurdering, journalisering); the
    /// daemon records a default per action when left out.
    #[arg(long, global = true, env = "MODTAG_PURPOSE")]
    pub purpose: Option<String>,
    /// How log lines are written to standard error: `human`, or `json` (one object per
    /// line, for a log collector). Logs never carry personal data either way. Left out,
    /// `serve` takes `[log] format` from its configuration, and `human` otherwise.
    #[arg(long, global = true, env = "MODTAG_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the daemon (SMTP and HTTP listeners, outbox).
    #[command(
        after_help = "Examples:\n  modtag serve                       # embedded demo configuration\n  modtag serve --config /etc/modtag/modtag.toml --data /var/lib/modtag"
    )]
    Serve {
        /// Configuration file; the embedded demo default when left out.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Check a stopped data directory: every intake decrypts, every message file matches
    /// its hash, every outbox copy's file is there, the audit log verifies.
    #[command(
        after_help = "Examples:\n  modtag check --data /var/lib/modtag --config /etc/modtag/modtag.toml\n  modtag check --data /srv/restored   # a restore, before it serves"
    )]
    Check {
        /// Configuration file (where the keys are kept apart); the embedded demo default
        /// when left out.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
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
    /// Built-in accounts (for an administrator of a running daemon).
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Copies and notices that the relay refused for good.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Backups of the running daemon, checked and restored offline.
    Backup {
        #[command(subcommand)]
        command: BackupCommand,
    },
    /// Retention: erasing intakes and failed deliveries by the `[retention]` rules.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// The keys that open the store, kept apart from the data directory.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Print shell completions (bash, zsh, fish, elvish, powershell) to standard output.
    #[command(
        after_help = "Example:\n  modtag completions bash | sudo tee /usr/share/bash-completion/completions/modtag"
    )]
    Completions { shell: clap_complete::Shell },
    /// Write man pages for modtag and each of its commands into DIR.
    #[command(after_help = "Example:\n  sudo modtag man /usr/local/share/man/man1")]
    Man { dir: PathBuf },
}

#[derive(Subcommand)]
pub enum BackupCommand {
    /// Take a backup of the running daemon into FILE (a new file, 0600) while it takes
    /// mail: every intake acknowledged before it began, the cases, the outbox and the audit
    /// log, encrypted to the store key, with a manifest of hashes. No key that opens an
    /// intake unless --include-keys (then it opens its intakes even after they are erased:
    /// keep the file as you keep the keys, and delete it when retention says they go).
    ///
    /// With --since POSITION, an increment for a standby instead: what changed since the
    /// position the standby holds (`backup restore` and `backup apply` print it), to apply
    /// there with `backup apply`. It holds the current ring key: keep it only until it is
    /// applied.
    #[command(
        after_help = "Examples:\n  modtag backup create /srv/backup/modtag-$(date +%F).mtb\n  modtag backup keyring /srv/keys/modtag.keyring   # after it; keep only the latest\n  modtag backup create /srv/ship/next.mti --since 1234   # for the standby"
    )]
    Create {
        file: PathBuf,
        #[arg(long, conflicts_with = "since")]
        include_keys: bool,
        /// The standby's position: make an increment from it.
        #[arg(long)]
        since: Option<u64>,
    },
    /// Export the keyring into FILE: every intake's key, wrapped under the current ring key,
    /// and that key (encrypted to the store key). A restore of a backup taken before the
    /// latest erasure needs it. Keep only the latest: an older one still opens what was
    /// erased since.
    Keyring { file: PathBuf },
    /// Check a backup offline: every frame against its manifest, every message file against
    /// its record, and the audit log (chain, Merkle tree, checkpoints). Exit 3 when it fails.
    #[command(
        after_help = "Example:\n  modtag backup verify modtag-2026-12-01.mtb --store-key /root/escrow/store.key"
    )]
    Verify {
        file: PathBuf,
        /// The store key the backup is encrypted to (the escrowed copy); the data
        /// directory's store.key when left out.
        #[arg(long)]
        store_key: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup into DIR (new or empty), with the intakes' keys from KEYRING when
    /// an intake was erased since the backup (then it stays erased). Then give DIR its store
    /// and blind-index keys and start `modtag serve --data DIR`.
    #[command(
        after_help = "Example:\n  modtag backup restore modtag-2026-12-01.mtb /var/lib/modtag --keyring modtag.keyring --store-key /root/escrow/store.key"
    )]
    Restore {
        file: PathBuf,
        dir: PathBuf,
        #[arg(long)]
        keyring: Option<PathBuf>,
        #[arg(long)]
        store_key: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Apply an increment (`backup create --since`) to the stopped standby in --data: it
    /// must follow the position the standby holds (one missed or applied twice is refused,
    /// saying which --since to take). Prints the position the next increment starts from.
    #[command(
        after_help = "Example:\n  modtag --data /var/lib/modtag-standby backup apply /srv/ship/next.mti"
    )]
    Apply {
        file: PathBuf,
        /// The store key the increment is encrypted to; the standby's store.key when left
        /// out.
        #[arg(long)]
        store_key: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum RetentionCommand {
    /// Run the `[retention]` rules now (the daemon runs them daily): erase every intake a
    /// rule says is due and remove old failed deliveries; `--dry-run` only lists them.
    #[command(after_help = "Examples:\n  modtag retention run --dry-run\n  modtag retention run")]
    Run {
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make a store key and a blind-index key in DIR (0600 files) to keep apart from the
    /// data directory, and print how to give them to modtag as systemd credentials. For a
    /// new installation: an existing store keeps the keys it was written with (move those
    /// out of the data directory instead).
    #[command(after_help = "Example:\n  modtag keys init /root/modtag-keys")]
    Init { dir: PathBuf },
    /// Replace a key of the running daemon without stopping it. `checkpoint`: a new key signs
    /// the audit checkpoints from now on; the checkpoint written at the change carries the
    /// new public key and is signed by the old and the new, so the auditors' key verifies
    /// across it (it is mailed to them like every checkpoint). `blind-index`: the CPR and
    /// "sent to" index and the cases are written again under a new key (intake waits a few
    /// seconds meanwhile). `store`: everything sealed to the store key (ring keys, cases,
    /// outbox, accounts) is sealed again to a new one while intake goes on. With the keys in
    /// the data directory modtag makes the new key itself; with [keys] it is a file only
    /// root places on the server (`modtag keys init DIR` makes one), named as [keys]
    /// next_blind_index_key or next_store_key (then `modtag config reload`), and sealed as
    /// the credential after. A new key never travels over the API. Backups taken before
    /// still need the old store key: keep it in escrow as long as they are kept.
    #[command(
        after_help = "Examples:\n  modtag keys rotate checkpoint\n  modtag keys rotate blind-index\n  modtag keys rotate store"
    )]
    Rotate { key: RotatedKey },
}

/// The keys `modtag keys rotate` replaces.
#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
pub enum RotatedKey {
    Checkpoint,
    BlindIndex,
    Store,
}

#[derive(Subcommand)]
pub enum ConfigCommand {
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
pub enum CasesCommand {
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
    /// Move a case back to a trin-2 TRIVSEL+ forløb (flow 4): refused until both consents
    /// are recorded, the measures have ended and the first meeting keeps the 14-day and
    /// 5-day rules; then the rådgiver and the lokal leder get the hand-over (encrypted) and
    /// an invitation to the first meeting.
    #[command(
        after_help = "Example:\n  modtag cases overgang SAG-100 --consent-by forældre --consent-how skriftligt \\\n    --share-by forældre --share-how skriftligt --measures-ended 2026-11-27 \\\n    --first-meeting 2026-12-10T09:00"
    )]
    Overgang(OvergangArgs),
}

#[derive(clap::Args)]
pub struct OvergangArgs {
    pub case_number: String,
    /// Consent to activate the beslutningstræ: who gave it (forældre, den unge ...).
    #[arg(long)]
    pub consent_by: Option<String>,
    /// ... and how (skriftligt, mundtligt, digitalt ...).
    #[arg(long)]
    pub consent_how: Option<String>,
    /// Consent to share the current forløb's information: who gave it.
    #[arg(long)]
    pub share_by: Option<String>,
    /// ... and how.
    #[arg(long)]
    pub share_how: Option<String>,
    /// The day the measures on trin 3/4 ended (YYYY-MM-DD).
    #[arg(long)]
    pub measures_ended: Option<String>,
    /// The first TRIVSEL+ meeting, Danish local time (YYYY-MM-DDTHH:MM).
    #[arg(long)]
    pub first_meeting: Option<String>,
    /// Its length in minutes (default 90).
    #[arg(long)]
    pub minutes: Option<u16>,
    /// Where it is held (default: [trivsel] place).
    #[arg(long)]
    pub place: Option<String>,
    #[arg(long, default_value = "")]
    pub note: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum RouteCommand {
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
    /// The school year's statusmøder (trin 2): every 8th week for each lederteam, whom the
    /// beslutningstræ summons, none on a holiday; optionally as iCalendar invitations.
    #[command(
        after_help = "Examples:\n  modtag route statusmoeder --school-year 2027 --ics invitationer/\n  modtag route statusmoeder --school-year 2027 --send\n  modtag route statusmoeder --school-year 2027 --send --cancel 2027-10-12"
    )]
    Statusmoeder {
        /// The school year that begins in August of this year.
        #[arg(long)]
        school_year: i16,
        /// Configuration whose tree, directory and calendar to use; the embedded default
        /// when left out.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Write one invitation (.ics, METHOD:REQUEST) per meeting into this directory.
        #[arg(long, value_name = "DIR")]
        ics: Option<PathBuf>,
        /// Have the running daemon mail the invitations (as the leader of PPR or an
        /// administrator), with its configuration.
        /// Sent again, only what changed goes out: new meetings, moved ones or ones whose
        /// team changed (as updates), and cancellations of those no longer planned.
        #[arg(long, conflicts_with_all = ["ics", "config"])]
        send: bool,
        /// With --send: cancel the meetings on this day (YYYY-MM-DD); everyone invited gets
        /// the cancellation, and they are not sent again.
        #[arg(long, value_name = "DATE", requires = "send")]
        cancel: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum ReportCommand {
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
pub enum OutboxCommand {
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
