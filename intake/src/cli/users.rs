//! `modtag users ...`: built-in accounts of a running daemon (for an administrator).

use clap::Subcommand;

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Make an account. The password is read from standard input (not echoed at a
    /// terminal); the TOTP enrolment is printed once, for the person's authenticator app.
    #[command(
        after_help = "Examples:\n  modtag users add lene.holm --email lene.holm@kommune.localhost --role modtagelsen_leder\n  printf '%s\\n' \"$PASSWORD\" | modtag users add it --email it@kommune.dk --role admin"
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
    /// Give an account a new TOTP secret (a lost phone); prints the new enrolment.
    ResetTotp {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Make a personal API token for an account (yourself, or anyone as an administrator),
    /// printed once. Keep it in a 0600 file and give it with --token-file.
    #[command(
        after_help = "Example:\n  modtag users token lene.holm --days 30 > ~/.modtag-token && chmod 600 ~/.modtag-token"
    )]
    Token {
        id: String,
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
