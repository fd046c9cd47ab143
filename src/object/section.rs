//! Step 2: program and attach types from section names.
//!
//! The kernel needs each program's type (`enum bpf_prog_type`) and, for many
//! types, the attach type it will be attached with (`expected_attach_type`):
//! the verifier checks return values and context accesses against it, so a
//! `cgroup_skb/egress` program loaded without BPF_CGROUP_INET_EGRESS may not
//! return 2 or 3. Neither is in the ELF; by convention (libbpf's `section_defs`
//! table in libbpf.c) the section name says both. The table below has one line
//! per libbpf entry, in libbpf's order, because the first match wins.
//!
//! A name is matched in one of three ways, written into the table entry as
//! libbpf writes it:
//! - `name`: exactly that name;
//! - `name+`: the name alone, or the name followed by `/anything`
//!   (`kprobe/do_unlinkat`, `xdp/foo`);
//! - `name/`: the name followed by anything (none in the table today).
//!
//! Some types also name what they attach to *at load time*: fentry, fexit,
//! fmod_ret, lsm, lsm_cgroup, iter and tp_btf programs carry the BTF id of
//! a kernel function or type (`attach_btf_id`), looked up in the kernel's
//! own BTF by the name after the `/`, with a prefix (`lsm/file_open` is the
//! function `bpf_lsm_file_open`, `tp_btf/sched_switch` the typedef
//! `btf_trace_sched_switch`). The other tails (`kprobe/FUNC`, `tp/CAT/NAME`,
//! `uprobe/PATH:FUNC`, ...) only matter when attaching, which rawbpf leaves to
//! whoever holds the program.
//!
//! A section name starting with `?` (`SEC("?xdp")`) is a program that is not
//! loaded unless asked for ([`ProgramSpec::set_autoload`](crate::ProgramSpec::set_autoload)).
//!
//! Deliberately refused, with the reason in the error: `struct_ops` (its
//! programs are only meaningful as members of a `.struct_ops` map whose value
//! the loader must build from the kernel's BTF of the ops struct) and
//! `freplace` (it replaces a function of another loaded program, which must be
//! named by fd at load time).

use crate::object::btf::kind;
use crate::sys::ProgFlags;
use crate::uapi::{attach_type as at, prog_type as pt};

/// What a section's tail names at load time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Nothing the loader needs (the tail, if any, is for attaching).
    None,
    /// A kernel function or type, by BTF id: `prefix` + tail, of BTF kind `kind`.
    KernelBtf {
        /// What goes before the tail to make the kernel's name (`bpf_lsm_`, ...).
        prefix: &'static str,
        /// The target's BTF kind: `BTF_KIND_FUNC` or `BTF_KIND_TYPEDEF`.
        kind: u8,
    },
    /// rawbpf does not load this kind of program; the reason says why.
    Refused(&'static str),
}

/// One line of the table: a libbpf section pattern and what it means.
#[derive(Clone, Copy, Debug)]
pub struct SectionDef {
    /// libbpf's pattern: exact, `name+` or `name/` (see the module docs).
    pub pattern: &'static str,
    /// The program type, `BPF_PROG_TYPE_*` ([`crate::uapi::prog_type`]).
    pub prog_type: u32,
    /// BPF_PROG_LOAD's `expected_attach_type`, `BPF_*` ([`crate::uapi::attach_type`]).
    pub expected_attach_type: u32,
    /// BPF_PROG_LOAD's `prog_flags` (sleepable, XDP frags).
    pub flags: ProgFlags,
    /// What the section's tail names at load time.
    pub target: Target,
}

const NONE: ProgFlags = ProgFlags::empty();
const SLEEPABLE: ProgFlags = ProgFlags::SLEEPABLE;
const FRAGS: ProgFlags = ProgFlags::XDP_HAS_FRAGS;

