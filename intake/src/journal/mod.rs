//! Journalisering (issue 31): an intake leaves modtag as a record the case system files.
//! [`make`] builds the journal package of one intake for a person who works its desk: the
//! record as a PDF/A (`record.rs` says what, `pdf.rs` draws it), every attachment as its
//! own file, checked against the SHA-256 recorded at intake, and the metadata as JSON and
//! XML naming each file's hash (`metadata.rs`). Making it is audited with the purpose
//! "journalisering" before anything is read. [`Package::zip`] is the one download (the
//! desk's, the API's for `modtag triage journal`); `hook.rs` drops it, encrypted, for a
//! case system that takes files, and reads its receipts back.

pub mod hook;
pub mod metadata;
pub mod pdf;
pub mod record;

use std::io::Write;

use modtag_storage::audit::{Event, EventKind};
use modtag_storage::records::Item;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::state::{audit, load_item, reread, ApiState};
use crate::app::blocking;
use metadata::{AuditHead, File, Metadata};

/// The audit purpose of every package.
pub const PURPOSE: &str = "journalisering";

/// The name of the record in every package.
pub const RECORD: &str = "journal.pdf";

/// One intake's journal package: its files by name, in the order the metadata lists them,
/// then `metadata.json` and `metadata.xml`.
pub struct Package {
    pub id: String,
    pub reference: String,
    pub files: Vec<(String, Vec<u8>)>,
}

impl Package {
    /// The package as one zip file (stored, not compressed), its files under a folder
    /// named by the reference, so that unpacking two never mixes them.
    pub fn zip(&self) -> Result<Vec<u8>, ApiError> {
        let packed = || -> zip::result::ZipResult<Vec<u8>> {
            let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .unix_permissions(0o600);
            for (name, bytes) in &self.files {
                zip.start_file(format!("{}/{name}", self.reference), options)?;
                zip.write_all(bytes)?;
            }
            Ok(zip.finish()?.into_inner())
        };
        packed().map_err(|e| {
            ApiError::Refused(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("the package could not be packed: {e}"),
            )
        })
    }
}

/// The journal package of `reference` for `caller`, who must work its desk (404 for no
/// such intake or none of theirs, 403 to a recipient, 409 before it is assessed).
pub async fn make(state: &ApiState, caller: &Caller, reference: &str) -> Result<Package, ApiError> {
    let item = load_item(state, reference).await?;
    caller.require_work(&item)?;
    if item.state == modtag_storage::records::ItemState::AwaitingAssessment {
        return Err(ApiError::conflict(format!(
            "{reference} is not assessed yet: a record is made of an assessed intake"
        )));
    }
    let id = modtag_workflow::memo::uuid_v4();
    let event = Event::new(EventKind::JournalPackaged, &caller.actor, PURPOSE)
        .reference(reference)
        .details(json!({ "package_id": id }));
    audit(state, event).await?;
    let count = item.attachments.len();
    let read = reread(state, &item, move |reader, raw, channel| {
        let text = reader.read(raw, channel).text;
        let files: Vec<Option<Vec<u8>>> = (0..count)
            .map(|i| reader.attachment(raw, channel, i).map(|(_, bytes)| bytes))
            .collect();
        (text, files)
    })
    .await?;
    let (text, bytes) = read.map_or((None, vec![None; count]), |(t, b)| (Some(t), b));
    let store = state.app.store.clone();
    let head = blocking(move || store.audit_head()).await?;
    let (cfg, now, actor) = (state.app.policy.cfg(), state.now(), caller.actor.clone());
    // A big intake's PDF is seconds of CPU: off the runtime (SMTP and the pages go on), and
    // one at a time, so that a few downloads together cannot take every core.
    let _turn = BUILDS.acquire().await.map_err(|_| {
        ApiError::Refused(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "shutting down".into(),
        )
    })?;
    blocking(move || {
        assemble(
            &cfg,
            &item,
            text.as_deref(),
            bytes,
            (&id, now, &actor),
            head,
        )
    })
    .await
}

