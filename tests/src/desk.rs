//! A person signed in to the desk over plain HTTP (no browser): the session cookie and its
//! CSRF token, for requests to the API and the pages as that person.

use crate::{csrf_field, http_get_headers, http_request, set_cookie, Daemon};

/// A signed-in person: the session cookie and its CSRF token.
pub struct Signed {
    pub user: String,
    pub cookie: String,
    pub csrf: String,
}

/// The `name=value` part of a `Set-Cookie` in a response's header block.
pub fn cookie_of(head: &str, name: &str) -> Option<String> {
    set_cookie(head, name).map(|c| c.split(';').next().unwrap().to_string())
}

impl Daemon {
    /// Signs `user` in with the sign-in form: the password every test account has and the
    /// TOTP code of `steps` periods from now from the enrolment `uri` (a code is taken once:
    /// a second sign-in in the same 30 seconds takes the next step's).
    pub fn sign_in_at(&self, user: &str, uri: &str, steps: i64) -> Signed {
        let (status, head) =
            self.try_sign_in(user, crate::TEST_PASSWORD, &self.totp(uri, steps), &[]);
        assert_eq!(status, 303, "{user}: {head}");
        let cookie = cookie_of(&head, "modtag_session").expect("a session cookie");
        let (_, _, home) = http_get_headers(self.http, "/konto", &[("Cookie", &cookie)]).unwrap();
        Signed {
            user: user.to_string(),
            csrf: csrf_field(&home).expect("the account page's CSRF token"),
            cookie,
        }
    }

    /// Posts the sign-in form with these values (and extra request headers, such as a
    /// proxy's `X-Forwarded-For`), waiting as long as sign-ins queued for Argon2 may take:
    /// the status and the header block.
    pub fn try_sign_in(
        &self,
        user: &str,
        password: &str,
        code: &str,
        extra: &[(&str, &str)],
    ) -> (u16, String) {
        let (_, head, body) = http_get_headers(self.http, "/login", &[]).unwrap();
        let form = format!(
            "username={user}&password={}&totp={code}&csrf={}",
            form_encode(password),
            csrf_field(&body).unwrap()
        );
        let cookie = cookie_of(&head, "modtag_login").unwrap();
        let mut headers = vec![
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", cookie.as_str()),
        ];
        headers.extend_from_slice(extra);
        let (status, head, _) = crate::http_request_within(
            self.http,
            "POST",
            "/login",
            &headers,
            form.as_bytes(),
            std::time::Duration::from_secs(120),
        )
        .unwrap();
        (status, head)
    }

    /// [`Daemon::sign_in_at`] with this step's code.
    pub fn sign_in(&self, user: &str, uri: &str) -> Signed {
        self.sign_in_at(user, uri, 0)
    }
}

impl Daemon {
    /// A personal API token that `who` made for themself (`POST /api/v1/users/ID/token` in
    /// their session), in a 0600 file for [`Daemon::cli_as`].
    pub fn token_file_of(&self, who: &Signed) -> std::path::PathBuf {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt;
        let (status, body) = who.request(
            self,
            "POST",
            &format!("/api/v1/users/{}/token", who.user),
            r#"{"days":1}"#,
        );
        assert_eq!(status, 200, "a token for {}: {body}", who.user);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let file = self.dir.path().join(format!("token-{}", who.user));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&file)
            .unwrap();
        writeln!(f, "{}", v["token"].as_str().unwrap()).unwrap();
        file
    }
}

impl Signed {
    /// A request as this person (JSON body, the CSRF header): `(status, body)`.
    pub fn request(&self, d: &Daemon, method: &str, path: &str, body: &str) -> (u16, String) {
        let headers = [
            ("Content-Type", "application/json"),
            ("Cookie", self.cookie.as_str()),
            ("X-CSRF-Token", self.csrf.as_str()),
        ];
        let (status, _, body) = http_request(d.http, method, path, &headers, body.as_bytes())
            .expect("the daemon answers");
        (status, body)
    }

    /// A GET as this person: `(status, body)`.
    pub fn get(&self, d: &Daemon, path: &str) -> (u16, String) {
        self.request(d, "GET", path, "")
    }

    /// A form post from a page as this person (the session's CSRF token in `csrf`).
    pub fn post_form(&self, d: &Daemon, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut body = format!("csrf={}", self.csrf);
        for (k, v) in fields {
            body.push_str(&format!("&{k}={}", form_encode(v)));
        }
        let (status, _, body) = http_request(
            d.http,
            "POST",
            path,
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", self.cookie.as_str()),
            ],
            body.as_bytes(),
        )
        .expect("the daemon answers");
        (status, body)
    }
}

/// `application/x-www-form-urlencoded` for one value.
pub fn form_encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

impl Signed {
    /// Approves `letter` as the tilbagemelding of `reference`, with the assessment the item
    /// page says it is written from (none when the page offers no letter).
    pub fn approve_letter(&self, d: &Daemon, reference: &str, letter: &str) -> (u16, String) {
        let (_, page) = self.get(d, &format!("/koe/{reference}"));
        let from = page
            .split("name=\"vurdering\" value=\"")
            .nth(1)
            .and_then(|v| v.split('"').next())
            .unwrap_or_default()
            .replace("&#x7c;", "|")
            .replace("&#x3a;", ":");
        self.post_form(
            d,
            &format!("/koe/{reference}/tilbagemelding"),
            &[("brev", letter), ("vurdering", &from)],
        )
    }
}
