//! The restore benchmark (issue 18, reported in BENCHMARKS.md): a store of N intakes (each
//! with a message of M bytes, three audit entries, and its own key), then timed:
//! 1. `backup`: the backup of the open store, written to a file;
//! 2. `keyring`: the keyring export;
//! 3. `verify`: the offline check (frames, message hashes, audit log);
//! 4. `restore`: the restore into a new data directory, with the keyring;
//! 5. `first open`: the restored store's first open, which rebuilds the summaries, the blind
//!    index and the outbox schedule (it decrypts every intake once).
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
    let store = Store::open(&live, keys.with_auditors(vec![auditor.clone()])).unwrap();
    let now: Timestamp = "2026-11-23T12:00:00Z".parse().unwrap();
    let text = "Emil 120315-4321 kommer ofte sulten i skole. ".repeat(size / 40 + 1);
    let t = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
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
    store.write_checkpoint("bench/audit").unwrap();
    println!(
        "store: {n} intakes of {size} bytes, {} audit entries, {:.0} MB on disk, made in {:.1} s",
        n * 3,
        du(&live) as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let file = work.path().join("backup.mtb");
    let t = Instant::now();
    store
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
    let restored =
        modtag_storage::restore::restore(&store_key, open(&file), Some(open(&keyring)), &target)
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
    let keys = DataKeys::load(&target, None)
        .unwrap()
        .with_auditors(vec![auditor]);
    let back = Store::open(&target, keys).unwrap();
    let open_s = t.elapsed().as_secs_f64();
    println!(
        "first open: {open_s:7.1} s  ({} summaries rebuilt)",
        back.summaries().unwrap().len()
    );
    println!(
        "restore to a running daemon: {:.1} s (restore + first open)",
        restore_s + open_s
    );
}
