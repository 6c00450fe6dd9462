//! The DATA phase: dot-unstuffing, end-of-data detection and the size limit, fed bytes.
//!
//! End of data is only `<CR><LF>.<CR><LF>`. A bare `<LF>` or bare `<CR>` anywhere in the
//! message marks it for refusal (`550 5.5.2`) once it ends: accepting them is what makes
//! SMTP smuggling possible, where two servers disagree on where a message stops. The
//! message is never cut short by them, so the session stays in step with the client.

/// Outcome of feeding bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// More bytes needed.
    More,
    /// The message ended; this many input bytes were consumed.
    Done(usize),
}

#[derive(Debug)]
pub struct DataReceiver {
    pub message: Vec<u8>,
    limit: usize,
    /// Bytes of the message seen, including any beyond the limit.
    pub size: usize,
    pub bare_newline: bool,
    /// True at the start of a line (after CRLF, or at the start of the data).
    line_start: bool,
    /// The previous byte was a CR not yet known to be followed by LF.
    pending_cr: bool,
    /// Saw `.` at a line start; waiting to know whether `CRLF` follows.
    dot: DotState,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum DotState {
    None,
    Dot,
    DotCr,
}

impl DataReceiver {
    pub fn new(limit: usize) -> DataReceiver {
        DataReceiver {
            message: Vec::new(),
            limit,
            size: 0,
            bare_newline: false,
            line_start: true,
            pending_cr: false,
            dot: DotState::None,
        }
    }

    pub fn too_big(&self) -> bool {
        self.size > self.limit
    }

    /// Stops holding the message (the memory budget ran out): it is read to its end to
    /// stay in step with the client, and refused there.
    pub fn shed(&mut self) {
        self.message = Vec::new();
        self.limit = 0;
    }

    fn push(&mut self, b: u8) {
        self.size += 1;
        // Past the limit we keep reading (to stay in step with the client) but stop
        // storing, so a huge message costs no memory.
        if self.size <= self.limit {
            self.message.push(b);
        }
    }

    fn push_slice(&mut self, bytes: &[u8]) {
        let room = self.limit.saturating_sub(self.size);
        self.message
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.size += bytes.len();
    }

    /// Feeds `input`; returns how far it got.
    pub fn feed(&mut self, input: &[u8]) -> Progress {
        let mut i = 0;
        while i < input.len() {
            // Inside a line nothing but CR and LF matters: copy up to the next one in bulk
            // (byte by byte this loop was a fifth of the daemon's CPU time at 500 KB).
            if self.dot == DotState::None && !self.pending_cr && !self.line_start {
                let run = memchr::memchr2(b'\r', b'\n', &input[i..]).unwrap_or(input.len() - i);
                if run > 0 {
                    self.push_slice(&input[i..i + run]);
                    i += run;
                    continue;
                }
            }
            if self.step(input[i]) {
                return Progress::Done(i + 1);
            }
            i += 1;
        }
        Progress::More
    }

    /// One byte through the state machine; true when it ended the message.
    fn step(&mut self, b: u8) -> bool {
        {
            match self.dot {
                DotState::Dot => {
                    if b == b'\r' {
                        self.dot = DotState::DotCr;
                        return false;
                    }
                    // A stuffed dot: drop it, and treat this byte normally.
                    self.dot = DotState::None;
                }
                DotState::DotCr => {
                    if b == b'\n' {
                        return true;
                    }
                    // `.<CR>` then something else: the dot was stuffing, the CR is bare.
                    self.dot = DotState::None;
                    self.bare_newline = true;
                    self.push(b'\r');
                }
                DotState::None => {}
            }
            if self.line_start && b == b'.' && !self.pending_cr {
                self.dot = DotState::Dot;
                self.line_start = false;
                return false;
            }
            if self.pending_cr {
                self.pending_cr = false;
                if b == b'\n' {
                    self.push(b'\r');
                    self.push(b'\n');
                    self.line_start = true;
                    return false;
                }
                self.bare_newline = true;
                self.push(b'\r');
            }
            match b {
                b'\r' => {
                    self.pending_cr = true;
                    self.line_start = false;
                }
                b'\n' => {
                    // A bare LF: never a line start, so `<LF>.<LF>` or `<LF>.<CR><LF>`
                    // cannot end the message.
                    self.bare_newline = true;
                    self.line_start = false;
                    self.push(b);
                }
                _ => {
                    self.line_start = false;
                    self.push(b);
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8]) -> (Progress, DataReceiver) {
        let mut d = DataReceiver::new(1 << 20);
        let p = d.feed(input);
        (p, d)
    }

    #[test]
    fn ends_only_at_crlf_dot_crlf_and_unstuffs() {
        let (p, d) = run(b"a\r\n..b\r\n.\r\nNEXT");
        assert_eq!(p, Progress::Done(11));
        assert_eq!(d.message, b"a\r\n.b\r\n");
        assert!(!d.bare_newline);
    }

    #[test]
    fn empty_message() {
        let (p, d) = run(b".\r\n");
        assert_eq!(p, Progress::Done(3));
        assert!(d.message.is_empty());
    }

    #[test]
    fn byte_at_a_time_gives_the_same_result() {
        let input = b"Subject: x\r\n\r\n.hidden\r\nline\r\n.\r\n";
        let mut d = DataReceiver::new(1 << 20);
        let mut done = false;
        for (i, b) in input.iter().enumerate() {
            if let Progress::Done(n) = d.feed(std::slice::from_ref(b)) {
                assert_eq!(n, 1);
                assert_eq!(i, input.len() - 1);
                done = true;
            }
        }
        assert!(done);
        assert_eq!(d.message, b"Subject: x\r\n\r\nhidden\r\nline\r\n");
    }

    /// The bulk copy inside lines must not change anything: random inputs rich in CR, LF
    /// and dots give the same message, flags and end, whether fed whole or byte by byte.
    #[test]
    fn bulk_and_bytewise_feeding_agree() {
        let mut x: u64 = 0x5eed;
        for _ in 0..2000 {
            let len = (x % 64) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    b"ab.\r\n\r\n."[(x >> 33) as usize % 8]
                })
                .collect();
            let mut whole = DataReceiver::new(40);
            let p = whole.feed(&input);
            let mut bytewise = DataReceiver::new(40);
            let mut q = Progress::More;
            for (i, b) in input.iter().enumerate() {
                if let Progress::Done(_) = bytewise.feed(std::slice::from_ref(b)) {
                    q = Progress::Done(i + 1);
                    break;
                }
            }
            assert_eq!(p, q, "{input:?}");
            assert_eq!(whole.message, bytewise.message, "{input:?}");
            assert_eq!(whole.size, bytewise.size, "{input:?}");
            assert_eq!(whole.bare_newline, bytewise.bare_newline, "{input:?}");
        }
    }

