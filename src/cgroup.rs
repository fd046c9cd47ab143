//! Step 6: attach to a cgroup, pin, detach.
//!
//! A cgroup program attaches to a directory of the cgroup v2 hierarchy, by an
//! fd of that directory, and then sees the traffic of every process in it and
//! below. There are two ways: BPF_LINK_CREATE gives a link fd that owns the
//! attachment (closing the last reference detaches, so a crash cannot leave
//! it behind), and the older BPF_PROG_ATTACH, whose attachment lives until
//! BPF_PROG_DETACH. To outlive the process, a link (and the maps, which timers
//! need a user reference to) is pinned in a bpffs mount.
//!
//! Mount points are found in /proc/self/mountinfo; an early-boot environment
//! may have neither cgroup2 nor bpffs mounted, so we mount them if needed.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, Result};
use crate::loader::{Loaded, Program};
use crate::sys::{self, AttachFlags};

/// The mount point of the first mount of file-system type `fstype`.
pub fn find_mount(fstype: &str) -> Result<Option<PathBuf>> {
    const MOUNTINFO: &str = "/proc/self/mountinfo";
    let text = match fs::read_to_string(MOUNTINFO) {
        Ok(text) => text,
        // No /proc (very early boot): nothing is known to be mounted.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(MOUNTINFO, e)),
    };
    // "36 35 98:0 /mnt1 /mnt/point rw,noatime master:1 - cgroup2 cgroup2 rw"
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        if right.split(' ').next() == Some(fstype) {
            if let Some(point) = left.split(' ').nth(4) {
                return Ok(Some(PathBuf::from(unescape_mount_path(point))));
            }
        }
    }
    Ok(None)
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mount_path(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Finds a mount of `fstype`, or mounts one at the first usable candidate.
fn find_or_mount(fstype: &str, candidates: &[&str]) -> Result<PathBuf> {
    if let Some(point) = find_mount(fstype)? {
        return Ok(point);
    }
    let mut last = None;
    for dir in candidates {
        if let Err(e) = fs::create_dir_all(dir) {
            last = Some(Error::io(dir, e));
            continue;
        }
        match sys::mount_fs(fstype, dir) {
            Ok(()) => return Ok(PathBuf::from(dir)),
            Err(e) => last = Some(Error::io(format!("mount -t {fstype} {fstype} {dir}"), e)),
        }
    }
    Err(last.unwrap_or_else(|| Error::Env(format!("no {fstype} mount and nowhere to mount one"))))
}

/// The root of the cgroup v2 hierarchy, mounted if there is none.
pub fn cgroup2_root() -> Result<PathBuf> {
    find_or_mount("cgroup2", &["/sys/fs/cgroup", "/run/rawbpf/cgroup2"]).map_err(|e| {
        Error::Env(format!(
            "no cgroup v2 hierarchy, and mounting one failed: {e}"
        ))
    })
}

/// The bpffs mount, mounted if there is none.
pub fn bpffs_root() -> Result<PathBuf> {
    find_or_mount("bpf", &["/sys/fs/bpf", "/run/rawbpf/bpffs"])
        .map_err(|e| Error::Env(format!("no bpffs, and mounting one failed: {e}")))
}

/// An open cgroup directory; removed on drop if we created it.
#[derive(Debug)]
pub struct Cgroup {
    path: PathBuf,
    fd: OwnedFd,
    created: bool,
}

static UNIQUE: AtomicU32 = AtomicU32::new(0);

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| Error::Env(format!("path {} is not UTF-8", path.display())))
}

impl Cgroup {
    /// Opens an existing cgroup directory.
    pub fn open(path: impl AsRef<Path>) -> Result<Cgroup> {
        let path = path.as_ref().to_path_buf();
        let fd = sys::open(path_str(&path)?, libc::O_RDONLY | libc::O_DIRECTORY)
            .map_err(|e| Error::io(path.display(), e))?;
        Ok(Cgroup {
            path,
            fd,
            created: false,
        })
    }

