//! The few system calls besides bpf() that the loader and its tests need:
//! mounts, opening files, a child process inside a cgroup, signals, CPU
//! affinity, a network namespace of the selftest's own.

use std::ffi::CString;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use super::owned_fd;

/// The effective user id (0 = root).
pub fn geteuid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// Raises RLIMIT_MEMLOCK to infinity, soft and hard limit. Kernels before
/// 5.11 charge every map and program to it (later ones to the memory
/// cgroup), and its default of 64 KiB (8 MiB from 5.16) fits only a few
/// maps; libbpf raises it in the same way. Only root may raise the hard
/// limit: the caller ignores the EPERM an unprivileged user gets here.
pub fn raise_memlock_limit() -> io::Result<()> {
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit only reads the rlimit above, which lives across the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn cstring(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// Opens the name `path` itself with O_PATH and O_NOFOLLOW: an fd that
/// refers to whatever is there (a symlink stays a symlink) and that opens
/// nothing (a bpffs pin's own open is not called). Not through std's
/// OpenOptions: on musl, O_PATH is part of O_ACCMODE, which std masks out
/// of custom flags.
pub fn open_path_nofollow(path: &std::path::Path) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: the path is NUL-terminated and lives across the call.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    owned_fd(i64::from(fd))
}

/// mount(2) of a pseudo file system (`cgroup2`, `bpf`) with no options.
pub fn mount_fs(fstype: &str, target: &str) -> io::Result<()> {
    let fstype = cstring(fstype)?;
    let target = cstring(target)?;
    // SAFETY: all three strings are NUL-terminated and live across the call.
    let ret = unsafe {
        libc::mount(
            fstype.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Opens `path` with `flags` (O_CLOEXEC added), keeping the fd above stdio.
/// Opens only what exists: O_CREAT and O_TMPFILE, which make open(2) read
/// a mode argument this call does not pass, are refused (InvalidInput).
pub fn open(path: &str, flags: i32) -> io::Result<OwnedFd> {
    if flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "sys::open does not create files (O_CREAT and O_TMPFILE need a mode)",
        ));
    }
    let c = cstring(path)?;
    // Through openat(2), not open(2): musl's open() follows an O_CLOEXEC
    // open with fcntl(F_SETFD), for kernels older than 2.6.23.
    // SAFETY: `c` is NUL-terminated and outlives the call.
    let ret = unsafe { libc::openat(libc::AT_FDCWD, c.as_ptr(), flags | libc::O_CLOEXEC) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    owned_fd(ret as i64)
}

/// How a datagram sent from inside a cgroup fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// send() succeeded.
    Sent,
    /// send() failed with this errno (EPERM when a cgroup program dropped it).
    Failed(i32),
}

/// What a child process does from inside a cgroup, so that the cgroup's
/// programs see real events: always one UDP datagram (socket, connect, send:
/// sock_create, connect4 and egress hooks); optionally a getsockopt, a TCP
/// connect (sock_ops), opening /dev/null (device hook) and reading a sysctl.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Probe {
    /// Where to send one UDP datagram.
    pub udp: std::net::SocketAddr,
    /// Where to also open a TCP connection, if anywhere.
    pub tcp: Option<std::net::SocketAddr>,
    /// Whether to also open, write and rename a file (for LSM and sysctl hooks).
    pub touch_files: bool,
}

impl Probe {
    /// One UDP datagram to `udp`, nothing else.
    pub fn udp(udp: std::net::SocketAddr) -> Probe {
        Probe {
            udp,
            tcp: None,
            touch_files: false,
        }
    }
}

/// Runs `probe` from a child process moved into the cgroup directory
/// `cgroup` (by writing its pid to `cgroup.procs`): traffic the cgroup's
/// programs see, for the demo, the conformance suite and the tests.
pub fn probe_in_cgroup(cgroup: &std::path::Path, probe: &Probe) -> io::Result<SendOutcome> {
    let procs = std::fs::OpenOptions::new()
        .write(true)
        .open(cgroup.join("cgroup.procs"))?;
    probe_from_cgroup(procs.as_fd(), probe)
}

