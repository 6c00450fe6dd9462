//! `modtag audit ...`: offline, on a stopped daemon's data directory (or a copy); or with
//! `--live`, on a copy of the running daemon's log fetched over the API and checked here.

use anyhow::{anyhow, Context, Result};
use modtag_intake::audit_cli as a;
use modtag_storage::audit::offline::{self, VerifyError};
use modtag_storage::audit::Entry;
use serde_json::json;

use super::{Ctx, IntegrityFailure};
use crate::cli::AuditCommand;
use crate::render;

pub async fn run(ctx: &Ctx<'_>, command: &AuditCommand) -> Result<()> {
    let data = &ctx.cli.data;
    match command {
        AuditCommand::Export { file, live } => export(ctx, file, *live).await,
        AuditCommand::Verify { .. } => verify(ctx, command).await,
        AuditCommand::Checkpoint => match offline::checkpoint_offline(data)? {
            Some(note) => {
                print!("{note}");
                Ok(())
            }
            None => anyhow::bail!("{}: no checkpoint has been written yet", data.display()),
        },
        AuditCommand::Prove { seq, json } => prove(data, *seq, *json),
        AuditCommand::Read { .. } => read(ctx, command).await,
        AuditCommand::SubjectAccess {
            key,
            cpr,
            with_employees,
            blind_index_key,
        } => {
            let reads = a::read_all(data, key)?;
            let refs = a::references_for_cpr(data, blind_index_key.as_deref(), cpr)?;
            let uses = a::subject_access(&reads, &refs, *with_employees);
            render::json(&json!({ "intakes": refs.len(), "uses": uses }));
            Ok(())
        }
    }
}

