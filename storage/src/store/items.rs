//! Reading intakes: items, their summaries, their messages, a child's earlier intakes.

use super::Store;
use crate::keyspace::*;
use crate::records::{Item, ItemState};
use crate::summary::ItemSummary;
use crate::StoreError;

impl Store {
    pub fn item(&self, reference: &str) -> Result<Option<Item>, StoreError> {
        match self.inner.trees.items.get(reference.as_bytes())? {
            Some(v) => Ok(Some(self.open_item(reference.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    /// Every item, in reference order.
    pub fn items(&self) -> Result<Vec<Item>, StoreError> {
        self.inner
            .trees
            .items
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                self.open_item(&k, &v)
            })
            .collect()
    }

    /// The items whose state `keep` accepts, by reference: only those are decrypted.
    pub fn items_where(&self, keep: impl Fn(ItemState) -> bool) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        for kv in self.inner.trees.item_state.iter() {
            let (k, v) = kv?;
            if !keep(parse_summary(&k, &v)?.state) {
                continue;
            }
            if let Some(v) = self.inner.trees.items.get(&k)? {
                out.push(self.open_item(&k, &v)?);
            }
        }
        Ok(out)
    }

    /// One intake's summary, without decrypting anything.
    pub fn summary(&self, reference: &str) -> Result<Option<ItemSummary>, StoreError> {
        let key = reference.as_bytes();
        match self.inner.trees.item_state.get(key)? {
            Some(v) => Ok(Some(parse_summary(key, &v)?)),
            None => Ok(None),
        }
    }

    /// Every intake's summary, by reference, without decrypting anything.
    pub fn summaries(&self) -> Result<Vec<ItemSummary>, StoreError> {
        self.inner
            .trees
            .item_state
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                parse_summary(&k, &v)
            })
            .collect()
    }

    /// Every intake's reference and summary, in reference order, decrypting nothing: what
    /// the queue filters, sorts and pages before it opens the rows it shows.
    pub fn summaries_by_reference(&self) -> Result<Vec<(String, ItemSummary)>, StoreError> {
        self.inner
            .trees
            .item_state
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                Ok((
                    String::from_utf8_lossy(&k).into_owned(),
                    parse_summary(&k, &v)?,
                ))
            })
            .collect()
    }

    /// The items of `references`, in that order (a reference with no item is left out).
    pub fn items_by_reference(&self, references: &[String]) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::with_capacity(references.len());
        for r in references {
            if let Some(item) = self.item(r)? {
                out.push(item);
            }
        }
        Ok(out)
    }

    /// How many kvitteringer went to `address` on `at`'s day before this one, counting those
    /// planned and not yet committed: intakes accepted at the same moment each see the
    /// others (issue 26: fifteen sessions at once must not each see "none yet"). The count
    /// is taken as the kvittering is planned; one that is then not sent still counts, which
    /// errs towards a person sending it.
    pub fn reserve_kvittering(
        &self,
        address: &str,
        at: jiff::Timestamp,
    ) -> Result<usize, StoreError> {
        let day = day_of(at);
        let key = kvittering_hash(&*self.blind_key(), address, &day);
        let mut counts = self
            .inner
            .kvittering_counts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if counts.0 != day {
            *counts = (day, Default::default());
        }
        let before = match counts.1.get(&key) {
            Some(n) => *n,
            None => self.inner.trees.item_index.scan_prefix(key).count(),
        };
        counts.1.insert(key, before + 1);
        Ok(before)
    }

    /// The intake whose reporter's address link has a token of this SHA-256 (hex), by the
    /// blind index. The caller checks the link against the item: the index keeps a used one.
    pub fn item_for_address_link(&self, token_sha256: &str) -> Result<Option<String>, StoreError> {
        let prefix = address_link_hash(&*self.blind_key(), token_sha256);
        match self.inner.trees.item_index.scan_prefix(prefix).next() {
            Some(kv) => Ok(Some(String::from_utf8_lossy(&kv?.0[32..]).into_owned())),
            None => Ok(None),
        }
    }

    /// The intake a Digital Post letter (its MeMo message UUID) belongs to, by the blind
    /// index.
    pub fn item_for_letter(&self, message_uuid: &str) -> Result<Option<String>, StoreError> {
        let prefix = letter_hash(&*self.blind_key(), message_uuid);
        match self.inner.trees.item_index.scan_prefix(prefix).next() {
            Some(kv) => Ok(Some(String::from_utf8_lossy(&kv?.0[32..]).into_owned())),
            None => Ok(None),
        }
    }

    /// The references of the intakes sent to the directory person `person`, from the blind
    /// index (nothing is decrypted).
    pub fn items_sent_to(&self, person: &str) -> Result<Vec<String>, StoreError> {
        let prefix = sent_hash(&*self.blind_key(), person);
        self.inner
            .trees
            .item_index
            .scan_prefix(prefix)
            .map(|kv| {
                let (k, _) = kv?;
                Ok(String::from_utf8_lossy(&k[32..]).into_owned())
            })
            .collect()
    }

    /// The raw message of `reference`, decrypted in memory.
    pub fn message(&self, reference: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.inner.trees.messages.get(reference.as_bytes())? {
            Some(hash) => {
                let v = self.inner.spool.read(reference, &hash)?;
                let plain = self
                    .open_for(reference, &v)
                    .map_err(|e| StoreError::Corrupt {
                        tree: T_MESSAGES,
                        key: reference.to_string(),
                        why: e.to_string(),
                    })?;
                Ok(Some(plain))
            }
            None => Ok(None),
        }
    }

    /// References of every intake that named this CPR (ten digits), in reference order.
    pub fn items_for_cpr(&self, cpr_digits: &str) -> Result<Vec<String>, StoreError> {
        self.index_refs(self.blind(cpr_digits))
    }

    /// References of every intake about a child of this name (as `normalised_name` reads
    /// it: the whole name, or first and last name), in reference order.
    pub fn items_for_child_name(&self, name: &str) -> Result<Vec<String>, StoreError> {
        let full = crate::names::normalised_name(name);
        if full.is_empty() {
            return Ok(Vec::new());
        }
        self.index_refs(crate::keyspace::name_hash(&*self.blind_key(), &full))
    }

    fn index_refs(&self, prefix: [u8; 32]) -> Result<Vec<String>, StoreError> {
        self.inner
            .trees
            .item_index
            .scan_prefix(prefix)
            .map(|kv| {
                let (k, _) = kv?;
                Ok(String::from_utf8_lossy(&k[32..]).into_owned())
            })
            .collect()
    }
}