/// The probing child's exit statuses other than a send()'s errno.
const JOIN_FAILED: i32 = 250;
const SOCKET_FAILED: i32 = 251;
const CONNECT_FAILED: i32 = 252;

/// Everything the probing child touches, prepared before the fork so the
/// child allocates nothing.
struct ProbeMemory {
    udp: (libc::sockaddr_storage, libc::socklen_t, i32),
    tcp: Option<(libc::sockaddr_storage, libc::socklen_t, i32)>,
    touch_files: bool,
}

/// Forks a child that moves itself into the cgroup whose `cgroup.procs` is
/// open as `procs`, does what `probe` says and exits; returns what its UDP
/// send() saw. The child only makes async-signal-safe system calls on memory
/// prepared before the fork, so this is sound in a multi-threaded process.
pub fn probe_from_cgroup(procs: BorrowedFd<'_>, probe: &Probe) -> io::Result<SendOutcome> {
    let mem = ProbeMemory {
        udp: sockaddr(probe.udp),
        tcp: probe.tcp.map(sockaddr),
        touch_files: probe.touch_files,
    };
    // SAFETY: after fork the child runs only `probe_child`, whose calls are
    // async-signal-safe, on memory prepared before the fork; the parent
    // waits for it below.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: this is the child of the fork above; see probe_child.
        unsafe { probe_child(procs.as_raw_fd(), &mem) }
    }
    match wait_for_exit(pid)? {
        0 => Ok(SendOutcome::Sent),
        JOIN_FAILED => Err(io::Error::other("the child could not join the cgroup")),
        SOCKET_FAILED => Err(io::Error::other("the child could not open a UDP socket")),
        CONNECT_FAILED => Err(io::Error::other("the child's UDP connect() failed")),
        errno => Ok(SendOutcome::Failed(errno)),
    }
}

/// The probing child: joins the cgroup, does the probe, exits with the UDP
/// send()'s errno (0 when sent) or one of the statuses above.
///
/// # Safety
/// Only in the child of a fork: it calls nothing but write, open, read,
/// close, socket, getsockopt, connect, send and _exit, on `mem` and on
/// constants, and never returns.
unsafe fn probe_child(procs: RawFd, mem: &ProbeMemory) -> ! {
    // SAFETY: for every call below, each pointer refers to this process's
    // copy of memory set up before the fork, with the lengths given.
    unsafe {
        // Writing "0" moves the writing process itself into the cgroup.
        if libc::write(procs, b"0".as_ptr().cast(), 1) != 1 {
            libc::_exit(JOIN_FAILED);
        }
        if mem.touch_files {
            let mut buf = [0u8; 16];
            for path in [c"/dev/null", c"/proc/sys/kernel/ostype"] {
                let fd = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                if fd >= 0 {
                    libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
                    libc::close(fd);
                }
            }
        }
        let (udp, udp_len, udp_family) = &mem.udp;
        let s = libc::socket(*udp_family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if s < 0 {
            libc::_exit(SOCKET_FAILED);
        }
        let mut ty: libc::c_int = 0;
        let mut ty_len = size_of::<libc::c_int>() as libc::socklen_t;
        let ty_ptr = (&mut ty as *mut libc::c_int).cast();
        libc::getsockopt(s, libc::SOL_SOCKET, libc::SO_TYPE, ty_ptr, &mut ty_len);
        if libc::connect(s, (udp as *const libc::sockaddr_storage).cast(), *udp_len) < 0 {
            libc::_exit(CONNECT_FAILED);
        }
        let payload = b"rawbpf";
        let sent = libc::send(s, payload.as_ptr().cast(), payload.len(), 0);
        let code = if sent < 0 {
            *libc::__errno_location()
        } else {
            0
        };
        if let Some((tcp, tcp_len, tcp_family)) = &mem.tcp {
            let t = libc::socket(*tcp_family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            if t >= 0 {
                libc::connect(t, (tcp as *const libc::sockaddr_storage).cast(), *tcp_len);
                libc::close(t);
            }
        }
        libc::_exit(code.clamp(0, 249))
    }
}

/// Waits for the child `pid` and returns its exit status; an error if it
/// was killed.
fn wait_for_exit(pid: libc::pid_t) -> io::Result<i32> {
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child; `status` is a valid out pointer.
        let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
        if ret == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    if !libc::WIFEXITED(status) {
        return Err(io::Error::other("the probing child was killed"));
    }
    Ok(libc::WEXITSTATUS(status))
}

fn sockaddr(addr: std::net::SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t, i32) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        std::net::SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage, which is aligned for it.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in, sin) };
            (
                storage,
                size_of::<libc::sockaddr_in>() as u32,
                libc::AF_INET,
            )
        }
        std::net::SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage, which is aligned for it.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in6, sin6) };
            (
                storage,
                size_of::<libc::sockaddr_in6>() as u32,
                libc::AF_INET6,
            )
        }
    }
}

