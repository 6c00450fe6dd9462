//! The audit log of the open store: verification, the tree's size, checkpoints, retention.

use jiff::Timestamp;

use super::batch::Batch;
use super::Store;
use crate::audit::offline::verify_trees;
use crate::audit::{self, Entry, Event, EventKind};
use crate::keyspace::*;
use crate::StoreError;

impl Store {
    /// Verifies the audit chain of this open store.
    pub fn verify_audit(&self) -> Result<audit::Report, audit::Broken> {
        let keys = crate::audit::offline::checkpoint_keys(&self.inner.dir)
            .unwrap_or_else(|_| vec![self.checkpoint_signer().verifying_key()]);
        verify_trees(
            &self.inner.trees.audit,
            &self.inner.trees.meta,
            &self.inner.trees.checkpoints,
            &keys,
            &[],
        )
        .map(|(r, _)| r)
    }

    /// The audit log's recorded head (last sequence number and its hash), if any.
    pub fn audit_head(&self) -> Result<Option<(u64, [u8; 32])>, StoreError> {
        match self.inner.trees.meta.get(AUDIT_HEAD)? {
            Some(v) => Ok(Some(decode_head(&v).ok_or(StoreError::Corrupt {
                tree: T_META,
                key: "audit_head".into(),
                why: "malformed".into(),
            })?)),
            None => Ok(None),
        }
    }

    /// Up to `limit` stored audit entries after sequence number `after` and up to `until`,
    /// as they are stored (payloads encrypted to the auditors), for an auditor's copy.
    pub fn audit_page(
        &self,
        after: u64,
        until: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let from = after.saturating_add(1).to_be_bytes();
        let mut out = Vec::new();
        for kv in self.inner.trees.audit.range(from..).take(limit) {
            let (k, v) = kv?;
            let seq = k.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0);
            if seq > until {
                break;
            }
            out.push((seq, v.to_vec()));
        }
        Ok(out)
    }

    /// The signed checkpoints stored with the log, of trees up to `max_size` entries.
    pub fn stored_checkpoints(&self, max_size: u64) -> Result<Vec<(u64, String)>, StoreError> {
        let mut out = Vec::new();
        for kv in self
            .inner
            .trees
            .checkpoints
            .range(..=max_size.to_be_bytes())
        {
            let (k, v) = kv?;
            let size = k.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0);
            out.push((size, String::from_utf8_lossy(&v).into_owned()));
        }
        Ok(out)
    }

    /// Size and root of the audit tree now.
    pub fn audit_tree(&self) -> Result<crate::merkle::Frontier, StoreError> {
        Ok(match self.inner.trees.meta.get(AUDIT_FRONTIER)? {
            Some(v) => crate::merkle::Frontier::decode(&v).ok_or(StoreError::Corrupt {
                tree: T_META,
                key: "audit_frontier".into(),
                why: "malformed".into(),
            })?,
            None => crate::merkle::Frontier::default(),
        })
    }

    /// Signs and stores a checkpoint of the audit tree as it is, unless one of this size
    /// exists or the tree is empty; returns the signed note if one was written. Call
    /// [`Store::flush`] before sending it anywhere.
    pub fn write_checkpoint(&self, origin: &str) -> Result<Option<String>, StoreError> {
        self.check()?;
        let f = self.audit_tree()?;
        if f.size == 0
            || self
                .inner
                .trees
                .checkpoints
                .contains_key(f.size.to_be_bytes())?
        {
            return Ok(None);
        }
        let note = crate::checkpoint::Checkpoint {
            origin: origin.to_string(),
            size: f.size,
            root: f.root(),
            next_key: None,
        }
        .sign(&self.checkpoint_signer());
        crate::failpoint::stored("checkpoint.write")?;
        self.inner
            .trees
            .checkpoints
            .insert(f.size.to_be_bytes(), note.as_bytes())?;
        Ok(Some(note))
    }

    /// Retention: deletes the payloads of audit entries older than `cutoff` (their hashes
    /// stay, so the chain, the tree and every checkpoint still verify) and records the
    /// deletion as an entry of its own. Returns how many payloads were deleted.
    pub fn apply_audit_retention(
        &self,
        cutoff: Timestamp,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        self.check()?;
        let mut shredded = 0;
        let mut upto = None;
        for kv in self.inner.trees.audit.iter() {
            let (k, v) = kv?;
            let e = Entry::decode(&v).map_err(|why| StoreError::Corrupt {
                tree: T_AUDIT,
                key: format!("{:?}", k.as_ref()),
                why,
            })?;
            if e.time() >= cutoff {
                break;
            }
            upto = Some(e.seq);
            if e.shredded.is_none() {
                // Compare-and-swap: an entry is never changed in any other way.
                let _ = self.inner.trees.audit.compare_and_swap(
                    &k,
                    Some(&v),
                    Some(e.shred().encode()),
                )?;
                shredded += 1;
            }
        }
        if shredded > 0 {
            // For a standby, which deletes its copies' payloads up to here too.
            if let Some(seq) = upto {
                self.inner
                    .trees
                    .meta
                    .insert(AUDIT_SHREDDED_UPTO, &seq.to_be_bytes())?;
            }
            let mut b = Batch::new();
            b.audit(
                Event::new(EventKind::Retention, "system", "retention").details(
                    serde_json::json!({
                        "payloads_deleted": shredded,
                        "older_than": cutoff.to_string(),
                    }),
                ),
            );
            self.commit(b, now)?;
            self.flush()?;
        }
        Ok(shredded)
    }

    fn checkpoint_signer(&self) -> ed25519_dalek::SigningKey {
        self.inner
            .checkpoint_key
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the checkpoint key while the daemon runs: the rotation is an audit entry,
    /// and the checkpoint of the log with it hands over to the new key (an extension line
    /// with the new public key, signed by the old key and the new: see `checkpoint`), so
    /// the auditors' original key still verifies everything after. Then `checkpoint.key`
    /// and `checkpoint.pub` are replaced and the old public key is kept in
    /// `checkpoint-retired.pub`. Returns the hand-over note (for the auditors). A crash
    /// part-way leaves the old key in use and the log verifying.
    pub fn rotate_checkpoint_key(
        &self,
        origin: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        self.check()?;
        let old = self.checkpoint_signer();
        let new = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
        let mut b = Batch::new();
        b.audit(
            Event::new(EventKind::KeyRotated, actor, "nøgleskift").details(serde_json::json!({
                "key": "checkpoint",
                "old": hex::encode(old.verifying_key().as_bytes()),
                "new": hex::encode(new.verifying_key().as_bytes()),
            })),
        );
        self.commit(b, now)?;
        self.flush()?;
        let f = self.audit_tree()?;
        let note = crate::checkpoint::Checkpoint {
            origin: origin.to_string(),
            size: f.size,
            root: f.root(),
            next_key: Some(new.verifying_key()),
        }
        .sign_by(&[&old, &new]);
        self.inner
            .trees
            .checkpoints
            .insert(f.size.to_be_bytes(), note.as_bytes())?;
        self.flush()?;
        crate::keys::replace_checkpoint_key(&self.inner.dir, &old, &new)?;
        *self
            .inner
            .checkpoint_key
            .write()
            .unwrap_or_else(|e| e.into_inner()) = new;
        Ok(note)
    }

    /// The latest signed checkpoint, if any.
    pub fn latest_checkpoint(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .inner
            .trees
            .checkpoints
            .last()?
            .map(|(_, v)| String::from_utf8_lossy(&v).into_owned()))
    }
}