const T: Target = Target::None;
const FUNC: Target = Target::KernelBtf {
    prefix: "",
    kind: kind::FUNC,
};
const LSM: Target = Target::KernelBtf {
    prefix: "bpf_lsm_",
    kind: kind::FUNC,
};
const ITER: Target = Target::KernelBtf {
    prefix: "bpf_iter_",
    kind: kind::FUNC,
};
const RAW_TP: Target = Target::KernelBtf {
    prefix: "btf_trace_",
    kind: kind::TYPEDEF,
};
const STRUCT_OPS: Target = Target::Refused(
    "struct_ops programs are members of a .struct_ops map whose value is built from the kernel's BTF of the ops struct; rawbpf does not create struct_ops maps",
);
const FREPLACE: Target = Target::Refused(
    "freplace programs replace a function of another loaded program, which must be given by fd at load time; rawbpf loads whole objects only",
);

const fn d(
    pattern: &'static str,
    prog_type: u32,
    expected_attach_type: u32,
    flags: ProgFlags,
    target: Target,
) -> SectionDef {
    SectionDef {
        pattern,
        prog_type,
        expected_attach_type,
        flags,
        target,
    }
}

/// libbpf's `section_defs`, one line each, in its order (first match wins).
#[rustfmt::skip]
pub static SECTIONS: &[SectionDef] = &[
    d("socket",                   pt::SOCKET_FILTER,    0,                                 NONE,      T),
    d("sk_reuseport/migrate",     pt::SK_REUSEPORT,     at::SK_REUSEPORT_SELECT_OR_MIGRATE, NONE,     T),
    d("sk_reuseport",             pt::SK_REUSEPORT,     at::SK_REUSEPORT_SELECT,           NONE,      T),
    d("kprobe+",                  pt::KPROBE,           0,                                 NONE,      T),
    d("uprobe+",                  pt::KPROBE,           0,                                 NONE,      T),
    d("uprobe.s+",                pt::KPROBE,           0,                                 SLEEPABLE, T),
    d("kretprobe+",               pt::KPROBE,           0,                                 NONE,      T),
    d("uretprobe+",               pt::KPROBE,           0,                                 NONE,      T),
    d("uretprobe.s+",             pt::KPROBE,           0,                                 SLEEPABLE, T),
    d("kprobe.multi+",            pt::KPROBE,           at::TRACE_KPROBE_MULTI,            NONE,      T),
    d("kretprobe.multi+",         pt::KPROBE,           at::TRACE_KPROBE_MULTI,            NONE,      T),
    d("kprobe.session+",          pt::KPROBE,           at::TRACE_KPROBE_SESSION,          NONE,      T),
    d("uprobe.multi+",            pt::KPROBE,           at::TRACE_UPROBE_MULTI,            NONE,      T),
    d("uretprobe.multi+",         pt::KPROBE,           at::TRACE_UPROBE_MULTI,            NONE,      T),
    d("uprobe.session+",          pt::KPROBE,           at::TRACE_UPROBE_SESSION,          NONE,      T),
    d("uprobe.multi.s+",          pt::KPROBE,           at::TRACE_UPROBE_MULTI,            SLEEPABLE, T),
    d("uretprobe.multi.s+",       pt::KPROBE,           at::TRACE_UPROBE_MULTI,            SLEEPABLE, T),
    d("uprobe.session.s+",        pt::KPROBE,           at::TRACE_UPROBE_SESSION,          SLEEPABLE, T),
    d("ksyscall+",                pt::KPROBE,           0,                                 NONE,      T),
    d("kretsyscall+",             pt::KPROBE,           0,                                 NONE,      T),
    d("usdt+",                    pt::KPROBE,           0,                                 NONE,      T),
    d("usdt.s+",                  pt::KPROBE,           0,                                 SLEEPABLE, T),
    d("tc/ingress",               pt::SCHED_CLS,        at::TCX_INGRESS,                   NONE,      T),
    d("tc/egress",                pt::SCHED_CLS,        at::TCX_EGRESS,                    NONE,      T),
    d("tcx/ingress",              pt::SCHED_CLS,        at::TCX_INGRESS,                   NONE,      T),
    d("tcx/egress",               pt::SCHED_CLS,        at::TCX_EGRESS,                    NONE,      T),
    d("tc",                       pt::SCHED_CLS,        0,                                 NONE,      T),
    d("classifier",               pt::SCHED_CLS,        0,                                 NONE,      T),
    d("action",                   pt::SCHED_ACT,        0,                                 NONE,      T),
    d("netkit/primary",           pt::SCHED_CLS,        at::NETKIT_PRIMARY,                NONE,      T),
    d("netkit/peer",              pt::SCHED_CLS,        at::NETKIT_PEER,                   NONE,      T),
    d("tracepoint+",              pt::TRACEPOINT,       0,                                 NONE,      T),
    d("tp+",                      pt::TRACEPOINT,       0,                                 NONE,      T),
    d("raw_tracepoint+",          pt::RAW_TRACEPOINT,   0,                                 NONE,      T),
    d("raw_tp+",                  pt::RAW_TRACEPOINT,   0,                                 NONE,      T),
    d("raw_tracepoint.w+",        pt::RAW_TRACEPOINT_WRITABLE, 0,                          NONE,      T),
    d("raw_tp.w+",                pt::RAW_TRACEPOINT_WRITABLE, 0,                          NONE,      T),
    d("tp_btf+",                  pt::TRACING,          at::TRACE_RAW_TP,                  NONE,      RAW_TP),
    d("fentry+",                  pt::TRACING,          at::TRACE_FENTRY,                  NONE,      FUNC),
    d("fmod_ret+",                pt::TRACING,          at::MODIFY_RETURN,                 NONE,      FUNC),
    d("fexit+",                   pt::TRACING,          at::TRACE_FEXIT,                   NONE,      FUNC),
    d("fentry.s+",                pt::TRACING,          at::TRACE_FENTRY,                  SLEEPABLE, FUNC),
    d("fmod_ret.s+",              pt::TRACING,          at::MODIFY_RETURN,                 SLEEPABLE, FUNC),
    d("fexit.s+",                 pt::TRACING,          at::TRACE_FEXIT,                   SLEEPABLE, FUNC),
    d("freplace+",                pt::EXT,              0,                                 NONE,      FREPLACE),
    d("lsm+",                     pt::LSM,              at::LSM_MAC,                       NONE,      LSM),
    d("lsm.s+",                   pt::LSM,              at::LSM_MAC,                       SLEEPABLE, LSM),
    d("lsm_cgroup+",              pt::LSM,              at::LSM_CGROUP,                    NONE,      LSM),
    d("iter+",                    pt::TRACING,          at::TRACE_ITER,                    NONE,      ITER),
    d("iter.s+",                  pt::TRACING,          at::TRACE_ITER,                    SLEEPABLE, ITER),
    d("syscall",                  pt::SYSCALL,          0,                                 SLEEPABLE, T),
    d("xdp.frags/devmap",         pt::XDP,              at::XDP_DEVMAP,                    FRAGS,     T),
    d("xdp/devmap",               pt::XDP,              at::XDP_DEVMAP,                    NONE,      T),
    d("xdp.frags/cpumap",         pt::XDP,              at::XDP_CPUMAP,                    FRAGS,     T),
    d("xdp/cpumap",               pt::XDP,              at::XDP_CPUMAP,                    NONE,      T),
    d("xdp.frags",                pt::XDP,              at::XDP,                           FRAGS,     T),
    d("xdp",                      pt::XDP,              at::XDP,                           NONE,      T),
    d("perf_event",               pt::PERF_EVENT,       0,                                 NONE,      T),
    d("lwt_in",                   pt::LWT_IN,           0,                                 NONE,      T),
    d("lwt_out",                  pt::LWT_OUT,          0,                                 NONE,      T),
    d("lwt_xmit",                 pt::LWT_XMIT,         0,                                 NONE,      T),
    d("lwt_seg6local",            pt::LWT_SEG6LOCAL,    0,                                 NONE,      T),
    d("sockops",                  pt::SOCK_OPS,         at::CGROUP_SOCK_OPS,               NONE,      T),
    d("sk_skb/stream_parser",     pt::SK_SKB,           at::SK_SKB_STREAM_PARSER,          NONE,      T),
    d("sk_skb/stream_verdict",    pt::SK_SKB,           at::SK_SKB_STREAM_VERDICT,         NONE,      T),
    d("sk_skb/verdict",           pt::SK_SKB,           at::SK_SKB_VERDICT,                NONE,      T),
    d("sk_skb",                   pt::SK_SKB,           0,                                 NONE,      T),
    d("sk_msg",                   pt::SK_MSG,           at::SK_MSG_VERDICT,                NONE,      T),
    d("lirc_mode2",               pt::LIRC_MODE2,       at::LIRC_MODE2,                    NONE,      T),
    d("flow_dissector",           pt::FLOW_DISSECTOR,   at::FLOW_DISSECTOR,                NONE,      T),
    d("cgroup_skb/ingress",       pt::CGROUP_SKB,       at::CGROUP_INET_INGRESS,           NONE,      T),
    d("cgroup_skb/egress",        pt::CGROUP_SKB,       at::CGROUP_INET_EGRESS,            NONE,      T),
    d("cgroup/skb",               pt::CGROUP_SKB,       0,                                 NONE,      T),
    d("cgroup/sock_create",       pt::CGROUP_SOCK,      at::CGROUP_INET_SOCK_CREATE,       NONE,      T),
    d("cgroup/sock_release",      pt::CGROUP_SOCK,      at::CGROUP_INET_SOCK_RELEASE,      NONE,      T),
    d("cgroup/sock",              pt::CGROUP_SOCK,      at::CGROUP_INET_SOCK_CREATE,       NONE,      T),
    d("cgroup/post_bind4",        pt::CGROUP_SOCK,      at::CGROUP_INET4_POST_BIND,        NONE,      T),
    d("cgroup/post_bind6",        pt::CGROUP_SOCK,      at::CGROUP_INET6_POST_BIND,        NONE,      T),
    d("cgroup/bind4",             pt::CGROUP_SOCK_ADDR, at::CGROUP_INET4_BIND,             NONE,      T),
    d("cgroup/bind6",             pt::CGROUP_SOCK_ADDR, at::CGROUP_INET6_BIND,             NONE,      T),
    d("cgroup/connect4",          pt::CGROUP_SOCK_ADDR, at::CGROUP_INET4_CONNECT,          NONE,      T),
    d("cgroup/connect6",          pt::CGROUP_SOCK_ADDR, at::CGROUP_INET6_CONNECT,          NONE,      T),
    d("cgroup/connect_unix",      pt::CGROUP_SOCK_ADDR, at::CGROUP_UNIX_CONNECT,           NONE,      T),
    d("cgroup/sendmsg4",          pt::CGROUP_SOCK_ADDR, at::CGROUP_UDP4_SENDMSG,           NONE,      T),
    d("cgroup/sendmsg6",          pt::CGROUP_SOCK_ADDR, at::CGROUP_UDP6_SENDMSG,           NONE,      T),
    d("cgroup/sendmsg_unix",      pt::CGROUP_SOCK_ADDR, at::CGROUP_UNIX_SENDMSG,           NONE,      T),
    d("cgroup/recvmsg4",          pt::CGROUP_SOCK_ADDR, at::CGROUP_UDP4_RECVMSG,           NONE,      T),
    d("cgroup/recvmsg6",          pt::CGROUP_SOCK_ADDR, at::CGROUP_UDP6_RECVMSG,           NONE,      T),
    d("cgroup/recvmsg_unix",      pt::CGROUP_SOCK_ADDR, at::CGROUP_UNIX_RECVMSG,           NONE,      T),
    d("cgroup/getpeername4",      pt::CGROUP_SOCK_ADDR, at::CGROUP_INET4_GETPEERNAME,      NONE,      T),
    d("cgroup/getpeername6",      pt::CGROUP_SOCK_ADDR, at::CGROUP_INET6_GETPEERNAME,      NONE,      T),
    d("cgroup/getpeername_unix",  pt::CGROUP_SOCK_ADDR, at::CGROUP_UNIX_GETPEERNAME,       NONE,      T),
    d("cgroup/getsockname4",      pt::CGROUP_SOCK_ADDR, at::CGROUP_INET4_GETSOCKNAME,      NONE,      T),
    d("cgroup/getsockname6",      pt::CGROUP_SOCK_ADDR, at::CGROUP_INET6_GETSOCKNAME,      NONE,      T),
    d("cgroup/getsockname_unix",  pt::CGROUP_SOCK_ADDR, at::CGROUP_UNIX_GETSOCKNAME,       NONE,      T),
    d("cgroup/sysctl",            pt::CGROUP_SYSCTL,    at::CGROUP_SYSCTL,                 NONE,      T),
    d("cgroup/getsockopt",        pt::CGROUP_SOCKOPT,   at::CGROUP_GETSOCKOPT,             NONE,      T),
    d("cgroup/setsockopt",        pt::CGROUP_SOCKOPT,   at::CGROUP_SETSOCKOPT,             NONE,      T),
    d("cgroup/dev",               pt::CGROUP_DEVICE,    at::CGROUP_DEVICE,                 NONE,      T),
    d("struct_ops+",              pt::STRUCT_OPS,       0,                                 NONE,      STRUCT_OPS),
    d("struct_ops.s+",            pt::STRUCT_OPS,       0,                                 SLEEPABLE, STRUCT_OPS),
    d("sk_lookup",                pt::SK_LOOKUP,        at::SK_LOOKUP,                     NONE,      T),
    d("netfilter",                pt::NETFILTER,        at::NETFILTER,                     NONE,      T),
];