/// Pins the calling thread to one CPU (for tests that need two CPUs to race).
pub fn pin_thread_to_cpu(cpu: usize) -> io::Result<()> {
    let set = CpuSet::only(cpu).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: the call only reads the set, of the size given, for the
    // current thread (pid 0).
    if unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set.0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A set of CPUs a thread may run on (`cpu_set_t`, sched_getaffinity(2)).
pub struct CpuSet(libc::cpu_set_t);

impl CpuSet {
    /// The CPUs this thread may run on. Unlike
    /// `std::thread::available_parallelism` it reads no cgroup files.
    pub fn of_this_thread() -> io::Result<CpuSet> {
        // SAFETY: cpu_set_t is plain data the call fills in for this
        // thread (pid 0), at most the size given.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(CpuSet(set))
        }
    }

    /// How many CPUs a set can name (1,024).
    const SIZE: usize = 8 * size_of::<libc::cpu_set_t>();

    /// The set holding `cpu` alone; None for a CPU number past what a set
    /// can name.
    pub fn only(cpu: usize) -> Option<CpuSet> {
        if cpu >= CpuSet::SIZE {
            return None;
        }
        // SAFETY: an all-zero cpu_set_t is the empty set; CPU_SET writes
        // the bit of `cpu`, inside the set (checked above).
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            Some(CpuSet(set))
        }
    }

    /// The CPUs in the set, in ascending order.
    pub fn cpus(&self) -> Vec<usize> {
        // SAFETY: CPU_ISSET reads the set within its size.
        (0..CpuSet::SIZE)
            .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &self.0) })
            .collect()
    }
}

/// Runs `helper` on one new thread per CPU of `cpus`, each placed on its
/// CPU before it does any work and kept there, and `this` on this thread
/// meanwhile; returns what `this` returns once every helper has finished.
/// (A new thread is otherwise often queued on the CPU of the thread that
/// starts it, where it waits while that thread keeps the CPU; see
/// `parallel`.) A thread the system refuses is one helper fewer; a
/// placement refused leaves the thread where the scheduler put it. A
/// helper's panic is passed on once all have finished.
///
/// The threads are the system's own (pthread_create), not std's: std's
/// thread machinery (names, handles, and through them musl's printf) would
/// add a fifth to the static binary for what this needs, a start and a join.
pub fn run_placed<R>(
    cpus: &[usize],
    stack_size: usize,
    helper: &(dyn Fn() + Sync),
    this: impl FnOnce() -> R,
) -> R {
    // Every start block exists before the first thread does, and is never
    // moved: each thread gets a pointer to its own.
    let starts: Vec<Start<'_>> = cpus.iter().map(|_| Start::new(helper)).collect();
    let mut helpers = Helpers(Vec::with_capacity(cpus.len()));
    for (&cpu, start) in cpus.iter().zip(&starts) {
        let Some(thread) = spawn_waiting(start, stack_size) else {
            continue;
        };
        if let Some(set) = CpuSet::only(cpu) {
            // SAFETY: the thread is alive (it waits for `go`), so its
            // pthread_t is valid; the call only reads the set, of the size
            // given.
            unsafe {
                libc::pthread_setaffinity_np(thread, size_of::<libc::cpu_set_t>(), &set.0);
            }
        }
        start.go.store(true, Ordering::Release);
        helpers.0.push((thread, start));
    }
    let result = this();
    drop(helpers);
    let panicked = starts
        .into_iter()
        .find_map(|s| s.panic.into_inner().unwrap_or_else(PoisonError::into_inner));
    if let Some(payload) = panicked {
        std::panic::resume_unwind(payload);
    }
    result
}

