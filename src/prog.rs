//! Step 5: load programs.
//!
//! The kernel needs each program's type (`enum bpf_prog_type`) and, for many
//! types, the attach type it will be attached with (`expected_attach_type`):
//! the verifier checks return values and context accesses against it, so a
//! `cgroup_skb/egress` program loaded without BPF_CGROUP_INET_EGRESS may not
//! return 2 or 3. Neither is in the ELF, so, like libbpf, we derive both from
//! the section name ([`crate::section`] has the table). LSM, fentry, iterator
//! and tp_btf programs also name the kernel function or type they attach to by
//! its BTF id in the kernel's own BTF (`/sys/kernel/btf/vmlinux`), which is
//! read only when such a program is present.
//!
//! Policy for loading lives here and only here: retry on EAGAIN (unless a
//! stop signal caused it), and on any other failure load once more, and only
//! once, with a log buffer to show the verifier's words.

use std::os::fd::{BorrowedFd, OwnedFd};

use crate::error::{Error, Result};
use crate::reloc::Assembled;
use crate::sys::{self, ProgLoad};

/// `enum bpf_prog_type` values as plain numbers, for the attr structs
/// (named in [`crate::uapi::ProgType`]).
pub mod prog_type {
    use crate::uapi::ProgType;

    /// `BPF_PROG_TYPE_SOCKET_FILTER`.
    pub const SOCKET_FILTER: u32 = ProgType::SOCKET_FILTER.0;
    /// `BPF_PROG_TYPE_KPROBE`.
    pub const KPROBE: u32 = ProgType::KPROBE.0;
    /// `BPF_PROG_TYPE_SCHED_CLS`.
    pub const SCHED_CLS: u32 = ProgType::SCHED_CLS.0;
    /// `BPF_PROG_TYPE_SCHED_ACT`.
    pub const SCHED_ACT: u32 = ProgType::SCHED_ACT.0;
    /// `BPF_PROG_TYPE_TRACEPOINT`.
    pub const TRACEPOINT: u32 = ProgType::TRACEPOINT.0;
    /// `BPF_PROG_TYPE_XDP`.
    pub const XDP: u32 = ProgType::XDP.0;
    /// `BPF_PROG_TYPE_PERF_EVENT`.
    pub const PERF_EVENT: u32 = ProgType::PERF_EVENT.0;
    /// `BPF_PROG_TYPE_CGROUP_SKB`.
    pub const CGROUP_SKB: u32 = ProgType::CGROUP_SKB.0;
    /// `BPF_PROG_TYPE_CGROUP_SOCK`.
    pub const CGROUP_SOCK: u32 = ProgType::CGROUP_SOCK.0;
    /// `BPF_PROG_TYPE_LWT_IN`.
    pub const LWT_IN: u32 = ProgType::LWT_IN.0;
    /// `BPF_PROG_TYPE_LWT_OUT`.
    pub const LWT_OUT: u32 = ProgType::LWT_OUT.0;
    /// `BPF_PROG_TYPE_LWT_XMIT`.
    pub const LWT_XMIT: u32 = ProgType::LWT_XMIT.0;
    /// `BPF_PROG_TYPE_SOCK_OPS`.
    pub const SOCK_OPS: u32 = ProgType::SOCK_OPS.0;
    /// `BPF_PROG_TYPE_SK_SKB`.
    pub const SK_SKB: u32 = ProgType::SK_SKB.0;
    /// `BPF_PROG_TYPE_CGROUP_DEVICE`.
    pub const CGROUP_DEVICE: u32 = ProgType::CGROUP_DEVICE.0;
    /// `BPF_PROG_TYPE_SK_MSG`.
    pub const SK_MSG: u32 = ProgType::SK_MSG.0;
    /// `BPF_PROG_TYPE_RAW_TRACEPOINT`.
    pub const RAW_TRACEPOINT: u32 = ProgType::RAW_TRACEPOINT.0;
    /// `BPF_PROG_TYPE_CGROUP_SOCK_ADDR`.
    pub const CGROUP_SOCK_ADDR: u32 = ProgType::CGROUP_SOCK_ADDR.0;
    /// `BPF_PROG_TYPE_LWT_SEG6LOCAL`.
    pub const LWT_SEG6LOCAL: u32 = ProgType::LWT_SEG6LOCAL.0;
    /// `BPF_PROG_TYPE_LIRC_MODE2`.
    pub const LIRC_MODE2: u32 = ProgType::LIRC_MODE2.0;
    /// `BPF_PROG_TYPE_SK_REUSEPORT`.
    pub const SK_REUSEPORT: u32 = ProgType::SK_REUSEPORT.0;
    /// `BPF_PROG_TYPE_FLOW_DISSECTOR`.
    pub const FLOW_DISSECTOR: u32 = ProgType::FLOW_DISSECTOR.0;
    /// `BPF_PROG_TYPE_CGROUP_SYSCTL`.
    pub const CGROUP_SYSCTL: u32 = ProgType::CGROUP_SYSCTL.0;
    /// `BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE`.
    pub const RAW_TRACEPOINT_WRITABLE: u32 = ProgType::RAW_TRACEPOINT_WRITABLE.0;
    /// `BPF_PROG_TYPE_CGROUP_SOCKOPT`.
    pub const CGROUP_SOCKOPT: u32 = ProgType::CGROUP_SOCKOPT.0;
    /// `BPF_PROG_TYPE_TRACING`.
    pub const TRACING: u32 = ProgType::TRACING.0;
    /// `BPF_PROG_TYPE_STRUCT_OPS`.
    pub const STRUCT_OPS: u32 = ProgType::STRUCT_OPS.0;
    /// `BPF_PROG_TYPE_EXT`.
    pub const EXT: u32 = ProgType::EXT.0;
    /// `BPF_PROG_TYPE_LSM`.
    pub const LSM: u32 = ProgType::LSM.0;
    /// `BPF_PROG_TYPE_SK_LOOKUP`.
    pub const SK_LOOKUP: u32 = ProgType::SK_LOOKUP.0;
    /// `BPF_PROG_TYPE_SYSCALL`.
    pub const SYSCALL: u32 = ProgType::SYSCALL.0;
    /// `BPF_PROG_TYPE_NETFILTER`.
    pub const NETFILTER: u32 = ProgType::NETFILTER.0;
}

