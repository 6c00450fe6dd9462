//! What the tests look for in a daemon: personal data in its logs, and its peak memory.

use crate::Daemon;

/// The CPR numbers, children's names, subjects and texts the suite sends: none may appear
/// in any line a daemon logs (issue 18). Each daemon's logs are searched when it is dropped,
/// so the whole end-to-end suite is the test.
pub const PERSONAL_DATA: &[&str] = &[
    "120315-4321",
    "1203154321",
    "010120-1234",
    "0101201234",
    "010120-4003",
    "310415-4321",
    "110418-4420",
    "Emil",
    "Sofie",
    "Ellen Vinther",
    "Ida 0",
    "MARKER",
    "sulten",
    "ked af det",
    "Bekymring for",
    "Ingeborg",
    // The child's address and a reporter's phone from the underretning form.
    "Vestergade 12",
    "20 30 40 50",
    "20304050",
];

impl Daemon {
    /// Lines of the daemon's logs that hold any of [`PERSONAL_DATA`].
    pub fn personal_data_in_logs(&self) -> Vec<String> {
        let mut found = Vec::new();
        for name in ["stdout.log", "stderr.log"] {
            let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
            for line in text.lines() {
                if let Some(s) = PERSONAL_DATA.iter().find(|s| line.contains(*s)) {
                    found.push(format!("{name}: {s:?} in: {line}"));
                }
            }
        }
        found
    }
}

/// The daemon's peak memory (VmHWM, bytes) from /proc.
pub fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM in /proc/PID/status")
        * 1024
}

/// Every file under `dir` (recursively) whose bytes hold `needle`: what a disk would show
/// someone who reads the data directory without the keys.
pub fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
            found.push(path);
        }
    }
    found
}