/// Whether `name` matches a libbpf pattern, and the tail after the pattern's
/// name (`""` or starting with `/`).
fn matches<'n>(pattern: &str, name: &'n str) -> Option<&'n str> {
    match pattern.as_bytes().last() {
        Some(b'+') => {
            let tail = name.strip_prefix(&pattern[..pattern.len() - 1])?;
            (tail.is_empty() || tail.starts_with('/')).then_some(tail)
        }
        Some(b'/') => name
            .strip_prefix(pattern)
            .map(|_| &name[pattern.len() - 1..]),
        _ => (name == pattern).then_some(""),
    }
}

/// The table entry for section `name` (without a `?` prefix) and its tail.
pub fn find(name: &str) -> Option<(&'static SectionDef, &str)> {
    // Every program's section is looked up, and the first byte already
    // tells most patterns apart: compare it before the rest. (No pattern's
    // name is empty: a test checks.)
    let first = name.as_bytes().first()?;
    SECTIONS
        .iter()
        .filter(|d| d.pattern.as_bytes().first() == Some(first))
        .find_map(|d| matches(d.pattern, name).map(|tail| (d, tail)))
}

/// Splits the "do not load by default" marker off a section name:
/// `("xdp", false)` for `?xdp`, `("xdp", true)` for `xdp`.
pub fn autoload(section: &str) -> (&str, bool) {
    match section.strip_prefix('?') {
        Some(rest) => (rest, false),
        None => (section, true),
    }
}

