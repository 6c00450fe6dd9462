//! The restore benchmark (issue 18, reported in BENCHMARKS.md): a store of N intakes (each
//! with a message of M bytes, three audit entries, and its own key), then timed:
//! 1. `backup`: the backup of the open store, written to a file;
//! 2. `keyring`: the keyring export;
//! 3. `verify`: the offline check (frames, message hashes, audit log);
//! 4. `restore`: the restore into a new data directory, with the keyring;
//! 5. `increment` and `apply`: after 1,000 more intakes and one erasure (the ring rotated),
//!    the increment since the backup, and applying it to the restored directory (a standby);
//! 6. `first open`: the restored store's first open, which rebuilds the summaries, the blind
//!    index and the outbox schedule (it decrypts every intake once);
//! 7. `rotate store key`: `keys rotate store` on the live store.
//!
//!     cargo run --release -p modtag-storage --example restore-bench [N] [M]

use std::time::Instant;

use jiff::Timestamp;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::keys::DataKeys;
use modtag_storage::records::{Channel, Item, Kind, Transport};
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

/// Intakes `range` (numbered from one), a hundred to a commit, each with a message of `size`
/// bytes and three audit entries.
fn add_intakes(store: &Store, range: std::ops::Range<usize>, size: usize, now: Timestamp) {
    let text = "Emil 120315-4321 kommer ofte sulten i skole. ".repeat(size / 40 + 1);
    for chunk in range.collect::<Vec<_>>().chunks(100) {
        let mut b = Batch::new();
        for i in chunk {
            let r = format!("MT-2026-{:06}", i + 1);
            let mut item = Item::received(
                &r,
                Channel::Underretning,
                Kind::Underretning,
                now,
                now,
                Transport::default(),
            );
            item.subject = Some(format!("Bekymring {i}"));
            item.cprs = vec!["120315-4321".into()];
            let raw = format!("Subject: Bekymring {i}\r\n\r\n{}", &text[..size]);
            b.message(&r, raw.into_bytes()).item(item);
            for kind in [EventKind::Received, EventKind::Parsed, EventKind::Viewed] {
                b.audit(Event::new(kind, "smtp", "modtagelse").reference(&r));
            }
        }
        store.commit(b, now).unwrap();
        store.flush().unwrap();
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(100_000);
    let size = args.get(1).copied().unwrap_or(16 * 1024);
    let work = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or("/tmp".into())).unwrap();
    let live = work.path().join("live");
    std::fs::create_dir(&live).unwrap();
    let auditor = modtag_storage::keys::generate_key("auditors").unwrap();
    let (keys, _) = DataKeys::init_or_load(&live, None).unwrap();
    let store_key = keys.store.clone();
    let store = Store::open(
        &live,
        keys.with_auditors(vec![auditor.clone()]),
        Timestamp::now(),
    )
    .unwrap();
    let now: Timestamp = "2026-11-23T12:00:00Z".parse().unwrap();
    let t = Instant::now();
    add_intakes(&store, 0..n, size, now);
    store.write_checkpoint("bench/audit").unwrap();
    println!(
        "store: {n} intakes of {size} bytes, {} audit entries, {:.0} MB on disk, made in {:.1} s",
        n * 3,
        du(&live) as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let file = work.path().join("backup.mtb");
    let t = Instant::now();
    let manifest = store
        .backup(
            std::io::BufWriter::new(std::fs::File::create(&file).unwrap()),
            false,
            now,
        )
        .unwrap();
    let backup_s = t.elapsed().as_secs_f64();
    let backup_mb = std::fs::metadata(&file).unwrap().len() as f64 / 1e6;
    println!(
        "backup:     {backup_s:7.1} s  ({backup_mb:.0} MB, {:.0} MB/s)",
        backup_mb / backup_s
    );

    let keyring = work.path().join("keyring");
    let t = Instant::now();
    store
        .export_keyring(std::fs::File::create(&keyring).unwrap(), now)
        .unwrap();
    println!("keyring:    {:7.1} s", t.elapsed().as_secs_f64());

    // A standby's increment: what a busy week adds, and an erasure.
    add_intakes(&store, n..n + 1000, size, now);
    store
        .erase(
            "MT-2026-000001",
            Event::new(EventKind::Erased, "bench", "sletning"),
            now,
        )
        .unwrap();
    store.rotate_ring("bench", now).unwrap();
    let increment = work.path().join("increment.mti");
    let t = Instant::now();
    store
        .increment(
            std::io::BufWriter::new(std::fs::File::create(&increment).unwrap()),
            manifest.position.unwrap(),
            now,
        )
        .unwrap();
    println!(
        "increment:  {:7.1} s  ({:.0} MB: 1,000 new intakes, one erased)",
        t.elapsed().as_secs_f64(),
        std::fs::metadata(&increment).unwrap().len() as f64 / 1e6
    );
    drop(store);

    let open = |p: &std::path::Path| std::io::BufReader::new(std::fs::File::open(p).unwrap());
    let t = Instant::now();
    let checked = modtag_storage::restore::check(&store_key, open(&file)).unwrap();
    println!(
        "verify:     {:7.1} s  ({} intakes, {} audit entries)",
        t.elapsed().as_secs_f64(),
        checked.items,
        checked.audit.entries
    );

    let target = work.path().join("restored");
    let t = Instant::now();
    let restored = modtag_storage::restore::restore(
        &store_key,
        open(&file),
        Some(open(&keyring)),
        &target,
        Timestamp::now(),
    )
    .unwrap();
    let restore_s = t.elapsed().as_secs_f64();
    println!(
        "restore:    {restore_s:7.1} s  ({} intakes)",
        restored.items
    );
    for name in ["store.key", "blind-index.key"] {
        std::fs::copy(live.join(name), target.join(name)).unwrap();
    }
    let t = Instant::now();
    let applied =
        modtag_storage::standby::apply(&store_key, &increment, &target, Timestamp::now()).unwrap();
    let apply_s = t.elapsed().as_secs_f64();
    println!(
        "apply:      {apply_s:7.1} s  ({} intakes written, {} erased)",
        applied.intakes,
        applied.gone.len()
    );
    let t = Instant::now();
    let keys = DataKeys::load(&target, None).unwrap();
    let back = Store::open(
        &target,
        keys.with_auditors(vec![auditor.clone()]),
        Timestamp::now(),
    )
    .unwrap();
    let open_s = t.elapsed().as_secs_f64();
    println!(
        "first open: {open_s:7.1} s  ({} summaries rebuilt)",
        back.summaries().unwrap().len()
    );
    println!(
        "restore to a running daemon: {:.1} s (restore + first open)",
        restore_s + open_s
    );
    drop(back);

    let keys = DataKeys::load(&live, None).unwrap();
    let store = Store::open(&live, keys.with_auditors(vec![auditor]), Timestamp::now()).unwrap();
    let t = Instant::now();
    let done = store.rotate_store_key(None, "bench", now).unwrap();
    println!(
        "rotate store key: {:.1} s ({} records, {} ring keys sealed again)",
        t.elapsed().as_secs_f64(),
        done.records,
        done.ring_keys
    );
}
