//! The program types: one program of `bpf/timer_types.bpf.c` per type the
//! seed page lists, each loaded on its own, test-run where the kernel can,
//! the cgroup types attached to a test cgroup and triggered by a child, and
//! the network types attached in a network namespace of the test's own
//! (see `netns`).

use std::fmt::Write as _;

use super::netns::{self, NetAttach, NetTarget};
use super::{list, type_values, Step, Verdict};
use crate::error::{Error, Result};
use crate::sys;
use crate::uapi::attach_type as at;
use crate::uapi::{Errno, ProgType};
use crate::{LoadOptions, Loaded, ObjectSpec};

/// The compiled `bpf/timer_types.bpf.c`: one program per program type.
pub const TIMER_TYPES: &[u8] = include_bytes!("../../bpf/timer_types.bpf.o");

/// How a program type's program is exercised after it loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Input {
    /// BPF_PROG_TEST_RUN on an Ethernet/IPv4/UDP packet.
    Packet,
    /// BPF_PROG_TEST_RUN with a `struct bpf_sk_lookup` context.
    SkLookup,
    /// BPF_PROG_TEST_RUN with no input (syscall programs).
    Nothing,
    /// Attached to bpf_fentry_test1, then BPF_PROG_TEST_RUN, which calls it.
    Fentry,
    /// No test run for this type.
    None(&'static str),
}

/// Where a program type's program is attached for real.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Attach {
    /// To a test cgroup, triggered by a child process inside it.
    Cgroup,
    /// In a network namespace of the test's own.
    Net(NetTarget),
    None(&'static str),
}

struct TypeSpec {
    slot: u32,
    prog_type: &'static str,
    program: &'static str,
    input: Input,
    attach: Attach,
}

const NO_TEST_RUN: &str = "the kernel has no BPF_PROG_TEST_RUN for this type";
const ROUTE: &str = "needs a route of the test's own";

/// The 23 program types of the seed page, in its order.
#[rustfmt::skip]
const TYPES: &[TypeSpec] = &[
    spec(0, "CGROUP_DEVICE", "t_cgroup_device", Input::None(NO_TEST_RUN), Attach::Cgroup),
    spec(1, "CGROUP_SKB", "t_cgroup_skb", Input::Packet, Attach::Cgroup),
    spec(2, "CGROUP_SOCK", "t_cgroup_sock", Input::None(NO_TEST_RUN), Attach::Cgroup),
    spec(3, "CGROUP_SOCKOPT", "t_cgroup_sockopt", Input::None(NO_TEST_RUN), Attach::Cgroup),
    spec(4, "CGROUP_SOCK_ADDR", "t_cgroup_sock_addr", Input::None(NO_TEST_RUN), Attach::Cgroup),
    spec(5, "CGROUP_SYSCTL", "t_cgroup_sysctl", Input::None(NO_TEST_RUN), Attach::Cgroup),
    spec(6, "FLOW_DISSECTOR", "t_flow_dissector", Input::Packet, Attach::Net(NetTarget::Namespace(at::FLOW_DISSECTOR))),
    spec(7, "LSM", "t_lsm", Input::None(NO_TEST_RUN), Attach::None("an LSM attach is machine-wide")),
    spec(8, "LWT_IN", "t_lwt_in", Input::Packet, Attach::None(ROUTE)),
    spec(9, "LWT_OUT", "t_lwt_out", Input::Packet, Attach::None(ROUTE)),
    spec(10, "LWT_SEG6LOCAL", "t_lwt_seg6local", Input::Packet, Attach::None(ROUTE)),
    spec(11, "LWT_XMIT", "t_lwt_xmit", Input::Packet, Attach::None(ROUTE)),
    spec(12, "SCHED_ACT", "t_sched_act", Input::Packet, Attach::None("tc actions attach through rtnetlink")),
    spec(13, "SCHED_CLS", "t_sched_cls", Input::Packet, Attach::Net(NetTarget::Loopback(at::TCX_INGRESS))),
    spec(14, "SK_LOOKUP", "t_sk_lookup", Input::SkLookup, Attach::Net(NetTarget::Namespace(at::SK_LOOKUP))),
    spec(15, "SK_MSG", "t_sk_msg", Input::None(NO_TEST_RUN), Attach::Net(NetTarget::Sockmap(at::SK_MSG_VERDICT))),
    spec(16, "SK_REUSEPORT", "t_sk_reuseport", Input::None(NO_TEST_RUN), Attach::Net(NetTarget::ReuseportGroup)),
    spec(17, "SK_SKB", "t_sk_skb", Input::None(NO_TEST_RUN), Attach::Net(NetTarget::Sockmap(at::SK_SKB_STREAM_VERDICT))),
    spec(18, "SOCKET_FILTER", "t_socket_filter", Input::Packet, Attach::Net(NetTarget::Socket)),
    spec(19, "SOCK_OPS", "t_sock_ops", Input::None(NO_TEST_RUN), Attach::Cgroup),
    spec(20, "SYSCALL", "t_syscall", Input::Nothing, Attach::None("syscall programs do not attach")),
    spec(21, "TRACING", "t_tracing", Input::Fentry, Attach::None("its fentry link lives only for the test run")),
    spec(22, "XDP", "t_xdp", Input::Packet, Attach::Net(NetTarget::Loopback(at::XDP))),
];

