//! `modtag audit ...`: verifying and reading the audit log.

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Verify the audit log of a stopped daemon's data directory (or a copy): the chain, the
    /// Merkle tree, every stored checkpoint, and checkpoints kept elsewhere (which today's
    /// log must extend: a truncated or rolled-back log fails). Needs no secret key.
    #[command(
        after_help = "Examples:\n  modtag audit verify --data /backup/modtag-data\n  modtag audit verify --checkpoint kept-by-the-auditors.txt --key checkpoint.pub\n  modtag audit verify --live --key checkpoint.pub --checkpoint kept-by-the-auditors.txt"
    )]
    Verify {
        /// A signed checkpoint kept outside the server (repeatable).
        #[arg(long)]
        checkpoint: Vec<PathBuf>,
        /// The checkpoint public key (hex); the data directory's checkpoint.pub by default
        /// (with --live, the copy the auditors keep).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Copy the running daemon's log over the API (as an auditor) and verify the copy
        /// here, trusting the daemon for nothing but the bytes.
        #[arg(long)]
        live: bool,
        /// Verify an auditors' bundle (`audit export`) instead of a data directory.
        #[arg(long, value_name = "FILE", conflicts_with = "live")]
        bundle: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Write an auditors' bundle: the log as stored (payloads still encrypted to the
    /// auditors), its head, the signed checkpoints and the public keys to check them. It
    /// holds no key that opens a message, so it can leave the server; `audit verify
    /// --bundle` and `audit read --bundle` work on it anywhere.
    #[command(
        after_help = "Examples:\n  modtag audit export revision-2026-12.json --data /var/lib/modtag   # stopped daemon or a copy\n  modtag audit export revision-2026-12.json --live                   # as an auditor, from the running daemon"
    )]
    Export {
        file: PathBuf,
        /// From the running daemon over the API (as an auditor).
        #[arg(long)]
        live: bool,
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
        /// Read a copy of the running daemon's log, fetched over the API (as an auditor).
        #[arg(long, conflicts_with = "cpr")]
        live: bool,
        /// Read an auditors' bundle (`audit export`).
        #[arg(long, value_name = "FILE", conflicts_with_all = ["live", "cpr"])]
        bundle: Option<PathBuf>,
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
        /// With --cpr, where the keys are kept apart ([keys]): the blind-index key's file.
        #[arg(long, value_name = "FILE", requires = "cpr")]
        blind_index_key: Option<PathBuf>,
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
        /// Where the keys are kept apart ([keys]): the blind-index key's file.
        #[arg(long, value_name = "FILE")]
        blind_index_key: Option<PathBuf>,
    },
}
