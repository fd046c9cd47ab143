//! Step 5: load programs.
//!
//! The kernel needs each program's type (`enum bpf_prog_type`) and, for many
//! types, the attach type it will be attached with (`expected_attach_type`):
//! the verifier checks return values and context accesses against it, so a
//! `cgroup_skb/egress` program loaded without BPF_CGROUP_INET_EGRESS may not
//! return 2 or 3. Neither is in the ELF, so, like libbpf, we derive both from
//! the section name. LSM and fentry programs also name the kernel function they
//! attach to by its BTF id in the kernel's own BTF (`/sys/kernel/btf/vmlinux`),
//! which is read only when such a program is present.
//!
//! Policy for loading lives here and only here: retry on EAGAIN, and on any
//! other failure load once more with a log buffer to show the verifier's words.

use std::os::fd::{BorrowedFd, OwnedFd};

use crate::error::{Error, Result};
use crate::reloc::Linked;
use crate::sys::{self, ProgFlags, ProgLoad};

/// `enum bpf_prog_type` values.
pub mod prog_type {
    pub const SOCKET_FILTER: u32 = 1;
    pub const KPROBE: u32 = 2;
    pub const SCHED_CLS: u32 = 3;
    pub const SCHED_ACT: u32 = 4;
    pub const TRACEPOINT: u32 = 5;
    pub const XDP: u32 = 6;
    pub const PERF_EVENT: u32 = 7;
    pub const CGROUP_SKB: u32 = 8;
    pub const CGROUP_SOCK: u32 = 9;
    pub const LWT_IN: u32 = 10;
    pub const LWT_OUT: u32 = 11;
    pub const LWT_XMIT: u32 = 12;
    pub const SOCK_OPS: u32 = 13;
    pub const SK_SKB: u32 = 14;
    pub const CGROUP_DEVICE: u32 = 15;
    pub const SK_MSG: u32 = 16;
    pub const RAW_TRACEPOINT: u32 = 17;
    pub const CGROUP_SOCK_ADDR: u32 = 18;
    pub const LWT_SEG6LOCAL: u32 = 19;
    pub const SK_REUSEPORT: u32 = 21;
    pub const FLOW_DISSECTOR: u32 = 22;
    pub const CGROUP_SYSCTL: u32 = 23;
    pub const CGROUP_SOCKOPT: u32 = 25;
    pub const TRACING: u32 = 26;
    pub const LSM: u32 = 29;
    pub const SK_LOOKUP: u32 = 30;
    pub const SYSCALL: u32 = 31;
}

/// `enum bpf_attach_type` values.
pub mod attach_type {
    pub const CGROUP_INET_INGRESS: u32 = 0;
    pub const CGROUP_INET_EGRESS: u32 = 1;
    pub const CGROUP_INET_SOCK_CREATE: u32 = 2;
    pub const CGROUP_SOCK_OPS: u32 = 3;
    pub const SK_SKB_STREAM_PARSER: u32 = 4;
    pub const SK_SKB_STREAM_VERDICT: u32 = 5;
    pub const CGROUP_DEVICE: u32 = 6;
    pub const SK_MSG_VERDICT: u32 = 7;
    pub const CGROUP_INET4_BIND: u32 = 8;
    pub const CGROUP_INET6_BIND: u32 = 9;
    pub const CGROUP_INET4_CONNECT: u32 = 10;
    pub const CGROUP_INET6_CONNECT: u32 = 11;
    pub const CGROUP_INET4_POST_BIND: u32 = 12;
    pub const CGROUP_INET6_POST_BIND: u32 = 13;
    pub const CGROUP_UDP4_SENDMSG: u32 = 14;
    pub const CGROUP_UDP6_SENDMSG: u32 = 15;
    pub const FLOW_DISSECTOR: u32 = 17;
    pub const CGROUP_SYSCTL: u32 = 18;
    pub const CGROUP_UDP4_RECVMSG: u32 = 19;
    pub const CGROUP_UDP6_RECVMSG: u32 = 20;
    pub const CGROUP_GETSOCKOPT: u32 = 21;
    pub const CGROUP_SETSOCKOPT: u32 = 22;
    pub const TRACE_RAW_TP: u32 = 23;
    pub const TRACE_FENTRY: u32 = 24;
    pub const TRACE_FEXIT: u32 = 25;
    pub const MODIFY_RETURN: u32 = 26;
    pub const LSM_MAC: u32 = 27;
    pub const TRACE_ITER: u32 = 28;
    pub const CGROUP_INET4_GETPEERNAME: u32 = 29;
    pub const CGROUP_INET6_GETPEERNAME: u32 = 30;
    pub const CGROUP_INET4_GETSOCKNAME: u32 = 31;
    pub const CGROUP_INET6_GETSOCKNAME: u32 = 32;
    pub const XDP_DEVMAP: u32 = 33;
    pub const CGROUP_INET_SOCK_RELEASE: u32 = 34;
    pub const XDP_CPUMAP: u32 = 35;
    pub const SK_LOOKUP: u32 = 36;
    pub const XDP: u32 = 37;
    pub const SK_SKB_VERDICT: u32 = 38;
    pub const SK_REUSEPORT_SELECT: u32 = 39;
    pub const SK_REUSEPORT_SELECT_OR_MIGRATE: u32 = 40;
    /// tc ingress through a link (Linux 6.6); "tc" programs load without it.
    pub const TCX_INGRESS: u32 = 46;

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
    ];
}

