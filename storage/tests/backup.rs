//! Backups of a store that keeps committing, checked and restored on a real sled directory:
//! every intake committed before the backup began comes back whole, the audit log
//! verifies, a damaged or cut backup is refused, and an intake erased after the backup
//! stays erased in the restore (its key is not in the keyring, and the backup's own ring
//! key is gone).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use jiff::Timestamp;
use modtag_storage::audit::{Event, EventKind};
use modtag_storage::restore::{check, restore};
use modtag_storage::Store;

mod common;
use common::*;

#[test]
fn a_backup_under_load_restores_every_earlier_intake_and_no_erased_one() {
    let dir = tempfile::tempdir().unwrap();
    let keys = test_keys(dir.path());
    let store_key = keys.store.clone();
    let store = Store::open(dir.path(), keys, Timestamp::now()).unwrap();
    let now: Timestamp = "2026-11-23T12:00:00Z".parse().unwrap();
    let before: Vec<String> = (1..=20).map(|n| commit_intake(&store, n, now)).collect();
    store.write_checkpoint("test/audit").unwrap();

    // Intake goes on while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let (running, started) = std::sync::mpsc::channel();
    let load = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 1000;
            loop {
                commit_intake(&store, n, now);
                n += 1;
                let _ = running.send(());
                if stop.load(Ordering::SeqCst) {
                    break;
                }
            }
            n - 1000
        })
    };
    // The backup starts only once intake is under way (on a busy machine the thread may
    // otherwise not have run before the backup ends).
    started.recv().unwrap();
    let mut file = Vec::new();
    let manifest = store.backup(&mut file, false, now).unwrap();
    stop.store(true, Ordering::SeqCst);
    assert!(load.join().unwrap() > 0, "intake went on during the backup");
    assert!(!manifest.includes_keys);
    assert!(!manifest.key_files.contains_key("ring-1.key"));
    assert!(!manifest.key_files.contains_key("blind-index.key"));

    // Checked offline: frames, message hashes, audit log.
    let checked = check(&store_key, file.as_slice()).unwrap();
    assert!(
        checked.items >= 20 && checked.messages == checked.items,
        "{} items, {} messages",
        checked.items,
        checked.messages
    );
    assert_eq!(checked.audit.entries, manifest.audit_size);
    // Damaged or cut short: refused.
    let mut bad = file.clone();
    let n = bad.len() / 2;
    bad[n] ^= 1;
    assert!(check(&store_key, bad.as_slice()).is_err());
    assert!(check(&store_key, &file[..file.len() - 100]).is_err());
    let other = modtag_storage::keys::generate_key("other").unwrap();
    assert!(check(&other, file.as_slice()).is_err());

    // Restored as it is (no erasure since): the backup's ring key is in the data
    // directory it is restored into... here a new one, so it is given the keyring.
    let erased = before[0].clone();
    assert!(store
        .erase(
            &erased,
            Event::new(EventKind::Erased, "tester", "test"),
            now
        )
        .unwrap());
    store.rotate_ring("tester", now).unwrap();
    let mut keyring = Vec::new();
    store.export_keyring(&mut keyring, now).unwrap();

    // Without the keyring: refused, the ring key of the backup's time is gone.
    let target = tempfile::tempdir().unwrap();
    let err = restore(
        &store_key,
        file.as_slice(),
        None::<&[u8]>,
        &target.path().join("a"),
        Timestamp::now(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("--keyring"), "{err}");
    // Nothing half-restored is left to start a daemon on, and the same directory can be
    // given again.
    assert!(!target.path().join("a").exists());
    assert_eq!(std::fs::read_dir(target.path()).unwrap().count(), 0);
    // Into an empty directory that exists (a volume's mount point): emptied again.
    let mounted = target.path().join("mounted");
    std::fs::create_dir(&mounted).unwrap();
    assert!(restore(
        &store_key,
        file.as_slice(),
        None::<&[u8]>,
        &mounted,
        Timestamp::now()
    )
    .is_err());
    assert_eq!(std::fs::read_dir(&mounted).unwrap().count(), 0);
    // One cut off half-way (its mark and what it wrote): no daemon opens it, and a
    // restore into it again goes ahead.
    std::fs::write(mounted.join(modtag_storage::restore::RESTORING), b"").unwrap();
    std::fs::create_dir(mounted.join("db")).unwrap();
    std::fs::create_dir(mounted.join("lost+found")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let keys = test_keys(elsewhere.path());
    let refused = Store::open(&mounted, keys, Timestamp::now()).map(|_| ());
    assert!(
        matches!(&refused, Err(e) if e.to_string().contains("restore into it again")),
        "{refused:?}"
    );
    // While another restore writes into it (its lock held), a second does not clear it.
    let other = std::fs::File::open(&mounted).unwrap();
    other.lock().unwrap();
    let busy = restore(
        &store_key,
        file.as_slice(),
        Some(keyring.as_slice()),
        &mounted,
        Timestamp::now(),
    )
    .map(|_| ());
    assert!(
        matches!(&busy, Err(e) if e.to_string().contains("another restore into it")),
        "{busy:?}"
    );
    assert!(
        mounted.join("db").exists(),
        "the other's writing is left alone"
    );
    drop(other);
    restore(
        &store_key,
        file.as_slice(),
        Some(keyring.as_slice()),
        &mounted,
        Timestamp::now(),
    )
    .unwrap();
    assert!(!mounted.join(modtag_storage::restore::RESTORING).exists());
    assert!(
        mounted.join("lost+found").exists(),
        "the file system's own is left"
    );
    std::fs::remove_dir_all(&mounted).unwrap();

    // Another restore into the same new directory under way (its staging directory
    // locked): refused, and nothing of the other's touched. Once it is gone, what it left
    // is cleared and the restore goes ahead.
    let staging = target.path().join(".a.restoring");
    std::fs::create_dir(&staging).unwrap();
    std::fs::write(staging.join("theirs"), b"").unwrap();
    let other = std::fs::File::open(&staging).unwrap();
    other.lock().unwrap();
    let restored_dir = target.path().join("a");
    let busy = restore(
        &store_key,
        file.as_slice(),
        Some(keyring.as_slice()),
        &restored_dir,
        Timestamp::now(),
    )
    .map(|_| ());
    assert!(
        matches!(&busy, Err(e) if e.to_string().contains("another restore into it")),
        "{busy:?}"
    );
    assert!(staging.join("theirs").exists() && !restored_dir.exists());
    drop(other);
    let restored = restore(
        &store_key,
        file.as_slice(),
        Some(keyring.as_slice()),
        &restored_dir,
        Timestamp::now(),
    )
    .unwrap();
    assert_eq!(restored.erased_since, std::slice::from_ref(&erased));
    // The store and blind-index keys come from their escrow (here: the original).
    for name in ["store.key", "blind-index.key"] {
        std::fs::copy(dir.path().join(name), restored_dir.join(name)).unwrap();
    }
    let back = reopen(&restored_dir);
    for r in &before[1..] {
        let item = back
            .item(r)
            .unwrap()
            .unwrap_or_else(|| panic!("{r} is back"));
        assert_eq!(&item.reference, r);
        assert!(contains(&back.message(r).unwrap().unwrap(), r.as_bytes()));
    }
    assert!(back.item(&erased).unwrap().is_none());
    assert!(back.message(&erased).unwrap().is_none());
    // The summaries and the blind index were rebuilt.
    assert_eq!(back.summaries().unwrap().len(), restored.items);
    assert_eq!(
        back.items_for_cpr("1203154321").unwrap().len(),
        restored.items
    );
    drop(back);
    let db = open_sled(&restored_dir);
    let key = modtag_storage::audit::offline::checkpoint_key(&restored_dir).unwrap();
    modtag_storage::audit::offline::verify_db(&db, &[key], &[]).unwrap();
}
