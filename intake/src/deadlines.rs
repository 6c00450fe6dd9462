//! The deadline worker: runs `modtag_workflow::escalation::pass` (the notices, the
//! hand-over to the døgnvagt, the forløb's reminders) off the runtime, at least every
//! minute and when the next one falls due, and wakes the outbox when it queued anything.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::app::App;
use crate::workflow::escalation::pass;

/// The escalation loop: ticks at least every minute and when a stage falls due.
pub struct Worker {
    pub app: Arc<App>,
    pub shutdown: watch::Receiver<bool>,
}

impl Worker {
    pub async fn run(mut self) {
        loop {
            let cfg = self.app.policy.cfg();
            let store = self.app.store.clone();
            let now = self.app.clock.now();
            let result = tokio::task::spawn_blocking(move || pass(&store, &cfg, now)).await;
            let wait = match result {
                Ok(Ok((sent, next))) => {
                    if sent > 0 {
                        tracing::info!(notices = sent, "deadline notices queued");
                        self.app.wake.notify_one();
                    }
                    next.map(|t| (t - self.app.clock.now()).get_seconds().clamp(1, 60) as u64)
                        .unwrap_or(60)
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "escalation pass failed; retrying in a minute");
                    60
                }
                Err(_) => 60,
            };
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(wait)) => {}
                _ = self.shutdown.changed() => return,
            }
        }
    }
}
