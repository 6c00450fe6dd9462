//! Before anything listens: the data directory checked, the keys found or made, the store
//! opened, and the first start's audit event and demo accounts recorded.

use std::path::Path;

use anyhow::{Context, Result};
use modtag_config::Loaded;
use modtag_storage::keys::DataKeys;
use modtag_storage::Store;

use crate::clock::Clock;

/// How to get back a data directory that does not open or does not read through.
pub const WAY_BACK: &str = "restore the latest backup into a new data directory (`modtag backup \
     restore`, deploy/README.md \"Backup, restore and take-over\"), or let the standby take over \
     (\"A standby minutes behind\"); keep this directory for the kommune's IT to examine";

/// Opens the store in `data` with its keys (made on the first start, and audited), the
/// demo's accounts made; stops with what to fix when it cannot.
pub(super) fn open_store(loaded: &Loaded, data: &Path) -> Result<(Store, Clock)> {
    let apart = keys_apart(&loaded.config)?;
    prepare_data_dir(data, apart.is_some())?;
    if apart.is_none() {
        println!(
            "modtag: the store and blind-index keys are in the data directory {}: a copy of it is a copy of every report. In production keep them apart ([keys] in the configuration, `modtag keys init`).",
            data.display()
        );
    }
    let (keys, created) = DataKeys::init_or_load(data, apart.as_ref())
        .with_context(|| format!("cannot set up the keys in {}", data.display()))?;
    for c in &created {
        println!("created {}: {}", c.path.display(), c.what);
    }
    // The audit log is encrypted to the auditors' certificates from the configuration.
    let keys = keys.with_auditors(loaded.auditors.clone());
    let clock = Clock::system();
    // One that does not open cleanly is not guessed at: what was found, and the way back.
    let store = Store::open(data, keys, clock.now())
        .with_context(|| format!("cannot open the store in {}: {}", data.display(), WAY_BACK))?;
    if modtag_storage::keys::remove_legacy_api_token(data)? {
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
    Ok((store, clock))
}

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
    // Before any key is made in it: a restore into it was cut off (see `restore`).
    modtag_storage::restore::refuse_if_restoring(dir)?;
    if !dir.exists() {
        // Its parents too, each named durably in the one above (a power cut must not take
        // back a data directory modtag has answered from).
        let mut made = Vec::new();
        let mut at = Some(dir);
        while let Some(d) = at.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            made.push(d.to_path_buf());
            at = d.parent();
        }
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        for d in made {
            let parent = d
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            modtag_storage::keys::sync_dir(parent)?;
        }
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