const fn spec(
    slot: u32,
    prog_type: &'static str,
    program: &'static str,
    input: Input,
    attach: Attach,
) -> TypeSpec {
    TypeSpec {
        slot,
        prog_type,
        program,
        input,
        attach,
    }
}

/// One program type's line.
#[derive(Clone, Debug)]
pub struct TypeResult {
    /// The program type's name.
    pub prog_type: &'static str,
    /// Loading a program of this type that uses a timer.
    pub loaded: Step,
    /// Running it with BPF_PROG_TEST_RUN.
    pub test_run: Step,
    /// Attaching it and making it run on real events.
    pub attached: Step,
    /// init, set_callback, start, cancel as last recorded, and the run count.
    pub values: Option<([i64; 4], u64)>,
    /// The row's verdict.
    pub verdict: Verdict,
}

/// A minimal Ethernet + IPv4 + UDP packet for BPF_PROG_TEST_RUN.
pub fn test_packet() -> Vec<u8> {
    let mut p = vec![0u8; 14 + 20 + 8 + 8];
    p[12] = 0x08; // ETH_P_IP
    p[14] = 0x45; // IPv4, 20-byte header
    p[16..18].copy_from_slice(&36u16.to_be_bytes());
    p[22] = 64; // TTL
    p[23] = 17; // UDP
    p[26..30].copy_from_slice(&[127, 0, 0, 1]);
    p[30..34].copy_from_slice(&[127, 0, 0, 1]);
    p[34..36].copy_from_slice(&1234u16.to_be_bytes());
    p[36..38].copy_from_slice(&5678u16.to_be_bytes());
    p[38..40].copy_from_slice(&16u16.to_be_bytes());
    p
}

/// A `struct bpf_sk_lookup` for a UDP packet 127.0.0.1:1234 -> 127.0.0.1:5678.
fn sk_lookup_ctx() -> [u8; 72] {
    let mut c = [0u8; 72];
    c[8..12].copy_from_slice(&(libc::AF_INET as u32).to_ne_bytes());
    c[12..16].copy_from_slice(&(libc::IPPROTO_UDP as u32).to_ne_bytes());
    c[16..20].copy_from_slice(&[127, 0, 0, 1]);
    c[36..38].copy_from_slice(&1234u16.to_be_bytes());
    c[40..44].copy_from_slice(&[127, 0, 0, 1]);
    c[60..64].copy_from_slice(&5678u32.to_ne_bytes());
    c
}

fn step_err(e: &Error) -> String {
    match e {
        Error::Rejected { source, log, .. } => {
            let last = log
                .lines()
                .rev()
                .find(|l| !l.starts_with("processed") && !l.trim().is_empty());
            format!(
                "{source}{}",
                last.map(|l| format!(": {l}")).unwrap_or_default()
            )
        }
        other => other.to_string(),
    }
}

fn test_run(spec: &TypeSpec, loaded: &Loaded) -> Step {
    let Some(prog) = loaded.program(spec.program) else {
        return Step::Failed("program missing".into());
    };
    let result = match spec.input {
        Input::None(why) => return Step::NotApplicable(why.into()),
        Input::Packet => prog.test_run(&test_packet(), &[]),
        Input::SkLookup => prog.test_run(&[], &sk_lookup_ctx()),
        Input::Nothing => prog.test_run(&[], &[]),
        Input::Fentry => {
            let link =
                match sys::link_create(prog.fd(), sys::LinkTarget::LoadedWith, at::TRACE_FENTRY) {
                    Ok(link) => link,
                    Err(e) => return Step::Failed(format!("BPF_LINK_CREATE: {e}")),
                };
            let r = prog.test_run(&[], &[]);
            drop(link);
            r
        }
    };
    match result {
        Ok(_) => Step::Done,
        // ENOTSUPP (524, kernel-internal): no test run for this type here.
        Err(e) if e.raw_os_error() == Some(Errno::ENOTSUPP.0) => {
            Step::NotApplicable("no BPF_PROG_TEST_RUN for this type on this kernel".into())
        }
        Err(e) => Step::Failed(step_err(&e)),
    }
}

/// Loads the maps of the timer-types object and only its program `name`.
fn load_only(name: &str) -> Result<Loaded> {
    let mut spec = ObjectSpec::parse(TIMER_TYPES)?;
    for p in spec.programs_mut() {
        let wanted = p.name() == name;
        p.set_autoload(wanted);
    }
    spec.load(&LoadOptions::default())
}

