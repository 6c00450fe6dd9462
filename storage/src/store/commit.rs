//! Writing a [`Batch`]: message files first, then one sled transaction across the trees,
//! with the audit chain and the Merkle tree's edge extended inside it. Also
//! [`Store::transaction`], which every transaction that writes goes through (the key
//! rotations' too).

use std::sync::atomic::Ordering;

use jiff::Timestamp;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use super::batch::Batch;
use super::trees::{Abort, Tx};
use super::Store;
use crate::audit::Entry;
use crate::crypto;
use crate::keyspace::*;
use crate::StoreError;

impl Store {
    /// Writes a batch atomically. Not yet durable: call [`Store::flush`] before telling
    /// anyone it happened.
    pub fn commit(&self, batch: Batch, now: Timestamp) -> Result<(), StoreError> {
        self.commit_as(batch, now, false)
    }

    /// As [`Store::commit`], durable when it returns: the transaction's leader flushes for
    /// every durable commit it applied, so their callers wake once (intake, issue 33).
    pub fn commit_durable(&self, batch: Batch, now: Timestamp) -> Result<(), StoreError> {
        self.commit_as(batch, now, true)
    }

    fn commit_as(&self, batch: Batch, now: Timestamp, durable: bool) -> Result<(), StoreError> {
        self.check()?;
        // Message files are written first, durably, names and all (see `spool`); the
        // transaction records their hashes. If anything after that fails, the files are
        // removed again.
        // So are the outbox's messages (sled would keep them resident): a new entry's goes
        // to `spool/outbox-<id>.pgp`, and the record keeps its hash; a small one is kept
        // sealed in the record instead (`INLINE_MAX`).
        let mut batch = batch;
        let mut messages = Vec::new();
        let mut new_files = Vec::new();
        let mut replacements = Vec::new();
        // New small entries in clear, for the outbox worker (see `handed`).
        let mut handed = Vec::new();
        // Held until the transaction is applied (see `locks`).
        let held = self.inner.locks.commit();
        let mut sealers = self.item_sealers(held.ring());
        let result = (|| {
            for item in &batch.items {
                sealers.ensure(&item.reference)?;
            }
            for (r, parts) in &batch.messages {
                let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
                let ciphertext = sealers.seal(r, &parts)?;
                let hash = self.inner.spool.write(r, &ciphertext)?;
                new_files.push(r.clone());
                messages.push((r.clone(), hash.to_vec()));
            }
            for (r, plain) in &batch.resealed {
                let ciphertext = sealers.seal(r, &[plain])?;
                let hash = self.inner.spool.write_replacement(r, &ciphertext)?;
                replacements.push(r.clone());
                messages.push((r.clone(), hash.to_vec()));
            }
            for entry in &mut batch.outbox_put {
                let message = std::mem::take(&mut entry.message);
                // An entry's message never changes once queued: one put back keeps the file
                // (or the sealed message) its stored record names now, not the one it was read
                // with (a store key rotation may have sealed it again since).
                if let Some(stored) = self.sealed_at::<crate::records::OutboxEntry>(
                    &self.inner.trees.outbox,
                    T_OUTBOX,
                    &entry.id.to_be_bytes(),
                )? {
                    entry.message_sha256 = stored.message_sha256;
                    entry.message_sealed = stored.message_sealed;
                }
                if entry.message_stored() {
                    continue;
                }
                let ciphertext = sealers.seal_if_keyed(&entry.reference, &[message.as_bytes()])?;
                if message.len() <= crate::outbox::INLINE_MAX {
                    entry.message_sealed = Some(ciphertext);
                    if entry.attempts == 0 && entry.failed.is_none() {
                        let mut copy = entry.clone();
                        copy.message = message;
                        handed.push(copy);
                    }
                    continue;
                }
                let name = crate::spool::Spool::outbox_name(entry.id);
                let hash = self.inner.spool.write(&name, &ciphertext)?;
                new_files.push(name);
                entry.message_sha256 = Some(hex::encode(hash));
            }
            self.commit_sealed(
                (&batch, handed),
                &messages,
                &mut sealers,
                held.blind(),
                (now, durable),
            )
        })();
        drop(sealers);
        drop(held);
        match &result {
            Err(e) => {
                // A failed fsync: what the kernel still holds may not be what reaches the
                // disk, whatever a retry says; no more work until a restart (issue 32).
                if matches!(e, StoreError::NotDurable { .. }) {
                    self.inner.poisoned.store(true, Ordering::SeqCst);
                }
                for name in &new_files {
                    self.inner.spool.remove(name);
                }
                for name in &replacements {
                    self.inner.spool.drop_replacement(name);
                }
            }
            // A delivered entry's message goes with it, once the flush has made the
            // record's removal durable (a file removed first could leave a record without
            // its file after a power cut; a crash before leaves a file the next open removes).
            Ok(_) => {
                let queued = batch.outbox_put.len() as u64;
                self.inner.queued.fetch_add(queued, Ordering::SeqCst);
                let gone = batch.outbox_delete.iter().chain(&batch.outbox_again);
                self.inner.handed.withdraw(gone.copied());
                let names = (batch.outbox_delete.iter())
                    .filter(|id| !batch.outbox_fileless.contains(id))
                    .map(|id| crate::spool::Spool::outbox_name(*id));
                (self.inner.unlinked.lock().expect("unlinked lock")).extend(names);
            }
        }
        // Applied, and (durable) the flush's own result: a failed flush keeps the files
        // its records name, and has poisoned the store.
        result?
    }