/// `enum bpf_attach_type` values as plain numbers, for the attr structs
/// (named in [`crate::uapi::AttachType`]).
pub mod attach_type {
    use crate::uapi::AttachType;

    /// `BPF_CGROUP_INET_INGRESS`.
    pub const CGROUP_INET_INGRESS: u32 = AttachType::CGROUP_INET_INGRESS.0;
    /// `BPF_CGROUP_INET_EGRESS`.
    pub const CGROUP_INET_EGRESS: u32 = AttachType::CGROUP_INET_EGRESS.0;
    /// `BPF_CGROUP_INET_SOCK_CREATE`.
    pub const CGROUP_INET_SOCK_CREATE: u32 = AttachType::CGROUP_INET_SOCK_CREATE.0;
    /// `BPF_CGROUP_SOCK_OPS`.
    pub const CGROUP_SOCK_OPS: u32 = AttachType::CGROUP_SOCK_OPS.0;
    /// `BPF_SK_SKB_STREAM_PARSER`.
    pub const SK_SKB_STREAM_PARSER: u32 = AttachType::SK_SKB_STREAM_PARSER.0;
    /// `BPF_SK_SKB_STREAM_VERDICT`.
    pub const SK_SKB_STREAM_VERDICT: u32 = AttachType::SK_SKB_STREAM_VERDICT.0;
    /// `BPF_CGROUP_DEVICE`.
    pub const CGROUP_DEVICE: u32 = AttachType::CGROUP_DEVICE.0;
    /// `BPF_SK_MSG_VERDICT`.
    pub const SK_MSG_VERDICT: u32 = AttachType::SK_MSG_VERDICT.0;
    /// `BPF_CGROUP_INET4_BIND`.
    pub const CGROUP_INET4_BIND: u32 = AttachType::CGROUP_INET4_BIND.0;
    /// `BPF_CGROUP_INET6_BIND`.
    pub const CGROUP_INET6_BIND: u32 = AttachType::CGROUP_INET6_BIND.0;
    /// `BPF_CGROUP_INET4_CONNECT`.
    pub const CGROUP_INET4_CONNECT: u32 = AttachType::CGROUP_INET4_CONNECT.0;
    /// `BPF_CGROUP_INET6_CONNECT`.
    pub const CGROUP_INET6_CONNECT: u32 = AttachType::CGROUP_INET6_CONNECT.0;
    /// `BPF_CGROUP_INET4_POST_BIND`.
    pub const CGROUP_INET4_POST_BIND: u32 = AttachType::CGROUP_INET4_POST_BIND.0;
    /// `BPF_CGROUP_INET6_POST_BIND`.
    pub const CGROUP_INET6_POST_BIND: u32 = AttachType::CGROUP_INET6_POST_BIND.0;
    /// `BPF_CGROUP_UDP4_SENDMSG`.
    pub const CGROUP_UDP4_SENDMSG: u32 = AttachType::CGROUP_UDP4_SENDMSG.0;
    /// `BPF_CGROUP_UDP6_SENDMSG`.
    pub const CGROUP_UDP6_SENDMSG: u32 = AttachType::CGROUP_UDP6_SENDMSG.0;
    /// `BPF_LIRC_MODE2`.
    pub const LIRC_MODE2: u32 = AttachType::LIRC_MODE2.0;
    /// `BPF_FLOW_DISSECTOR`.
    pub const FLOW_DISSECTOR: u32 = AttachType::FLOW_DISSECTOR.0;
    /// `BPF_CGROUP_SYSCTL`.
    pub const CGROUP_SYSCTL: u32 = AttachType::CGROUP_SYSCTL.0;
    /// `BPF_CGROUP_UDP4_RECVMSG`.
    pub const CGROUP_UDP4_RECVMSG: u32 = AttachType::CGROUP_UDP4_RECVMSG.0;
    /// `BPF_CGROUP_UDP6_RECVMSG`.
    pub const CGROUP_UDP6_RECVMSG: u32 = AttachType::CGROUP_UDP6_RECVMSG.0;
    /// `BPF_CGROUP_GETSOCKOPT`.
    pub const CGROUP_GETSOCKOPT: u32 = AttachType::CGROUP_GETSOCKOPT.0;
    /// `BPF_CGROUP_SETSOCKOPT`.
    pub const CGROUP_SETSOCKOPT: u32 = AttachType::CGROUP_SETSOCKOPT.0;
    /// `BPF_TRACE_RAW_TP`.
    pub const TRACE_RAW_TP: u32 = AttachType::TRACE_RAW_TP.0;
    /// `BPF_TRACE_FENTRY`.
    pub const TRACE_FENTRY: u32 = AttachType::TRACE_FENTRY.0;
    /// `BPF_TRACE_FEXIT`.
    pub const TRACE_FEXIT: u32 = AttachType::TRACE_FEXIT.0;
    /// `BPF_MODIFY_RETURN`.
    pub const MODIFY_RETURN: u32 = AttachType::MODIFY_RETURN.0;
    /// `BPF_LSM_MAC`.
    pub const LSM_MAC: u32 = AttachType::LSM_MAC.0;
    /// `BPF_TRACE_ITER`.
    pub const TRACE_ITER: u32 = AttachType::TRACE_ITER.0;
    /// `BPF_CGROUP_INET4_GETPEERNAME`.
    pub const CGROUP_INET4_GETPEERNAME: u32 = AttachType::CGROUP_INET4_GETPEERNAME.0;
    /// `BPF_CGROUP_INET6_GETPEERNAME`.
    pub const CGROUP_INET6_GETPEERNAME: u32 = AttachType::CGROUP_INET6_GETPEERNAME.0;
    /// `BPF_CGROUP_INET4_GETSOCKNAME`.
    pub const CGROUP_INET4_GETSOCKNAME: u32 = AttachType::CGROUP_INET4_GETSOCKNAME.0;
    /// `BPF_CGROUP_INET6_GETSOCKNAME`.
    pub const CGROUP_INET6_GETSOCKNAME: u32 = AttachType::CGROUP_INET6_GETSOCKNAME.0;
    /// `BPF_XDP_DEVMAP`.
    pub const XDP_DEVMAP: u32 = AttachType::XDP_DEVMAP.0;
    /// `BPF_CGROUP_INET_SOCK_RELEASE`.
    pub const CGROUP_INET_SOCK_RELEASE: u32 = AttachType::CGROUP_INET_SOCK_RELEASE.0;
    /// `BPF_XDP_CPUMAP`.
    pub const XDP_CPUMAP: u32 = AttachType::XDP_CPUMAP.0;
    /// `BPF_SK_LOOKUP`.
    pub const SK_LOOKUP: u32 = AttachType::SK_LOOKUP.0;
    /// `BPF_XDP`.
    pub const XDP: u32 = AttachType::XDP.0;
    /// `BPF_SK_SKB_VERDICT`.
    pub const SK_SKB_VERDICT: u32 = AttachType::SK_SKB_VERDICT.0;
    /// `BPF_SK_REUSEPORT_SELECT`.
    pub const SK_REUSEPORT_SELECT: u32 = AttachType::SK_REUSEPORT_SELECT.0;
    /// `BPF_SK_REUSEPORT_SELECT_OR_MIGRATE`.
    pub const SK_REUSEPORT_SELECT_OR_MIGRATE: u32 = AttachType::SK_REUSEPORT_SELECT_OR_MIGRATE.0;
    /// `BPF_TRACE_KPROBE_MULTI`.
    pub const TRACE_KPROBE_MULTI: u32 = AttachType::TRACE_KPROBE_MULTI.0;
    /// `BPF_LSM_CGROUP`.
    pub const LSM_CGROUP: u32 = AttachType::LSM_CGROUP.0;
    /// `BPF_NETFILTER`.
    pub const NETFILTER: u32 = AttachType::NETFILTER.0;
    /// tc ingress through a link (Linux 6.6); "tc" programs load without it.
    pub const TCX_INGRESS: u32 = AttachType::TCX_INGRESS.0;
    /// `BPF_TCX_EGRESS`: tc egress through a link (Linux 6.6).
    pub const TCX_EGRESS: u32 = AttachType::TCX_EGRESS.0;
    /// `BPF_TRACE_UPROBE_MULTI`.
    pub const TRACE_UPROBE_MULTI: u32 = AttachType::TRACE_UPROBE_MULTI.0;
    /// `BPF_CGROUP_UNIX_CONNECT`.
    pub const CGROUP_UNIX_CONNECT: u32 = AttachType::CGROUP_UNIX_CONNECT.0;
    /// `BPF_CGROUP_UNIX_SENDMSG`.
    pub const CGROUP_UNIX_SENDMSG: u32 = AttachType::CGROUP_UNIX_SENDMSG.0;
    /// `BPF_CGROUP_UNIX_RECVMSG`.
    pub const CGROUP_UNIX_RECVMSG: u32 = AttachType::CGROUP_UNIX_RECVMSG.0;
    /// `BPF_CGROUP_UNIX_GETPEERNAME`.
    pub const CGROUP_UNIX_GETPEERNAME: u32 = AttachType::CGROUP_UNIX_GETPEERNAME.0;
    /// `BPF_CGROUP_UNIX_GETSOCKNAME`.
    pub const CGROUP_UNIX_GETSOCKNAME: u32 = AttachType::CGROUP_UNIX_GETSOCKNAME.0;
    /// `BPF_NETKIT_PRIMARY`.
    pub const NETKIT_PRIMARY: u32 = AttachType::NETKIT_PRIMARY.0;
    /// `BPF_NETKIT_PEER`.
    pub const NETKIT_PEER: u32 = AttachType::NETKIT_PEER.0;
    /// `BPF_TRACE_KPROBE_SESSION`.
    pub const TRACE_KPROBE_SESSION: u32 = AttachType::TRACE_KPROBE_SESSION.0;
    /// `BPF_TRACE_UPROBE_SESSION`.
    pub const TRACE_UPROBE_SESSION: u32 = AttachType::TRACE_UPROBE_SESSION.0;

