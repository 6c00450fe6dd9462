//! Taking a backup of the running store (see `backup` for the format): a snapshot in which
//! every intake acknowledged before it began is whole, taken while intake goes on; and an
//! increment for a standby.
//!
//! The trees are copied one after the other, in an order that keeps each reference
//! consistent without stopping commits: items before their message files (an intake is
//! committed with its message, so an item in the backup has its message), item keys after
//! the items (a key is made in the item's own commit), each outbox entry with its file (one
//! delivered meanwhile is left out whole), `meta` after everything that counts references
//! (its counters only grow), and the audit log last, up to the head read in one transaction
//! with its Merkle edge, so every change copied has its audit entry and the log verifies;
//! checkpoints up to that size. The clear summaries, the blind index and the outbox
//! schedule are not copied: the restored store rebuilds them at its first open.
//!
//! An **increment** carries what changed since a standby's position (the audit log's size
//! that the backup or increment it holds read before copying anything): the intakes
//! stamped after it in `changes` (each commit stamps the intakes it writes with the log's
//! size plus one, so one applied after that read is stamped past it), an erased one named
//! `gone`; the small trees whole (item keys, so an erasure's ring rotation reaches the
//! standby, cases, outbox with its files, accounts, meta); the audit entries and
//! checkpoints after the position, up to the head read at the end; and the current ring
//! key, without which the standby could open nothing it is sent. Its own position is the
//! log's size read first, as for a backup.

use std::io::Write;

use jiff::Timestamp;

use super::Store;
use crate::backup::{Manifest, Writer};
use crate::keyspace::*;
use crate::records::OutboxEntry;
use crate::StoreError;
use sequoia_openpgp as openpgp;

/// Key files a backup always holds (none opens an intake): the checkpoint key, so the
/// restored log goes on under the key the auditors know, the signing key, and the public
/// halves. The store key never (the backup is encrypted to it).
const ALWAYS: [&str; 5] = [
    crate::keys::CHECKPOINT_KEY,
    crate::keys::CHECKPOINT_PUB,
    crate::keys::CHECKPOINT_RETIRED,
    crate::keys::SIGNING_KEY,
    crate::keys::SIGNING_CERT,
];

/// The current ring key's epoch, and the ring key files by name.
type RingFiles = (Option<u32>, Vec<(String, Vec<u8>)>);

/// The pseudo-tree of an increment that names intakes erased since the standby's position.
pub const GONE: &str = "gone";

impl Store {
    /// Writes a backup into `out` (encrypted to the store key). With `include_keys`, the
    /// blind-index key (when it lives in the data directory) and the ring key are in it too:
    /// such a backup opens erased intakes with the store key, so it is kept as the keys are.
    pub fn backup<W: Write + Send + Sync>(
        &self,
        out: W,
        include_keys: bool,
        now: Timestamp,
    ) -> Result<Manifest, StoreError> {
        self.check()?;
        self.flush()?;
        let position = self.audit_head()?.map_or(0, |(size, _)| size);
        let sealer = crypto_sealer(self)?;
        let mut w = Writer::new(sealer.writer(out)?)?;
        let i = &self.inner;
        // The intakes copied, and then only their messages: one committed after its record
        // was passed would otherwise go in as a message without its intake.
        let mut copied = std::collections::HashSet::new();
        for kv in i.trees.items.iter() {
            let (k, v) = kv?;
            w.entry(T_ITEMS, &k, &v)?;
            copied.insert(k);
        }
        for kv in i.trees.messages.iter() {
            let (k, hash) = kv?;
            if !copied.contains(&k) {
                continue;
            }
            let name = String::from_utf8_lossy(&k).into_owned();
            // Erased meanwhile: neither goes in.
            let Some(bytes) = spool_bytes(self, &name, &hash)? else {
                continue;
            };
            w.entry(T_MESSAGES, &k, &hash)?;
            w.file(&format!("{name}.pgp"), &bytes)?;
        }
        let (ring, ring_files) = self.copy_small_trees(&mut w)?;
        let (size, head) = self.copy_audit(&mut w, 0)?;
        let mut names: Vec<String> = ALWAYS.iter().map(|s| s.to_string()).collect();
        if include_keys {
            names.push(crate::keys::BLIND_KEY.into());
            for (name, bytes) in &ring_files {
                w.key_file(name, bytes)?;
            }
        }
        self.copy_key_files(&mut w, &names)?;
        let mut manifest = manifest("backup", now, size, head, ring, include_keys);
        manifest.position = Some(position);
        finish(w, manifest)
    }

