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
//!
//! The kernel writes some answers back into the attr itself, at the offset of
//! the field in *its* `union bpf_attr`, whatever size the call passed:
//! `__cgroup_bpf_query` (kernel/bpf/cgroup.c, since 6.15) and `bpf_mprog_query`
//! (kernel/bpf/mprog.c, tcx and netkit) write `query.revision` at offset 56
//! of a command whose older fields end at 32. So every call hands the kernel
//! a zeroed [`ATTR_ROOM`]-byte block, three times the newest kernel's 168-byte
//! union, with the command's struct copied to its start: a field added past
//! ours lands in that block, never in our stack.
//!
//! # Soundness of the safe wrappers
//! A safe function here may not let the kernel read or write outside a Rust
//! buffer. Every pointer an attr carries comes from a slice, and the length
//! the kernel uses for it is that slice's own length (a length that does not
//! fit the field's u32 is refused, never cut), or the kernel reads a
//! NUL-terminated string from a `CStr`. A command whose bounds the arguments
//! alone cannot fix is an `unsafe fn` with a `# Safety` contract and a safe
//! wrapper that checks it first: [`prog_load_unchecked`] (the kernel reads
//! `fd_array` at indexes taken from the instructions) and
//! [`prog_test_run_unchecked`] (one program type reads pointers from the
//! context).

use std::cell::RefCell;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use bitflags::bitflags;

/// The bpf() commands (`enum bpf_cmd`), with their names.
pub use crate::uapi::Cmd;

/// One bpf() call in the call log: the command, and the wall time the call
/// took (nearly all of it in the kernel: verification, for a program), when
/// and on which thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    /// The command.
    pub cmd: Cmd,
    /// Wall time of the call, in nanoseconds.
    pub nanos: u64,
    /// When the call started, in nanoseconds since [`call_epoch`].
    pub at: u64,
    /// The thread that made it: 0 for the one that started the log, 1 and
    /// up for the parallel loader's helpers ([`set_log_thread`]).
    pub thread: u16,
}

thread_local! {
    static CALL_LOG: RefCell<Option<Vec<Call>>> = const { RefCell::new(None) };
    static LOG_THREAD: std::cell::Cell<u16> = const { std::cell::Cell::new(0) };
}

/// The instant the call log's times count from: the first
/// [`start_call_log`] of the process.
pub fn call_epoch() -> std::time::Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

/// Starts recording, on this thread, every bpf() command issued.
pub fn start_call_log() {
    call_epoch();
    CALL_LOG.with(|log| *log.borrow_mut() = Some(Vec::new()));
}

/// Numbers this thread's calls in the log (see [`Call::thread`]).
pub fn set_log_thread(thread: u16) {
    LOG_THREAD.with(|t| t.set(thread));
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

/// How many bytes every bpf() call gives the kernel to write into: room
/// for any `union bpf_attr` a kernel may know (168 bytes in Linux 6.18).
pub const ATTR_ROOM: usize = 512;

/// Issues `bpf(cmd, attr, sizeof(attr))`, with `attr` copied to the start
/// of a zeroed [`ATTR_ROOM`]-byte block (see the module doc) and the block's
/// first `sizeof(attr)` bytes copied back after the call.
///
/// `T` is one of this module's `#[repr(C)]` attr structs: integer fields
/// only, so any bytes the kernel writes into them are a valid value.
fn bpf<T>(cmd: Cmd, attr: &mut T) -> io::Result<i64> {
    const { assert!(size_of::<T>() <= ATTR_ROOM) };
    let start = (trace::tracing() || call_log_active()).then(std::time::Instant::now);
    let len = size_of::<T>();
    let mut room = [0u64; ATTR_ROOM / 8];
    // SAFETY: `len` bytes of a live `T` into the room, which is larger
    // (asserted above) and a distinct local.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (attr as *const T).cast::<u8>(),
            room.as_mut_ptr().cast(),
            len,
        )
    };
    // SAFETY: the kernel reads `len` bytes of the room and writes only
    // inside `union bpf_attr`, which fits in the room; every pointer in the
    // attr was set by a wrapper below from a slice (or CStr) that outlives
    // this call, with that slice's length.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as u32 as libc::c_long,
            room.as_mut_ptr() as *mut libc::c_void,
            len as libc::c_long,
        )
    };
    let ret = if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as i64)
    };
    // SAFETY: back into `attr`: `len` bytes, all initialised (ours, or
    // written by the kernel); `T` has integer fields only, so any bytes are
    // a valid `T`.
    unsafe {
        std::ptr::copy_nonoverlapping(room.as_ptr().cast::<u8>(), (attr as *mut T).cast(), len)
    };
    if let Some(start) = start {
        let elapsed = start.elapsed();
        trace::finish(elapsed, cmd, attr, &ret);
        log_call(cmd, start, elapsed);
    }
    ret
}

