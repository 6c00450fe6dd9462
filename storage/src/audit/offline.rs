//! Reading the audit log of a stopped daemon's data directory (or a copy) with no secret
//! key: verifying the chain, the Merkle tree and every checkpoint, inclusion proofs, and the
//! blind-index lookup auditors use for a data subject's access request.

use std::path::Path;

use super::{Broken, Entry, Report};
use crate::keyspace::*;
use crate::StoreError;

/// Verifies the chain, the Merkle tree and every checkpoint: those stored with the log and
/// `external` ones kept elsewhere (each must be signed by `key` and be extended by today's
/// log, shown with an RFC 9162 consistency proof). Returns the leaves too.
pub(crate) fn verify_trees(
    audit: &sled::Tree,
    meta: &sled::Tree,
    stored: &sled::Tree,
    keys: &[ed25519_dalek::VerifyingKey],
    external: &[String],
) -> Result<(Report, Vec<crate::merkle::Hash>), Broken> {
    let broken = |seq: u64, what: String| Broken { seq, what };
    let head = match meta.get(AUDIT_HEAD) {
        Ok(Some(v)) => {
            Some(decode_head(&v).ok_or(broken(0, "the recorded head is malformed".into()))?)
        }
        Ok(None) => None,
        Err(e) => return Err(broken(0, e.to_string())),
    };
    let frontier = match meta.get(AUDIT_FRONTIER) {
        Ok(Some(v)) => Some(
            crate::merkle::Frontier::decode(&v)
                .ok_or(broken(0, "the recorded tree edge is malformed".into()))?,
        ),
        _ => None,
    };
    let mut notes: Vec<(String, String)> = Vec::new();
    for kv in stored.iter() {
        let (k, v) = kv.map_err(|e| broken(0, e.to_string()))?;
        let size = k.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0);
        notes.push((
            format!("stored checkpoint {size}"),
            String::from_utf8_lossy(&v).into_owned(),
        ));
    }
    let entries = audit.iter().map(|kv| {
        kv.map(|(k, v)| (k.to_vec(), v.to_vec()))
            .map_err(StoreError::from)
    });
    verify_log(entries, head, frontier, notes, keys, external)
}

/// Verifies a log given as its entries (key and stored value, in order), its recorded head
/// and tree edge, and its stored checkpoints (`(what, note)`): for a data directory, or for
/// a copy an auditor fetched from a running daemon (`modtag audit verify --live`), which
/// trusts the daemon for nothing but the bytes.
pub fn verify_log(
    entries: impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>>,
    head: Option<(u64, [u8; 32])>,
    frontier: Option<crate::merkle::Frontier>,
    mut notes: Vec<(String, String)>,
    keys: &[ed25519_dalek::VerifyingKey],
    external: &[String],
) -> Result<(Report, Vec<crate::merkle::Hash>), Broken> {
    let broken = |seq: u64, what: String| Broken { seq, what };
    let mut leaves = Vec::new();
    let mut report = super::verify(entries, head, &mut leaves)?;
    let n = leaves.len() as u64;
    let root = crate::merkle::root(&leaves);
    report.root = hex::encode(root);
    // The recorded right edge must describe the same tree.
    if let Some(f) = frontier {
        if f.size != n || f.root() != root {
            return Err(broken(n, format!(
                "the recorded tree (size {}) does not match the entries (size {n}): entries were changed or removed",
                f.size
            )));
        }
    }
    // Stored checkpoints, then the ones kept elsewhere.
    for (i, note) in external.iter().enumerate() {
        notes.push((format!("checkpoint file {}", i + 1), note.clone()));
    }
    // In order of size, stored ones first: a hand-over makes its new key trusted for the
    // notes after it.
    let mut trusted = crate::checkpoint::Trusted::new(keys);
    for (what, note) in &notes {
        let cp = trusted
            .verify(note)
            .map_err(|e| broken(0, format!("{what}: {e}")))?;
        if cp.size > n {
            return Err(broken(n + 1, format!(
                "{what} is of a log with {} entries, but this log has {n}: entries were removed (truncated or rolled back)",
                cp.size
            )));
        }
        let old_root = crate::merkle::root(&leaves[..cp.size as usize]);
        let proof = crate::merkle::consistency_proof(&leaves, cp.size as usize);
        if old_root != cp.root
            || !crate::merkle::verify_consistency(cp.size, n, &cp.root, &root, &proof)
        {
            return Err(broken(
                cp.size,
                format!(
                    "{what} (size {}) is not extended by this log: entries up to {} were changed",
                    cp.size, cp.size
                ),
            ));
        }
        report.checkpoints += 1;
    }
    Ok((report, leaves))
}

