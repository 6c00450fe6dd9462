//! The desk's pages for leaders and administrators, in a real headless Chromium: the failed
//! deliveries with their retry.

use modtag_tests::browser::Browser;
use modtag_tests::*;

/// The relay refuses every recipient for good; Modtagelsen's leader sees each refused copy
/// with the relay's answer, puts the relay right, and sends one again from the page. Staff
/// without her role are refused the page.
#[test]
fn modtagelsens_leader_sees_failed_deliveries_and_sends_one_again() {
    let opts = Options::default();
    let relay_port = opts.relay_port;
    let refusing = Sink::start_with(
        relay_port,
        &["-f", "RCPT", "-B", "550 5.1.1 Recipient address rejected"],
    );
    let mut d = Daemon::start(opts);
    let r = d.send("Bekymring", "Tekst til Modtagelsen, cpr 120315-4321.");
    d.decide(&r, &["--trin", "3"]);
    d.wait_outbox_idle();
    let failed = d.cli_json(&["outbox", "failed", "--json"]);
    let failed = failed.as_array().unwrap().len();
    assert!(failed >= 2, "the copy and its notices failed: {failed}");

    let lene = d.add_user("lene", "lene.holm@kommune.localhost", "modtagelsen_leder");
    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let base = format!("http://{}", d.http);

    let m = Browser::start();
    m.sign_in(d.http, "modt", &modt);
    assert!(
        !m.text().contains("Fejlede leverancer"),
        "not offered to her"
    );
    m.goto(&format!("{base}/fejlede-leverancer"));
    assert!(m.text().contains("Ingen adgang"), "{}", m.text());

    let b = Browser::start();
    b.sign_in(d.http, "lene", &lene);
    b.follow("a[href='/fejlede-leverancer']");
    let text = b.text();
    assert!(
        text.contains(&r)
            && text.contains("(550): 5.1.1 Recipient address rejected")
            && !text.contains("120315"),
        "{text}"
    );
    let buttons = "form[action$='/igen'] button";
    let count = |b: &Browser| {
        b.eval(&format!(
            "return document.querySelectorAll(\"{buttons}\").length;"
        ))
    };
    assert_eq!(count(&b), failed as u64, "one button per refused delivery");
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "/fejlede-leverancer"
    );
    b.screenshot("failed-deliveries");

    // The relay is put right, and one delivery is sent again from the page.
    drop(refusing);
    let sink = Sink::start(relay_port);
    b.follow(buttons);
    assert!(b.text().contains("er sat i kø igen"), "{}", b.text());
    assert_eq!(count(&b), failed as u64 - 1);
    assert_eq!(sink.wait(1).len(), 1, "it went out");
    assert!(d.stop().success());
    let retried = d.audit_text("delivery_retried");
    assert!(retried.contains("\"actor\":\"lene\""), "{retried}");
}
