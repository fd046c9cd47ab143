//! The system-call layer: the only module with `unsafe` in it.
//!
//! The kernel's single entry point is `bpf(cmd, attr, size)`, where `attr` is a
//! `union bpf_attr` whose meaning depends on `cmd` (include/uapi/linux/bpf.h).
//! Each command gets its own `#[repr(C)]` struct that stops at the last field we
//! use: the kernel requires every byte past the fields it knows to be zero
//! (`bpf_check_uarg_tail_zero` in kernel/bpf/syscall.c), so sending only what we
//! set keeps older kernels happy. Each wrapper only fills fields and calls; policy
//! (retry with a log, EAGAIN) lives one level up, in exactly one place each.
//!
//! Every file descriptor that comes back is an [`OwnedFd`], moved above fd 2
//! first: several attr fields read fd 0 as "none", and a tool started from an
//! initramfs may have stdio closed, so a kernel object must never sit on 0, 1 or 2.

use std::cell::RefCell;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use bitflags::bitflags;

/// The bpf() commands rawbpf uses (`enum bpf_cmd`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Cmd {
    MapCreate = 0,
    MapLookupElem = 1,
    MapUpdateElem = 2,
    MapDeleteElem = 3,
    MapGetNextKey = 4,
    ProgLoad = 5,
    ObjPin = 6,
    ObjGet = 7,
    ProgAttach = 8,
    ProgDetach = 9,
    ProgTestRun = 10,
    ProgGetFdById = 13,
    MapGetFdById = 14,
    ObjGetInfoByFd = 15,
    ProgQuery = 16,
    BtfLoad = 18,
    BtfGetFdById = 19,
    MapFreeze = 22,
    LinkCreate = 28,
    LinkGetFdById = 30,
    LinkDetach = 34,
}

impl Cmd {
    /// The uapi name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Cmd::MapCreate => "BPF_MAP_CREATE",
            Cmd::MapLookupElem => "BPF_MAP_LOOKUP_ELEM",
            Cmd::MapUpdateElem => "BPF_MAP_UPDATE_ELEM",
            Cmd::MapDeleteElem => "BPF_MAP_DELETE_ELEM",
            Cmd::MapGetNextKey => "BPF_MAP_GET_NEXT_KEY",
            Cmd::ProgLoad => "BPF_PROG_LOAD",
            Cmd::ObjPin => "BPF_OBJ_PIN",
            Cmd::ObjGet => "BPF_OBJ_GET",
            Cmd::ProgAttach => "BPF_PROG_ATTACH",
            Cmd::ProgDetach => "BPF_PROG_DETACH",
            Cmd::ProgTestRun => "BPF_PROG_TEST_RUN",
            Cmd::ProgGetFdById => "BPF_PROG_GET_FD_BY_ID",
            Cmd::MapGetFdById => "BPF_MAP_GET_FD_BY_ID",
            Cmd::ObjGetInfoByFd => "BPF_OBJ_GET_INFO_BY_FD",
            Cmd::ProgQuery => "BPF_PROG_QUERY",
            Cmd::BtfLoad => "BPF_BTF_LOAD",
            Cmd::BtfGetFdById => "BPF_BTF_GET_FD_BY_ID",
            Cmd::MapFreeze => "BPF_MAP_FREEZE",
            Cmd::LinkCreate => "BPF_LINK_CREATE",
            Cmd::LinkGetFdById => "BPF_LINK_GET_FD_BY_ID",
            Cmd::LinkDetach => "BPF_LINK_DETACH",
        }
    }
}

/// One bpf() call in the call log: the command, and the wall time the call
/// took (nearly all of it in the kernel: verification, for a program).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    pub cmd: Cmd,
    pub nanos: u64,
}

thread_local! {
    static CALL_LOG: RefCell<Option<Vec<Call>>> = const { RefCell::new(None) };
}

/// Starts recording, on this thread, every bpf() command issued.
pub fn start_call_log() {
    CALL_LOG.with(|log| *log.borrow_mut() = Some(Vec::new()));
}

/// Stops recording and returns the commands issued on this thread since
/// [`start_call_log`].
pub fn take_call_log() -> Vec<Cmd> {
    take_timed_call_log().into_iter().map(|c| c.cmd).collect()
}

/// [`take_call_log`] with the time each call took.
pub fn take_timed_call_log() -> Vec<Call> {
    CALL_LOG.with(|log| log.borrow_mut().take().unwrap_or_default())
}

/// Whether this thread records its calls (a worker thread started for it
/// records its own and hands them back with [`extend_call_log`]).
pub fn call_log_active() -> bool {
    CALL_LOG.with(|log| log.borrow().is_some())
}

/// Appends calls another thread made on this thread's behalf.
pub fn extend_call_log(calls: Vec<Call>) {
    CALL_LOG.with(|log| {
        if let Some(log) = log.borrow_mut().as_mut() {
            log.extend(calls);
        }
    });
}

