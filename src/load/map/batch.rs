//! Many elements per system call: BPF_MAP_LOOKUP_BATCH,
//! LOOKUP_AND_DELETE_BATCH, UPDATE_BATCH and DELETE_BATCH (Linux 5.6).
//!
//! The kernel copies `count` keys and values end to end
//! (`generic_map_lookup_batch` and `generic_map_update_batch` in
//! kernel/bpf/syscall.c, `__htab_map_lookup_and_delete_batch` in
//! hashtab.c) and hands back a position to go on from: a key for arrays and
//! LPM tries, a bucket number for hash maps. A hash map copies a whole
//! bucket or nothing: a `count` smaller than a bucket gives ENOSPC, so ask
//! for at least a few elements more than a bucket holds (`max_entries`
//! always works). Arrays take no deletion, and per-CPU values are left to
//! the element calls here.

use super::{Kind, Map};
use crate::error::Result;
use crate::uapi::Cmd;

/// Where a batch walk goes on from: the kernel's position, opaque.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchToken(Vec<u8>);

/// What a lookup batch copied.
#[derive(Debug, Default)]
pub struct Batch {
    /// The keys, `key_size` bytes each.
    pub keys: Vec<Vec<u8>>,
    /// Their values, `value_size` bytes each.
    pub values: Vec<Vec<u8>>,
    /// Where the next batch starts; None when this one reached the end.
    pub next: Option<BatchToken>,
}

impl Map {
    /// Up to `count` keys and values, from the beginning (`from` None) or
    /// from where an earlier batch stopped.
    pub fn lookup_batch(&self, from: Option<&BatchToken>, count: u32) -> Result<Batch> {
        self.batch("lookup_batch", from, count, false)
    }

    /// As [`Map::lookup_batch`], and the elements copied are deleted (hash
    /// maps only).
    pub fn lookup_and_delete_batch(&self, from: Option<&BatchToken>, count: u32) -> Result<Batch> {
        self.batch("lookup_and_delete_batch", from, count, true)
    }

    fn batch(
        &self,
        call: &'static str,
        from: Option<&BatchToken>,
        count: u32,
        delete: bool,
    ) -> Result<Batch> {
        self.require(call, &[Kind::Keyed])?;
        let cmd = if delete {
            Cmd::MapLookupAndDeleteBatch
        } else {
            Cmd::MapLookupBatch
        };
        let out = self
            .map
            .lookup_batch(from.map(|t| &t.0[..]), count, delete)
            .map_err(self.failed(call, cmd))?;
        let key_size = self.key_size() as usize;
        let value_len = out.values.len() / (out.count as usize).max(1);
        Ok(Batch {
            keys: out
                .keys
                .chunks(key_size.max(1))
                .map(<[u8]>::to_vec)
                .collect(),
            values: out
                .values
                .chunks(value_len.max(1))
                .map(<[u8]>::to_vec)
                .collect(),
            next: (!out.done).then_some(BatchToken(out.next)),
        })
    }

    /// Sets each of `keys` to the value at the same index (BPF_ANY), in one
    /// call; returns how many were set.
    pub fn update_batch<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        keys: &[K],
        values: &[V],
    ) -> Result<u32> {
        let call = "update_batch";
        self.require(call, &[Kind::Keyed])?;
        if keys.len() != values.len() {
            return Err(self.err(format!(
                "{call}: {} keys but {} values",
                keys.len(),
                values.len()
            )));
        }
        let keys = self.packed(call, "key", keys, self.key_size())?;
        let values = self.packed(call, "value", values, self.value_size())?;
        self.map
            .update_batch(&keys.0, &values.0, keys.1)
            .map_err(self.failed(call, Cmd::MapUpdateBatch))
    }

    /// Deletes `keys` in one call; returns how many were deleted (the call
    /// fails with ENOENT at the first key that is not there).
    pub fn delete_batch<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u32> {
        let call = "delete_batch";
        self.require(call, &[Kind::Keyed, Kind::PerCpu])?;
        let (keys, count) = self.packed(call, "key", keys, self.key_size())?;
        self.map
            .delete_batch(&keys, count)
            .map_err(self.failed(call, Cmd::MapDeleteBatch))
    }

    /// `items` end to end, each checked to be `size` bytes, and their count.
    fn packed<T: AsRef<[u8]>>(
        &self,
        call: &str,
        what: &str,
        items: &[T],
        size: u32,
    ) -> Result<(Vec<u8>, u32)> {
        let count = u32::try_from(items.len())
            .map_err(|_| self.err(format!("{call}: more than 2^32 {what}s")))?;
        let mut out = Vec::with_capacity(items.len() * size as usize);
        for (i, item) in items.iter().enumerate() {
            let item = item.as_ref();
            if item.len() != size as usize {
                return Err(self.err(format!(
                    "{call}: {what} {i} is {} bytes, where the map takes {size}",
                    item.len()
                )));
            }
            out.extend_from_slice(item);
        }
        Ok((out, count))
    }
}
