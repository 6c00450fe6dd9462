//! How long reading one message takes (BENCHMARKS.md, issue 33): `Reader::read` on the
//! embedded configuration, for a message like smtp-source's (80-character lines `1XXX…`)
//! and one of Danish prose, best of five rounds of 200.
//!
//! `cargo run --release -p modtag-workflow --example read -- [SIZE]` (default 20480)

use std::time::Instant;

use modtag_workflow::understand::Reader;

fn message(size: usize, line: impl Fn(usize) -> String) -> Vec<u8> {
    let mut m = String::from(
        "From: <bench@example.org>\r\nTo: <underretning@localhost>\r\nSubject: bench\r\n\r\n",
    );
    let mut n = 1;
    while m.len() < size {
        m.push_str(&line(n));
        m.push_str("\r\n");
        n += 1;
    }
    m.into_bytes()
}

fn main() {
    let size: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("SIZE in bytes"))
        .unwrap_or(20480);
    let cfg = modtag_config::load_embedded().expect("the embedded configuration");
    let reader = Reader::new(&cfg).expect("a reader");
    let smtp_source = message(size, |n| {
        let n = n.to_string();
        format!("{n}{}", "X".repeat(79 - n.len()))
    });
    let prose = message(size, |_| {
        "Vi er bekymrede for en dreng i 3. klasse, som ofte kommer for sent og virker træt.".into()
    });
    for (name, raw) in [("smtp-source", &smtp_source), ("prose", &prose)] {
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            for _ in 0..200 {
                std::hint::black_box(reader.read(raw, modtag_config::Channel::Underretning));
            }
            best = best.min(t.elapsed().as_secs_f64() / 200.0);
        }
        println!(
            "{name}, {} bytes: {:.1} µs a message",
            raw.len(),
            best * 1e6
        );
    }
}
