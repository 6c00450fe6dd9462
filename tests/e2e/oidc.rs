//! Signing in with the kommune's identity provider (issue 13), against a real, certified
//! OpenID provider: panva's `oidc-provider` on loopback. A browser's part (redirects across
//! both hosts, their cookies, the provider's login and consent forms) is played by reqwest.

use std::os::unix::fs::PermissionsExt;

use modtag_tests::*;
use reqwest::blocking::Client;
use reqwest::redirect::Policy;

const SECRET: &str = "modtag-test-secret";

/// A daemon with `[oidc]` pointing at a fresh provider.
fn daemon_with_provider() -> (Daemon, OpenIdProvider) {
    let mut d = Daemon::new(Options::default());
    let callback = format!("http://{}/login/oidc/callback", d.http);
    let op = OpenIdProvider::start("modtag", SECRET, &callback);
    let secret = d.dir.path().join("oidc-secret");
    std::fs::write(&secret, SECRET).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut config = std::fs::read_to_string(&d.config).unwrap();
    config.push_str(&format!(
        "\n[oidc]\nissuer = \"{}\"\nclient_id = \"modtag\"\nclient_secret_file = \"oidc-secret\"\n\
         redirect_url = \"{callback}\"\nclaim = \"email\"\n",
        op.issuer
    ));
    std::fs::write(&d.config, config).unwrap();
    d.spawn();
    (d, op)
}

/// A browser: cookies kept per host; redirects followed, but not into modtag's callback
/// when `stop_at_callback` (so a test holds the callback URL).
fn browser(stop_at_callback: bool) -> Client {
    let policy = if stop_at_callback {
        Policy::custom(|a| {
            if a.url().path() == "/login/oidc/callback" {
                a.stop()
            } else if a.previous().len() > 10 {
                a.error("too many redirects")
            } else {
                a.follow()
            }
        })
    } else {
        Policy::limited(10)
    };
    Client::builder()
        .cookie_store(true)
        .redirect(policy)
        .build()
        .unwrap()
}

/// The `action` of the first form on a page, as an absolute URL.
fn form_action(issuer: &str, page: &str) -> String {
    let start = page
        .find("action=\"")
        .unwrap_or_else(|| panic!("no form on the page: {page}"))
        + "action=\"".len();
    let action = &page[start..][..page[start..].find('"').unwrap()];
    if action.starts_with("http") {
        action.to_string()
    } else {
        format!("{issuer}{action}")
    }
}

/// Signs in at the provider as `login` (its development interactions: any password, then
/// consent), starting from modtag's sign-in page; the last response.
fn sign_in(
    d: &Daemon,
    op: &OpenIdProvider,
    b: &Client,
    login: &str,
) -> reqwest::blocking::Response {
    let page = b
        .get(format!("http://{}/login", d.http))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("href=\"/login/oidc\""), "the button: {page}");
    let login_form = b
        .get(format!("http://{}/login/oidc", d.http))
        .send()
        .unwrap();
    assert_eq!(login_form.status(), 200);
    assert!(login_form.url().as_str().starts_with(&op.issuer));
    let page = login_form.text().unwrap();
    let consent = b
        .post(form_action(&op.issuer, &page))
        .form(&[
            ("prompt", "login"),
            ("login", login),
            ("password", "hvad-som-helst"),
        ])
        .send()
        .unwrap();
    let page = consent.text().unwrap();
    b.post(form_action(&op.issuer, &page))
        .form(&[("prompt", "consent")])
        .send()
        .unwrap()
}

#[test]
fn a_person_signs_in_at_the_kommunes_provider_and_sees_their_desk() {
    let (mut d, op) = daemon_with_provider();
    let u = d.send("Bekymring for en elev", "Vi er bekymrede.");
    let t = d.swaks(
        "trivselplus@localhost",
        "Trivsel+ samt Karen Poulsen",
        "Vedhæftet.",
    );
    let t = queued_as(&t).unwrap();

    let b = browser(false);
    let done = sign_in(&d, &op, &b, "lene.holm@kommune.localhost");
    assert_eq!(done.status(), 200);
    assert!(done.url().path().starts_with("/login/oidc/callback"));
    assert!(done.text().unwrap().contains("Du er logget ind"));
    // Lene Holm, Modtagelsen's leader: the underretning, not Journalen's TRIVSEL+.
    let home = b
        .get(format!("http://{}/", d.http))
        .send()
        .unwrap()
        .text()
        .unwrap();
    // Signed in, the kommune's provider lands her on her first desk, named as the
    // directory names her.
    assert!(
        home.contains("Logget ind som <strong>Lene Holm</strong>"),
        "{home}"
    );
    assert!(home.contains("Modtagelsen"), "{home}");
    let list = b
        .get(format!("http://{}/api/v1/triage", d.http))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(list.contains(&u), "{list}");
    assert!(!list.contains(&t), "{list}");

    // Sign out: the session is over.
    let csrf = csrf_field(&home).expect("the sign-out form's token");
    let out = b
        .post(format!("http://{}/logout", d.http))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .unwrap();
    assert_eq!(out.status(), 200);
    let after = b
        .get(format!("http://{}/api/v1/triage", d.http))
        .send()
        .unwrap();
    assert_eq!(after.status(), 401);

    // Someone the provider knows and the directory does not: a clear refusal.
    let stranger = browser(false);
    let refused = sign_in(&d, &op, &stranger, "fremmed@example.org");
    assert_eq!(refused.status(), 403);
    assert!(refused.text().unwrap().contains("kommunens katalog"));

    assert!(d.stop().success());
    let signed = d.audit_text("signed_in");
    assert!(
        signed.contains("\"actor\":\"lene.holm\"") && signed.contains("\"method\":\"oidc\""),
        "{signed}"
    );
    let added = d.audit_text("user_added");
    assert!(added.contains("\"via\":\"oidc\""), "{added}");
    let viewed = d.audit_text("listed");
    assert!(viewed.contains("\"actor\":\"lene.holm\""), "{viewed}");
}

