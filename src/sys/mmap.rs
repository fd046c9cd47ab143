//! Memory-mapping a map: the values of a BPF_F_MMAPABLE ARRAY seen directly
//! as memory shared with the programs that use the map.
//!
//! `mmap(2)` on a map fd maps the array's values (`array_map_mmap` in
//! kernel/bpf/arraymap.c): the length must not exceed the values' size
//! rounded up to a page, a frozen map (or one created BPF_F_RDONLY) can only
//! be mapped read-only, and while a writable mapping exists BPF_MAP_FREEZE
//! fails with EBUSY. Programs may write the memory at any time, so it is read
//! and written here only through volatile copies, never handed out as a
//! Rust slice.
//!
//! What could fault: a file mapping faults (SIGBUS) where its file no longer
//! has pages, after a truncation. An array map cannot shrink: its values are
//! allocated whole, zeroed, when the map is created
//! (`bpf_map_area_mmapable_alloc`), and the mapping holds a reference to the
//! map (through the file), so every page stays until the mapping goes. Other
//! mmapable maps are different (an arena allocates pages on fault and may
//! refuse with SIGSEGV; a ring buffer maps its data twice), which is why
//! only an ARRAY is mapped here (`SizedMap::mmap`). Reads and writes are
//! also held to the values' bytes, not just to the whole pages mapped.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

/// A mapping of a map's values, unmapped on drop.
#[derive(Debug)]
pub struct MapMmap {
    ptr: NonNull<u8>,
    /// The mapped length: whole pages.
    mapped: usize,
    /// The values' bytes, at most `mapped`: what reads and writes may touch.
    len: usize,
    writable: bool,
}

// SAFETY: the mapping is plain shared memory owned by this value; moving it
// to another thread moves nothing thread-bound, and all access is by copies.
unsafe impl Send for MapMmap {}

/// The system's page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf takes no pointers; _SC_PAGESIZE is always answered.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

/// Maps the first `data_len` bytes (rounded up to a page) of the values of
/// map `map`, read-write if `writable`, shared with the kernel.
///
/// # Safety
///
/// `map` must be a BPF ARRAY map created BPF_F_MMAPABLE (or a bpf object the
/// kernel refuses to map), and `data_len` at most its values' size: only
/// then is every byte [`MapMmap`] reads or writes backed for as long as it
/// lives (see the module doc).
pub(super) unsafe fn mmap_map(
    map: BorrowedFd<'_>,
    data_len: usize,
    writable: bool,
) -> io::Result<MapMmap> {
    let page = page_size();
    let mapped = data_len
        .checked_next_multiple_of(page)
        .filter(|&l| l > 0)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    let prot = if writable {
        libc::PROT_READ | libc::PROT_WRITE
    } else {
        libc::PROT_READ
    };
    // SAFETY: a fresh mapping at an address the kernel picks (NULL hint), so
    // no existing memory is replaced; the fd is borrowed for the call only
    // (the mapping keeps its own reference to the map).
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            mapped,
            prot,
            libc::MAP_SHARED,
            map.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let ptr =
        NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::from_raw_os_error(libc::EFAULT))?;
    Ok(MapMmap {
        ptr,
        mapped,
        len: data_len,
        writable,
    })
}

impl MapMmap {
    /// The length of the map's values in bytes: `max_entries *
    /// round_up(value_size, 8)`. (The mapping itself is whole pages.)
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map has no value bytes (never: mmap refuses that).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `buf.len()` bytes starting at `offset` out of the mapping;
    /// ERANGE for a range past [`len`](Self::len).
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> io::Result<()> {
        self.check(offset, buf.len())?;
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: offset + i < len <= mapped was checked, so the address
            // is inside the live mapping; a volatile read tolerates concurrent writes
            // by BPF programs.
            *b = unsafe { self.ptr.as_ptr().add(offset + i).read_volatile() };
        }
        Ok(())
    }

    /// Copies `bytes` into the mapping at `offset` (a writable mapping only);
    /// ERANGE for a range past [`len`](Self::len).
    pub fn write(&self, offset: usize, bytes: &[u8]) -> io::Result<()> {
        if !self.writable {
            return Err(io::Error::from_raw_os_error(libc::EPERM));
        }
        self.check(offset, bytes.len())?;
        for (i, &b) in bytes.iter().enumerate() {
            // SAFETY: inside the live, writable mapping (checked above).
            unsafe { self.ptr.as_ptr().add(offset + i).write_volatile(b) };
        }
        Ok(())
    }

    fn check(&self, offset: usize, n: usize) -> io::Result<()> {
        match offset.checked_add(n) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(io::Error::from_raw_os_error(libc::ERANGE)),
        }
    }
}

impl Drop for MapMmap {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned and nothing else
        // refers to the mapping once its owner is gone.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.mapped) };
    }
}

/// A read-only private mapping of a whole file the kernel publishes in
/// sysfs (`/sys/kernel/btf/*`), unmapped on drop. sysfs hands such a file
/// out 4 KB per read(2); since Linux 6.16 the BTF files can be mapped
/// instead (`btf_sysfs_vmlinux_mmap` in kernel/bpf/sysfs_btf.c): the
/// kernel's own read-only pages, no copy, no read per page, and no growth
/// of this process's RSS.
#[derive(Debug)]
pub struct SysfsMap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a read-only private mapping owned by this value; nothing in it is
// bound to a thread.
unsafe impl Send for SysfsMap {}
// SAFETY: shared references only read the immutable mapping.
unsafe impl Sync for SysfsMap {}

/// Maps `file` (`len` bytes) read-only if it is one of the kernel's BTF
/// files in sysfs and the kernel allows it; `None` otherwise (older
/// kernels, other files: the caller reads instead).
///
/// Contract: [`SysfsMap::bytes`] is a `&[u8]` for as long as the mapping
/// lives, so no byte of it may ever fault or change. That holds for the
/// kernel's BTF: a fixed part of the kernel image, mapped page by page by
/// `btf_sysfs_vmlinux_mmap` (kernel/bpf/sysfs_btf.c), which refuses a
/// length past it. It does not hold for any file: a regular file can be
/// truncated under the mapping (SIGBUS), and other sysfs files map device
/// memory. So the file must be on sysfs (its fs magic), under
/// `/sys/kernel/btf/` (its path in /proc/self/fd, where /proc is mounted),
/// and `len` must be its size (fstat); else this returns None.
pub(crate) fn map_sysfs_file(file: BorrowedFd<'_>, len: usize) -> Option<SysfsMap> {
    const SYSFS_MAGIC: i64 = 0x6265_6572;
    if len == 0 || super::fd_fs_type(file).ok()? != SYSFS_MAGIC {
        return None;
    }
    let path = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
    if !path.starts_with("/sys/kernel/btf") || file_size(file)? != len {
        return None;
    }
    // SAFETY: a new private read-only mapping of `len` bytes of an open fd;
    // the kernel picks the address, and the result is checked below.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            file.as_raw_fd(),
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return None;
    }
    NonNull::new(ptr.cast()).map(|ptr| SysfsMap { ptr, len })
}

/// The size fstat(2) gives for `file`.
fn file_size(file: BorrowedFd<'_>) -> Option<usize> {
    // SAFETY: stat is plain data, all-zero is valid; fstat only writes it,
    // and `file` is open for the call.
    let (ret, st) = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        (libc::fstat(file.as_raw_fd(), &mut st), st)
    };
    (ret == 0).then(|| usize::try_from(st.st_size).ok())?
}

impl SysfsMap {
    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes for as long as `self`
        // lives; the kernel's BTF behind it never changes.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for SysfsMap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping this value owns, once.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}
