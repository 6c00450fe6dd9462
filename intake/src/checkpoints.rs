//! Writes signed checkpoints of the audit log every N entries or T seconds and at shutdown,
//! and mails each to the auditors' address, so that a copy lives outside the server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use modtag_config::Loaded;
use modtag_storage::store::Batch;
use modtag_storage::{Store, StoreError};
use tokio::sync::watch;

use crate::app::App;

/// The log's name in its checkpoints.
pub fn origin(cfg: &Loaded) -> String {
    format!("{}/audit", cfg.config.smtp.hostname)
}

/// Writes a checkpoint of the log as it is (if it grew) and queues it for the auditors.
/// Blocking.
pub fn write(store: &Store, cfg: &Loaded, now: Timestamp) -> Result<Option<String>, StoreError> {
    let Some(note) = store.write_checkpoint(&origin(cfg))? else {
        return Ok(None);
    };
    mail(store, cfg, &note, now)?;
    Ok(Some(note))
}

/// Replaces the checkpoint key (see `Store::rotate_checkpoint_key`) and mails the
/// hand-over checkpoint to the auditors: with it, the key they keep verifies the new one.
/// Blocking.
pub fn rotate(
    store: &Store,
    cfg: &Loaded,
    actor: &str,
    now: Timestamp,
) -> Result<String, StoreError> {
    let note = store.rotate_checkpoint_key(&origin(cfg), actor, now)?;
    mail(store, cfg, &note, now)?;
    Ok(note)
}

/// Queues `note` for the auditors' address (if there is one) and makes it durable.
fn mail(store: &Store, cfg: &Loaded, note: &str, now: Timestamp) -> Result<(), StoreError> {
    if let Some(to) = &cfg.config.audit.auditor_email {
        let size = note.lines().nth(1).unwrap_or("?").to_string();
        let body = format!(
            "Signed checkpoint of modtag's audit log (C2SP tlog-checkpoint). Keep it: with it,\n\
             `modtag audit verify --checkpoint FILE` proves later that the log was neither\n\
             truncated nor changed.\n\n{note}"
        );
        let to = crate::delivery::compose::PlainTo {
            role: "auditor",
            person: "auditor",
            email: to,
        };
        let reference = format!("audit-{size}");
        let subject = format!("modtag audit checkpoint {size}");
        let mut b = Batch::new();
        b.outbox(crate::delivery::compose::plain_entry(
            store, cfg, &reference, to, &subject, &body, now,
        )?);
        modtag_storage::failpoint::stored("checkpoint.mail")?;
        store.commit(b, now)?;
    }
    store.flush()
}

pub struct Worker {
    pub app: Arc<App>,
    pub shutdown: watch::Receiver<bool>,
}

impl Worker {
    pub async fn run(mut self) {
        let mut last_size = self.app.store.audit_tree().map(|f| f.size).unwrap_or(0);
        let mut last_at = Instant::now();
        let mut retention_at: Option<Instant> = None;
        loop {
            // Retention (the audit log's payloads, then `[retention]`) once at start and then daily.
            if retention_at.is_none_or(|t| t.elapsed().as_secs() >= 24 * 3600) {
                retention_at = Some(Instant::now());
                let days = self.app.policy.cfg().config.audit.retention_days;
                let store = self.app.store.clone();
                let now = self.app.clock.now();
                let cutoff = now - jiff::SignedDuration::from_hours(days * 24);
                match tokio::task::spawn_blocking(move || store.apply_audit_retention(cutoff, now))
                    .await
                {
                    Ok(Ok(n)) if n > 0 => {
                        tracing::info!(deleted = n, "audit entries past retention emptied")
                    }
                    Ok(Err(e)) => tracing::error!(error = %e, "audit retention failed"),
                    _ => {}
                }
                // And the `[retention]` rules: erasure of intakes done with.
                let rules = self.app.policy.cfg().config.retention.clone();
                let store = self.app.store.clone();
                let run =
                    move || crate::workflow::retention::run(&store, &rules, "system", now, false);
                match tokio::task::spawn_blocking(run).await {
                    Ok(Ok(r)) if r.ring_owed.is_some() => tracing::error!(
                        why = r.ring_owed.as_deref().unwrap_or_default(),
                        erased = r.erased.len(),
                        deliveries_removed = r.deliveries_removed.len(),
                        "retention: replacing the ring key failed; tried again tomorrow, or at \
                         `modtag retention run`, and until then a backup taken before still \
                         opens what was erased"
                    ),
                    Ok(Ok(r)) if r.ring_rotated || !r.deliveries_removed.is_empty() => {
                        tracing::info!(
                            erased = r.erased.len(),
                            deliveries_removed = r.deliveries_removed.len(),
                            ring_replaced = r.ring_rotated,
                            "retention: intakes erased, failed deliveries removed"
                        )
                    }
                    Ok(Err(e)) => tracing::error!(error = %e, "retention failed"),
                    _ => {}
                }
            }
            // Intakes from before keys of their own get one, a hundred at a time.
            let store = self.app.store.clone();
            let now = self.app.clock.now();
            match tokio::task::spawn_blocking(move || store.rekey_legacy(100, now)).await {
                Ok(Ok(n)) if n > 0 => {
                    tracing::info!(intakes = n, "earlier intakes given keys of their own")
                }
                Ok(Err(e)) => tracing::error!(error = %e, "giving earlier intakes keys failed"),
                _ => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = self.shutdown.changed() => return,
            }
            let cfg = self.app.policy.cfg();
            let a = &cfg.config.audit;
            let size = self
                .app
                .store
                .audit_tree()
                .map(|f| f.size)
                .unwrap_or(last_size);
            let due = size >= last_size + a.checkpoint_every_entries
                || (size > last_size && last_at.elapsed().as_secs() >= a.checkpoint_every_secs);
            if !due {
                continue;
            }
            let store = self.app.store.clone();
            let now = self.app.clock.now();
            match tokio::task::spawn_blocking(move || write(&store, &cfg, now)).await {
                Ok(Ok(Some(_))) => {
                    tracing::info!(size, "audit checkpoint written");
                    self.app.wake.notify_one();
                }
                Ok(Ok(None)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "could not write an audit checkpoint"),
                Err(_) => {}
            }
            last_size = size;
            last_at = Instant::now();
        }
    }
}
