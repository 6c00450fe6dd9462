//! A case system that takes files (`[journal.hook]`, issue 31). [`send`] makes an intake's
//! package, encrypts it to the system's OpenPGP certificate and drops it into `outbox_dir`
//! durably (a hidden temporary file, fsync, rename, fsync of the directory: the
//! integration never sees half a file, and a file it sees survives a power cut), then
//! records the drop on the intake. [`Watcher`] reads the integration's receipts from
//! `receipts_dir` (`modtag_workflow::journal::receipt` says which count): a taken receipt
//! moves to `behandlet/`, a refused one to `afvist/` with a `.fejl.txt` saying why.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use modtag_storage::audit::EventKind;
use modtag_storage::journal::Dropped;
use openpgp::parse::Parse;
use sequoia_openpgp as openpgp;

use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::state::ApiState;
use crate::app::{blocking, App};

/// Receipts larger than this are not read: a receipt is a few lines.
const MAX_RECEIPT: u64 = 64 * 1024;

pub struct Hook {
    pub system: String,
    outbox: PathBuf,
    receipts: PathBuf,
    cert: openpgp::Cert,
    poll: Duration,
}

impl Hook {
    /// `[journal.hook]` with its certificate read and checked and its directories there;
    /// `None` without it. `Err` says what to fix.
    pub fn load(cfg: &modtag_config::Loaded) -> Result<Option<Hook>, String> {
        let Some(h) = &cfg.config.journal.hook else {
            return Ok(None);
        };
        let base = (cfg.config.base_dir.as_deref()).unwrap_or(Path::new("."));
        let path = base.join(&h.cert_file);
        let cert = openpgp::Cert::from_file(&path).map_err(|e| {
            format!(
                "journal.hook.cert_file {}: not an OpenPGP certificate: {e}",
                path.display()
            )
        })?;
        if cert.is_tsk() {
            return Err(format!(
                "journal.hook.cert_file {}: holds a secret key: give the case system's public certificate only",
                path.display()
            ));
        }
        modtag_config::directory::check_cert(&cert)
            .map_err(|why| format!("journal.hook.cert_file {}: {why}", path.display()))?;
        let dir = |key: &str, d: &str| {
            let p = base.join(d);
            match p.is_dir() {
                true => Ok(p),
                false => Err(format!(
                    "journal.hook.{key} = {d:?}: {} is not a directory: create it, writable by modtag",
                    p.display()
                )),
            }
        };
        let receipts = dir("receipts_dir", &h.receipts_dir)?;
        for sub in ["behandlet", "afvist"] {
            std::fs::create_dir_all(receipts.join(sub))
                .map_err(|e| format!("journal.hook.receipts_dir: cannot create {sub}/: {e}"))?;
        }
        Ok(Some(Hook {
            system: h.system.clone(),
            outbox: dir("outbox_dir", &h.outbox_dir)?,
            receipts,
            cert,
            poll: Duration::from_secs(h.poll_secs),
        }))
    }

    /// Encrypts `zip` to the system into a hidden file in the drop directory, synced: not
    /// yet the integration's to take ([`Hook::publish`] gives it its name).
    fn seal(&self, name: &str, zip: &[u8]) -> Result<PathBuf, String> {
        let sealed =
            modtag_storage::crypto::encrypt(&[&self.cert], zip).map_err(|e| e.to_string())?;
        let tmp = self.outbox.join(format!(".{name}.tmp"));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o640)
            .open(&tmp)
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        if let Err(e) = f.write_all(&sealed).and_then(|_| f.sync_all()) {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!("{}: {e}", tmp.display()));
        }
        Ok(tmp)
    }

    /// Renames a sealed package to `name` and syncs the directory: from here the
    /// integration may take it, and a power cut does not take it back.
    fn publish(&self, tmp: &Path, name: &str) -> Result<(), String> {
        std::fs::rename(tmp, self.outbox.join(name))
            .map_err(|e| format!("{}: {e}", self.outbox.display()))?;
        modtag_storage::keys::sync_dir(&self.outbox).map_err(|e| e.to_string())
    }
}

