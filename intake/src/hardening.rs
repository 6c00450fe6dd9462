//! What every modtag process does before anything else: its memory holds plaintext, so it
//! must not reach a core file.

/// Plaintext of messages exists only in memory, so memory must not reach the disk: no core
/// dump (systemd-coredump or `core_pattern` would write one on a crash), and not dumpable
/// (which also keeps other processes of the same user from attaching a debugger or reading
/// `/proc/PID/mem`). Swap is the operator's part: see README.
pub fn no_core_dumps() {
    #[cfg(target_os = "linux")]
    {
        let zero = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain system calls on this process with valid arguments; no memory is
        // shared with them beyond `zero`, which outlives the call.
        let (limit, dumpable) = unsafe {
            (
                libc::setrlimit(libc::RLIMIT_CORE, &zero),
                libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0),
            )
        };
        if limit != 0 || dumpable != 0 {
            eprintln!("modtag: warning: could not turn off core dumps");
        }
    }
}

/// Everything a modtag process creates is its owner's only (0600 files, 0700 directories):
/// the database's own files included, whatever umask the service or shell started it with
/// (issue 25). Files meant for others (the CLI's socket, published certificates) are given
/// their mode explicitly.
pub fn private_umask() {
    // SAFETY: umask only sets this process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// With `RUST_BACKTRACE` set (an operator debugging a panic), every library error would
/// capture a backtrace too, and sequoia makes one on every message it encrypts (a dropped
/// encryptor's error, discarded): a stack walk per message on the intake path, seen in a
/// profile. Library errors capture none unless `RUST_LIB_BACKTRACE` says so; panics keep
/// theirs.
pub fn no_library_backtraces() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // No other thread runs yet (the environment is not thread-safe to change).
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
}
