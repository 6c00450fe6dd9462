//! The outbox worker: sends due entries to the relay, retries with backoff, and removes an
//! entry only in the same commit that audits its delivery.
//!
//! A permanent refusal (a 5xx from the relay, or an address that cannot be used) is not
//! retried: the entry is kept, marked failed and audited, and Modtagelsen and its leader are
//! told by mail so that a person gets the copy to its recipient another way. Logs carry the
//! reply code only: a relay's reply text can quote the address.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use lettre::address::Envelope;
use modtag_config::model::Relay;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::{DigitalPostTo, Item, OutboxEntry};
use modtag_storage::store::Batch;
use modtag_storage::{Store, StoreError};

use super::compose;
use super::fates::{kvittering_outcome, kvittering_settled, letter_outcome, LetterFate};
use super::relay::{Failed, Mailer};
use serde_json::json;
use tokio::sync::watch;

use crate::app::{flush, App};

pub struct Worker {
    pub relay: Relay,
    /// The store, the running configuration (for the directory and the failure notice's
    /// sender), the clock, and the signal that new entries were committed.
    pub app: Arc<App>,
    pub shutdown: watch::Receiver<bool>,
    /// Digital Post through SF1601, when `[digital_post]` is configured.
    pub letters: Option<Arc<super::sf1601::Sf1601>>,
}

/// The relay as configured, and the same relay with TLS required: an entry sent in clear
/// to someone without a certificate (`require_tls`) never leaves over plain SMTP, even
/// where the relay is a loopback one without TLS.
struct Mailers {
    configured: Mailer,
    forced: Mailer,
}

impl Mailers {
    async fn close(&self) {
        self.configured.close().await;
        self.forced.close().await;
    }
}

fn backoff(relay: &Relay, attempts: u32) -> SignedDuration {
    let secs = relay
        .retry_initial_secs
        .saturating_mul(1u64 << attempts.min(20))
        .min(relay.retry_max_secs);
    SignedDuration::from_secs(secs as i64)
}

/// How long the worker, woken by a new entry, waits for more before it sends.
const GATHER: Duration = Duration::from_millis(250);

