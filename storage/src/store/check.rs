//! `modtag check` (issue 32): a stopped data directory read through, as a restore or a
//! power cut left it: every intake decrypts, every message file matches the hash its record
//! keeps and decrypts, every outbox copy's file is there and matches, and the audit log
//! verifies. Problems are collected, not stopped at: the report names each one by reference
//! (never its content).

use serde::Serialize;

use super::Store;
use crate::StoreError;

#[derive(Debug, Default, Serialize)]
pub struct Checked {
    pub intakes: usize,
    pub messages: usize,
    pub outbox: usize,
    pub audit_entries: u64,
    /// Each problem found, in words with the reference or file it is about.
    pub problems: Vec<String>,
}

impl Store {
    /// Reads everything the store holds; see the module's comment.
    pub fn read_through(&self) -> Checked {
        let mut c = Checked::default();
        let trees = &self.inner.trees;
        let name = |k: &[u8]| String::from_utf8_lossy(k).into_owned();
        for kv in trees.items.iter() {
            c.intakes += 1;
            match kv {
                Ok((k, v)) => {
                    if let Err(e) = self.open_item::<crate::records::Item>(&k, &v) {
                        c.problems
                            .push(format!("intake {} does not open: {e}", name(&k)));
                    }
                }
                Err(e) => c.problems.push(format!("the intakes' tree: {e}")),
            }
        }
        for kv in trees.messages.iter() {
            c.messages += 1;
            match kv {
                Ok((k, _)) => {
                    if let Err(e) = self.message(&name(&k)) {
                        c.problems.push(format!("the message of {}: {e}", name(&k)));
                    }
                }
                Err(e) => c.problems.push(format!("the messages' tree: {e}")),
            }
        }
        for kv in trees.outbox.iter() {
            c.outbox += 1;
            let opened = kv
                .map_err(StoreError::from)
                .and_then(|(k, v)| self.outbox_open(&k, &v));
            if let Err(e) = opened {
                c.problems.push(format!("an outbox copy: {e}"));
            }
        }
        match self.verify_audit() {
            Ok(r) => c.audit_entries = r.entries,
            Err(b) => c
                .problems
                .push(format!("the audit log, at entry {}: {}", b.seq, b.what)),
        }
        c
    }
}
