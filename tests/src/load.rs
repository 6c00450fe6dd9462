//! [`Load`]: a client that keeps sending mail over one SMTP session while a test does
//! something to the daemon (a backup, a key rotation), noting when each message was
//! acknowledged.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{queued_as, wait_for, Smtp};

pub struct Load {
    acked: Arc<Mutex<Vec<(String, Instant)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    /// Starts sending to `smtp` and returns once `warm` messages were acknowledged.
    pub fn start(smtp: SocketAddr, warm: usize) -> Load {
        let acked: Arc<Mutex<Vec<(String, Instant)>>> = Default::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (acked, stop) = (acked.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut session: Option<Smtp> = None;
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let c = session.get_or_insert_with(|| {
                        let mut c = Smtp::connect(smtp);
                        c.cmd("EHLO load.example");
                        c
                    });
                    // A temporary refusal (a rate limit, a session's end) is what a real
                    // sending server meets too: it comes back a moment later.
                    let mail = c.cmd("MAIL FROM:<a@b.example>");
                    if !mail.starts_with("250") {
                        eprintln!("load: {mail}");
                        session = None;
                        std::thread::sleep(Duration::from_millis(200));
                        continue;
                    }
                    assert!(c.cmd("RCPT TO:<underretning@localhost>").starts_with("250"));
                    assert!(c.cmd("DATA").starts_with("354"));
                    c.send_raw(format!("Subject: Last {n}\r\n\r\nEmil {n}\r\n.\r\n").as_bytes());
                    let reply = c.reply();
                    let r = queued_as(&reply).unwrap_or_else(|| panic!("{reply}"));
                    acked.lock().unwrap().push((r, Instant::now()));
                    n += 1;
                    // A steady stream, not a flood.
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        let load = Load {
            acked,
            stop,
            thread: Some(thread),
        };
        wait_for("the load to run", Duration::from_secs(30), || {
            (load.acked.lock().unwrap().len() >= warm).then_some(())
        });
        load
    }

    /// Stops sending; every reference acknowledged, with when.
    pub fn finish(mut self) -> Vec<(String, Instant)> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("the load client failed");
        }
        std::mem::take(&mut *self.acked.lock().unwrap())
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