    #[test]
    fn smuggling_variants_do_not_end_the_message_and_are_flagged() {
        for variant in [&b"\n.\n"[..], b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r\n.\r"] {
            let mut input = b"x".to_vec();
            input.extend_from_slice(variant);
            input.extend_from_slice(b"MAIL FROM:<evil@x>\r\n");
            let (p, d) = run(&input);
            assert_eq!(p, Progress::More, "{variant:?} ended the message");
            assert!(d.bare_newline, "{variant:?} not flagged");
            let mut d = d;
            assert!(matches!(d.feed(b"\r\n.\r\n"), Progress::Done(_)));
        }
    }

    #[test]
    fn size_limit_keeps_reading_but_stops_storing() {
        let mut d = DataReceiver::new(10);
        assert_eq!(d.feed(&[b'x'; 1000]), Progress::More);
        assert!(d.too_big());
        assert_eq!(d.message.len(), 10);
        assert!(matches!(d.feed(b"\r\n.\r\n"), Progress::Done(_)));
    }
}

/// The BDAT (CHUNKING, RFC 3030) side: chunks are taken as they are, with no dot-stuffing,
/// but the same bare CR / LF rule and size limit apply across chunk boundaries.
#[derive(Debug)]
pub struct ChunkReceiver {
    pub message: Vec<u8>,
    limit: usize,
    pub size: usize,
    pub bare_newline: bool,
    last_cr: bool,
}

impl ChunkReceiver {
    pub fn new(limit: usize) -> ChunkReceiver {
        ChunkReceiver {
            message: Vec::new(),
            limit,
            size: 0,
            bare_newline: false,
            last_cr: false,
        }
    }

    pub fn too_big(&self) -> bool {
        self.size > self.limit
    }

    /// As [`DataReceiver::shed`].
    pub fn shed(&mut self) {
        self.message = Vec::new();
        self.limit = 0;
    }

    pub fn push(&mut self, chunk: &[u8]) {
        for &b in chunk {
            match (self.last_cr, b) {
                (true, b'\n') => {}
                (true, _) => self.bare_newline = true,
                (false, b'\n') => self.bare_newline = true,
                _ => {}
            }
            self.last_cr = b == b'\r';
        }
        self.size += chunk.len();
        if self.size <= self.limit {
            self.message.extend_from_slice(chunk);
        }
    }

    /// Called after the last chunk: a CR at the very end is bare too.
    pub fn finish(&mut self) {
        if self.last_cr {
            self.bare_newline = true;
        }
    }
}

#[cfg(test)]
mod chunk_tests {
    use super::*;

    #[test]
    fn bare_newlines_across_chunks() {
        let mut c = ChunkReceiver::new(100);
        c.push(b"a\r");
        c.push(b"\nb\r\n");
        c.finish();
        assert!(!c.bare_newline);
        assert_eq!(c.message, b"a\r\nb\r\n");
        for bad in [&[&b"a\n"[..]][..], &[b"a\r", b"b"], &[b"a\r"]] {
            let mut c = ChunkReceiver::new(100);
            for chunk in bad {
                c.push(chunk);
            }
            c.finish();
            assert!(c.bare_newline, "{bad:?}");
        }
    }
}