/// What one helper thread needs: the job, the flag that lets it begin once
/// it is placed, and where it leaves a panic.
struct Start<'f> {
    helper: &'f (dyn Fn() + Sync),
    go: AtomicBool,
    panic: Mutex<Option<Box<dyn std::any::Any + Send>>>,
}

impl<'f> Start<'f> {
    fn new(helper: &'f (dyn Fn() + Sync)) -> Start<'f> {
        Start {
            helper,
            go: AtomicBool::new(false),
            panic: Mutex::new(None),
        }
    }
}

/// The helpers started. Dropped (also when `this` unwinds) it lets every
/// helper begin and joins it: no helper outlives its start block.
struct Helpers<'s, 'f>(Vec<(libc::pthread_t, &'s Start<'f>)>);

impl Drop for Helpers<'_, '_> {
    fn drop(&mut self) {
        for (thread, start) in self.0.drain(..) {
            start.go.store(true, Ordering::Release);
            // SAFETY: `thread` was created joinable and is joined once.
            unsafe {
                libc::pthread_join(thread, std::ptr::null_mut());
            }
        }
    }
}

/// Starts a thread that waits for `start.go`, then runs the helper; None
/// if the system refuses a thread.
fn spawn_waiting(start: &Start<'_>, stack_size: usize) -> Option<libc::pthread_t> {
    let arg = start as *const Start<'_> as *mut libc::c_void;
    // SAFETY: `attr` is initialised by pthread_attr_init before use and
    // destroyed after; `thread` is written by pthread_create on success.
    // The new thread reads `*arg`, a Start that outlives it: `Helpers`
    // joins every thread before the Vec of starts is dropped.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_attr_init(&mut attr) != 0 {
            return None;
        }
        libc::pthread_attr_setstacksize(&mut attr, stack_size.max(libc::PTHREAD_STACK_MIN));
        let mut thread: libc::pthread_t = std::mem::zeroed();
        let ret = libc::pthread_create(&mut thread, &attr, run_helper, arg);
        libc::pthread_attr_destroy(&mut attr);
        (ret == 0).then_some(thread)
    }
}

/// A helper thread's body: wait to be placed, run the job, keep a panic
/// for the parent.
extern "C" fn run_helper(arg: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `arg` is the Start `spawn_waiting` passed, alive until this
    // thread is joined.
    let start = unsafe { &*(arg as *const Start<'_>) };
    while !start.go.load(Ordering::Acquire) {
        // SAFETY: sched_yield takes no arguments.
        unsafe {
            libc::sched_yield();
        }
    }
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (start.helper)()));
    if let Err(payload) = ran {
        *start.panic.lock().unwrap_or_else(PoisonError::into_inner) = Some(payload);
    }
    std::ptr::null_mut()
}

/// The CPU this thread is running on (sched_getcpu), if the system says.
pub fn current_cpu() -> Option<usize> {
    // SAFETY: sched_getcpu takes no arguments and only returns a number.
    usize::try_from(unsafe { libc::sched_getcpu() }).ok()
}

