//! The map element commands, and [`SizedMap`], the only safe way to them.
//!
//! For every element command the kernel decides alone how many bytes it
//! copies, from the map it finds behind the fd (kernel/bpf/syscall.c):
//! `key_size` bytes of key (`__bpf_copy_key`), and `bpf_map_value_size`
//! bytes of value: `value_size`, except 4 (a u32 fd in, an id out) for the
//! maps holding programs or maps (`IS_FD_MAP`), and one value per possible
//! CPU, each rounded up to 8 bytes, for the per-CPU maps. The batch commands
//! copy `count` of each, plus a position token (`generic_map_lookup_batch`
//! reads and writes `key_size` bytes of it, the hash maps' batch a u32).
//! Nothing in the attr says how long the caller's buffers are, so the raw
//! wrappers below cannot check anything: they are `unsafe fn`.
//!
//! [`SizedMap`] is a map fd together with the sizes the kernel keeps for it:
//! those of its BPF_MAP_CREATE attr (which `bpf_map_init_from_attr` copies
//! as is) or those OBJ_GET_INFO_BY_FD reports. It never hands them out for
//! change, checks every buffer's length before each call, and allocates
//! what the kernel writes into itself.

use std::fmt;
use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::{bpf, fd, map_create, map_info, ptr, ptr_mut, Cmd, MapCreateAttr, MapFlags, MapInfo};
use crate::uapi::MapType;

// ---------------------------------------------------------------- raw commands

#[repr(C)]
#[derive(Default)]
struct MapElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}
layout!(MapElemAttr, size 32, map_fd @ 0, key @ 8, value @ 16, flags @ 24);

/// A buffer's address, or NULL for an empty one: the kernel refuses a key
/// pointer for a map whose keys are 0 bytes (`__bpf_copy_key`).
fn or_null(bytes: &[u8]) -> u64 {
    if bytes.is_empty() {
        0
    } else {
        ptr(bytes)
    }
}

fn or_null_mut(bytes: &mut [u8]) -> u64 {
    if bytes.is_empty() {
        0
    } else {
        ptr_mut(bytes)
    }
}

fn map_elem(cmd: Cmd, map: BorrowedFd<'_>, key: u64, value: u64, flags: u64) -> io::Result<()> {
    let mut attr = MapElemAttr {
        map_fd: fd(map),
        key,
        value,
        flags,
        ..Default::default()
    };
    bpf(cmd, &mut attr).map(drop)
}

/// BPF_MAP_LOOKUP_ELEM of `key` into `value`.
///
/// # Safety
///
/// `key` must be at least as long as the map's `key_size`, and `value` at
/// least `bpf_map_value_size` bytes (see the module doc): the kernel reads
/// and writes that many, whatever the slices' lengths.
pub unsafe fn map_lookup_elem(map: BorrowedFd<'_>, key: &[u8], value: &mut [u8]) -> io::Result<()> {
    map_elem(Cmd::MapLookupElem, map, or_null(key), or_null_mut(value), 0)
}

/// BPF_MAP_UPDATE_ELEM (`flags`: BPF_ANY 0, BPF_NOEXIST 1, BPF_EXIST 2).
///
/// # Safety
///
/// As [`map_lookup_elem`]: the kernel reads `key_size` bytes of `key` and
/// `bpf_map_value_size` bytes of `value`. `flags` must not ask for a
/// larger copy (no flag does today).
pub unsafe fn map_update_elem(
    map: BorrowedFd<'_>,
    key: &[u8],
    value: &[u8],
    flags: u64,
) -> io::Result<()> {
    map_elem(Cmd::MapUpdateElem, map, or_null(key), or_null(value), flags)
}

/// BPF_MAP_DELETE_ELEM.
///
/// # Safety
///
/// `key` must be at least the map's `key_size` bytes.
pub unsafe fn map_delete_elem(map: BorrowedFd<'_>, key: &[u8]) -> io::Result<()> {
    map_elem(Cmd::MapDeleteElem, map, or_null(key), 0, 0)
}

