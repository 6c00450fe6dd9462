//! The pages in a real headless Chromium over WebDriver: what a member of staff does, that
//! every page passes axe-core's WCAG 2.1 A/AA rules with no serious or critical violation,
//! and screenshots to look at (`target/screenshots/`).

use modtag_tests::browser::Browser;
use modtag_tests::*;

#[test]
fn signing_in_and_out_in_a_real_browser_is_accessible() {
    let d = Daemon::start(Options::default());
    let uri = d.add_user(
        "lene.holm",
        "lene.holm@kommune.localhost",
        "modtagelsen_leder",
    );
    let b = Browser::start();
    let base = format!("http://{}", d.http);

    b.goto(&format!("{base}/login"));
    assert_eq!(b.accessibility_violations(), Vec::<String>::new(), "/login");
    b.screenshot("login");
    // No script runs on our pages: none is there, and the policy forbids any.
    assert_eq!(b.eval("return document.scripts.length;"), 0);

    // A wrong code: the error is announced, and the page is still accessible.
    b.fill("username", "lene.holm");
    b.fill("password", TEST_PASSWORD);
    b.fill("totp", "000000");
    b.click("button[type=submit]");
    assert!(b.text().contains("Du blev ikke logget ind"), "{}", b.text());
    assert_eq!(
        b.eval("return document.querySelector('[role=alert]') !== null;"),
        true
    );
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "/login with an error"
    );
    b.screenshot("login-error");

    // Signed in with the right code (the next step's: the wrong one counted as a try, not a use).
    wait_for(
        "the back-off after one failure",
        std::time::Duration::from_secs(10),
        || {
            b.goto(&format!("{base}/login"));
            b.fill("username", "lene.holm");
            b.fill("password", TEST_PASSWORD);
            b.fill("totp", &totp_code(&uri, 0));
            b.click("button[type=submit]");
            b.text().contains("Logget ind som").then_some(())
        },
    );
    assert!(b.text().contains("lene.holm"), "{}", b.text());
    assert_eq!(b.accessibility_violations(), Vec::<String>::new(), "/");
    b.screenshot("home");

    b.click("form[action='/logout'] button");
    assert!(b.url().ends_with("/login"), "{}", b.url());
    b.goto(&format!("{base}/"));
    assert!(b.url().ends_with("/login"), "signed out: {}", b.url());
}