/// Sends `signal` to process `pid` (kill(2)). Pid 0, which kill(2) reads
/// as "every process of my group", is refused (InvalidInput), as is one
/// past `pid_t` (which would turn negative: a process group, or all).
pub fn send_signal(pid: u32, signal: i32) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .ok()
        .filter(|&pid| pid > 0)
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: kill only reads its two integer arguments.
    if unsafe { libc::kill(pid, signal) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Defines the process's C `main`, which calls `$cli(args: Vec<OsString>)
/// -> u8` (the exit status); for a binary with `#![no_main]`.
///
/// Rust's own start-up aborts the process before `main` when fd 0, 1 or 2
/// is closed and /dev/null cannot be opened in its place, which is how a
/// tool may start in an initramfs. This entry does what that start-up does
/// without the abort ([`fill_closed_stdio`]), ignores SIGPIPE as it would
/// (write errors are handled where they happen), and takes the arguments
/// from argv, which std does not see without its start-up on musl.
#[macro_export]
macro_rules! c_main {
    ($cli:path) => {
        #[no_mangle]
        #[allow(unsafe_code)]
        extern "C" fn main(
            argc: ::std::ffi::c_int,
            argv: *const *const ::std::ffi::c_char,
        ) -> ::std::ffi::c_int {
            // SAFETY: nothing else runs yet (one thread, no fds taken), and
            // the C runtime hands `main` argc NUL-terminated strings.
            let args = unsafe {
                $crate::sys::fill_closed_stdio();
                $crate::sys::args_from_argv(argc, argv)
            };
            $crate::sys::ignore_sigpipe();
            // A panic must not unwind out of `extern "C"` (that aborts
            // without running Drop, which detaches and removes cgroups).
            let cli: fn(Vec<::std::ffi::OsString>) -> u8 = $cli;
            ::std::ffi::c_int::from(::std::panic::catch_unwind(move || cli(args)).unwrap_or(101))
        }
    };
}

/// Puts something on each of fds 0, 1 and 2 that is closed, so that no file
/// the process opens later becomes its stdin, stdout or stderr: /dev/null
/// if it can be opened, else an O_PATH fd of `/`, on which reads and writes
/// fail with EBADF (std's stdio treats that as an empty, silent stream).
///
/// # Safety
/// Only at start-up, while the process has one thread: an fd another
/// thread opened between the check and the dup2 would be replaced.
#[doc(hidden)]
pub unsafe fn fill_closed_stdio() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only asks whether `fd` is open.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
            continue;
        }
        // SAFETY: open on static strings; dup2/close on the fd just opened.
        unsafe {
            let mut new = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            if new < 0 {
                new = libc::open(c"/".as_ptr(), libc::O_PATH);
            }
            if new >= 0 && new != fd {
                libc::dup2(new, fd);
                libc::close(new);
            }
        }
    }
}

/// Ignores SIGPIPE: a reader that went away makes writes fail with EPIPE
/// instead of killing the process with programs attached.
pub fn ignore_sigpipe() {
    // SAFETY: installs the SIG_IGN disposition; no handler code runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// The arguments after the program name, as C's `main` received them.
///
/// # Safety
/// `argv` must hold `argc` valid NUL-terminated strings, as `main`'s do.
pub unsafe fn args_from_argv(
    argc: libc::c_int,
    argv: *const *const libc::c_char,
) -> Vec<std::ffi::OsString> {
    use std::os::unix::ffi::OsStrExt;
    let argc = usize::try_from(argc).unwrap_or(0);
    (1..argc)
        .map(|i| {
            // SAFETY: i < argc, and the caller vouches for argv's strings.
            let arg = unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) };
            std::ffi::OsStr::from_bytes(arg.to_bytes()).to_os_string()
        })
        .collect()
}

/// A set of signals blocked on this thread so that they can be waited for
/// synchronously instead of killing the process.
pub struct BlockedSignals(libc::sigset_t);

