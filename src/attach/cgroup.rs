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
//! may have neither cgroup2 nor bpffs mounted, so we mount them if needed,
//! where the mount hides nothing: cgroup2 at a private directory of our own
//! (never over /sys/fs/cgroup, where a cgroup v1 system keeps its
//! hierarchies), bpffs only on an empty directory. Pin directories and what
//! `detach` may touch are in [`crate::pin`].

use std::fs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, ErrorKind, Result};
use crate::kernel::bpffs::pin;
use crate::kernel::mounts::{cgroup2_root, find_mount};
use crate::load::{Loaded, Program};
use crate::sys::{self, AttachFlags};
use crate::uapi::{AttachType, Cmd};

/// An open cgroup directory; removed on drop if we created it.
#[derive(Debug)]
pub struct Cgroup {
    path: PathBuf,
    fd: OwnedFd,
    created: bool,
}

/// A name for the file systems a wrong `--cgroup` is commonly on.
fn fs_name(magic: i64) -> String {
    match magic {
        0x0027_e0eb => "cgroup v1".into(),
        0x0102_1994 => "tmpfs".into(),
        0x6265_6572 => "sysfs".into(),
        0xef53 => "ext4".into(),
        0x9123_683e => "btrfs".into(),
        0x5846_5342 => "xfs".into(),
        0x9fa0 => "proc".into(),
        sys::BPF_FS_MAGIC => "bpffs".into(),
        m => format!("type {m:#x}"),
    }
}

static UNIQUE: AtomicU32 = AtomicU32::new(0);

fn path_str(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| {
        Error::refused(
            ErrorKind::InvalidInput,
            format!("path {} is not UTF-8", path.display()),
        )
    })
}

impl Cgroup {
    /// Opens an existing cgroup directory; it must be on a cgroup v2 mount
    /// (statfs says `CGROUP2_SUPER_MAGIC`): attaching needs one.
    pub fn open(path: impl AsRef<Path>) -> Result<Cgroup> {
        let path = path.as_ref().to_path_buf();
        if path.as_os_str().is_empty() {
            return Err(Error::refused(
                ErrorKind::InvalidInput,
                "the cgroup path is empty: give a directory of the cgroup v2 hierarchy",
            ));
        }
        let fd = sys::open(path_str(&path)?, libc::O_RDONLY | libc::O_DIRECTORY)
            .map_err(|e| Error::io(&path, e))?;
        let fs = sys::fd_fs_type(fd.as_fd()).map_err(|e| Error::io(&path, e))?;
        if fs != sys::CGROUP2_SUPER_MAGIC {
            let root = find_mount("cgroup2")
                .ok()
                .flatten()
                .map(|r| format!(" (cgroup2 is mounted at {})", r.display()))
                .unwrap_or_default();
            return Err(Error::refused(
                ErrorKind::InvalidInput,
                format!(
                    "{} is not a cgroup v2 directory (its file system is {}){root}",
                    path.display(),
                    fs_name(fs)
                ),
            ));
        }
        Ok(Cgroup {
            path,
            fd,
            created: false,
        })
    }

