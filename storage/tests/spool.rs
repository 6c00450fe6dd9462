//! The spool's names made ahead (see `spool`), under writers that race for consecutive names
//! as concurrent SMTP sessions do.

use modtag_storage::spool::Spool;

#[test]
fn concurrent_writers_of_consecutive_names_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let spool = std::sync::Arc::new(Spool::open(dir.path()).unwrap());
    let threads = 8;
    let per = 300;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let spool = spool.clone();
            std::thread::spawn(move || {
                for i in 0..per {
                    let n = i * threads + t + 1;
                    let name = format!("MT-2026-{n:06}");
                    let hash = spool
                        .write(&name, name.as_bytes())
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(spool.read(&name, &hash).unwrap(), name.as_bytes());
                    // And an outbox copy's, counting up in hexadecimal.
                    let outbox = Spool::outbox_name(n as u64);
                    spool
                        .write(&outbox, b"copy")
                        .unwrap_or_else(|e| panic!("{outbox}: {e}"));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // What was made ahead and never written is empty; everything written is whole.
    let written = std::fs::read_dir(dir.path().join("spool"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().metadata().unwrap().len() > 0)
        .count();
    assert_eq!(written, 2 * threads * per);
}

#[test]
fn an_existing_message_file_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let hash = spool.write("MT-2026-000001", b"first").unwrap();
    assert!(spool.write("MT-2026-000001", b"second").is_err());
    assert_eq!(spool.read("MT-2026-000001", &hash).unwrap(), b"first");
}
