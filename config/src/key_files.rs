//! `[keys]`: where the store and blind-index keys come from, apart from the data directory
//! (issue 17). With them beside `db/` and `spool/`, any copy of the data directory (a
//! backup, a stolen disk) opens every report offline, with no audit entry. In production
//! they are systemd credentials (`credential:NAME`, from `LoadCredentialEncrypted=`, sealed
//! by `systemd-creds` to the TPM2 or the host key) or files on another mount; only the
//! embedded default keeps them in the data directory, and says so at start.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFiles {
    /// The store key (OpenPGP, secret): `credential:NAME` or a path (relative to the
    /// configuration file), 0600.
    pub store_key: String,
    /// The blind-index key (hex HMAC key), likewise.
    pub blind_index_key: String,
    /// The store key that `modtag keys rotate store` moves the store to, likewise; named
    /// only while a rotation is prepared or under way, and replaced by `store_key` after.
    #[serde(default)]
    pub next_store_key: Option<String>,
    /// The blind-index key that `modtag keys rotate blind-index` moves to, likewise. A new
    /// key is never sent to modtag over its API (issue 25): it is a file that only root on
    /// the server places, named here.
    #[serde(default)]
    pub next_blind_index_key: Option<String>,
    /// The directory the ring keys live in (relative to this file): writable by modtag,
    /// 0700, apart from the data directory like the store key (issue 25). An erasure
    /// destroys an intake's key by rotating the ring; with the ring keys beside `db/`, a
    /// file copy of the data directory taken before would still open what was erased
    /// since, once the store key is at hand.
    #[serde(default)]
    pub ring_dir: Option<String>,
}