/// `audit verify`: the log in the data directory, the running daemon's or an auditors'
/// bundle, checked against the checkpoints given and the auditors' key.
async fn verify(ctx: &Ctx<'_>, command: &AuditCommand) -> Result<()> {
    let AuditCommand::Verify {
        checkpoint,
        key,
        live,
        bundle,
        json,
    } = command
    else {
        unreachable!("called for `audit verify`");
    };
    let data = &ctx.cli.data;
    let mut notes = Vec::new();
    for f in checkpoint {
        notes.push(
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?,
        );
    }
    let key = match key {
        Some(k) => Some(
            std::fs::read_to_string(k)
                .map_err(anyhow::Error::from)
                .and_then(|t| modtag_storage::checkpoint::parse_public(&t).map_err(|e| anyhow!(e)))
                .with_context(|| format!("{}: not a checkpoint public key", k.display()))?,
        ),
        None => None,
    };
    let verified = if *live || bundle.is_some() {
        let (copy, own_keys) = match bundle {
            Some(f) => read_bundle(f)?,
            None => (fetch_log(ctx).await?, Vec::new()),
        };
        let keys = match (key, own_keys.is_empty()) {
            (Some(k), _) => vec![k],
            (None, false) => {
                eprintln!(
                    "modtag: checking with the bundle's own checkpoint key; give --key \
                     (the copy the auditors keep) for a check that trusts nothing in it"
                );
                own_keys
            }
            (None, true) => anyhow::bail!(
                "--live needs --key: the checkpoint public key the auditors keep (the \
                 daemon's own copy proves nothing about the daemon)"
            ),
        };
        offline::verify_log(
            copy.entries
                .iter()
                .map(|e| Ok((e.seq.to_be_bytes().to_vec(), e.bytes.clone()))),
            (copy.until > 0).then_some((copy.until, copy.head_hash)),
            None,
            copy.checkpoints
                .into_iter()
                .enumerate()
                .map(|(i, n)| (format!("the daemon's checkpoint {}", i + 1), n))
                .collect(),
            &keys,
            &notes,
        )
        .map(|(report, _)| report)
        .map_err(VerifyError::Broken)
    } else {
        offline::verify_offline(data, &notes, key)
    };
    let place = if let Some(f) = bundle {
        f.display().to_string()
    } else if *live {
        "the running daemon's log".to_string()
    } else {
        data.display().to_string()
    };
    match verified {
        Ok(report) => {
            if *json {
                render::json(&json!({
                    "ok": true, "entries": report.entries, "head": report.head,
                    "root": report.root, "checkpoints": report.checkpoints,
                    "first": report.first, "last": report.last,
                }));
            } else {
                println!(
                    "audit log ok: {} entries, head {}, tree root {}, {} checkpoint(s) verified{}",
                    report.entries,
                    &report.head[..16],
                    &report.root[..16],
                    report.checkpoints,
                    report
                        .last
                        .map(|l| format!(", last entry {l}"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        Err(VerifyError::Broken(b)) => {
            if *json {
                render::json(&json!({ "ok": false, "seq": b.seq, "error": b.what }));
            }
            Err(IntegrityFailure(format!("{place}: {b}")).into())
        }
        Err(e) => Err(e.into()),
    }
}

/// `audit prove`: the inclusion proof of one entry.
fn prove(data: &std::path::Path, seq: u64, json: bool) -> Result<()> {
    let p = offline::prove_offline(data, seq)?;
    if json {
        render::json(&p);
    } else {
        println!(
            "entry {} is leaf {} of a tree of {}",
            p.seq, p.leaf_index, p.tree_size
        );
        println!("leaf hash  {}", p.leaf_hash);
        println!("root hash  {}", p.root_hash);
        for (i, h) in p.inclusion_path.iter().enumerate() {
            println!("path[{i:>2}]   {h}");
        }
        if let Some(c) = p.checkpoint {
            println!("\n{c}");
        }
    }
    Ok(())
}

/// `audit read`: the decrypted entries that pass the filter, one JSON object a line.
async fn read(ctx: &Ctx<'_>, command: &AuditCommand) -> Result<()> {
    let AuditCommand::Read {
        key,
        live,
        bundle,
        from,
        to,
        kind,
        reference,
        cpr,
        blind_index_key,
    } = command
    else {
        unreachable!("called for `audit read`");
    };
    let data = &ctx.cli.data;
    let reads = if *live || bundle.is_some() {
        let copy = match bundle {
            Some(f) => read_bundle(f)?.0,
            None => fetch_log(ctx).await?,
        };
        let entries = copy
            .entries
            .iter()
            .map(|e| {
                Entry::decode(&e.bytes).map_err(|why| anyhow!("entry {} of the copy: {why}", e.seq))
            })
            .collect::<Result<Vec<_>>>()?;
        a::decrypt_all(entries, key)?
    } else {
        a::read_all(data, key)?
    };
    let mut references = reference.as_ref().map(|r| vec![r.clone()]);
    if let Some(c) = cpr {
        references = Some(a::references_for_cpr(data, blind_index_key.as_deref(), c)?);
    }
    let filter = a::Filter {
        from: from.as_deref().map(a::instant).transpose()?,
        to: to.as_deref().map(a::instant).transpose()?,
        kind: kind.clone(),
        references,
    };
    for r in reads.iter().filter(|r| filter.keeps(r)) {
        println!("{}", a::as_json(r));
    }
    Ok(())
}

/// An auditors' bundle as written to a file.
#[derive(serde::Serialize, serde::Deserialize)]
struct Bundle {
    format: String,
    until: u64,
    head_hash: String,
    entries: Vec<BundleEntry>,
    checkpoints: Vec<String>,
    /// The checkpoint public key (hex), when exported from the data directory.
    checkpoint_pub: Option<String>,
    /// The checkpoint keys it replaced (hex, oldest first), likewise.
    #[serde(default)]
    checkpoint_retired: Vec<String>,
    /// The certificate that signs delivered copies (armored), likewise.
    signing_cert: Option<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct BundleEntry {
    seq: u64,
    /// The stored entry, base64.
    entry: String,
}

const BUNDLE_FORMAT: &str = "modtag-audit-bundle/1";

/// `audit export`: the log as stored (from the stopped data directory, or the running
/// daemon as an auditor) with what checks it, in a new 0600 file. No key that opens a
/// message goes in it.
async fn export(ctx: &Ctx<'_>, file: &std::path::Path, live: bool) -> Result<()> {
    use base64::Engine;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let data = &ctx.cli.data;
    let copy = if live {
        fetch_log(ctx).await?
    } else {
        let stored = offline::stored_offline(data)?;
        let (until, head_hash) = stored.head.unwrap_or((0, [0; 32]));
        LogCopy {
            entries: stored
                .entries
                .into_iter()
                .map(|(seq, bytes)| Copied { seq, bytes })
                .collect(),
            until,
            head_hash,
            checkpoints: stored.checkpoints,
        }
    };
    let public = |name: &str| {
        (!live)
            .then(|| std::fs::read_to_string(data.join(name)).ok())
            .flatten()
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let bundle = Bundle {
        format: BUNDLE_FORMAT.into(),
        until: copy.until,
        head_hash: hex::encode(copy.head_hash),
        entries: copy
            .entries
            .iter()
            .map(|e| BundleEntry {
                seq: e.seq,
                entry: b64.encode(&e.bytes),
            })
            .collect(),
        checkpoints: copy.checkpoints,
        checkpoint_pub: public(modtag_storage::keys::CHECKPOINT_PUB).map(|k| k.trim().to_string()),
        checkpoint_retired: public(modtag_storage::keys::CHECKPOINT_RETIRED)
            .map(|t| {
                t.lines()
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        signing_cert: public(modtag_storage::keys::SIGNING_CERT),
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .with_context(|| format!("cannot create {} (it must not exist yet)", file.display()))?;
    f.write_all(&serde_json::to_vec(&bundle)?)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", file.display()))?;
    println!(
        "{}: {} audit entries up to {}, {} checkpoint(s); no key that opens a message",
        file.display(),
        bundle.entries.len(),
        bundle.until,
        bundle.checkpoints.len()
    );
    Ok(())
}

/// A bundle read back, and the checkpoint key it carries (if any).
fn read_bundle(
    file: &std::path::Path,
) -> Result<(LogCopy, Vec<modtag_storage::checkpoint::VerifyingKey>)> {
    let text = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let b: Bundle = serde_json::from_slice(&text)
        .with_context(|| format!("{}: not an audit bundle", file.display()))?;
    if b.format != BUNDLE_FORMAT {
        anyhow::bail!(
            "{}: an audit bundle of format {:?}, not {BUNDLE_FORMAT}",
            file.display(),
            b.format
        );
    }
    let entries = b
        .entries
        .iter()
        .map(|e| {
            Copied::decode(e.seq, &e.entry)
                .ok_or_else(|| anyhow!("{}: entry {} is not base64", file.display(), e.seq))
        })
        .collect::<Result<Vec<_>>>()?;
    let head_hash =
        hash32(&b.head_hash).ok_or_else(|| anyhow!("{}: a malformed head hash", file.display()))?;
    // Those retired first, then the one in use.
    let key = b
        .checkpoint_retired
        .iter()
        .chain(&b.checkpoint_pub)
        .map(|k| {
            modtag_storage::checkpoint::parse_public(k)
                .map_err(|e| anyhow!("{}: checkpoint key: {e}", file.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((
        LogCopy {
            entries,
            until: b.until,
            head_hash,
            checkpoints: b.checkpoints,
        },
        key,
    ))
}

/// One stored entry of a copied log.
struct Copied {
    seq: u64,
    bytes: Vec<u8>,
}

impl Copied {
    /// From the base64 an API page or a bundle carries it in.
    fn decode(seq: u64, entry: &str) -> Option<Copied> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(entry)
            .ok()?;
        Some(Copied { seq, bytes })
    }
}

/// A SHA-256 in hex.
fn hash32(hex: &str) -> Option<[u8; 32]> {
    hex::decode(hex).ok()?.try_into().ok()
}

/// A copy of the running daemon's audit log up to its head when the copy began.
struct LogCopy {
    entries: Vec<Copied>,
    until: u64,
    head_hash: [u8; 32],
    checkpoints: Vec<String>,
}

/// Copies the running daemon's audit log over the API, page by page (needs the auditor
/// role).
async fn fetch_log(ctx: &Ctx<'_>) -> Result<LogCopy> {
    use modtag_intake::api::types::AuditPage;
    let api = ctx.api()?;
    let first: AuditPage = api.get("/api/v1/audit/log").await?;
    let until = first.until;
    let head_hash =
        hash32(&first.head_hash).ok_or_else(|| anyhow!("the daemon sent a malformed head hash"))?;
    let checkpoints = first.checkpoints.clone();
    let mut entries = Vec::new();
    let mut page = first;
    loop {
        for e in &page.entries {
            entries.push(
                Copied::decode(e.seq, &e.entry)
                    .ok_or_else(|| anyhow!("entry {} of the copy is not base64", e.seq))?,
            );
        }
        let Some(last) = entries.last().map(|e| e.seq) else {
            break;
        };
        if !page.more {
            break;
        }
        page = api
            .get(&format!("/api/v1/audit/log?after={last}&until={until}"))
            .await?;
        if page.entries.is_empty() {
            break;
        }
    }
    Ok(LogCopy {
        entries,
        until,
        head_hash,
        checkpoints,
    })
}
