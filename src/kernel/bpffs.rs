//! Pins: a kernel object outlives the process that made it while a file in
//! a bpffs mount refers to it (BPF_OBJ_PIN); BPF_OBJ_GET opens it again.
//! bpffs refuses names with a dot (`bpf_lookup` in kernel/bpf/inode.c).

use std::ffi::CString;
use std::fs;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::sys;
use crate::uapi::Cmd;

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| Error::Env(format!("path {} is not UTF-8", path.display())))
}

fn cpath(path: &Path) -> Result<CString> {
    CString::new(path_str(path)?)
        .map_err(|_| Error::Env(format!("path {} contains NUL", path.display())))
}

/// Pins a kernel object at `path` in bpffs (BPF_OBJ_PIN).
pub fn pin(fd: BorrowedFd<'_>, path: &Path) -> Result<()> {
    sys::obj_pin(fd, &cpath(path)?).map_err(|e| pin_error(path, e))
}

/// Pins a kernel object at `path`, a name inside the directory open as
/// `dir` (BPF_OBJ_PIN): by that name alone where the kernel takes the
/// directory's fd (BPF_F_PATH_FD, Linux 6.5), which spares it a lookup of
/// every component of the directory's path, else by the whole path.
/// `by_fd` says which to try first: it is cleared when the kernel refuses
/// the flag (EINVAL), so that later pins of the same run go by path at once
/// (one refused call per run on older kernels).
pub fn pin_in(
    fd: BorrowedFd<'_>,
    dir: BorrowedFd<'_>,
    path: &Path,
    by_fd: &mut bool,
) -> Result<()> {
    if *by_fd {
        let name = path.file_name().map(|n| n.as_bytes()).unwrap_or_default();
        let name = CString::new(name)
            .map_err(|_| Error::Env(format!("path {} contains NUL", path.display())))?;
        match sys::obj_pin_in(fd, dir, &name) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => *by_fd = false,
            result => return result.map_err(|e| pin_error(path, e)),
        }
    }
    pin(fd, path)
}

/// A refused BPF_OBJ_PIN, named by the path it was to make.
fn pin_error(path: &Path, e: std::io::Error) -> Error {
    Error::sys(Cmd::ObjPin, path.display().to_string())(e)
}

/// Opens a pinned object (BPF_OBJ_GET).
pub fn open_pinned(path: &Path) -> Result<OwnedFd> {
    sys::obj_get(&cpath(path)?, sys::ObjGetFlags::empty())
        .map_err(|e| Error::sys(Cmd::ObjGet, path.display().to_string())(e))
}

/// Pin names inside a pin directory.
pub const LINK_PREFIX: &str = "link_";
/// Prefix of a pinned program (a legacy attachment).
pub const PROG_PREFIX: &str = "prog_";
/// Prefix of a pinned map.
pub const MAP_PREFIX: &str = "map_";

/// A pin's file name: bpffs refuses names with a dot (`bpf_lookup` in
/// kernel/bpf/inode.c), so `.rodata` is pinned as `map__rodata`.
pub fn pin_name(prefix: &str, name: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + name.len());
    out.push_str(prefix);
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if name.bytes().all(|b| allowed(char::from(b))) {
        // Most names: as they are, in one copy.
        out.push_str(name);
    } else {
        out.extend(name.chars().map(|c| if allowed(c) { c } else { '_' }));
    }
    out
}

/// The pin name of a map pinned by name: the map's name, as libbpf does
/// (characters bpffs refuses become `_`).
pub fn by_name_pin(map: &str) -> String {
    pin_name("", map)
}

/// The anon-inode names the kernel gives bpf objects' fds (`/proc/self/fd`).
pub const MAP_INODE: &str = "anon_inode:bpf-map";
/// See [`MAP_INODE`].
pub const PROG_INODE: &str = "anon_inode:bpf-prog";
/// See [`MAP_INODE`].
pub const LINK_INODE: &str = "anon_inode:bpf-link";

/// What kind of bpf object `fd` is, from its anon-inode name: one of the
/// names above for a program, map or link (a link's fd was named
/// `bpf_link` before it became `bpf-link`; both read as [`LINK_INODE`]).
pub fn fd_kind(fd: BorrowedFd<'_>) -> Result<String> {
    let link = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
    fs::read_link(&link)
        .map(|p| match p.to_string_lossy().as_ref() {
            "anon_inode:bpf_link" => LINK_INODE.to_string(),
            name => name.to_string(),
        })
        .map_err(|e| {
            Error::Env(format!(
                "cannot tell what kind of bpf object it is ({link}: {e}; is /proc mounted?)"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_names_replace_each_refused_character_with_one_underscore() {
        assert_eq!(pin_name(MAP_PREFIX, "counts_1"), "map_counts_1");
        assert_eq!(pin_name(MAP_PREFIX, ".rodata"), "map__rodata");
        // One '_' per character, not per byte.
        assert_eq!(pin_name(LINK_PREFIX, "égress-x"), "link__gress_x");
        assert_eq!(by_name_pin("a.b"), "a_b");
    }
}
