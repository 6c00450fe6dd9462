//! Classification cost per message (issue 4's benchmark, reported in BENCHMARKS.md): a
//! 100 KB message with five attachments (PDF, JPEG, DOCX, a text file, a winmail.dat), read
//! through the whole path many times; prints CPU time per message.
//!
//!     cargo run --release -p modtag-intake --example classify-bench [ITERATIONS]

use std::time::Instant;

use modtag_config::Channel;
use modtag_intake::understand::Reader;

fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, c) in data.chunks(3).enumerate() {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                out.push(T[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
        if i % 19 == 18 {
            out.push_str("\r\n");
        }
    }
    out
}

fn message() -> Vec<u8> {
    let text: String = (0..300)
        .map(|i| {
            format!(
                "Linje {i}: vi er bekymrede for Emil (120315-4321), han græder ofte i skolen.\r\n"
            )
        })
        .collect();
    let filler = |magic: &[u8], n: usize| {
        let mut v = magic.to_vec();
        v.extend((0..n).map(|i| (i * 7 % 251) as u8));
        v
    };
    let parts: Vec<(String, String, Vec<u8>)> = vec![
        (
            "application/pdf".into(),
            "notat.pdf".into(),
            filler(b"%PDF-1.4\n", 12_000),
        ),
        (
            "image/jpeg".into(),
            "billede.jpg".into(),
            filler(b"\xff\xd8\xff\xe0", 12_000),
        ),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document".into(),
            "notat.docx".into(),
            filler(b"PK\x03\x04[Content_Types].xml word/", 12_000),
        ),
        (
            "text/plain".into(),
            "noter.txt".into(),
            text.as_bytes()[..10_000].to_vec(),
        ),
        (
            "application/ms-tnef".into(),
            "winmail.dat".into(),
            filler(b"\x78\x9f\x3e\x22", 8_000),
        ),
    ];
    let mut m = String::from(
        "From: Kontoret Bakkeskolen <kontor@bakkeskolen.dk>\r\nTo: underretning@localhost\r\n\
         Subject: Bekymring for elev\r\nDate: Mon, 23 Nov 2026 09:15:00 +0100\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
    );
    m.push_str(&text);
    for (ct, name, data) in parts {
        m.push_str(&format!(
            "--b\r\nContent-Type: {ct}\r\nContent-Transfer-Encoding: base64\r\n\
             Content-Disposition: attachment; filename=\"{name}\"\r\n\r\n{}\r\n",
            b64(&data)
        ));
    }
    m.push_str("--b--\r\n");
    m.into_bytes()
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, from /proc (clock ticks of 1/100 s on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5000);
    let cfg = modtag_config::load_embedded().expect("embedded default");
    let reader = Reader::with_key(&cfg, None);
    let raw = message();
    let r = reader.read(&raw, Channel::Underretning);
    assert_eq!(r.attachments.len(), 5, "{:?}", r.attachments);
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    for _ in 0..n {
        std::hint::black_box(reader.read(std::hint::black_box(&raw), Channel::Underretning));
    }
    let (cpu, wall) = (cpu_seconds() - cpu0, wall0.elapsed().as_secs_f64());
    println!(
        "message {} bytes, {} attachments; {n} reads: CPU {:.1} µs per message (wall {:.1} µs)",
        raw.len(),
        r.attachments.len(),
        cpu / n as f64 * 1e6,
        wall / n as f64 * 1e6
    );
}
