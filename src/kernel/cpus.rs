//! The CPUs the kernel may ever bring up.
//!
//! The list is `/sys/devices/system/cpu/possible`, read (once) and checked
//! against a bound the kernel enforces by `sys::possible_cpus`, which sizes
//! the buffers per-CPU map values are copied into.

use crate::error::{Error, Result};

pub use crate::sys::parse_cpu_list;

/// The number of CPUs the kernel may ever bring up: a PERF_EVENT_ARRAY
/// without max_entries gets one slot per possible CPU, as with libbpf, and
/// an element of a per-CPU map holds one value per possible CPU.
pub fn possible_cpus() -> Result<u32> {
    crate::sys::possible_cpus()
        .map(|cpus| cpus.count)
        .map_err(|e| Error::Env(format!("the possible CPUs: {e}")))
}