    /// Attach types that attach to a cgroup (BPF_LINK_CREATE with a cgroup fd).
    pub const CGROUP: &[u32] = &[
        CGROUP_INET_INGRESS,
        CGROUP_INET_EGRESS,
        CGROUP_INET_SOCK_CREATE,
        CGROUP_SOCK_OPS,
        CGROUP_DEVICE,
        CGROUP_INET4_BIND,
        CGROUP_INET6_BIND,
        CGROUP_INET4_CONNECT,
        CGROUP_INET6_CONNECT,
        CGROUP_INET4_POST_BIND,
        CGROUP_INET6_POST_BIND,
        CGROUP_UDP4_SENDMSG,
        CGROUP_UDP6_SENDMSG,
        CGROUP_SYSCTL,
        CGROUP_UDP4_RECVMSG,
        CGROUP_UDP6_RECVMSG,
        CGROUP_GETSOCKOPT,
        CGROUP_SETSOCKOPT,
        CGROUP_INET4_GETPEERNAME,
        CGROUP_INET6_GETPEERNAME,
        CGROUP_INET4_GETSOCKNAME,
        CGROUP_INET6_GETSOCKNAME,
        CGROUP_INET_SOCK_RELEASE,
        CGROUP_UNIX_CONNECT,
        CGROUP_UNIX_SENDMSG,
        CGROUP_UNIX_RECVMSG,
        CGROUP_UNIX_GETPEERNAME,
        CGROUP_UNIX_GETSOCKNAME,
    ];
}

