//! What every handler works with: the daemon's [`App`], the login lockout, the SMTP
//! listener's counters for `/metrics`; and the steps handlers share (load an item, read its
//! message again, write an audit entry durably before answering).

use std::sync::Arc;

use jiff::Timestamp;
use modtag_config::Channel;
use modtag_storage::audit::Event;
use modtag_storage::records::Item;
use modtag_storage::store::Batch;
use modtag_storage::StoreError;

use super::error::ApiError;
use super::lockout::LoginGuard;
use crate::app::{blocking, flush, App};
use crate::identity::attempts::Attempts;
use crate::identity::oidc::Provider;
use crate::identity::sessions::Sessions;
use crate::smtp::stats::SmtpStats;
use crate::understand::Reader;

pub struct ApiState {
    pub app: Arc<App>,
    /// Addresses that failed to authenticate too often (any account, the token).
    pub logins: LoginGuard,
    /// Signed-in people.
    pub sessions: Sessions,
    /// Failed sign-ins per account and address.
    pub attempts: Attempts,
    /// The SMTP listener's counters, shown in `/metrics`.
    pub smtp: Arc<SmtpStats>,
    /// The kommune's identity provider, when `[oidc]` is configured.
    pub oidc: Option<Provider>,
    /// Argon2 one run per core, within the memory budget.
    pub argon: crate::identity::password::Gate,
}

impl ApiState {
    pub fn new(app: Arc<App>, smtp: Arc<SmtpStats>) -> ApiState {
        let http = app.policy.cfg().config.http.clone();
        ApiState {
            argon: crate::identity::password::Gate::new(app.memory.clone()),
            app,
            logins: LoginGuard::default(),
            sessions: Sessions::new(http.session_idle_secs, http.session_max_secs),
            attempts: Attempts::default(),
            smtp,
            oidc: None,
        }
    }

    /// With sign-in through the kommune's identity provider.
    pub fn with_oidc(mut self, provider: Option<Provider>) -> ApiState {
        self.oidc = provider;
        self
    }

    pub fn now(&self) -> Timestamp {
        self.app.clock.now()
    }
}

/// The stored item of `reference`, or 404 (503 on storage failure).
pub async fn load_item(state: &ApiState, reference: &str) -> Result<Item, ApiError> {
    let store = state.app.store.clone();
    let r = reference.to_string();
    blocking(move || store.item(&r))
        .await?
        .ok_or_else(|| ApiError::no_intake(reference))
}

/// Reads the stored message of `item` again with the running reader (text and attachments
/// are never stored apart from the encrypted message); `None` when there is no message.
pub async fn reread<T: Send + 'static>(
    state: &ApiState,
    item: &Item,
    read: impl FnOnce(&Reader, &[u8], Channel) -> T + Send + 'static,
) -> Result<Option<T>, StoreError> {
    let (store, reader, r) = (
        state.app.store.clone(),
        state.app.policy.current().reader.clone(),
        item.reference.clone(),
    );
    let channel = item.channel;
    blocking(move || {
        store
            .message(&r)
            .map(|m| m.map(|raw| read(&reader, &raw, channel)))
    })
    .await
}

/// Commits an audit-only batch and makes it durable before the caller sees data.
pub async fn audit(state: &ApiState, event: Event) -> Result<(), ApiError> {
    let s = state.app.store.clone();
    let now = state.now();
    blocking(move || {
        let mut b = Batch::new();
        b.audit(event);
        s.commit(b, now)
    })
    .await?;
    Ok(flush(&state.app.store).await?)
}

/// Makes what a handler committed durable before it answers.
pub async fn durable(state: &ApiState) -> Result<(), ApiError> {
    Ok(flush(&state.app.store).await?)
}
