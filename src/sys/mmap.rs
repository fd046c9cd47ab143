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

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

/// A mapping of a map's values, unmapped on drop.
#[derive(Debug)]
pub struct MapMmap {
    ptr: NonNull<u8>,
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

/// Maps the first `len` bytes (rounded up to a page) of the values of map
/// `map`, read-write if `writable`, shared with the kernel.
pub fn mmap_map(map: BorrowedFd<'_>, len: usize, writable: bool) -> io::Result<MapMmap> {
    let page = page_size();
    let len = len
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
            len,
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
    Ok(MapMmap { ptr, len, writable })
}

impl MapMmap {
    /// The mapped length in bytes (a whole number of pages).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is mapped (never: a mapping is at least a page).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `buf.len()` bytes starting at `offset` out of the mapping.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> io::Result<()> {
        self.check(offset, buf.len())?;
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: offset + i < len was checked, so the address is inside
            // the live mapping; a volatile read tolerates concurrent writes
            // by BPF programs.
            *b = unsafe { self.ptr.as_ptr().add(offset + i).read_volatile() };
        }
        Ok(())
    }

    /// Copies `bytes` into the mapping at `offset` (a writable mapping only).
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
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
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

/// Maps `file` (`len` bytes) read-only if it is on sysfs and the kernel
/// allows it; `None` otherwise (older kernels, other file systems: the
/// caller reads instead). Only sysfs files are mapped because only there is
/// the content known never to change under the mapping.
pub fn map_sysfs_file(file: BorrowedFd<'_>, len: usize) -> Option<SysfsMap> {
    const SYSFS_MAGIC: i64 = 0x6265_6572;
    if len == 0 || super::fd_fs_type(file).ok()? != SYSFS_MAGIC {
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
