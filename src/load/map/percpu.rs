//! Per-CPU maps: one value per *possible* CPU in every element.
//!
//! PERCPU_ARRAY, PERCPU_HASH, LRU_PERCPU_HASH and PERCPU_CGROUP_STORAGE
//! keep a value for each CPU, and user space reads and writes all of them
//! at once: the kernel copies them end to end, the one of each possible
//! CPU in the order of the CPU list, each rounded up to 8 bytes
//! (`bpf_percpu_array_copy` and `bpf_percpu_array_update` in
//! kernel/bpf/arraymap.c, `bpf_percpu_hash_copy` in hashtab.c). Here they
//! are a `Vec` with one value (`value_size` bytes, without the rounding) per
//! possible CPU: index `i` is the `i`-th CPU of
//! `/sys/devices/system/cpu/possible`, which is CPU `i` where that list has
//! no holes.

use super::{Kind, Map, UpdateFlags};
use crate::error::Result;
use crate::kernel::cpus::possible_cpus;
use crate::uapi::Cmd;

impl Map {
    /// The values of `key`, one per possible CPU, or None if there is none.
    pub fn lookup_percpu(&self, key: &[u8]) -> Result<Option<Vec<Vec<u8>>>> {
        let call = "lookup_percpu";
        self.require(call, &[Kind::PerCpu])?;
        let block = self
            .map
            .lookup(key)
            .map_err(self.failed(call, Cmd::MapLookupElem))?;
        Ok(block.map(|b| self.split(&b)))
    }

    /// Sets `key` to `values`, one per possible CPU (as many as
    /// [`possible_cpus`] counts, each `value_size` bytes).
    pub fn update_percpu<V: AsRef<[u8]>>(
        &self,
        key: &[u8],
        values: &[V],
        flags: UpdateFlags,
    ) -> Result<()> {
        let call = "update_percpu";
        self.require(call, &[Kind::PerCpu])?;
        let block = self.join(call, values)?;
        self.map
            .update(key, &block, flags)
            .map_err(self.failed(call, Cmd::MapUpdateElem))
    }

    /// The values of `key`, removed from the map in the same call; None if
    /// there was none. PERCPU_HASH and LRU_PERCPU_HASH (Linux 5.14).
    pub fn lookup_and_delete_percpu(&self, key: &[u8]) -> Result<Option<Vec<Vec<u8>>>> {
        let call = "lookup_and_delete_percpu";
        self.require(call, &[Kind::PerCpu])?;
        let block = self
            .map
            .lookup_and_delete(key)
            .map_err(self.failed(call, Cmd::MapLookupAndDeleteElem))?;
        Ok(block.map(|b| self.split(&b)))
    }

    /// The bytes of one CPU's value in the kernel's layout.
    fn stride(&self) -> usize {
        (self.value_size() as usize).next_multiple_of(8)
    }

    /// The kernel's layout cut into the CPUs' values.
    pub(super) fn split(&self, block: &[u8]) -> Vec<Vec<u8>> {
        let size = self.value_size() as usize;
        block
            .chunks_exact(self.stride().max(1))
            .map(|cpu| cpu[..size].to_vec())
            .collect()
    }

    /// The CPUs' values in the kernel's layout, each checked.
    fn join<V: AsRef<[u8]>>(&self, call: &str, values: &[V]) -> Result<Vec<u8>> {
        let cpus = possible_cpus()? as usize;
        if values.len() != cpus {
            return Err(self.err(format!(
                "{call}: {} values, but the kernel has {cpus} possible CPUs (one value each)",
                values.len()
            )));
        }
        let size = self.value_size() as usize;
        let stride = self.stride();
        let mut block = Vec::with_capacity(stride * cpus);
        for (cpu, value) in values.iter().enumerate() {
            let value = value.as_ref();
            if value.len() != size {
                return Err(self.err(format!(
                    "{call}: the value for CPU {cpu} is {} bytes, where the map takes {size}",
                    value.len()
                )));
            }
            block.extend_from_slice(value);
            block.resize(block.len() + stride - size, 0);
        }
        Ok(block)
    }
}
