//! TRIVSEL+ from Send sikkert on (issue 16): Journalen's own reminders are tested in
//! `intake/tests/it/escalation.rs`; here Journalen passes one on to the leaders with one
//! action in the desk, and the leader reads the copy with Debian's gpg.

use modtag_tests::browser::Browser;
use modtag_tests::forms::{form, post};
use modtag_tests::*;

#[test]
fn journalen_forwards_a_send_sikkert_to_the_named_leaders_with_one_action() {
    let mut d = Daemon::start(Options::default());
    let sink = Sink::start(d.opts.relay_port);
    // Friskolen (a private school) names the leader of PPR and someone the directory lacks.
    let (csrf, cookie) = form(d.public, "/sendsikkert");
    let (code, _, body) = post(
        d.public,
        "/sendsikkert",
        &cookie,
        &[
            ("csrf", &csrf),
            ("cvr", "13585628"),
            ("name", "Susanne Møller"),
            ("email", "leder@friskolen.dk"),
            ("leder", "karen.poulsen"),
            ("subject", "Ukendt Person"),
            (
                "text",
                "Vi ønsker et TRIVSEL+-forløb for en elev i 4. klasse.",
            ),
        ],
        &[],
    );
    assert_eq!(code, 200, "{body}");
    let r = body
        .split("class=\"reference\">")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .unwrap()
        .to_string();
    d.wait_outbox_idle();
    let before = sink.count();
    let journal = d.add_user("journal", "journalen@kommune.localhost", "journalen");

    let b = Browser::start();
    b.sign_in(d.http, "journal", &journal);
    b.goto(&format!("http://{}/koe", d.http));
    assert!(b.text().contains(&r), "on Journalen's queue: {}", b.text());
    b.follow(&format!("a[href='/koe/{r}']"));
    b.follow(&format!("a[href='/koe/{r}/videresend']"));
    let preview = b.text();
    assert!(
        preview.contains("Karen Poulsen") && preview.contains("leder.ppr@kommune.localhost"),
        "{preview}"
    );
    assert!(
        preview.contains("Journalen afgør") && preview.contains("Ukendt Person"),
        "the name it could not match is left for Journalen: {preview}"
    );
    assert!(preview.contains("Friskolen"), "{preview}");
    assert_eq!(sink.count(), before, "a preview sends nothing");
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "the forward preview"
    );
    b.screenshot("trivsel-forward");
    b.follow("form[action$='/videresend'] button");
    assert!(b.url().ends_with(&format!("/koe/{r}")), "{}", b.url());
    assert!(b.text().contains("Sendt til karen.poulsen"), "{}", b.text());

    // The copy reaches the leader of PPR, encrypted to her, with the private school's message.
    d.wait_outbox_idle();
    let copy = sink
        .wait(before + 1)
        .into_iter()
        .find(|m| rcpt_of(m) == "leder.ppr@kommune.localhost")
        .expect("a copy to the leader of PPR");
    let plain = Gpg::with_demo_keys(&["leder-ppr"])
        .decrypt(&armored_block(&copy))
        .unwrap();
    assert!(
        plain.contains(&format!("Reference: {r}")) && plain.contains("<leder@friskolen.dk>"),
        "the routing note and the school's message: {plain}"
    );
    assert!(d.stop().success());
    let decided = d.audit_text("decided");
    assert!(decided.contains("\"actor\":\"journal\""), "{decided}");
}