impl Worker {
    pub async fn run(mut self) {
        let both = Mailer::new(&self.relay, false).and_then(|configured| {
            Ok(Mailers {
                configured,
                forced: Mailer::new(&self.relay, true)?,
            })
        });
        let mailer = match both {
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
                    let d = at.duration_since(self.app.clock.now());
                    Duration::from_millis(d.as_millis().clamp(0, 3_600_000) as u64)
                }
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                _ = self.app.wake.notified() => {
                    // Woken by a new entry: gather what the next moments queue as well, so
                    // that under load the copies go out, and are recorded, in groups, and
                    // the listeners keep the CPU meanwhile (issue 33). A quarter of a second
                    // is nothing to a mail.
                    tokio::select! {
                        _ = tokio::time::sleep(GATHER) => {}
                        _ = self.shutdown.changed() => return,
                    }
                }
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
    async fn round(&mut self, mailer: &Mailers) -> Option<Timestamp> {
        // An entry whose outcome could not be stored stays due: try it once per round only.
        let mut tried = std::collections::HashSet::new();
        loop {
            let store = self.app.store.clone();
            let now = self.app.clock.now();
            let due = tokio::task::spawn_blocking(move || put_off_unreadable(&store, now)).await;
            let entries = match due {
                Ok(Ok(e)) => e,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "cannot read the outbox");
                    self.recorded().await;
                    return Some(self.app.clock.now() + SignedDuration::from_secs(30));
                }
                Err(_) => {
                    self.recorded().await;
                    return None;
                }
            };
            let entries: Vec<OutboxEntry> =
                entries.into_iter().filter(|e| tried.insert(e.id)).collect();
            if entries.is_empty() {
                break;
            }
            // Read as committed, perhaps not yet durable (a change's flush may still be
            // running): nothing leaves before it is, or a power cut now could leave a
            // kvittering for an intake the disk did not keep. Under load this rides on
            // the group commit that is running anyway.
            if let Err(e) = flush(&self.app.store).await {
                tracing::error!(error = %e, "storage flush failed; the outbox waits");
                return Some(self.app.clock.now() + SignedDuration::from_secs(30));
            }
            let mut attempts = Vec::with_capacity(entries.len());
            // A relay that stalls must not hold the group's outcomes past a shutdown (systemd
            // kills after 60 s): the attempts made so far are recorded, the one in flight is
            // sent again after the restart.
            let mut stop = self.shutdown.clone();
            for entry in entries {
                if *self.shutdown.borrow() {
                    break;
                }
                tokio::select! {
                    a = self.attempt(mailer, entry) => attempts.push(a),
                    _ = stop.changed() => break,
                }
            }
            self.record_all(attempts).await;
            if *self.shutdown.borrow() {
                self.recorded().await;
                return None;
            }
        }
        self.recorded().await;
        // Nothing more is due now: the relay need not keep a session open for us.
        mailer.close().await;
        let store = self.app.store.clone();
        match tokio::task::spawn_blocking(move || store.outbox_next_due()).await {
            Ok(Ok(next)) => next,
            _ => Some(self.app.clock.now() + SignedDuration::from_secs(30)),
        }
    }

    /// Tries one entry; its outcome is recorded with the others of its group.
    async fn attempt(&self, mailers: &Mailers, entry: OutboxEntry) -> Attempt {
        // A letter goes to Digital Post (its transmission id), anything else to the relay.
        let result = match (&entry.digital_post, &self.letters) {
            (Some(_), Some(letters)) => letters
                .send(&entry, self.app.clock.now())
                .await
                .map(Some)
                .map_err(|n| Refusal {
                    permanent: n.permanent,
                    summary: n.summary,
                    error: n.error,
                }),
            (Some(_), None) => Err(Refusal {
                permanent: true,
                summary: "Digital Post is no longer configured".into(),
                error: "[digital_post] is not in the configuration".into(),
            }),
            (None, _) => self.mail(mailers, &entry).await.map(|()| None),
        };
        // The relay (or Digital Post) took it; a crash before the record sends it again.
        let result = result.and_then(
            |sent| match modtag_storage::failpoint::step("outbox.sent") {
                Ok(()) => Ok(sent),
                Err(e) => Err(Refusal {
                    permanent: false,
                    summary: "the outcome was lost".into(),
                    error: e.to_string(),
                }),
            },
        );
        // The store keeps the message (a file, or sealed in the record) and the commit takes
        // it from there: a group of large copies is not held twice until it is recorded.
        let mut entry = entry;
        if entry.message_stored() {
            entry.message = String::new();
        }
        Attempt { entry, result }
    }

    /// The entry as mail through the relay.
    async fn mail(&self, mailers: &Mailers, entry: &OutboxEntry) -> Result<(), Refusal> {
        let mailer = if entry.require_tls {
            &mailers.forced
        } else {
            &mailers.configured
        };
        let envelope = match (self.relay.from.parse(), entry.email.parse()) {
            (Ok(from), Ok(to)) => Envelope::new(Some(from), vec![to]).ok(),
            _ => None,
        };
        match envelope {
            Some(env) => mailer
                .send(&env, entry.message.as_bytes())
                .await
                .map(|_| ())
                .map_err(|failed| match failed {
                    Failed::Smtp(e) => Refusal {
                        permanent: e.is_permanent(),
                        summary: e
                            .status()
                            .map_or_else(|| e.to_string(), |code| format!("relay replied {code}")),
                        error: e.to_string(),
                    },
                    Failed::Connect(e) => Refusal {
                        permanent: false,
                        summary: e.clone(),
                        error: e,
                    },
                    Failed::Unsupported(why) => Refusal {
                        permanent: true,
                        summary: why.into(),
                        error: why.into(),
                    },
                }),
            None => Err(Refusal {
                permanent: true,
                summary: "invalid sender or recipient address".into(),
                error: "invalid sender or recipient address".into(),
            }),
        }
    }

    /// Records a group's outcomes in one commit (one transaction, one audit PKESK, not one
    /// each: issue 33). Should that commit fail, each is recorded alone, so that one
    /// outcome that cannot be stored does not send the others of its group again.
    async fn record_all(&self, attempts: Vec<Attempt>) {
        if attempts.len() > 1 {
            if self.record(attempts.clone(), true).await {
                return;
            }
            // Their log lines are written: once per attempt.
            for a in attempts {
                self.record(vec![a], false).await;
            }
        } else {
            self.record(attempts, true).await;
        }
    }

    /// Records attempts' outcomes: delivered (gone from the outbox), failed for good (kept,
    /// Modtagelsen told; a letter goes by mail instead), or retried later. True when stored.
    /// `log`: the attempts' log lines are still to be written.
    async fn record(&self, attempts: Vec<Attempt>, log: bool) -> bool {
        if attempts.is_empty() {
            return true;
        }
        let now = self.app.clock.now();
        let mut batch = Batch::new();
        let mut changes = Vec::new();
        for Attempt { entry, result } in attempts {
            changes.extend(self.plan(entry, result, &mut batch, (now, log)));
        }
        let store = self.app.store.clone();
        let committed = tokio::task::spawn_blocking(move || {
            // The intakes are changed under their locks, in the same batch as the outcomes.
            let references: Vec<&str> = changes.iter().map(|c| c.reference.as_str()).collect();
            let _held = store.lock_items(&references);
            // Each intake read once, however many of its copies the group recorded.
            let mut items: Vec<(Item, bool)> = Vec::new();
            for c in &changes {
                let at = match items.iter().position(|(i, _)| i.reference == c.reference) {
                    Some(at) => at,
                    // Delivered, a kvittering changes its intake only if that still waits
                    // for it (owed by hand after a refusal): the clear summary says whether,
                    // so a kvittering sent at once costs no decryption (issue 33).
                    None if c.kvittering == Some(true)
                        && c.letter.is_none()
                        && kvittering_settled(store.summary(&c.reference)?.as_ref()) =>
                    {
                        continue
                    }
                    None => match store.item(&c.reference)? {
                        Some(item) => {
                            items.push((item, false));
                            items.len() - 1
                        }
                        None => continue,
                    },
                };
                let (item, changed) = &mut items[at];
                if let Some(delivered) = c.kvittering {
                    *changed |= kvittering_outcome(item, delivered, now);
                }
                if let Some((id, fate)) = &c.letter {
                    *changed |= letter_outcome(item, *id, fate, now);
                }
            }
            for (item, changed) in items {
                if changed {
                    batch.item(item);
                }
            }
            modtag_storage::failpoint::stored("outbox.record")?;
            store.commit(batch, now)
        })
        .await;
        // Not flushed here: the next group of entries waits for a flush before it is sent,
        // and the round ends with one (`recorded`). Until then a power cut sends a
        // delivered entry again, as a crash between sending and recording does.
        match committed {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot record delivery outcome");
                false
            }
            Err(_) => false,
        }
    }

    /// One attempt's outcome into `batch`: its audit entry, the entry gone, kept as failed
    /// or put back for later, the notices; and what it changes on its intake.
    fn plan(
        &self,
        mut entry: OutboxEntry,
        result: Result<Option<String>, Refusal>,
        batch: &mut Batch,
        (now, log): (Timestamp, bool),
    ) -> Option<Change> {
        entry.attempts += 1;
        let reference = entry.reference.clone();
        // A kvittering's fate is also the intake's: sent, or owed by hand (true: delivered).
        let kvittering = match &result {
            _ if entry.role != "reporter" => None,
            Ok(_) => Some(true),
            Err(r) if r.permanent => Some(false),
            Err(_) => None,
        };
        // The audit entry of the outcome, with the relay's whole answer (encrypted).
        let outcome = |kind: EventKind, entry: &OutboxEntry, error: Option<&str>| {
            let mut details = json!({
                "role": entry.role, "person": entry.person, "attempts": entry.attempts,
            });
            if let Some(e) = error {
                details["error"] = json!(e);
            }
            Event::new(kind, "system", "delivery")
                .reference(&entry.reference)
                .details(details)
        };
        // A letter's fate is recorded on the intake: sent (the transmission id), or refused
        // for good and sent by mail instead.
        let letter = entry.digital_post.as_ref().and_then(|_| match &result {
            Ok(transmission) => Some((entry.id, Ok(transmission.clone().unwrap_or_default()))),
            // by_mail_instead sends a mail only to a proven address (one went with the letter).
            Err(r) if r.permanent => {
                Some((entry.id, Err((r.summary.clone(), !entry.email.is_empty()))))
            }
            Err(_) => None,
        });
        match result {
            Ok(_) => {
                batch
                    .outbox_done_entry(&entry)
                    .audit(outcome(EventKind::Delivered, &entry, None));
                if log {
                    tracing::info!(reference = %entry.reference, role = %entry.role, attempts = entry.attempts, "delivered");
                }
            }
            Err(r) if r.permanent => {
                if log {
                    tracing::error!(reference = %entry.reference, role = %entry.role, attempts = entry.attempts, error = %r.summary, "delivery failed for good; Modtagelsen is told");
                }
                batch.audit(outcome(EventKind::DeliveryFailed, &entry, Some(&r.error)));
                if !entry.failure_notice {
                    let body = super::notices::failure_notice_text(&entry, &r.summary);
                    super::notices::tell_modtagelsen(
                        &self.app,
                        &entry.reference,
                        &body,
                        batch,
                        now,
                    );
                }
                if let Some(letter) = &entry.digital_post {
                    self.by_mail_instead(&entry, letter, batch, now);
                }
                entry.failed = Some(now);
                entry.last_error = Some(r.error);
                batch.outbox_again(entry);
            }
            Err(r) => {
                let at = now + backoff(&self.relay, entry.attempts - 1);
                if log {
                    tracing::warn!(reference = %entry.reference, role = %entry.role, attempts = entry.attempts, error = %r.summary, "delivery deferred");
                }
                entry.next_attempt = at;
                batch.audit(outcome(EventKind::DeliveryDeferred, &entry, Some(&r.error)));
                entry.last_error = Some(r.error);
                batch.outbox_again(entry);
            }
        }
        (kvittering.is_some() || letter.is_some()).then_some(Change {
            reference,
            kvittering,
            letter,
        })
    }

    /// Makes the round's outcomes durable.
    async fn recorded(&self) {
        if let Err(e) = flush(&self.app.store).await {
            tracing::error!(error = %e, "storage flush failed after delivery");
        }
    }

    /// A letter Digital Post refused for good goes to the person by mail instead (OpenPGP,
    /// or TLS-only in clear), as it would have without Digital Post.
    fn by_mail_instead(
        &self,
        failed: &OutboxEntry,
        letter: &DigitalPostTo,
        batch: &mut Batch,
        now: Timestamp,
    ) {
        // No proven address went with the letter: a person gives the answer (the notice
        // says so).
        if failed.email.is_empty() {
            return;
        }
        let cfg = self.app.policy.cfg();
        let cert = cfg
            .directory
            .person(&failed.person)
            .and_then(|p| p.cert.as_ref());
        let to = compose::PlainTo {
            role: &failed.role,
            person: &failed.person,
            email: &failed.email,
        };
        match compose::private_entry(
            &self.app.store,
            &cfg,
            &failed.reference,
            to,
            cert,
            &letter.subject,
            &letter.text,
            now,
        ) {
            Ok(mail) => {
                batch.audit(
                    Event::new(EventKind::DeliveryDeferred, "system", "delivery")
                        .reference(&failed.reference)
                        .details(json!({
                            "role": failed.role, "person": failed.person,
                            "digital_post_refused": failed.id, "by_mail": mail.id,
                        })),
                );
                batch.outbox(mail);
            }
            Err(e) => tracing::error!(error = %e, "cannot queue the mail in place of a letter"),
        }
    }
}