/// Verifies the audit trees of an open sled database (for tests that tamper with it as
/// someone with root could).
pub fn verify_db(
    db: &sled::Db,
    keys: &[ed25519_dalek::VerifyingKey],
    external: &[String],
) -> Result<Report, Broken> {
    let t = |name: &str| {
        db.open_tree(name).map_err(|e| Broken {
            seq: 0,
            what: e.to_string(),
        })
    };
    verify_trees(
        &t(T_AUDIT)?,
        &t(T_META)?,
        &t(T_CHECKPOINTS)?,
        keys,
        external,
    )
    .map(|(r, _)| r)
}

/// The checkpoint key of a data directory (`checkpoint.pub`), for offline verification.
pub fn checkpoint_key(data_dir: &Path) -> Result<ed25519_dalek::VerifyingKey, VerifyError> {
    let path = data_dir.join(crate::keys::CHECKPOINT_PUB);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| VerifyError::Open(format!("{}: {e}", path.display())))?;
    crate::checkpoint::parse_public(&text)
        .map_err(|e| VerifyError::Open(format!("{}: {e}", path.display())))
}

/// The data directory's checkpoint keys: the one in use and those it replaced
/// (`checkpoint-retired.pub`, one hex key a line), oldest first.
pub fn checkpoint_keys(data_dir: &Path) -> Result<Vec<ed25519_dalek::VerifyingKey>, VerifyError> {
    let path = data_dir.join(crate::keys::CHECKPOINT_RETIRED);
    let mut keys = Vec::new();
    if let Ok(text) = std::fs::read_to_string(&path) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            keys.push(
                crate::checkpoint::parse_public(line)
                    .map_err(|e| VerifyError::Open(format!("{}: {e}", path.display())))?,
            );
        }
    }
    keys.push(checkpoint_key(data_dir)?);
    Ok(keys)
}

/// The audit trees of a stopped daemon's data directory (or a copy).
struct OfflineAudit {
    /// Held while the trees are read: a daemon cannot start on them meanwhile.
    _db: Opened,
    audit: sled::Tree,
    meta: sled::Tree,
    checkpoints: sled::Tree,
}

fn open_offline(data_dir: &Path) -> Result<OfflineAudit, VerifyError> {
    if !data_dir.join(DB_DIR).exists() {
        return Err(VerifyError::Open(format!(
            "{}: no modtag database here (expected {}/)",
            data_dir.display(),
            DB_DIR
        )));
    }
    let opened = open_db(data_dir)?;
    let t = |name: &str| opened.db.open_tree(name).map_err(StoreError::from);
    Ok(OfflineAudit {
        audit: t(T_AUDIT)?,
        meta: t(T_META)?,
        checkpoints: t(T_CHECKPOINTS)?,
        _db: opened,
    })
}

/// Verifies the audit log of a data directory whose daemon is stopped (or a copy of it):
/// chain, tree, stored checkpoints, and checkpoints kept elsewhere. Needs no secret key; the
/// checkpoint key is `key`, or the data directory's `checkpoint.pub`.
pub fn verify_offline(
    data_dir: &Path,
    external: &[String],
    key: Option<ed25519_dalek::VerifyingKey>,
) -> Result<Report, VerifyError> {
    let keys = match key {
        Some(k) => vec![k],
        None => checkpoint_keys(data_dir)?,
    };
    let o = open_offline(data_dir)?;
    verify_trees(&o.audit, &o.meta, &o.checkpoints, &keys, external)
        .map(|(r, _)| r)
        .map_err(VerifyError::Broken)
}

/// An RFC 9162 inclusion proof for entry `seq` in the tree of the whole log, with the latest
/// signed checkpoint when it is of that tree.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InclusionProof {
    pub seq: u64,
    pub leaf_index: u64,
    pub tree_size: u64,
    /// Hex.
    pub leaf_hash: String,
    pub root_hash: String,
    pub inclusion_path: Vec<String>,
    pub checkpoint: Option<String>,
}

pub fn prove_offline(data_dir: &Path, seq: u64) -> Result<InclusionProof, VerifyError> {
    let keys = checkpoint_keys(data_dir)?;
    let o = open_offline(data_dir)?;
    let (_, leaves) =
        verify_trees(&o.audit, &o.meta, &o.checkpoints, &keys, &[]).map_err(VerifyError::Broken)?;
    let n = leaves.len() as u64;
    if seq == 0 || seq > n {
        return Err(VerifyError::Open(format!(
            "the log has entries 1 to {n}; there is no entry {seq}"
        )));
    }
    let latest = o
        .checkpoints
        .last()
        .ok()
        .flatten()
        .filter(|(k, _)| k.as_ref() == n.to_be_bytes())
        .map(|(_, v)| String::from_utf8_lossy(&v).into_owned());
    let i = (seq - 1) as usize;
    Ok(InclusionProof {
        seq,
        leaf_index: seq - 1,
        tree_size: n,
        leaf_hash: hex::encode(leaves[i]),
        root_hash: hex::encode(crate::merkle::root(&leaves)),
        inclusion_path: crate::merkle::inclusion_proof(&leaves, i)
            .iter()
            .map(hex::encode)
            .collect(),
        checkpoint: latest,
    })
}

