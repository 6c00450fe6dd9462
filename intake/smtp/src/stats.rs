//! Counters of the SMTP listener for `/metrics`: what IT operations need to see a flood, a
//! misconfigured partner or a failing disk (sessions, refusals by reply code, TLS, accepted
//! messages). No addresses, names or client IPs: a reporter's IP address is personal data,
//! and labels are only the fixed reply codes modtag itself sends.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct SmtpStats {
    sessions: AtomicU64,
    open: AtomicU64,
    refused_connections: AtomicU64,
    tls_ok: AtomicU64,
    tls_failed: AtomicU64,
    accepted: AtomicU64,
    accepted_bytes: AtomicU64,
    /// Temporary and permanent refusals, by `(code, enhanced code)`.
    refusals: Mutex<BTreeMap<(u16, String), u64>>,
    /// The accept loop is running (for `/readyz`).
    listening: std::sync::atomic::AtomicBool,
}

/// At most this many distinct reply codes are counted (ours are a fixed set; the bound only
/// guards against a future reply that echoes something).
const MAX_CODES: usize = 64;

/// Counts an open session until dropped.
pub struct OpenSession(Arc<SmtpStats>);

impl Drop for OpenSession {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Relaxed);
    }
}

impl SmtpStats {
    /// The accept loop started (true) or ended (false).
    pub fn set_listening(&self, up: bool) {
        self.listening.store(up, Relaxed);
    }

    pub fn listening(&self) -> bool {
        self.listening.load(Relaxed)
    }

    /// A session was admitted; it counts as open while the guard lives.
    pub fn session(self: &Arc<Self>) -> OpenSession {
        self.sessions.fetch_add(1, Relaxed);
        self.open.fetch_add(1, Relaxed);
        OpenSession(self.clone())
    }

    /// A connection was turned away because a session cap was reached.
    pub fn connection_refused(&self) {
        self.refused_connections.fetch_add(1, Relaxed);
    }

    pub fn tls(&self, ok: bool) {
        if ok { &self.tls_ok } else { &self.tls_failed }.fetch_add(1, Relaxed);
    }

    pub fn accepted(&self, bytes: usize) {
        self.accepted.fetch_add(1, Relaxed);
        self.accepted_bytes.fetch_add(bytes as u64, Relaxed);
    }

    /// Looks at replies about to be sent and counts each 4xx and 5xx.
    pub fn replies(&self, text: &str) {
        for line in text.split("\r\n") {
            // Only the last line of a multi-line reply carries a space after the code.
            if let Some(key) = refusal(line) {
                let mut map = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
                if map.len() < MAX_CODES || map.contains_key(&key) {
                    *map.entry(key).or_default() += 1;
                }
            }
        }
    }

    /// The Prometheus text for these counters.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: &[(String, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in lines {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        let plain = |a: &AtomicU64| vec![(String::new(), a.load(Relaxed))];
        metric(
            "modtag_smtp_sessions_total",
            "counter",
            "SMTP sessions admitted.",
            &plain(&self.sessions),
        );
        metric(
            "modtag_smtp_sessions_open",
            "gauge",
            "SMTP sessions open now.",
            &plain(&self.open),
        );
        metric(
            "modtag_smtp_connections_refused_total",
            "counter",
            "Connections answered 421 because a session cap was reached.",
            &plain(&self.refused_connections),
        );
        metric(
            "modtag_smtp_tls_handshakes_total",
            "counter",
            "STARTTLS handshakes, by result.",
            &[
                ("{result=\"ok\"}".into(), self.tls_ok.load(Relaxed)),
                ("{result=\"failed\"}".into(), self.tls_failed.load(Relaxed)),
            ],
        );
        metric(
            "modtag_smtp_messages_accepted_total",
            "counter",
            "Messages stored durably and answered 250.",
            &plain(&self.accepted),
        );
        metric(
            "modtag_smtp_accepted_bytes_total",
            "counter",
            "Bytes of the messages accepted.",
            &plain(&self.accepted_bytes),
        );
        let refusals: Vec<(String, u64)> = self
            .refusals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|((code, enhanced), n)| {
                (format!("{{code=\"{code}\",enhanced=\"{enhanced}\"}}"), *n)
            })
            .collect();
        metric(
            "modtag_smtp_refusals_total",
            "counter",
            "Temporary (4xx) and permanent (5xx) replies sent, by reply code.",
            &refusals,
        );
        out
    }
}

/// `"550 5.1.1 Recipient ..."` → `(550, "5.1.1")`; `None` for success replies and for
/// anything that is not a well-formed final reply line.
fn refusal(line: &str) -> Option<(u16, String)> {
    let (code, rest) = line.split_at_checked(3)?;
    let code: u16 = code.parse().ok()?;
    if !(400..600).contains(&code) {
        return None;
    }
    let rest = rest.strip_prefix(' ')?;
    let enhanced = rest.split(' ').next().unwrap_or("");
    let well_formed = enhanced.split('.').count() == 3
        && enhanced
            .split('.')
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()));
    Some((
        code,
        if well_formed {
            enhanced.into()
        } else {
            String::new()
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_counted_by_code_and_nothing_else() {
        let s = Arc::new(SmtpStats::default());
        s.replies("250-modtag.test\r\n250 ENHANCEDSTATUSCODES\r\n");
        s.replies("550 5.1.1 Recipient address rejected: no such mailbox here\r\n");
        s.replies("550 5.1.1 Recipient address rejected: no such mailbox here\r\n503 5.5.1 Error: need MAIL command\r\n");
        s.replies("555 5.5.4 Unsupported parameter søren@example.dk\r\n");
        s.replies("421 modtag.test closing\r\n");
        let _open = s.session();
        let text = s.render();
        assert!(
            text.contains("modtag_smtp_refusals_total{code=\"550\",enhanced=\"5.1.1\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("modtag_smtp_refusals_total{code=\"503\",enhanced=\"5.5.1\"} 1\n"));
        assert!(text.contains("modtag_smtp_refusals_total{code=\"421\",enhanced=\"\"} 1\n"));
        assert!(text.contains("modtag_smtp_sessions_open 1\n"));
        assert!(
            !text.contains("code=\"250\"") && !text.contains("søren"),
            "{text}"
        );
        drop(_open);
        assert!(s.render().contains("modtag_smtp_sessions_open 0\n"));
    }
}
