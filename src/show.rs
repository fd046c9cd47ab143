//! What is attached to a cgroup and what is pinned under a bpffs directory,
//! as the kernel reports it: `rawbpf show`, for places with no bpftool (an
//! initramfs, a rescue shell).
//!
//! For a cgroup, BPF_PROG_QUERY on each cgroup attach type lists the ids of
//! the programs attached directly to it; BPF_PROG_GET_FD_BY_ID and
//! BPF_OBJ_GET_INFO_BY_FD give their names and types. A link attachment is
//! found by walking the kernel's links (BPF_LINK_GET_NEXT_ID) for a cgroup
//! link with the same cgroup id (the directory's inode number), attach type
//! and program. For a pin directory, each file is opened with BPF_OBJ_GET;
//! what kind of object came back is read from the fd's anonymous inode name
//! in /proc/self/fd (`anon_inode:bpf-prog`, `bpf-map`, `bpf_link`), since the
//! info call itself accepts any kind.

use std::fs;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};
use crate::kernel::bpffs::{self, open_pinned};
use crate::sys::{self, AttachFlags, IdKind};
use crate::uapi::attach_type as at;
use crate::uapi::{AttachType, Cmd, LinkType, MapType, ProgType};

/// At most this many links are walked looking for a cgroup's link ids.
const MAX_LINKS: usize = 1 << 16;
/// At most this many pins, and this deep, are listed under a directory.
const MAX_PINS: usize = 4096;
const MAX_DEPTH: usize = 8;

/// One program attached directly to a cgroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attached {
    /// The attach type (`enum bpf_attach_type`) it is attached for.
    pub attach_type: u32,
    /// The attach flags in force for that attach type (BPF_F_ALLOW_*).
    pub flags: AttachFlags,
    /// The program's id.
    pub prog_id: u32,
    /// The program's name (up to 15 bytes, as the kernel keeps it).
    pub prog_name: String,
    /// The program type (`enum bpf_prog_type`).
    pub prog_type: u32,
    /// The id of the BPF link holding the attachment; None for BPF_PROG_ATTACH.
    pub link_id: Option<u32>,
}

/// What kind of kernel object a pin is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinKind {
    /// A program.
    Prog,
    /// A map.
    Map,
    /// A BPF link.
    Link,
}

/// One pinned object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pinned {
    /// The pin's path.
    pub path: PathBuf,
    /// Program, map or link.
    pub kind: PinKind,
    /// The object's id.
    pub id: u32,
    /// The program's or map's name; for a link, its program's name.
    pub name: String,
    /// Program type, map type or link type.
    pub type_: u32,
    /// For a link: its program's id and, for a cgroup link, its attach type.
    pub link: Option<(u32, Option<u32>)>,
}

fn c_name(bytes: &[u8]) -> String {
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..len]).into_owned()
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| {
        Error::refused(
            ErrorKind::InvalidInput,
            format!("path {} is not UTF-8", path.display()),
        )
    })
}

fn not_a_directory(dir: &Path) -> Error {
    Error::refused(
        ErrorKind::InvalidInput,
        format!("{} is not a directory", dir.display()),
    )
}

