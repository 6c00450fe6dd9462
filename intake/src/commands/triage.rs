//! `modtag triage ...`: the queue of a running daemon.

use anyhow::{Context, Result};
use modtag_intake::api::types::{
    CloseBody, Closed, DecisionBody, EraseBody, Erased, ItemList, ItemView, JournalisedView,
    KindBody, KindCorrected, NoteAdded, NoteBody, TaskBody, TaskDone,
};

use super::Ctx;
use crate::cli::{DecisionArgs, TriageCommand};
use crate::render;

pub async fn run(ctx: &Ctx<'_>, command: &TriageCommand) -> Result<()> {
    match command {
        TriageCommand::List { channel, all, json } => {
            let mut path = format!("/api/v1/triage?all={all}");
            if let Some(c) = channel {
                path.push_str(&format!("&channel={}", super::client::urlencode(c)));
            }
            let list: ItemList = ctx.api()?.get(&path).await?;
            if *json {
                render::json(&list);
            } else {
                render::item::item_list(&list);
            }
        }
        TriageCommand::Show { reference, json } => {
            let item: ItemView = ctx
                .api()?
                .get(&format!("/api/v1/triage/{reference}"))
                .await?;
            if *json {
                render::json(&item);
            } else {
                render::item::item(&item);
            }
        }
        TriageCommand::Attachment {
            reference,
            index,
            out,
            allow_flagged,
        } => attachment(ctx, reference, *index, out, *allow_flagged).await?,
        TriageCommand::ConfirmSender { reference, how } => {
            let body = modtag_intake::api::types::SenderBody { how: how.clone() };
            let done: modtag_intake::api::types::SenderConfirmedView = ctx
                .api()?
                .post(&format!("/api/v1/triage/{reference}/sender"), &body)
                .await?;
            println!("{reference}: sender confirmed by {}", done.by);
        }
        TriageCommand::Journalised {
            reference,
            system,
            document,
            json,
        } => journalised(ctx, reference, (system, document), *json).await?,
        TriageCommand::Journal { reference, out } => {
            super::journal::write(ctx, reference, out).await?
        }
        TriageCommand::JournalSend { reference, json } => {
            super::journal::send(ctx, reference, *json).await?
        }
        TriageCommand::Close {
            reference,
            reason,
            json,
        } => {
            let body = CloseBody {
                reason: reason.clone(),
            };
            post(ctx, (reference, "close"), &body, *json, |_: &Closed| {
                println!("{reference}: closed")
            })
            .await?;
        }
        TriageCommand::Note {
            reference,
            text,
            json,
        } => {
            let body = NoteBody { text: text.clone() };
            post(ctx, (reference, "note"), &body, *json, |_: &NoteAdded| {
                println!("{reference}: note written")
            })
            .await?;
        }
        TriageCommand::Erase { .. } => erase(ctx, command).await?,
        TriageCommand::Task { .. } => task(ctx, command).await?,
        TriageCommand::Kind {
            reference,
            kind,
            reason,
            json,
        } => {
            let body = KindBody {
                kind: kind.clone(),
                reason: reason.clone(),
            };
            post(
                ctx,
                (reference, "kind"),
                &body,
                *json,
                |c: &KindCorrected| println!("{reference}: kind {} → {}", c.from, c.kind),
            )
            .await?;
        }
        TriageCommand::Decide {
            reference,
            decision,
            revise,
            json,
        } => {
            let body = decision_body(decision, revise.clone())?;
            post(ctx, (reference, "decision"), &body, *json, render::decision).await?;
        }
    }
    Ok(())
}

/// `triage erase`: done, or done with the ring key still to replace (the daemon's words).
async fn erase(ctx: &Ctx<'_>, command: &TriageCommand) -> Result<()> {
    let TriageCommand::Erase {
        reference,
        reason,
        json,
    } = command
    else {
        unreachable!("called for its own command");
    };
    let body = EraseBody {
        reason: reason.clone(),
    };
    let path = format!("/api/v1/triage/{reference}/erase");
    let done: Erased = ctx.api()?.post(&path, &body).await?;
    match (&done.warning, *json) {
        (_, true) => render::json(&done),
        (None, false) => {
            println!("{reference}: erased (its key is destroyed; no copy opens again)")
        }
        // Printed as an error, and the exit status says it: the erasure is done, but an
        // operator must see to the ring key.
        (Some(_), false) => {}
    }
    match done.warning {
        Some(w) => anyhow::bail!("{reference}: {w}"),
        None => Ok(()),
    }
}

