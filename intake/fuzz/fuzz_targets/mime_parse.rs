//! The triage parse path on arbitrary bytes: never panics (the raw message is kept
//! whatever happens), every CPR it reports is valid, and every attachment name is clean.

#![no_main]

use libfuzzer_sys::fuzz_target;
use modtag_router::cpr::Cpr;

fuzz_target!(|data: &[u8]| {
    let parsed = modtag_intake::parse::parse(data);
    for cpr in &parsed.cprs {
        assert!(Cpr::parse(&cpr.formatted()).is_some());
    }
    for a in &parsed.attachments {
        assert!(!a.name.contains('/') && !a.name.contains('\\') && !a.name.chars().any(char::is_control));
    }
});