pub use crate::section::ProgKind;

/// Everything needed to load one program.
pub struct LoadRequest<'a> {
    /// The program's name (its function).
    pub name: &'a str,
    /// The section it came from, for messages.
    pub section: &'a str,
    /// Program type, attach type and flags.
    pub kind: &'a ProgKind,
    /// The relocated instructions with their func and line info.
    pub assembled: &'a Assembled,
    /// The object's license.
    pub license: &'a std::ffi::CStr,
    /// The loaded BTF the func and line info refer to.
    pub btf: Option<BorrowedFd<'a>>,
    /// The kernel BTF id of the attach target (tracing, LSM), else 0.
    pub attach_btf_id: u32,
}

/// The log buffer of the one logged retry. Since Linux 6.4 a log that
/// overflows keeps its end (a rolling log, where the verifier's reason is);
/// older kernels keep its beginning.
const LOG_SIZE: usize = 4 * 1024 * 1024;
/// How much of a kernel log an error keeps: its end, where the reason is.
const LOG_KEEP_LINES: usize = 40;
/// How often a load refused with EAGAIN (no stop signal pending) is retried.
const EAGAIN_TRIES: usize = 5;

/// Loads a program. On failure the error carries the verifier log and a hint.
pub fn load(req: &LoadRequest<'_>) -> Result<OwnedFd> {
    let insns = req.assembled.insn_bytes();
    let func_info = req.assembled.func_info_bytes();
    let line_info = req.assembled.line_info_bytes();
    let attr = ProgLoad {
        prog_type: req.kind.prog_type,
        expected_attach_type: req.kind.expected_attach_type,
        name: req.name,
        insns: &insns,
        license: req.license,
        flags: req.kind.flags,
        btf: req.btf,
        func_info: &func_info,
        line_info: &line_info,
        attach_btf_id: req.attach_btf_id,
        fd_array: &req.assembled.fd_array,
    };
    with_kernel_log(
        || format!("program '{}' (section '{}')", req.name, req.section),
        |log| sys::prog_load(&attr, log),
    )
    .map_err(|e| match e {
        // A kernel before 5.15 may stop at something else first (a timer
        // callback's BPF_PSEUDO_FUNC before 5.13, the syscall program type
        // before 5.14): ask it about the helper itself.
        Error::Rejected {
            what, source, log, ..
        } if calls_timer_helper(&req.assembled.insns) && kernel_lacks_timer() => Error::Rejected {
            what,
            source,
            log,
            hint: Some(NO_BPF_TIMER),
        },
        e => e,
    })
}

