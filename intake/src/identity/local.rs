//! The CLI on the server as a person: the kernel names the operating-system user at the
//! other end of the data directory's socket (`SO_PEERCRED`), and `[cli] accounts` in the
//! configuration names the modtag account that user acts as. Nobody else gets in.

use std::collections::BTreeMap;

use modtag_config::model::SERVING_USER;

/// The name of operating-system user `uid`, from the system's user database.
pub fn os_user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: an all-zero passwd is a valid out-parameter; getpwuid_r writes the strings it
    // points to into `buf`, which outlives every read of them below.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name points to a NUL-terminated string inside `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

/// The modtag account that operating-system user `uid` (called `name`) acts as: its own
/// entry, else `@serve` when it is the user running the daemon (`serving_uid`).
pub fn account_for<'a>(
    uid: u32,
    name: Option<&str>,
    serving_uid: u32,
    accounts: &'a BTreeMap<String, String>,
) -> Option<&'a str> {
    name.and_then(|n| accounts.get(n))
        .or_else(|| {
            (uid == serving_uid)
                .then(|| accounts.get(SERVING_USER))
                .flatten()
        })
        .map(String::as_str)
}

/// The user this process runs as.
pub fn serving_uid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_entry_wins_and_serve_stands_for_the_daemons_own_user() {
        let accounts: BTreeMap<String, String> = [("@serve", "demo"), ("lhol", "lene.holm")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(
            account_for(1000, Some("lhol"), 1000, &accounts),
            Some("lene.holm")
        );
        assert_eq!(
            account_for(1000, Some("other"), 1000, &accounts),
            Some("demo")
        );
        assert_eq!(account_for(1001, Some("other"), 1000, &accounts), None);
        assert_eq!(account_for(1001, None, 1000, &accounts), None);
    }

    #[test]
    fn root_is_found_in_the_user_database() {
        assert_eq!(os_user_name(0).as_deref(), Some("root"));
    }
}