    /// Creates `name` under the cgroup2 root, or opens it if it exists
    /// (then it is not removed on drop).
    pub fn create(name: &str) -> Result<Cgroup> {
        let path = cgroup2_root()?.join(name);
        let created = match fs::create_dir(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(Error::io(path.display(), e)),
        };
        let mut cg = Cgroup::open(&path).inspect_err(|_| {
            if created {
                let _ = fs::remove_dir(&path);
            }
        })?;
        cg.created = created;
        Ok(cg)
    }

    /// Creates a new cgroup with a name no one else uses
    /// (`<prefix>-<pid>-<n>`), removed on drop.
    pub fn create_unique(prefix: &str) -> Result<Cgroup> {
        loop {
            let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
            let name = format!("{prefix}-{}-{n}", std::process::id());
            let cg = Cgroup::create(&name)?;
            if cg.created {
                return Ok(cg);
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Keeps the directory after this handle is dropped (something stays attached to it).
    pub fn keep(mut self) {
        self.created = false;
    }

    /// Whether this handle removes the directory on drop.
    pub fn removes_on_drop(&self) -> bool {
        self.created
    }

    /// Sends one UDP datagram to `dst` from a child process moved into this
    /// cgroup, and reports what its send() saw.
    pub fn send_udp(&self, dst: std::net::SocketAddr) -> Result<sys::SendOutcome> {
        self.probe(&sys::Probe {
            udp: dst,
            tcp: None,
            touch_files: false,
        })
    }

    /// Runs a [`sys::Probe`] from a child process moved into this cgroup.
    pub fn probe(&self, probe: &sys::Probe) -> Result<sys::SendOutcome> {
        let procs = self.path.join("cgroup.procs");
        let fd = sys::open(path_str(&procs)?, libc::O_WRONLY)
            .map_err(|e| Error::io(procs.display(), e))?;
        sys::probe_from_cgroup(fd.as_fd(), probe).map_err(|e| Error::io(procs.display(), e))
    }

    /// The ids of the programs attached here for `attach_type` (BPF_PROG_QUERY).
    pub fn query(&self, attach_type: u32) -> Result<(AttachFlags, Vec<u32>)> {
        sys::prog_query(self.fd(), attach_type).map_err(|source| Error::Sys {
            call: "BPF_PROG_QUERY",
            what: format!("cgroup {}, attach type {attach_type}", self.path.display()),
            source,
        })
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if self.created {
            // Fails (EBUSY) only if a process is still inside; nothing to do then.
            let _ = fs::remove_dir(&self.path);
        }
    }
}

/// How a program is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachMode {
    /// BPF_LINK_CREATE: detached when the link's last reference goes.
    Link,
    /// BPF_PROG_ATTACH with these flags: stays until BPF_PROG_DETACH.
    Legacy(AttachFlags),
}

/// A program attached to a cgroup. Dropping it detaches (a link by closing
/// its fd, a legacy attachment by BPF_PROG_DETACH) unless it was pinned.
#[derive(Debug)]
pub struct Attachment {
    pub program: String,
    pub attach_type: u32,
    kind: AttachKind,
}

#[derive(Debug)]
enum AttachKind {
    Link(OwnedFd),
    Legacy {
        prog: OwnedFd,
        cgroup: OwnedFd,
    },
    /// Pinned or detached: nothing to do on drop.
    Released,
}

fn sys_err(call: &'static str, what: String) -> impl FnOnce(io::Error) -> Error {
    move |source| Error::Sys { call, what, source }
}

fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    fd.try_clone_to_owned().map_err(|e| Error::io("dup", e))
}

/// Attaches `prog` to `cgroup` with the attach type it was loaded for.
pub fn attach(prog: &Program, cgroup: &Cgroup, mode: AttachMode) -> Result<Attachment> {
    if !prog.kind.attaches_to_cgroup() {
        return Err(Error::Program {
            program: prog.name.clone(),
            what: format!("section '{}' is not a cgroup attach point", prog.section),
        });
    }
    let attach_type = prog.kind.expected_attach_type;
    let what = format!("program '{}' to {}", prog.name, cgroup.path.display());
    let kind = match mode {
        AttachMode::Link => AttachKind::Link(
            sys::link_create(
                prog.fd.as_fd(),
                sys::LinkTarget::Fd(cgroup.fd()),
                attach_type,
            )
            .map_err(sys_err("BPF_LINK_CREATE", what))?,
        ),
        AttachMode::Legacy(flags) => {
            sys::prog_attach(prog.fd.as_fd(), cgroup.fd(), attach_type, flags)
                .map_err(sys_err("BPF_PROG_ATTACH", what))?;
            AttachKind::Legacy {
                prog: dup(prog.fd.as_fd())?,
                cgroup: dup(cgroup.fd())?,
            }
        }
    };
    Ok(Attachment {
        program: prog.name.clone(),
        attach_type,
        kind,
    })
}

/// Attaches every cgroup program of `loaded` to `cgroup`.
pub fn attach_all(loaded: &Loaded, cgroup: &Cgroup, mode: AttachMode) -> Result<Vec<Attachment>> {
    loaded
        .programs
        .iter()
        .filter(|p| p.kind.attaches_to_cgroup())
        .map(|p| attach(p, cgroup, mode))
        .collect()
}

impl Attachment {
    /// The link fd, for link attachments.
    pub fn link(&self) -> Option<BorrowedFd<'_>> {
        match &self.kind {
            AttachKind::Link(fd) => Some(fd.as_fd()),
            _ => None,
        }
    }

