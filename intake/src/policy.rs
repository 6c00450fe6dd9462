//! The running policy (configuration, directory, beslutningstræ, and the reader built from
//! them), replaced atomically on reload.
//!
//! A reload reads the same files again and checks them as start-up does; a set that fails
//! the check never replaces the running one. Each attempt is audited with the rule set's
//! hash. Listener addresses, mailboxes, SMTP limits, the relay, the forms' limits, the log
//! format and the key files are fixed at start-up: a reload whose files differ there from
//! what the daemon started with says a restart is needed, every time until it restarts.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use jiff::Timestamp;
use modtag_config::Loaded;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::store::Batch;
use modtag_storage::{Store, StoreError};
use serde_json::json;

use crate::understand::Reader;

/// The configuration at `path`, or the embedded default, checked as a whole.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Loaded> {
    use anyhow::Context as _;
    match path {
        Some(p) => modtag_config::load(p),
        None => modtag_config::load_embedded(),
    }
    .map_err(anyhow::Error::new)
    .context("the configuration is not valid; fix it and start again (check with `modtag config check FILE`)")
}

/// One consistent set: decisions and readings see either the old set or the new one.
pub struct Current {
    pub cfg: Arc<Loaded>,
    pub reader: Arc<Reader>,
}

pub struct Policy {
    current: RwLock<Arc<Current>>,
    /// The configuration the daemon started with: what its listeners and start-up parts
    /// run on, whatever reloads came since.
    started: Arc<Loaded>,
    /// The configuration file (`None`: the embedded default).
    path: Option<PathBuf>,
}

#[derive(Debug)]
pub struct Reloaded {
    pub previous_hash: String,
    pub tree_hash: String,
    pub people: usize,
    pub institutions: usize,
    pub rules: usize,
    /// Sections that differ from those the daemon started with, and only take effect after
    /// a restart.
    pub restart_needed: Vec<&'static str>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new files fail the check; the running policy is kept.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Policy {
    pub fn new(cfg: Loaded, reader: Reader, path: Option<PathBuf>) -> Policy {
        let cfg = Arc::new(cfg);
        Policy {
            current: RwLock::new(Arc::new(Current {
                cfg: cfg.clone(),
                reader: Arc::new(reader),
            })),
            started: cfg,
            path,
        }
    }

    pub fn current(&self) -> Arc<Current> {
        self.current.read().expect("policy lock").clone()
    }

    pub fn cfg(&self) -> Arc<Loaded> {
        self.current().cfg.clone()
    }

    /// Loads and checks the files again; swaps them in if they pass. Audited either way.
    /// Blocking (reads files, commits): call from `spawn_blocking`.
    pub fn reload(
        &self,
        store: &Store,
        actor: &str,
        now: Timestamp,
    ) -> Result<Reloaded, ReloadError> {
        let old = self.cfg();
        let loaded =
            load_config(self.path.as_deref()).and_then(|l| Reader::new(&l).map(|r| (l, r)));
        let (loaded, reader) = match loaded {
            Ok(x) => x,
            Err(e) => {
                let text = format!("{e:#}");
                let mut b = Batch::new();
                b.audit(
                    Event::new(EventKind::ConfigReloadRefused, actor, "administration").details(
                        json!({
                            "running_tree_hash": old.tree.hash,
                            "problems": text.lines().count(),
                        }),
                    ),
                );
                store.commit(b, now)?;
                return Err(ReloadError::Invalid(text));
            }
        };
        // Against what the daemon started with, not the last reload: a section changed
        // twice still needs its restart.
        let restart_needed = restart_needed(&self.started.config, &loaded.config);
        let report = Reloaded {
            previous_hash: old.tree.hash.clone(),
            tree_hash: loaded.tree.hash.clone(),
            people: loaded.directory.people.len(),
            institutions: loaded.directory.institutions.len(),
            rules: loaded.tree.rules.len(),
            restart_needed,
        };
        let mut b = Batch::new();
        let before = store.auditor_fingerprints();
        let after: Vec<String> = loaded
            .auditors
            .iter()
            .map(|c| c.fingerprint().to_hex())
            .collect();
        if before != after {
            // A key change: logged to the old auditors, then the new ones receive the rest.
            b.audit(
                Event::new(EventKind::AuditorCertsChanged, actor, "administration")
                    .details(json!({ "before": before, "after": after })),
            );
        }
        b.audit(
            Event::new(EventKind::ConfigReloaded, actor, "administration").details(json!({
                "previous_tree_hash": report.previous_hash,
                "tree_hash": report.tree_hash,
                "people": report.people,
                "institutions": report.institutions,
                "rules": report.rules,
                "restart_needed": report.restart_needed,
            })),
        );
        store.commit(b, now)?;
        store.set_auditors(loaded.auditors.clone());
        *self.current.write().expect("policy lock") = Arc::new(Current {
            cfg: Arc::new(loaded),
            reader: Arc::new(reader),
        });
        Ok(report)
    }
}

/// The sections read only at start-up that differ between `o` (what the daemon started
/// with) and `n`.
fn restart_needed(o: &modtag_config::Config, n: &modtag_config::Config) -> Vec<&'static str> {
    use modtag_config::Config;
    // The forms' listener, TLS, limits and rate limiters are made at start-up; the privacy
    // notice, proxies, address and attachment limits are read per request.
    let public = |c: &Config| {
        c.public.as_ref().map(|p| {
            let limits = (
                p.max_request_bytes,
                p.max_connections,
                p.request_timeout_secs,
            );
            let rates = (
                p.submissions_per_minute,
                p.submissions_per_minute_per_client,
            );
            (p.listen, p.tls.clone(), limits, rates)
        })
    };
    let mitid = |c: &Config| c.public.as_ref().map(|p| p.mitid_erhverv.clone());
    // The keys in use are read at start-up; the next ones are named for a rotation and
    // read when it runs (name them, reload, rotate).
    let in_use = |c: &Config| {
        (c.keys.as_ref()).map(|k| {
            (
                k.store_key.clone(),
                k.blind_index_key.clone(),
                k.ring_dir.clone(),
            )
        })
    };
    [
        ("[smtp]", o.smtp != n.smtp || o.sender_auth != n.sender_auth),
        ("[[mailbox]]", o.mailboxes != n.mailboxes),
        ("[http]", o.http != n.http),
        ("[relay]", o.relay != n.relay),
        ("[oidc]", o.oidc != n.oidc),
        // Its certificates and listener: a fingerprint removed from the receipts' list is
        // still let in until the restart.
        ("[digital_post]", o.digital_post != n.digital_post),
        ("[public]", public(o) != public(n)),
        ("[public.mitid_erhverv]", mitid(o) != mitid(n)),
        // The hook (its certificate and directories); the KLE numbers are read per record.
        ("[journal.hook]", o.journal.hook != n.journal.hook),
        // The log's format is set once.
        ("[log]", o.log != n.log),
        ("[keys]", in_use(o) != in_use(n)),
    ]
    .into_iter()
    .filter_map(|(section, changed)| changed.then_some(section))
    .collect()
}