/// BPF_MAP_GET_NEXT_KEY: the key after `key` (the first key for None)
/// into `next`.
///
/// # Safety
///
/// `key` and `next` must each be at least the map's `key_size` bytes.
pub unsafe fn map_get_next_key(
    map: BorrowedFd<'_>,
    key: Option<&[u8]>,
    next: &mut [u8],
) -> io::Result<()> {
    let key = key.map_or(0, or_null);
    map_elem(Cmd::MapGetNextKey, map, key, or_null_mut(next), 0)
}

/// BPF_MAP_LOOKUP_AND_DELETE_ELEM: the value of `key` into `value`, and
/// the element deleted (a queue's or stack's pop, with an empty key).
///
/// # Safety
///
/// As [`map_lookup_elem`].
pub unsafe fn map_lookup_and_delete_elem(
    map: BorrowedFd<'_>,
    key: &[u8],
    value: &mut [u8],
) -> io::Result<()> {
    let value = or_null_mut(value);
    map_elem(Cmd::MapLookupAndDeleteElem, map, or_null(key), value, 0)
}

/// The `batch` member of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct MapBatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}
layout!(MapBatchAttr, size 56, in_batch @ 0, out_batch @ 8, keys @ 16, values @ 24,
    count @ 32, map_fd @ 36, elem_flags @ 40, flags @ 48);

/// What a batch command did: how many elements it handled (the kernel's
/// `count` out, also on failure), and how it ended. BPF_MAP_LOOKUP_BATCH
/// ends with ENOENT when it reached the end of the map.
#[derive(Debug)]
pub struct BatchDone {
    /// Elements copied, updated or deleted.
    pub count: u32,
    /// The command's result.
    pub result: io::Result<()>,
}

/// Buffers of a lookup batch: the position to start from (None: the
/// beginning), where the kernel puts the next position, and room for
/// `count` keys and values.
pub struct BatchBuffers<'a> {
    /// `in_batch`.
    pub from: Option<&'a [u8]>,
    /// `out_batch`.
    pub next: &'a mut [u8],
    /// `keys`.
    pub keys: &'a mut [u8],
    /// `values`.
    pub values: &'a mut [u8],
}

fn batch(cmd: Cmd, map: BorrowedFd<'_>, mut attr: MapBatchAttr) -> BatchDone {
    attr.map_fd = fd(map);
    let result = bpf(cmd, &mut attr).map(drop);
    BatchDone {
        count: attr.count,
        result,
    }
}

/// BPF_MAP_LOOKUP_BATCH, or BPF_MAP_LOOKUP_AND_DELETE_BATCH if `delete`:
/// up to `count` elements from position `b.from`.
///
/// # Safety
///
/// `b.keys` must hold `count * key_size` bytes, `b.values` `count *
/// bpf_map_value_size` bytes, and `b.from` and `b.next` at least
/// `max(key_size, 4)` bytes each (the token the map's batch code reads and
/// writes; see the module doc).
pub unsafe fn map_lookup_batch(
    map: BorrowedFd<'_>,
    b: BatchBuffers<'_>,
    count: u32,
    delete: bool,
) -> BatchDone {
    let attr = MapBatchAttr {
        in_batch: b.from.map_or(0, or_null),
        out_batch: or_null_mut(b.next),
        keys: or_null_mut(b.keys),
        values: or_null_mut(b.values),
        count,
        ..Default::default()
    };
    let cmd = if delete {
        Cmd::MapLookupAndDeleteBatch
    } else {
        Cmd::MapLookupBatch
    };
    batch(cmd, map, attr)
}

/// BPF_MAP_UPDATE_BATCH of `count` keys and values (BPF_ANY each).
///
/// # Safety
///
/// `keys` must hold `count * key_size` bytes and `values` `count *
/// bpf_map_value_size` bytes.
pub unsafe fn map_update_batch(
    map: BorrowedFd<'_>,
    keys: &[u8],
    values: &[u8],
    count: u32,
) -> BatchDone {
    let attr = MapBatchAttr {
        keys: or_null(keys),
        values: or_null(values),
        count,
        ..Default::default()
    };
    batch(Cmd::MapUpdateBatch, map, attr)
}

