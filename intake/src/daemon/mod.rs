//! `modtag serve`: loads the configuration, opens the data directory, starts the SMTP and
//! HTTP listeners and the outbox worker, and shuts them down in order on SIGTERM/SIGINT.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use modtag_storage::keys::DataKeys;
use modtag_storage::Store;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use crate::api::state::ApiState;
use crate::app::{flush, App};
use crate::clock::Clock;
use crate::delivery::outbox::Worker;
use crate::policy::{load_config, Policy};
use crate::smtp::disk::DiskGate;
use crate::smtp::limits::{RateLimiter, Sessions};
use crate::smtp::stats::SmtpStats;
use crate::smtp::{server, session::SessionConfig};

/// Written into the data directory while the daemon runs, so the CLI can find its API.
pub const DAEMON_FILE: &str = "daemon.json";

/// The CLI's socket in the data directory: the kernel names the operating-system user who
/// connects, and `[cli] accounts` the account that user acts as.
pub const SOCKET_FILE: &str = "modtag.sock";

/// Where `[keys]` says the store and blind-index keys are (a credential or another mount).
pub fn keys_apart(config: &modtag_config::Config) -> Result<Option<modtag_storage::keys::Apart>> {
    let Some(k) = &config.keys else {
        return Ok(None);
    };
    let path = |what: &str, file: &str| {
        config
            .secret_path(file)
            .map_err(|e| anyhow::anyhow!("[keys] {what}: {e}"))
    };
    Ok(Some(modtag_storage::keys::Apart {
        store: path("store_key", &k.store_key)?,
        blind: path("blind_index_key", &k.blind_index_key)?,
        store_next: k
            .next_store_key
            .as_deref()
            .map(|f| path("next_store_key", f))
            .transpose()?,
        // A directory modtag writes, so a path (never a credential, which is read-only).
        ring: k.ring_dir.as_deref().map(|d| {
            config
                .base_dir
                .clone()
                .unwrap_or_else(|| std::path::PathBuf::from("."))
                .join(d)
        }),
    }))
}

/// Creates the data directory (0700) if needed, and refuses one that others may list or
/// write (search permission alone, 0711, is allowed: it lets staff reach the CLI's socket).
/// A file that looks like a key and that this version does not use is reported (with the
/// keys kept apart, a store or blind-index key left in the data directory too).
pub fn prepare_data_dir(dir: &Path, keys_apart: bool) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let mode = std::fs::metadata(dir)
        .with_context(|| format!("cannot read data directory {}", dir.display()))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o066 != 0 {
        anyhow::bail!(
            "data directory {} is mode {mode:o}: others may list or change it; run chmod 700 on it (711 if staff use the CLI's socket)",
            dir.display()
        );
    }
    for name in unused_key_files(dir, keys_apart) {
        println!(
            "modtag: {} is not used by this version; if it holds a secret, move it off the server or shred it",
            dir.join(name).display()
        );
    }
    Ok(())
}

/// Files in the data directory that look like keys or tokens and that this version does
/// not use.
fn unused_key_files(dir: &Path, keys_apart: bool) -> Vec<String> {
    use modtag_storage::keys::*;
    const TLS: [&str; 2] = ["tls-cert.pem", "tls-key.pem"];
    // The legacy token is removed just after, and says so.
    let known = [
        STORE_KEY,
        STORE_KEY_NEXT,
        AUDIT_CERT,
        CHECKPOINT_KEY,
        CHECKPOINT_PUB,
        BLIND_KEY,
        SIGNING_KEY,
        SIGNING_CERT,
        LEGACY_API_TOKEN,
    ];
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            let keyish = n.contains("key")
                || n.contains("token")
                || [".pem", ".asc", ".gpg", ".pgp"]
                    .iter()
                    .any(|x| n.ends_with(x));
            let apart_now =
                keys_apart && [STORE_KEY, STORE_KEY_NEXT, BLIND_KEY].contains(&n.as_str());
            keyish
                && (apart_now || !known.contains(&n.as_str()))
                && !TLS.contains(&n.as_str())
                && !modtag_storage::ring::is_ring_file(n)
        })
        .collect();
    out.sort();
    out
}