/// `triage task`: an open task done, or a tilbagemelding withheld with its reason.
async fn task(ctx: &Ctx<'_>, command: &TriageCommand) -> Result<()> {
    let TriageCommand::Task {
        reference,
        kind,
        done,
        withhold,
        reason,
        json,
    } = command
    else {
        unreachable!("called for its own command");
    };
    if !done && !withhold {
        anyhow::bail!(
            "say --done, or --withhold --reason R for feedback that would harm the child"
        );
    }
    let body = TaskBody {
        kind: kind.clone(),
        outcome: if *withhold { "withheld" } else { "done" }.into(),
        reason: reason.clone(),
    };
    post(ctx, (reference, "task"), &body, *json, |done: &TaskDone| {
        println!("{reference}: {kind} {}", done.outcome)
    })
    .await?;
    Ok(())
}

/// Posts `body` to the intake's `what` and shows the answer: as JSON, or `say`'s line.
async fn post<B: serde::Serialize, T: serde::de::DeserializeOwned + serde::Serialize>(
    ctx: &Ctx<'_>,
    (reference, what): (&str, &str),
    body: &B,
    json: bool,
    say: impl FnOnce(&T),
) -> Result<()> {
    let path = format!("/api/v1/triage/{reference}/{what}");
    let done: T = ctx.api()?.post(&path, body).await?;
    if json {
        render::json(&done);
    } else {
        say(&done);
    }
    Ok(())
}

/// The decision's request body, from the command line.
fn decision_body(d: &DecisionArgs, revise: Option<String>) -> Result<DecisionBody> {
    let consent_at = d
        .consent_at
        .as_deref()
        .map(|t| {
            t.parse::<jiff::Timestamp>()
                .with_context(|| format!("--consent-at {t:?} is not a time (RFC 3339)"))
        })
        .transpose()?;
    Ok(DecisionBody {
        // The daemon records whoever the socket or token says is acting.
        actor: String::new(),
        existing_case: d.existing_case,
        case_number: d.case_number.clone(),
        trin: d.trin,
        consent: d.consent,
        area: d.area.clone(),
        institution: d.institution.clone(),
        akut: d.akut,
        out_of_hours: d.out_of_hours,
        udskoling: d.udskoling,
        note: d.note.clone(),
        consent_by: d.consent_by.clone(),
        consent_how: d.consent_how.clone(),
        consent_at,
        consent_scope: d.consent_scope.clone(),
        revise,
        screening_outcome: d.outcome.clone(),
        attach_original: d.attach_original,
        names_added: Vec::new(),
    })
}

/// Saves one attachment to a new 0600 file. The file first: nothing is read (and audited)
/// for a file that cannot be made.
async fn attachment(
    ctx: &Ctx<'_>,
    reference: &str,
    index: usize,
    out: &std::path::Path,
    allow_flagged: bool,
) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| format!("cannot create {}", out.display()))?;
    let query = if allow_flagged {
        "?allow_flagged=true"
    } else {
        ""
    };
    let fetched = match ctx.api() {
        Ok(api) => {
            api.call_raw(
                "GET",
                &format!("/api/v1/triage/{reference}/attachments/{index}{query}"),
                None,
            )
            .await
        }
        Err(e) => Err(e),
    };
    let written = fetched.and_then(|bytes| {
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", out.display()))
            .map(|()| bytes.len())
    });
    match written {
        Ok(n) => {
            println!(
                "{reference}: attachment {index} saved to {} ({n} bytes)",
                out.display()
            );
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(out);
            Err(e)
        }
    }
}

/// `modtag triage journalised REF --system S --document D`.
async fn journalised(
    ctx: &Ctx<'_>,
    reference: &str,
    (system, document): (&str, &str),
    json: bool,
) -> Result<()> {
    let body = modtag_intake::api::types::JournalBody {
        system: system.to_string(),
        document_id: document.to_string(),
    };
    post(
        ctx,
        (reference, "journal"),
        &body,
        json,
        |j: &JournalisedView| {
            println!(
                "{reference}: journalised in {} as {}",
                j.system, j.document_id
            )
        },
    )
    .await
}
