//! The storage check at `MAIL FROM`: the one question the session asks that needs the disk.

use modtag_smtp::session::MailCheck;

/// The storage check at `MAIL FROM` (the session's `CheckMail`): a store that failed a flush takes
/// nothing until restarted, and the data directory's file system must keep `min_free` bytes
/// plus the announced size free.
pub struct DiskGate {
    pub store: modtag_storage::Store,
    pub dir: std::path::PathBuf,
    pub min_free: u64,
}

impl DiskGate {
    pub fn check(&self, size_hint: usize) -> MailCheck {
        if self.store.is_poisoned() {
            return MailCheck::Unavailable;
        }
        if self.min_free == 0 {
            return MailCheck::Ok;
        }
        match free_bytes(&self.dir) {
            Ok(free) if free < self.min_free.saturating_add(size_hint as u64) => MailCheck::Full,
            // Not knowing is not a reason to refuse: the write itself still answers 452.
            _ => MailCheck::Ok,
        }
    }
}

/// Bytes available to an unprivileged writer on the file system holding `dir`.
pub fn free_bytes(dir: &std::path::Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `path` is NUL-terminated and `st` is a writable statvfs; on success the kernel
    // has filled it in.
    let rc = unsafe { libc::statvfs(path.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so `st` is initialised.
    let st = unsafe { st.assume_init() };
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}
