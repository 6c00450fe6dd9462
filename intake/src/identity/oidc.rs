//! Signing in with the kommune's identity provider by OpenID Connect (`openidconnect`): the
//! authorisation code flow with PKCE (S256) and a nonce. A sign-in begun here is remembered
//! in memory under its `state` for ten minutes, bound to the browser that began it by a
//! cookie, and can be finished once. The ID token's signature (the provider's published
//! keys), issuer, audience, nonce and expiry are checked by `openidconnect`; what it names is
//! matched to the directory by the web layer.
//!
//! The provider's discovery document and keys are fetched at the first sign-in and again
//! after [`METADATA_TTL`], so a provider that is down at start stops no mail, and rotated
//! keys are picked up.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};

use super::constant_time_eq;
use super::sessions::{digest, token};

/// A client from the provider's discovery document: authorisation endpoint set, token and
/// user-info endpoints as the document gives them.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How long a begun sign-in may take at the provider.
pub const PENDING_TTL: Duration = Duration::from_secs(600);
/// How long the provider's metadata and keys are used before they are fetched again.
pub const METADATA_TTL: Duration = Duration::from_secs(900);
/// At most this many sign-ins begun and not finished; beyond, the oldest are forgotten (so a
/// flood of `/login/oidc` requests costs bounded memory).
const MAX_PENDING: usize = 10_000;

/// Why a sign-in with the provider failed. The messages name no person and no token.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider cannot be reached or answered wrongly: {0}")]
    Provider(String),
    #[error("this sign-in was not begun here, was begun in another browser, has been used or is over ten minutes old")]
    UnknownState,
    #[error("the identity provider refused the sign-in: {0}")]
    Refused(String),
    #[error("the ID token was refused: {0}")]
    Token(String),
    #[error("the ID token has no {0} claim")]
    NoClaim(String),
    #[error("the identity provider does not vouch for the e-mail (email_verified is not true)")]
    Unverified,
}

struct Pending {
    browser: String,
    verifier: PkceCodeVerifier,
    nonce: Nonce,
    begun: Instant,
}

/// A sign-in to send the browser off with.
pub struct Begun {
    /// The provider's authorisation URL, with state, nonce and PKCE challenge.
    pub url: String,
    /// The value for the cookie that binds the sign-in to this browser.
    pub browser: String,
}

pub struct Provider {
    issuer: IssuerUrl,
    client_id: ClientId,
    secret: ClientSecret,
    redirect: RedirectUrl,
    claim: String,
    http: openidconnect::reqwest::Client,
    metadata: tokio::sync::Mutex<Option<(CoreProviderMetadata, Instant)>>,
    pending: Mutex<HashMap<String, Pending>>,
}

impl Provider {
    pub fn new(cfg: &modtag_config::model::Oidc, secret: String) -> Result<Provider, String> {
        let http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects would let a provider send modtag anywhere (SSRF).
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        Ok(Provider {
            issuer: IssuerUrl::new(cfg.issuer.clone()).map_err(|e| format!("oidc.issuer: {e}"))?,
            client_id: ClientId::new(cfg.client_id.clone()),
            secret: ClientSecret::new(secret),
            redirect: RedirectUrl::new(cfg.redirect_url.clone())
                .map_err(|e| format!("oidc.redirect_url: {e}"))?,
            claim: cfg.claim.clone(),
            http,
            metadata: tokio::sync::Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
        })
    }

