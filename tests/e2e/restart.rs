//! What was acknowledged is still there after a restart on the same data directory.

use modtag_tests::*;

#[test]
fn restart_keeps_every_intake() {
    let mut d = Daemon::start(Options::default());
    let r1 = d.send("Første", "Bekymring 1");
    let r2 = d.send("Anden", "Bekymring 2");
    assert!(d.stop().success());
    d.spawn();
    let refs = d.queue();
    assert_eq!(refs, [r1.as_str(), r2.as_str()]);
    // The counter continues: no reference is reused.
    let r3 = d.send("Tredje", "Bekymring 3");
    assert!(r3 > r2, "{r3} after {r2}");
}

#[test]
fn acknowledged_messages_survive_sigkill() {
    let mut d = Daemon::start(Options::default());
    let refs: Vec<String> = (0..5)
        .map(|i| d.send("Bekymring", &format!("nr {i}")))
        .collect();
    d.kill();
    d.spawn();
    let listed = d.queue();
    assert_eq!(listed, refs.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(d.stop().success());
    assert!(d.cli(&["audit", "verify"]).status.success());
}
