//! How many values a per-CPU map element holds, and how large a buffer the
//! kernel may write them into.
//!
//! For the per-CPU maps the kernel copies one value per *possible* CPU, each
//! rounded up to 8 bytes (`bpf_percpu_array_copy` in kernel/bpf/arraymap.c
//! loops `for_each_possible_cpu`; `bpf_map_value_size` in
//! kernel/bpf/syscall.c sizes the copy as `round_up(value_size, 8) *
//! num_possible_cpus()`). User space learns that count from
//! `/sys/devices/system/cpu/possible`, as libbpf does. But a file is not the
//! kernel: were it wrong (a bind mount in a container), a buffer sized from
//! it would be too small and the kernel would write past it. So the buffers
//! are sized from a bound the kernel itself enforces: sched_getaffinity(2)
//! refuses (EINVAL) a mask buffer with fewer bits than `nr_cpu_ids`
//! (kernel/sched/core.c), and `nr_cpu_ids`, the highest possible CPU + 1, is
//! at least the number of possible CPUs. The file gives the count a caller
//! sees; the bound gives the room the kernel gets.

use std::io;
use std::sync::OnceLock;

/// The number of CPUs in a kernel CPU list such as `0-3,6`
/// (`/sys/devices/system/cpu/possible`), counted as libbpf counts them.
pub fn parse_cpu_list(list: &str) -> Option<u32> {
    let mut n: u32 = 0;
    for part in list.trim().split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?),
            None => {
                let a = part.parse::<u32>().ok()?;
                (a, a)
            }
        };
        n = n.checked_add(b.checked_sub(a)?.checked_add(1)?)?;
    }
    (n > 0).then_some(n)
}

/// The possible CPUs: how many the kernel's list names, and a bound on them
/// the kernel enforces (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PossibleCpus {
    /// The number of possible CPUs (`/sys/devices/system/cpu/possible`).
    pub count: u32,
    /// At least `nr_cpu_ids`, by sched_getaffinity(2): never less than
    /// `count` (checked), and what per-CPU buffers are sized for.
    pub bound: u32,
}

const POSSIBLE: &str = "/sys/devices/system/cpu/possible";

/// The possible CPUs, read once per process (they cannot change while the
/// system runs) and checked against the kernel's bound.
pub fn possible_cpus() -> io::Result<PossibleCpus> {
    static CACHE: OnceLock<PossibleCpus> = OnceLock::new();
    if let Some(cpus) = CACHE.get() {
        return Ok(*cpus);
    }
    let text = std::fs::read_to_string(POSSIBLE)
        .map_err(|e| io::Error::new(e.kind(), format!("{POSSIBLE}: {e}")))?;
    let count = parse_cpu_list(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{POSSIBLE}: cannot read the CPU list '{}'", text.trim()),
        )
    })?;
    let bound = cpu_id_bound()?;
    if count > bound {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{POSSIBLE} names {count} CPUs, but the kernel has at most {bound} CPU ids \
                 (sched_getaffinity): the file is not the kernel's"
            ),
        ));
    }
    Ok(*CACHE.get_or_init(|| PossibleCpus { count, bound }))
}

/// The fewest mask bits sched_getaffinity(2) accepts, a multiple of 64:
/// at least `nr_cpu_ids` (the kernel refuses fewer with EINVAL).
fn cpu_id_bound() -> io::Result<u32> {
    // 2^20 bits: far above any kernel's NR_CPUS (8192 on x86-64 today).
    const MAX_WORDS: usize = 1 << 14;
    let mut mask = vec![0u64; MAX_WORDS];
    for words in 1..=MAX_WORDS {
        let len = words * 8;
        // SAFETY: the kernel writes at most `len` bytes, and `mask` has
        // MAX_WORDS * 8 >= len; pid 0 is this thread.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_sched_getaffinity,
                0 as libc::pid_t,
                len as libc::c_uint,
                mask.as_mut_ptr(),
            )
        };
        if ret >= 0 {
            return u32::try_from(len * 8)
                .map_err(|_| io::Error::from_raw_os_error(libc::EOVERFLOW));
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINVAL) {
            return Err(err);
        }
    }
    Err(io::Error::from_raw_os_error(libc::EINVAL))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_bound_covers_the_possible_cpus() {
        let cpus = possible_cpus().unwrap();
        assert!(cpus.count >= 1 && cpus.count <= cpus.bound, "{cpus:?}");
        assert_eq!(cpus.bound % 64, 0);
        assert_eq!(possible_cpus().unwrap(), cpus, "cached");
    }
}
