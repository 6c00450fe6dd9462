//! `modtag triage journal REF --out DIR` and `modtag triage journal-send REF` (issue 31):
//! an intake's journal package unpacked into a new directory, or dropped for the case
//! system. The daemon makes the package and audits it; this only writes what it sent.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use modtag_storage::journal::Dropped;

use super::Ctx;

/// Fetches the package and unpacks it under `out` (which must be new or empty): each file
/// 0600, never over an existing one, its name checked to stay inside `out`.
pub async fn write(ctx: &Ctx<'_>, reference: &str, out: &Path) -> Result<()> {
    if out.exists() && std::fs::read_dir(out).map_or(true, |mut d| d.next().is_some()) {
        bail!(
            "{} exists and is not an empty directory: give a new one",
            out.display()
        );
    }
    let path = format!(
        "/api/v1/triage/{}/journal",
        super::client::urlencode(reference)
    );
    let zip = ctx.api()?.call_raw("GET", &path, None).await?;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec()))
        .context("the daemon's answer is not a journal package")?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut written = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i)?;
        // The package's files are under a folder named by the reference: written without it.
        let Some(name) = entry.enclosed_name() else {
            bail!("the package names a file outside its folder; nothing more was written");
        };
        let name = name.strip_prefix(reference).unwrap_or(&name).to_path_buf();
        if entry.is_dir() || name.as_os_str().is_empty() {
            continue;
        }
        let target = out.join(&name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&target)
            .with_context(|| format!("cannot create {}", target.display()))?;
        std::io::Write::write_all(&mut file, &bytes)?;
        file.sync_all()?;
        written.push(name.display().to_string());
    }
    println!("{reference}: journal package written to {}:", out.display());
    for name in written {
        println!("  {name}");
    }
    Ok(())
}

/// Asks the daemon to drop the package for the case system.
pub async fn send(ctx: &Ctx<'_>, reference: &str, json: bool) -> Result<()> {
    let path = format!(
        "/api/v1/triage/{}/journal/send",
        super::client::urlencode(reference)
    );
    let d: Dropped = ctx.api()?.post(&path, &serde_json::json!({})).await?;
    match json {
        true => crate::render::json(&d),
        false => println!(
            "{reference}: journal package {} dropped for {} as {}; its receipt will mark it journalised",
            d.package_id, d.system, d.file
        ),
    }
    Ok(())
}
