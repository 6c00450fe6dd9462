//! MitID Erhverv on Send sikkert (issue 30), against a real SAML identity provider
//! (`tests/saml/idp.mjs`, samlify) answering by OIOSAML 3: a signed request, an encrypted
//! and signed assertion, the professional attributes. Today anyone may type a CVR into
//! `/sendsikkert` and be believed; with `[public.mitid_erhverv]` the institution is the one
//! NemLog-in signed in, and what is typed is not read.

use std::time::Duration;

use base64::Engine as _;

use modtag_tests::browser::Browser;
use modtag_tests::forms::{form, post, reference_on};
use modtag_tests::{
    http_request, mitid_answer, mitid_sign_in, post_answer, signed_in_form, underretning_signed_in,
    wait_for, Daemon, Options, SamlIdp,
};

/// The daemon with the sign-in `send_sikkert` (required or offered), and its IdP.
fn with_mitid(send_sikkert: &str) -> (Daemon, SamlIdp, tempfile::TempDir) {
    let files = tempfile::tempdir().unwrap();
    let opts = Options::default();
    let idp = SamlIdp::start(files.path(), opts.public_port);
    let mut opts = opts;
    opts.edits.push(idp.section(files.path(), send_sikkert));
    (Daemon::start(opts), idp, files)
}

/// The desk's item page for Journalen.
fn item_page(d: &Daemon, reference: &str) -> String {
    let journal = d.add_user("journal", "journalen@kommune.localhost", "journalen");
    let journal = d.sign_in("journal", &journal);
    let (status, page) = journal.get(d, &format!("/koe/{reference}"));
    assert_eq!(status, 200, "{page}");
    page
}

#[test]
fn send_sikkert_takes_the_institution_from_mitid_erhverv_not_from_the_fields() {
    let (d, idp, _files) = with_mitid("required");
    // modtag's metadata, as NemLog-in's portal reads it.
    let (code, _, meta) =
        modtag_tests::http_request(d.public, "GET", "/saml/metadata", &[], b"").unwrap();
    assert_eq!(code, 200);
    for part in [
        "AuthnRequestsSigned=\"true\"",
        "WantAssertionsSigned=\"true\"",
        "use=\"signing\"",
        "use=\"encryption\"",
        &format!("Location=\"http://{}/saml/acs\"", d.public),
        "https://data.gov.dk/model/core/eid/professional/cvr",
    ] {
        assert!(meta.contains(part), "{part}: {meta}");
    }

    // Not signed in: the page offers the sign-in and no CVR field ...
    let (code, _, page) =
        modtag_tests::http_request(d.public, "GET", "/sendsikkert", &[], b"").unwrap();
    assert_eq!(code, 200);
    assert!(page.contains("Log ind med MitID Erhverv"), "{page}");
    assert!(!page.contains("name=\"cvr\""), "{page}");
    // ... and a submission with a typed CVR (its token taken from the other form) is refused
    // with nothing kept.
    let (csrf, cookie) = form(d.public, "/underretning");
    let typed = [
        ("csrf", csrf.as_str()),
        ("cvr", "13585628"),
        ("name", "Susanne Møller"),
        ("email", "leder@friskolen.dk"),
        ("leder", "karen.poulsen"),
        ("text", "Et forløb for en elev."),
    ];
    let (code, _, page) = post(d.public, "/sendsikkert", &cookie, &typed, &[]);
    assert_eq!(code, 403, "{page}");
    assert!(page.contains("Log ind med MitID Erhverv først"), "{page}");
    assert_eq!(d.intakes(), 0, "nothing was kept");

    // Signed in: the institution and person are NemLog-in's, shown and used; the fields
    // typed beside them (another CVR, another name) and a CVR in the text are not read.
    let signed_in = mitid_sign_in(d.public, &idp);
    let (page, csrf, cookies) = signed_in_form(d.public, &signed_in);
    assert!(page.contains("Logget ind med MitID Erhverv"), "{page}");
    assert!(
        page.contains("Susanne Møller") && page.contains("CVR 13585628"),
        "{page}"
    );
    assert!(!page.contains("name=\"cvr\""), "{page}");
    let forged = [
        ("csrf", csrf.as_str()),
        ("cvr", "29189846"),
        ("name", "Mallory"),
        ("email", "mallory@evil.example"),
        ("leder", "karen.poulsen"),
        (
            "text",
            "Vi ønsker et TRIVSEL+-forløb. Vores CVR er 29189846.",
        ),
    ];
    let (code, _, receipt) = post(d.public, "/sendsikkert", &cookies, &forged, &[]);
    assert_eq!(code, 200, "{receipt}");
    let r = reference_on(&receipt);
    let page = item_page(&d, &r);
    assert!(
        page.contains("Logget ind med MitID Erhverv: Susanne Møller, CVR 13585628, Friskolen"),
        "{page}"
    );
    assert!(
        !page.contains("Mallory") || page.contains("Vores CVR er 29189846"),
        "{page}"
    );
    let shown = d.cli_json(&["triage", "show", &r, "--json"]);
    let text = shown.to_string();
    assert!(text.contains("\"mitid_erhverv\""), "{text}");
    assert!(
        text.contains("\"13585628\"") && !text.contains("\"number\":\"29189846\""),
        "{text}"
    );
    assert!(
        !text.contains("mallory@evil.example"),
        "the reply goes to the signed-in person: {text}"
    );
}

