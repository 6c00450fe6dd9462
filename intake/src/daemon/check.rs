//! `modtag check` (issue 32): a stopped data directory, opened as start-up opens it (which
//! also settles what a crash interrupted and removes message files whose record never
//! committed) and then read through (`Store::read_through`). Never creates a key or a
//! directory: a data directory that is not there is an error.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use modtag_storage::keys::DataKeys;
use modtag_storage::store::check::Checked;
use modtag_storage::Store;

use super::setup::{keys_apart, WAY_BACK};
use crate::policy::load_config;

pub fn check(config: Option<PathBuf>, data: &Path) -> Result<Checked> {
    let loaded = load_config(config.as_deref())?;
    if !data.is_dir() {
        anyhow::bail!("{}: no data directory here (give --data)", data.display());
    }
    let apart = keys_apart(&loaded.config)?;
    let keys = DataKeys::load(data, apart.as_ref())
        .with_context(|| format!("cannot read the keys of {}", data.display()))?
        .with_auditors(loaded.auditors.clone());
    let store =
        Store::open(data, keys, crate::clock::Clock::system().now()).with_context(|| {
            format!(
                "the data directory {} does not open: {WAY_BACK}",
                data.display()
            )
        })?;
    Ok(store.read_through())
}
