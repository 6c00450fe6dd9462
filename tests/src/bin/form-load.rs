//! A load generator for the public forms: C concurrent clients each send Send sikkert
//! submissions with an attachment of SIZE bytes (a PDF), N in all, each fetching the form
//! first for its token; reports submissions a second and the latency of each POST (from
//! the request to the receipt page, i.e. including the durable commit).
//!
//! `form-load ADDR CLIENTS SUBMISSIONS SIZE`, e.g. `form-load 127.0.0.1:8081 4 200 1048576`

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use modtag_tests::forms::{form, post};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 4 {
        eprintln!("usage: form-load ADDR CLIENTS SUBMISSIONS SIZE");
        std::process::exit(2);
    }
    let addr: SocketAddr = args[0].parse().expect("ADDR is host:port");
    let clients: usize = args[1].parse().expect("CLIENTS");
    let total: usize = args[2].parse().expect("SUBMISSIONS");
    let size: usize = args[3].parse().expect("SIZE");
    let mut pdf = b"%PDF-1.4\n".to_vec();
    while pdf.len() + 6 < size {
        pdf.extend_from_slice(b"% modtag load test line of a PDF comment, to make it big\n");
    }
    pdf.truncate(size.saturating_sub(6));
    pdf.extend_from_slice(b"%%EOF\n");
    let pdf = Arc::new(pdf);
    let left = Arc::new(AtomicUsize::new(total));
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (pdf, left) = (pdf.clone(), left.clone());
            std::thread::spawn(move || {
                let mut took: Vec<Duration> = Vec::new();
                let mut refused = 0;
                while left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    let (csrf, cookie) = form(addr, "/sendsikkert");
                    let fields = [
                        ("csrf", csrf.as_str()),
                        ("cvr", "13585628"),
                        ("name", "Susanne Møller"),
                        ("email", "leder@friskolen.dk"),
                        ("leder", "karen.poulsen"),
                        ("text", "Belastningsprøve"),
                    ];
                    let t = Instant::now();
                    let (code, _, _) = post(
                        addr,
                        "/sendsikkert",
                        &cookie,
                        &fields,
                        &[("handleplan.pdf", "application/pdf", &pdf)],
                    );
                    if code == 200 {
                        took.push(t.elapsed());
                    } else {
                        refused += 1;
                    }
                }
                (took, refused)
            })
        })
        .collect();
    let (mut took, mut refused) = (Vec::new(), 0);
    for t in threads {
        let (l, r) = t.join().unwrap();
        took.extend(l);
        refused += r;
    }
    let elapsed = start.elapsed();
    took.sort();
    let at = |q: f64| {
        took.get(((took.len() as f64 * q) as usize).min(took.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3
    };
    println!(
        "{} accepted, {refused} refused, {:.1} s, {:.1} submissions/s, {:.1} MB/s, latency p50 {:.1} ms, p99 {:.1} ms",
        took.len(),
        elapsed.as_secs_f64(),
        took.len() as f64 / elapsed.as_secs_f64(),
        (took.len() * size) as f64 / elapsed.as_secs_f64() / 1e6,
        at(0.5),
        at(0.99),
    );
}