/// BPF_MAP_DELETE_BATCH of `count` keys.
///
/// # Safety
///
/// `keys` must hold `count * key_size` bytes.
pub unsafe fn map_delete_batch(map: BorrowedFd<'_>, keys: &[u8], count: u32) -> BatchDone {
    let attr = MapBatchAttr {
        keys: or_null(keys),
        count,
        ..Default::default()
    };
    batch(Cmd::MapDeleteBatch, map, attr)
}

// ---------------------------------------------------------------- checked

/// How BPF_MAP_UPDATE_ELEM treats an existing element.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UpdateFlags {
    /// `BPF_ANY`: create it or replace it.
    #[default]
    Any,
    /// `BPF_NOEXIST`: create it only if the key is not there (EEXIST).
    NoExist,
    /// `BPF_EXIST`: replace it only if the key is there (ENOENT); for a
    /// queue or stack, push even when full, dropping the oldest.
    Exist,
}

impl UpdateFlags {
    /// The uapi value.
    pub fn bits(self) -> u64 {
        match self {
            UpdateFlags::Any => 0,
            UpdateFlags::NoExist => 1,
            UpdateFlags::Exist => 2,
        }
    }
}

/// Why a checked map call failed.
#[derive(Debug)]
pub enum MapCallError {
    /// A buffer's length is not what the kernel copies for this map; the
    /// call was not made.
    Length {
        /// Which buffer: "key", "value", "keys", "values", "batch token".
        what: &'static str,
        /// Its length.
        len: usize,
        /// The length the kernel copies.
        want: usize,
    },
    /// The system call failed (or the CPU count could not be read).
    Os(io::Error),
}

