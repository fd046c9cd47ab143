//! Shared pieces of the kernel tests: the root check, a pin directory guard,
//! a loopback receiver and kernel-id checks. Cgroups come from
//! `rawbpf::attach::cgroup::Cgroup::create_unique`, which removes them on drop.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod os;

use rawbpf::attach::cgroup::Cgroup;
use rawbpf::sys::{self, IdKind};

/// Kernel tests need root; say so plainly instead of failing obscurely.
pub fn require_root() {
    assert!(
        sys::geteuid() == 0,
        "kernel tests load BPF programs and need root: run `sudo make test`, or `make vmtest` to run them in a VM"
    );
}

/// A fresh cgroup for one test, removed when the test ends (pass or fail).
pub fn test_cgroup() -> Cgroup {
    require_root();
    Cgroup::create_unique("rawbpf-test").expect("create a test cgroup")
}

/// A unique directory name under bpffs for pins; removed with its contents on drop.
pub struct PinDir(pub PathBuf);

impl PinDir {
    pub fn new(tag: &str) -> PinDir {
        let root = rawbpf::kernel::mounts::bpffs_root().expect("bpffs");
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        PinDir(root.join(format!("rawbpf-test-{tag}-{}-{n}", std::process::id())))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(&self.0) {
            for e in entries.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// A UDP socket on 127.0.0.1 that test traffic is sent to.
pub struct Receiver {
    socket: UdpSocket,
}

impl Receiver {
    pub fn new() -> Receiver {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        Receiver { socket }
    }

    pub fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    /// Whether one datagram arrived (waiting at most 300 ms).
    pub fn received(&self) -> bool {
        let mut buf = [0u8; 64];
        self.socket.recv(&mut buf).is_ok()
    }
}

/// Whether the kernel still has an object with this id.
pub fn exists(kind: IdKind, id: u32) -> bool {
    match sys::get_fd_by_id(kind, id) {
        Ok(_) => true,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => false,
        Err(e) => panic!("GET_FD_BY_ID {kind:?} {id}: {e}"),
    }
}

/// Kernel objects can outlive their last fd by an RCU grace period; wait
/// (bounded) for an id to disappear.
pub fn gone_soon(kind: IdKind, id: u32) -> bool {
    for _ in 0..100 {
        if !exists(kind, id) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A minimal Ethernet + IPv4 + UDP packet for BPF_PROG_TEST_RUN.
pub fn udp_packet() -> Vec<u8> {
    rawbpf::selftest::test_packet()
}

/// The path of the rawbpf binary built for these tests.
pub fn rawbpf_bin() -> &'static str {
    env!("CARGO_BIN_EXE_rawbpf")
}

/// Runs the rawbpf binary with `args`, asserts that it succeeded (showing
/// its stderr if not) and returns its stdout.
#[allow(dead_code)]
pub fn rawbpf_ok(args: &[&str]) -> String {
    let stdout = command_ok(std::path::Path::new(rawbpf_bin()), "rawbpf", args);
    String::from_utf8_lossy(&stdout).into_owned()
}

/// Runs `program` with `args`, asserts that it succeeded (showing `label`,
/// the arguments and its stderr if not) and returns its stdout.
#[allow(dead_code)]
pub fn command_ok(program: &std::path::Path, label: &str, args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {label}: {e}"));
    assert!(
        out.status.success(),
        "{label} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The seed's timer-free twin: the same program (bpf_prog1, cgroup_skb/egress,
/// drops every packet) and map (hmap) names, for kernels before 5.15.
pub const DROP_EGRESS: &[u8] = include_bytes!("../../bpf/drop_egress.bpf.o");

/// Whether the running kernel has the bpf_timer helpers (Linux 5.15).
pub fn kernel_has_bpf_timer() -> bool {
    rawbpf::selftest::kernel_version().is_some_and(|v| v >= (5, 15))
}

/// Whether the running kernel pins relative to a directory's fd
/// (BPF_F_PATH_FD, Linux 6.5). Where it does not, a pinned run's first
/// BPF_OBJ_PIN is refused (EINVAL) and made again by the whole path.
pub fn kernel_pins_by_dir_fd() -> bool {
    rawbpf::selftest::kernel_version().is_some_and(|v| v >= (6, 5))
}

/// BPF_OBJ_PIN calls of a pinned run that makes `pins` pins: one more on
/// a kernel that refuses the first by directory fd.
pub fn pin_calls(pins: usize) -> usize {
    if kernel_pins_by_dir_fd() {
        pins
    } else {
        pins + 1
    }
}

/// The object the attach, pin and detach tests use: the seed where the
/// kernel has bpf_timer, its timer-free twin where it has not (5.10).
pub fn policy_object() -> &'static [u8] {
    if kernel_has_bpf_timer() {
        rawbpf::SEED_OBJECT
    } else {
        DROP_EGRESS
    }
}

/// An object written to a file of its own for `rawbpf run`, removed on drop.
pub struct ObjectFile(PathBuf);

impl ObjectFile {
    pub fn new(bytes: &[u8]) -> ObjectFile {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("rawbpf-test-{}-{n}.bpf.o", std::process::id()));
        std::fs::write(&path, bytes).expect("write the test object");
        ObjectFile(path)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for ObjectFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// [`policy_object`] for `rawbpf run`: no argument where that is the
/// embedded seed, else a file holding the twin.
pub struct PolicyArg(Option<ObjectFile>);

impl PolicyArg {
    pub fn new() -> PolicyArg {
        PolicyArg((!kernel_has_bpf_timer()).then(|| ObjectFile::new(DROP_EGRESS)))
    }

    /// The arguments to put after `run`.
    pub fn args(&self) -> Vec<&str> {
        self.0.iter().map(ObjectFile::path).collect()
    }
}

/// For a test that needs bpf_timer: on a kernel without it, asserts that
/// loading `object` fails with exactly the message for that, reports the
/// test as not applicable on stderr (past the harness's capture, so it shows
/// in the run's output) and returns true: the caller returns. On a kernel
/// with bpf_timer it returns false and the test runs.
pub fn not_applicable_without_timers(test: &str, object: &[u8]) -> bool {
    if kernel_has_bpf_timer() {
        return false;
    }
    require_root();
    let err = match load(object) {
        Ok(_) => panic!("{test}: a bpf_timer object loaded on a kernel before 5.15"),
        Err(e) => e,
    };
    assert!(
        rawbpf::load::program::lacks_bpf_timer(&err),
        "{test}: {err}"
    );
    assert!(
        err.to_string().ends_with(
            "\nhint: this kernel has no bpf_timer helpers (bpf_timer needs Linux 5.15 or later)"
        ),
        "{test}: {err}"
    );
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "NOT APPLICABLE: {test}: needs bpf_timer (Linux 5.15); checked that loading fails with the message saying so"
    );
    true
}

/// Whether the running kernel has the `syscall` program type (Linux 5.14).
pub fn kernel_has_syscall_programs() -> bool {
    rawbpf::selftest::kernel_version().is_some_and(|v| v >= (5, 14))
}

/// Loads `r0 = 0; exit` as a program of type `prog_type`.
fn load_trivial(prog_type: u32) -> std::io::Result<std::os::fd::OwnedFd> {
    let mut insns = [0u8; 16];
    insns[0] = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K, r0 = 0
    insns[8] = 0x95; // BPF_JMP | BPF_EXIT
    let load = rawbpf::sys::ProgLoad::new(prog_type, "trivial", &insns, c"GPL");
    rawbpf::sys::prog_load(&load, None)
}

/// For a test of `SEC("syscall")` programs: on a kernel without that
/// program type (before 5.14) asserts that loading `object` fails with
/// EINVAL and no verifier log (the kernel refuses before verifying), and
/// that it is the program type itself the kernel does not know: `r0 = 0;
/// exit` is refused as a syscall program with EINVAL and loads as a socket
/// filter. Then reports the test as not applicable on stderr and returns
/// true: the caller returns. Where the type exists it returns false.
pub fn not_applicable_without_syscall_programs(test: &str, object: &[u8]) -> bool {
    if kernel_has_syscall_programs() {
        return false;
    }
    require_root();
    let err = match load(object) {
        Ok(_) => panic!("{test}: a syscall program loaded on a kernel before 5.14"),
        Err(e) => e,
    };
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{test}: {err}");
    assert!(
        matches!(&err, rawbpf::Error::Rejected { log, .. } if log.is_empty()),
        "{test}: refused before the verifier ran: {err}"
    );
    let syscall = rawbpf::uapi::prog_type::SYSCALL;
    let refused = load_trivial(syscall).expect_err("a trivial syscall program loaded");
    assert_eq!(refused.raw_os_error(), Some(libc::EINVAL), "{test}");
    load_trivial(rawbpf::uapi::prog_type::SOCKET_FILTER)
        .unwrap_or_else(|e| panic!("{test}: the same program as a socket filter: {e}"));
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "NOT APPLICABLE: {test}: needs the syscall program type (Linux 5.14); checked that the kernel refuses the type with EINVAL"
    );
    true
}

/// Loads every map and every autoloaded program of `bytes` with the
/// default options: the one way to load, in one call for tests.
pub fn load(bytes: &[u8]) -> rawbpf::Result<rawbpf::Loaded> {
    rawbpf::ObjectSpec::parse(bytes)?.load(&rawbpf::LoadOptions::default())
}

/// Loads every map, and only the programs whose function name `select`
/// accepts (whether or not their section starts with `?`).
#[allow(dead_code)]
pub fn load_selected(
    bytes: &[u8],
    select: impl Fn(&str) -> bool,
) -> rawbpf::Result<rawbpf::Loaded> {
    let mut spec = rawbpf::ObjectSpec::parse(bytes)?;
    for p in spec.programs_mut() {
        let wanted = select(p.name());
        p.set_autoload(wanted);
    }
    spec.load(&rawbpf::LoadOptions::default())
}

/// Sends one UDP datagram to `dst` from a child process moved into `cg`,
/// and reports what its send() saw.
#[allow(dead_code)]
pub fn send_udp(cg: &Cgroup, dst: std::net::SocketAddr) -> rawbpf::Result<sys::SendOutcome> {
    sys::probe_in_cgroup(cg.path(), &sys::Probe::udp(dst))
        .map_err(|e| rawbpf::Error::io(cg.path(), e))
}

/// A finished command's status and output, for assertion messages.
#[allow(dead_code)]
pub fn text(o: &std::process::Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every program id attached to `cg`, for any cgroup attach type.
#[allow(dead_code)]
pub fn attached(cg: &Cgroup) -> Vec<u32> {
    rawbpf::uapi::attach_type::CGROUP
        .iter()
        .flat_map(|&t| cg.query(t).map(|(_, ids)| ids).unwrap_or_default())
        .collect()
}

/// The mount points of every mount of file-system type `fstype`, from
/// /proc/self/mountinfo.
#[allow(dead_code)]
pub fn mounts(fstype: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            (right.split(' ').next() == Some(fstype))
                .then(|| left.split(' ').nth(4).unwrap().to_string())
        })
        .collect()
}
