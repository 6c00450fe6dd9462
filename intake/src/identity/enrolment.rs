//! One-time enrolment (issue 25): a new account, and one an administrator resets, gets a link
//! (`/tilmeld/<token>`, single use, 72 hours) at which the person chooses their own password
//! and confirms the TOTP secret with a code. No password or TOTP secret ever passes through
//! an administrator: they see the link only, and the account has neither until the person
//! has used it.

use jiff::{SignedDuration, Timestamp};
use modtag_storage::records::{Enrolment, User};

use super::constant_time_eq;
use super::sessions::{digest, token};
use super::totp;

/// How long a link works.
pub const HOURS: i64 = 72;

/// Puts `user` into enrolment: no password, a fresh TOTP secret, no tokens, and a new link
/// whose token is returned (shown once). (Ending its sessions is the caller's change of the
/// epoch.)
pub fn begin(user: &mut User, now: Timestamp) -> String {
    let t = token();
    user.password = String::new();
    user.totp_secret = totp::new_secret();
    user.totp_last_step = None;
    user.tokens.clear();
    user.enrolment = Some(Enrolment {
        token_sha256: digest(&t),
        expires: now + SignedDuration::from_hours(HOURS),
        chosen: None,
        browser: None,
    });
    t
}

/// The link for `token` at the desk's address.
pub fn url(desk_url: &str, token: &str) -> String {
    format!("{desk_url}/tilmeld/{token}")
}

/// Whether `token` is `user`'s live enrolment link.
pub fn holds(user: &User, token: &str, now: Timestamp) -> bool {
    user.enrolment.as_ref().is_some_and(|e| {
        e.expires > now && constant_time_eq(e.token_sha256.as_bytes(), digest(token).as_bytes())
    })
}

/// Whether the browser holding `cookie` may go on with `user`'s enrolment: any browser
/// until a password is chosen, then only the one that chose it.
pub fn bound_to(user: &User, cookie: Option<&str>) -> bool {
    match user.enrolment.as_ref().and_then(|e| e.browser.as_ref()) {
        None => true,
        Some(bound) => {
            cookie.is_some_and(|c| constant_time_eq(bound.as_bytes(), digest(c).as_bytes()))
        }
    }
}

/// Records the password the person chose (its Argon2id hash), binding the rest of the
/// enrolment to the browser holding `cookie`.
pub fn choose(user: &mut User, phc: String, cookie: &str) {
    if let Some(e) = user.enrolment.as_mut() {
        e.chosen = Some(phc);
        e.browser = Some(digest(cookie));
    }
}

/// Finishes the enrolment with a correct `code` for the account's TOTP secret: the chosen
/// password and the secret take effect, the code is taken, the link is spent. False (and
/// nothing changed) for a wrong code or no chosen password.
pub fn confirm(user: &mut User, code: &str, unix_secs: u64) -> bool {
    let Some(chosen) = user.enrolment.as_ref().and_then(|e| e.chosen.clone()) else {
        return false;
    };
    let Some(step) = totp::accept(&user.totp_secret, code, unix_secs, None) else {
        return false;
    };
    user.password = chosen;
    user.totp_last_step = Some(step);
    user.enrolment = None;
    user.epoch += 1;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_works_once_for_its_time_and_needs_a_code() {
        let t0: Timestamp = "2026-12-06T08:00:00Z".parse().unwrap();
        let mut u = super::super::new_account(
            "lene".into(),
            "lene@x".into(),
            vec!["modtagelsen".into()],
            "old".into(),
            t0,
        );
        u.tokens.push(modtag_storage::records::ApiToken {
            sha256: "x".into(),
            created: t0,
            expires: t0 + SignedDuration::from_hours(1),
        });
        let link = begin(&mut u, t0);
        assert!(u.password.is_empty() && u.tokens.is_empty());
        assert!(holds(&u, &link, t0));
        assert!(!holds(&u, "another", t0));
        assert!(!holds(&u, &link, t0 + SignedDuration::from_hours(HOURS)));
        let unix = t0.as_second() as u64;
        let code = totp_rs::TOTP::from_url(totp::uri(&u.totp_secret, "lene").unwrap())
            .unwrap()
            .generate(unix);
        assert!(!confirm(&mut u, &code, unix), "a password first");
        assert!(bound_to(&u, None), "any browser until a password is chosen");
        choose(&mut u, "phc".into(), "browser-a");
        assert!(bound_to(&u, Some("browser-a")));
        assert!(!bound_to(&u, Some("browser-b")) && !bound_to(&u, None));
        assert!(!confirm(&mut u, "000000", unix) || code == "000000");
        assert!(confirm(&mut u, &code, unix));
        assert_eq!(u.password, "phc");
        assert!(u.enrolment.is_none() && !holds(&u, &link, t0), "spent");
        assert!(
            totp::accept(&u.totp_secret, &code, unix, u.totp_last_step).is_none(),
            "the code that confirmed is taken"
        );
    }
}
