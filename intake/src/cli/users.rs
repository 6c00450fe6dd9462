//! `modtag users ...`: built-in accounts of a running daemon (for an administrator).

use clap::Subcommand;

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Make an account. It prints a one-time enrolment link (72 hours) to give the person:
    /// there they choose their own password and set up their authenticator app. No password
    /// or TOTP secret passes through the administrator.
    #[command(
        after_help = "Examples:\n  modtag users add lene.holm --email lene.holm@kommune.localhost --role modtagelsen_leder\n  modtag users add it --email it@kommune.dk --role admin --json"
    )]
    Add {
        id: String,
        #[arg(long)]
        email: String,
        /// A role id of the directory, or admin / auditor (repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the accounts (never a password or a TOTP secret).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable an account; its sessions end at once.
    Disable { id: String },
    /// Reset an account (a lost phone, a forgotten password): its password, TOTP secret and
    /// tokens stop working at once, its sessions end, and a new enrolment link is printed.
    #[command(alias = "reset-totp")]
    Reset {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Make a personal API token for your own account, printed once. Keep it in a 0600 file
    /// and give it with --token-file. No one makes a token for another account.
    #[command(
        after_help = "Example:\n  modtag users token --days 30 > ~/.modtag-token && chmod 600 ~/.modtag-token"
    )]
    Token {
        /// Your own account id (the default); any other is refused.
        id: Option<String>,
        /// How long it works (1 to 365 days).
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
    /// Replace an account's roles; its sessions end at once.
    SetRoles {
        id: String,
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
}