/// A row for a type whose program did not load, or not as that type.
fn not_loaded(prog_type: &'static str, loaded: Step, verdict: Verdict, why: &str) -> TypeResult {
    TypeResult {
        prog_type,
        loaded,
        test_run: Step::NotApplicable(why.into()),
        attached: Step::NotApplicable(why.into()),
        values: None,
        verdict,
    }
}

/// Loads one type's program: the loaded object, or the row saying why not.
fn load_type(spec: &TypeSpec) -> std::result::Result<Loaded, Box<TypeResult>> {
    let loaded = load_only(spec.program).map_err(|e| {
        Box::new(
            if e.raw_os_error() == Some(libc::EPERM) && e.verifier_log().is_none() {
                let why =
                "EPERM before verification: this kernel's security policy refuses the type here";
                let na = || Step::NotApplicable(why.into());
                not_loaded(
                    spec.prog_type,
                    na(),
                    Verdict::NotApplicable(why.into()),
                    "not loaded",
                )
            } else {
                not_loaded(
                    spec.prog_type,
                    Step::Failed(step_err(&e)),
                    Verdict::Fail,
                    "not loaded",
                )
            },
        )
    })?;
    // The row's name is the kernel's: it reports the type it loaded.
    let wrong_type = match loaded.programs.first().map(|p| p.info()) {
        Some(Ok((info, _))) => {
            let got = ProgType(info.prog_type);
            (ProgType::from_name(spec.prog_type) != Some(got))
                .then(|| format!("the kernel reports program type {got}"))
        }
        Some(Err(e)) => Some(step_err(&e)),
        None => Some("no program was loaded".into()),
    };
    match wrong_type {
        Some(why) => Err(Box::new(not_loaded(
            spec.prog_type,
            Step::Failed(why),
            Verdict::Fail,
            "not loaded as this type",
        ))),
        None => Ok(loaded),
    }
}

/// Loads, test-runs and attaches a timer program of each listed type.
pub fn program_types() -> Result<Vec<TypeResult>> {
    let mut results = Vec::new();
    let mut loads = Vec::new();
    for spec in TYPES {
        let loaded = match load_type(spec) {
            Ok(loaded) => loaded,
            Err(row) => {
                results.push(*row);
                continue;
            }
        };
        let test_run = test_run(spec, &loaded);
        let attached = match spec.attach {
            Attach::None(why) => Step::NotApplicable(why.into()),
            Attach::Cgroup | Attach::Net(_) => Step::Done, // settled below, together
        };
        results.push(TypeResult {
            prog_type: spec.prog_type,
            loaded: Step::Done,
            test_run,
            attached,
            values: None,
            verdict: Verdict::Pass,
        });
        loads.push((results.len() - 1, spec, loaded));
    }
    attach_cgroup_types(&mut results, &loads)?;
    attach_net_types(&mut results, &loads)?;
    judge(&mut results, &loads)?;
    Ok(results)
}

/// Attaches the network types' programs, each in a network namespace of
/// its own.
fn attach_net_types(
    results: &mut [TypeResult],
    loads: &[(usize, &TypeSpec, Loaded)],
) -> Result<()> {
    let net: Vec<_> = loads
        .iter()
        .filter_map(|(row, spec, loaded)| match spec.attach {
            Attach::Net(target) => Some(NetAttach {
                row: *row,
                program: spec.program,
                slot: spec.slot,
                target,
                loaded,
            }),
            _ => None,
        })
        .collect();
    for (row, step) in netns::attach_in_own_netns(&net)? {
        results[row].attached = step;
    }
    Ok(())
}

