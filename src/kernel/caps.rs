//! Which capabilities a load needs, and which of them this process lacks.
//!
//! The kernel checks capabilities, not the user id, and says only EPERM
//! (or leaves a helper out) when one is missing. `bpf_prog_load` in
//! kernel/bpf/syscall.c wants CAP_BPF for every program type but socket
//! filters and cgroup skb programs (those only while
//! `kernel.unprivileged_bpf_disabled` is 0), CAP_NET_ADMIN besides for the
//! networking types (`is_net_admin_prog_type`) and CAP_PERFMON for the
//! tracing ones (`is_perfmon_prog_type`); BPF_BTF_LOAD and most map types
//! want CAP_BPF. `bpf_base_func_proto` in kernel/bpf/helpers.c offers the
//! tracing helpers (bpf_trace_printk, bpf_probe_read_kernel...) only with
//! CAP_PERFMON and the bpf_timer, spin lock and per-CPU pointer helpers
//! only with CAP_BPF; the verifier then calls them unknown ("program of
//! this type cannot use helper bpf_trace_printk#6"). CAP_SYS_ADMIN stands
//! in for CAP_BPF and CAP_PERFMON (`bpf_capable`, `perfmon_capable`), and
//! since Linux 6.9 for CAP_NET_ADMIN too (`bpf_ns_capable`, under
//! `bpf_token_capable`). The effective set is read with capget(2).

use crate::sys;

/// A capability, by its number in linux/capability.h.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cap(pub u32);

impl Cap {
    /// CAP_NET_ADMIN.
    pub const NET_ADMIN: Cap = Cap(12);
    /// CAP_SYS_ADMIN.
    pub const SYS_ADMIN: Cap = Cap(21);
    /// CAP_PERFMON (Linux 5.8).
    pub const PERFMON: Cap = Cap(38);
    /// CAP_BPF (Linux 5.8).
    pub const BPF: Cap = Cap(39);

    /// Its name, as in linux/capability.h.
    pub fn name(self) -> String {
        match self {
            Cap::NET_ADMIN => "CAP_NET_ADMIN".into(),
            Cap::SYS_ADMIN => "CAP_SYS_ADMIN".into(),
            Cap::PERFMON => "CAP_PERFMON".into(),
            Cap::BPF => "CAP_BPF".into(),
            Cap(n) => format!("capability {n}"),
        }
    }

    /// Whether the set `effective` (bit N for capability N) grants this
    /// capability, or the CAP_SYS_ADMIN that stands in for it on a kernel
    /// of `version`.
    pub fn granted_by(self, effective: u64, version: (u32, u32)) -> bool {
        let has = |c: Cap| effective & (1 << c.0) != 0;
        let stands_in = match self {
            Cap::BPF | Cap::PERFMON => true,
            Cap::NET_ADMIN => version >= (6, 9),
            _ => false,
        };
        has(self) || (stands_in && has(Cap::SYS_ADMIN))
    }
}

/// `enum bpf_prog_type` numbers the checks below name.
mod prog {
    pub const SOCKET_FILTER: u32 = 1;
    pub const CGROUP_SKB: u32 = 8;
    /// `is_net_admin_prog_type`: sched_cls, sched_act, xdp, cgroup_sock,
    /// lwt_in/out/xmit, sock_ops, sk_skb, cgroup_device, sk_msg,
    /// cgroup_sock_addr, lwt_seg6local, flow_dissector, cgroup_sysctl,
    /// cgroup_sockopt, ext, netfilter.
    pub const NET_ADMIN: &[u32] = &[
        3, 4, 6, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 22, 23, 25, 28, 32,
    ];
    /// `is_perfmon_prog_type`: kprobe, tracepoint, perf_event,
    /// raw_tracepoint, raw_tracepoint_writable, tracing, struct_ops, ext,
    /// lsm.
    pub const PERFMON: &[u32] = &[2, 5, 7, 17, 24, 26, 27, 28, 29];
}

/// The capabilities loading a program of `prog_type` needs.
pub fn for_prog_type(prog_type: u32) -> Vec<Cap> {
    let mut needs = Vec::new();
    let unprivileged = matches!(prog_type, prog::SOCKET_FILTER | prog::CGROUP_SKB);
    if !unprivileged || unprivileged_bpf_disabled() {
        needs.push(Cap::BPF);
    }
    if prog::NET_ADMIN.contains(&prog_type) {
        needs.push(Cap::NET_ADMIN);
    }
    if prog::PERFMON.contains(&prog_type) {
        needs.push(Cap::PERFMON);
    }
    needs
}