/// Blocks `signals` (e.g. SIGINT, SIGTERM) on the calling thread; threads
/// started afterwards inherit the mask.
pub fn block_signals(signals: &[i32]) -> io::Result<BlockedSignals> {
    // SAFETY: sigset_t is plain data initialised by sigemptyset; the calls
    // only read and write it and the thread's signal mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in signals {
            libc::sigaddset(&mut set, sig);
        }
        let ret = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if ret != 0 {
            return Err(io::Error::from_raw_os_error(ret));
        }
        Ok(BlockedSignals(set))
    }
}

impl BlockedSignals {
    /// Waits until one of the blocked signals arrives and returns its number.
    pub fn wait(&self) -> io::Result<i32> {
        loop {
            // SAFETY: `self.0` is an initialised sigset; a null info pointer is allowed.
            let sig = unsafe { libc::sigwaitinfo(&self.0, std::ptr::null_mut()) };
            if sig >= 0 {
                return Ok(sig);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

/// A network namespace made for the caller, seen from a thread inside it.
#[non_exhaustive]
pub struct OwnNetns {
    /// The namespace (`/proc/thread-self/ns/net`), the target of netns links.
    pub fd: OwnedFd,
    /// The namespace's inode number, which netns link info reports.
    pub ino: u32,
    /// Its loopback device, up. An ifindex means a device of the calling
    /// thread's namespace, so use it only inside `in_new_netns`.
    pub lo_ifindex: u32,
}

/// Runs `f` on a new thread inside a new network namespace whose loopback
/// device is up. Namespaces belong to tasks, so only that thread is moved
/// and the rest of the process keeps its network; the thread ends with `f`
/// and the namespace goes once nothing (fd, socket, link) holds it.
pub fn in_new_netns<T: Send>(f: impl FnOnce(&OwnNetns) -> T + Send) -> io::Result<T> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("rawbpf-netns".into())
            .spawn_scoped(s, || enter_new_netns().map(|netns| f(&netns)))?
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the namespace thread panicked")))
    })
}

/// The last OS error, prefixed with the call that failed.
fn failed(call: &str) -> io::Error {
    context(call, io::Error::last_os_error())
}

fn context(what: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Moves the calling thread for good; only `in_new_netns`'s thread calls it.
fn enter_new_netns() -> io::Result<OwnNetns> {
    // SAFETY: unshare only replaces the calling task's network namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } < 0 {
        return Err(failed("unshare(CLONE_NEWNET)"));
    }
    let path = "/proc/thread-self/ns/net";
    let fd = open(path, libc::O_RDONLY).map_err(|e| context(path, e))?;
    let ino = std::os::unix::fs::MetadataExt::ino(
        &std::fs::metadata(path).map_err(|e| context(path, e))?,
    );
    let sock = udp_socket(libc::AF_INET).map_err(|e| context("socket", e))?;
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: the three ioctls read and write the ifreq above, which lives
    // across them, on a socket we own (each gets it as `&mut`: the kernel
    // copies an ifreq back after most SIOC* requests, `sock_do_ioctl`);
    // the union member read after each is the one that ioctl fills. (`as
    // _`: the request is c_ulong in glibc's ioctl and c_int in musl's.)
    let lo_ifindex = unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut req) < 0 {
            return Err(failed("SIOCGIFFLAGS lo"));
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &mut req) < 0 {
            return Err(failed("SIOCSIFFLAGS lo up"));
        }
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFINDEX as _, &mut req) < 0 {
            return Err(failed("SIOCGIFINDEX lo"));
        }
        req.ifr_ifru.ifru_ifindex
    };
    Ok(OwnNetns {
        fd,
        ino: u32::try_from(ino).map_err(|_| io::Error::other("namespace inode beyond 32 bits"))?,
        lo_ifindex: u32::try_from(lo_ifindex).map_err(|_| io::Error::other("negative ifindex"))?,
    })
}

/// How a program attaches to a socket (setsockopt at SOL_SOCKET).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketProgram {
    /// SO_ATTACH_BPF: a socket filter, run on each packet the socket receives.
    Filter,
    /// SO_ATTACH_REUSEPORT_EBPF: picks the socket of an SO_REUSEPORT group
    /// that gets each packet.
    ReuseportSelect,
}