/// Whether a program calls one of the bpf_timer_* helpers.
fn calls_timer_helper(insns: &[rawbpf_asm::Insn]) -> bool {
    insns
        .iter()
        .any(|i| i.is_helper_call() && (BPF_TIMER_INIT..=BPF_TIMER_CANCEL).contains(&i.imm))
}

/// Loads `call bpf_timer_init; exit` as a socket filter (a type every kernel
/// has, so the verifier gets to the call): a kernel without bpf_timer
/// rejects the helper id itself ("invalid func unknown#169"); one with it
/// complains about something else.
fn kernel_lacks_timer() -> bool {
    let insns = rawbpf_asm::encode(&[
        rawbpf_asm::Insn::call_helper(BPF_TIMER_INIT),
        rawbpf_asm::Insn::exit(),
    ]);
    let attr = ProgLoad {
        prog_type: prog_type::SOCKET_FILTER,
        expected_attach_type: 0,
        name: "timer_probe",
        insns: &insns,
        license: c"GPL",
        flags: sys::ProgFlags::empty(),
        btf: None,
        func_info: &[],
        line_info: &[],
        attach_btf_id: 0,
        fd_array: &[],
    };
    let mut log = vec![0u8; 4096];
    match sys::prog_load(&attr, Some(&mut log)) {
        Ok(_) => false,
        Err(_) => {
            let len = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            calls_missing_timer_helper(&String::from_utf8_lossy(&log[..len]))
        }
    }
}

