//! `modtag serve`: loads the configuration, opens the data directory ([`setup`]), binds and
//! announces the listeners ([`listen`]), serves SMTP, the desk, the public forms and the
//! CLI's socket with the workers beside them, and shuts them down in order on
//! SIGTERM/SIGINT (SIGHUP reloads the policy files).

mod check;
mod listen;
mod setup;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use modtag_config::Config;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::api::server::Limits;
use crate::api::state::ApiState;
use crate::app::{flush, App};
use crate::policy::{load_config, Policy};
use crate::smtp::stats::SmtpStats;

pub use check::check;
pub use setup::{keys_apart, prepare_data_dir, WAY_BACK};

/// Written into the data directory while the daemon runs, so the CLI can find its API.
pub const DAEMON_FILE: &str = "daemon.json";

/// The CLI's socket in the data directory: the kernel names the operating-system user who
/// connects, and `[cli] accounts` the account that user acts as.
pub const SOCKET_FILE: &str = "modtag.sock";

pub async fn serve(config: Option<PathBuf>, data: PathBuf) -> Result<()> {
    let loaded = load_config(config.as_deref())?;
    // A decryption key that cannot be read stops start-up, before anything is created:
    // mail encrypted to it would otherwise be taken without anyone able to read it.
    let reader = crate::understand::Reader::new(&loaded)?;
    // A client secret that cannot be read stops start-up with what to fix.
    let oidc =
        crate::identity::oidc::from_config(&loaded.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (store, clock) = setup::open_store(&loaded, &data)?;
    let c = loaded.config.clone();
    let bound = listen::bind(&c, &data).await?;
    let app = Arc::new(App {
        store,
        memory: crate::memory::MemoryBudget::new(c.smtp.max_memory_bytes),
        policy: Policy::new(loaded, reader, config),
        clock,
        wake: Arc::new(Notify::new()),
    });
    let stats = Arc::new(SmtpStats::default());
    // What can still fail (the TLS identities, the sender checks) before the daemon says it
    // runs: a start that stops here leaves no address for the CLI behind.
    let ready = listen::smtp(&app, &c, &data, stats.clone())
        .and_then(|smtp| Ok((smtp, listen::http_tls(&c)?)));
    let (smtp, tls) = match ready {
        Ok(ready) => ready,
        Err(e) => {
            let _ = std::fs::remove_file(&bound.socket_path);
            return Err(e);
        }
    };
    // Digital Post's certificate and MitID Erhverv's files and xmlsec1, before anything
    // answers: a mistake in them stops start-up with what to fix.
    let cfg = app.policy.cfg();
    let journal = crate::journal::hook::Hook::load(&cfg);
    let outside =
        match journal.and_then(|j| crate::delivery::sf1601::Sf1601::load(&cfg).map(|l| (l, j))) {
            Ok((letters, journal)) => match crate::identity::saml::Saml::load(&cfg).await {
                Ok(saml) => crate::delivery::receipts::listener(&cfg)
                    .await
                    .map(|receipts| ((letters.map(Arc::new), journal), saml, receipts)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
    let ((letters, journal), saml, receipts) = match outside {
        Ok(both) => both,
        Err(e) => {
            let _ = std::fs::remove_file(&bound.socket_path);
            return Err(anyhow::Error::msg(e));
        }
    };
    let origin = app.policy.current().cfg.origin.clone();
    let daemon_file = listen::announce(&c, &origin, &data, &bound)?;
    let (stop_tx, stop) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tasks.spawn(crate::smtp::server::serve(bound.smtp, smtp, stop.clone()));
    let state = Arc::new(ApiState::new(app.clone(), stats).with_oidc(oidc));
    let web = (bound.web, bound.public, bound.socket);
    spawn_http(&mut tasks, &c, (state, tls, saml), web, &stop)?;
    spawn_workers(&mut tasks, &app, (&c, letters), &stop);
    if let Some(hook) = journal {
        let watcher = crate::journal::hook::Watcher {
            app: app.clone(),
            hook: Arc::new(hook),
            shutdown: stop.clone(),
        };
        tasks.spawn(watcher.run());
    }
    if let Some((listener, tls)) = receipts {
        println!(
            "modtag: Digital Post receipts on https://{}/beskedfordeler",
            listener.local_addr()?
        );
        let limits = crate::api::server::Limits {
            max_connections: 32,
            request_timeout: Duration::from_secs(30),
            body_limit: 512 * 1024,
            pages: false,
            tls: Some(tls),
            anonymous: false,
        };
        let router = crate::delivery::receipts::router(app.clone());
        tasks.spawn(crate::api::server::serve(
            listener,
            router,
            limits,
            stop.clone(),
        ));
    }

    wait_for_stop(&app).await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    let stopped = stop_all(&app, tasks).await;
    let _ = std::fs::remove_file(&daemon_file);
    let _ = std::fs::remove_file(&bound.socket_path);
    stopped?;
    println!("modtag: stopped");
    Ok(())
}

/// The desk (pages and API), the public forms when configured, and the CLI's socket.
fn spawn_http(
    tasks: &mut JoinSet<()>,
    c: &Config,
    (state, (desk_tls, public_tls), saml): (
        Arc<ApiState>,
        listen::HttpTls,
        Option<crate::identity::saml::Saml>,
    ),
    (web, public, socket): (
        tokio::net::TcpListener,
        Option<tokio::net::TcpListener>,
        tokio::net::UnixListener,
    ),
    stop: &watch::Receiver<bool>,
) -> Result<()> {
    use crate::api::server::serve;
    let limits = Limits {
        max_connections: c.http.max_connections,
        request_timeout: Duration::from_secs(c.http.request_timeout_secs),
        body_limit: crate::api::server::API_BODY_LIMIT,
        pages: false,
        tls: desk_tls,
        anonymous: false,
    };
    let desk = crate::web::desk(state.clone());
    tasks.spawn(serve(web, desk, limits.clone(), stop.clone()));
    if let (Some(listener), Some(p)) = (public, &c.public) {
        let tls = public_tls;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let at = listener.local_addr()?;
        println!("modtag: public forms on {scheme}://{at}/sendsikkert and /underretning");
        if let Some(saml) = &saml {
            println!(
                "modtag: MitID Erhverv sign-in through {}; metadata for NemLog-in at {}",
                saml.idp.entity_id, saml.entity_id
            );
        }
        if let Some(forms) = crate::public::PublicState::new(state.app.clone(), saml) {
            let limits = Limits {
                max_connections: p.max_connections,
                request_timeout: Duration::from_secs(p.request_timeout_secs),
                // The form's parts and their encoding come on top of what it carries.
                body_limit: p.max_request_bytes + 64 * 1024,
                pages: true,
                tls,
                anonymous: true,
            };
            let router = crate::public::router(Arc::new(forms));
            tasks.spawn(serve(listener, router, limits, stop.clone()));
        }
    }
    // The socket serves the API only: the CLI has no use for the pages.
    let local = Limits {
        tls: None,
        ..limits
    };
    tasks.spawn(serve(
        socket,
        crate::api::router(state),
        local,
        stop.clone(),
    ));
    Ok(())
}

/// The audit checkpoints, the deadlines, the outbox, and forgetting old key agreements.
fn spawn_workers(
    tasks: &mut JoinSet<()>,
    app: &Arc<App>,
    (c, letters): (&Config, Option<Arc<crate::delivery::sf1601::Sf1601>>),
    stop: &watch::Receiver<bool>,
) {
    let (app, shutdown) = (app.clone(), stop.clone());
    tasks.spawn(
        crate::checkpoints::Worker {
            app: app.clone(),
            shutdown: shutdown.clone(),
        }
        .run(),
    );
    tasks.spawn(
        crate::deadlines::Worker {
            app: app.clone(),
            shutdown: shutdown.clone(),
        }
        .run(),
    );
    tasks.spawn(forget_old_agreements(app.clone(), shutdown.clone()));
    let relay = c.relay.clone();
    tasks.spawn(
        crate::delivery::outbox::Worker {
            relay,
            app,
            shutdown,
            letters,
        }
        .run(),
    );
}

/// The audit entries' key agreement serves a second (storage's
/// `crypto::agreement::Recipients`); with no commit to replace it, it would stay in memory
/// for hours: dropped here once a second.
async fn forget_old_agreements(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = every.tick() => app.store.forget_old_agreements(),
            _ = shutdown.changed() => return,
        }
    }
}

/// Waits for every task, then writes the last checkpoint and flushes. A task that panicked
/// is reported (never its message: a panic must not carry personal data to the log) and
/// makes the stop fail, so the service manager sees it.
async fn stop_all(app: &Arc<App>, mut tasks: JoinSet<()>) -> Result<()> {
    let mut panicked = 0;
    while let Some(done) = tasks.join_next().await {
        if done.is_err_and(|e| e.is_panic()) {
            panicked += 1;
            tracing::error!("a listener or worker panicked; what it held was not finished");
        }
    }
    // A last checkpoint covers everything logged, the shutdown included.
    let (s, cfg, now) = (app.store.clone(), app.policy.cfg(), app.clock.now());
    match tokio::task::spawn_blocking(move || crate::checkpoints::write(&s, &cfg, now)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "could not write the shutdown checkpoint"),
        Err(_) => {
            panicked += 1;
            tracing::error!("writing the shutdown checkpoint panicked");
        }
    }
    flush(&app.store).await.context("final flush failed")?;
    if panicked > 0 {
        anyhow::bail!("{panicked} task(s) panicked; see the log");
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
