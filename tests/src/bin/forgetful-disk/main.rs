//! A disk that forgets what was never synced (issue 32), for the power-cut harness.
//!
//!     forgetful-disk LIVE MOUNTPOINT OUT
//!
//! A FUSE filesystem passing every operation through to the directory LIVE, while it keeps
//! apart what a disk would still hold after a power cut: a file's contents as of its last
//! `fsync`/`fdatasync`, and a directory's entries (creates, renames, unlinks) as of its last
//! `fsync` of the directory (what POSIX promises, and what ext4 and XFS give at worst).
//! What is there at mount counts as synced. When a file named `OUT.cut` appears, the disk
//! is cut: from then on every operation fails with EIO (the process using it is killed
//! next), and OUT is written with exactly what survived: the synced entries from the root
//! down, each file with its synced contents (empty if it never had any). Then it prints
//! `cut` and waits to be unmounted (`fusermount3 -u -z MOUNTPOINT`) or killed.
//!
//! If `OUT.cut` says `reorder SEED`, the disk is one that wrote back some of what was not
//! synced, in no order, when the power went: of each file's unsynced writes, each 4 KiB
//! page survives or not (a coin per page), and each directory is found as it was live or
//! as last synced (a coin per directory). Seeded, so a run replays.
//!
//! While a file named `OUT.fail` exists, every fsync fails with EIO instead (a disk going
//! bad): the failpoint of the durability steps, under the real binary.
//!
//! Nodes get ids of their own (not the live inode numbers, which the live filesystem
//! reuses after an unlink); synced contents live in `OUT.synced/NODE`, updated at each
//! fsync from the byte ranges written since the last.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use fuser::{
    BsdFileFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation,
    INodeNo, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

mod model;

use model::{cut, errno, synced_copy, State};

const TTL: Duration = Duration::from_secs(0);

/// The filesystem: LIVE for every operation, `OUT.synced` and the state for what survives.
struct Disk {
    live: PathBuf,
    synced: PathBuf,
    /// While this file exists, every fsync fails with EIO (a disk going bad), and nothing
    /// it would have synced is.
    failing: PathBuf,
    state: std::sync::Arc<Mutex<State>>,
}

impl Disk {
    /// Before a file present at mount first changes (or goes), its contents at mount are
    /// kept as its synced ones.
    fn keep_untouched(&self, s: &mut State, node: u64) -> Result<(), Errno> {
        if s.untouched.remove(&node) {
            std::fs::copy(s.path(&self.live, node), self.synced.join(node.to_string()))
                .map_err(errno)?;
        }
        Ok(())
    }

    /// Everything at mount counts as synced.
    fn new(live: PathBuf, synced: PathBuf) -> std::io::Result<Disk> {
        std::fs::create_dir_all(&synced)?;
        let root_ino = std::fs::metadata(&live)?.ino();
        let mut s = State {
            by_ino: HashMap::from([(root_ino, 1)]),
            place: HashMap::new(),
            next_node: 1,
            dirty: HashMap::new(),
            synced_dirs: HashMap::new(),
            handles: HashMap::new(),
            next_fh: 0,
            cut: false,
            untouched: Default::default(),
        };
        let mut todo = vec![1u64];
        while let Some(dir) = todo.pop() {
            let entries = s.entries(&live, dir)?;
            for e in entries.values() {
                match e.dir {
                    true => todo.push(e.node),
                    false => {
                        s.untouched.insert(e.node);
                    }
                }
            }
            s.synced_dirs.insert(dir, entries);
        }
        Ok(Disk {
            live,
            failing: synced.with_extension("fail"),
            synced,
            state: std::sync::Arc::new(Mutex::new(s)),
        })
    }

    /// Runs `f` on the state unless the disk was cut.
    fn with<T>(&self, f: impl FnOnce(&mut State) -> Result<T, Errno>) -> Result<T, Errno> {
        let mut s = self.state.lock().unwrap();
        match s.cut {
            true => Err(Errno::EIO),
            false => f(&mut s),
        }
    }

    fn sync_file(&self, s: &mut State, node: u64) -> std::io::Result<()> {
        let live = File::open(s.path(&self.live, node))?;
        let kept = synced_copy(&self.synced, node)?;
        let mut buf = Vec::new();
        for (off, len) in s.dirty.remove(&node).unwrap_or_default() {
            buf.resize(len as usize, 0);
            let n = live.read_at(&mut buf, off)?;
            kept.write_at(&buf[..n], off)?;
        }
        kept.set_len(live.metadata()?.len())
    }
}

impl Filesystem for Disk {
    fn lookup(&self, _: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        entry_reply(self.entry(parent, name, |_| Ok(())), reply)
    }

    fn getattr(&self, _: &Request, ino: INodeNo, _: Option<FileHandle>, reply: ReplyAttr) {
        attr_reply(self.with(|s| s.attr_now(&self.live, ino.0)), reply)
    }