impl fmt::Display for MapCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapCallError::Length { what, len, want } => {
                write!(f, "the {what} is {len} bytes, the map's is {want}")
            }
            MapCallError::Os(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for MapCallError {}

impl From<io::Error> for MapCallError {
    fn from(e: io::Error) -> MapCallError {
        MapCallError::Os(e)
    }
}

impl From<MapCallError> for io::Error {
    fn from(e: MapCallError) -> io::Error {
        match e {
            MapCallError::Os(e) => e,
            e => io::Error::new(io::ErrorKind::InvalidInput, e.to_string()),
        }
    }
}

fn check(what: &'static str, len: usize, want: usize) -> Result<(), MapCallError> {
    if len == want {
        Ok(())
    } else {
        Err(MapCallError::Length { what, len, want })
    }
}

fn overflow() -> MapCallError {
    MapCallError::Os(io::Error::from_raw_os_error(libc::EOVERFLOW))
}

/// `a * b`, or EOVERFLOW.
fn times(a: usize, b: usize) -> Result<usize, MapCallError> {
    a.checked_mul(b).ok_or_else(overflow)
}

/// The value bytes of one element: `exact` is what callers pass and get
/// (`bpf_map_value_size` with the possible CPUs as counted), `room` what
/// the kernel is given (the per-CPU part sized by the kernel's CPU bound,
/// see `sys::cpus`). They differ only for per-CPU maps on a machine whose
/// CPU ids do not fill a multiple of 64.
#[derive(Clone, Copy, Debug)]
struct ValueLens {
    exact: usize,
    room: usize,
}

/// A map fd with the sizes the kernel keeps for the map (see the module
/// doc). Every call checks its buffers against them first.
#[derive(Debug)]
pub struct SizedMap {
    fd: OwnedFd,
    map_type: MapType,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    flags: MapFlags,
}

/// Whether elements of maps of type `t` hold one value per possible CPU
/// (the kernel's list in `bpf_map_value_size`).
pub fn is_per_cpu(t: MapType) -> bool {
    matches!(
        t,
        MapType::PERCPU_HASH
            | MapType::LRU_PERCPU_HASH
            | MapType::PERCPU_ARRAY
            | MapType::PERCPU_CGROUP_STORAGE
    )
}

/// Whether maps of type `t` hold programs or maps: a u32 fd goes in, a
/// u32 id comes out (`IS_FD_MAP` in kernel/bpf/syscall.c).
pub fn holds_fds(t: MapType) -> bool {
    matches!(
        t,
        MapType::PERF_EVENT_ARRAY
            | MapType::CGROUP_ARRAY
            | MapType::ARRAY_OF_MAPS
            | MapType::PROG_ARRAY
            | MapType::HASH_OF_MAPS
    )
}

impl SizedMap {
    /// BPF_MAP_CREATE; the kernel keeps the attr's sizes as they are.
    pub fn create(attr: &MapCreateAttr) -> io::Result<SizedMap> {
        let fd = map_create(attr)?;
        Ok(SizedMap {
            fd,
            map_type: MapType(attr.map_type),
            key_size: attr.key_size,
            value_size: attr.value_size,
            max_entries: attr.max_entries,
            flags: MapFlags::from_bits_retain(attr.map_flags),
        })
    }

    /// A map fd, sized by OBJ_GET_INFO_BY_FD, with that info. An fd that is
    /// no bpf object fails here (EINVAL, `bpf_obj_get_info_by_fd`); one
    /// that is another kind of bpf object passes, but every map command
    /// refuses it (EINVAL, `__bpf_map_get`) and so does mmap (ENODEV: no
    /// mmap in its file operations), so sizes misread from it reach no
    /// buffer.
    pub fn from_fd(fd: OwnedFd) -> io::Result<(SizedMap, MapInfo)> {
        let info = map_info(fd.as_fd())?;
        let map = SizedMap {
            fd,
            map_type: MapType(info.map_type),
            key_size: info.key_size,
            value_size: info.value_size,
            max_entries: info.max_entries,
            flags: MapFlags::from_bits_retain(info.map_flags),
        };
        Ok((map, info))
    }

    /// The map's fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// `map_type`.
    pub fn map_type(&self) -> MapType {
        self.map_type
    }

    /// `key_size`.
    pub fn key_size(&self) -> u32 {
        self.key_size
    }

    /// `value_size`: of one CPU's value, for a per-CPU map.
    pub fn value_size(&self) -> u32 {
        self.value_size
    }

    /// `max_entries`.
    pub fn max_entries(&self) -> u32 {
        self.max_entries
    }

    /// `map_flags`.
    pub fn flags(&self) -> MapFlags {
        self.flags
    }

    /// Whether an element holds one value per possible CPU.
    pub fn is_per_cpu(&self) -> bool {
        is_per_cpu(self.map_type)
    }

    /// The bytes one element's value takes in a call: `bpf_map_value_size`
    /// (for a per-CPU map, the possible CPUs' values, each rounded up to 8).
    pub fn value_len(&self) -> Result<usize, MapCallError> {
        Ok(self.value_lens()?.exact)
    }

    fn value_lens(&self) -> Result<ValueLens, MapCallError> {
        // A type this table does not know might copy more than value_size
        // (a per-CPU type of a newer kernel): no call on it.
        if self.map_type.name().is_none() {
            return Err(MapCallError::Os(io::Error::from_raw_os_error(
                libc::EOPNOTSUPP,
            )));
        }
        let size = self.value_size as usize;
        if self.is_per_cpu() {
            let cpus = super::possible_cpus()?;
            let stride = size.checked_next_multiple_of(8).ok_or_else(overflow)?;
            return Ok(ValueLens {
                exact: times(stride, cpus.count as usize)?,
                room: times(stride, cpus.bound as usize)?,
            });
        }
        if holds_fds(self.map_type) {
            // The kernel refuses any other value_size for these; the room
            // covers it all the same.
            return Ok(ValueLens {
                exact: 4,
                room: size.max(4),
            });
        }
        Ok(ValueLens {
            exact: size,
            room: size,
        })
    }

    fn check_key(&self, key: &[u8]) -> Result<(), MapCallError> {
        check("key", key.len(), self.key_size as usize)
    }

    /// `value` laid out in the room the kernel is given: as is, or (per-CPU
    /// values, see [`ValueLens`]) copied and padded with zeros.
    fn with_room<'v>(value: &'v [u8], room: usize) -> std::borrow::Cow<'v, [u8]> {
        if value.len() >= room {
            return value.into();
        }
        let mut padded = value.to_vec();
        padded.resize(room, 0);
        padded.into()
    }
}

