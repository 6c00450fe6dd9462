//! The key files of a data directory.
//!
//! | file | what | who needs it |
//! |---|---|---|
//! | `store.key` | OpenPGP key that encrypts messages and records at rest | the daemon |
//! | `store.key.next` | the store key a rotation is moving the store to (`modtag keys rotate store`); renamed over `store.key` when it is done | the daemon |
//! | `audit.cert` | only in data directories from before the auditors' certificates came from the configuration (`[audit] auditor_certs`): still honoured | the daemon |
//! | `checkpoint.key` | Ed25519 seed that signs audit checkpoints | the daemon |
//! | `blind-index.key` | HMAC key for CPR lookups, separate from the store key | the daemon |
//! | `signing.key` | OpenPGP key that signs every delivered copy; `signing.cert.asc` is its public certificate, published with the directory | the daemon |
//!
//! An `api-token` file from before people signed in (a shared admin token) is removed at
//! start: nobody acts without being someone.
//!
//! Secret files are created 0600 and refused at load when group or others can read them.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use openpgp::cert::{CertBuilder, CipherSuite};
use openpgp::serialize::SerializeInto;
use openpgp::types::Features;
use openpgp::Cert;
use rand::RngCore;
use sequoia_openpgp as openpgp;

use crate::crypto::parse_cert;
use crate::StoreError;

pub const STORE_KEY: &str = "store.key";
/// The store key a rotation moves to, beside the current one until it is done.
pub const STORE_KEY_NEXT: &str = "store.key.next";
pub const AUDIT_CERT: &str = "audit.cert";
pub const CHECKPOINT_KEY: &str = "checkpoint.key";
pub const CHECKPOINT_PUB: &str = "checkpoint.pub";
/// The checkpoint keys `checkpoint.pub` replaced, one hex key a line, oldest first.
pub const CHECKPOINT_RETIRED: &str = "checkpoint-retired.pub";
pub const BLIND_KEY: &str = "blind-index.key";
pub const SIGNING_KEY: &str = "signing.key";
pub const SIGNING_CERT: &str = "signing.cert.asc";
/// The shared admin token of data directories from before people signed in.
pub const LEGACY_API_TOKEN: &str = "api-token";

/// Generates a v4 Cv25519 key for `userid` that advertises SEIPDv1 only (GnuPG 2.2 interop)
/// and does not expire. Returns the key with its secret parts.
pub fn generate_key(userid: &str) -> Result<Cert, StoreError> {
    let (cert, _rev) = CertBuilder::general_purpose([userid])
        .set_cipher_suite(CipherSuite::Cv25519)
        .set_profile(openpgp::Profile::RFC4880)
        .and_then(|b| b.set_features(Features::empty().set_seipdv1()))
        .map_err(|e| StoreError::Key(e.to_string()))?
        .set_validity_period(None)
        .generate()
        .map_err(|e| StoreError::Key(e.to_string()))?;
    Ok(cert)
}

/// Armored transferable secret key.
pub fn armor_secret(cert: &Cert) -> Result<Vec<u8>, StoreError> {
    cert.as_tsk()
        .armored()
        .to_vec()
        .map_err(|e| StoreError::Key(e.to_string()))
}

/// Armored public certificate.
pub fn armor_public(cert: &Cert) -> Result<Vec<u8>, StoreError> {
    cert.armored()
        .to_vec()
        .map_err(|e| StoreError::Key(e.to_string()))
}

/// Writes a new secret file with mode 0600. Refuses to overwrite: a key that exists is
/// never silently replaced.
pub fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok(())
}