    /// The batch's records, sealed, written in one transaction with the message hashes
    /// already on disk, new item keys, erasures, and the audit entries.
    /// `handed`: new outbox entries in clear, offered to the outbox worker with their
    /// sealed records (see `handed`).
    fn commit_sealed(
        &self,
        (batch, handed): (&Batch, Vec<crate::records::OutboxEntry>),
        messages: &[(String, Vec<u8>)],
        sealers: &mut super::ItemSealers<'_>,
        blind: &[u8; 32],
        (now, durable): (Timestamp, bool),
    ) -> Result<Flushed, StoreError> {
        let sealed = self.seal_batch(batch, sealers, blind)?;
        // Offered before the transaction, so that no read of the record can come before
        // its copy; withdrawn if the commit fails.
        let copies = (handed.into_iter())
            .filter_map(|e| {
                let row = sealed.outbox.iter().find(|row| row.0 == e.id)?;
                Some((row.3.clone(), e))
            })
            .collect();
        let offered = self.inner.handed.offer(copies);
        let writes = Writes {
            sealed,
            messages: messages.to_vec(),
            new_keys: sealers.new_keys().to_vec(),
            erased: (batch.erased.iter())
                .map(|e| (e.item.reference.clone(), item_index_keys(blind, &e.item)))
                .collect(),
            users_seen: batch.users_seen.clone(),
            outbox_delete: batch.outbox_delete.clone(),
            outbox_again: batch.outbox_again.clone(),
            now,
            durable,
        };
        let applied = crate::failpoint::step("commit.transaction")
            .map_err(|e| self.storage_failed(sled::Error::Io(e)))
            .and_then(|()| {
                (self.inner.combined).run(
                    writes,
                    |jobs| self.apply_writes(jobs),
                    || Err(StoreError::Poisoned),
                )
            });
        if applied.is_err() {
            self.inner.handed.withdraw(offered);
        }
        applied
    }

    /// The writes of the commits of the moment in one transaction, in the order they came
    /// (see [`crate::group::Combiner`]). One whose checks fail (an account changed) gets
    /// its error and the others are tried again without it.
    fn apply_writes(&self, mut jobs: Vec<(u64, Writes)>) -> Vec<(u64, Applied)> {
        let mut outcomes = Vec::new();
        let mut durable = Vec::new();
        while !jobs.is_empty() {
            let applied = self.inner.trees.transaction(|t| {
                for (i, (_, writes)) in jobs.iter().enumerate() {
                    writes.apply(t).map_err(|e| match e {
                        Abort::Abort(e) => ConflictableTransactionError::Abort((i, e)),
                        Abort::Conflict => ConflictableTransactionError::Conflict,
                        Abort::Storage(e) => ConflictableTransactionError::Storage(e),
                    })?;
                }
                Ok(())
            });
            match applied {
                Ok(()) => {
                    for (id, writes) in jobs.drain(..) {
                        match writes.durable {
                            true => durable.push(id),
                            false => outcomes.push((id, Ok(Ok(())))),
                        }
                    }
                }
                Err(TransactionError::Abort((i, e))) => outcomes.push((jobs.remove(i).0, Err(e))),
                Err(TransactionError::Storage(e)) => {
                    for (id, _) in jobs.drain(..) {
                        outcomes.push((id, Err(self.storage_failed(e.clone()))));
                    }
                }
            }
        }
        if !durable.is_empty() {
            // Once for all of them. A failure has poisoned the store: the first gets it, the
            // others its like (a full disk stays a full disk, answered as such).
            let mut flushed = self.flush();
            for id in durable {
                let like = match &flushed {
                    Ok(()) => Ok(()),
                    Err(StoreError::Full(why)) => Err(StoreError::Full(why.clone())),
                    Err(_) => Err(StoreError::Poisoned),
                };
                outcomes.push((id, Ok(std::mem::replace(&mut flushed, like))));
            }
        }
        outcomes
    }