    fn setattr(
        &self,
        _: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let r = self.with(|s| {
            let path = s.path(&self.live, ino.0);
            if let Some(mode) = mode {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o7777))
                    .map_err(errno)?;
            }
            if let Some(size) = size {
                self.keep_untouched(s, ino.0)?;
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(errno)?;
                f.set_len(size).map_err(errno)?;
                // The length itself changes at the next sync; a longer file's new bytes too.
                s.dirty.entry(ino.0).or_default().push((0, size));
            }
            s.attr_now(&self.live, ino.0)
        });
        attr_reply(r, reply)
    }

    fn mkdir(
        &self,
        _: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _: u32,
        reply: ReplyEntry,
    ) {
        let made = self.entry(parent, name, |path| {
            std::fs::create_dir(path)
                .and_then(|_| {
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7777))
                })
                .map_err(errno)
        });
        entry_reply(made, reply)
    }

    /// A socket's name (the daemon's CLI socket): made live; a power cut takes it anyway.
    fn mknod(
        &self,
        _: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        use std::os::unix::ffi::OsStrExt;
        let made = self.entry(parent, name, |path| {
            let c =
                std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
            // SAFETY: a valid NUL-terminated path; mknod reads it only.
            match unsafe { libc::mknod(c.as_ptr(), mode, rdev as libc::dev_t) } {
                0 => Ok(()),
                _ => Err(errno(std::io::Error::last_os_error())),
            }
        });
        entry_reply(made, reply)
    }

    fn unlink(&self, _: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, false, reply)
    }

    fn rmdir(&self, _: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, true, reply)
    }

    fn rename(
        &self,
        _: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        _: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let r = self.with(|s| {
            let from = s.path(&self.live, parent.0).join(name);
            let to = s.path(&self.live, newparent.0).join(newname);
            let m = std::fs::symlink_metadata(&from).map_err(errno)?;
            if let Ok(old) = std::fs::symlink_metadata(&to) {
                if let Some(node) = s.by_ino.get(&old.ino()).copied() {
                    self.keep_untouched(s, node)?;
                }
                s.by_ino.remove(&old.ino());
            }
            std::fs::rename(&from, &to).map_err(errno)?;
            s.node(newparent.0, newname, &m);
            Ok(())
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match self.open_handle(ino.0, flags.0) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn create(
        &self,
        _: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let made = self.entry(parent, name, |path| {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode & 0o7777)
                .open(path)
                .map(drop)
                .map_err(errno)
        });
        match made.and_then(|(node, a)| Ok((self.open_handle(node, flags)?, a))) {
            Ok((fh, a)) => {
                reply.created(&TTL, &a, Generation(0), FileHandle(fh), FopenFlags::empty())
            }
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _: &Request,
        _: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _: OpenFlags,
        _: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let r = self.with(|s| {
            let (_, f) = s.handles.get(&fh.0).ok_or(Errno::EBADF)?;
            let mut buf = vec![0; size as usize];
            let n = f.read_at(&mut buf, offset).map_err(errno)?;
            buf.truncate(n);
            Ok(buf)
        });
        match r {
            Ok(b) => reply.data(&b),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _: &Request,
        _: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _: WriteFlags,
        _: OpenFlags,
        _: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let r = self.with(|s| {
            let node = s.handles.get(&fh.0).ok_or(Errno::EBADF)?.0;
            self.keep_untouched(s, node)?;
            let (_, f) = s.handles.get(&fh.0).ok_or(Errno::EBADF)?;
            f.write_all_at(data, offset).map_err(errno)?;
            s.dirty
                .entry(node)
                .or_default()
                .push((offset, data.len() as u64));
            Ok(data.len() as u32)
        });
        match r {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(e),
        }
    }

    fn flush(&self, _: &Request, _: INodeNo, _: FileHandle, _: LockOwner, reply: ReplyEmpty) {
        reply.ok()
    }

    fn release(
        &self,
        _: &Request,
        _: INodeNo,
        fh: FileHandle,
        _: OpenFlags,
        _: Option<LockOwner>,
        _: bool,
        reply: ReplyEmpty,
    ) {
        self.state.lock().unwrap().handles.remove(&fh.0);
        reply.ok()
    }

    fn fsync(&self, _: &Request, ino: INodeNo, _: FileHandle, _: bool, reply: ReplyEmpty) {
        if self.failing.exists() {
            return reply.error(Errno::EIO);
        }
        match self.with(|s| self.sync_file(s, ino.0).map_err(errno)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn opendir(&self, _: &Request, _: INodeNo, _: OpenFlags, reply: ReplyOpen) {
        match self.with(|_| Ok(())) {
            Ok(()) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _: &Request,
        ino: INodeNo,
        _: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let r = self.with(|s| s.entries(&self.live, ino.0).map_err(errno));
        match r {
            Ok(entries) => {
                let all = [
                    (ino.0, true, OsString::from(".")),
                    (ino.0, true, OsString::from("..")),
                ]
                .into_iter()
                .chain(entries.into_iter().map(|(n, e)| (e.node, e.dir, n)));
                for (i, (node, dir, name)) in all.enumerate().skip(offset as usize) {
                    let kind = if dir {
                        FileType::Directory
                    } else {
                        FileType::RegularFile
                    };
                    if reply.add(INodeNo(node), (i + 1) as u64, kind, &name) {
                        break;
                    }
                }
                reply.ok()
            }
            Err(e) => reply.error(e),
        }
    }

    fn fsyncdir(&self, _: &Request, ino: INodeNo, _: FileHandle, _: bool, reply: ReplyEmpty) {
        if self.failing.exists() {
            return reply.error(Errno::EIO);
        }
        let r = self.with(|s| {
            let entries = s.entries(&self.live, ino.0).map_err(errno)?;
            s.synced_dirs.insert(ino.0, entries);
            Ok(())
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn statfs(&self, _: &Request, _: INodeNo, reply: ReplyStatfs) {
        reply.statfs(1 << 24, 1 << 23, 1 << 23, 1 << 20, 1 << 19, 4096, 255, 4096)
    }

    fn access(&self, _: &Request, _: INodeNo, _: fuser::AccessFlags, reply: ReplyEmpty) {
        reply.ok()
    }
}

impl Disk {
    /// The node `name` in `parent`, after `make` made it there (nothing, for a lookup), and
    /// its attributes.
    fn entry(
        &self,
        parent: INodeNo,
        name: &OsStr,
        make: impl FnOnce(&std::path::Path) -> Result<(), Errno>,
    ) -> Result<(u64, FileAttr), Errno> {
        self.with(|s| {
            let path = s.path(&self.live, parent.0).join(name);
            make(&path)?;
            let m = std::fs::symlink_metadata(&path).map_err(errno)?;
            let node = s.node(parent.0, name, &m);
            Ok((node, s.attr(node, &m)))
        })
    }

    /// A handle on the live file of `node`, opened for what `flags` asks (read, write,
    /// append; creating and truncating reach this filesystem as their own requests).
    fn open_handle(&self, node: u64, flags: i32) -> Result<u64, Errno> {
        self.with(|s| {
            let path = s.path(&self.live, node);
            let acc = flags & libc::O_ACCMODE;
            let f = std::fs::OpenOptions::new()
                .read(acc == libc::O_RDONLY || acc == libc::O_RDWR)
                .write(acc == libc::O_WRONLY || acc == libc::O_RDWR)
                .custom_flags(flags & libc::O_APPEND)
                .open(&path)
                .map_err(errno)?;
            s.next_fh += 1;
            let fh = s.next_fh;
            s.handles.insert(fh, (node, f));
            Ok(fh)
        })
    }

    fn remove(&self, parent: INodeNo, name: &OsStr, dir: bool, reply: ReplyEmpty) {
        let r = self.with(|s| {
            let path = s.path(&self.live, parent.0).join(name);
            let m = std::fs::symlink_metadata(&path).map_err(errno)?;
            if let Some(node) = s.by_ino.get(&m.ino()).copied() {
                self.keep_untouched(s, node)?;
            }
            match dir {
                true => std::fs::remove_dir(&path),
                false => std::fs::remove_file(&path),
            }
            .map_err(errno)?;
            // Its id stays with what synced directories still name; the live number goes.
            s.by_ino.remove(&m.ino());
            Ok(())
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }
}

fn attr_reply(r: Result<FileAttr, Errno>, reply: ReplyAttr) {
    match r {
        Ok(a) => reply.attr(&TTL, &a),
        Err(e) => reply.error(e),
    }
}

fn entry_reply(made: Result<(u64, FileAttr), Errno>, reply: ReplyEntry) {
    match made {
        Ok((_, a)) => reply.entry(&TTL, &a, Generation(0)),
        Err(e) => reply.error(e),
    }
}

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [live, mount, out] = args.as_slice() else {
        eprintln!("usage: forgetful-disk LIVE MOUNTPOINT OUT");
        std::process::exit(2);
    };
    let synced = out.with_extension("synced");
    let disk = Disk::new(live.clone(), synced.clone()).expect("the live directory reads");
    let state = disk.state.clone();
    let trigger = out.with_extension("cut");
    let mut config = fuser::Config::default();
    config.mount_options = vec![fuser::MountOption::FSName("forgetful".into())];
    let session = fuser::spawn_mount(disk, mount, &config).expect("mounted");
    println!("mounted");
    while !trigger.exists() {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Written by the harness before the trigger appears (a rename), so read whole.
    let said = std::fs::read_to_string(&trigger).unwrap_or_default();
    let reorder = said
        .strip_prefix("reorder ")
        .and_then(|s| s.trim().parse().ok());
    cut(&state, (live, &synced), out, reorder).expect("what survived is written");
    println!("cut");
    // Unmounted by the harness (the process using it may still hold files open).
    std::thread::park();
    drop(session);
}
