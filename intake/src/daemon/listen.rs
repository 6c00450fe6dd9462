//! The listeners: bound before anything is served (a port in use stops start-up), the
//! addresses written for the CLI, and the SMTP listener's settings and TLS from the
//! configuration.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use modtag_config::model::TlsFiles;
use modtag_config::Config;
use tokio::net::{TcpListener, UnixListener};
use tokio_rustls::TlsAcceptor;

use super::{DAEMON_FILE, SOCKET_FILE};
use crate::app::App;
use crate::smtp::disk::DiskGate;
use crate::smtp::limits::{RateLimiter, Sessions};
use crate::smtp::stats::SmtpStats;
use crate::smtp::{server, session::SessionConfig};

/// Every socket the daemon serves, bound.
pub(super) struct Bound {
    pub smtp: TcpListener,
    pub web: TcpListener,
    pub public: Option<TcpListener>,
    pub socket: UnixListener,
    pub socket_path: PathBuf,
}

pub(super) async fn bind(c: &Config, data: &Path) -> Result<Bound> {
    let tcp = |addr: std::net::SocketAddr, what: &'static str| async move {
        TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen for {what} on {addr}"))
    };
    let smtp = tcp(c.smtp.listen, "SMTP").await?;
    let web = tcp(c.http.listen, "HTTP").await?;
    let public = match &c.public {
        Some(p) => Some(tcp(p.listen, "the public forms").await?),
        None => None,
    };
    let socket_path = data.join(SOCKET_FILE);
    let socket = bind_socket(&socket_path)?;
    Ok(Bound {
        smtp,
        web,
        public,
        socket,
        socket_path,
    })
}

/// Writes where the daemon listens for the CLI (`daemon.json`) and says it on stdout;
/// returns the file, removed at a clean stop.
pub(super) fn announce(c: &Config, origin: &str, data: &Path, b: &Bound) -> Result<PathBuf> {
    let smtp_addr = b.smtp.local_addr()?;
    let http_addr = b.web.local_addr()?;
    let scheme = if c.http.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let daemon_file = data.join(DAEMON_FILE);
    std::fs::write(
        &daemon_file,
        serde_json::to_vec_pretty(&serde_json::json!({
            "api": format!("{scheme}://{http_addr}"),
            "smtp": smtp_addr.to_string(),
            "socket": b.socket_path,
            "pid": std::process::id(),
        }))?,
    )?;
    // Addresses only, for the CLI of every user who may reach the directory (the process's
    // umask keeps everything else its own).
    std::fs::set_permissions(&daemon_file, std::fs::Permissions::from_mode(0o644))?;
    println!("modtag: configuration: {origin}");
    println!("modtag: data directory: {}", data.display());
    println!("modtag: SMTP on {smtp_addr}, HTTP API on {scheme}://{http_addr}/api/v1/");
    let mapped: Vec<String> = (c.cli.accounts.iter())
        .map(|(os, account)| format!("{os} as {account}"))
        .collect();
    println!(
        "modtag: the CLI on {}: {}",
        b.socket_path.display(),
        if mapped.is_empty() {
            "nobody is mapped in [cli] accounts; use personal tokens".to_string()
        } else {
            mapped.join(", ")
        }
    );
    tracing::info!(smtp = %smtp_addr, http = %http_addr, "modtag started");
    Ok(daemon_file)
}

/// The desk's and the public forms' HTTPS acceptors (`None`: plain HTTP).
pub(super) type HttpTls = (Option<TlsAcceptor>, Option<TlsAcceptor>);

pub(super) fn http_tls(c: &Config) -> Result<HttpTls> {
    let public = match &c.public {
        Some(p) => https(c, p.tls.as_ref(), "public")?,
        None => None,
    };
    Ok((https(c, c.http.tls.as_ref(), "http")?, public))
}

/// An HTTPS acceptor from `[section] tls`, or `None` for plain HTTP.
fn https(c: &Config, files: Option<&TlsFiles>, section: &str) -> Result<Option<TlsAcceptor>> {
    let Some(files) = files else {
        return Ok(None);
    };
    let (cert, key) = crate::tls::files(c, files, section)?;
    let acceptor = crate::tls::acceptor(&cert, &key, &[b"http/1.1"])?;
    println!("modtag: HTTPS with {} ([{section}])", cert.display());
    Ok(Some(acceptor))
}

/// The SMTP listener's settings, limits, storage check, STARTTLS and sender checks.
pub(super) fn smtp(
    app: &Arc<App>,
    c: &Config,
    data: &Path,
    stats: Arc<SmtpStats>,
) -> Result<Arc<server::Listener>> {
    let (acceptor, cert) = crate::smtp::tls::acceptor(c, data)?;
    println!("modtag: STARTTLS with {}", cert.display());
    let session = SessionConfig {
        hostname: c.smtp.hostname.clone(),
        max_message_size: c.smtp.max_message_size,
        max_recipients: c.smtp.max_recipients,
        max_errors: c.smtp.max_errors,
        mailboxes: (c.mailboxes.iter())
            .map(|m| (m.address.to_ascii_lowercase(), m.channel))
            .collect(),
        tls_available: true,
        require_tls: c.smtp.require_tls,
        require_tls_domains: c.smtp.require_tls_domains.clone(),
        require_tls_networks: c.smtp.require_tls_networks.clone(),
    };
    Ok(Arc::new(server::Listener {
        app: app.clone(),
        stats,
        cfg: Arc::new(session),
        limiter: RateLimiter::new(c.smtp.max_messages_per_minute_per_client),
        gate: DiskGate {
            store: app.store.clone(),
            dir: data.to_path_buf(),
            min_free: c.smtp.min_free(),
        },
        tls: Some(acceptor),
        sessions: Sessions::new(c.smtp.max_sessions, c.smtp.max_sessions_per_client),
        idle: Duration::from_secs(c.smtp.idle_timeout_secs),
        data_timeout: Duration::from_secs(c.smtp.data_timeout_secs),
        min_data_rate: c.smtp.min_data_rate,
        verifier: crate::sender_auth::Verifier::new(&c.sender_auth, &c.smtp.hostname)?,
    }))
}

/// Listens on the CLI's socket. A socket left by a daemon that crashed is replaced: the
/// store's lock, already held, says no other daemon runs on this directory. Anyone who can
/// reach the directory may connect; what they may do is the account `[cli] accounts` maps
/// them to (unmapped users are refused and audited).
fn bind_socket(path: &Path) -> Result<UnixListener> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot replace {}", path.display())),
    }
    let listener = UnixListener::bind(path).with_context(|| {
        format!(
            "cannot listen on {} (a socket path is at most 107 bytes: use a shorter --data path)",
            path.display()
        )
    })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    Ok(listener)
}
