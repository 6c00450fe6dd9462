//! The outbox worker: sends due entries to the relay, retries with backoff, and removes an
//! entry only in the same commit that audits its delivery.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use lettre::address::Envelope;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use modtag_config::model::{Relay, RelayTls};
use modtag_storage::audit::Event;
use modtag_storage::records::OutboxEntry;
use modtag_storage::store::Batch;
use modtag_storage::Store;
use serde_json::json;
use tokio::sync::{watch, Notify};

pub struct Worker {
    pub store: Store,
    pub relay: Relay,
    /// Woken when new entries are committed.
    pub wake: Arc<Notify>,
    pub shutdown: watch::Receiver<bool>,
}

fn transport(relay: &Relay) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let tls = match relay.tls {
        RelayTls::None => Tls::None,
        RelayTls::Starttls => {
            Tls::Required(TlsParameters::new(relay.host.clone()).map_err(|e| e.to_string())?)
        }
        RelayTls::Tls => {
            Tls::Wrapper(TlsParameters::new(relay.host.clone()).map_err(|e| e.to_string())?)
        }
    };
    Ok(
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(relay.host.clone())
            .port(relay.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(60)))
            .build(),
    )
}

fn backoff(relay: &Relay, attempts: u32) -> SignedDuration {
    let secs = relay
        .retry_initial_secs
        .saturating_mul(1u64 << attempts.min(20))
        .min(relay.retry_max_secs);
    SignedDuration::from_secs(secs as i64)
}

impl Worker {
    pub async fn run(mut self) {
        let mailer = match transport(&self.relay) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "relay configuration unusable; outbox not sent");
                let _ = self.shutdown.changed().await;
                return;
            }
        };
        loop {
            let next = self.round(&mailer).await;
            let sleep = match next {
                Some(at) => {
                    let d = at.duration_since(Timestamp::now());
                    Duration::from_millis(d.as_millis().clamp(0, 3_600_000) as u64)
                }
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
                _ = self.shutdown.changed() => return,
            }
            if *self.shutdown.borrow() {
                return;
            }
        }
    }

    /// Sends what is due; returns when the next entry falls due. Only due entries are read
    /// (and decrypted), through the store's schedule.
    async fn round(&mut self, mailer: &AsyncSmtpTransport<Tokio1Executor>) -> Option<Timestamp> {
        // An entry whose outcome could not be stored stays due: try it once per round only.
        let mut tried = std::collections::HashSet::new();
        loop {
            let store = self.store.clone();
            let now = Timestamp::now();
            let due = tokio::task::spawn_blocking(move || store.outbox_due(now, 64)).await;
            let entries = match due {
                Ok(Ok(e)) => e,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "cannot read the outbox");
                    return Some(Timestamp::now() + SignedDuration::from_secs(30));
                }
                Err(_) => return None,
            };
            let entries: Vec<OutboxEntry> =
                entries.into_iter().filter(|e| tried.insert(e.id)).collect();
            if entries.is_empty() {
                break;
            }
            for entry in entries {
                if *self.shutdown.borrow() {
                    return None;
                }
                self.send(mailer, entry).await;
            }
        }
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.outbox_next_due()).await {
            Ok(Ok(next)) => next,
            _ => Some(Timestamp::now() + SignedDuration::from_secs(30)),
        }
    }

    /// Tries one entry; returns when to retry it if it did not go out.
    async fn send(
        &self,
        mailer: &AsyncSmtpTransport<Tokio1Executor>,
        mut entry: OutboxEntry,
    ) -> Option<Timestamp> {
        let envelope = match (self.relay.from.parse(), entry.email.parse()) {
            (Ok(from), Ok(to)) => Envelope::new(Some(from), vec![to]).ok(),
            _ => None,
        };
        let result = match envelope {
            Some(env) => mailer
                .send_raw(&env, entry.message.as_bytes())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            None => Err("invalid sender or recipient address".to_string()),
        };
        let now = Timestamp::now();
        entry.attempts += 1;
        let mut batch = Batch::new();
        let retry_at = match &result {
            Ok(()) => {
                batch.outbox_done(entry.id).audit(
                    Event::new("delivered", "system", "delivery")
                        .reference(&entry.reference)
                        .details(json!({
                            "role": entry.role, "person": entry.person, "attempts": entry.attempts,
                        })),
                );
                tracing::info!(reference = %entry.reference, role = %entry.role, attempts = entry.attempts, "delivered");
                None
            }
            Err(e) => {
                let at = now + backoff(&self.relay, entry.attempts - 1);
                tracing::warn!(reference = %entry.reference, role = %entry.role, attempts = entry.attempts, error = %e, "delivery deferred");
                entry.next_attempt = at;
                entry.last_error = Some(e.clone());
                batch.audit(
                    Event::new("delivery_deferred", "system", "delivery")
                        .reference(&entry.reference)
                        .details(json!({
                            "role": entry.role, "person": entry.person,
                            "attempts": entry.attempts, "error": e,
                        })),
                );
                batch.outbox(entry.clone());
                Some(at)
            }
        };
        let store = self.store.clone();
        let committed = tokio::task::spawn_blocking(move || store.commit(batch, now)).await;
        match committed {
            Ok(Ok(())) => {
                if let Err(e) = crate::flush(&self.store).await {
                    tracing::error!(error = %e, "storage flush failed after delivery");
                }
            }
            Ok(Err(e)) => tracing::error!(error = %e, "cannot record delivery outcome"),
            Err(_) => {}
        }
        retry_at
    }
}
