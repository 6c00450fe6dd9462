//! The audit log's benchmark (issue 7, reported in BENCHMARKS.md):
//! 1. append rate: events encrypted to the auditors' certificate and committed in batches,
//!    each batch made durable (fsync) before the next;
//! 2. verification of 1,000,000 entries (chain, Merkle tree, a checkpoint) — the entries are
//!    written straight into sled with 400-byte payloads, because encrypting a million
//!    payloads would only measure encryption again;
//! 3. bytes on disk per entry.
//!
//!     cargo run --release -p modtag-storage --example audit-bench [APPEND_N] [VERIFY_N]

use std::time::Instant;

use jiff::Timestamp;
use modtag_storage::audit::{Entry, Event, EventKind};
use modtag_storage::keys::DataKeys;
use modtag_storage::merkle::Frontier;
use modtag_storage::store::Batch;
use modtag_storage::Store;

fn du(path: &std::path::Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(path).unwrap().flatten() {
        let m = e.metadata().unwrap();
        total += if m.is_dir() { du(&e.path()) } else { m.len() };
    }
    total
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let append_n = args.first().copied().unwrap_or(20_000);
    let verify_n = args.get(1).copied().unwrap_or(1_000_000);

    // 1. Append rate, durable, 100 events per commit.
    let dir = tempfile::tempdir().unwrap();
    let (keys, _) = DataKeys::init_or_load(dir.path(), None).unwrap();
    let keys = keys.with_auditors(vec![
        modtag_storage::keys::generate_key("bench auditors").unwrap()
    ]);
    let store = Store::open(dir.path(), keys, Timestamp::now()).unwrap();
    let start = Instant::now();
    let mut done = 0;
    while done < append_n {
        let mut b = Batch::new();
        for i in 0..100 {
            b.audit(
                Event::new(EventKind::Viewed, "Lene Holm", "assessment")
                    .reference(&format!("MT-2026-{:06}", done + i))
                    .details(serde_json::json!({ "via": "api" })),
            );
        }
        store.commit(b, Timestamp::now()).unwrap();
        store.flush().unwrap();
        done += 100;
    }
    let secs = start.elapsed().as_secs_f64();
    drop(store);
    let bytes = du(&dir.path().join("db"));
    println!(
        "append: {done} entries in {secs:.2} s = {:.0} entries/s (100 per durable commit); {:.0} bytes per entry on disk",
        done as f64 / secs,
        bytes as f64 / done as f64
    );

    // 2. Verification of VERIFY_N entries.
    let dir = tempfile::tempdir().unwrap();
    let (keys, _) = DataKeys::init_or_load(dir.path(), None).unwrap();
    let keys = keys.with_auditors(vec![
        modtag_storage::keys::generate_key("bench auditors").unwrap()
    ]);
    let key = keys.checkpoint.clone();
    drop(Store::open(dir.path(), keys, Timestamp::now()).unwrap());
    let db = sled::open(dir.path().join("db")).unwrap();
    let audit = db.open_tree("audit").unwrap();
    let meta = db.open_tree("meta").unwrap();
    let mut prev = [0u8; 32];
    let mut frontier = Frontier::default();
    let now = Timestamp::now();
    let payload = vec![0xA5u8; 400];
    let mut batch = sled::Batch::default();
    for seq in 1..=verify_n {
        let e = Entry::new(seq, now, "viewed", payload.clone(), prev);
        frontier.push(e.leaf_hash());
        prev = e.hash;
        batch.insert(&seq.to_be_bytes(), e.encode());
        if seq % 10_000 == 0 {
            audit.apply_batch(std::mem::take(&mut batch)).unwrap();
        }
    }
    audit.apply_batch(batch).unwrap();
    let mut head = verify_n.to_be_bytes().to_vec();
    head.extend_from_slice(&prev);
    meta.insert("audit_head", head).unwrap();
    meta.insert("audit_frontier", frontier.encode()).unwrap();
    let note = modtag_storage::checkpoint::Checkpoint {
        origin: "bench/audit".into(),
        size: verify_n,
        root: frontier.root(),
        next_key: None,
    }
    .sign(&key);
    db.flush().unwrap();
    let start = Instant::now();
    let report =
        modtag_storage::audit::offline::verify_db(&db, &[key.verifying_key()], &[note]).unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "verify: {} entries and 1 checkpoint in {secs:.2} s ({:.0} entries/s)",
        report.entries,
        report.entries as f64 / secs
    );
}