    /// The provider's metadata and keys, fetched again when older than [`METADATA_TTL`] (or
    /// when `fresh`, after a token failed with the cached keys).
    async fn metadata(&self, fresh: bool) -> Result<CoreProviderMetadata, OidcError> {
        let mut cached = self.metadata.lock().await;
        if let Some((m, at)) = cached.as_ref() {
            if !fresh && at.elapsed() < METADATA_TTL {
                return Ok(m.clone());
            }
        }
        let m = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| OidcError::Provider(error_chain(&e)))?;
        *cached = Some((m.clone(), Instant::now()));
        Ok(m)
    }

    /// The client for the provider's metadata (fetched again when `fresh`), with modtag's
    /// registration and redirect URL.
    async fn client(&self, fresh: bool) -> Result<Client, OidcError> {
        let metadata = self.metadata(fresh).await?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            self.client_id.clone(),
            Some(self.secret.clone()),
        )
        .set_redirect_uri(self.redirect.clone()))
    }

    /// Begins a sign-in: where to send the browser, and the cookie that ties it to it.
    pub async fn begin(&self) -> Result<Begun, OidcError> {
        let client = self.client(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let browser = token();
        let mut pending = self.pending.lock().expect("pending sign-ins");
        pending.retain(|_, p| p.begun.elapsed() < PENDING_TTL);
        if pending.len() >= MAX_PENDING {
            let oldest = pending
                .iter()
                .min_by_key(|(_, p)| p.begun)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                pending.remove(&k);
            }
        }
        pending.insert(
            digest(state.secret()),
            Pending {
                browser: browser.clone(),
                verifier,
                nonce,
                begun: Instant::now(),
            },
        );
        Ok(Begun {
            url: url.to_string(),
            browser,
        })
    }

    /// Finishes the sign-in the provider sent back (`state`, `code`) in the browser that
    /// holds `browser`: exchanges the code (with the PKCE verifier), checks the ID token, and
    /// answers with the configured claim's value.
    pub async fn finish(
        &self,
        state: &str,
        code: &str,
        browser: Option<&str>,
    ) -> Result<String, OidcError> {
        // Taken out whatever happens next: a state is good for one try.
        let pending = self
            .pending
            .lock()
            .expect("pending sign-ins")
            .remove(&digest(state))
            .ok_or(OidcError::UnknownState)?;
        let same_browser =
            browser.is_some_and(|b| constant_time_eq(b.as_bytes(), pending.browser.as_bytes()));
        if !same_browser || pending.begun.elapsed() >= PENDING_TTL {
            return Err(OidcError::UnknownState);
        }
        let client = self.client(false).await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Provider(e.to_string()))?
            .set_pkce_verifier(pending.verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Refused(error_chain(&e)))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::Token("the provider sent no ID token".into()))?;
        let claims = match id_token.claims(&client.id_token_verifier(), &pending.nonce) {
            Ok(c) => c.clone(),
            // Signed with a key published since the keys were fetched: fetch them again once.
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(_)) => {
                let client = self.client(true).await?;
                let verifier = client.id_token_verifier();
                let claims = id_token
                    .claims(&verifier, &pending.nonce)
                    .map_err(|e| OidcError::Token(e.to_string()))?
                    .clone();
                claims
            }
            Err(e) => return Err(OidcError::Token(e.to_string())),
        };
        let value = match self.claim.as_str() {
            // An address the provider has not checked is anyone's to type (issue 25).
            "email" if claims.email_verified() != Some(true) => return Err(OidcError::Unverified),
            "email" => claims.email().map(|e| e.as_str().to_string()),
            "preferred_username" => claims.preferred_username().map(|u| u.as_str().to_string()),
            _ => Some(claims.subject().as_str().to_string()),
        };
        value
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| OidcError::NoClaim(self.claim.clone()))
    }
}

/// An error with its sources, for the log and the page (they carry no personal data: URLs
/// of the provider and protocol error codes).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The provider `[oidc]` configures, with its client secret read from the file (0600,
/// relative to the configuration) or the systemd credential; `None` without `[oidc]`.
pub fn from_config(config: &modtag_config::Config) -> Result<Option<Provider>, String> {
    let Some(cfg) = &config.oidc else {
        return Ok(None);
    };
    let secret = match (&cfg.client_secret_file, &cfg.client_secret_credential) {
        (Some(file), _) => {
            let path = config
                .base_dir
                .as_deref()
                .unwrap_or(std::path::Path::new("."))
                .join(file);
            modtag_storage::keys::read_secret(&path)
                .map_err(|e| format!("oidc.client_secret_file: {e}"))?
        }
        (None, Some(name)) => {
            let dir = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                format!(
                    "oidc.client_secret_credential = {name:?}, but no systemd credentials were \
                     passed (CREDENTIALS_DIRECTORY is not set): add LoadCredentialEncrypted=\
                     {name}:... to the unit"
                )
            })?;
            let path = std::path::Path::new(&dir).join(name);
            std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?
        }
        (None, None) => return Err("[oidc] names no client secret".into()),
    };
    let secret = String::from_utf8(secret)
        .map_err(|_| "the OpenID Connect client secret is not text".to_string())?
        .trim()
        .to_string();
    if secret.is_empty() {
        return Err("the OpenID Connect client secret is empty".into());
    }
    Provider::new(cfg, secret).map(Some)
}