pub async fn serve(config: Option<PathBuf>, data: PathBuf) -> Result<()> {
    let loaded = load_config(config.as_deref())?;
    // A decryption key that cannot be read stops start-up, before anything is created:
    // mail encrypted to it would otherwise be taken without anyone able to read it.
    let reader = crate::understand::Reader::new(&loaded)?;
    // A client secret that cannot be read stops start-up with what to fix.
    let oidc =
        crate::identity::oidc::from_config(&loaded.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let apart = keys_apart(&loaded.config)?;
    prepare_data_dir(&data, apart.is_some())?;
    if apart.is_none() {
        println!(
            "modtag: the store and blind-index keys are in the data directory {}: a copy of it is a copy of every report. In production keep them apart ([keys] in the configuration, `modtag keys init`).",
            data.display()
        );
    }
    let (keys, created) = DataKeys::init_or_load(&data, apart.as_ref())
        .with_context(|| format!("cannot set up the keys in {}", data.display()))?;
    for c in &created {
        println!("created {}: {}", c.path.display(), c.what);
    }
    // The audit log is encrypted to the auditors' certificates from the configuration.
    let keys = keys.with_auditors(loaded.auditors.clone());
    let clock = Clock::system();
    let store = Store::open(&data, keys)
        .with_context(|| format!("cannot open the store in {}", data.display()))?;
    if modtag_storage::keys::remove_legacy_api_token(&data)? {
        println!(
            "modtag: removed the shared API token {}: the CLI now acts as a person (see [cli] in the configuration)",
            data.join(modtag_storage::keys::LEGACY_API_TOKEN).display()
        );
    }
    // Key changes are audit events: the first start creates the data directory's keys.
    if !created.is_empty() {
        let names: Vec<String> = created
            .iter()
            .filter_map(|c| c.path.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        let mut b = modtag_storage::store::Batch::new();
        b.audit(
            modtag_storage::audit::Event::new(
                modtag_storage::audit::EventKind::KeysCreated,
                "system",
                "key management",
            )
            .details(
                serde_json::json!({ "files": names, "auditors": store.auditor_fingerprints() }),
            ),
        );
        store
            .commit(b, clock.now())
            .and_then(|_| store.flush())
            .context("cannot record the new keys in the audit log")?;
    }
    make_demo_accounts(&store, &loaded.config.cli.demo_accounts, clock.now())?;

    let c = loaded.config.clone();
    let smtp = TcpListener::bind(c.smtp.listen)
        .await
        .with_context(|| format!("cannot listen for SMTP on {}", c.smtp.listen))?;
    let web = TcpListener::bind(c.http.listen)
        .await
        .with_context(|| format!("cannot listen for HTTP on {}", c.http.listen))?;
    let public = match &c.public {
        Some(p) => Some(
            TcpListener::bind(p.listen)
                .await
                .with_context(|| format!("cannot listen for the public forms on {}", p.listen))?,
        ),
        None => None,
    };
    let socket_path = data.join(SOCKET_FILE);
    let socket = bind_socket(&socket_path)?;
    let smtp_addr = smtp.local_addr()?;
    let http_addr = web.local_addr()?;
    let daemon_file = data.join(DAEMON_FILE);
    std::fs::write(
        &daemon_file,
        serde_json::to_vec_pretty(&serde_json::json!({
            "api": format!("{}://{http_addr}", if c.http.tls.is_some() { "https" } else { "http" }),
            "smtp": smtp_addr.to_string(),
            "socket": socket_path,
            "pid": std::process::id(),
        }))?,
    )?;
    // Addresses only, for the CLI of every user who may reach the directory (the process's
    // umask keeps everything else its own).
    std::fs::set_permissions(&daemon_file, std::fs::Permissions::from_mode(0o644))?;
    println!("modtag: configuration: {}", loaded.origin);
    println!("modtag: data directory: {}", data.display());
    let scheme = if c.http.tls.is_some() {
        "https"
    } else {
        "http"
    };
    println!("modtag: SMTP on {smtp_addr}, HTTP API on {scheme}://{http_addr}/api/v1/");
    let mapped: Vec<String> = c
        .cli
        .accounts
        .iter()
        .map(|(os, account)| format!("{os} as {account}"))
        .collect();
    println!(
        "modtag: the CLI on {}: {}",
        socket_path.display(),
        if mapped.is_empty() {
            "nobody is mapped in [cli] accounts; use personal tokens".to_string()
        } else {
            mapped.join(", ")
        }
    );
    tracing::info!(smtp = %smtp_addr, http = %http_addr, "modtag started");

    let (stop_tx, stop_rx) = watch::channel(false);
    let wake = Arc::new(Notify::new());
    let memory = crate::memory::MemoryBudget::new(loaded.config.smtp.max_memory_bytes);
    let app = Arc::new(App {
        store: store.clone(),
        policy: Policy::new(loaded, reader, config.clone()),
        clock,
        memory,
        wake,
    });
    let smtp_stats = Arc::new(SmtpStats::default());
    let (acceptor, cert) = crate::smtp::tls::acceptor(&c, &data)?;
    println!("modtag: STARTTLS with {}", cert.display());
    let https = match &c.http.tls {
        Some(files) => {
            let path = |file: &str| {
                c.secret_path(file)
                    .map_err(|e| anyhow::anyhow!("[http.tls]: {e}"))
            };
            let (cert, key) = (path(&files.cert_file)?, path(&files.key_file)?);
            let server = crate::tls::server_config(&cert, &key, &[b"http/1.1"])?;
            println!("modtag: HTTPS with {}", cert.display());
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(server)))
        }
        None => None,
    };
    let session_cfg = Arc::new(SessionConfig {
        hostname: c.smtp.hostname.clone(),
        max_message_size: c.smtp.max_message_size,
        max_recipients: c.smtp.max_recipients,
        max_errors: c.smtp.max_errors,
        mailboxes: c
            .mailboxes
            .iter()
            .map(|m| (m.address.to_ascii_lowercase(), m.channel))
            .collect(),
        tls_available: true,
        require_tls: c.smtp.require_tls,
        require_tls_domains: c.smtp.require_tls_domains.clone(),
        require_tls_networks: c.smtp.require_tls_networks.clone(),
    });
    let listener = Arc::new(server::Listener {
        app: app.clone(),
        stats: smtp_stats.clone(),
        cfg: session_cfg,
        limiter: RateLimiter::new(c.smtp.max_messages_per_minute_per_client),
        gate: DiskGate {
            store: store.clone(),
            dir: data.clone(),
            min_free: c.smtp.min_free(),
        },
        tls: Some(acceptor),
        sessions: Sessions::new(c.smtp.max_sessions, c.smtp.max_sessions_per_client),
        idle: Duration::from_secs(c.smtp.idle_timeout_secs),
        data_timeout: Duration::from_secs(c.smtp.data_timeout_secs),
        min_data_rate: c.smtp.min_data_rate,
        verifier: crate::sender_auth::Verifier::new(&c.sender_auth, &c.smtp.hostname)?,
    });

    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(server::serve(smtp, listener, stop_rx.clone()));
    let http_limits = crate::api::server::Limits {
        max_connections: c.http.max_connections,
        request_timeout: Duration::from_secs(c.http.request_timeout_secs),
        body_limit: crate::api::server::API_BODY_LIMIT,
        pages: false,
        tls: https,
        anonymous: false,
    };
    let state = Arc::new(ApiState::new(app.clone(), smtp_stats).with_oidc(oidc));
    tasks.spawn(crate::api::server::serve(
        web,
        crate::web::desk(state.clone()),
        http_limits.clone(),
        stop_rx.clone(),
    ));
    if let (Some(listener), Some(public)) = (public, &c.public) {
        let tls = match &public.tls {
            Some(files) => {
                let path = |file: &str| {
                    c.secret_path(file)
                        .map_err(|e| anyhow::anyhow!("[public.tls]: {e}"))
                };
                let (cert, key) = (path(&files.cert_file)?, path(&files.key_file)?);
                let server = crate::tls::server_config(&cert, &key, &[b"http/1.1"])?;
                Some(tokio_rustls::TlsAcceptor::from(Arc::new(server)))
            }
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        println!(
            "modtag: public forms on {scheme}://{}/sendsikkert and /underretning",
            listener.local_addr()?
        );
        if let Some(state) = crate::public::PublicState::new(app.clone()) {
            tasks.spawn(crate::api::server::serve(
                listener,
                crate::public::router(Arc::new(state)),
                crate::api::server::Limits {
                    max_connections: public.max_connections,
                    request_timeout: Duration::from_secs(public.request_timeout_secs),
                    // The form's parts and their encoding come on top of what it carries.
                    body_limit: public.max_request_bytes + 64 * 1024,
                    pages: true,
                    tls,
                    anonymous: true,
                },
                stop_rx.clone(),
            ));
        }
    }
    // The socket serves the API only: the CLI has no use for the pages.
    tasks.spawn(crate::api::server::serve(
        socket,
        crate::api::router(state),
        crate::api::server::Limits {
            tls: None,
            ..http_limits
        },
        stop_rx.clone(),
    ));
    tasks.spawn(
        crate::checkpoints::Worker {
            app: app.clone(),
            shutdown: stop_rx.clone(),
        }
        .run(),
    );
    tasks.spawn(
        crate::deadlines::Worker {
            app: app.clone(),
            shutdown: stop_rx.clone(),
        }
        .run(),
    );
    tasks.spawn(
        Worker {
            relay: c.relay.clone(),
            app: app.clone(),
            shutdown: stop_rx.clone(),
        }
        .run(),
    );

    wait_for_stop(&app).await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    // A last checkpoint covers everything logged, the shutdown included.
    let (s, cfg) = (store.clone(), app.policy.cfg());
    let now = app.clock.now();
    match tokio::task::spawn_blocking(move || crate::checkpoints::write(&s, &cfg, now)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "could not write the shutdown checkpoint"),
        Err(_) => {}
    }
    let flushed = flush(&store).await;
    let _ = std::fs::remove_file(&daemon_file);
    let _ = std::fs::remove_file(&socket_path);
    flushed.context("final flush failed")?;
    println!("modtag: stopped");
    Ok(())
}