    /// Encrypts the batch's records outside the transaction: it is the expensive part, and
    /// a transaction closure may run more than once.
    fn seal_batch(
        &self,
        batch: &Batch,
        sealers: &mut super::ItemSealers<'_>,
        blind: &[u8; 32],
    ) -> Result<Sealed, StoreError> {
        let mut items = Vec::new();
        let mut item_keys = Vec::new();
        for item in &batch.items {
            items.push((
                item.reference.clone(),
                summary_json(item)?,
                sealers.seal(&item.reference, &[&serde_json::to_vec(item)?])?,
            ));
            item_keys.extend(item_index_keys(blind, item));
        }
        let mut cases = Vec::new();
        for case in &batch.cases {
            cases.push((
                case.case_number.clone(),
                case_key(blind, case),
                self.seal(case)?,
            ));
        }
        let mut outbox = Vec::new();
        for entry in &batch.outbox_put {
            // A failed entry is kept but leaves the schedule.
            let due = match entry.failed {
                None => Ok(time_key(entry.next_attempt)),
                Some(at) => Err(time_key(at)),
            };
            // Tried and not yet delivered: when it was queued, for the age of the oldest.
            let deferred =
                (entry.attempts > 0 && entry.failed.is_none()).then(|| time_key(entry.created));
            outbox.push((entry.id, due, deferred, self.seal(entry)?));
        }
        let mut users = Vec::new();
        for user in &batch.users {
            users.push((user.id.clone(), self.seal(user)?));
        }
        let mut series = Vec::new();
        for s in &batch.series {
            series.push((crate::series::key(s.school_year), self.seal(s)?));
        }
        Ok(Sealed {
            items,
            item_keys,
            cases,
            outbox,
            users,
            series,
            events: self.seal_events(batch)?,
        })
    }

    /// The batch's audit events, each encrypted to the auditors: only their keys, never on
    /// the server, read what the log says happened. The entries of one actor about one
    /// intake share a session key (`crypto::agreement::SharedKey`), each entry opening on its own.
    fn seal_events(&self, batch: &Batch) -> Result<Vec<(&'static str, Vec<u8>)>, StoreError> {
        if batch.events.is_empty() {
            return Ok(Vec::new());
        }
        let recipients = self.inner.auditors.recipients()?;
        // By actor and intake: the entries of each share a session key.
        let mut keys: Vec<((&str, Option<&str>), crypto::agreement::SharedKey<'_>)> = Vec::new();
        let mut sealed = Vec::new();
        for event in &batch.events {
            let who = (event.actor.as_str(), event.reference.as_deref());
            let at = match keys.iter().position(|(k, _)| *k == who) {
                Some(at) => at,
                None => {
                    keys.push((who, crypto::agreement::SharedKey::new(&recipients)?));
                    keys.len() - 1
                }
            };
            let payload = keys[at].1.encrypt(&serde_json::to_vec(event)?)?;
            sealed.push((event.kind.as_str(), payload));
        }
        Ok(sealed)
    }

    /// Runs `f` in one sled transaction over every tree, each under its name (see `trees`);
    /// sled runs it again on a conflict. An abort is `f`'s error; a failure of sled's own
    /// stops writes if it was an IO error (see [`Store::storage_failed`]).
    pub(super) fn transaction<A>(
        &self,
        f: impl Fn(&Tx<'_>) -> Result<A, Abort>,
    ) -> Result<A, StoreError> {
        self.inner.trees.transaction(f).map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => self.storage_failed(e),
        })
    }

    pub(super) fn storage_failed(&self, e: sled::Error) -> StoreError {
        // An IO error inside sled may have left its log in an unknown state: stop writing.
        if matches!(e, sled::Error::Io(_)) {
            self.inner.poisoned.store(true, Ordering::SeqCst);
        }
        let full = matches!(&e, sled::Error::Io(io) if io.raw_os_error() == Some(28));
        if full {
            StoreError::Full(e.to_string())
        } else {
            StoreError::Sled(e)
        }
    }
}

