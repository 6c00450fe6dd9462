//! `modtag audit ...`: offline, on a stopped daemon's data directory (or a copy); no API.

use anyhow::{anyhow, Context, Result};
use modtag_intake::audit_cli as a;
use modtag_storage::audit::offline::{self, VerifyError};
use serde_json::json;

use super::{Ctx, IntegrityFailure};
use crate::cli::AuditCommand;
use crate::render;

pub fn run(ctx: &Ctx<'_>, command: &AuditCommand) -> Result<()> {
    let data = &ctx.cli.data;
    match command {
        AuditCommand::Verify {
            checkpoint,
            key,
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
            match offline::verify_offline(data, &notes, key) {
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
                    Err(IntegrityFailure(format!("{}: {b}", data.display())).into())
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
            from,
            to,
            kind,
            reference,
            cpr,
        } => {
            let reads = a::read_all(data, key)?;
            let mut references = reference.as_ref().map(|r| vec![r.clone()]);
            if let Some(c) = cpr {
                references = Some(a::references_for_cpr(data, c)?);
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
        } => {
            let reads = a::read_all(data, key)?;
            let refs = a::references_for_cpr(data, cpr)?;
            let uses = a::subject_access(&reads, &refs, *with_employees);
            render::json(&json!({ "intakes": refs.len(), "uses": uses }));
            Ok(())
        }
    }
}