/// Packages being built: one at a time.
static BUILDS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Stage two, no IO: attachments checked against their recorded hashes, the PDF, the
/// metadata.
fn assemble(
    cfg: &modtag_config::Loaded,
    item: &Item,
    text: Option<&str>,
    bytes: Vec<Option<Vec<u8>>>,
    (id, now, by): (&str, jiff::Timestamp, &str),
    head: Option<(u64, [u8; 32])>,
) -> Result<Package, ApiError> {
    let mut files = Vec::new();
    let mut filed = Vec::new();
    for (i, (listed, bytes)) in item.attachments.iter().zip(bytes).enumerate() {
        let sha256 = bytes.as_ref().map(|b| hex::encode(Sha256::digest(b)));
        let Some(bytes) = bytes.filter(|_| sha256.as_deref() == Some(listed.sha256.as_str()))
        else {
            tracing::error!(reference = %item.reference, index = i, "stored message does not give the recorded attachment");
            return Err(ApiError::Refused(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "the stored message of {} no longer gives attachment {i} as recorded at \
                     intake (its hash differs); no package was made",
                    item.reference
                ),
            ));
        };
        let path = format!("bilag/{:02}-{}", i + 1, file_name(&listed.name));
        filed.push(record::Filed {
            path: path.clone(),
            media_type: listed.content_type.clone(),
            size: bytes.len(),
            sha256: listed.sha256.clone(),
            flagged: listed.flagged.clone(),
        });
        files.push((path, bytes));
    }
    let record = record::build(cfg, item, text, &filed);
    let made = pdf::Made {
        reference: &item.reference,
        at: now,
        by,
    };
    let pdf = pdf::render(&record, &made).map_err(|why| {
        tracing::error!(reference = %item.reference, "journal PDF failed: {why}");
        ApiError::Refused(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "the record of {} could not be written as PDF/A",
                item.reference
            ),
        )
    })?;
    files.insert(0, (RECORD.to_string(), pdf));
    let listed: Vec<File> = (files.iter())
        .zip(std::iter::once(None).chain(filed.iter().map(Some)))
        .map(|((name, bytes), f)| File {
            name: name.clone(),
            role: if f.is_some() { "attachment" } else { "record" },
            media_type: f.map_or("application/pdf".into(), |f| f.media_type.clone()),
            size: bytes.len(),
            sha256: hex::encode(Sha256::digest(bytes)),
        })
        .collect();
    let head = head.map_or(
        AuditHead {
            sequence: 0,
            sha256: hex::encode([0u8; 32]),
        },
        |(sequence, hash)| AuditHead {
            sequence,
            sha256: hex::encode(hash),
        },
    );
    let kle = cfg.config.journal.kle.get(item.kind.as_str());
    let meta = Metadata::new(item, kle, (id, now, by), head, listed);
    files.push(("metadata.json".into(), meta.json()));
    files.push(("metadata.xml".into(), meta.xml()));
    Ok(Package {
        id: id.to_string(),
        reference: item.reference.clone(),
        files,
    })
}

/// An attachment's name as a file name any case system's import takes: letters (æøå too),
/// digits, `.`, `-` and `_`; anything else `_`; never empty, never hidden, at most 80.
fn file_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(
            |c| match c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                true => c,
                false => '_',
            },
        )
        .take(80)
        .collect();
    match clean.trim_start_matches('.') {
        "" => "bilag".into(),
        rest => rest.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn attachment_names_become_plain_file_names() {
        assert_eq!(super::file_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(
            super::file_name("Referat fra møde.pdf"),
            "Referat_fra_møde.pdf"
        );
        assert_eq!(super::file_name(".."), "bilag");
        assert_eq!(super::file_name("a\u{0}b"), "a_b");
    }
}