/// One commit's writes, owned: whichever commit leads the transaction applies them.
pub(super) struct Writes {
    sealed: Sealed,
    /// `(reference, SHA-256 of its message file)`.
    messages: Vec<(String, Vec<u8>)>,
    /// Item keys made by this commit, wrapped: `(reference, wrapped key)`.
    new_keys: Vec<(String, Vec<u8>)>,
    /// `(reference, its blind-index keys)` of the intakes erased.
    erased: Vec<(String, Vec<Vec<u8>>)>,
    users_seen: Vec<(String, Option<[u8; 32]>)>,
    outbox_delete: Vec<u64>,
    outbox_again: Vec<u64>,
    now: Timestamp,
    /// Flushed by the leader before its caller is answered.
    durable: bool,
}

/// A durable commit's flush: `Ok` also for a commit that was not to be flushed.
type Flushed = Result<(), StoreError>;

/// A commit's transaction applied (or why not), and its flush.
pub(super) type Applied = Result<Flushed, StoreError>;

impl Writes {
    /// The records, sealed, with the message hashes already on disk, new item keys,
    /// erasures, and the audit entries. Only reads and writes the trees: a transaction may
    /// run it more than once.
    fn apply(&self, t: &Tx<'_>) -> Result<(), Abort> {
        let sealed = &self.sealed;
        stamp_changes(t, &sealed.items, &self.messages, &self.erased)?;
        for (r, wrapped) in &self.new_keys {
            t.item_keys.insert(r.as_bytes(), wrapped.as_slice())?;
        }
        super::erase::in_transaction(t, &self.erased)?;
        check_users_unchanged(t, &self.users_seen)?;
        for (id, c) in &sealed.users {
            t.users.insert(id.as_bytes(), c.as_slice())?;
        }
        for (key, c) in &sealed.series {
            t.meta.insert(key.as_bytes(), c.as_slice())?;
        }
        for key in &sealed.item_keys {
            t.item_index.insert(key.as_slice(), &[])?;
        }
        for (r, c) in &self.messages {
            t.messages.insert(r.as_bytes(), c.as_slice())?;
        }
        put_items(t, &sealed.items)?;
        put_cases(t, &sealed.cases)?;
        put_outbox(t, &sealed.outbox, &self.outbox_delete, &self.outbox_again)?;
        append_audit(t.audit, t.meta, &sealed.events, self.now)
    }
}

