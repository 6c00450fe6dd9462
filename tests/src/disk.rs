//! [`Disk`]: the forgetful disk (`src/bin/forgetful-disk/`, FUSE) mounted for a test: a
//! directory that keeps only what was synced, and on [`Disk::cut`] hands over exactly that,
//! as a disk would after the power came back.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::modtag_bin;

/// The forgetful disk over `live`, mounted at `mount`; cut, it writes what survived to `out`.
pub struct Disk {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    pub mount: PathBuf,
    live: PathBuf,
    out: PathBuf,
}

impl Disk {
    pub fn mount(live: &Path, mount: &Path, out: &Path) -> Disk {
        std::fs::create_dir_all(mount).unwrap();
        let bin = modtag_bin().with_file_name("forgetful-disk");
        let mut child = Command::new(&bin)
            .args([live, mount, out])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok);
        assert_eq!(
            first.as_deref(),
            Some("mounted"),
            "the forgetful disk did not mount (needs /dev/fuse and fuse3's fusermount3)"
        );
        Disk {
            child,
            lines,
            mount: mount.to_path_buf(),
            live: live.to_path_buf(),
            out: out.to_path_buf(),
        }
    }

    /// The power goes: from now on nothing reaches the disk; what survived is in `out`.
    pub fn cut(&mut self) {
        self.cut_with("");
    }

    /// The power goes on a disk that wrote back a seeded part of what was not synced, in
    /// no order (see the binary).
    pub fn cut_reordered(&mut self, seed: u64) {
        self.cut_with(&format!("reorder {seed}"));
    }

    fn cut_with(&mut self, how: &str) {
        let trigger = self.out.with_extension("cut");
        let written = self.out.with_extension("cut-being-written");
        std::fs::write(&written, how).unwrap();
        std::fs::rename(&written, &trigger).unwrap();
        let said = self.lines.next().and_then(Result::ok);
        assert_eq!(said.as_deref(), Some("cut"));
    }

    /// After a cut: unmounts, and deletes what only this disk needed (the live directory,
    /// the synced copies, the mount point), keeping what survived. A hundred cuts of a
    /// growing store would otherwise fill the test machine's disk.
    pub fn retire(self) {
        let (live, synced, mount) = (
            self.live.clone(),
            self.out.with_extension("synced"),
            self.mount.clone(),
        );
        drop(self);
        for dir in [live, synced, mount] {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// From now on every fsync fails with EIO, as on a disk going bad.
    pub fn fail_fsyncs(&self, failing: bool) {
        let flag = self.out.with_extension("fail");
        if failing {
            std::fs::write(flag, b"").unwrap();
        } else {
            std::fs::remove_file(flag).unwrap();
        }
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let _ = Command::new("fusermount3")
            .args(["-u", "-z"])
            .arg(&self.mount)
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
