//! A relay that is down: copies wait in the durable outbox and go out when it comes back.

use modtag_tests::*;

#[test]
fn copies_wait_for_a_relay_that_is_down() {
    let opts = Options::default();
    let relay_port = opts.relay_port;
    let d = Daemon::start(opts);
    let reference = d.send("Bekymring", "Tekst til Modtagelsen");
    d.decide(&reference, &["--trin", "3"]);
    wait_for(
        "a deferred delivery",
        std::time::Duration::from_secs(30),
        || d.stderr().contains("delivery deferred").then_some(()),
    );
    let sink = Sink::start(relay_port);
    let dumps = sink.wait_kommune(1);
    assert_eq!(rcpt_of(&dumps[0]), "modtagelsen@kommune.localhost");
    let plain = Gpg::with_demo_keys(&["modtagelsen"])
        .decrypt(&armored_block(&dumps[0]))
        .unwrap();
    assert!(plain.contains("Tekst til Modtagelsen"));
}