/// A batch's records as [`Store::seal_batch`] encrypted them for the transaction.
struct Sealed {
    /// `(reference, summary, sealed item)`.
    items: Vec<(String, Vec<u8>, Vec<u8>)>,
    /// The items' blind-index keys.
    item_keys: Vec<Vec<u8>>,
    /// `(case number, blind case key, sealed case)`.
    cases: Vec<(String, Vec<u8>, Vec<u8>)>,
    outbox: Vec<OutboxRow>,
    /// `(account id, sealed account)`.
    users: Vec<(String, Vec<u8>)>,
    /// `(meta key, sealed series)`.
    series: Vec<(String, Vec<u8>)>,
    /// `(event kind, payload encrypted to the auditors)`.
    events: Vec<(&'static str, Vec<u8>)>,
}

/// An outbox entry to store: its id, its due time (or, failed, when it failed), when it was
/// queued if it has been tried and not delivered, and the sealed entry.
type OutboxRow = (u64, Result<[u8; 16], [u8; 16]>, Option<[u8; 16]>, Vec<u8>);

/// What a standby's increment goes by (see `T_CHANGES`): a commit applied after an
/// increment read the log's size is stamped past it.
fn stamp_changes(
    t: &Tx<'_>,
    items: &[(String, Vec<u8>, Vec<u8>)],
    messages: &[(String, Vec<u8>)],
    erased: &[(String, Vec<Vec<u8>>)],
) -> Result<(), Abort> {
    let stamp = match t.meta.get(AUDIT_HEAD)? {
        Some(v) => decode_head(&v).map_or(0, |(seq, _)| seq),
        None => 0,
    } + 1;
    let stamp = stamp.to_be_bytes();
    let changed = (items.iter().map(|(r, _, _)| r.as_str()))
        .chain(messages.iter().map(|(r, _)| r.as_str()))
        .chain(erased.iter().map(|(r, _)| r.as_str()));
    for r in changed {
        t.changes.insert(r.as_bytes(), &stamp)?;
    }
    Ok(())
}

/// Aborts if an account changed since the batch read it, so that two changes to one
/// account do not overwrite each other.
fn check_users_unchanged(
    t: &Tx<'_>,
    users_seen: &[(String, Option<[u8; 32]>)],
) -> Result<(), Abort> {
    for (id, seen) in users_seen {
        let now = t.users.get(id.as_bytes())?.map(|v| super::users::seen(&v));
        if now != *seen {
            return Err(Abort::Abort(StoreError::Changed(format!("account {id}"))));
        }
    }
    Ok(())
}

/// The items and their summaries, raising the year's reference counter past any stored
/// reference.
fn put_items(t: &Tx<'_>, items: &[(String, Vec<u8>, Vec<u8>)]) -> Result<(), Abort> {
    for (r, summary, c) in items {
        t.items.insert(r.as_bytes(), c.as_slice())?;
        t.item_state.insert(r.as_bytes(), summary.as_slice())?;
        if let Some((year, n)) = parse_reference(r) {
            let key = refseq_key(year);
            let stored = t
                .meta
                .get(key.as_bytes())?
                .and_then(|v| v.as_ref().try_into().ok())
                .map(u64::from_be_bytes);
            if stored.is_none_or(|s| s < n) {
                t.meta.insert(key.as_bytes(), &n.to_be_bytes())?;
            }
        }
    }
    Ok(())
}

/// The cases, each findable under its blind key.
fn put_cases(t: &Tx<'_>, cases: &[(String, Vec<u8>, Vec<u8>)]) -> Result<(), Abort> {
    for (number, key, c) in cases {
        // A case whose CPR changed must not stay findable under the old one.
        if let Some(old) = t.case_index.get(number.as_bytes())? {
            if old.as_ref() != key.as_slice() {
                t.cases.remove(old)?;
            }
        }
        t.case_index.insert(number.as_bytes(), key.as_slice())?;
        t.cases.insert(key.as_slice(), c.as_slice())?;
    }
    Ok(())
}

/// The outbox's entries and their places in the schedule; delivered entries leave both;
/// one put back `again` that is gone stays gone.
fn put_outbox(
    t: &Tx<'_>,
    outbox: &[OutboxRow],
    delete: &[u64],
    again: &[u64],
) -> Result<(), Abort> {
    for (id, due, deferred, c) in outbox {
        if again.contains(id) && t.outbox.get(id.to_be_bytes())?.is_none() {
            continue;
        }
        // A new entry has no place in the schedule yet to take it out of (its three
        // look-ups were a tenth of the outbox's part of the transaction, issue 33).
        if t.outbox.insert(&id.to_be_bytes(), c.as_slice())?.is_some() {
            unschedule(t.outbox_sched, *id)?;
        }
        if let Some(queued) = deferred {
            t.outbox_sched
                .insert(sched_deferred_key(*id).as_slice(), queued.as_slice())?;
        }
        match due {
            Ok(due) => {
                t.outbox_sched
                    .insert(sched_due_key(due, *id).as_slice(), &[])?;
                t.outbox_sched
                    .insert(sched_id_key(*id).as_slice(), due.as_slice())?;
            }
            Err(failed) => {
                t.outbox_sched
                    .insert(sched_failed_key(*id).as_slice(), failed.as_slice())?;
            }
        }
    }
    for id in delete {
        t.outbox.remove(&id.to_be_bytes())?;
        unschedule(t.outbox_sched, *id)?;
    }
    Ok(())
}

fn append_audit(
    audit: &TransactionalTree,
    meta: &TransactionalTree,
    events: &[(&'static str, Vec<u8>)],
    now: Timestamp,
) -> Result<(), Abort> {
    if events.is_empty() {
        return Ok(());
    }
    let (mut seq, mut prev) = match meta.get(AUDIT_HEAD)? {
        Some(v) => decode_head(&v).ok_or_else(|| {
            Abort::Abort(StoreError::Corrupt {
                tree: T_META,
                key: "audit_head".into(),
                why: "malformed".into(),
            })
        })?,
        None => (0, [0u8; 32]),
    };
    let mut frontier = match meta.get(AUDIT_FRONTIER)? {
        Some(v) => crate::merkle::Frontier::decode(&v).ok_or_else(|| {
            Abort::Abort(StoreError::Corrupt {
                tree: T_META,
                key: "audit_frontier".into(),
                why: "malformed".into(),
            })
        })?,
        None => crate::merkle::Frontier::default(),
    };
    for (kind, payload) in events {
        seq += 1;
        let entry = Entry::new(seq, now, kind, payload.clone(), prev);
        audit.insert(&seq.to_be_bytes(), entry.encode())?;
        frontier.push(entry.leaf_hash());
        prev = entry.hash;
    }
    let mut head = seq.to_be_bytes().to_vec();
    head.extend_from_slice(&prev);
    meta.insert(AUDIT_HEAD, head)?;
    meta.insert(AUDIT_FRONTIER, frontier.encode())?;
    Ok(())
}