    /// Detaches now, reporting errors (drop detaches silently).
    pub fn detach(mut self) -> Result<()> {
        let what = format!("program '{}'", self.program);
        match std::mem::replace(&mut self.kind, AttachKind::Released) {
            AttachKind::Link(fd) => {
                sys::link_detach(fd.as_fd()).map_err(sys_err("BPF_LINK_DETACH", what))
            }
            AttachKind::Legacy { prog, cgroup } => {
                sys::prog_detach(prog.as_fd(), cgroup.as_fd(), self.attach_type)
                    .map_err(sys_err("BPF_PROG_DETACH", what))
            }
            AttachKind::Released => Ok(()),
        }
    }

    /// Pins the attachment at `path` so it outlives this process: the link
    /// for link attachments, the program for legacy ones (which stay attached
    /// anyway). After this, dropping does not detach.
    pub fn pin(&mut self, path: &Path) -> Result<()> {
        let fd = match &self.kind {
            AttachKind::Link(fd) => fd.as_fd(),
            AttachKind::Legacy { prog, .. } => prog.as_fd(),
            AttachKind::Released => return Ok(()),
        };
        pin(fd, path)?;
        self.kind = AttachKind::Released;
        Ok(())
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        if let AttachKind::Legacy { prog, cgroup } = &self.kind {
            let _ = sys::prog_detach(prog.as_fd(), cgroup.as_fd(), self.attach_type);
        }
        // A link detaches when its fd closes.
    }
}

fn cpath(path: &Path) -> Result<CString> {
    CString::new(path_str(path)?)
        .map_err(|_| Error::Env(format!("path {} contains NUL", path.display())))
}

/// Pins a kernel object at `path` in bpffs (BPF_OBJ_PIN).
pub fn pin(fd: BorrowedFd<'_>, path: &Path) -> Result<()> {
    sys::obj_pin(fd, &cpath(path)?).map_err(sys_err("BPF_OBJ_PIN", path.display().to_string()))
}

/// Opens a pinned object (BPF_OBJ_GET).
pub fn open_pinned(path: &Path) -> Result<OwnedFd> {
    sys::obj_get(&cpath(path)?, sys::ObjGetFlags::empty())
        .map_err(sys_err("BPF_OBJ_GET", path.display().to_string()))
}

/// statfs(2)'s `f_type` of bpffs.
const BPF_FS_MAGIC: u64 = 0xcafe_4a11;

/// Pin names inside a pin directory.
pub const LINK_PREFIX: &str = "link_";
pub const PROG_PREFIX: &str = "prog_";
pub const MAP_PREFIX: &str = "map_";