/// Each loaded type's verdict, from what its runs left in the map.
fn judge(results: &mut [TypeResult], loads: &[(usize, &TypeSpec, Loaded)]) -> Result<()> {
    for (index, spec, loaded) in loads {
        let r = &mut results[*index];
        let (values, runs) = type_values(loaded, spec.slot)?;
        r.values = Some((values, runs));
        let exercised = r.test_run == Step::Done || r.attached == Step::Done;
        let failed = matches!(r.test_run, Step::Failed(_)) || matches!(r.attached, Step::Failed(_));
        let good = runs > 0 && (values[0] == 0 || values[0] == -16) && values[1..] == [0, 0, 1];
        r.verdict = if failed || (exercised && !good) {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
    }
    Ok(())
}

/// Attaches every cgroup-type program to one test cgroup, runs a probe
/// child inside it, and detaches.
fn attach_cgroup_types(
    results: &mut [TypeResult],
    loads: &[(usize, &TypeSpec, Loaded)],
) -> Result<()> {
    let cgroup_loads: Vec<_> = loads
        .iter()
        .filter(|(_, spec, _)| spec.attach == Attach::Cgroup)
        .collect();
    if cgroup_loads.is_empty() {
        return Ok(());
    }
    let cg = crate::attach::cgroup::Cgroup::create_unique("rawbpf-selftest")?;
    let mut attachments = Vec::new();
    // Each attached row with its run count so far: the probe must raise it.
    let mut counted = Vec::new();
    for (index, spec, loaded) in &cgroup_loads {
        let Some(prog) = loaded.program(spec.program) else {
            results[*index].attached = Step::Failed("program missing".into());
            continue;
        };
        match crate::attach::cgroup::attach(prog, &cg, crate::attach::cgroup::AttachMode::Link) {
            Ok(a) => {
                attachments.push(a);
                counted.push((*index, spec.slot, loaded, type_values(loaded, spec.slot)?.1));
            }
            Err(e) => results[*index].attached = Step::Failed(step_err(&e)),
        }
    }
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| Error::os("UDP socket", e))?;
    let tcp =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| Error::os("TCP listener", e))?;
    let probe = sys::Probe {
        udp: udp.local_addr().map_err(|e| Error::os("UDP socket", e))?,
        tcp: Some(tcp.local_addr().map_err(|e| Error::os("TCP listener", e))?),
        touch_files: true,
    };
    let outcome = sys::probe_in_cgroup(cg.path(), &probe).map_err(|e| Error::io(cg.path(), e));
    for a in attachments {
        a.detach()?;
    }
    for (index, slot, loaded, before) in counted {
        let after = type_values(loaded, slot)?.1;
        results[index].attached = match &outcome {
            Err(e) => Step::Failed(format!("probe: {e}")),
            Ok(_) if after > before => Step::Done,
            Ok(_) => Step::Failed("attached, but the probe child did not run it".into()),
        };
    }
    Ok(())
}

/// One line per program type: loaded / test-run / attached.
pub fn format_types(rows: &[TypeResult]) -> String {
    let step = |s: &Step| match s {
        Step::Done => "yes".to_string(),
        Step::NotApplicable(_) => "-".to_string(),
        Step::Failed(why) => format!("FAILED ({why})"),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<18} {:<8} {:<8} {:<8} {:<26} verdict",
        "program type", "loaded", "test-run", "attached", "init/set_cb/start/cancel"
    );
    for r in rows {
        let values = match r.values {
            Some((v, runs)) if runs > 0 => format!("{} (x{runs})", list(&v)),
            _ => "-".into(),
        };
        let verdict = match &r.verdict {
            Verdict::Pass => "ok".to_string(),
            Verdict::Fail => "FAIL".to_string(),
            Verdict::NotApplicable(why) => format!("n/a ({why})"),
        };
        let loaded = match &r.loaded {
            Step::NotApplicable(_) => "refused".to_string(),
            s => step(s),
        };
        let _ = writeln!(
            out,
            "{:<18} {:<8} {:<8} {:<8} {:<26} {verdict}",
            r.prog_type,
            loaded,
            step(&r.test_run),
            step(&r.attached),
            values
        );
    }
    out + &why_not(rows)
}

/// Why a step shows `-`: one line per step and reason, naming the types.
fn why_not(rows: &[TypeResult]) -> String {
    let mut reasons: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    for r in rows {
        for (column, s) in [("no test run", &r.test_run), ("not attached", &r.attached)] {
            let Step::NotApplicable(why) = s else {
                continue;
            };
            if r.loaded != Step::Done {
                continue; // the verdict says why it did not load
            }
            match reasons
                .iter_mut()
                .find(|(c, w, _)| *c == column && w == why)
            {
                Some((_, _, types)) => types.push(r.prog_type),
                None => reasons.push((column, why, vec![r.prog_type])),
            }
        }
    }
    let mut out = String::new();
    for (column, why, types) in reasons {
        let _ = writeln!(out, "{column}: {} ({why})", types.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(prog_type: &'static str, test_run: Step, attached: Step) -> TypeResult {
        TypeResult {
            prog_type,
            loaded: Step::Done,
            test_run,
            attached,
            values: None,
            verdict: Verdict::Pass,
        }
    }

    #[test]
    fn every_row_is_named_after_a_kernel_program_type() {
        for spec in TYPES {
            assert!(
                ProgType::from_name(spec.prog_type).is_some(),
                "{}",
                spec.prog_type
            );
        }
    }

    #[test]
    fn reasons_are_grouped_by_step_and_reason() {
        let na = |why: &str| Step::NotApplicable(why.into());
        let rows = [
            row("A", na("no run"), Step::Done),
            row("B", na("no run"), na("no route")),
            row("C", Step::Done, na("no route")),
        ];
        assert_eq!(
            why_not(&rows),
            "no test run: A, B (no run)\nnot attached: B, C (no route)\n"
        );
    }
}