/// Fails with a clear message unless `path` exists on a file system with
/// magic `magic` (`what` names it: "cgroup2", "bpffs").
fn require_fs(path: &Path, magic: i64, what: &str) -> Result<()> {
    let got = sys::fs_type(path_str(path)?).map_err(|e| Error::io(path, e))?;
    if got != magic {
        return Err(Error::refused(
            ErrorKind::InvalidInput,
            format!(
                "{} is not in a {what} file system (statfs type {got:#x}, {what} is {magic:#x})",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// The programs attached directly to the cgroup directory `dir`, for every
/// cgroup attach type the kernel knows, in attach-type order.
pub fn cgroup_attachments(dir: &Path) -> Result<Vec<Attached>> {
    let meta = fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if !meta.is_dir() {
        return Err(not_a_directory(dir));
    }
    require_fs(dir, sys::CGROUP2_SUPER_MAGIC, "cgroup2")?;
    let cgroup_id = meta.ino();
    let fd = sys::open(path_str(dir)?, libc::O_RDONLY | libc::O_DIRECTORY)
        .map_err(|e| Error::io(dir, e))?;
    let mut out = Vec::new();
    let mut refused = None;
    let mut answered = false;
    for &attach_type in at::CGROUP {
        let (flags, ids) = match sys::prog_query(fd.as_fd(), attach_type) {
            Ok(r) => r,
            // An attach type this kernel does not have yet (unless it
            // refuses every one: then the query itself is wrong, below).
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                refused.get_or_insert((attach_type, e));
                continue;
            }
            Err(source) => {
                return Err(Error::Sys {
                    cmd: Cmd::ProgQuery,
                    what: format!("cgroup {}, {}", dir.display(), AttachType(attach_type)),
                    source,
                })
            }
        };
        answered = true;
        for prog_id in ids {
            let (prog_name, prog_type) = match prog_by_id(prog_id) {
                Some(info) => (c_name(&info.name), info.prog_type),
                // Detached between the query and now.
                None => continue,
            };
            out.push(Attached {
                attach_type,
                flags,
                prog_id,
                prog_name,
                prog_type,
                link_id: None,
            });
        }
    }
    if let (false, Some((attach_type, source))) = (answered, refused) {
        return Err(Error::Sys {
            cmd: Cmd::ProgQuery,
            what: format!(
                "cgroup {}, {} (and every other cgroup attach type)",
                dir.display(),
                AttachType(attach_type)
            ),
            source,
        });
    }
    if !out.is_empty() {
        find_links(cgroup_id, &mut out)?;
    }
    Ok(out)
}

fn prog_by_id(id: u32) -> Option<sys::ProgInfo> {
    let fd = sys::get_fd_by_id(IdKind::Prog, id).ok()?;
    sys::prog_info(fd.as_fd()).ok().map(|(info, _)| info)
}

/// Fills in `link_id` from the kernel's cgroup links on `cgroup_id`.
fn find_links(cgroup_id: u64, attached: &mut [Attached]) -> Result<()> {
    let mut id = 0;
    for _ in 0..MAX_LINKS {
        id = match sys::next_id(sys::IdKind::Link, id) {
            Ok(Some(next)) => next,
            Ok(None) => break,
            Err(source) => {
                return Err(Error::Sys {
                    cmd: Cmd::LinkGetNextId,
                    what: format!("after link {id}"),
                    source,
                })
            }
        };
        // A link that went away in between is simply not there.
        let Ok(fd) = sys::get_fd_by_id(IdKind::Link, id) else {
            continue;
        };
        let Ok(info) = sys::link_info(fd.as_fd()) else {
            continue;
        };
        if info.link_type != sys::link_type::CGROUP || info.cgroup_id() != cgroup_id {
            continue;
        }
        if let Some(a) = attached.iter_mut().find(|a| {
            a.link_id.is_none()
                && a.prog_id == info.prog_id
                && Some(a.attach_type) == info.attach_type()
        }) {
            a.link_id = Some(info.id);
        }
    }
    Ok(())
}

/// The kind of bpf object behind `fd`, from its anonymous inode's name.
fn fd_kind(fd: BorrowedFd<'_>, pin: &Path) -> Result<PinKind> {
    let kind = bpffs::fd_kind(fd).map_err(|e| Error::Env(format!("{}: {e}", pin.display())))?;
    match kind.as_str() {
        bpffs::PROG_INODE => Ok(PinKind::Prog),
        bpffs::MAP_INODE => Ok(PinKind::Map),
        bpffs::LINK_INODE => Ok(PinKind::Link),
        other => Err(Error::refused(
            ErrorKind::Unsupported,
            format!("{}: an object of unknown kind ({other})", pin.display()),
        )),
    }
}

/// Describes the object pinned at `path`.
pub fn pinned(path: &Path) -> Result<Pinned> {
    let fd = open_pinned(path)?;
    let info_err = |source| Error::Sys {
        cmd: Cmd::ObjGetInfoByFd,
        what: path.display().to_string(),
        source,
    };
    let kind = fd_kind(fd.as_fd(), path)?;
    let (id, name, type_, link) = match kind {
        PinKind::Prog => {
            let (info, _) = sys::prog_info(fd.as_fd()).map_err(info_err)?;
            (info.id, c_name(&info.name), info.prog_type, None)
        }
        PinKind::Map => {
            let info = sys::map_info(fd.as_fd()).map_err(info_err)?;
            (info.id, c_name(&info.name), info.map_type, None)
        }
        PinKind::Link => {
            let info = sys::link_info(fd.as_fd()).map_err(info_err)?;
            let name = prog_by_id(info.prog_id)
                .map(|p| c_name(&p.name))
                .unwrap_or_default();
            let attach = if info.link_type == sys::link_type::CGROUP {
                info.attach_type()
            } else {
                None
            };
            (info.id, name, info.link_type, Some((info.prog_id, attach)))
        }
    };
    Ok(Pinned {
        path: path.to_path_buf(),
        kind,
        id,
        name,
        type_,
        link,
    })
}

/// A path that could not be read, and why.
pub type Skipped = (PathBuf, String);

/// What is pinned under a bpffs directory: the pins it could read, and a
/// note for each it could not (another tool's file the kernel will not
/// open, such as the `progs.debug` bpffs shows at its root; a directory
/// it may not read).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PinListing {
    /// The pins read, sorted by path.
    pub pins: Vec<Pinned>,
    /// What was skipped, and why: (path, reason).
    pub skipped: Vec<Skipped>,
}

/// Everything pinned under the bpffs directory `dir` (and its
/// subdirectories); what cannot be read is skipped with a note.
pub fn pins(dir: &Path) -> Result<PinListing> {
    let meta = fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if !meta.is_dir() {
        return Err(not_a_directory(dir));
    }
    require_fs(dir, sys::BPF_FS_MAGIC, "bpffs")?;
    let mut out = PinListing::default();
    walk(dir, 0, &mut out)?;
    out.pins.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk(dir: &Path, depth: usize, out: &mut PinListing) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if depth > 0 => {
            out.skipped.push((dir.to_path_buf(), e.to_string()));
            return Ok(());
        }
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if file_type.is_dir() {
            if depth + 1 >= MAX_DEPTH {
                return Err(Error::refused(
                    ErrorKind::ResourceLimit,
                    format!(
                        "{}: pin directories nested deeper than {MAX_DEPTH}",
                        path.display()
                    ),
                ));
            }
            walk(&path, depth + 1, out)?;
        } else if file_type.is_file() {
            if out.pins.len() + out.skipped.len() >= MAX_PINS {
                return Err(Error::refused(
                    ErrorKind::ResourceLimit,
                    format!("{}: more than {MAX_PINS} pins", dir.display()),
                ));
            }
            match pinned(&path) {
                Ok(pin) => out.pins.push(pin),
                Err(e) => out.skipped.push((path, e.to_string())),
            }
        }
    }
    Ok(())
}

/// The directories under the bpffs directory `root` that hold a `rawbpf
/// run --pin` record (a `rawbpf_run` symlink), sorted; unreadable
/// directories are skipped with a note.
pub fn run_dirs(root: &Path) -> Result<(Vec<PathBuf>, Vec<Skipped>)> {
    require_fs(root, sys::BPF_FS_MAGIC, "bpffs")?;
    let (mut found, mut skipped) = (Vec::new(), Vec::new());
    let mut stack = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                skipped.push((dir, e.to_string()));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_symlink() && entry.file_name() == crate::pin::RECORD => {
                    found.push(dir.clone())
                }
                Ok(t) if t.is_dir() && depth + 1 < MAX_DEPTH => stack.push((path, depth + 1)),
                _ => {}
            }
        }
    }
    found.sort_unstable();
    Ok((found, skipped))
}