/// The latest stored checkpoint of a stopped daemon's data directory.
pub fn checkpoint_offline(data_dir: &Path) -> Result<Option<String>, VerifyError> {
    let o = open_offline(data_dir)?;
    Ok(o.checkpoints
        .last()
        .map_err(StoreError::from)?
        .map(|(_, v)| String::from_utf8_lossy(&v).into_owned()))
}

/// Every audit entry of a stopped daemon's data directory, in order (payloads encrypted).
pub fn entries_offline(data_dir: &Path) -> Result<Vec<Entry>, VerifyError> {
    let o = open_offline(data_dir)?;
    o.audit
        .iter()
        .map(|kv| {
            let (_, v) = kv.map_err(StoreError::from)?;
            Entry::decode(&v).map_err(VerifyError::Open)
        })
        .collect()
}

/// The audit log of a stopped daemon's data directory as stored: each entry's bytes by
/// sequence (payloads still encrypted to the auditors), the head, and the stored
/// checkpoints: what an auditors' bundle holds (`modtag audit export`).
pub struct StoredLog {
    pub entries: Vec<(u64, Vec<u8>)>,
    pub head: Option<(u64, [u8; 32])>,
    pub checkpoints: Vec<String>,
}

pub fn stored_offline(data_dir: &Path) -> Result<StoredLog, VerifyError> {
    let o = open_offline(data_dir)?;
    let entries =
        o.audit
            .iter()
            .map(|kv| {
                let (k, v) = kv.map_err(StoreError::from)?;
                let seq =
                    k.as_ref().try_into().map(u64::from_be_bytes).map_err(|_| {
                        VerifyError::Open("an audit entry with a malformed key".into())
                    })?;
                Ok((seq, v.to_vec()))
            })
            .collect::<Result<Vec<_>, VerifyError>>()?;
    let head = o
        .meta
        .get(AUDIT_HEAD)
        .map_err(StoreError::from)?
        .and_then(|v| decode_head(&v));
    let checkpoints = o
        .checkpoints
        .iter()
        .map(|kv| {
            let (_, v) = kv.map_err(StoreError::from)?;
            Ok(String::from_utf8_lossy(&v).into_owned())
        })
        .collect::<Result<Vec<_>, VerifyError>>()?;
    Ok(StoredLog {
        entries,
        head,
        checkpoints,
    })
}

impl From<StoreError> for VerifyError {
    fn from(e: StoreError) -> VerifyError {
        VerifyError::Store(e)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot open the data directory: {0}")]
    Open(String),
    /// Opening the database failed (it is in use, or damaged). The store's error is kept,
    /// and said in the message (not also as a source, or it would be printed twice).
    #[error("cannot open the data directory: {0}")]
    Store(StoreError),
    #[error(transparent)]
    Broken(Broken),
}

/// References of the intakes about a CPR (ten digits), from a stopped daemon's data
/// directory: through the blind index, with the directory's blind-index key.
pub fn references_for_cpr_offline(
    data_dir: &Path,
    blind_key: Option<&Path>,
    cpr_digits: &str,
) -> Result<Vec<String>, VerifyError> {
    let path = blind_key.map_or_else(|| data_dir.join(crate::keys::BLIND_KEY), Path::to_path_buf);
    if !path.exists() {
        return Err(VerifyError::Open(format!(
            "{}: no blind-index key; where the keys are kept apart ([keys]), give its file with --blind-index-key",
            path.display()
        )));
    }
    let text = crate::keys::read_secret(&path)?;
    let key = hex::decode(String::from_utf8_lossy(&text).trim())
        .map_err(|_| VerifyError::Open(format!("{}: not a hex key", path.display())))?;
    let opened = open_db(data_dir)?;
    let index = opened
        .db
        .open_tree(T_ITEM_INDEX)
        .map_err(StoreError::from)?;
    index
        .scan_prefix(blind_hash(&key, cpr_digits))
        .map(|kv| {
            let (k, _) = kv.map_err(StoreError::from)?;
            Ok(String::from_utf8_lossy(&k[32..]).into_owned())
        })
        .collect()
}