/// ENOENT as None: "no such element" (lookups, a queue's pop) and "no key
/// after this one" (the end of a walk).
fn found<T>(r: io::Result<()>, value: T) -> Result<Option<T>, MapCallError> {
    match r {
        Ok(()) => Ok(Some(value)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl SizedMap {
    /// The value of `key` (`bpf_map_value_size` bytes), or None. An empty
    /// key peeks at a queue or stack.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapCallError> {
        self.check_key(key)?;
        let lens = self.value_lens()?;
        let mut value = vec![0u8; lens.room];
        // SAFETY: `key` is key_size bytes (checked) and `value` has room
        // for bpf_map_value_size bytes (`ValueLens::room`).
        let r = unsafe { map_lookup_elem(self.fd(), key, &mut value) };
        value.truncate(lens.exact);
        found(r, value)
    }

    /// Sets `key` to `value` (`bpf_map_value_size` bytes). An empty key
    /// pushes onto a queue, stack or bloom filter.
    pub fn update(&self, key: &[u8], value: &[u8], flags: UpdateFlags) -> Result<(), MapCallError> {
        self.check_key(key)?;
        let lens = self.value_lens()?;
        check("value", value.len(), lens.exact)?;
        let value = Self::with_room(value, lens.room);
        // SAFETY: `key` is key_size bytes and `value` at least
        // bpf_map_value_size bytes (checked, then padded to the room).
        unsafe { map_update_elem(self.fd(), key, &value, flags.bits()) }.map_err(Into::into)
    }

    /// Deletes `key`; false if it was not there.
    pub fn delete(&self, key: &[u8]) -> Result<bool, MapCallError> {
        self.check_key(key)?;
        // SAFETY: `key` is key_size bytes (checked).
        let r = unsafe { map_delete_elem(self.fd(), key) };
        Ok(found(r, ())?.is_some())
    }

    /// The key after `key` (the first for None), or None at the end.
    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, MapCallError> {
        if let Some(key) = key {
            self.check_key(key)?;
        }
        let mut next = vec![0u8; self.key_size as usize];
        // SAFETY: `key` and `next` are key_size bytes (checked, allocated).
        let r = unsafe { map_get_next_key(self.fd(), key, &mut next) };
        found(r, next)
    }

    /// The value of `key`, deleted from the map; None if there was none.
    /// An empty key pops from a queue or stack.
    pub fn lookup_and_delete(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapCallError> {
        self.check_key(key)?;
        let lens = self.value_lens()?;
        let mut value = vec![0u8; lens.room];
        // SAFETY: as in `lookup`.
        let r = unsafe { map_lookup_and_delete_elem(self.fd(), key, &mut value) };
        value.truncate(lens.exact);
        found(r, value)
    }
}

/// What a checked lookup batch returns: `count` keys and values, laid end
/// to end, and the position to go on from.
#[derive(Debug)]
pub struct BatchLookup {
    /// `count * key_size` bytes.
    pub keys: Vec<u8>,
    /// `count * value_len()` bytes.
    pub values: Vec<u8>,
    /// The elements copied.
    pub count: u32,
    /// Where the next batch starts (`batch_token_len()` bytes).
    pub next: Vec<u8>,
    /// Whether the walk reached the end of the map (ENOENT).
    pub done: bool,
}

impl SizedMap {
    /// The length of a batch position: `max(key_size, 4)`, room for both
    /// kinds the kernel uses (see the module doc).
    pub fn batch_token_len(&self) -> usize {
        (self.key_size as usize).max(4)
    }

    /// Up to `count` elements from position `from` (a previous batch's
    /// `next`; None for the beginning), deleted from the map if `delete`.
    pub fn lookup_batch(
        &self,
        from: Option<&[u8]>,
        count: u32,
        delete: bool,
    ) -> Result<BatchLookup, MapCallError> {
        let token = self.batch_token_len();
        if let Some(from) = from {
            check("batch token", from.len(), token)?;
        }
        let lens = self.value_lens()?;
        let key_size = self.key_size as usize;
        let mut keys = vec![0u8; times(count as usize, key_size)?];
        let mut values = vec![0u8; times(count as usize, lens.room)?];
        let mut next = vec![0u8; token];
        let buffers = BatchBuffers {
            from,
            next: &mut next,
            keys: &mut keys,
            values: &mut values,
        };
        // SAFETY: keys and values have room for `count` elements of the
        // kernel's sizes, the tokens max(key_size, 4) bytes (checked, allocated).
        let done = unsafe { map_lookup_batch(self.fd(), buffers, count, delete) };
        let end = match done.result {
            Ok(()) => false,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => true,
            Err(e) => return Err(e.into()),
        };
        let n = (done.count as usize).min(count as usize);
        keys.truncate(n * key_size);
        values.truncate(n * lens.exact);
        Ok(BatchLookup {
            keys,
            values,
            count: n as u32,
            next,
            done: end,
        })
    }

    /// Sets `count` keys (laid end to end) to `count` values (BPF_ANY);
    /// returns how many were set, which is `count` unless it failed.
    pub fn update_batch(
        &self,
        keys: &[u8],
        values: &[u8],
        count: u32,
    ) -> Result<u32, MapCallError> {
        let lens = self.value_lens()?;
        check(
            "keys",
            keys.len(),
            times(count as usize, self.key_size as usize)?,
        )?;
        check("values", values.len(), times(count as usize, lens.exact)?)?;
        let values = Self::with_room(values, times(count as usize, lens.room)?);
        // SAFETY: both buffers hold `count` elements of the kernel's sizes
        // (checked, then padded to the room).
        let done = unsafe { map_update_batch(self.fd(), keys, &values, count) };
        done.result?;
        Ok(done.count)
    }

    /// Deletes `count` keys laid end to end; returns how many were deleted.
    pub fn delete_batch(&self, keys: &[u8], count: u32) -> Result<u32, MapCallError> {
        check(
            "keys",
            keys.len(),
            times(count as usize, self.key_size as usize)?,
        )?;
        // SAFETY: `keys` holds `count` keys of key_size bytes (checked).
        let done = unsafe { map_delete_batch(self.fd(), keys, count) };
        done.result?;
        Ok(done.count)
    }

    /// Maps the values of an ARRAY created BPF_F_MMAPABLE (see
    /// `sys::mmap`), read-only unless `writable`. Other maps are refused
    /// (EINVAL): only an array's values are memory that is all there for
    /// as long as the mapping lives.
    pub fn mmap(&self, writable: bool) -> io::Result<super::MapMmap> {
        if self.map_type != MapType::ARRAY || !self.flags.contains(MapFlags::MMAPABLE) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let elem = (self.value_size as usize).checked_next_multiple_of(8);
        let len = elem
            .and_then(|e| e.checked_mul(self.max_entries as usize))
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EOVERFLOW))?;
        // SAFETY: the fd is an ARRAY map created BPF_F_MMAPABLE (a kernel
        // that refused mmap on it fails the call), and `len` is its values'
        // size, max_entries * round_up(value_size, 8).
        unsafe { super::mmap::mmap_map(self.fd(), len, writable) }
    }
}

impl AsFd for SizedMap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_cpu_and_fd_map_types_are_the_kernels() {
        for t in [6, 5, 10, 21] {
            assert!(is_per_cpu(MapType(t)), "{}", MapType(t));
        }
        assert!(!is_per_cpu(MapType::ARRAY) && !is_per_cpu(MapType::HASH));
        for t in [4, 8, 12, 3, 13] {
            assert!(holds_fds(MapType(t)), "{}", MapType(t));
        }
        assert!(
            !holds_fds(MapType::SOCKMAP),
            "a sockmap's value is value_size"
        );
        assert_eq!(UpdateFlags::default().bits(), 0);
        assert_eq!(
            (UpdateFlags::NoExist.bits(), UpdateFlags::Exist.bits()),
            (1, 2)
        );
    }
}
