//! `modtag-config`: everything modtag reads from files an administrator writes.
//!
//! - [`model`]: the typed main configuration (`modtag.toml`): listeners, mailboxes, relay,
//!   triage policy, and the paths of the two policy files.
//! - [`directory`]: people and team mailboxes with their roles and OpenPGP certificates, and
//!   the institutions (`directory.toml`).
//! - [`tree`]: the beslutningstræ, the kommune's routing rules (`beslutningstrae.toml`).
//! - [`load`]: reading all three from disk or from the embedded demo default, and the
//!   cross-file validation that stops start-up with file, line and what to fix.
//!
//! This crate does no network IO and holds no secrets: certificates here are public keys.

mod check;
pub mod cidr;
pub mod classify;
pub mod digital_post;
pub mod directory;
pub mod embedded;
pub mod error;
pub mod journal;
pub mod key_files;
pub mod kommune;
pub mod load;
pub mod mitid;
pub mod model;
pub mod operations;
pub mod public;
pub mod retention;
pub mod roles;
pub mod tls_files;
pub mod tree;
pub mod trivsel;
pub mod vocab;

pub use directory::{Directory, Institution, Person};
pub use error::ConfigError;
pub use load::{check_tree, load, load_embedded, Loaded};
pub use model::{Classify, Config};
pub use tree::{Rule, Tree};
pub use vocab::{Channel, Kind, ReporterKind, RouteKind};