fn write_public(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
        .map_err(io)?;
    // Meant to be read by others, whatever the process's umask (0077 in modtag's own).
    f.set_permissions(fs::Permissions::from_mode(0o644))
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Writes a key a rotation moves to beside the one in use (`name`, replacing a leftover
/// from an interrupted one), durably, before anything depends on it.
pub fn write_next(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let next = dir.join(name);
    let _ = fs::remove_file(&next);
    write_secret(&next, bytes)?;
    sync_dir(dir)
}

/// Renames the key file `next` over `current` in `dir`, durably: the end of a rotation.
pub fn put_in_place(dir: &Path, next: &str, current: &str) -> Result<(), StoreError> {
    let path = dir.join(current);
    fs::rename(dir.join(next), &path).map_err(|source| StoreError::Io { path, source })?;
    sync_dir(dir)
}

/// Makes new names in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })
}

/// Replaces the checkpoint key files: `old`'s public key is appended to
/// `checkpoint-retired.pub` first, then `checkpoint.key` and `checkpoint.pub` are each
/// written beside and renamed over (so a crash leaves one whole key or the other).
pub fn replace_checkpoint_key(
    dir: &Path,
    old: &ed25519_dalek::SigningKey,
    new: &ed25519_dalek::SigningKey,
) -> Result<(), StoreError> {
    let io = |path: PathBuf| {
        move |source| StoreError::Io {
            path: path.clone(),
            source,
        }
    };
    let retired = dir.join(CHECKPOINT_RETIRED);
    let mut f = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .open(&retired)
        .map_err(io(retired.clone()))?;
    writeln!(f, "{}", hex::encode(old.verifying_key().as_bytes())).map_err(io(retired.clone()))?;
    f.sync_all().map_err(io(retired))?;
    for (name, bytes, secret) in [
        (CHECKPOINT_KEY, hex::encode(new.to_bytes()), true),
        (
            CHECKPOINT_PUB,
            hex::encode(new.verifying_key().as_bytes()),
            false,
        ),
    ] {
        let next = format!("{name}.next");
        let _ = fs::remove_file(dir.join(&next));
        if secret {
            write_secret(&dir.join(&next), bytes.as_bytes())?;
        } else {
            write_public(&dir.join(&next), bytes.as_bytes())?;
        }
        put_in_place(dir, &next, name)?;
    }
    Ok(())
}

/// Reads a store key (an OpenPGP key with its secret parts) from a secret file.
pub fn read_store_key(path: &Path) -> Result<Cert, StoreError> {
    let key = parse_cert(&read_secret(path)?)?;
    if !key.is_tsk() {
        return Err(StoreError::Key(format!(
            "{}: holds no secret key",
            path.display()
        )));
    }
    Ok(key)
}

/// Reads a secret file, refusing one that group or others may read.
pub fn read_secret(path: &Path) -> Result<Vec<u8>, StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(io)?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(StoreError::Key(format!(
            "{}: secret file is readable by others (mode {:o}); run chmod 600 on it",
            path.display(),
            meta.permissions().mode() & 0o777
        )));
    }
    fs::read(path).map_err(io)
}

/// The keys a running daemon holds.
pub struct DataKeys {
    /// The store key with its secret parts: encrypts and decrypts records at rest.
    pub store: Cert,
    /// The store key a rotation moves to (`store.key.next`, or `[keys] next_store_key`),
    /// while there is one (see `Store::rotate_store_key`).
    pub store_next: Option<Cert>,
    /// The auditors' certificates (public only): audit payloads are encrypted to them.
    pub audit: Vec<Cert>,
    pub checkpoint: ed25519_dalek::SigningKey,
    pub blind: [u8; 32],
    /// Where the ring keys live: `[keys] ring_dir`, or the data directory (`None`).
    pub ring_dir: Option<PathBuf>,
    /// Signs delivered copies. `None` only when read offline from a data directory made
    /// before it existed (the daemon makes it at its next start).
    pub signing: Option<Cert>,
}

/// Where the store and blind-index keys are read from when they are kept apart from the
/// data directory (`[keys]`: systemd credentials or files on another mount).
#[derive(Debug, Clone)]
pub struct Apart {
    pub store: PathBuf,
    pub blind: PathBuf,
    /// The store key a rotation moves to (`[keys] next_store_key`), while one is named.
    pub store_next: Option<PathBuf>,
    /// Where the ring keys live (`[keys] ring_dir`), writable, apart from the data directory.
    pub ring: Option<PathBuf>,
}

/// Makes a new store key and blind-index key in `dir` (0600 files, never overwriting), to
/// be kept apart from the data directory; returns their paths.
pub fn make_apart(dir: &Path) -> Result<Apart, StoreError> {
    let apart = Apart {
        store: dir.join(STORE_KEY),
        blind: dir.join(BLIND_KEY),
        store_next: None,
        ring: None,
    };
    write_secret(
        &apart.store,
        &armor_secret(&generate_key("modtag store key")?)?,
    )?;
    write_secret(&apart.blind, hex::encode(random32()).as_bytes())?;
    Ok(apart)
}

/// A key file that `init_or_load` created, for telling the operator.
#[derive(Debug, Clone)]
pub struct Created {
    pub path: PathBuf,
    pub what: &'static str,
}

