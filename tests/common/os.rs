//! System calls only the tests make: mount namespaces, remounts, FIFOs,
//! and what a spawned rawbpf inherits (closed stdio, no /dev, a lower
//! open-file limit, fewer capabilities). Test code, not the library's:
//! the crate's own `unsafe` stays in its sys layer.

#![allow(dead_code)]

use std::ffi::CString;
use std::io;
use std::os::unix::process::CommandExt;

fn cstring(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// Makes `cmd` start its program with fds 0, 1 and 2 closed, as an early-boot
/// environment may (used by the tests to check rawbpf copes).
pub fn close_stdio_on_exec(cmd: &mut std::process::Command) {
    // SAFETY: the closure runs in the forked child before exec and only calls
    // close(2), which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            for fd in 0..3 {
                libc::close(fd);
            }
            Ok(())
        });
    }
}

/// In a forked child before exec: a mount namespace of the child's own
/// whose mounts are all private, so nothing mounted or unmounted in it
/// reaches the machine's. Only unshare and mount, async-signal-safe.
fn enter_private_mount_ns() -> io::Result<()> {
    let root = c"/";
    // SAFETY: unshare takes a flag; mount reads the static string `root`.
    let failed = unsafe {
        libc::unshare(libc::CLONE_NEWNS) < 0
            || libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) < 0
    };
    match failed {
        true => Err(io::Error::last_os_error()),
        false => Ok(()),
    }
}

/// Makes `cmd` start its program with an empty /dev, as in an initramfs
/// before devtmpfs is mounted: a private mount namespace of its own with
/// a tmpfs over /dev.
pub fn empty_dev_on_exec(cmd: &mut std::process::Command) {
    // SAFETY: the closure runs in the forked child before exec and only calls
    // unshare and mount, async-signal-safe system calls, on static strings.
    unsafe {
        cmd.pre_exec(|| {
            enter_private_mount_ns()?;
            let (dev, tmpfs) = (c"/dev", c"tmpfs");
            if libc::mount(
                tmpfs.as_ptr(),
                dev.as_ptr(),
                tmpfs.as_ptr(),
                0,
                std::ptr::null(),
            ) < 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// umount2(path, MNT_DETACH): for tests inside a private mount namespace.
pub fn unmount_lazy(path: &str) -> io::Result<()> {
    let c = cstring(path)?;
    // SAFETY: `c` is NUL-terminated and outlives the call.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A bind mount of `source` at `target` (tests in a private mount namespace).
pub fn bind_mount(source: &str, target: &str) -> io::Result<()> {
    let (s, t) = (cstring(source)?, cstring(target)?);
    // SAFETY: both strings are NUL-terminated and live across the call; a
    // null type and data are allowed for MS_BIND.
    let ret = unsafe {
        libc::mount(
            s.as_ptr(),
            t.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes `cmd` start its program in a mount namespace of its own whose
/// mounts are all private, so nothing mounted or unmounted in it reaches
/// the machine's (the path-safety tests).
pub fn private_mount_ns_on_exec(cmd: &mut std::process::Command) {
    // SAFETY: the closure runs in the forked child before exec and only
    // calls unshare and mount, async-signal-safe system calls.
    unsafe {
        cmd.pre_exec(enter_private_mount_ns);
    }
}

/// Remounts the file system mounted at `path` read-only or read-write.
pub fn remount(path: &str, read_only: bool) -> io::Result<()> {
    let c = cstring(path)?;
    let flags = libc::MS_REMOUNT | if read_only { libc::MS_RDONLY } else { 0 };
    // SAFETY: `c` is NUL-terminated and outlives the call; a remount takes
    // no source, type or data.
    let ret = unsafe {
        libc::mount(
            std::ptr::null(),
            c.as_ptr(),
            std::ptr::null(),
            flags,
            std::ptr::null(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// mkfifo(3) with mode 0600.
pub fn mkfifo(path: &str) -> io::Result<()> {
    let c = cstring(path)?;
    // SAFETY: `c` is NUL-terminated and outlives the call.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes `cmd` start its program with RLIMIT_NOFILE (soft and hard) at
/// `files`: at most that many fds, stdio included (tests of what rawbpf
/// does when it runs out of them).
pub fn limit_open_files_on_exec(cmd: &mut std::process::Command, files: u64) {
    let limit = libc::rlimit {
        rlim_cur: files,
        rlim_max: files,
    };
    // SAFETY: the closure runs in the forked child before exec and only calls
    // setrlimit, async-signal-safe, on a value copied into it.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Makes `cmd` start its program without the capabilities `caps` (numbers,
/// `CAP_PERFMON` is 38): they are dropped from the child's bounding set
/// (prctl PR_CAPBSET_DROP) before exec, and root's capabilities after exec
/// are the bounding set (`cap_bprm_creds_from_file` in
/// security/commoncap.c), so the program starts without them.
pub fn drop_capabilities_on_exec(cmd: &mut std::process::Command, caps: &[u32]) {
    let caps = caps.to_vec();
    // SAFETY: the closure runs in the forked child before exec and only calls
    // prctl, async-signal-safe, with integers; `caps` was allocated before
    // the fork and is only read.
    unsafe {
        cmd.pre_exec(move || {
            for &cap in &caps {
                if libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}