/// Notes a call in this thread's call log, if it keeps one. Not generic:
/// written once, not once per attr type.
#[inline(never)]
fn log_call(cmd: Cmd, start: std::time::Instant, elapsed: std::time::Duration) {
    let nanos = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    CALL_LOG.with(|log| {
        if let Some(log) = log.borrow_mut().as_mut() {
            log.push(Call {
                cmd,
                nanos: nanos(elapsed),
                at: nanos(start.saturating_duration_since(call_epoch())),
                thread: LOG_THREAD.with(std::cell::Cell::get),
            });
        }
    });
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

/// A slice length for a u32 attr field: one the field cannot hold is
/// refused (E2BIG), never cut.
fn len32(len: usize) -> io::Result<u32> {
    u32::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))
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
        /// `BPF_F_NO_PREALLOC`: allocate hash entries on demand.
        const NO_PREALLOC = 1 << 0;
        /// `BPF_F_RDONLY`: user space may only read.
        const RDONLY = 1 << 3;
        /// `BPF_F_WRONLY`: user space may only write.
        const WRONLY = 1 << 4;
        /// Programs may only read the map (a `.rodata` section).
        const RDONLY_PROG = 1 << 7;
        /// `BPF_F_WRONLY_PROG`: programs may only write.
        const WRONLY_PROG = 1 << 8;
        /// `BPF_F_MMAPABLE`: an ARRAY user space can mmap.
        const MMAPABLE = 1 << 10;
        const _ = !0;
    }
}

bitflags! {
    /// `prog_flags` of BPF_PROG_LOAD.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct ProgFlags: u32 {
        /// `BPF_F_STRICT_ALIGNMENT`.
        const STRICT_ALIGNMENT = 1 << 0;
        /// `BPF_F_SLEEPABLE`: the program may sleep (`.s` sections).
        const SLEEPABLE = 1 << 4;
        /// `BPF_F_XDP_HAS_FRAGS`: the XDP program handles multi-buffer packets.
        const XDP_HAS_FRAGS = 1 << 5;
        const _ = !0;
    }
}

bitflags! {
    /// `attach_flags` of BPF_PROG_ATTACH for cgroups.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct AttachFlags: u32 {
        /// `BPF_F_ALLOW_OVERRIDE`: a descendant cgroup may override this program.
        const ALLOW_OVERRIDE = 1 << 0;
        /// `BPF_F_ALLOW_MULTI`: several programs per cgroup and attach type.
        const ALLOW_MULTI = 1 << 1;
        /// `BPF_F_REPLACE`: replace a given program.
        const REPLACE = 1 << 2;
        const _ = !0;
    }
}

bitflags! {
    /// `file_flags` of BPF_OBJ_GET and BPF_OBJ_PIN.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct ObjGetFlags: u32 {
        /// `BPF_F_RDONLY`: open for reading only.
        const RDONLY = 1 << 3;
        /// `BPF_F_WRONLY`: open for writing only.
        const WRONLY = 1 << 4;
        /// `BPF_F_PATH_FD` (Linux 6.5): `pathname` is relative to `path_fd`.
        const PATH_FD = 1 << 14;
        const _ = !0;
    }
}

bitflags! {
    /// `flags` of BPF_PROG_TEST_RUN.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct TestRunFlags: u32 {
        /// `BPF_F_TEST_RUN_ON_CPU`: run on the CPU in `cpu` (raw
        /// tracepoints).
        const ON_CPU = 1 << 0;
        /// `BPF_F_TEST_XDP_LIVE_FRAMES`: XDP frames really go where the
        /// program sends them; no packet or context comes back.
        const XDP_LIVE_FRAMES = 1 << 1;
        /// `BPF_F_TEST_SKB_CHECKSUM_COMPLETE`: the skb has a complete checksum.
        const SKB_CHECKSUM_COMPLETE = 1 << 2;
        const _ = !0;
    }
}

// The commands, by what they act on; each file's items are re-exported here.
mod alloc;
mod cmd;
mod cpus;
mod info;
mod map;
mod mmap;
mod os;
mod pod;
mod trace;