/// "Send til sagssystemet": the package of `reference`, made for `caller` (who works its
/// desk), dropped for the case system and recorded on the intake. 409 without a hook.
pub async fn send(state: &ApiState, caller: &Caller, reference: &str) -> Result<Dropped, ApiError> {
    let cfg = state.app.policy.cfg();
    let hook = match Hook::load(&cfg) {
        Ok(Some(h)) => Arc::new(h),
        Ok(None) => {
            return Err(ApiError::conflict(
                "no case system takes files here ([journal.hook]): download the journal package and file it by hand",
            ))
        }
        Err(why) => {
            tracing::error!("journal hook: {why}");
            return Err(ApiError::Refused(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "the case system's drop directory is not usable now; try again later, or download the package".into(),
            ));
        }
    };
    let package = super::make(state, caller, reference).await?;
    // The file's name is random and says nothing: the package id, which a receipt must
    // name, travels only inside the encrypted package (a directory listing must not be
    // enough to write a receipt).
    let name = format!("modtag-{}.zip.pgp", modtag_workflow::memo::uuid_v4());
    let unavailable = |why: String| {
        tracing::error!("journal hook: could not drop a package: {why}");
        ApiError::Refused(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the package could not be written to the case system's drop directory; nothing was sent, try again".into(),
        )
    };
    let zip = package.zip()?;
    let (h, n) = (hook.clone(), name.clone());
    let tmp = blocking(move || h.seal(&n, &zip))
        .await
        .map_err(unavailable)?;
    // Recorded before the integration can see it, so its receipt always finds the drop.
    let rule = modtag_workflow::journal::dropped(package.id, name.clone(), hook.system.clone());
    let recorded = crate::api::changes::change_item(
        state,
        caller,
        reference,
        EventKind::JournalPackaged,
        rule,
    )
    .await;
    let (h, t) = (hook.clone(), tmp.clone());
    match recorded {
        Ok(dropped) => {
            blocking(move || h.publish(&t, &name))
                .await
                .map_err(unavailable)?;
            Ok(dropped)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Reads the case system's receipts every `poll_secs` until shutdown.
pub struct Watcher {
    pub app: Arc<App>,
    pub hook: Arc<Hook>,
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl Watcher {
    pub async fn run(mut self) {
        loop {
            let (app, hook) = (self.app.clone(), self.hook.clone());
            let now = app.clock.now();
            blocking(move || take_receipts(&app, &hook, now)).await;
            tokio::select! {
                _ = tokio::time::sleep(self.hook.poll) => {}
                _ = self.shutdown.changed() => return,
            }
        }
    }
}

/// Every `*.json` in the receipts directory, in name order.
/// A receipt is moved out only once its commit is durable, so a crash in between reads it
/// again (taking it twice records the same filing twice, which is harmless). A storage
/// failure leaves it, and the rest, for the next look.
fn take_receipts(app: &App, hook: &Hook, now: jiff::Timestamp) {
    let Ok(dir) = std::fs::read_dir(&hook.receipts) else {
        tracing::error!("journal hook: the receipts directory cannot be read");
        return;
    };
    let mut names: Vec<PathBuf> = (dir.flatten())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    for path in names {
        let text = read_receipt(&path);
        let outcome = text.map_err(Some).and_then(|t| {
            use modtag_workflow::journal::{receipt, Refused};
            match receipt(&app.store, &t, &hook.system, now) {
                // Durable before the receipt leaves: a crash in between reads it again.
                Ok(_) => app.store.flush().map_err(|e| {
                    tracing::error!(error = %e, "journal hook: could not make a receipt durable");
                    None
                }),
                Err(Refused::Malformed(why)) => Err(Some(why)),
                Err(Refused::Unknown) => Err(Some("no intake has a package with that reference and package_id: was it dropped by this modtag, and is the intake still kept?".into())),
                Err(Refused::Store(e)) => {
                    tracing::error!(error = %e, "journal hook: storage refused a receipt; it stays for the next look");
                    Err(None)
                }
            }
        });
        let file = path
            .file_name()
            .map(|f| f.to_os_string())
            .unwrap_or_default();
        match outcome {
            Ok(()) => {
                tracing::info!("journal hook: a receipt marked an intake journalised");
                let _ = std::fs::rename(&path, hook.receipts.join("behandlet").join(&file));
            }
            Err(Some(why)) => {
                tracing::warn!("journal hook: a receipt was refused; see afvist/ beside it");
                let to = hook.receipts.join("afvist").join(&file);
                let mut note = to.clone().into_os_string();
                note.push(".fejl.txt");
                let _ = std::fs::write(note, format!("{why}\n"));
                let _ = std::fs::rename(&path, to);
            }
            Err(None) => break,
        }
    }
}

/// A receipt's bytes: opened without following a symbolic link and without blocking (a
/// FIFO), taken only when what was opened is a regular file, and never more than
/// [`MAX_RECEIPT`] read.
fn read_receipt(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("not opened as a plain file: {e}"))?;
    if !f
        .metadata()
        .map_err(|e| e.to_string())?
        .file_type()
        .is_file()
    {
        return Err("not a plain file".into());
    }
    let mut bytes = Vec::new();
    f.take(MAX_RECEIPT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    match bytes.len() as u64 > MAX_RECEIPT {
        true => Err("larger than a receipt (64 KB)".into()),
        false => Ok(bytes),
    }
}