/// An entry tried, its outcome not yet stored.
#[derive(Clone)]
struct Attempt {
    entry: OutboxEntry,
    result: Result<Option<String>, Refusal>,
}

/// What an outcome changes on its intake: the kvittering's fate (true: delivered), a
/// letter's (its outbox id; sent with its transmission id, or refused and whether by mail
/// instead).
struct Change {
    reference: String,
    kvittering: Option<bool>,
    letter: Option<(u64, LetterFate)>,
}

/// Why the relay did not take an entry.
#[derive(Clone)]
struct Refusal {
    /// A 5xx, or an address that cannot be used: trying again will not help.
    permanent: bool,
    /// For the log: the reply code, or what went wrong on the way (never the reply text).
    summary: String,
    /// For the audit log (encrypted): the whole error with the relay's text.
    error: String,
}

/// An unreadable entry is put off this long, so that it neither holds up the copies due
/// with it nor makes every round read it again...
const UNREADABLE_AGAIN: SignedDuration = SignedDuration::from_secs(300);

/// ...and given up (failed for good, by its schedule alone) once it has not been readable
/// for this long: it then counts in `modtag_outbox_failed`, no longer keeps `/readyz` at
/// 503, and retention sweeps it with the other failed deliveries.
const UNREADABLE_GIVE_UP: SignedDuration = SignedDuration::from_hours(1);

