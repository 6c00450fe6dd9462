//! Errors of the store. `Unavailable` is what callers turn into temporary failures
//! (`451`, `503`): storage is broken and the operation did not happen.

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("storage refuses writes after an earlier failure to make data durable; restart modtag after checking the disk")]
    Poisoned,
    #[error("storage is full or out of space: {0}")]
    Full(String),
    #[error("encryption failed: {0}")]
    Crypto(String),
    /// A record could not be written as JSON (a bug, never the data's fault).
    #[error("cannot encode a record")]
    Encode(#[from] serde_json::Error),
    #[error("record {0} not found")]
    NotFound(String),
    #[error("record {key} in tree {tree} is damaged: {why}")]
    Corrupt {
        tree: &'static str,
        key: String,
        why: String,
    },
    /// An fsync failed: what it was to make durable may be lost whatever a retry says
    /// (the kernel may have dropped the pages), so the store stops taking work.
    #[error("{path}: could not be made durable: {source}")]
    NotDurable {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Key(String),
    #[error("the data directory is in use by a running modtag (sled lock held): stop it, or use the API")]
    Locked,
    /// A record written by compare-and-swap was changed by someone else since it was read
    /// (the writer reads it again and redoes its change).
    #[error("{0} was changed meanwhile; try again")]
    Changed(String),
}

impl StoreError {
    /// True when the failure is about the disk being full, which SMTP answers with `452`.
    pub fn is_full(&self) -> bool {
        match self {
            StoreError::Full(_) => true,
            StoreError::Sled(sled::Error::Io(e)) => e.raw_os_error() == Some(28),
            _ => false,
        }
    }
}

/// Why a new account was not added (`Store::add_user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// Another account has this id.
    Id,
    /// Another account has this e-mail (case is not told apart).
    Email,
}
