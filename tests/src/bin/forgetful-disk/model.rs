//! The forgetful disk's bookkeeping: which node is where in the live directory, what each
//! directory and file held at its last sync, and what a cut leaves behind.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use fuser::{Errno, FileAttr, FileType, INodeNo};

/// A directory entry as synced: the node and whether it is a directory, with its mode.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) node: u64,
    pub(crate) dir: bool,
    pub(crate) mode: u32,
}

pub(crate) struct State {
    /// Live inode number → node id, for nodes alive in LIVE.
    pub(crate) by_ino: HashMap<u64, u64>,
    /// Node → (parent node, name) in LIVE now; the root has none.
    pub(crate) place: HashMap<u64, (u64, OsString)>,
    pub(crate) next_node: u64,
    /// Per node, the byte ranges written since its last sync.
    pub(crate) dirty: HashMap<u64, Vec<(u64, u64)>>,
    /// Per directory node, its entries as synced.
    pub(crate) synced_dirs: HashMap<u64, BTreeMap<OsString, Entry>>,
    pub(crate) handles: HashMap<u64, (u64, File)>,
    pub(crate) next_fh: u64,
    pub(crate) cut: bool,
    /// Files as they were at mount, not changed since: their synced contents are the live
    /// ones, copied only before they first change (a large disk mounts at once).
    pub(crate) untouched: std::collections::HashSet<u64>,
}

pub(crate) fn errno(e: std::io::Error) -> Errno {
    Errno::from_i32(e.raw_os_error().unwrap_or(libc::EIO))
}

pub(crate) fn kind_of(m: &std::fs::Metadata) -> FileType {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    match () {
        _ if t.is_dir() => FileType::Directory,
        _ if t.is_socket() => FileType::Socket,
        _ if t.is_fifo() => FileType::NamedPipe,
        _ => FileType::RegularFile,
    }
}

impl State {
    pub(crate) fn path(&self, live: &Path, node: u64) -> PathBuf {
        let mut parts = Vec::new();
        let mut at = node;
        while let Some((parent, name)) = self.place.get(&at) {
            parts.push(name.clone());
            at = *parent;
        }
        let mut p = live.to_path_buf();
        for part in parts.iter().rev() {
            p.push(part);
        }
        p
    }

    /// The node of the live file at `parent`/`name` (met now, or known).
    pub(crate) fn node(&mut self, parent: u64, name: &OsStr, m: &std::fs::Metadata) -> u64 {
        let node = *self.by_ino.entry(m.ino()).or_insert_with(|| {
            self.next_node += 1;
            self.next_node
        });
        self.place.insert(node, (parent, name.to_os_string()));
        node
    }