/// What a section name says about how to load a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgKind {
    /// The program type, `BPF_PROG_TYPE_*` ([`crate::uapi::prog_type`]).
    pub prog_type: u32,
    /// BPF_PROG_LOAD's `expected_attach_type`, `BPF_*` ([`crate::uapi::attach_type`]).
    pub expected_attach_type: u32,
    /// BPF_PROG_LOAD's `prog_flags` (sleepable, XDP frags).
    pub flags: ProgFlags,
    /// The kernel function or type (its full name in the kernel's BTF, prefix
    /// included) an LSM, tracing or iterator program attaches to.
    pub attach_func: Option<String>,
}

impl ProgKind {
    /// Derives the program kind from a libbpf section name (a leading `?`
    /// is ignored), or says why it cannot.
    pub fn parse(section: &str) -> Result<ProgKind, String> {
        let (name, _) = autoload(section);
        let (def, tail) = find(name).ok_or_else(|| {
            format!("section '{section}' does not name a program type (see libbpf's section names)")
        })?;
        let attach_func = match def.target {
            Target::None => None,
            Target::Refused(why) => return Err(format!("section '{section}': {why}")),
            Target::KernelBtf { prefix, .. } => match tail.strip_prefix('/') {
                Some(target) if !target.is_empty() => Some(format!("{prefix}{target}")),
                _ => {
                    return Err(format!(
                        "section '{section}' names no attach target: write it as '{}/NAME'",
                        def.pattern.trim_end_matches('+')
                    ))
                }
            },
        };
        Ok(ProgKind {
            prog_type: def.prog_type,
            expected_attach_type: def.expected_attach_type,
            flags: def.flags,
            attach_func,
        })
    }

