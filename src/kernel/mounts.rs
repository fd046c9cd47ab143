//! Where the file systems BPF needs are mounted: cgroup2 (cgroup programs
//! attach to its directories) and bpffs (pins live there).
//!
//! Mount points are found in /proc/self/mountinfo; an early-boot environment
//! may have neither mounted, so they are mounted where the mount hides
//! nothing: cgroup2 at a private directory of rawbpf's own (never over
//! /sys/fs/cgroup, where a cgroup v1 system keeps its hierarchies), bpffs
//! only on an empty directory.

use std::fs;
use std::io;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::sys;

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

/// Finds a mount of `fstype`, or mounts one at the first usable candidate:
/// a directory that is empty (or made here), so the mount hides nothing.
fn find_or_mount(fstype: &str, candidates: &[&str]) -> Result<PathBuf> {
    if let Some(point) = find_mount(fstype)? {
        return Ok(point);
    }
    let mut last = None;
    for dir in candidates {
        if fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
            last = Some(Error::Env(format!(
                "{dir} is not empty: mounting {fstype} there would hide what it holds"
            )));
            continue;
        }
        if let Err(e) = fs::create_dir_all(dir) {
            last = Some(Error::io(dir, e));
            continue;
        }
        match sys::mount_fs(fstype, dir) {
            Ok(()) => {
                if fstype == "bpf" {
                    // As bpftool, systemd and the boot scripts mount it
                    // (mode=0700), not bpffs's own 01777.
                    use std::os::unix::fs::PermissionsExt;
                    let mode = fs::Permissions::from_mode(0o700);
                    fs::set_permissions(dir, mode).map_err(|e| Error::io(dir, e))?;
                }
                return Ok(PathBuf::from(dir));
            }
            Err(e) => last = Some(Error::os(format!("mount -t {fstype} {fstype} {dir}"), e)),
        }
    }
    Err(last.unwrap_or_else(|| Error::Env(format!("no {fstype} mount and nowhere to mount one"))))
}

/// Where rawbpf mounts cgroup2 when nothing has: a private directory it
/// creates. Never /sys/fs/cgroup, where a cgroup v1 system keeps its
/// hierarchies (a mount there would hide them all).
pub const PRIVATE_CGROUP2: &str = "/run/rawbpf/cgroup2";

/// The root of the cgroup v2 hierarchy, mounted (at [`PRIVATE_CGROUP2`]) if
/// there is none.
pub fn cgroup2_root() -> Result<PathBuf> {
    find_or_mount("cgroup2", &[PRIVATE_CGROUP2]).map_err(|e| {
        Error::Env(format!(
            "no cgroup v2 hierarchy, and mounting one failed: {e}"
        ))
    })
}

/// The bpffs mount, mounted (mode 0700) if there is none.
pub fn bpffs_root() -> Result<PathBuf> {
    find_or_mount("bpf", &["/sys/fs/bpf", "/run/rawbpf/bpffs"])
        .map_err(|e| Error::Env(format!("no bpffs, and mounting one failed: {e}")))
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