use attach_type as at;
use prog_type as pt;

/// How a section name's tail is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tail {
    /// The name must be exactly the prefix.
    Exact,
    /// The prefix alone, or the prefix followed by `/anything`.
    Optional,
    /// The prefix must be followed by `/<kernel function>`, found in vmlinux BTF.
    KernelFunc(&'static str),
}

struct SectionDef {
    prefix: &'static str,
    prog_type: u32,
    attach_type: u32,
    tail: Tail,
    sleepable: bool,
}

const fn def(prefix: &'static str, prog_type: u32, attach_type: u32, tail: Tail) -> SectionDef {
    SectionDef {
        prefix,
        prog_type,
        attach_type,
        tail,
        sleepable: false,
    }
}

const fn sleepable(mut d: SectionDef) -> SectionDef {
    d.sleepable = true;
    d
}

use Tail::{Exact, KernelFunc, Optional};

/// libbpf's section names for the program types rawbpf loads, first match
/// wins (so the longer names come first).
const SECTIONS: &[SectionDef] = &[
    def("socket", pt::SOCKET_FILTER, 0, Optional),
    def(
        "sk_reuseport/migrate",
        pt::SK_REUSEPORT,
        at::SK_REUSEPORT_SELECT_OR_MIGRATE,
        Exact,
    ),
    def(
        "sk_reuseport",
        pt::SK_REUSEPORT,
        at::SK_REUSEPORT_SELECT,
        Exact,
    ),
    def("tc", pt::SCHED_CLS, 0, Optional),
    def("classifier", pt::SCHED_CLS, 0, Optional),
    def("action", pt::SCHED_ACT, 0, Optional),
    def("lsm", pt::LSM, at::LSM_MAC, KernelFunc("bpf_lsm_")),
    sleepable(def("lsm.s", pt::LSM, at::LSM_MAC, KernelFunc("bpf_lsm_"))),
    def("fentry", pt::TRACING, at::TRACE_FENTRY, KernelFunc("")),
    sleepable(def(
        "fentry.s",
        pt::TRACING,
        at::TRACE_FENTRY,
        KernelFunc(""),
    )),
    def("fexit", pt::TRACING, at::TRACE_FEXIT, KernelFunc("")),
    sleepable(def("fexit.s", pt::TRACING, at::TRACE_FEXIT, KernelFunc(""))),
    def("fmod_ret", pt::TRACING, at::MODIFY_RETURN, KernelFunc("")),
    sleepable(def("syscall", pt::SYSCALL, 0, Exact)),
    def("xdp/devmap", pt::XDP, at::XDP_DEVMAP, Exact),
    def("xdp/cpumap", pt::XDP, at::XDP_CPUMAP, Exact),
    def("xdp", pt::XDP, at::XDP, Optional),
    def("lwt_in", pt::LWT_IN, 0, Exact),
    def("lwt_out", pt::LWT_OUT, 0, Exact),
    def("lwt_xmit", pt::LWT_XMIT, 0, Exact),
    def("lwt_seg6local", pt::LWT_SEG6LOCAL, 0, Exact),
    def("sockops", pt::SOCK_OPS, at::CGROUP_SOCK_OPS, Exact),
    def(
        "sk_skb/stream_parser",
        pt::SK_SKB,
        at::SK_SKB_STREAM_PARSER,
        Exact,
    ),
    def(
        "sk_skb/stream_verdict",
        pt::SK_SKB,
        at::SK_SKB_STREAM_VERDICT,
        Exact,
    ),
    def("sk_skb/verdict", pt::SK_SKB, at::SK_SKB_VERDICT, Exact),
    def("sk_skb", pt::SK_SKB, 0, Optional),
    def("sk_msg", pt::SK_MSG, at::SK_MSG_VERDICT, Exact),
    def(
        "flow_dissector",
        pt::FLOW_DISSECTOR,
        at::FLOW_DISSECTOR,
        Exact,
    ),
    def(
        "cgroup_skb/ingress",
        pt::CGROUP_SKB,
        at::CGROUP_INET_INGRESS,
        Exact,
    ),
    def(
        "cgroup_skb/egress",
        pt::CGROUP_SKB,
        at::CGROUP_INET_EGRESS,
        Exact,
    ),
    def("cgroup/skb", pt::CGROUP_SKB, 0, Exact),
    def(
        "cgroup/sock_create",
        pt::CGROUP_SOCK,
        at::CGROUP_INET_SOCK_CREATE,
        Exact,
    ),
    def(
        "cgroup/sock_release",
        pt::CGROUP_SOCK,
        at::CGROUP_INET_SOCK_RELEASE,
        Exact,
    ),
    def(
        "cgroup/sock",
        pt::CGROUP_SOCK,
        at::CGROUP_INET_SOCK_CREATE,
        Exact,
    ),
    def(
        "cgroup/post_bind4",
        pt::CGROUP_SOCK,
        at::CGROUP_INET4_POST_BIND,
        Exact,
    ),
    def(
        "cgroup/post_bind6",
        pt::CGROUP_SOCK,
        at::CGROUP_INET6_POST_BIND,
        Exact,
    ),
    def(
        "cgroup/bind4",
        pt::CGROUP_SOCK_ADDR,
        at::CGROUP_INET4_BIND,
        Exact,
    ),
    def(
        "cgroup/bind6",
        pt::CGROUP_SOCK_ADDR,
        at::CGROUP_INET6_BIND,
        Exact,
    ),
    def(
        "cgroup/connect4",
        pt::CGROUP_SOCK_ADDR,
        at::CGROUP_INET4_CONNECT,
        Exact,
    ),
    def(
        "cgroup/connect6",
        pt::CGROUP_SOCK_ADDR,
        at::CGROUP_INET6_CONNECT,
        Exact,
    ),
    def(
        "cgroup/sendmsg4",
        pt::CGROUP_SOCK_ADDR,
        at::CGROUP_UDP4_SENDMSG,
        Exact,
    ),
    def(
        "cgroup/sendmsg6",
        pt::CGROUP_SOCK_ADDR,
        at::CGROUP_UDP6_SENDMSG,
        Exact,
    ),
    def(
        "cgroup/recvmsg4",
        pt::CGROUP_SOCK_ADDR,
        at::CGROUP_UDP4_RECVMSG,
        Exact,
    ),
    def(
        "cgroup/recvmsg6",
        pt::CGROUP_SOCK_ADDR,
        at::CGROUP_UDP6_RECVMSG,
        Exact,
    ),
    def(
        "cgroup/getpeername4",
        pt::CGROUP_SOCK_ADDR,
        at::CGROUP_INET4_GETPEERNAME,
        Exact,
    ),
    def(
        "cgroup/getpeername6",
        pt::CGROUP_SOCK_ADDR,
        at::CGROUP_INET6_GETPEERNAME,
        Exact,
    ),
    def(
        "cgroup/getsockname4",
        pt::CGROUP_SOCK_ADDR,
        at::CGROUP_INET4_GETSOCKNAME,
        Exact,
    ),
    def(
        "cgroup/getsockname6",
        pt::CGROUP_SOCK_ADDR,
        at::CGROUP_INET6_GETSOCKNAME,
        Exact,
    ),
    def("cgroup/sysctl", pt::CGROUP_SYSCTL, at::CGROUP_SYSCTL, Exact),
    def(
        "cgroup/getsockopt",
        pt::CGROUP_SOCKOPT,
        at::CGROUP_GETSOCKOPT,
        Exact,
    ),
    def(
        "cgroup/setsockopt",
        pt::CGROUP_SOCKOPT,
        at::CGROUP_SETSOCKOPT,
        Exact,
    ),
    def("cgroup/dev", pt::CGROUP_DEVICE, at::CGROUP_DEVICE, Exact),
    def("sk_lookup", pt::SK_LOOKUP, at::SK_LOOKUP, Exact),
];