    /// Writes an increment into `out` (encrypted to the store key): what a standby at
    /// `since` (the position of the backup or increment it holds) needs to hold what this
    /// store holds now (see the module). It holds the current ring key, so it opens the
    /// intakes it carries: keep it only until it is applied.
    pub fn increment<W: Write + Send + Sync>(
        &self,
        out: W,
        since: u64,
        now: Timestamp,
    ) -> Result<Manifest, StoreError> {
        self.check()?;
        self.flush()?;
        let position = self.audit_head()?.map_or(0, |(size, _)| size);
        if since > position {
            return Err(StoreError::Key(format!(
                "--since {since} is past this store's audit log ({position} entries): the standby does not follow this store"
            )));
        }
        let sealer = crypto_sealer(self)?;
        let mut w = Writer::new(sealer.writer(out)?)?;
        let i = &self.inner;
        for kv in i.trees.changes.iter() {
            let (reference, stamp) = kv?;
            let stamp = stamp
                .as_ref()
                .try_into()
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            if stamp > since {
                self.copy_intake(&mut w, &reference)?;
            }
        }
        let (ring, ring_files) = self.copy_small_trees(&mut w)?;
        let (size, head) = self.copy_audit(&mut w, since)?;
        for (name, bytes) in &ring_files {
            w.key_file(name, bytes)?;
        }
        let names: Vec<String> = ALWAYS.iter().map(|s| s.to_string()).collect();
        self.copy_key_files(&mut w, &names)?;
        let mut manifest = manifest("increment", now, size, head, ring, true);
        manifest.position = Some(position);
        manifest.since = Some(since);
        finish(w, manifest)
    }

    /// One intake of an increment: its record, message hash and file, or `gone` when it is
    /// not here any more (read in the order erasure removes them, so a record is never
    /// sent without its message).
    fn copy_intake<W: Write>(&self, w: &mut Writer<W>, reference: &[u8]) -> Result<(), StoreError> {
        let i = &self.inner;
        let name = String::from_utf8_lossy(reference).into_owned();
        let message = match i.trees.messages.get(reference)? {
            Some(hash) => match spool_bytes(self, &name, &hash)? {
                Some(bytes) => Some((hash, bytes)),
                None => return w.entry(GONE, reference, &[]),
            },
            None => None,
        };
        let Some(item) = i.trees.items.get(reference)? else {
            return w.entry(GONE, reference, &[]);
        };
        w.entry(T_ITEMS, reference, &item)?;
        if let Some((hash, bytes)) = message {
            w.entry(T_MESSAGES, reference, &hash)?;
            w.file(&format!("{name}.pgp"), &bytes)?;
        }
        Ok(())
    }

    /// The trees a backup and an increment hold whole, after the intakes: item keys,
    /// cases, the outbox with its files, accounts and `meta` (but what is derived from the
    /// audit log, written with it). Returns the current ring key's epoch and the ring key
    /// files that open the item keys copied.
    fn copy_small_trees<W: Write>(&self, w: &mut Writer<W>) -> Result<RingFiles, StoreError> {
        let i = &self.inner;
        // Held for reading while the keys are copied: a ring rotation may wrap keys under
        // its new ring key meanwhile, but can neither add one nor delete the old, so the
        // ring files read here open every key copied.
        let ring = i.locks.ring();
        copy(w, &i.trees.item_keys, T_ITEM_KEYS)?;
        let mut ring_files = Vec::new();
        for epoch in ring.retiring().into_iter().chain(ring.current()) {
            ring_files.push((crate::ring::file_name(epoch), ring.file(epoch)?));
        }
        let current = ring.current();
        drop(ring);
        copy(w, &i.trees.cases, T_CASES)?;
        copy(w, &i.trees.case_index, T_CASE_INDEX)?;
        for kv in i.trees.outbox.iter() {
            let (k, v) = kv?;
            let entry: OutboxEntry = self.open_sealed(T_OUTBOX, &k, &v)?;
            if let Some(hash) = &entry.message_sha256 {
                let name = crate::spool::Spool::outbox_name(entry.id);
                let hash = hex::decode(hash).map_err(|e| StoreError::Corrupt {
                    tree: T_OUTBOX,
                    key: name.clone(),
                    why: e.to_string(),
                })?;
                // Delivered meanwhile: the entry goes out with its file.
                let Some(bytes) = spool_bytes(self, &name, &hash)? else {
                    continue;
                };
                w.file(&format!("{name}.pgp"), &bytes)?;
            }
            w.entry(T_OUTBOX, &k, &v)?;
        }
        copy(w, &i.trees.users, T_USERS)?;
        for kv in i.trees.meta.iter() {
            let (k, v) = kv?;
            let derived = [AUDIT_HEAD, AUDIT_FRONTIER, SUMMARIES_VERSION.as_bytes()];
            if !derived.contains(&k.as_ref()) {
                w.entry(T_META, &k, &v)?;
            }
        }
        Ok((current, ring_files))
    }

