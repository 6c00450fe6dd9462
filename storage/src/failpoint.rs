//! Failpoints at each durability step (issue 32), for the tests' crash and error injection.
//!
//! Built in only with the `failpoints` feature, which only the test suite turns on
//! (`tests/run` builds with `--features modtag-intake/failpoints`; `cargo build --release`
//! never has it). In such a build the `FAILPOINTS` environment variable (the `fail` crate's
//! syntax) arms them, e.g. `FAILPOINTS='spool.fsync=20*off->return(crash)'`:
//! `return(crash)` kills the process at that step as a power cut would stop it (SIGKILL: no
//! destructor, no flush), `return(slow-crash)` does so after the disk hung there for 300 ms
//! (less than sled's own flush interval), any other `return` makes the step fail with EIO,
//! as a disk going bad would. Without the feature [`step`] is an empty function.

/// The steps, in the order a message or a delivery passes them: a message file written,
/// then fsynced, the spool's directory synced (its name), the database transaction, the
/// group commit's two syncs (sled's flush, sled's log file), a delivery the relay took and
/// its record, and a checkpoint of the audit log written and mailed to the auditors.
pub const STEPS: [&str; 10] = [
    "spool.write",
    "spool.fsync",
    "spool.dir",
    "commit.transaction",
    "flush.db",
    "flush.log",
    "outbox.sent",
    "outbox.record",
    "checkpoint.write",
    "checkpoint.mail",
];

/// Passes `name`, or (armed) crashes there or fails with EIO.
#[cfg(feature = "failpoints")]
pub fn step(name: &'static str) -> std::io::Result<()> {
    debug_assert!(STEPS.contains(&name), "unknown failpoint {name}");
    fail::fail_point!(name, |arg: Option<String>| {
        // A disk that hangs first (for less than sled's own flush interval, 500 ms): what
        // the rest of the daemon does meanwhile.
        if arg.as_deref() == Some("slow-crash") {
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        if matches!(arg.as_deref(), Some("crash" | "slow-crash")) {
            // Said on stderr first, so a test can tell this crash from any other.
            eprintln!("failpoint {name}: crash");
            // SAFETY: kill(2) on our own pid with a signal that cannot be caught.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
            std::process::abort();
        }
        eprintln!("failpoint {name}: error");
        Err(std::io::Error::from_raw_os_error(libc::EIO))
    });
    Ok(())
}

/// Passes `name` (a build without failpoints).
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn step(_name: &'static str) -> std::io::Result<()> {
    Ok(())
}

/// [`step`] as a storage error (EIO, named by the step), for the steps whose failure is
/// the same as any other that refuses the work it is part of.
pub fn stored(name: &'static str) -> Result<(), crate::StoreError> {
    step(name).map_err(|source| crate::StoreError::Io {
        path: name.into(),
        source,
    })
}

/// Arms the failpoints `FAILPOINTS` names, for the rest of the process (a test build; in
/// any other this does nothing).
pub fn arm_from_env() {
    #[cfg(feature = "failpoints")]
    std::mem::forget(fail::FailScenario::setup());
}

/// Whether this build has failpoints (a test build: `modtag --version` says so).
pub const BUILT_IN: bool = cfg!(feature = "failpoints");