/// What a section name says about how to load a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgKind {
    pub prog_type: u32,
    pub expected_attach_type: u32,
    pub flags: ProgFlags,
    /// The kernel function (as named in vmlinux BTF) an LSM or tracing program attaches to.
    pub attach_func: Option<String>,
}

impl ProgKind {
    /// Derives the program kind from a libbpf-style section name.
    pub fn from_section(section: &str) -> Option<ProgKind> {
        SECTIONS.iter().find_map(|d| {
            let tail = section.strip_prefix(d.prefix)?;
            let attach_func = match (d.tail, tail) {
                (Exact, "") | (Optional, "") => None,
                (Optional, t) if t.starts_with('/') => None,
                (KernelFunc(prefix), t) if t.len() > 1 && t.starts_with('/') => {
                    Some(format!("{prefix}{}", &t[1..]))
                }
                _ => return None,
            };
            Some(ProgKind {
                prog_type: d.prog_type,
                expected_attach_type: d.attach_type,
                flags: if d.sleepable {
                    ProgFlags::SLEEPABLE
                } else {
                    ProgFlags::empty()
                },
                attach_func,
            })
        })
    }

    /// Whether programs of this kind attach to a cgroup.
    pub fn attaches_to_cgroup(&self) -> bool {
        matches!(
            self.prog_type,
            pt::CGROUP_SKB
                | pt::CGROUP_SOCK
                | pt::CGROUP_SOCK_ADDR
                | pt::CGROUP_SOCKOPT
                | pt::CGROUP_SYSCTL
                | pt::CGROUP_DEVICE
                | pt::SOCK_OPS
        ) && attach_type::CGROUP.contains(&self.expected_attach_type)
    }
}