/// Attaches `prog` to `sock`; it stays until the socket closes.
pub fn attach_to_socket(
    sock: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    how: SocketProgram,
) -> io::Result<()> {
    let option = match how {
        SocketProgram::Filter => libc::SO_ATTACH_BPF,
        SocketProgram::ReuseportSelect => libc::SO_ATTACH_REUSEPORT_EBPF,
    };
    set_socket_option(sock, option, prog.as_raw_fd())
}

fn set_socket_option(sock: BorrowedFd<'_>, option: i32, value: i32) -> io::Result<()> {
    // SAFETY: setsockopt reads an int that lives across the call.
    let ret = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&value as *const i32).cast(),
            size_of::<i32>() as libc::socklen_t,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// An unbound UDP socket of `family` (AF_INET, AF_INET6).
fn udp_socket(family: i32) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) takes only integers.
    let raw = unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    owned_fd(i64::from(raw))
}

/// A UDP socket with SO_REUSEPORT set, bound to `addr`: several such
/// sockets on one address form a group the kernel spreads datagrams over.
pub fn reuseport_udp_socket(addr: std::net::SocketAddr) -> io::Result<std::net::UdpSocket> {
    let (storage, len, family) = sockaddr(addr);
    let sock = udp_socket(family)?;
    set_socket_option(sock.as_fd(), libc::SO_REUSEPORT, 1)?;
    // SAFETY: `storage` holds a sockaddr of `len` bytes and outlives the call.
    let ret = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            (&storage as *const libc::sockaddr_storage).cast(),
            len,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sock.into())
}

/// `f_type` of a bpffs (`BPF_FS_MAGIC` in include/uapi/linux/magic.h).
pub const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
/// `f_type` of a cgroup v2 mount (`CGROUP2_SUPER_MAGIC`).
pub const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// The file-system type (`f_type` of statfs(2)) that `path` resolves to.
pub fn fs_type(path: &str) -> io::Result<i64> {
    let c = cstring(path)?;
    // SAFETY: statfs is plain data, all-zero is valid; `c` is NUL-terminated
    // and both outlive the call, which only writes `buf`.
    f_type(unsafe {
        let mut buf: libc::statfs = std::mem::zeroed();
        (libc::statfs(c.as_ptr(), &mut buf), buf)
    })
}

/// The file-system type of what `fd` refers to (fstatfs(2)).
pub fn fd_fs_type(fd: BorrowedFd<'_>) -> io::Result<i64> {
    // SAFETY: as in `fs_type`; `fd` is open for the duration of the call.
    f_type(unsafe {
        let mut buf: libc::statfs = std::mem::zeroed();
        (libc::fstatfs(fd.as_raw_fd(), &mut buf), buf)
    })
}

/// `f_type` of a statfs(2) or fstatfs(2) answer.
fn f_type((ret, buf): (libc::c_int, libc::statfs)) -> io::Result<i64> {
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // glibc's f_type is signed, musl's unsigned: one type for both.
    #[allow(clippy::unnecessary_cast)]
    Ok(buf.f_type as i64)
}

/// The signal that asked the process to stop (0: none yet), set by
/// [`install_stop_handlers`]' handler.
static STOP_SIGNAL: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Set with [`STOP_SIGNAL`]: the flag a load's `LoadOptions::cancel` watches.
static STOP_REQUESTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn record_stop(sig: libc::c_int) {
    // Only atomic stores: async-signal-safe.
    STOP_SIGNAL.store(sig, std::sync::atomic::Ordering::SeqCst);
    STOP_REQUESTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// The flag [`install_stop_handlers`]' handler sets, for a load to watch
/// (`LoadOptions::cancel`).
pub fn stop_flag() -> &'static std::sync::atomic::AtomicBool {
    &STOP_REQUESTED
}

