//! Typed keys and values: a [`Pod`] type stands for the bytes the kernel
//! copies (`key_size` of key by `__bpf_copy_key`, `value_size` of value by
//! `bpf_map_copy_value`, kernel/bpf/syscall.c), so its size must be the
//! map's, checked before the call, and any bytes the kernel writes must be
//! a valid value of it, which `Pod` promises.

use super::{Map, UpdateFlags};
use crate::error::Result;
use crate::sys::{bytes_of, from_bytes, Pod};

impl Map {
    fn check_type<T>(&self, call: &str, what: &str, want: u32) -> Result<()> {
        let len = size_of::<T>();
        if len != want as usize {
            return Err(self.err(format!(
                "{call}: the {what} type {} is {len} bytes, where the map takes {want}",
                std::any::type_name::<T>()
            )));
        }
        Ok(())
    }

    /// The value at `key` as a `V`, or None: [`Map::lookup`] with types
    /// whose sizes must be the map's key and value sizes.
    pub fn lookup_as<K: Pod, V: Pod>(&self, key: &K) -> Result<Option<V>> {
        self.check_type::<K>("lookup_as", "key", self.key_size())?;
        self.check_type::<V>("lookup_as", "value", self.value_size())?;
        Ok(self.lookup(bytes_of(key))?.and_then(|v| from_bytes(&v)))
    }

    /// Sets `key` to `value`: [`Map::update`] with typed key and value.
    pub fn update_as<K: Pod, V: Pod>(&self, key: &K, value: &V, flags: UpdateFlags) -> Result<()> {
        self.check_type::<K>("update_as", "key", self.key_size())?;
        self.check_type::<V>("update_as", "value", self.value_size())?;
        self.update(bytes_of(key), bytes_of(value), flags)
    }

    /// The values at `key`, one `V` per possible CPU, or None:
    /// [`Map::lookup_percpu`] with typed key and values.
    pub fn lookup_percpu_as<K: Pod, V: Pod>(&self, key: &K) -> Result<Option<Vec<V>>> {
        self.check_type::<K>("lookup_percpu_as", "key", self.key_size())?;
        self.check_type::<V>("lookup_percpu_as", "value", self.value_size())?;
        Ok(self
            .lookup_percpu(bytes_of(key))?
            .map(|values| values.iter().filter_map(|v| from_bytes(v)).collect()))
    }

    /// Sets `key` to `values`, one `V` per possible CPU:
    /// [`Map::update_percpu`] with typed key and values.
    pub fn update_percpu_as<K: Pod, V: Pod>(
        &self,
        key: &K,
        values: &[V],
        flags: UpdateFlags,
    ) -> Result<()> {
        self.check_type::<K>("update_percpu_as", "key", self.key_size())?;
        self.check_type::<V>("update_percpu_as", "value", self.value_size())?;
        let values: Vec<&[u8]> = values.iter().map(bytes_of).collect();
        self.update_percpu(bytes_of(key), &values, flags)
    }
}