/// Everything needed to load one program.
pub struct LoadRequest<'a> {
    pub name: &'a str,
    pub section: &'a str,
    pub kind: &'a ProgKind,
    pub linked: &'a Linked,
    pub license: &'a std::ffi::CStr,
    pub btf: Option<BorrowedFd<'a>>,
    pub attach_btf_id: u32,
}

const LOG_START: usize = 64 * 1024;
const LOG_MAX: usize = 4 * 1024 * 1024;
/// How much of a kernel log an error keeps: its end, where the reason is.
const LOG_KEEP_LINES: usize = 40;

/// Loads a program. On failure the error carries the verifier log and a hint.
pub fn load(req: &LoadRequest<'_>) -> Result<OwnedFd> {
    let insns = req.linked.insn_bytes();
    let func_info = req.linked.func_info_bytes();
    let line_info = req.linked.line_info_bytes();
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
    };
    with_kernel_log(
        || format!("program '{}' (section '{}')", req.name, req.section),
        |log| sys::prog_load(&attr, log),
    )
}

/// The one place of the retry policy for loads the kernel may refuse with an
/// explanation (programs and BTF): try without a log (cheaper), retry on
/// EAGAIN, and on failure load again with a log, growing it until the whole
/// explanation fits, so the error can carry the kernel's own words.
pub fn with_kernel_log(
    what: impl Fn() -> String,
    load: impl Fn(Option<&mut [u8]>) -> std::io::Result<OwnedFd>,
) -> Result<OwnedFd> {
    let mut first = None;
    // The verifier may return EAGAIN when interrupted by a signal.
    for _ in 0..5 {
        match load(None) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            Err(e) => {
                first = Some(e);
                break;
            }
        }
    }
    let mut size = LOG_START;
    loop {
        let mut log = vec![0u8; size];
        match load(Some(&mut log)) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) && size < LOG_MAX => size *= 4,
            Err(e) => {
                // Report the kernel's first answer: the logged retry may only
                // add EAGAIN, or ENOSPC when even the largest log was too small.
                return Err(rejected(what(), first.unwrap_or(e), &log));
            }
        }
    }
}

