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
        AuditCommand::Verify {
            checkpoint,
            key,
            live,
            json,
        } => {
            let mut notes = Vec::new();
            for f in checkpoint {
                notes.push(
                    std::fs::read_to_string(f)
                        .with_context(|| format!("cannot read {}", f.display()))?,
                );
            }
            let key = match key {
                Some(k) => Some(
                    std::fs::read_to_string(k)
                        .map_err(anyhow::Error::from)
                        .and_then(|t| {
                            modtag_storage::checkpoint::parse_public(&t).map_err(|e| anyhow!(e))
                        })
                        .with_context(|| format!("{}: not a checkpoint public key", k.display()))?,
                ),
                None => None,
            };
            let verified = if *live {
                let key = key.ok_or_else(|| {
                    anyhow!(
                        "--live needs --key: the checkpoint public key the auditors keep (the \
                         daemon's own copy proves nothing about the daemon)"
                    )
                })?;
                let copy = fetch_log(ctx).await?;
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
                    &key,
                    &notes,
                )
                .map(|(report, _)| report)
                .map_err(VerifyError::Broken)
            } else {
                offline::verify_offline(data, &notes, key)
            };
            let place = if *live {
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
                            report.last.map(|l| format!(", last entry {l}")).unwrap_or_default()
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
        AuditCommand::Checkpoint => match offline::checkpoint_offline(data)? {
            Some(note) => {
                print!("{note}");
                Ok(())
            }
            None => anyhow::bail!("{}: no checkpoint has been written yet", data.display()),
        },
        AuditCommand::Prove { seq, json } => {
            let p = offline::prove_offline(data, *seq)?;
            if *json {
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
        AuditCommand::Read {
            key,
            live,
            from,
            to,
            kind,
            reference,
            cpr,
            blind_index_key,
        } => {
            let reads = if *live {
                let copy = fetch_log(ctx).await?;
                let entries = copy
                    .entries
                    .iter()
                    .map(|e| {
                        Entry::decode(&e.bytes)
                            .map_err(|why| anyhow!("entry {} of the copy: {why}", e.seq))
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

/// One stored entry of a copied log.
struct Copied {
    seq: u64,
    bytes: Vec<u8>,
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
    use base64::Engine;
    use modtag_intake::api::types::AuditPage;
    let api = ctx.api()?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let first: AuditPage = api.get("/api/v1/audit/log").await?;
    let until = first.until;
    let head_hash: [u8; 32] = hex::decode(&first.head_hash)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| anyhow!("the daemon sent a malformed head hash"))?;
    let checkpoints = first.checkpoints.clone();
    let mut entries = Vec::new();
    let mut page = first;
    loop {
        for e in &page.entries {
            let bytes = b64
                .decode(&e.entry)
                .map_err(|_| anyhow!("entry {} of the copy is not base64", e.seq))?;
            entries.push(Copied { seq: e.seq, bytes });
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