/// What is due, read; each due entry that cannot be read (a damaged record or message
/// file) is logged by id and put off, or given up. `/metrics` counts them meanwhile.
fn put_off_unreadable(store: &Store, now: Timestamp) -> Result<Vec<OutboxEntry>, StoreError> {
    let due = store.outbox_due(now, 64)?;
    for (id, e) in &due.unreadable {
        let what = modtag_storage::outbox::damage(e).unwrap_or("it cannot be read");
        let since = store.outbox_unreadable_since(*id).unwrap_or(now);
        let done = if since + UNREADABLE_GIVE_UP <= now {
            tracing::error!(
                outbox_id = id,
                "an outbox copy has not been readable for an hour ({what}): given up, \
                 counted as failed; the others go on"
            );
            store.outbox_give_up(*id, now)
        } else {
            tracing::error!(
                outbox_id = id,
                "an outbox copy cannot be read ({what}): the others go on, it is tried \
                 again in five minutes"
            );
            store.outbox_postpone(*id, now + UNREADABLE_AGAIN)
        };
        // The others still go: this one is only read again at once.
        if let Err(e) = done {
            tracing::error!(outbox_id = id, error = %e, "cannot put an unreadable copy off");
        }
    }
    Ok(due.entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::notices::failure_notice_text;

    fn entry(role: &str, person: &str) -> OutboxEntry {
        let now = Timestamp::now();
        OutboxEntry {
            attempts: 1,
            failed: Some(now),
            ..OutboxEntry::new(
                42,
                "MT-2026-000007",
                (role, person, "someone@example.org"),
                String::new(),
                now,
            )
        }
    }

    #[test]
    fn failure_notices_say_what_did_not_arrive_and_what_to_do() {
        let t = failure_notice_text(&entry("reporter", "reporter"), "relay replied 550");
        assert!(
            t.starts_with("Kvitteringen til indberetteren om henvendelse MT-2026-000007"),
            "{t}"
        );
        assert!(
            t.contains("modtag triage task MT-2026-000007 kvittering --done"),
            "{t}"
        );
        assert!(t.contains("(relay replied 550)") && t.contains("modtag outbox retry 42"));
        let t = failure_notice_text(&entry("raadgiver", "lene.holm"), "relay replied 550");
        assert!(
            t.starts_with("Kopien til en modtager med rollen raadgiver om henvendelse"),
            "{t}"
        );
        assert!(!t.contains('@'), "no address in the notice: {t}");
        assert!(
            !t.contains("lene.holm"),
            "no person named in the notice: {t}"
        );
    }
}
