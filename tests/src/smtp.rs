//! A raw SMTP client for tests that need to send what no well-behaved client would.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Reads one SMTP reply, all of its lines (`250-...` continues, `250 ...` ends it).
pub fn read_reply(r: &mut impl BufRead) -> std::io::Result<String> {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        all.push_str(&line);
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(all);
        }
    }
}

/// A raw SMTP client for transcripts: send a line, read the whole reply.
pub struct Smtp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    pub greeting: String,
}

impl Smtp {
    pub fn connect(addr: SocketAddr) -> Smtp {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut c = Smtp {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
            greeting: String::new(),
        };
        c.greeting = c.reply();
        c
    }

    /// A session from `helo` that has started a message to Modtagelsen (after `354`).
    pub fn in_data(addr: SocketAddr, helo: &str) -> Smtp {
        let mut c = Smtp::connect(addr);
        c.cmd(&format!("EHLO {helo}"));
        c.start_message();
        c
    }

    /// MAIL, RCPT to Modtagelsen and DATA, checked up to `354`.
    pub fn start_message(&mut self) {
        assert!(self.cmd("MAIL FROM:<a@b.example>").starts_with("250"));
        assert!(self
            .cmd("RCPT TO:<underretning@localhost>")
            .starts_with("250"));
        let r = self.cmd("DATA");
        assert!(r.starts_with("354"), "{r}");
    }

    /// Reads one (possibly multi-line) reply.
    pub fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).unwrap_or(0) == 0 {
                return all;
            }
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return all;
            }
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
    }

    /// Sends `bytes` one at a time, `every` apart, from a thread of its own (a slow-loris
    /// client); it stops at the end or when the connection is closed.
    pub fn trickle(&self, bytes: &[u8], every: Duration) -> std::thread::JoinHandle<usize> {
        let mut w = self.writer.try_clone().unwrap();
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            for (sent, b) in bytes.iter().enumerate() {
                if w.write_all(&[*b]).is_err() {
                    return sent;
                }
                std::thread::sleep(every);
            }
            bytes.len()
        })
    }

    /// Sends a command line and returns the reply.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send_raw(format!("{line}\r\n").as_bytes());
        self.reply()
    }
}