#[test]
fn what_nemlogin_must_not_be_believed_is_refused() {
    let (d, idp, _files) = with_mitid("required");
    for (mode, words) in [
        ("audience", "kunne ikke godkendes"),
        ("expired", "udløbet"),
        ("unsigned", "kunne ikke godkendes"),
        ("signer", "kunne ikke godkendes"),
        ("low", "sikringsniveau betydelig"),
        ("person", "ikke med dit private MitID"),
    ] {
        idp.set_mode(mode);
        let (code, head, page) = post_answer(d.public, &mitid_answer(d.public, &idp));
        assert_eq!(code, 403, "{mode}: {page}");
        assert!(page.contains(words), "{mode}: {page}");
        assert!(
            modtag_tests::set_cookie(&head, "modtag_mitid").is_none(),
            "{mode}"
        );
    }
    idp.set_mode("normal");
    // A good answer is taken once: replayed, it is refused.
    let answer = mitid_answer(d.public, &idp);
    let (code, _, _) = post_answer(d.public, &answer);
    assert_eq!(code, 303);
    let (code, _, page) = post_answer(d.public, &answer);
    assert_eq!(code, 403, "{page}");
    // An answer posted from another browser (without the request's cookie) is refused:
    // a stranger cannot sign a victim in as themselves.
    let mut elsewhere = mitid_answer(d.public, &idp);
    elsewhere.asked = "modtag_mitid_anmodning=another".into();
    let (code, _, _) = post_answer(d.public, &elsewhere);
    assert_eq!(code, 403);
    // Garbage is answered, not crashed on: a DTD, and nesting deep enough to overflow a
    // recursive parser's stack (the attack on issue 30 took the daemon down with it).
    let mut garbage = mitid_answer(d.public, &idp);
    garbage.saml_response = "PCFET0NUWVBFIHg+PHg+Jng7PC94Pg==".into();
    let (code, _, _) = post_answer(d.public, &garbage);
    assert_eq!(code, 403);
    let deep = format!(
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" Version=\"2.0\">{}{}</samlp:Response>",
        "<a>".repeat(20_000),
        "</a>".repeat(20_000)
    );
    let mut deep_answer = mitid_answer(d.public, &idp);
    deep_answer.saml_response = base64::engine::general_purpose::STANDARD.encode(deep);
    let (code, _, _) = post_answer(d.public, &deep_answer);
    assert_eq!(code, 403);
    let (code, _, _) = http_request(d.public, "GET", "/sendsikkert", &[], b"").unwrap();
    assert_eq!(code, 200, "the daemon lives on");
    let log = d.stderr();
    assert!(
        log.contains("refused=\"expired\"") || log.contains("expired"),
        "{log}"
    );
    assert!(
        !log.contains("Susanne") && !log.contains("13585628"),
        "{log}"
    );
}

