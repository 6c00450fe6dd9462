//! A load generator for benchmarks: N concurrent SMTP sessions deliver M messages of a given
//! size over persistent connections, and report throughput and the latency of each message
//! (from the end of DATA to the server's reply, i.e. the server's durable-commit time).
//!
//! `smtp-load ADDR SESSIONS MESSAGES SIZE [RCPT]`, e.g.
//! `smtp-load 127.0.0.1:2525 20 2000 20480 underretning@localhost`

use std::io::{BufReader, Write};

use modtag_tests::read_reply as reply;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn session(
    addr: &str,
    rcpt: &str,
    body: &[u8],
    left: &AtomicUsize,
) -> std::io::Result<(Vec<Duration>, usize)> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut w = s;
    reply(&mut r)?;
    w.write_all(b"EHLO load.example\r\n")?;
    reply(&mut r)?;
    let (mut lat, mut failed) = (Vec::new(), 0);
    while left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        write!(
            w,
            "MAIL FROM:<load@example.org>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n"
        )?;
        for _ in 0..3 {
            reply(&mut r)?;
        }
        w.write_all(body)?;
        let t = Instant::now();
        w.write_all(b".\r\n")?;
        let rep = reply(&mut r)?;
        if rep.starts_with("250") {
            lat.push(t.elapsed());
        } else {
            failed += 1;
        }
    }
    w.write_all(b"QUIT\r\n")?;
    Ok((lat, failed))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: smtp-load ADDR SESSIONS MESSAGES SIZE [RCPT]");
        std::process::exit(2);
    }
    let addr = args[0].clone();
    let sessions: usize = args[1].parse().expect("SESSIONS");
    let messages: usize = args[2].parse().expect("MESSAGES");
    let size: usize = args[3].parse().expect("SIZE");
    let rcpt = args
        .get(4)
        .cloned()
        .unwrap_or_else(|| "underretning@localhost".into());
    // A message of `size` bytes: headers, then 76-character lines of text.
    let mut body = b"From: load@example.org\r\nSubject: load\r\n\r\n".to_vec();
    while body.len() + 78 < size {
        body.extend_from_slice(&[b'x'; 76]);
        body.extend_from_slice(b"\r\n");
    }
    let body = Arc::new(body);
    let left = Arc::new(AtomicUsize::new(messages));
    let start = Instant::now();
    let threads: Vec<_> = (0..sessions)
        .map(|_| {
            let (addr, rcpt, body, left) = (addr.clone(), rcpt.clone(), body.clone(), left.clone());
            std::thread::spawn(move || session(&addr, &rcpt, &body, &left))
        })
        .collect();
    let mut lat = Vec::new();
    let mut failed = 0;
    for t in threads {
        match t.join().unwrap() {
            Ok((l, f)) => {
                lat.extend(l);
                failed += f;
            }
            Err(e) => eprintln!("session error: {e}"),
        }
    }
    let elapsed = start.elapsed();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{} accepted, {} refused, {:.1} s, {:.0} msg/s, {:.1} MB/s, latency p50 {:.1} ms, p99 {:.1} ms",
        lat.len(),
        failed,
        elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        (lat.len() * body.len()) as f64 / elapsed.as_secs_f64() / 1e6,
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );
}