pub use alloc::ReusingAllocator;
pub use cmd::*;
pub use cpus::*;
pub use info::*;
pub use map::*;
pub use mmap::*;
pub use os::*;
pub use pod::*;
pub use trace::{set_trace, tracing};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placed_helper_runs_on_its_cpu() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let cpus = CpuSet::of_this_thread().unwrap().cpus();
        let target = *cpus.last().expect("at least one allowed CPU");
        // The helper looks only once this thread's part has begun, which is
        // after run_placed placed it.
        let placed = AtomicBool::new(false);
        let seen = std::sync::Mutex::new(None);
        let helper = || {
            while !placed.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
            *seen.lock().unwrap() = current_cpu();
        };
        let mine = run_placed(&[target], 64 * 1024, &helper, || {
            placed.store(true, Ordering::Release);
            7
        });
        assert_eq!(mine, 7);
        assert_eq!(*seen.lock().unwrap(), Some(target), "allowed: {cpus:?}");
    }

    #[test]
    fn placing_helpers_never_pins_the_caller() {
        let cpus = CpuSet::of_this_thread().unwrap().cpus();
        let target = *cpus.last().expect("at least one allowed CPU");
        // Helpers that finish at once: a placement made after a helper had
        // exited would act on this thread instead.
        for _ in 0..10_000 {
            run_placed(&[target], 64 * 1024, &|| {}, || {});
        }
        assert_eq!(CpuSet::of_this_thread().unwrap().cpus(), cpus);
        assert!(CpuSet::only(8 * std::mem::size_of::<libc::cpu_set_t>()).is_none());
    }

    #[test]
    fn fd_array_indexes_past_the_end_are_found() {
        use rawbpf_asm::{pseudo, Insn};
        let map_idx = |src, index: i32| Insn::ld_imm64(1, src, u64::from(index as u32));
        let mut insns = vec![Insn::mov64_imm(0, 0)];
        insns.extend(map_idx(pseudo::MAP_IDX, 1));
        insns.push(Insn::call_module_kfunc(7, 2));
        insns.extend(map_idx(pseudo::MAP_IDX_VALUE, 0));
        insns.push(Insn::exit());
        let bytes = rawbpf_asm::encode(&insns);
        // Indexes 1 (insn 1), 2 (insn 3) and 0 (insn 4) are used.
        assert_eq!(fd_array_overrun(&bytes, 3), None);
        let overrun = fd_array_overrun(&bytes, 2).unwrap();
        assert_eq!((overrun.insn, overrun.index, overrun.len), (3, 2, 2));
        assert_eq!(
            overrun.to_string(),
            "insn 3 uses fd_array[2], but fd_array has 2 entries"
        );
        assert_eq!(fd_array_overrun(&bytes, 1).unwrap().insn, 1);
        assert_eq!(fd_array_overrun(&bytes, 0).unwrap().insn, 1);
        // A kfunc of vmlinux (off 0) and a map by fd use no index.
        let plain = rawbpf_asm::encode(&[
            Insn::call_kfunc(7),
            Insn::ld_map_fd(1, 5)[0],
            Insn::ld_map_fd(1, 5)[1],
            Insn::exit(),
        ]);
        assert_eq!(fd_array_overrun(&plain, 0), None);
        // A negative index (imm) is a huge one, as the kernel reads it.
        let negative = rawbpf_asm::encode(&map_idx(pseudo::MAP_IDX, -1));
        assert_eq!(fd_array_overrun(&negative, 8).unwrap().index, u32::MAX);
    }

    #[test]
    fn a_context_is_sent_only_to_program_types_that_read_it_as_data() {
        use crate::uapi::prog_type as pt;
        assert!(!cmd::ctx_is_plain_data(pt::STRUCT_OPS));
        // Not yet read: refused until someone reads its test run.
        assert!(!cmd::ctx_is_plain_data(999));
        for t in [
            pt::SCHED_CLS,
            pt::XDP,
            pt::SK_LOOKUP,
            pt::SYSCALL,
            pt::RAW_TRACEPOINT,
        ] {
            assert!(cmd::ctx_is_plain_data(t), "{t}");
        }
    }

    #[test]
    fn calls_that_would_read_a_missing_argument_or_reach_too_far_are_refused() {
        let refused = |r: io::Result<()>| r.unwrap_err().kind() == io::ErrorKind::InvalidInput;
        let dir = std::env::temp_dir();
        let path = dir.join(format!("rawbpf-open-{}", std::process::id()));
        let path = path.to_str().unwrap();
        assert!(refused(
            open(path, libc::O_WRONLY | libc::O_CREAT).map(drop)
        ));
        assert!(!std::path::Path::new(path).exists(), "nothing was created");
        let tmpfile = open(dir.to_str().unwrap(), libc::O_RDWR | libc::O_TMPFILE);
        assert!(refused(tmpfile.map(drop)));
        // A directory opened with O_DIRECTORY is fine (O_TMPFILE contains it).
        open(dir.to_str().unwrap(), libc::O_RDONLY | libc::O_DIRECTORY).unwrap();
        assert!(refused(send_signal(0, 0)), "pid 0 is the whole group");
        assert!(refused(send_signal(u32::MAX, 0)), "-1 is every process");
        send_signal(std::process::id(), 0).unwrap();
        assert!(refused(install_stop_handlers(&[
            libc::SIGINT,
            libc::SIGSEGV
        ])));
    }

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
}