/// Stops when SIGINT, SIGTERM or SIGHUP arrived (see `sys::install_stop_handlers`).
fn check_stop() -> Result<()> {
    match sys::stop_signal() {
        Some(signal) => Err(Error::Interrupted { signal }),
        None => Ok(()),
    }
}

/// The one place of the retry policy for loads the kernel may refuse with an
/// explanation (programs and BTF). Try without a log (cheaper); retry on
/// EAGAIN, which the verifier also returns when a signal interrupts it, so
/// a stop signal ends the load instead. On failure verify once more with a
/// 4 MiB log and report the kernel's words: a program is verified at most
/// twice, even one that hits the verifier's instruction limit, whose log
/// overflows any buffer.
pub fn with_kernel_log(
    what: impl Fn() -> String,
    load: impl Fn(Option<&mut [u8]>) -> std::io::Result<OwnedFd>,
) -> Result<OwnedFd> {
    let mut first = None;
    for _ in 0..EAGAIN_TRIES {
        check_stop()?;
        match load(None) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            Err(e) => {
                first = Some(e);
                break;
            }
        }
    }
    check_stop()?;
    // Zeroed lazily by the allocator: only the pages the kernel writes cost.
    let mut log = vec![0u8; LOG_SIZE];
    match load(Some(&mut log)) {
        Ok(fd) => Ok(fd),
        Err(e) => {
            check_stop()?;
            let cut = e.raw_os_error() == Some(libc::ENOSPC);
            // Report the kernel's first answer: the logged retry may only
            // add EAGAIN, or ENOSPC when the log did not fit.
            Err(rejected(what(), first.unwrap_or(e), &log, cut))
        }
    }
}

/// Builds an [`Error::Rejected`] from a kernel log buffer, keeping the
/// log's last lines (a verifier log can run to megabytes; the reason is at
/// the end). `cut` says the kernel's log did not fit in the buffer, so the
/// buffer holds only part of it.
pub fn rejected(what: String, source: std::io::Error, log: &[u8], cut: bool) -> Error {
    let len = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    let full = String::from_utf8_lossy(&log[..len]);
    let hint = hint(&full, &source);
    let lines: Vec<&str> = full.lines().collect();
    let mut log = String::new();
    if cut {
        log += &format!(
            "[... the kernel's log was longer than the {} MiB buffer; {} lines of it were kept ...]\n",
            LOG_SIZE >> 20,
            lines.len()
        );
    }
    if lines.len() > LOG_KEEP_LINES {
        log += &format!(
            "[... {} earlier lines of the kept log not shown ...]\n{}",
            lines.len() - LOG_KEEP_LINES,
            lines[lines.len() - LOG_KEEP_LINES..].join("\n")
        );
    } else {
        log += &full;
    }
    Error::Rejected {
        what,
        source,
        log,
        hint,
    }
}

/// `BPF_FUNC_timer_init` and `BPF_FUNC_timer_cancel`, the first and last
/// bpf_timer helper ids (Linux 5.15).
const BPF_TIMER_INIT: i32 = 169;
const BPF_TIMER_CANCEL: i32 = 172;

/// The hint for a program that calls a bpf_timer helper on a kernel without them.
pub const NO_BPF_TIMER: &str =
    "this kernel has no bpf_timer helpers (bpf_timer needs Linux 5.15 or later)";

/// Whether `e` is a rejection because the kernel has no bpf_timer helpers.
pub fn lacks_bpf_timer(e: &Error) -> bool {
    matches!(e, Error::Rejected { hint: Some(h), .. } if *h == NO_BPF_TIMER)
}

