//! The CPUs the kernel may ever bring up.

use crate::error::{Error, Result};

/// The number of possible CPUs from a kernel CPU list such as `0-3,6`
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

/// The number of CPUs the kernel may ever bring up: a PERF_EVENT_ARRAY
/// without max_entries gets one slot per possible CPU, as with libbpf.
pub fn possible_cpus() -> Result<u32> {
    const PATH: &str = "/sys/devices/system/cpu/possible";
    let text = std::fs::read_to_string(PATH).map_err(|e| Error::io(PATH, e))?;
    parse_cpu_list(&text).ok_or_else(|| {
        Error::Env(format!(
            "{PATH}: cannot read the CPU list '{}'",
            text.trim()
        ))
    })
}
