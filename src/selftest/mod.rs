//! The bpf_timer_cancel conformance suite: what the helper's documentation
//! promises, checked on the running kernel.
//!
//! The documentation says bpf_timer_cancel returns 0 for a timer that is not
//! active, 1 for an active one, -EINVAL for one never initialised, -EDEADLK
//! when a callback cancels its own timer, and that it waits for a running
//! callback to finish. Each case is a small program in
//! `bpf/timer_cases.bpf.c` that records the helpers' return values (and
//! `bpf_ktime_get_ns` stamps) in a `results` map, run with BPF_PROG_TEST_RUN;
//! cases that need a timer to fire poll the map, bounded in time. Next to the
//! documented results the suite records what the kernel does beyond them
//! (cancel forgets the callback, init twice, init without a user reference,
//! two callbacks cancelling each other).
//!
//! Every case loads the object afresh, so no case sees another's timers.

mod cases;
mod netns;
mod types;

pub use cases::{format_cases, return_value_cases, CaseResult, Record, TIMER_CASES};
pub use types::{format_types, program_types, test_packet, TypeResult, TIMER_TYPES};

use crate::error::{Error, Result};
use crate::load::Loaded;
use crate::sys;
use crate::uapi::Errno;

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The kernel did what is expected.
    Pass,
    /// It did not.
    Fail,
    /// Not run on this kernel or machine, with the reason.
    NotApplicable(String),
}

/// `-EINVAL` for -22 and so on; plain numbers otherwise.
pub fn errno_name(ret: i64) -> String {
    let name = i32::try_from(-ret).ok().and_then(|e| Errno(e).name());
    match name {
        Some(name) if ret < 0 => format!("-{name}"),
        _ => ret.to_string(),
    }
}

pub(crate) fn list(rets: &[i64]) -> String {
    rets.iter()
        .map(|&r| errno_name(r))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The running kernel's (major, minor), from /proc/sys/kernel/osrelease.
pub fn kernel_version() -> Option<(u32, u32)> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let mut parts = release.trim().split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Pins the calling thread to `cpu`, then runs `f`.
pub(crate) fn pinned<T>(cpu: usize, f: impl FnOnce() -> Result<T>) -> Result<T> {
    sys::pin_thread_to_cpu(cpu).map_err(|e| Error::os("sched_setaffinity", e))?;
    f()
}

/// The result of a scoped test thread; a panic there becomes an error.
pub(crate) fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, Result<T>>) -> Result<T> {
    handle
        .join()
        .unwrap_or_else(|_| Err(Error::Env("a selftest thread panicked".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(-22), "-EINVAL");
        assert_eq!(errno_name(-35), "-EDEADLK");
        assert_eq!(errno_name(1), "1");
        assert_eq!(list(&[0, -16]), "0, -EBUSY");
    }
}

/// What happened at one step (load, test run, attach).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// The step succeeded.
    Done,
    /// The step does not apply, and why.
    NotApplicable(String),
    /// The step failed, and how.
    Failed(String),
}

/// The four helper results and the run count a program of `timer_types.bpf.o`
/// recorded in slot `slot` of its `type_results` map (shared by the type
/// rows and the network attachments, so neither imports the other).
fn type_values(loaded: &Loaded, slot: u32) -> Result<([i64; 4], u64)> {
    let map = loaded.map("type_results").ok_or_else(|| Error::Map {
        map: "type_results".into(),
        what: "missing from timer_types.bpf.o".into(),
    })?;
    let bytes = map.lookup(&slot.to_ne_bytes())?.unwrap_or_default();
    if bytes.len() != 40 {
        return Err(Error::Map {
            map: "type_results".into(),
            what: format!("value is {} bytes, expected 40", bytes.len()),
        });
    }
    let word = |i: usize| u64::from_ne_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    Ok((
        [
            word(0) as i64,
            word(1) as i64,
            word(2) as i64,
            word(3) as i64,
        ],
        word(4),
    ))
}
