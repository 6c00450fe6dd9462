//! `modtag-storage`: the only place where modtag's data touches disk.
//!
//! - [`crypto`]: OpenPGP encryption and decryption (sequoia, pure-Rust backend). Everything
//!   written to disk goes through [`crypto::encrypt`] first.
//! - [`keys`]: the data directory's key files (store key, audit certificate, checkpoint key,
//!   blind-index key, API token), created on first start with 0600 permissions.
//! - [`records`]: the stored record types (triage items, cases, outbox entries);
//!   [`forloeb`] a TRIVSEL+ forløb's steps on its item; [`trust`] how its sender and its
//!   reporter's address are known.
//! - [`audit`]: the hash-chained, encrypted audit log and its offline verifier.
//! - [`ring`]: each intake's own key and the ring key that wraps them (erasure is
//!   crypto-shredding).
//! - [`spool`]: encrypted message files, kept out of sled (see the module for why).
//! - [`backup`]: the backup file's format; [`restore`] checking and restoring one offline;
//!   [`standby`] applying an increment to a standby.
//! - [`store`]: the sled database and its atomic, durable operations.
//!
//! Invariant: no plaintext message, item, case or audit payload is ever handed to sled or
//! written to a file.

pub mod account;
pub mod audit;
pub mod backup;
pub mod checkpoint;
pub mod crypto;
pub mod error;
pub mod forloeb;
pub mod keys;
mod keyspace;
pub mod merkle;
pub mod outbox;
pub mod records;
pub mod restore;
pub mod ring;
pub mod series;
pub mod spool;
pub mod standby;
pub mod store;
pub mod summary;
pub mod trust;

pub use error::{StoreError, Taken};
pub use store::Store;