#[test]
fn tokens_for_another_client_expired_or_with_a_used_nonce_are_refused() {
    let (mut d, op) = daemon_with_provider();
    let refused_with = |mode: &str| {
        op.set_mode(mode);
        let b = browser(false);
        let res = sign_in(&d, &op, &b, "lene.holm@kommune.localhost");
        let status = res.status();
        let text = res.text().unwrap();
        assert_eq!(status, 401, "{mode}: {text}");
        assert!(text.contains("kunne ikke bekræftes"), "{mode}: {text}");
        // And no session came of it.
        let api = b
            .get(format!("http://{}/api/v1/triage", d.http))
            .send()
            .unwrap();
        assert_eq!(api.status(), 401, "{mode}");
    };
    refused_with("audience");
    refused_with("expired");
    // One good sign-in, whose ID token the provider then hands out again.
    op.set_mode("normal");
    assert_eq!(
        sign_in(&d, &op, &browser(false), "lene.holm@kommune.localhost").status(),
        200
    );
    refused_with("replay");

    // The provider's answer (code and state) used twice: the second is refused.
    op.set_mode("normal");
    let b = browser(true);
    let stopped = sign_in(&d, &op, &b, "lene.holm@kommune.localhost");
    let callback = stopped.headers()["location"].to_str().unwrap().to_string();
    assert!(callback.contains("/login/oidc/callback?"), "{callback}");
    let first = b.get(&callback).send().unwrap();
    assert_eq!(first.status(), 200);
    let again = b.get(&callback).send().unwrap();
    assert_eq!(again.status(), 401);
    // ...and an answer taken to another browser than the one that began the sign-in.
    let (began, other) = (browser(true), browser(true));
    let fresh = sign_in(&d, &op, &began, "lene.holm@kommune.localhost");
    let callback = fresh.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(other.get(&callback).send().unwrap().status(), 401);

    assert!(d.stop().success());
    let failed = d.audit_text("login_failed");
    for says in [
        "Invalid audiences: must contain `modtag`",
        "Expired: ID token expired",
        "Invalid nonce: nonce mismatch",
        "this sign-in was not begun here",
    ] {
        assert!(failed.contains(says), "no refusal says {says:?}:\n{failed}");
    }
    // Refusals anyone can cause with a request are audited once per burst, not each.
    assert!(failed.matches("not begun here").count() >= 1, "{failed}");
}

/// The callback called over and over with an error text of the caller's making: nothing of
/// the text reaches the log or the audit log, a burst is one or two audit entries, and the
/// caller is held back after ten (issue 25). An address the provider does not vouch for is
/// refused.
#[test]
fn a_flood_of_refused_callbacks_is_held_back_and_audited_once() {
    let (mut d, op) = daemon_with_provider();
    // email_verified false: refused though the provider signed the token.
    op.set_mode("unverified");
    let res = sign_in(&d, &op, &browser(false), "lene.holm@kommune.localhost");
    assert_eq!(res.status(), 401);

    let junk = "x%0Aforged%20log%20line%20".repeat(200);
    let mut statuses = Vec::new();
    for _ in 0..60 {
        let (status, _, _) =
            http_get_headers(d.http, &format!("/login/oidc/callback?error={junk}"), &[]).unwrap();
        statuses.push(status);
    }
    assert_eq!(statuses[0], 401);
    assert!(statuses.ends_with(&[429; 40]), "{statuses:?}");
    assert!(
        !d.stderr().contains("forged"),
        "the caller's text in the log"
    );

    assert!(d.stop().success());
    let failed = d.audit_text("login_failed");
    assert!(!failed.contains("forged"), "{failed}");
    assert!(failed.matches("sent no code").count() <= 2, "{failed}");
    assert!(failed.contains("email_verified"), "{failed}");
    assert_eq!(d.audit_text("login_throttled").lines().count(), 1);
}

#[test]
fn a_client_secret_that_cannot_be_read_stops_start_up_with_what_to_fix() {
    let d = Daemon::new(Options::default());
    let mut config = std::fs::read_to_string(&d.config).unwrap();
    config.push_str(&format!(
        "\n[oidc]\nissuer = \"http://127.0.0.1:9\"\nclient_id = \"modtag\"\n\
         client_secret_file = \"oidc-secret\"\nredirect_url = \"http://{}/login/oidc/callback\"\n",
        d.http
    ));
    std::fs::write(&d.config, config).unwrap();
    let serve = || {
        modtag(&[
            "serve",
            "--config",
            d.config.to_str().unwrap(),
            "--data",
            d.data.to_str().unwrap(),
        ])
    };
    let out = serve();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("oidc.client_secret_file") && err.contains("oidc-secret"),
        "{err}"
    );
    // Readable by others: refused, saying how to mend it.
    let secret = d.dir.path().join("oidc-secret");
    std::fs::write(&secret, SECRET).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = serve();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chmod 600"), "{err}");
}