impl DataKeys {
    /// Loads the keys of `dir`, creating any that are missing (first start). The auditors'
    /// certificates are not among them: they come from the configuration
    /// ([`DataKeys::with_auditors`]), so no key that reads the audit log is ever here.
    ///
    /// With `apart`, the store and blind-index keys are read from there and never made: they
    /// are provisioned (`modtag keys init`) and kept off this disk. Without it they live in
    /// the data directory; a data directory that has a store but lost its store key is
    /// refused rather than given a new key that could not read it.
    pub fn init_or_load(
        dir: &Path,
        apart: Option<&Apart>,
    ) -> Result<(DataKeys, Vec<Created>), StoreError> {
        let mut created = Vec::new();
        let p = |name: &str| dir.join(name);
        if let Some(a) = apart {
            for (path, what) in [(&a.store, "store key"), (&a.blind, "blind-index key")] {
                if !path.exists() {
                    return Err(StoreError::Key(format!(
                        "the {what} {} ([keys]) does not exist: make the keys with `modtag keys init DIR` and give them to modtag as systemd credentials or files on another mount",
                        path.display()
                    )));
                }
            }
        } else if p("db").exists() && !(p(STORE_KEY).exists() && p(BLIND_KEY).exists()) {
            return Err(StoreError::Key(format!(
                "{} holds a store but not its store and blind-index keys: a new key could not read it. If the keys are kept apart, name them under [keys] in the configuration",
                dir.display()
            )));
        }

        if apart.is_none() && !p(STORE_KEY).exists() {
            let key = generate_key("modtag store key")?;
            write_secret(&p(STORE_KEY), &armor_secret(&key)?)?;
            created.push(Created {
                path: p(STORE_KEY),
                what: "store key (encrypts messages at rest)",
            });
        }
        if !p(CHECKPOINT_KEY).exists() {
            let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
            write_secret(&p(CHECKPOINT_KEY), hex::encode(key.to_bytes()).as_bytes())?;
            let _ = fs::remove_file(p(CHECKPOINT_PUB));
            write_public(
                &p(CHECKPOINT_PUB),
                hex::encode(key.verifying_key().to_bytes()).as_bytes(),
            )?;
            created.push(Created {
                path: p(CHECKPOINT_KEY),
                what: "checkpoint signing key (Ed25519)",
            });
        }
        if apart.is_none() && !p(BLIND_KEY).exists() {
            write_secret(&p(BLIND_KEY), hex::encode(random32()).as_bytes())?;
            created.push(Created {
                path: p(BLIND_KEY),
                what: "blind-index key (CPR lookups)",
            });
        }
        if !p(SIGNING_KEY).exists() {
            let key = generate_key("modtag (signs every copy it delivers)")?;
            write_secret(&p(SIGNING_KEY), &armor_secret(&key)?)?;
            let _ = fs::remove_file(p(SIGNING_CERT));
            write_public(&p(SIGNING_CERT), &armor_public(&key)?)?;
            created.push(Created {
                path: p(SIGNING_KEY),
                what: "signing key (signs delivered copies; publish signing.cert.asc)",
            });
        }
        let keys = DataKeys::load(dir, apart)?;
        Ok((keys, created))
    }

    /// Loads existing keys without creating any.
    pub fn load(dir: &Path, apart: Option<&Apart>) -> Result<DataKeys, StoreError> {
        let p = |name: &str| dir.join(name);
        let (store_path, blind_path, next_path) = match apart {
            Some(a) => (a.store.clone(), a.blind.clone(), a.store_next.clone()),
            None => (
                p(STORE_KEY),
                p(BLIND_KEY),
                Some(p(STORE_KEY_NEXT)).filter(|p| p.exists()),
            ),
        };
        let store = read_store_key(&store_path)?;
        let store_next = next_path.map(|p| read_store_key(&p)).transpose()?;
        // A data directory from before keeps the certificate its log was written to. The
        // daemon must not be able to read the log back: only the public half is kept.
        let audit = match fs::read(p(AUDIT_CERT)) {
            Ok(bytes) => vec![parse_cert(&bytes)?.strip_secret_key_material()],
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => {
                return Err(StoreError::Io {
                    path: p(AUDIT_CERT),
                    source,
                })
            }
        };
        let checkpoint = ed25519_dalek::SigningKey::from_bytes(&hex32(
            &read_secret(&p(CHECKPOINT_KEY))?,
            &p(CHECKPOINT_KEY),
        )?);
        let blind = hex32(&read_secret(&blind_path)?, &blind_path)?;
        let signing = match p(SIGNING_KEY).exists() {
            true => Some(parse_cert(&read_secret(&p(SIGNING_KEY))?)?),
            false => None,
        };
        Ok(DataKeys {
            ring_dir: apart.and_then(|a| a.ring.clone()),
            store,
            store_next,
            audit,
            checkpoint,
            blind,
            signing,
        })
    }
}

impl DataKeys {
    /// Encrypt audit payloads to these certificates (the configuration's `[audit]
    /// auditor_certs`), in place of any older `audit.cert`. Secret parts are dropped.
    pub fn with_auditors(mut self, certs: Vec<Cert>) -> DataKeys {
        if !certs.is_empty() {
            self.audit = certs
                .into_iter()
                .map(|c| c.strip_secret_key_material())
                .collect();
        }
        self
    }
}

fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

fn hex32(bytes: &[u8], path: &Path) -> Result<[u8; 32], StoreError> {
    let text = String::from_utf8_lossy(bytes);
    let v = hex::decode(text.trim())
        .map_err(|_| StoreError::Key(format!("{}: not a hex key", path.display())))?;
    v.try_into()
        .map_err(|_| StoreError::Key(format!("{}: key must be 32 bytes", path.display())))
}

/// Removes the shared admin token of an older data directory; whether there was one.
pub fn remove_legacy_api_token(dir: &Path) -> Result<bool, StoreError> {
    let path = dir.join(LEGACY_API_TOKEN);
    match fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(StoreError::Io { path, source }),
    }
}