/// Issues `bpf(cmd, attr, sizeof(attr))`.
fn bpf<T>(cmd: Cmd, attr: &mut T) -> io::Result<i64> {
    let start = call_log_active().then(std::time::Instant::now);
    // SAFETY: `attr` is a live, initialised #[repr(C)] struct of exactly the
    // size we pass; every pointer inside it was set by a wrapper below from a
    // slice that outlives this call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as u32 as libc::c_long,
            attr as *mut T as *mut libc::c_void,
            size_of::<T>() as libc::c_long,
        )
    };
    let result = if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as i64)
    };
    if let Some(start) = start {
        let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        CALL_LOG.with(|log| {
            if let Some(log) = log.borrow_mut().as_mut() {
                log.push(Call { cmd, nanos });
            }
        });
    }
    result
}

/// Takes ownership of a new fd, moving it above stdio first (see module doc).
fn owned_fd(raw: i64) -> io::Result<OwnedFd> {
    let raw = raw as RawFd;
    // SAFETY: the kernel just handed us this fd; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    if raw > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC only reads `fd`; on success the result is a new fd we own.
    let high = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if high < 0 {
        return Err(io::Error::last_os_error());
    }
    // `fd` (0, 1 or 2) is closed when it drops here.
    // SAFETY: `high` is a fresh fd from fcntl.
    Ok(unsafe { OwnedFd::from_raw_fd(high) })
}

fn ptr<T>(slice: &[T]) -> u64 {
    slice.as_ptr() as usize as u64
}

fn ptr_mut<T>(slice: &mut [T]) -> u64 {
    slice.as_mut_ptr() as usize as u64
}

fn fd(fd: BorrowedFd<'_>) -> u32 {
    fd.as_raw_fd() as u32
}

/// Asserts at compile time that a struct matches the uapi layout.
macro_rules! layout {
    ($ty:ty, size $size:expr, $($field:ident @ $off:expr),* $(,)?) => {
        const _: () = {
            assert!(size_of::<$ty>() == $size);
            $(assert!(offset_of!($ty, $field) == $off);)*
        };
    };
}

bitflags! {
    /// `map_flags` of BPF_MAP_CREATE.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct MapFlags: u32 {
        const NO_PREALLOC = 1 << 0;
        const RDONLY = 1 << 3;
        const WRONLY = 1 << 4;
        /// Programs may only read the map (a `.rodata` section).
        const RDONLY_PROG = 1 << 7;
        const WRONLY_PROG = 1 << 8;
        const MMAPABLE = 1 << 10;
        const _ = !0;
    }
}

bitflags! {
    /// `prog_flags` of BPF_PROG_LOAD.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct ProgFlags: u32 {
        const STRICT_ALIGNMENT = 1 << 0;
        const SLEEPABLE = 1 << 4;
        const XDP_HAS_FRAGS = 1 << 5;
        const _ = !0;
    }
}

bitflags! {
    /// `attach_flags` of BPF_PROG_ATTACH for cgroups.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct AttachFlags: u32 {
        const ALLOW_OVERRIDE = 1 << 0;
        const ALLOW_MULTI = 1 << 1;
        const REPLACE = 1 << 2;
        const _ = !0;
    }
}

bitflags! {
    /// `file_flags` of BPF_OBJ_GET.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct ObjGetFlags: u32 {
        const RDONLY = 1 << 3;
        const WRONLY = 1 << 4;
        const _ = !0;
    }
}

/// BPF_MAP_UPDATE_ELEM flags.
pub const BPF_ANY: u64 = 0;

// The commands, by what they act on; each file's items are re-exported here.
mod cmd;
mod info;
mod os;

pub use cmd::*;
pub use info::*;
pub use os::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_keep_only_what_the_kernel_accepts() {
        assert_eq!(&object_name("hmap")[..5], b"hmap\0");
        assert_eq!(&object_name(".rodata.str1.1")[..15], b".rodata.str1.1\0");
        // 15 characters at most, always NUL-terminated.
        let long = object_name("a_very_long_program_name");
        assert_eq!(&long[..15], b"a_very_long_pro");
        assert_eq!(long[15], 0);
        assert_eq!(&object_name("x-y/z")[..4], b"xyz\0");
    }

    #[test]
    fn cmd_numbers_match_the_uapi_enum() {
        assert_eq!(Cmd::MapCreate as u32, 0);
        assert_eq!(Cmd::ProgLoad as u32, 5);
        assert_eq!(Cmd::ObjGetInfoByFd as u32, 15);
        assert_eq!(Cmd::BtfLoad as u32, 18);
        assert_eq!(Cmd::MapFreeze as u32, 22);
        assert_eq!(Cmd::LinkCreate as u32, 28);
        assert_eq!(Cmd::LinkDetach as u32, 34);
    }
}