/// Builds an [`Error::Rejected`] from a kernel log buffer, keeping the
/// log's last lines (a verifier log can run to megabytes; the reason is at
/// the end).
pub fn rejected(what: String, source: std::io::Error, log: &[u8]) -> Error {
    let len = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    let full = String::from_utf8_lossy(&log[..len]);
    let hint = hint(&full, &source);
    let lines: Vec<&str> = full.lines().collect();
    let log = if lines.len() > LOG_KEEP_LINES {
        format!(
            "[... {} earlier lines ...]\n{}",
            lines.len() - LOG_KEEP_LINES,
            lines[lines.len() - LOG_KEEP_LINES..].join("\n")
        )
    } else {
        full.into_owned()
    };
    Error::Rejected {
        what,
        source,
        log,
        hint,
    }
}

/// A one-line hint for the commonest verifier messages.
fn hint(log: &str, err: &std::io::Error) -> Option<&'static str> {
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
    fn section_names_map_to_libbpf_types() {
        let k = ProgKind::from_section("cgroup_skb/egress").unwrap();
        assert_eq!((k.prog_type, k.expected_attach_type), (8, 1));
        assert!(k.attaches_to_cgroup());
        let k = ProgKind::from_section("cgroup_skb/ingress").unwrap();
        assert_eq!((k.prog_type, k.expected_attach_type), (8, 0));
        assert_eq!(
            ProgKind::from_section("xdp").unwrap().expected_attach_type,
            37
        );
        assert_eq!(
            ProgKind::from_section("xdp/foo").unwrap().prog_type,
            pt::XDP
        );
        assert_eq!(
            ProgKind::from_section("xdp/devmap")
                .unwrap()
                .expected_attach_type,
            33
        );
        assert_eq!(
            ProgKind::from_section("tc").unwrap().prog_type,
            pt::SCHED_CLS
        );
        assert_eq!(
            ProgKind::from_section("syscall").unwrap().flags,
            ProgFlags::SLEEPABLE
        );
        assert_eq!(
            ProgKind::from_section("cgroup/sysctl")
                .unwrap()
                .expected_attach_type,
            18
        );
        let lsm = ProgKind::from_section("lsm/file_open").unwrap();
        assert_eq!(lsm.attach_func.as_deref(), Some("bpf_lsm_file_open"));
        let fentry = ProgKind::from_section("fentry/bpf_fentry_test1").unwrap();
        assert_eq!((fentry.prog_type, fentry.expected_attach_type), (26, 24));
        assert_eq!(fentry.attach_func.as_deref(), Some("bpf_fentry_test1"));
        assert!(ProgKind::from_section("lsm/").is_none());
        assert!(ProgKind::from_section("cgroup_skb/egressx").is_none());
        assert!(ProgKind::from_section("tcx").is_none());
        assert!(ProgKind::from_section(".text").is_none());
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
    }
}
