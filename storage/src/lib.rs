//! `modtag-storage`: the only place where modtag's data touches disk.
//!
//! - [`store`]: the sled database and its atomic, durable operations, one concern per file:
//!   a [`store::Batch`] commits whole or not at all, and nothing is acknowledged before
//!   [`Store::flush`].
//! - [`crypto`]: OpenPGP in memory (sequoia, pure-Rust backend): records and message files
//!   sealed for modtag alone to read back, copies and audit payloads encrypted to their
//!   readers' certificates.
//! - [`keys`]: the data directory's key files (store key, blind-index key, checkpoint key,
//!   signing key), 0600, or the store and blind-index keys read from apart (`[keys]`).
//! - [`ring`]: each intake's own key and the ring key that wraps them (erasure is
//!   crypto-shredding).
//! - [`spool`]: encrypted message files, kept out of sled (see the module for why).
//! - [`records`]: the stored record types (items, cases, [`account`]s, [`outbox`] copies);
//!   [`forloeb`] a TRIVSEL+ forløb's steps on its item; [`trust`] how its sender and its
//!   reporter's address are known; [`series`] the statusmøde invitations sent;
//!   [`summary`] the clear summary, without personal data, kept beside each item.
//! - [`audit`]: the hash-chained, encrypted audit log and its offline reader; [`merkle`] its
//!   RFC 6962 tree; [`checkpoint`] its signed checkpoints.
//! - [`backup`]: the backup file's format; [`restore`] checking and restoring one offline;
//!   [`standby`] applying an increment to a standby.
//!
//! [`failpoint`]: the durability steps a test build can crash or fail at (issue 32).
//!
//! Invariant: no plaintext message, item, case, account, outbox copy or audit payload is
//! ever handed to sled or written to a file. The crate reads no clock (`now` is given) and
//! opens no socket.

pub mod account;
pub mod audit;
pub mod backup;
pub mod checkpoint;
pub mod crypto;
pub mod desk;
pub mod error;
pub mod failpoint;
pub mod forloeb;
mod group;
pub mod journal;
pub mod keys;
mod keyspace;
pub mod merkle;
mod names;
pub mod outbox;
pub mod records;
pub mod restore;
pub mod ring;
mod sender;
pub mod series;
pub mod spool;
pub mod standby;
pub mod store;
pub mod summary;
pub mod trust;

pub use error::{StoreError, Taken};
pub use names::normalised_name;
pub use store::Store;