    pub(crate) fn attr(&self, node: u64, m: &std::fs::Metadata) -> FileAttr {
        let t = |s: i64| SystemTime::UNIX_EPOCH + Duration::from_secs(s.max(0) as u64);
        FileAttr {
            ino: INodeNo(node),
            size: m.len(),
            blocks: m.blocks(),
            atime: t(m.atime()),
            mtime: t(m.mtime()),
            ctime: t(m.ctime()),
            crtime: t(m.ctime()),
            kind: kind_of(m),
            perm: (m.mode() & 0o7777) as u16,
            nlink: m.nlink() as u32,
            uid: m.uid(),
            gid: m.gid(),
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    /// The live attributes of `node`.
    pub(crate) fn attr_now(&self, live: &Path, node: u64) -> Result<FileAttr, Errno> {
        let m = std::fs::symlink_metadata(self.path(live, node)).map_err(errno)?;
        Ok(self.attr(node, &m))
    }

    /// The live directory's entries now, as they would be synced.
    pub(crate) fn entries(
        &mut self,
        live: &Path,
        dir: u64,
    ) -> std::io::Result<BTreeMap<OsString, Entry>> {
        let path = self.path(live, dir);
        let mut out = BTreeMap::new();
        for e in std::fs::read_dir(path)? {
            let e = e?;
            let m = e.metadata()?;
            if !m.is_dir() && !m.is_file() {
                continue;
            }
            let node = self.node(dir, &e.file_name(), &m);
            out.insert(
                e.file_name(),
                Entry {
                    node,
                    dir: m.is_dir(),
                    mode: m.mode() & 0o7777,
                },
            );
        }
        Ok(out)
    }
}

/// Cuts the disk: every operation fails from now on, and `out` is written with what
/// survived, from the synced entries and the synced contents in `synced`.
/// What the disk holds of `node` (its contents as of its last sync), to bring up to date.
pub(crate) fn synced_copy(synced: &Path, node: u64) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(synced.join(node.to_string()))
}

/// With `reorder`, a seeded part of what was not synced survives too (see the binary).
pub(crate) fn cut(
    state: &Mutex<State>,
    (live, synced): (&Path, &Path),
    out: &Path,
    reorder: Option<u64>,
) -> std::io::Result<()> {
    let mut s = state.lock().unwrap();
    s.cut = true;
    for node in std::mem::take(&mut s.untouched) {
        std::fs::copy(s.path(live, node), synced.join(node.to_string()))?;
    }
    if let Some(seed) = reorder {
        written_back(&mut s, (live, synced), seed)?;
    }
    std::fs::create_dir_all(out)?;
    let mut todo = vec![(1u64, out.to_path_buf())];
    while let Some((dir, at)) = todo.pop() {
        for (name, e) in s.synced_dirs.get(&dir).cloned().unwrap_or_default() {
            let path = at.join(&name);
            if e.dir {
                std::fs::create_dir(&path)?;
                todo.push((e.node, path.clone()));
            } else {
                match std::fs::copy(synced.join(e.node.to_string()), &path) {
                    Ok(_) => {}
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                        File::create(&path)?;
                    }
                    Err(err) => return Err(err),
                }
            }
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(e.mode))?;
        }
    }
    s.handles.clear();
    Ok(())
}

/// A disk that wrote back part of what was not synced: each unsynced 4 KiB page of a file
/// by a coin, each directory live or as synced by a coin.
fn written_back(s: &mut State, (live, synced): (&Path, &Path), seed: u64) -> std::io::Result<()> {
    let mut x = seed | 1;
    let mut coin = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x & 1 == 1
    };
    const PAGE: u64 = 4096;
    let (mut pages, mut dirs) = (0, 0);
    let mut dirty: Vec<(u64, Vec<(u64, u64)>)> = s.dirty.drain().collect();
    dirty.sort_by_key(|(node, _)| *node);
    for (node, ranges) in dirty {
        // A file unlinked since is gone from the live side; its synced copy stays as it was.
        // (Its name may since be another file's: only the node's own inode counts.)
        let Ok(from) = File::open(s.path(live, node)) else {
            continue;
        };
        if s.by_ino.get(&from.metadata()?.ino()) != Some(&node) {
            continue;
        }
        let kept = synced_copy(synced, node)?;
        let mut buf = vec![0; PAGE as usize];
        for (off, len) in ranges {
            let mut page = off / PAGE * PAGE;
            while page < off + len {
                if coin() {
                    pages += 1;
                    let n = from.read_at(&mut buf, page)?;
                    std::os::unix::fs::FileExt::write_all_at(&kept, &buf[..n], page)?;
                }
                page += PAGE;
            }
        }
    }
    // Directories from the root down, live ones only where the coin says it was written.
    let mut todo = vec![1u64];
    while let Some(dir) = todo.pop() {
        if coin() {
            if let Ok(entries) = s.entries(live, dir) {
                dirs += 1;
                s.synced_dirs.insert(dir, entries);
            }
        }
        let subdirs = s.synced_dirs.get(&dir).into_iter().flat_map(|e| e.values());
        todo.extend(
            subdirs
                .filter(|e| e.dir)
                .map(|e| e.node)
                .collect::<Vec<_>>(),
        );
    }
    eprintln!("forgetful-disk: written back unsynced: {pages} pages, {dirs} directories");
    Ok(())
}
