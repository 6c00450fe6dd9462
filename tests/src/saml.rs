//! A SAML identity provider for the MitID Erhverv tests (`tests/saml/idp.mjs`: samlify on
//! loopback, answering as NemLog-in does by OIOSAML 3), and a sign-in through it as a
//! browser makes one, over raw HTTP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{
    form_encode, free_port, http_get, http_request, http_request_within, root, set_cookie, wait_for,
};

pub struct SamlIdp {
    pub addr: SocketAddr,
    /// Its metadata, as the kommune downloads NemLog-in's.
    pub metadata: PathBuf,
    child: Child,
}

impl SamlIdp {
    /// Started before modtag (whose public forms are to be on `public_port`): it reads
    /// modtag's metadata from there at the first sign-in.
    pub fn start(dir: &Path, public_port: u16) -> SamlIdp {
        let fixture = root().join("tests/saml");
        assert!(
            fixture.join("node_modules/samlify").exists(),
            "the SAML identity provider is not installed: run `npm ci` in {}",
            fixture.display()
        );
        let port = free_port();
        let metadata = dir.join("nemlogin-idp.xml");
        let log = std::env::temp_dir().join(format!("modtag-saml-idp-{port}.log"));
        let child = Command::new("node")
            .arg(fixture.join("idp.mjs"))
            .arg(port.to_string())
            .arg(fixture.join("keys"))
            .arg(&metadata)
            .arg(format!("http://127.0.0.1:{public_port}/saml/metadata"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("node runs");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        wait_for(
            "the SAML identity provider",
            Duration::from_secs(30),
            || http_get(addr, "/metadata").filter(|(c, _)| *c == 200),
        );
        SamlIdp {
            addr,
            metadata,
            child,
        }
    }

    /// What the next response is (see `idp.mjs`): normal, audience, expired, unsigned,
    /// signer, low, person.
    pub fn set_mode(&self, mode: &str) {
        let (code, _) = http_get(self.addr, &format!("/__mode/{mode}")).unwrap();
        assert_eq!(code, 200);
    }

    /// `[public.mitid_erhverv]` for modtag, its key files copied into `dir` (0600) as the
    /// kommune's credentials would be, put before `[public.privacy]` in the demo file.
    pub fn section(&self, dir: &Path, send_sikkert: &str) -> (String, String) {
        use std::os::unix::fs::PermissionsExt as _;
        let keys = root().join("tests/saml/keys");
        for name in [
            "sp-signing.key",
            "sp-signing.crt",
            "sp-encryption.key",
            "sp-encryption.crt",
        ] {
            let to = dir.join(name);
            std::fs::copy(keys.join(name), &to).unwrap();
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let text = format!(
            "[public.mitid_erhverv]\n\
             idp_metadata = {:?}\n\
             signing_key = {:?}\n\
             signing_certificate = {:?}\n\
             encryption_key = {:?}\n\
             encryption_certificate = {:?}\n\
             send_sikkert = {send_sikkert:?}\n\
             underretning = \"offered\"\n\n\
             [public.privacy]",
            self.metadata,
            dir.join("sp-signing.key"),
            dir.join("sp-signing.crt"),
            dir.join("sp-encryption.key"),
            dir.join("sp-encryption.crt"),
        );
        ("[public.privacy]".to_string(), text)
    }
}

impl Drop for SamlIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One sign-in's steps as a browser takes them, up to NemLog-in's answer (not yet posted).
pub struct Answer {
    /// The cookie modtag set with the request (`name=value`).
    pub asked: String,
    pub saml_response: String,
    pub relay_state: String,
}

/// From `/mitid/log-ind` through the IdP's page and its "Log ind" to the response it posts.
pub fn mitid_answer(public: SocketAddr, idp: &SamlIdp) -> Answer {
    mitid_answer_for(public, idp, "sendsikkert")
}

/// How long the test IdP may take to answer (it signs and checks signatures in JavaScript).
const IDP_WAIT: Duration = Duration::from_secs(30);

/// [`mitid_answer`] from the form `til` (`sendsikkert`, `underretning`).
pub fn mitid_answer_for(public: SocketAddr, idp: &SamlIdp, til: &str) -> Answer {
    mitid_answer_with(public, idp, til, "leder@friskolen.dk")
}

/// [`mitid_answer_for`] for a person whose e-mail NemLog-in gives as `email` (empty: none).
pub fn mitid_answer_with(public: SocketAddr, idp: &SamlIdp, til: &str, email: &str) -> Answer {
    let (code, head, _) = http_request(
        public,
        "GET",
        &format!("/mitid/log-ind?til={til}"),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(code, 303, "{head}");
    let asked = set_cookie(&head, "modtag_mitid_anmodning")
        .expect("the request's cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let location = header(&head, "location").expect("a Location");
    let path = location
        .strip_prefix(&format!("http://{}", idp.addr))
        .expect("to the IdP");
    // The IdP (samlify under Node) checks the request's signature in JavaScript: on a busy
    // two-core machine that took over http_request's five seconds now and then.
    let (code, _, page) = http_request_within(idp.addr, "GET", path, &[], b"", IDP_WAIT)
        .expect("the IdP answers the request");
    assert_eq!(code, 200, "the IdP took the request: {page}");
    let token = between(&page, "name=\"token\" value=\"", "\"").expect("the IdP's form");
    let body = format!(
        "token={token}&name=Susanne+M%C3%B8ller&email={}&cvr=13585628&org=Friskolen",
        crate::form_encode(email)
    );
    let (code, _, page) = http_request_within(
        idp.addr,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
        IDP_WAIT,
    )
    .expect("the IdP answers the sign-in");
    assert_eq!(code, 200, "the IdP answered: {page}");
    Answer {
        asked,
        saml_response: between(&page, "name=\"SAMLResponse\" value=\"", "\"").unwrap(),
        relay_state: between(&page, "name=\"RelayState\" value=\"", "\"").unwrap(),
    }
}

/// The answer posted to modtag's ACS: `(status, header block, body)`.
pub fn post_answer(public: SocketAddr, answer: &Answer) -> (u16, String, String) {
    let body = format!(
        "SAMLResponse={}&RelayState={}",
        form_encode(&answer.saml_response),
        form_encode(&answer.relay_state)
    );
    http_request(
        public,
        "POST",
        "/saml/acs",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &answer.asked),
        ],
        body.as_bytes(),
    )
    .unwrap()
}

/// A whole sign-in: the cookie (`name=value`) that carries it on the forms.
pub fn mitid_sign_in(public: SocketAddr, idp: &SamlIdp) -> String {
    let (code, head, body) = post_answer(public, &mitid_answer(public, idp));
    assert_eq!(code, 303, "signed in: {head}\n{body}");
    set_cookie(&head, "modtag_mitid")
        .expect("the sign-in's cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// The Send sikkert form as a signed-in person opens it: the page, its CSRF token, and the
/// cookies to post it with (the form's and the sign-in's).
pub fn signed_in_form(public: SocketAddr, signed_in: &str) -> (String, String, String) {
    form_page(public, "/sendsikkert", signed_in)
}

/// A professional signs in on the underretning form (NemLog-in giving `email`; empty: none)
/// and opens it: as [`signed_in_form`].
pub fn underretning_signed_in(
    public: SocketAddr,
    idp: &SamlIdp,
    email: &str,
) -> (String, String, String) {
    let (code, head, _) = post_answer(
        public,
        &mitid_answer_with(public, idp, "underretning", email),
    );
    assert_eq!(code, 303, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("location: /underretning"),
        "back to the form: {head}"
    );
    let signed_in = set_cookie(&head, "modtag_mitid")
        .expect("the sign-in's cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    form_page(public, "/underretning", &signed_in)
}

fn form_page(public: SocketAddr, path: &str, signed_in: &str) -> (String, String, String) {
    let (code, head, page) =
        http_request(public, "GET", path, &[("Cookie", signed_in)], b"").unwrap();
    assert_eq!(code, 200, "{page}");
    let csrf = crate::csrf_field(&page).expect("the form's token");
    let form = set_cookie(&head, "modtag_formular")
        .expect("the form's cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    (page, csrf, format!("{form}; {signed_in}"))
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(text[from..from + len].to_string())
}
