//! `modtag backup create|keyring|verify|restore`: the first two ask the running daemon
//! (streamed into a new file), the last two work offline with the store key.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use modtag_intake::clock::Clock;
use modtag_storage::restore;

use super::{Ctx, IntegrityFailure};
use crate::cli::BackupCommand;
use crate::render;

pub async fn run(ctx: &Ctx<'_>, command: &BackupCommand) -> Result<()> {
    match command {
        BackupCommand::Create {
            file,
            since: Some(since),
            ..
        } => {
            let path = format!("/api/v1/backup?since={since}");
            let n = ctx.api()?.download(&path, file).await?;
            println!(
                "{}: increment since position {since} written ({n} bytes, encrypted to the store key; it holds the ring key: keep it only until it is applied). On the standby: modtag --data STANDBY backup apply {}",
                file.display(),
                file.display()
            );
        }
        BackupCommand::Create {
            file, include_keys, ..
        } => {
            let path = format!("/api/v1/backup?include_keys={include_keys}");
            let n = ctx.api()?.download(&path, file).await?;
            println!(
                "{}: backup written ({n} bytes, encrypted to the store key{}); check it with `modtag backup verify {}`",
                file.display(),
                if *include_keys {
                    "; it holds the ring and blind-index keys, so it opens every intake in it even after that intake is erased: keep it as you keep the keys, and delete it when retention says the intakes go"
                } else {
                    ""
                },
                file.display()
            );
        }
        BackupCommand::Keyring { file } => {
            let n = ctx.api()?.download("/api/v1/backup/keyring", file).await?;
            println!(
                "{}: keyring written ({n} bytes); keep only the latest (an older one still opens what was erased since)",
                file.display()
            );
        }
        BackupCommand::Verify { .. } => verify_file(ctx, command)?,
        BackupCommand::Restore { .. } => restore_into(ctx, command)?,
        BackupCommand::Apply { .. } => apply_increment(ctx, command)?,
    }
    Ok(())
}

/// `backup verify`: the file checked whole with the store key, nothing written.
fn verify_file(ctx: &Ctx<'_>, command: &BackupCommand) -> Result<()> {
    let BackupCommand::Verify {
        file,
        store_key,
        json,
    } = command
    else {
        unreachable!("called for its own command");
    };
    let key = store_key_of(ctx, store_key.as_deref())?;
    let checked = restore::check(&key, open(file)?)
        .map_err(|e| IntegrityFailure(format!("{}: {e}", file.display())))?;
    let m = &checked.manifest;
    if *json {
        render::json(&serde_json::json!({
            "ok": true,
            "created_at": m.created_at,
            "modtag_version": m.modtag_version,
            "items": checked.items,
            "messages": checked.messages,
            "outbox": checked.outbox,
            "audit_entries": checked.audit.entries,
            "audit_head": checked.audit.head,
            "includes_keys": m.includes_keys,
        }));
    } else {
        println!(
            "{}: whole. Taken {} by modtag {}: {} intakes ({} message files, each matching its record), {} queued copies; the audit log verifies ({} entries, head {}); keys that open intakes: {}",
            file.display(),
            m.created_at,
            m.modtag_version,
            checked.items,
            checked.messages,
            checked.outbox,
            checked.audit.entries,
            checked.audit.head,
            if m.includes_keys { "included" } else { "none" }
        );
    }
    Ok(())
}

/// `backup restore`: the file written into a new data directory, and what it still needs.
fn restore_into(ctx: &Ctx<'_>, command: &BackupCommand) -> Result<()> {
    let BackupCommand::Restore {
        file,
        dir,
        keyring,
        store_key,
        json,
    } = command
    else {
        unreachable!("called for its own command");
    };
    let key = store_key_of(ctx, store_key.as_deref())?;
    let keyring = keyring.as_deref().map(open).transpose()?;
    let restored = restore::restore(&key, open(file)?, keyring, dir, Clock::system().now())
        .with_context(|| format!("cannot restore {} into {}", file.display(), dir.display()))?;
    if *json {
        render::json(&serde_json::json!({
            "dir": dir,
            "position": restored.manifest.position,
            "items": restored.items,
            "erased_since": restored.erased_since,
            "audit_entries": restored.manifest.audit_size,
        }));
        return Ok(());
    }
    println!(
        "{}: restored, {} intakes; the audit log holds {} entries (check it against the auditors' last checkpoint: modtag --data {} audit verify --checkpoint FILE)",
        dir.display(),
        restored.items,
        restored.manifest.audit_size,
        dir.display()
    );
    for r in &restored.erased_since {
        println!("{r}: erased after the backup was taken; left out");
    }
    if let Some(p) = restored.manifest.position {
        println!("as a standby: the next increment is `modtag backup create FILE --since {p}` on the running daemon");
    }
    let missing: Vec<&str> = [
        modtag_storage::keys::STORE_KEY,
        modtag_storage::keys::BLIND_KEY,
    ]
    .into_iter()
    .filter(|k| !dir.join(k).exists())
    .collect();
    if !missing.is_empty() {
        println!(
            "before `modtag serve --data {}`: give it {} (as [keys] credentials, or 0600 files in it)",
            dir.display(),
            missing.join(" and ")
        );
    }
    Ok(())
}

/// `backup apply`: an increment applied to a stopped standby.
fn apply_increment(ctx: &Ctx<'_>, command: &BackupCommand) -> Result<()> {
    let BackupCommand::Apply {
        file,
        store_key,
        json,
    } = command
    else {
        unreachable!("called for its own command");
    };
    let key = store_key_of(ctx, store_key.as_deref())?;
    let dir = &ctx.cli.data;
    let applied = modtag_storage::standby::apply(&key, file, dir, Clock::system().now())
        .with_context(|| format!("cannot apply {} to {}", file.display(), dir.display()))?;
    let position = applied.manifest.position;
    if *json {
        render::json(&serde_json::json!({
            "position": position,
            "intakes": applied.intakes,
            "gone": applied.gone,
            "audit_entries": applied.audit_entries,
            "audit_payloads_deleted": applied.audit_payloads_deleted,
            "audit_size": applied.manifest.audit_size,
        }));
        return Ok(());
    }
    println!(
        "{}: applied ({} intakes written, {} erased, {} audit entries appended, {} audit payloads deleted as on the running daemon; the log holds {}). The next increment: modtag backup create FILE --since {}",
        dir.display(),
        applied.intakes,
        applied.gone.len(),
        applied.audit_entries,
        applied.audit_payloads_deleted,
        applied.manifest.audit_size,
        position.unwrap_or(applied.manifest.audit_size)
    );
    Ok(())
}

fn open(path: &Path) -> Result<std::io::BufReader<std::fs::File>> {
    Ok(std::io::BufReader::new(
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
    ))
}

/// The store key: the file given, or the data directory's.
fn store_key_of(ctx: &Ctx<'_>, given: Option<&Path>) -> Result<sequoia_openpgp::Cert> {
    let path: PathBuf = given
        .map(Path::to_path_buf)
        .unwrap_or_else(|| ctx.cli.data.join(modtag_storage::keys::STORE_KEY));
    let bytes = modtag_storage::keys::read_secret(&path)
        .with_context(|| format!("the store key {} (give --store-key)", path.display()))?;
    modtag_storage::crypto::parse_cert(&bytes)
        .with_context(|| format!("{} is not the store key", path.display()))
}