/// The done-when: in Chromium, a private leader signs in at the test IdP and sends a
/// TRIVSEL+; its CVR is the assertion's. Pages axe-clean; screenshots to look at.
#[test]
fn a_private_leader_signs_in_with_mitid_erhverv_in_chromium_and_sends() {
    let (d, _idp, _files) = with_mitid("required");
    let b = Browser::start();
    b.goto(&format!("http://{}/sendsikkert", d.public));
    assert_eq!(b.accessibility_violations(), Vec::<String>::new());
    b.screenshot("mitid-sendsikkert-log-ind");
    b.follow("a[href='/mitid/log-ind?til=sendsikkert']");
    assert!(b.text().contains("MitID Erhverv (test)"), "{}", b.text());
    b.click("#log-ind");
    wait_for("the signed-in form", Duration::from_secs(20), || {
        b.text()
            .contains("Logget ind med MitID Erhverv")
            .then_some(())
    });
    assert!(b.url().ends_with("/sendsikkert"), "{}", b.url());
    assert_eq!(b.accessibility_violations(), Vec::<String>::new());
    b.screenshot("mitid-sendsikkert-logget-ind");
    b.click("#leder-0");
    b.fill(
        "text",
        "Vi ønsker et TRIVSEL+-forløb for en elev i 4. klasse.",
    );
    b.follow("form[action='/sendsikkert'] button[type=submit]");
    let receipt = b.text();
    assert!(receipt.contains("Tak"), "{receipt}");
    // The underretning form knows the same sign-in.
    b.goto(&format!("http://{}/underretning", d.public));
    assert!(
        b.text()
            .contains("Du underretter som fagperson: Susanne Møller"),
        "{}",
        b.text()
    );
    assert_eq!(b.accessibility_violations(), Vec::<String>::new());
    b.screenshot("mitid-underretning-logget-ind");
    // The form's own "Log ud" (it carries the form's token): signed out, back on the form.
    b.follow("form[action='/mitid/log-ud'] button[type=submit]");
    assert!(b.url().ends_with("/underretning"), "{}", b.url());
    assert!(
        !b.text().contains("Logget ind med MitID Erhverv"),
        "{}",
        b.text()
    );
    let listed = d.cli_json(&["triage", "list", "--all", "--json"]);
    let r = listed["items"][0]["reference"]
        .as_str()
        .expect("the intake")
        .to_string();
    let shown = d.cli_json(&["triage", "show", &r, "--json"]).to_string();
    assert!(
        shown.contains("\"13585628\"") && shown.contains("mitid_erhverv"),
        "{shown}"
    );
}

