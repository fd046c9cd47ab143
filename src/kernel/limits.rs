//! Errors that come from this process's limits, not from the object: the
//! kernel says EMFILE when the process has as many fds as RLIMIT_NOFILE
//! allows (`alloc_fd` in fs/file.c, under every bpf() call that returns
//! an fd), ENFILE when the whole system has, ENOMEM when the memory cgroup
//! or the machine has no memory to give, and, before Linux 5.11, EPERM when
//! a map or program would pass RLIMIT_MEMLOCK (`bpf_charge_memlock`).
//! None of them is the verifier's verdict; each is said as what it is.

use crate::error::Error;
use crate::sys::{self, Limit};

/// What a process limit behind `errno` is, if one is.
pub fn cause(errno: i32) -> Option<String> {
    match errno {
        libc::EMFILE => Some(match sys::soft_limit(Limit::OpenFiles) {
            Ok(Some(n)) => format!(
                "this process has as many open files as its limit allows \
                 (RLIMIT_NOFILE is {n}; raise it with `ulimit -n`)"
            ),
            _ => "this process has as many open files as its limit allows (RLIMIT_NOFILE)".into(),
        }),
        libc::ENFILE => {
            Some("the system has as many open files as its limit allows (fs.file-max)".into())
        }
        libc::ENOMEM => Some(
            "the kernel found no memory for this process: its memory cgroup's limit, \
             or the machine's memory, is used up"
                .into(),
        ),
        libc::EPERM => memlock_cause(),
        _ => None,
    }
}

/// Before 5.11 the kernel charged maps and programs to RLIMIT_MEMLOCK and
/// said EPERM past it; rawbpf raises the limit, which can fail.
fn memlock_cause() -> Option<String> {
    let version = super::caps::kernel_version()?;
    let limit = sys::soft_limit(Limit::Memlock).ok()??;
    (version < (5, 11)).then(|| {
        format!(
            "this kernel (before 5.11) charges maps and programs to RLIMIT_MEMLOCK, \
             which is {limit} bytes for this process and could not be raised"
        )
    })
}

/// `e` with the process limit behind it said, if one is (once).
pub fn explain(e: Error) -> Error {
    let Some(why) = e.raw_os_error().and_then(cause) else {
        return e;
    };
    if e.to_string().contains(&why) {
        return e;
    }
    match e {
        Error::Sys { cmd, what, source } => Error::Sys {
            cmd,
            what: format!("{what}; {why}"),
            source,
        },
        Error::Os { what, source } => Error::Os {
            what: format!("{what}; {why}"),
            source,
        },
        Error::Io { path, source } => Error::Os {
            what: format!("{}; {why}", path.display()),
            source,
        },
        e => e,
    }
}