/// Makes `signals` (SIGINT, SIGTERM, SIGHUP) record themselves instead of
/// killing the process, without SA_RESTART: a blocking call they interrupt
/// returns EINTR, and the verifier, which checks for pending signals, stops
/// a long verification with EAGAIN. The caller polls [`stop_signal`] and
/// cleans up. The signals of a fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
/// SIGTRAP, SIGSYS) are refused (InvalidInput): returning from a handler
/// retries the faulting instruction, forever.
pub fn install_stop_handlers(signals: &[i32]) -> io::Result<()> {
    const FAULTS: [i32; 6] = [
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGILL,
        libc::SIGFPE,
        libc::SIGTRAP,
        libc::SIGSYS,
    ];
    if signals.iter().any(|sig| FAULTS.contains(sig)) {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    for &sig in signals {
        // SAFETY: sigaction is plain data initialised field by field; the
        // handler only does an atomic store, which is async-signal-safe.
        let ret = unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = record_stop as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut act.sa_mask);
            act.sa_flags = 0;
            libc::sigaction(sig, &act, std::ptr::null_mut())
        };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The stop signal received since [`install_stop_handlers`], if any.
pub fn stop_signal() -> Option<i32> {
    match STOP_SIGNAL.load(std::sync::atomic::Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// `FILEID_KERNFS`: the file-handle type of cgroup v2 directories, whose
/// handle is the 8-byte cgroup id (include/linux/exportfs.h).
const FILEID_KERNFS: i32 = 0xfe;

#[repr(C)]
struct CgroupHandle {
    handle_bytes: u32,
    handle_type: i32,
    id: u64,
}

/// Opens the cgroup v2 directory whose cgroup id is `id`, wherever it is now
/// (open_by_handle_at with the cgroup id as the handle). `mount` is any fd on
/// the cgroup2 mount. ESTALE: no cgroup has that id any more.
pub fn open_cgroup_by_id(mount: BorrowedFd<'_>, id: u64) -> io::Result<OwnedFd> {
    let mut handle = CgroupHandle {
        handle_bytes: 8,
        handle_type: FILEID_KERNFS,
        id,
    };
    // SAFETY: `handle` has the layout of struct file_handle with 8 bytes of
    // f_handle and lives across the call; the kernel only reads it.
    let ret = unsafe {
        libc::open_by_handle_at(
            mount.as_raw_fd(),
            &mut handle as *mut CgroupHandle as *mut libc::file_handle,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    owned_fd(ret as i64)
}

/// Takes an exclusive lock on the open file `fd` (flock(2) LOCK_EX), without
/// waiting: Ok(false) if another open file holds it. The kernel drops the
/// lock when the last fd of this open file closes, so also when the process
/// dies however it dies (SIGKILL, OOM kill), and never leaves it stale.
pub fn flock_exclusive(fd: BorrowedFd<'_>) -> io::Result<bool> {
    loop {
        // SAFETY: flock only reads two integers; `fd` is open for the call.
        if unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(e),
        }
    }
}

/// The calling thread's effective capability set (capget(2), version 3:
/// two 32-bit words), bit N for capability N (`CAP_BPF` is 39).
pub fn effective_capabilities() -> io::Result<u64> {
    let mut header = CapHeader {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: `header` and `data` are live and laid out as the kernel's
    // __user_cap_header_struct and two __user_cap_data_struct, which is
    // what version 3 writes.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u64::from(data[0].effective) | u64::from(data[1].effective) << 32)
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// A resource limit a bpf() call may run into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// RLIMIT_NOFILE: open files (EMFILE).
    OpenFiles,
    /// RLIMIT_MEMLOCK: what kernels before 5.11 charge maps and programs to.
    Memlock,
}

/// The soft limit this process has now; None if unlimited.
pub fn soft_limit(which: Limit) -> io::Result<Option<u64>> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let resource = match which {
        Limit::OpenFiles => libc::RLIMIT_NOFILE,
        Limit::Memlock => libc::RLIMIT_MEMLOCK,
    };
    // SAFETY: getrlimit writes the rlimit above, which lives across the call.
    if unsafe { libc::getrlimit(resource, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur))
}