/// The underretning form offers professionals the same sign-in: then who reports is
/// NemLog-in's (a professional, by name and workplace), whatever the fields say; a citizen
/// still reports without it.
#[test]
fn a_professional_may_sign_in_on_the_underretning_form() {
    let (d, idp, _files) = with_mitid("offered");
    // Offered on Send sikkert too: the typed form stays, with the sign-in beside it.
    let (_, _, page) = http_request(d.public, "GET", "/sendsikkert", &[], b"").unwrap();
    assert!(
        page.contains("Har du MitID Erhverv?") && page.contains("name=\"cvr\""),
        "{page}"
    );
    let (code, _, page) = http_request(d.public, "GET", "/underretning", &[], b"").unwrap();
    assert_eq!(code, 200);
    assert!(
        page.contains("href=\"/mitid/log-ind?til=underretning\""),
        "{page}"
    );
    assert!(
        page.contains("name=\"navn\""),
        "a citizen still types a name: {page}"
    );
    let (page, csrf, cookies) = underretning_signed_in(d.public, &idp, "leder@friskolen.dk");
    assert!(
        page.contains("Du underretter som fagperson: <strong>Susanne Møller</strong>"),
        "{page}"
    );
    assert!(!page.contains("name=\"navn\""), "{page}");
    let fields = [
        ("csrf", csrf.as_str()),
        ("barn_navn", "Emil Hansen"),
        ("bekymring", "Emil kommer sulten i skole."),
        ("foraeldre_ved", "nej"),
        // Forged beside the sign-in: another name, a citizen, anonymous.
        ("indberetter", "borger"),
        ("anonymous", "ja"),
        ("navn", "Mallory"),
    ];
    let (code, _, receipt) = post(d.public, "/underretning", &cookies, &fields, &[]);
    assert_eq!(code, 200, "{receipt}");
    let r = reference_on(&receipt);
    let shown = d.cli_json(&["triage", "show", &r, "--json"]).to_string();
    assert!(
        shown.contains("\"mitid_erhverv\"") && shown.contains("Susanne Møller"),
        "{shown}"
    );
    assert!(
        shown.contains("\"professional\"") && !shown.contains("Mallory"),
        "{shown}"
    );
    // Signing out: another site's form posting to /mitid/log-ud (the browser sends the
    // sign-in's cookie, not the form's token) signs no one out; the form's own button does,
    // and the sign-in is over on the server too.
    let signed_in = (cookies.split("; "))
        .find(|c| c.starts_with("modtag_mitid="))
        .unwrap();
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let forged = [("Cookie", signed_in), form[0]];
    let (code, head, page) = http_request(
        d.public,
        "POST",
        "/mitid/log-ud",
        &forged,
        b"til=underretning",
    )
    .unwrap();
    assert_eq!(code, 403, "{head}");
    assert!(page.contains("Du er stadig logget ind"), "{page}");
    assert!(!head.contains("modtag_mitid=;"), "{head}");
    let still = |cookie: &str| {
        let (_, _, page) =
            http_request(d.public, "GET", "/underretning", &[("Cookie", cookie)], b"").unwrap();
        page.contains("Du underretter som fagperson")
    };
    assert!(still(signed_in));
    let body = format!("til=underretning&csrf={csrf}");
    let own = [("Cookie", cookies.as_str()), form[0]];
    let (code, head, _) =
        http_request(d.public, "POST", "/mitid/log-ud", &own, body.as_bytes()).unwrap();
    assert_eq!(code, 303, "{head}");
    assert!(
        head.contains("modtag_mitid=;")
            && head
                .to_ascii_lowercase()
                .contains("location: /underretning"),
        "{head}"
    );
    assert!(!still(signed_in), "the old cookie no longer signs in");
}

/// Signed in without an e-mail from NemLog-in, the address a professional types is only
/// typed: its kvittering carries the one-time link that proves it, as for anyone's (the
/// sign-in proves who they are, not that the address is theirs).
#[test]
fn a_typed_address_beside_the_sign_in_is_only_typed() {
    let (d, idp, _files) = with_mitid("offered");
    let sink = modtag_tests::Sink::start(d.opts.relay_port);
    let (page, csrf, cookies) = underretning_signed_in(d.public, &idp, "");
    assert!(
        page.contains("name=\"email\""),
        "the address is asked for: {page}"
    );
    let fields = [
        ("csrf", csrf.as_str()),
        ("barn_navn", "Emil Hansen"),
        ("bekymring", "Emil kommer sulten i skole."),
        ("foraeldre_ved", "nej"),
        ("email", "nogen@example.dk"),
    ];
    let (code, _, receipt) = post(d.public, "/underretning", &cookies, &fields, &[]);
    assert_eq!(code, 200, "{receipt}");
    let kvittering = sink
        .wait(1)
        .into_iter()
        .find(|m| modtag_tests::rcpt_of(m) == "nogen@example.dk")
        .map(|m| modtag_tests::plain_body(&m))
        .expect("a kvittering to the typed address");
    assert!(kvittering.contains("/bekraeft/"), "{kvittering}");
}
