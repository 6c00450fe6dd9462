//! What commits together or not at all.

use crate::audit::Event;
use crate::records::{Case, Item, OutboxEntry, User};

/// Changes that commit together or not at all.
#[derive(Default)]
pub struct Batch {
    /// A message as parts whose concatenation is the stored message.
    pub(super) messages: Vec<(String, Vec<Vec<u8>>)>,
    pub(super) items: Vec<Item>,
    pub(super) cases: Vec<Case>,
    pub(super) outbox_put: Vec<OutboxEntry>,
    pub(super) outbox_delete: Vec<u64>,
    /// Entries of `outbox_delete` known to have no file of their own (nothing to unlink).
    pub(super) outbox_fileless: Vec<u64>,
    /// Entries of `outbox_put` put back after a try: kept only if still there.
    pub(super) outbox_again: Vec<u64>,
    pub(super) events: Vec<Event>,
    pub(super) users: Vec<User>,
    /// Accounts that must still be as they were read (the SHA-256 of the stored record, or
    /// `None` for none) for the batch to commit: compare-and-swap.
    pub(super) users_seen: Vec<(String, Option<[u8; 32]>)>,
    pub(super) series: Vec<crate::series::SentSeries>,
    pub(super) erased: Vec<Erased>,
    /// Messages sealed again (under their intake's own key), replacing their files.
    pub(super) resealed: Vec<(String, Vec<u8>)>,
}

/// An intake to erase, as it was (its blind-index keys are computed from it under the key
/// the commit holds).
pub(super) struct Erased {
    pub item: Item,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }
    /// Stores a raw message under its reference.
    pub fn message(&mut self, reference: &str, raw: Vec<u8>) -> &mut Self {
        self.messages.push((reference.to_string(), vec![raw]));
        self
    }
    /// Stores `header` followed by `raw` (our trace header in front of a received message)
    /// without copying them into one buffer.
    pub fn message_with_header(
        &mut self,
        reference: &str,
        header: Vec<u8>,
        raw: Vec<u8>,
    ) -> &mut Self {
        self.messages
            .push((reference.to_string(), vec![header, raw]));
        self
    }
    /// The statusmøde invitations sent for a school year, replacing what was kept.
    pub fn series(&mut self, series: crate::series::SentSeries) -> &mut Self {
        self.series.push(series);
        self
    }
    pub fn item(&mut self, item: Item) -> &mut Self {
        self.items.push(item);
        self
    }
    pub fn case(&mut self, case: Case) -> &mut Self {
        self.cases.push(case);
        self
    }
    pub fn outbox(&mut self, entry: OutboxEntry) -> &mut Self {
        self.outbox_put.push(entry);
        self
    }
    /// Puts back an entry read from the store (tried, or set to be tried again) only if it
    /// is still there when the batch commits: delivered meanwhile, or erased with its
    /// intake (its file gone with it), it must not come back as a record without a file.
    pub fn outbox_again(&mut self, entry: OutboxEntry) -> &mut Self {
        self.outbox_again.push(entry.id);
        self.outbox_put.push(entry);
        self
    }
    pub fn outbox_done(&mut self, id: u64) -> &mut Self {
        self.outbox_delete.push(id);
        self
    }
    /// As [`Batch::outbox_done`], for an entry as read: one whose message was kept in its
    /// record has no file for the flush to remove.
    pub fn outbox_done_entry(&mut self, entry: &crate::records::OutboxEntry) -> &mut Self {
        if entry.message_sha256.is_none() {
            self.outbox_fileless.push(entry.id);
        }
        self.outbox_done(entry.id)
    }
    pub fn audit(&mut self, event: Event) -> &mut Self {
        self.events.push(event);
        self
    }
    /// Writes a built-in account. A change to an existing one goes through
    /// [`Store::change_user`](super::Store::change_user), which makes the write conditional
    /// on the account being as it was read.
    pub fn user(&mut self, user: User) -> &mut Self {
        self.users.push(user);
        self
    }

    /// Whether the batch writes or records nothing.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
            && self.items.is_empty()
            && self.cases.is_empty()
            && self.outbox_put.is_empty()
            && self.outbox_delete.is_empty()
            && self.events.is_empty()
            && self.users.is_empty()
            && self.series.is_empty()
            && self.erased.is_empty()
            && self.resealed.is_empty()
    }

    /// The items the batch writes, for reading what a plan decided (tests of the workflow
    /// check a batch without a store).
    pub fn items(&self) -> &[Item] {
        &self.items
    }
    /// The outbox entries the batch queues.
    pub fn outbox_entries(&self) -> &[OutboxEntry] {
        &self.outbox_put
    }
    /// The audit events the batch appends.
    pub fn events(&self) -> &[Event] {
        &self.events
    }
}