/// Whether `kernel.unprivileged_bpf_disabled` is set (or cannot be read).
fn unprivileged_bpf_disabled() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/unprivileged_bpf_disabled")
        .map_or(true, |v| v.trim() != "0")
}

/// Which of `needed` this process lacks; empty if it has them all or its
/// capabilities cannot be read.
pub fn missing(needed: &[Cap]) -> Vec<Cap> {
    let version = kernel_version().unwrap_or((0, 0));
    match sys::effective_capabilities() {
        Ok(effective) => needed
            .iter()
            .copied()
            .filter(|c| !c.granted_by(effective, version))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The running kernel's (major, minor), from /proc/sys/kernel/osrelease.
pub fn kernel_version() -> Option<(u32, u32)> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let mut parts = release.trim().split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The capability a helper (by `enum bpf_func_id`) is offered only with,
/// in `bpf_base_func_proto`.
pub fn for_helper(id: u32) -> Option<Cap> {
    // trace_printk, get_current_task, probe_read_user, probe_read_kernel,
    // probe_read_user_str, probe_read_kernel_str, snprintf_btf,
    // get_current_task_btf, snprintf, task_pt_regs, trace_vprintk.
    const PERFMON: &[u32] = &[6, 35, 112, 113, 114, 115, 149, 158, 165, 175, 177];
    // spin_lock, spin_unlock, jiffies64, per_cpu_ptr, this_cpu_ptr,
    // timer_init, timer_set_callback, timer_start, timer_cancel, kptr_xchg.
    const BPF: &[u32] = &[93, 94, 118, 153, 154, 169, 170, 171, 172, 194];
    if PERFMON.contains(&id) {
        Some(Cap::PERFMON)
    } else if BPF.contains(&id) {
        Some(Cap::BPF)
    } else {
        None
    }
}

/// The helpers a verifier log refuses as unknown or not offered ("unknown
/// func bpf_trace_printk#6", "program of this type cannot use helper
/// bpf_trace_printk#6"), by id.
pub fn refused_helpers(log: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for line in log.lines() {
        let refused = ["unknown func", "func unknown#", "cannot use helper"];
        if !refused.iter().any(|r| line.contains(r)) {
            continue;
        }
        let Some((_, rest)) = line.rsplit_once('#') else {
            continue;
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(id) = digits.parse() {
            out.push(id);
        }
    }
    out
}

/// Names capabilities for a message: "CAP_BPF and CAP_PERFMON".
pub fn names(caps: &[Cap]) -> String {
    let names: Vec<String> = caps.iter().map(|c| c.name()).collect();
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sys_admin_stands_in_for_bpf_perfmon_and_since_6_9_net_admin() {
        let sys_admin = 1u64 << 21;
        assert!(Cap::BPF.granted_by(sys_admin, (5, 10)));
        assert!(Cap::PERFMON.granted_by(sys_admin, (5, 10)));
        assert!(!Cap::NET_ADMIN.granted_by(sys_admin, (6, 8)));
        assert!(Cap::NET_ADMIN.granted_by(sys_admin, (6, 9)));
        assert!(Cap::PERFMON.granted_by(1 << 38, (6, 1)));
        assert!(!Cap::PERFMON.granted_by(1 << 39, (6, 1)));
    }

    #[test]
    fn program_types_need_what_bpf_prog_load_checks() {
        // tc: CAP_BPF and CAP_NET_ADMIN; lsm: CAP_BPF and CAP_PERFMON.
        assert_eq!(for_prog_type(3), [Cap::BPF, Cap::NET_ADMIN]);
        assert_eq!(for_prog_type(29), [Cap::BPF, Cap::PERFMON]);
        assert!(for_prog_type(8).iter().all(|&c| c == Cap::BPF));
    }

    #[test]
    fn refused_helpers_are_read_from_the_log() {
        let log = "48: (85) call bpf_trace_printk#6\nprogram of this type cannot use helper bpf_trace_printk#6\n";
        assert_eq!(refused_helpers(log), [6]);
        assert_eq!(for_helper(6), Some(Cap::PERFMON));
        assert_eq!(refused_helpers("invalid func unknown#169\n"), [169]);
        assert_eq!(for_helper(169), Some(Cap::BPF));
        assert_eq!(for_helper(1), None);
        assert_eq!(names(&[Cap::BPF, Cap::PERFMON]), "CAP_BPF and CAP_PERFMON");
    }
}
