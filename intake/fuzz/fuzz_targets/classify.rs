//! The whole classify path (MIME, forwards, TNEF, OpenPGP detection, kind, reporter,
//! signals) on arbitrary bytes, through each channel: never panics or hangs (the raw message
//! is kept whatever happens), every CPR it reports is valid, every attachment name is clean,
//! and the kind is one of the four.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use modtag_config::Channel;
use modtag_workflow::understand::Reader;
use modtag_router::cpr::Cpr;

fn reader() -> &'static Reader {
    static READER: OnceLock<Reader> = OnceLock::new();
    READER.get_or_init(|| {
        // mail-parser 0.11 panics on some broken multiparts (found here, kept as
        // tests/data/corpus/70-mail-parser-panic.eml). The reader catches that and keeps the
        // raw message, as in production; every other panic is still a crash for the fuzzer.
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let upstream = info
                .location()
                .is_some_and(|l| l.file().contains("mail-parser-"));
            if !upstream {
                abort(info);
            }
        }));
        let cfg = modtag_config::load_embedded().expect("embedded default");
        Reader::with_key(&cfg, None)
    })
}

fuzz_target!(|data: &[u8]| {
    let channel = match data.first().map(|b| b % 3) {
        Some(0) => Channel::Underretning,
        Some(1) => Channel::Trivselplus,
        _ => Channel::Postfordeling,
    };
    let r = reader().read(data, channel);
    // The kind is one of the closed vocabulary by its type; reading must still say why.
    assert!(!r.understanding.kind_reason.is_empty());
    for cpr in &r.cprs {
        assert!(Cpr::parse(&cpr.formatted()).is_some());
    }
    for a in &r.attachments {
        assert!(!a.name.is_empty());
        assert!(!a.name.contains('/') && !a.name.contains('\\') && !a.name.chars().any(char::is_control));
    }
});