/// Listens on the CLI's socket. A socket left by a daemon that crashed is replaced: the
/// store's lock, already held, says no other daemon runs on this directory. Anyone who can
/// reach the directory may connect; what they may do is the account `[cli] accounts` maps
/// them to (unmapped users are refused and audited).
fn bind_socket(path: &Path) -> Result<tokio::net::UnixListener> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot replace {}", path.display())),
    }
    let listener = tokio::net::UnixListener::bind(path).with_context(|| {
        format!(
            "cannot listen on {} (a socket path is at most 107 bytes: use a shorter --data path)",
            path.display()
        )
    })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    Ok(listener)
}

/// The demo's accounts (`[[cli.demo_account]]`), made at start when missing, without a
/// password: they act through the socket only.
fn make_demo_accounts(
    store: &Store,
    demos: &[modtag_config::model::DemoAccount],
    now: jiff::Timestamp,
) -> Result<()> {
    use modtag_storage::audit::{Event, EventKind};
    let mut b = modtag_storage::store::Batch::new();
    let mut any = false;
    for demo in demos {
        if store.user(&demo.id)?.is_some() {
            continue;
        }
        b.audit(
            Event::new(EventKind::UserAdded, "system", "administration")
                .details(serde_json::json!({ "user": demo.id, "roles": demo.roles, "demo": true })),
        );
        b.user(crate::identity::new_account(
            demo.id.clone(),
            demo.email.clone(),
            demo.roles.clone(),
            String::new(),
            now,
        ));
        any = true;
    }
    if any {
        store
            .commit(b, now)
            .and_then(|_| store.flush())
            .context("cannot make the demo accounts")?;
    }
    Ok(())
}

/// Waits for SIGTERM or SIGINT; on SIGHUP reloads the policy files and goes on waiting.
async fn wait_for_stop(app: &Arc<App>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
    let mut hup = signal(SignalKind::hangup()).expect("install SIGHUP handler");
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = int.recv() => return,
            _ = hup.recv() => {
                let a = app.clone();
                let now = app.clock.now();
                let result = tokio::task::spawn_blocking(move || a.policy.reload(&a.store, "system (SIGHUP)", now)).await;
                let flushed = flush(&app.store).await;
                match (result, flushed) {
                    (Ok(Ok(r)), Ok(())) => {
                        tracing::info!(tree_hash = %r.tree_hash, previous = %r.previous_hash, restart_needed = ?r.restart_needed, "configuration reloaded");
                    }
                    (Ok(Err(e)), _) => {
                        // The reasons name files and lines, never personal data.
                        tracing::error!(error = %e, "configuration reload refused; the running configuration is kept");
                    }
                    (_, Err(e)) => tracing::error!(error = %e, "could not record the reload"),
                    (Err(e), _) => tracing::error!(error = %e, "reload task failed"),
                }
            }
        }
    }
}