    /// The cgroup whose id is `id`, found through the cgroup2 mount even if
    /// it was moved; None if no cgroup has that id any more.
    pub fn by_id(id: u64) -> Result<Option<Cgroup>> {
        let Some(root) = find_mount("cgroup2")? else {
            return Ok(None);
        };
        let root_fd = sys::open(path_str(&root)?, libc::O_RDONLY | libc::O_DIRECTORY)
            .map_err(|e| Error::io(&root, e))?;
        let fd = match sys::open_cgroup_by_id(root_fd.as_fd(), id) {
            Ok(fd) => fd,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ESTALE | libc::ENOENT)) => {
                return Ok(None)
            }
            Err(e) => return Err(Error::io(format!("cgroup id {id}"), e)),
        };
        let link = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
        let path =
            fs::read_link(&link).unwrap_or_else(|_| PathBuf::from(format!("cgroup id {id}")));
        Ok(Some(Cgroup {
            path,
            fd,
            created: false,
        }))
    }

    /// Creates `name` under the cgroup2 root, or opens it if it exists
    /// (then it is not removed on drop).
    pub fn create(name: &str) -> Result<Cgroup> {
        let path = cgroup2_root()?.join(name);
        let created = match fs::create_dir(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(Error::io(&path, e)),
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

    /// The cgroup's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open directory, the target of attach and query calls.
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

    /// The ids of the programs attached here for `attach_type` (BPF_PROG_QUERY).
    pub fn query(&self, attach_type: u32) -> Result<(AttachFlags, Vec<u32>)> {
        sys::prog_query(self.fd(), attach_type).map_err(Error::sys(
            Cmd::ProgQuery,
            format!(
                "cgroup {}, attach type {}",
                self.path.display(),
                AttachType(attach_type)
            ),
        ))
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
    /// The attached program's name.
    pub program: String,
    /// The attach type (`enum bpf_attach_type`) it was attached with.
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

fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    fd.try_clone_to_owned().map_err(|e| Error::os("dup", e))
}

/// Attaches `prog` to `cgroup` with the attach type it was loaded for.
pub fn attach(prog: &Program, cgroup: &Cgroup, mode: AttachMode) -> Result<Attachment> {
    if !prog.kind().attaches_to_cgroup() {
        return Err(Error::Program {
            program: prog.name().to_string(),
            what: format!("section '{}' is not a cgroup attach point", prog.section()),
        });
    }
    let attach_type = prog.kind().expected_attach_type;
    let what = format!("program '{}' to {}", prog.name(), cgroup.path.display());
    let kind = match mode {
        AttachMode::Link => AttachKind::Link(
            sys::link_create(prog.fd(), sys::LinkTarget::Fd(cgroup.fd()), attach_type)
                .map_err(|e| attach_error(Cmd::LinkCreate, what, e, cgroup, attach_type, mode))?,
        ),
        AttachMode::Legacy(flags) => {
            // The fds that detach it again, before it is attached: a dup
            // that fails (EMFILE) afterwards would leave it attached.
            let kind = AttachKind::Legacy {
                prog: dup(prog.fd())?,
                cgroup: dup(cgroup.fd())?,
            };
            sys::prog_attach(prog.fd(), cgroup.fd(), attach_type, flags)
                .map_err(|e| attach_error(Cmd::ProgAttach, what, e, cgroup, attach_type, mode))?;
            kind
        }
    };
    Ok(Attachment {
        program: prog.name().to_string(),
        attach_type,
        kind,
    })
}

/// EPERM from an attach as root means a conflict with what is attached
/// already (a program attached without BPF_F_ALLOW_MULTI, or with
/// BPF_F_ALLOW_OVERRIDE against a multi attachment): say that, with what
/// BPF_PROG_QUERY shows, instead of "Operation not permitted".
fn attach_error(
    cmd: Cmd,
    what: String,
    e: io::Error,
    cgroup: &Cgroup,
    attach_type: u32,
    mode: AttachMode,
) -> Error {
    if e.raw_os_error() != Some(libc::EPERM) || sys::geteuid() != 0 {
        return Error::Sys {
            cmd,
            what,
            source: e,
        };
    }
    let present = match cgroup.query(attach_type) {
        Ok((flags, ids)) if !ids.is_empty() => {
            let how = if flags.contains(AttachFlags::ALLOW_MULTI) {
                "BPF_F_ALLOW_MULTI"
            } else if flags.contains(AttachFlags::ALLOW_OVERRIDE) {
                "BPF_F_ALLOW_OVERRIDE"
            } else {
                "no flags (exclusive)"
            };
            format!(
                "program id(s) {ids:?} are attached there for attach type {} with {how}",
                AttachType(attach_type)
            )
        }
        _ => format!(
            "a program attached for attach type {} here or in a parent cgroup does not allow another",
            AttachType(attach_type)
        ),
    };
    let mine = match mode {
        AttachMode::Link => "a BPF link (which attaches as BPF_F_ALLOW_MULTI)".to_string(),
        AttachMode::Legacy(f) if f.contains(AttachFlags::ALLOW_MULTI) => {
            "--legacy-attach=multi".to_string()
        }
        AttachMode::Legacy(_) => "--legacy-attach=override".to_string(),
    };
    Error::refused(
        ErrorKind::Busy,
        format!(
            "{} ({what}): attach mode conflict: {present}, and rawbpf attached with {mine}. \
         Detach the other program, or attach in a mode it allows (both multi, or both override)",
            cmd.name()
        ),
    )
}

/// Attaches every cgroup program of `loaded` to `cgroup`.
pub fn attach_all(loaded: &Loaded, cgroup: &Cgroup, mode: AttachMode) -> Result<Vec<Attachment>> {
    loaded
        .programs
        .iter()
        .filter(|p| p.kind().attaches_to_cgroup())
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

    /// The program fd of a legacy attachment.
    pub fn program_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.kind {
            AttachKind::Legacy { prog, .. } => Some(prog.as_fd()),
            _ => None,
        }
    }

    /// Leaves the attachment in place when this handle goes (it was pinned).
    pub fn keep(mut self) {
        self.kind = AttachKind::Released;
    }

    /// Detaches now, reporting errors (drop detaches silently).
    pub fn detach(mut self) -> Result<()> {
        let what = format!("program '{}'", self.program);
        match std::mem::replace(&mut self.kind, AttachKind::Released) {
            AttachKind::Link(fd) => {
                sys::link_detach(fd.as_fd()).map_err(Error::sys(Cmd::LinkDetach, what))
            }
            AttachKind::Legacy { prog, cgroup } => {
                sys::prog_detach(prog.as_fd(), cgroup.as_fd(), self.attach_type)
                    .map_err(Error::sys(Cmd::ProgDetach, what))
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