/// The text `rawbpf show` prints for a cgroup.
pub fn format_attachments(dir: &Path, attached: &[Attached]) -> String {
    let mut out = format!(
        "cgroup {}: {} program(s) attached\n",
        dir.display(),
        attached.len()
    );
    for a in attached {
        let flags = if a.flags.contains(AttachFlags::ALLOW_MULTI) {
            "multi"
        } else if a.flags.contains(AttachFlags::ALLOW_OVERRIDE) {
            "override"
        } else {
            "exclusive"
        };
        let how = match a.link_id {
            Some(id) => format!("link id {id}"),
            None => "prog_attach".to_string(),
        };
        out += &format!(
            "  {:<24} prog id {:<5} {:<16} type {:<16} {how} ({flags})\n",
            AttachType(a.attach_type),
            a.prog_id,
            a.prog_name,
            ProgType(a.prog_type),
        );
    }
    out
}

/// The text `rawbpf show` prints for a pin directory.
pub fn format_pins(dir: &Path, listing: &PinListing) -> String {
    let pins = &listing.pins;
    let mut out = format!("pinned under {}: {} object(s)\n", dir.display(), pins.len());
    for (path, why) in &listing.skipped {
        let rel = path.strip_prefix(dir).unwrap_or(path).display();
        out += &format!("  {rel:<24} skipped: {why}\n");
    }
    for p in pins {
        let rel = p.path.strip_prefix(dir).unwrap_or(&p.path).display();
        out += &match (p.kind, p.link) {
            (PinKind::Prog, _) => format!(
                "  {rel:<24} prog id {:<5} {:<16} type {}\n",
                p.id,
                p.name,
                ProgType(p.type_)
            ),
            (PinKind::Map, _) => format!(
                "  {rel:<24} map  id {:<5} {:<16} type {}\n",
                p.id,
                p.name,
                MapType(p.type_)
            ),
            (PinKind::Link, link) => {
                let (prog, attach) = link.unwrap_or((0, None));
                let attach = attach
                    .map(|t| format!(" attach type {}", AttachType(t)))
                    .unwrap_or_default();
                format!(
                    "  {rel:<24} link id {:<5} {:<16} type {} prog id {prog}{attach}\n",
                    p.id,
                    p.name,
                    LinkType(p.type_)
                )
            }
        };
    }
    out
}