/// Resolves a `--pin` argument: absolute paths are used as given and must be
/// on bpffs; a bare name goes under the bpffs mount.
pub fn pin_dir(arg: &str) -> Result<PathBuf> {
    // An absolute path whose parent is on a bpffs needs no mount table: one
    // statfs instead of reading /proc/self/mountinfo (`make bench` found
    // that read in every `run --pin`).
    if arg.starts_with('/') {
        let parent = Path::new(arg).parent().and_then(Path::to_str);
        if parent.is_some_and(|p| sys::fs_type(p).ok() == Some(BPF_FS_MAGIC)) {
            return Ok(PathBuf::from(arg));
        }
    }
    let root = bpffs_root()?;
    let dir = if arg.starts_with('/') {
        PathBuf::from(arg)
    } else {
        root.join(arg)
    };
    if !dir.starts_with(&root) {
        return Err(Error::Env(format!(
            "pin directory {} is not inside the bpffs mount {}",
            dir.display(),
            root.display()
        )));
    }
    Ok(dir)
}

/// A pin's file name: bpffs refuses names with a dot (`bpf_lookup` in
/// kernel/bpf/inode.c), so `.rodata` is pinned as `map__rodata`.
pub fn pin_name(prefix: &str, name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{prefix}{safe}")
}

/// Pins the maps of `loaded` and the given attachments under `dir`
/// (created; it must not exist yet).
pub fn pin_all(loaded: &Loaded, attachments: &mut [Attachment], dir: &Path) -> Result<()> {
    fs::create_dir(dir).map_err(|e| Error::io(dir.display(), e))?;
    let result = (|| {
        for map in &loaded.maps {
            pin(map.fd.as_fd(), &dir.join(pin_name(MAP_PREFIX, &map.name)))?;
        }
        for a in attachments.iter_mut() {
            let prefix = if a.link().is_some() {
                LINK_PREFIX
            } else {
                PROG_PREFIX
            };
            a.pin(&dir.join(pin_name(prefix, &a.program)))?;
        }
        Ok(())
    })();
    if result.is_err() {
        // Leave nothing half-pinned behind.
        let _ = remove_pins(dir);
    }
    result
}

fn remove_pins(dir: &Path) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir.display(), e))?;
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir.display(), e))?.path();
        fs::remove_file(&path).map_err(|e| Error::io(path.display(), e))?;
    }
    fs::remove_dir(dir).map_err(|e| Error::io(dir.display(), e))
}

/// Undoes `run --pin`: detaches each pinned link (and each pinned legacy
/// program from `cgroup`, where it is found attached by BPF_PROG_QUERY), then
/// removes the pins and the directory. Returns how many attachments it
/// detached.
pub fn detach_pinned(dir: &Path, cgroup: Option<&Cgroup>) -> Result<usize> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir.display(), e))?;
    let mut detached = 0;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir.display(), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with(LINK_PREFIX) {
            let link = open_pinned(&path)?;
            sys::link_detach(link.as_fd())
                .map_err(sys_err("BPF_LINK_DETACH", path.display().to_string()))?;
            detached += 1;
        } else if name.starts_with(PROG_PREFIX) {
            let cgroup = cgroup.ok_or_else(|| {
                Error::Env(format!(
                    "{} was attached with --legacy-attach: say which --cgroup to detach it from",
                    path.display()
                ))
            })?;
            let prog = open_pinned(&path)?;
            let (info, _) = sys::prog_info(prog.as_fd()).map_err(sys_err(
                "BPF_OBJ_GET_INFO_BY_FD",
                path.display().to_string(),
            ))?;
            for &attach_type in crate::prog::attach_type::CGROUP {
                let attached = cgroup
                    .query(attach_type)
                    .map(|(_, ids)| ids.contains(&info.id))
                    .unwrap_or(false);
                if attached {
                    sys::prog_detach(prog.as_fd(), cgroup.fd(), attach_type)
                        .map_err(sys_err("BPF_PROG_DETACH", path.display().to_string()))?;
                    detached += 1;
                }
            }
        }
    }
    remove_pins(dir)?;
    Ok(detached)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(unescape_mount_path("/a\\040b"), "/a b");
        assert_eq!(unescape_mount_path("/plain"), "/plain");
        assert_eq!(unescape_mount_path("/end\\04"), "/end\\04");
    }
}
