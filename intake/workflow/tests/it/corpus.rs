//! The classification corpus (`tests/data/corpus/*.eml`, made by `generate.py` there): each
//! message's expected reading is the `.json` beside it. Every message is read as written
//! (CRLF) and again with bare LF line endings, and must give the same answer. Refresh the
//! expectations with `UPDATE_EXPECT=1` and review the diff.

use std::path::{Path, PathBuf};

use modtag_config::Channel;
use modtag_workflow::understand::{Reader, Reading};
use serde_json::{json, Value};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/corpus")
}

fn reader() -> Reader {
    let cfg = modtag_config::load_embedded().expect("embedded default");
    let key = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/demo/keys/modtagelsen.key.asc"),
    )
    .unwrap();
    let key = modtag_storage::crypto::parse_cert(&key).unwrap();
    Reader::with_key(&cfg, Some(key))
}

/// The mailbox a corpus message was sent to decides its channel.
fn channel(raw: &[u8]) -> Channel {
    let head = String::from_utf8_lossy(&raw[..raw.len().min(4096)]).to_lowercase();
    if head.contains("to: postfordeling@") {
        Channel::Postfordeling
    } else if head.contains("to: trivselplus@") {
        Channel::Trivselplus
    } else {
        Channel::Underretning
    }
}

/// What staff would see, as JSON. Line endings inside text are normalised; sizes and hashes
/// of parts whose content is text depend on them and are left out of the LF comparison.
fn view(r: &Reading, lf: bool) -> Value {
    let attachments: Vec<Value> = r
        .attachments
        .iter()
        .map(|a| {
            let mut v = serde_json::to_value(a).unwrap();
            let textual = a.sniffed_type.starts_with("text/")
                || a.sniffed_type == "application/pgp-encrypted"
                || a.content_type == "message/rfc822";
            if lf && textual {
                v.as_object_mut().unwrap().remove("size");
                v.as_object_mut().unwrap().remove("sha256");
            }
            v
        })
        .collect();
    json!({
        "kind": r.kind,
        "subject": r.subject,
        "from": r.from,
        "cpr": r.cprs.iter().map(|c| c.formatted()).collect::<Vec<_>>(),
        "attachments": attachments,
        "understanding": r.understanding,
        "error": r.error,
        "text": r.text.replace("\r\n", "\n"),
    })
}

#[test]
fn corpus_reads_as_expected_with_crlf_and_lf() {
    let reader = reader();
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    assert!(files.len() >= 60, "the corpus has {} messages", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let raw = std::fs::read(path).unwrap();
        let ch = channel(&raw);
        let got = view(&reader.read(&raw, ch), false);
        let expect_path = path.with_extension("json");
        if update {
            let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
            std::fs::write(&expect_path, text).unwrap();
            continue;
        }
        let expected: Value = match std::fs::read(&expect_path) {
            Ok(b) => serde_json::from_slice(&b).unwrap(),
            Err(_) => {
                failures.push(format!(
                    "{}: no .json (run with UPDATE_EXPECT=1)",
                    path.display()
                ));
                continue;
            }
        };
        if got != expected {
            failures.push(format!(
                "{}: got\n{}",
                path.display(),
                serde_json::to_string_pretty(&got).unwrap()
            ));
        }
        // The same message with bare LF line endings reads the same.
        let lf: Vec<u8> = raw
            .windows(2)
            .filter(|w| w != b"\r\n")
            .map(|w| w[0])
            .chain(raw.last().copied())
            .collect();
        let lf = if raw.is_empty() { Vec::new() } else { lf };
        let got_lf = view(&reader.read(&lf, ch), true);
        let mut expected_lf = view(&reader.read(&raw, ch), true);
        if raw.windows(2).any(|w| w == b"\r\n") {
            expected_lf["text"] = expected["text"].clone();
        }
        if got_lf != expected_lf {
            failures.push(format!(
                "{} with LF line endings differs:\n{}\nvs CRLF\n{}",
                path.display(),
                serde_json::to_string_pretty(&got_lf).unwrap(),
                serde_json::to_string_pretty(&expected_lf).unwrap()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The configured limits bound the work and say so; nothing is dropped silently.
/// Every attachment that reading lists, in every corpus message (nested mail, winmail.dat
/// contents and attachments inside decrypted mail among them), can be had as bytes whose
/// SHA-256 is the one listed: what staff download is what was described.
#[test]
fn every_listed_attachment_can_be_had_with_its_hash() {
    use sha2::{Digest, Sha256};
    let reader = reader();
    let (mut checked, mut kinds) = (0, std::collections::BTreeSet::new());
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let raw = std::fs::read(&path).unwrap();
        let ch = channel(&raw);
        let listed = reader.read(&raw, ch).attachments;
        for (i, a) in listed.iter().enumerate() {
            let (got, bytes) = reader
                .attachment(&raw, ch, i)
                .unwrap_or_else(|| panic!("{}: attachment {i} missing", path.display()));
            assert_eq!(&got, a, "{}: attachment {i}", path.display());
            assert_eq!(
                hex::encode(Sha256::digest(&bytes)),
                a.sha256,
                "{}: attachment {i}",
                path.display()
            );
            kinds.insert(a.inside.clone());
            checked += 1;
        }
        assert!(reader.attachment(&raw, ch, listed.len()).is_none());
    }
    assert!(checked >= 20, "only {checked} attachments in the corpus");
    assert!(
        kinds.contains("winmail.dat") && kinds.contains("message/rfc822"),
        "{kinds:?}"
    );
}

#[test]
fn limits_are_reported_not_silent() {
    let mut cfg = modtag_config::load_embedded().unwrap();
    cfg.config.classify.max_parts = 10;
    cfg.config.classify.max_depth = 2;
    cfg.config.classify.max_header_bytes = 4096;
    let reader = Reader::with_key(&cfg, None);
    let read = |name: &str| {
        let raw = std::fs::read(corpus().join(name)).unwrap();
        reader.read(&raw, Channel::Underretning)
    };
    let has = |r: &Reading, what: &str| r.understanding.notes.iter().any(|n| n.contains(what));

    let parts = read("59-ten-thousand-parts.eml");
    assert!(
        has(&parts, "grænsen max_parts"),
        "{:?}",
        parts.understanding.notes
    );
    assert!(parts.text.lines().count() <= 10);

    let deep = read("60-deep-nesting.eml");
    assert!(
        has(&deep, "grænsen max_depth"),
        "{:?}",
        deep.understanding.notes
    );

    let header = read("58-huge-header.eml");
    assert!(
        has(&header, "grænsen max_header_bytes"),
        "{:?}",
        header.understanding.notes
    );
    // The headers before the cut and the body are still read.
    assert_eq!(header.subject.as_deref(), Some("Bekymring"));
    assert_eq!(header.cprs.len(), 1);

    // With the default limits the same messages are read in full.
    let reader = Reader::with_key(&modtag_config::load_embedded().unwrap(), None);
    let raw = std::fs::read(corpus().join("58-huge-header.eml")).unwrap();
    assert!(reader
        .read(&raw, Channel::Underretning)
        .understanding
        .notes
        .iter()
        .all(|n| !n.contains("limit")));
}