/// Whether the verifier refused a bpf_timer_* helper (ids 169 to 172,
/// `bpf_timer_init` to `bpf_timer_cancel`) as one it does not know: a
/// kernel before 5.15 says "invalid func unknown#169".
fn calls_missing_timer_helper(log: &str) -> bool {
    log.split("func unknown#").skip(1).any(|rest| {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        matches!(digits.parse::<u32>(), Ok(169..=172))
    })
}

/// A one-line hint for the commonest verifier messages.
fn hint(log: &str, err: &std::io::Error) -> Option<&'static str> {
    if calls_missing_timer_helper(log) {
        return Some(NO_BPF_TIMER);
    }
    const HINTS: &[(&str, &str)] = &[
        ("has to have BTF in order to use bpf_timer", "a map holding struct bpf_timer needs BTF: compile with clang -g and keep .BTF"),
        ("callback function not static", "make the callback a static function"),
        ("map_value_or_null", "check the result of bpf_map_lookup_elem() for NULL before using it"),
        ("cannot call GPL-restricted function", "this helper is GPL-only: declare char _license[] SEC(\"license\") = \"GPL\";"),
        ("unknown func", "this helper is not available to this program type on this kernel"),
        ("program of this type cannot use helper", "this helper is not available to this program type on this kernel"),
        ("At program exit the register R0", "the return value is out of range for this program type: is the section name (attach type) right?"),
        ("BPF program is too large", "the verifier explored too many paths: bound loops with constants or use bpf_loop()"),
        ("back-edge", "the verifier could not prove a loop terminates: bound it or use bpf_loop()"),
        ("missing btf func_info", "the object has subprograms but no .BTF.ext func_info: compile with clang -g"),
        ("invalid access to map value", "a map value access is out of bounds"),
        ("R1 type=ctx expected", "a helper was called with the wrong kind of argument"),
    ];
    if let Some((_, h)) = HINTS.iter().find(|(needle, _)| log.contains(needle)) {
        return Some(h);
    }
    match err.raw_os_error() {
        Some(libc::EPERM) if log.is_empty() => {
            Some("loading BPF programs needs root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON)")
        }
        Some(libc::E2BIG) => {
            Some("the kernel does not know a field rawbpf set: is it older than the program needs?")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_over_the_instruction_limit_is_verified_at_most_twice() {
        use std::cell::Cell;
        let calls = Cell::new(0);
        let err = with_kernel_log(
            || "program 'big'".into(),
            |log| {
                calls.set(calls.get() + 1);
                match log {
                    None => Err(std::io::Error::from_raw_os_error(libc::E2BIG)),
                    Some(buf) => {
                        // A rolling log that overflowed: its end, and ENOSPC.
                        let text = b"...\nBPF program is too large. Processed 1000001 insn\n";
                        buf[..text.len()].copy_from_slice(text);
                        Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
                    }
                }
            },
        )
        .unwrap_err();
        assert_eq!(calls.get(), 2, "one try without a log, one with");
        assert_eq!(err.raw_os_error(), Some(libc::E2BIG), "the first answer");
        let text = err.to_string();
        assert!(text.contains("too large"), "{text}");
        assert!(text.contains("longer than the 4 MiB buffer"), "{text}");
    }

    #[test]
    fn a_cut_log_says_how_many_lines_it_kept_and_shows_the_end() {
        let log: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let err = rejected(
            "program 'p'".into(),
            std::io::Error::from_raw_os_error(libc::EACCES),
            log.as_bytes(),
            false,
        );
        let text = err.to_string();
        assert!(text.contains("[... 60 earlier lines"), "{text}");
        assert!(text.contains("line 99"), "{text}");
        assert!(!text.contains("longer than"), "{text}");
    }

    #[test]
    fn hints_name_the_fix() {
        let err = std::io::Error::from_raw_os_error(libc::EINVAL);
        assert!(
            hint("map 'hmap' has to have BTF in order to use bpf_timer", &err)
                .unwrap()
                .contains("BTF")
        );
        assert!(hint("R0 invalid mem access 'map_value_or_null'", &err)
            .unwrap()
            .contains("NULL"));
        assert_eq!(hint("something new", &err), None);
        let old_kernel = "14: (85) call unknown#169\ninvalid func unknown#169\n";
        assert_eq!(hint(old_kernel, &err), Some(NO_BPF_TIMER));
        assert_eq!(hint("invalid func unknown#168\n", &err), None);
    }
}