    /// The audit log after entry `after`, up to the head read now with its Merkle edge, and
    /// the checkpoints in that span. Returns the head (size and hash).
    fn copy_audit<W: Write>(
        &self,
        w: &mut Writer<W>,
        after: u64,
    ) -> Result<(u64, [u8; 32]), StoreError> {
        let i = &self.inner;
        let (head, frontier) = i
            .trees
            .meta
            .transaction(|t| Ok((t.get(AUDIT_HEAD)?, t.get(AUDIT_FRONTIER)?)))
            .map_err(|e: sled::transaction::TransactionError<()>| match e {
                sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
                sled::transaction::TransactionError::Abort(()) => unreachable!(),
            })?;
        let (size, head_hash) = head
            .as_deref()
            .and_then(decode_head)
            .unwrap_or((0, [0; 32]));
        if let (Some(h), Some(f)) = (&head, &frontier) {
            w.entry(T_META, AUDIT_HEAD, h)?;
            w.entry(T_META, AUDIT_FRONTIER, f)?;
        }
        for kv in i
            .trees
            .audit
            .range((after + 1).to_be_bytes()..=size.to_be_bytes())
        {
            let (k, v) = kv?;
            w.entry(T_AUDIT, &k, &v)?;
        }
        // A whole log's checkpoints from the first (one may be of the empty log).
        let first = if after == 0 { 0 } else { after + 1 };
        for kv in i
            .trees
            .checkpoints
            .range(first.to_be_bytes()..=size.to_be_bytes())
        {
            let (k, v) = kv?;
            w.entry(T_CHECKPOINTS, &k, &v)?;
        }
        Ok((size, head_hash))
    }

    fn copy_key_files<W: Write>(
        &self,
        w: &mut Writer<W>,
        names: &[String],
    ) -> Result<(), StoreError> {
        let dir = &self.inner.dir;
        for name in names {
            match std::fs::read(dir.join(name)) {
                Ok(bytes) => w.key_file(name, &bytes)?,
                // Kept apart ([keys]) or not made yet.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StoreError::Io {
                        path: dir.join(name),
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    /// Writes the keyring into `out` (encrypted to the store key): every intake's key,
    /// wrapped under the current ring key, and that ring key. What a restore of a backup
    /// taken before the latest erasure needs: it opens every intake that is still here and
    /// none that was erased. Only the latest is worth keeping (an older one still opens what
    /// was erased since).
    pub fn export_keyring<W: Write + Send + Sync>(
        &self,
        out: W,
        now: Timestamp,
    ) -> Result<Manifest, StoreError> {
        self.check()?;
        // Held for reading: no rotation replaces the ring key while the keys are copied.
        let ring = self.inner.locks.ring();
        let epoch = ring.current();
        let sealer = crypto_sealer(self)?;
        let mut w = Writer::new(sealer.writer(out)?)?;
        copy(&mut w, &self.inner.trees.item_keys, T_ITEM_KEYS)?;
        if let Some(e) = epoch {
            w.key_file(&crate::ring::file_name(e), &ring.file(e)?)?;
        }
        drop(ring);
        let head = self.audit_head()?.unwrap_or((0, [0; 32]));
        finish(w, manifest("keyring", now, head.0, head.1, epoch, true))
    }
}

/// Writes the manifest and ends the encryption.
fn finish(
    w: Writer<openpgp::serialize::stream::Message<'_>>,
    manifest: Manifest,
) -> Result<Manifest, StoreError> {
    let (sealed, manifest) = w.finish(manifest)?;
    sealed
        .finalize()
        .map_err(|e| StoreError::Crypto(e.to_string()))?;
    Ok(manifest)
}

fn crypto_sealer(store: &Store) -> Result<crate::crypto::Sealer, StoreError> {
    crate::crypto::Sealer::new(&[&store.store_keys().current])
}

fn copy<W: Write>(w: &mut Writer<W>, tree: &sled::Tree, name: &str) -> Result<(), StoreError> {
    for kv in tree.iter() {
        let (k, v) = kv?;
        w.entry(name, &k, &v)?;
    }
    Ok(())
}

/// A spool file checked against its hash; `None` when it is gone (removed since the entry
/// was read).
fn spool_bytes(store: &Store, name: &str, hash: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    match store.inner.spool.read(name, hash) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn manifest(
    kind: &str,
    now: Timestamp,
    audit_size: u64,
    head: [u8; 32],
    ring_epoch: Option<u32>,
    includes_keys: bool,
) -> Manifest {
    Manifest {
        kind: kind.into(),
        modtag_version: env!("CARGO_PKG_VERSION").into(),
        created_at: now,
        audit_size,
        audit_head: hex::encode(head),
        ring_epoch,
        includes_keys,
        position: None,
        since: None,
        trees: Default::default(),
        files: Default::default(),
        key_files: Default::default(),
    }
}