    /// [`ProgKind::parse`], without the reason.
    pub fn from_section(section: &str) -> Option<ProgKind> {
        ProgKind::parse(section).ok()
    }

    /// The BTF kind of the attach target in the kernel's BTF: a TYPEDEF
    /// `btf_trace_*` for tp_btf programs, a FUNC for the rest.
    pub fn attach_btf_kind(&self) -> u8 {
        if self.expected_attach_type == at::TRACE_RAW_TP {
            kind::TYPEDEF
        } else {
            kind::FUNC
        }
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
        ) && at::CGROUP.contains(&self.expected_attach_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every section name of libbpf's table (current libbpf, libbpf.c
    /// `section_defs`), written out with the program type and expected
    /// attach type libbpf gives it, as the numbers of include/uapi/linux/bpf.h.
    /// Names that take a tail are tried with one.
    #[rustfmt::skip]
    const LIBBPF: &[(&str, u32, u32)] = &[
        ("socket", 1, 0),
        ("sk_reuseport/migrate", 21, 40),
        ("sk_reuseport", 21, 39),
        ("kprobe/do_unlinkat", 2, 0),
        ("kprobe", 2, 0),
        ("uprobe//bin/sh:main", 2, 0),
        ("uprobe.s//bin/sh:main", 2, 0),
        ("kretprobe/do_unlinkat", 2, 0),
        ("uretprobe//bin/sh:main", 2, 0),
        ("uretprobe.s//bin/sh:main", 2, 0),
        ("kprobe.multi/do_*", 2, 42),
        ("kretprobe.multi/do_*", 2, 42),
        ("kprobe.session/do_*", 2, 56),
        ("uprobe.multi//bin/sh:*", 2, 48),
        ("uretprobe.multi//bin/sh:*", 2, 48),
        ("uprobe.session//bin/sh:*", 2, 57),
        ("uprobe.multi.s//bin/sh:*", 2, 48),
        ("uretprobe.multi.s//bin/sh:*", 2, 48),
        ("uprobe.session.s//bin/sh:*", 2, 57),
        ("ksyscall/openat", 2, 0),
        ("kretsyscall/openat", 2, 0),
        ("usdt/libc:setjmp", 2, 0),
        ("usdt.s/libc:setjmp", 2, 0),
        ("tc/ingress", 3, 46),
        ("tc/egress", 3, 47),
        ("tcx/ingress", 3, 46),
        ("tcx/egress", 3, 47),
        ("tc", 3, 0),
        ("classifier", 3, 0),
        ("action", 4, 0),
        ("netkit/primary", 3, 54),
        ("netkit/peer", 3, 55),
        ("tracepoint/syscalls/sys_enter_openat", 5, 0),
        ("tp/syscalls/sys_enter_openat", 5, 0),
        ("raw_tracepoint/sys_enter", 17, 0),
        ("raw_tp/sys_enter", 17, 0),
        ("raw_tracepoint.w/bpf_test_finish", 24, 0),
        ("raw_tp.w/bpf_test_finish", 24, 0),
        ("tp_btf/sched_switch", 26, 23),
        ("fentry/do_unlinkat", 26, 24),
        ("fmod_ret/do_unlinkat", 26, 26),
        ("fexit/do_unlinkat", 26, 25),
        ("fentry.s/do_unlinkat", 26, 24),
        ("fmod_ret.s/do_unlinkat", 26, 26),
        ("fexit.s/do_unlinkat", 26, 25),
        ("lsm/file_open", 29, 27),
        ("lsm.s/file_open", 29, 27),
        ("lsm_cgroup/file_open", 29, 43),
        ("iter/task", 26, 28),
        ("iter.s/task", 26, 28),
        ("syscall", 31, 0),
        ("xdp.frags/devmap", 6, 33),
        ("xdp/devmap", 6, 33),
        ("xdp.frags/cpumap", 6, 35),
        ("xdp/cpumap", 6, 35),
        ("xdp.frags", 6, 37),
        ("xdp", 6, 37),
        ("perf_event", 7, 0),
        ("lwt_in", 10, 0),
        ("lwt_out", 11, 0),
        ("lwt_xmit", 12, 0),
        ("lwt_seg6local", 19, 0),
        ("sockops", 13, 3),
        ("sk_skb/stream_parser", 14, 4),
        ("sk_skb/stream_verdict", 14, 5),
        ("sk_skb/verdict", 14, 38),
        ("sk_skb", 14, 0),
        ("sk_msg", 16, 7),
        ("lirc_mode2", 20, 16),
        ("flow_dissector", 22, 17),
        ("cgroup_skb/ingress", 8, 0),
        ("cgroup_skb/egress", 8, 1),
        ("cgroup/skb", 8, 0),
        ("cgroup/sock_create", 9, 2),
        ("cgroup/sock_release", 9, 34),
        ("cgroup/sock", 9, 2),
        ("cgroup/post_bind4", 9, 12),
        ("cgroup/post_bind6", 9, 13),
        ("cgroup/bind4", 18, 8),
        ("cgroup/bind6", 18, 9),
        ("cgroup/connect4", 18, 10),
        ("cgroup/connect6", 18, 11),
        ("cgroup/connect_unix", 18, 49),
        ("cgroup/sendmsg4", 18, 14),
        ("cgroup/sendmsg6", 18, 15),
        ("cgroup/sendmsg_unix", 18, 50),
        ("cgroup/recvmsg4", 18, 19),
        ("cgroup/recvmsg6", 18, 20),
        ("cgroup/recvmsg_unix", 18, 51),
        ("cgroup/getpeername4", 18, 29),
        ("cgroup/getpeername6", 18, 30),
        ("cgroup/getpeername_unix", 18, 52),
        ("cgroup/getsockname4", 18, 31),
        ("cgroup/getsockname6", 18, 32),
        ("cgroup/getsockname_unix", 18, 53),
        ("cgroup/sysctl", 23, 18),
        ("cgroup/getsockopt", 25, 21),
        ("cgroup/setsockopt", 25, 22),
        ("cgroup/dev", 15, 6),
        ("sk_lookup", 30, 36),
        ("netfilter", 32, 45),
    ];

    #[test]
    fn every_pattern_has_a_name_before_its_kind_marker() {
        // `find` compares first bytes: a pattern of only `+` or `/` would
        // match names it should not.
        for def in SECTIONS {
            let name = def.pattern.trim_end_matches(['+', '/']);
            assert!(!name.is_empty(), "pattern {:?}", def.pattern);
        }
    }

    #[test]
    fn every_libbpf_section_name_gets_libbpfs_types() {
        for &(name, prog_type, attach_type) in LIBBPF {
            let k = ProgKind::parse(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                (k.prog_type, k.expected_attach_type),
                (prog_type, attach_type),
                "section {name}"
            );
        }
        // Every table line is exercised by the list above, and vice versa.
        for def in SECTIONS {
            let stem = def.pattern.trim_end_matches('+');
            let covered = LIBBPF.iter().any(|(n, _, _)| {
                find(n).is_some_and(|(d, _)| std::ptr::eq(d, def)) && n.starts_with(stem)
            });
            let refused = matches!(def.target, Target::Refused(_));
            assert!(
                covered || refused,
                "table line {} has no test name",
                def.pattern
            );
        }
    }

    #[test]
    fn flags_follow_the_suffixes() {
        let flags = |n: &str| ProgKind::parse(n).unwrap().flags;
        assert_eq!(flags("xdp.frags"), ProgFlags::XDP_HAS_FRAGS);
        assert_eq!(flags("xdp.frags/devmap"), ProgFlags::XDP_HAS_FRAGS);
        assert_eq!(flags("xdp"), ProgFlags::empty());
        for n in [
            "lsm.s/file_open",
            "fentry.s/f",
            "uprobe.s",
            "usdt.s",
            "iter.s/task",
            "syscall",
            "uprobe.multi.s",
        ] {
            assert_eq!(flags(n), ProgFlags::SLEEPABLE, "{n}");
        }
        assert_eq!(flags("fentry/f"), ProgFlags::empty());
    }

    #[test]
    fn attach_targets_take_libbpfs_prefixes_and_kinds() {
        let k = ProgKind::parse("lsm/file_open").unwrap();
        assert_eq!(k.attach_func.as_deref(), Some("bpf_lsm_file_open"));
        assert_eq!(k.attach_btf_kind(), kind::FUNC);
        let k = ProgKind::parse("tp_btf/sched_switch").unwrap();
        assert_eq!(k.attach_func.as_deref(), Some("btf_trace_sched_switch"));
        assert_eq!(k.attach_btf_kind(), kind::TYPEDEF);
        let k = ProgKind::parse("iter/task").unwrap();
        assert_eq!(k.attach_func.as_deref(), Some("bpf_iter_task"));
        let k = ProgKind::parse("fentry/bpf_fentry_test1").unwrap();
        assert_eq!(k.attach_func.as_deref(), Some("bpf_fentry_test1"));
        // Tails that only matter for attaching are not targets.
        assert_eq!(
            ProgKind::parse("kprobe/do_unlinkat").unwrap().attach_func,
            None
        );
        // A BTF-attached type without a target is an error that says how to write it.
        let e = ProgKind::parse("fentry").unwrap_err();
        assert!(e.contains("fentry/NAME"), "{e}");
        assert!(ProgKind::parse("lsm/").is_err());
    }

    #[test]
    fn matching_follows_libbpf() {
        assert!(ProgKind::parse("cgroup_skb/egressx").is_err());
        assert!(ProgKind::parse("tcx").is_err());
        assert!(ProgKind::parse("tcx/other").is_err());
        assert!(ProgKind::parse(".text").is_err());
        // Exact names take no tail (libbpf 1.0 dropped the sloppy prefixes),
        // and "name+" tails need a '/'.
        assert!(ProgKind::parse("xdp/foo").is_err());
        assert!(ProgKind::parse("socket/x").is_err());
        assert!(ProgKind::parse("kprobefoo").is_err());
        assert_eq!(ProgKind::parse("tp/a/b").unwrap().prog_type, pt::TRACEPOINT);
        assert_eq!(
            ProgKind::parse("kprobe.multi").unwrap().prog_type,
            pt::KPROBE
        );
        assert!(ProgKind::parse("struct_ops/dctcp_init")
            .unwrap_err()
            .contains("struct_ops"));
        assert!(ProgKind::parse("freplace/f")
            .unwrap_err()
            .contains("freplace"));
        let k = ProgKind::parse("cgroup_skb/egress").unwrap();
        assert!(k.attaches_to_cgroup());
        assert!(!ProgKind::parse("xdp").unwrap().attaches_to_cgroup());
    }

    #[test]
    fn question_mark_means_not_loaded_by_default() {
        assert_eq!(autoload("?xdp"), ("xdp", false));
        assert_eq!(autoload("xdp"), ("xdp", true));
        assert_eq!(ProgKind::parse("?xdp").unwrap().prog_type, pt::XDP);
    }
}
