//! The bpf_timer_cancel conformance suite: what the helper's documentation
//! promises, checked on the running kernel.
//!
//! The documentation says bpf_timer_cancel returns 0 for a timer that is not
//! active, 1 for an active one, -EINVAL for one never initialised, -EDEADLK
//! when a callback cancels its own timer, and that it waits for a running
//! callback to finish. Each case is a small program in
//! `bpf/timer_cases.bpf.c` that records the helpers' return values (and
//! `bpf_ktime_get_ns` stamps) in a `results` map, run with BPF_PROG_TEST_RUN;
//! cases that need a timer to fire poll the map, bounded in time. Next to the
//! documented results the suite records what the kernel does beyond them
//! (cancel forgets the callback, init twice, init without a user reference,
//! two callbacks cancelling each other).
//!
//! Every case loads the object afresh, so no case sees another's timers.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::loader::{self, Loaded};
use crate::sys;

/// The compiled `bpf/timer_cases.bpf.c`, embedded so the static binary can
/// run the suite on its own (in an initramfs).
pub const TIMER_CASES: &[u8] = include_bytes!("../bpf/timer_cases.bpf.o");

// Case numbers: slots of `results` and `timers` (bpf/timer_cases.bpf.c).
const CANCEL_UNINIT: u32 = 0;
const CANCEL_INACTIVE: u32 = 1;
const CANCEL_ACTIVE: u32 = 2;
const CANCEL_DELETED: u32 = 3;
const CANCEL_FORGETS_CALLBACK: u32 = 4;
const INIT_TWICE: u32 = 5;
const INIT_NO_USER_REF: u32 = 6;
const SELF_CANCEL: u32 = 7;
const SLOW_CALLBACK: u32 = 8;
const MUTUAL_A: u32 = 9;
const MUTUAL_B: u32 = 10;

/// What a callback's result holds until the callback writes it.
const PENDING: i64 = 0x7fff_ffff;
/// `BPF_F_TIMER_CPU_PIN`, from 6.7.
const TIMER_CPU_PIN: u64 = 2;
/// How long to wait for a timer callback to run.
const CALLBACK_WAIT: Duration = Duration::from_secs(3);

/// `struct result` of bpf/timer_cases.bpf.c.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Record {
    pub ret: [i64; 6],
    pub t: [u64; 4],
    pub done: u64,
}

impl Record {
    const SIZE: usize = 88;

    fn parse(bytes: &[u8]) -> Option<Record> {
        if bytes.len() != Record::SIZE {
            return None;
        }
        let word =
            |i: usize| u64::from_ne_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        let mut r = Record::default();
        for (i, ret) in r.ret.iter_mut().enumerate() {
            *ret = word(i) as i64;
        }
        for (i, t) in r.t.iter_mut().enumerate() {
            *t = word(6 + i);
        }
        r.done = word(10);
        Some(r)
    }
}

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// Not run on this kernel or machine, with the reason.
    NotApplicable(String),
}

/// One row of the conformance table.
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub case: &'static str,
    /// Whether the helper's documentation states this result.
    pub documented: bool,
    pub expected: String,
    pub observed: String,
    pub verdict: Verdict,
}

/// `-EINVAL` for -22 and so on; plain numbers otherwise.
pub fn errno_name(ret: i64) -> String {
    let name = match -ret {
        1 => "EPERM",
        2 => "ENOENT",
        16 => "EBUSY",
        22 => "EINVAL",
        35 => "EDEADLK",
        95 => "EOPNOTSUPP",
        _ => return ret.to_string(),
    };
    format!("-{name}")
}

fn list(rets: &[i64]) -> String {
    rets.iter()
        .map(|&r| errno_name(r))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The running kernel's (major, minor), from /proc/sys/kernel/osrelease.
pub fn kernel_version() -> Option<(u32, u32)> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let mut parts = release.trim().split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

struct Cases {
    loaded: Loaded,
}

impl Cases {
    fn load() -> Result<Cases> {
        Ok(Cases {
            loaded: loader::load(TIMER_CASES)?,
        })
    }

    fn run(&self, program: &str, ctx: &[u8]) -> Result<u32> {
        let prog = self.loaded.program(program).ok_or_else(|| Error::Program {
            program: program.to_string(),
            what: "missing from timer_cases.bpf.o".into(),
        })?;
        Ok(prog.test_run(&[], ctx)?.retval)
    }

    fn record(&self, slot: u32) -> Result<Record> {
        let results = self.loaded.map("results").ok_or_else(|| Error::Map {
            map: "results".into(),
            what: "missing from timer_cases.bpf.o".into(),
        })?;
        let bytes = results.lookup(&slot.to_ne_bytes())?.unwrap_or_default();
        Record::parse(&bytes).ok_or_else(|| Error::Map {
            map: "results".into(),
            what: format!("value is {} bytes, expected {}", bytes.len(), Record::SIZE),
        })
    }

    /// Runs `program` and returns its slot.
    fn run_case(&self, program: &str, slot: u32) -> Result<Record> {
        let ret = self.run(program, &[])?;
        if ret != 0 {
            return Err(Error::Program {
                program: program.into(),
                what: format!("returned {ret}: a map lookup failed"),
            });
        }
        self.record(slot)
    }

    /// Polls `slot` until `ready`, for at most [`CALLBACK_WAIT`].
    fn wait_for(&self, slot: u32, ready: impl Fn(&Record) -> bool) -> Result<Option<Record>> {
        let start = Instant::now();
        while start.elapsed() < CALLBACK_WAIT {
            let r = self.record(slot)?;
            if ready(&r) {
                return Ok(Some(r));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(None)
    }
}

fn args(start_flags: u64, spin_ns: u64) -> [u8; 16] {
    let mut ctx = [0u8; 16];
    ctx[..8].copy_from_slice(&start_flags.to_ne_bytes());
    ctx[8..].copy_from_slice(&spin_ns.to_ne_bytes());
    ctx
}

fn row(case: &'static str, documented: bool, expected: &[i64], observed: &[i64]) -> CaseResult {
    CaseResult {
        case,
        documented,
        expected: list(expected),
        observed: list(observed),
        verdict: if expected == observed {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
    }
}

/// A case that runs one program and compares `expected` with its slot's
/// `ret[first..]`.
struct Simple {
    program: &'static str,
    slot: u32,
    case: &'static str,
    documented: bool,
    first: usize,
    expected: &'static [i64],
}

const SIMPLE_DOCUMENTED: &[Simple] = &[
    Simple {
        program: "cancel_uninit",
        slot: CANCEL_UNINIT,
        case: "cancel before bpf_timer_init",
        documented: true,
        first: 0,
        expected: &[-22],
    },
    Simple {
        program: "cancel_inactive",
        slot: CANCEL_INACTIVE,
        case: "init, set_callback, cancel (not armed)",
        documented: true,
        first: 0,
        expected: &[0, 0, 0],
    },
    Simple {
        program: "cancel_active",
        slot: CANCEL_ACTIVE,
        case: "start (1 h), cancel, cancel again",
        documented: true,
        first: 2,
        expected: &[0, 1, 0],
    },
    Simple {
        program: "cancel_deleted",
        slot: CANCEL_DELETED,
        case: "HASH: start, delete element, cancel",
        documented: true,
        first: 2,
        expected: &[0, 0, -22],
    },
];

const SIMPLE_UNDOCUMENTED: &[Simple] = &[
    Simple {
        program: "cancel_forgets_callback",
        slot: CANCEL_FORGETS_CALLBACK,
        case: "cancel, start, set_callback, start, cancel",
        documented: false,
        first: 0,
        expected: &[1, -22, 0, 0, 1],
    },
    Simple {
        program: "init_twice",
        slot: INIT_TWICE,
        case: "init, init again",
        documented: false,
        first: 0,
        expected: &[0, -16],
    },
];

fn simple(c: &Simple) -> Result<CaseResult> {
    let r = Cases::load()?.run_case(c.program, c.slot)?;
    let observed = &r.ret[c.first..c.first + c.expected.len()];
    Ok(row(c.case, c.documented, c.expected, observed))
}

/// Runs every return-value case on the running kernel.
pub fn return_value_cases() -> Result<Vec<CaseResult>> {
    let mut rows = Vec::new();
    for c in SIMPLE_DOCUMENTED {
        rows.push(simple(c)?);
    }
    rows.push(self_cancel()?);
    rows.push(wait_for_running_callback()?);
    for c in SIMPLE_UNDOCUMENTED {
        rows.push(simple(c)?);
    }
    rows.push(init_without_user_reference()?);
    rows.push(mutual_cancel()?);
    Ok(rows)
}

/// Pins the calling thread to `cpu`, then runs `f`.
fn pinned<T>(cpu: usize, f: impl FnOnce() -> Result<T>) -> Result<T> {
    sys::pin_thread_to_cpu(cpu).map_err(|e| Error::io("sched_setaffinity", e))?;
    f()
}

/// The result of a scoped test thread; a panic there becomes an error.
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, Result<T>>) -> Result<T> {
    handle
        .join()
        .unwrap_or_else(|_| Err(Error::Env("a selftest thread panicked".into())))
}

fn self_cancel() -> Result<CaseResult> {
    const CASE: &str = "callback cancels its own timer";
    let cases = Cases::load()?;
    let armed = cases.run_case("arm_self_cancel", SELF_CANCEL)?;
    if armed.ret[..3] != [0, 0, 0] {
        return Ok(row(CASE, true, &[0, 0, 0], &armed.ret[..3]));
    }
    Ok(
        match cases.wait_for(SELF_CANCEL, |r| r.ret[3] != PENDING)? {
            Some(r) => row(CASE, true, &[-35], &[r.ret[3]]),
            None => CaseResult {
                case: CASE,
                documented: true,
                expected: list(&[-35]),
                observed: format!("callback did not run within {CALLBACK_WAIT:?}"),
                verdict: Verdict::Fail,
            },
        },
    )
}

fn init_without_user_reference() -> Result<CaseResult> {
    let mut cases = Cases::load()?;
    // Close our only fd of `orphan`: the program's reference does not count.
    cases.loaded.maps.retain(|m| m.name != "orphan");
    let r = cases.run_case("init_no_user_ref", INIT_NO_USER_REF)?;
    Ok(row(
        "init when no fd or pin holds the map",
        false,
        &[-1],
        &r.ret[..1],
    ))
}

/// Two CPUs the process may run on.
fn two_cpus() -> Option<(usize, usize)> {
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    (n >= 2).then_some((0, 1))
}

fn wait_for_running_callback() -> Result<CaseResult> {
    const CASE: &str = "cancel while the callback runs on another CPU";
    let expected = "0, after the callback ends".to_string();
    let Some((cpu_a, cpu_b)) = two_cpus() else {
        return Ok(not_applicable(CASE, true, expected, "needs two CPUs"));
    };
    const SPIN_NS: u64 = 50_000_000;
    let mut last = String::new();
    for _ in 0..5 {
        let cases = Cases::load()?;
        // The canceller waits on CPU B before the timer is armed on CPU A: a
        // thread spawned later might be stuck behind the callback's softirq.
        let cancelled = std::thread::scope(|s| {
            let canceller = s.spawn(|| {
                pinned(cpu_b, || {
                    if cases.wait_for(SLOW_CALLBACK, |r| r.t[0] != 0)?.is_none() {
                        return Ok(None);
                    }
                    cases.run("cancel_slow", &[])?;
                    cases.record(SLOW_CALLBACK).map(Some)
                })
            });
            // The (soft) hrtimer fires on the CPU that armed it.
            let armer =
                s.spawn(|| pinned(cpu_a, || cases.run("arm_slow", &args(pin_flag(), SPIN_NS))));
            if joined(armer)? != 0 {
                return Err(Error::Env("arm_slow failed to find its map slots".into()));
            }
            joined(canceller)
        })?;
        let Some(r) = cancelled else {
            last = "the callback did not start".into();
            continue;
        };
        let (start, end, called, returned) = (r.t[0], r.t[1], r.t[2], r.t[3]);
        if called >= end {
            // Cancel came after the callback had finished: inconclusive, retry.
            last = format!(
                "cancel was called only after the callback ended (start {start}, end {end}, called {called})"
            );
            continue;
        }
        let observed = format!(
            "{}; called {:.1} ms in, returned {} us after its end",
            errno_name(r.ret[3]),
            called.saturating_sub(start) as f64 / 1e6,
            (returned as i64 - end as i64) / 1000,
        );
        let pass = r.ret[3] == 0 && returned >= end;
        return Ok(CaseResult {
            case: CASE,
            documented: true,
            expected,
            observed,
            verdict: if pass { Verdict::Pass } else { Verdict::Fail },
        });
    }
    Ok(CaseResult {
        case: CASE,
        documented: true,
        expected,
        observed: format!("no conclusive run in 5 tries ({last})"),
        verdict: Verdict::Fail,
    })
}

fn not_applicable(case: &'static str, documented: bool, expected: String, why: &str) -> CaseResult {
    CaseResult {
        case,
        documented,
        expected,
        observed: "not run".into(),
        verdict: Verdict::NotApplicable(why.into()),
    }
}

/// BPF_F_TIMER_CPU_PIN where the kernel has it (6.7): keeps a timer on the
/// CPU that armed it, so callback and canceller really run side by side.
fn pin_flag() -> u64 {
    match kernel_version() {
        Some(v) if v >= (6, 7) => TIMER_CPU_PIN,
        _ => 0,
    }
}

fn mutual_cancel() -> Result<CaseResult> {
    const CASE: &str = "two callbacks cancel each other (>= 6.10)";
    let expected = "-EDEADLK in at least one".to_string();
    // On older kernels this can lock the machine up: never run it there.
    match kernel_version() {
        Some(v) if v >= (6, 10) => {}
        Some((major, minor)) => {
            return Ok(not_applicable(
                CASE,
                false,
                expected,
                &format!("kernel {major}.{minor} < 6.10 can lock up"),
            ))
        }
        None => {
            return Ok(not_applicable(
                CASE,
                false,
                expected,
                "kernel version unknown",
            ))
        }
    }
    let Some((cpu_a, cpu_b)) = two_cpus() else {
        return Ok(not_applicable(CASE, false, expected, "needs two CPUs"));
    };
    let mut observed = Vec::new();
    // The two callbacks must overlap in time; a try where one ran alone is
    // inconclusive, so try a few times.
    for _ in 0..3 {
        let cases = Cases::load()?;
        let ctx = args(TIMER_CPU_PIN, 0);
        std::thread::scope(|s| {
            let a = s.spawn(|| pinned(cpu_a, || cases.run("arm_mutual_a", &ctx)));
            let b = s.spawn(|| pinned(cpu_b, || cases.run("arm_mutual_b", &ctx)));
            joined(a)?;
            joined(b)
        })?;
        let a = cases.wait_for(MUTUAL_A, |r| r.done == 1)?;
        let b = cases.wait_for(MUTUAL_B, |r| r.done == 1)?;
        let (Some(a), Some(b)) = (a, b) else {
            return Ok(CaseResult {
                case: CASE,
                documented: false,
                expected,
                observed: "a callback did not finish".into(),
                verdict: Verdict::Fail,
            });
        };
        observed = vec![a.ret[3], b.ret[3]];
        if observed.contains(&-35) {
            break;
        }
    }
    Ok(CaseResult {
        case: CASE,
        documented: false,
        expected,
        observed: list(&observed),
        verdict: if observed.contains(&-35) {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
    })
}

/// The compiled `bpf/timer_types.bpf.c`: one program per program type.
pub const TIMER_TYPES: &[u8] = include_bytes!("../bpf/timer_types.bpf.o");

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
const NO_IFACE: &str = "would need an interface of the test's own";

/// The 23 program types of the seed page, in its order.
const TYPES: &[TypeSpec] = &[
    TypeSpec {
        slot: 0,
        prog_type: "CGROUP_DEVICE",
        program: "t_cgroup_device",
        input: Input::None(NO_TEST_RUN),
        attach: Attach::Cgroup,
    },
    TypeSpec {
        slot: 1,
        prog_type: "CGROUP_SKB",
        program: "t_cgroup_skb",
        input: Input::Packet,
        attach: Attach::Cgroup,
    },
    TypeSpec {
        slot: 2,
        prog_type: "CGROUP_SOCK",
        program: "t_cgroup_sock",
        input: Input::None(NO_TEST_RUN),
        attach: Attach::Cgroup,
    },
    TypeSpec {
        slot: 3,
        prog_type: "CGROUP_SOCKOPT",
        program: "t_cgroup_sockopt",
        input: Input::None(NO_TEST_RUN),
        attach: Attach::Cgroup,
    },
    TypeSpec {
        slot: 4,
        prog_type: "CGROUP_SOCK_ADDR",
        program: "t_cgroup_sock_addr",
        input: Input::None(NO_TEST_RUN),
        attach: Attach::Cgroup,
    },
    TypeSpec {
        slot: 5,
        prog_type: "CGROUP_SYSCTL",
        program: "t_cgroup_sysctl",
        input: Input::None(NO_TEST_RUN),
        attach: Attach::Cgroup,
    },
    TypeSpec {
        slot: 6,
        prog_type: "FLOW_DISSECTOR",
        program: "t_flow_dissector",
        input: Input::Packet,
        attach: Attach::None("attaches to a network namespace"),
    },
    TypeSpec {
        slot: 7,
        prog_type: "LSM",
        program: "t_lsm",
        input: Input::None(NO_TEST_RUN),
        attach: Attach::None("an LSM attach is machine-wide"),
    },
    TypeSpec {
        slot: 8,
        prog_type: "LWT_IN",
        program: "t_lwt_in",
        input: Input::Packet,
        attach: Attach::None("needs a route of the test's own"),
    },
    TypeSpec {
        slot: 9,
        prog_type: "LWT_OUT",
        program: "t_lwt_out",
        input: Input::Packet,
        attach: Attach::None("needs a route of the test's own"),
    },
    TypeSpec {
        slot: 10,
        prog_type: "LWT_SEG6LOCAL",
        program: "t_lwt_seg6local",
        input: Input::Packet,
        attach: Attach::None("needs a route of the test's own"),
    },
    TypeSpec {
        slot: 11,
        prog_type: "LWT_XMIT",
        program: "t_lwt_xmit",
        input: Input::Packet,
        attach: Attach::None("needs a route of the test's own"),
    },
    TypeSpec {
        slot: 12,
        prog_type: "SCHED_ACT",
        program: "t_sched_act",
        input: Input::Packet,
        attach: Attach::None(NO_IFACE),
    },
    TypeSpec {
        slot: 13,
        prog_type: "SCHED_CLS",
        program: "t_sched_cls",
        input: Input::Packet,
        attach: Attach::None(NO_IFACE),
    },
    TypeSpec {
        slot: 14,
        prog_type: "SK_LOOKUP",
        program: "t_sk_lookup",
        input: Input::SkLookup,
        attach: Attach::None("attaches to a network namespace"),
    },
    TypeSpec {
        slot: 15,
        prog_type: "SK_MSG",
        program: "t_sk_msg",
        input: Input::None(NO_TEST_RUN),
        attach: Attach::None("needs a sockmap"),
    },
    TypeSpec {
        slot: 16,
        prog_type: "SK_REUSEPORT",
        program: "t_sk_reuseport",
        input: Input::None(NO_TEST_RUN),
        attach: Attach::None("needs a reuseport group"),
    },
    TypeSpec {
        slot: 17,
        prog_type: "SK_SKB",
        program: "t_sk_skb",
        input: Input::None(NO_TEST_RUN),
        attach: Attach::None("needs a sockmap"),
    },
    TypeSpec {
        slot: 18,
        prog_type: "SOCKET_FILTER",
        program: "t_socket_filter",
        input: Input::Packet,
        attach: Attach::None("test run suffices"),
    },
    TypeSpec {
        slot: 19,
        prog_type: "SOCK_OPS",
        program: "t_sock_ops",
        input: Input::None(NO_TEST_RUN),
        attach: Attach::Cgroup,
    },
    TypeSpec {
        slot: 20,
        prog_type: "SYSCALL",
        program: "t_syscall",
        input: Input::Nothing,
        attach: Attach::None("syscall programs do not attach"),
    },
    TypeSpec {
        slot: 21,
        prog_type: "TRACING",
        program: "t_tracing",
        input: Input::Fentry,
        attach: Attach::None("attached for the test run only"),
    },
    TypeSpec {
        slot: 22,
        prog_type: "XDP",
        program: "t_xdp",
        input: Input::Packet,
        attach: Attach::None(NO_IFACE),
    },
];

/// What happened at one step (load, test run, attach).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Done,
    NotApplicable(String),
    Failed(String),
}

/// One program type's line.
#[derive(Clone, Debug)]
pub struct TypeResult {
    pub prog_type: &'static str,
    pub loaded: Step,
    pub test_run: Step,
    pub attached: Step,
    /// init, set_callback, start, cancel as last recorded, and the run count.
    pub values: Option<([i64; 4], u64)>,
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

fn type_values(loaded: &Loaded, slot: u32) -> Result<([i64; 4], u64)> {
    let map = loaded.map("type_results").ok_or_else(|| Error::Map {
        map: "type_results".into(),
        what: "missing from timer_types.bpf.o".into(),
    })?;
    let bytes = map.lookup(&slot.to_ne_bytes())?.unwrap_or_default();
    if bytes.len() != 40 {
        return Err(Error::Map {
            map: "type_results".into(),
            what: format!("value is {} bytes, expected 40", bytes.len()),
        });
    }
    let word = |i: usize| u64::from_ne_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    Ok((
        [
            word(0) as i64,
            word(1) as i64,
            word(2) as i64,
            word(3) as i64,
        ],
        word(4),
    ))
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
            let link = match sys::link_create_tracing(
                prog.fd.as_fd(),
                crate::prog::attach_type::TRACE_FENTRY,
            ) {
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
        Err(e) if e.raw_os_error() == Some(524) => {
            Step::NotApplicable("no BPF_PROG_TEST_RUN for this type on this kernel".into())
        }
        Err(e) => Step::Failed(step_err(&e)),
    }
}

use std::os::fd::AsFd as _;

/// Loads, test-runs and attaches a timer program of each listed type.
pub fn program_types() -> Result<Vec<TypeResult>> {
    let mut results = Vec::new();
    let mut cgroup_loads = Vec::new();
    for spec in TYPES {
        let loaded = match loader::load_selected(TIMER_TYPES, &|name| name == spec.program) {
            Ok(loaded) => loaded,
            Err(e) => {
                let eperm = e.raw_os_error() == Some(libc::EPERM) && e.verifier_log().is_empty();
                let (loaded, verdict) = if eperm {
                    let why = "EPERM before verification: this kernel's security policy refuses the type here";
                    (
                        Step::NotApplicable(why.into()),
                        Verdict::NotApplicable(why.into()),
                    )
                } else {
                    (Step::Failed(step_err(&e)), Verdict::Fail)
                };
                results.push(TypeResult {
                    prog_type: spec.prog_type,
                    loaded,
                    test_run: Step::NotApplicable("not loaded".into()),
                    attached: Step::NotApplicable("not loaded".into()),
                    values: None,
                    verdict,
                });
                continue;
            }
        };
        let test_run = test_run(spec, &loaded);
        let attached = match spec.attach {
            Attach::None(why) => Step::NotApplicable(why.into()),
            Attach::Cgroup => Step::Done, // settled below, together
        };
        results.push(TypeResult {
            prog_type: spec.prog_type,
            loaded: Step::Done,
            test_run,
            attached,
            values: None,
            verdict: Verdict::Pass,
        });
        cgroup_loads.push((results.len() - 1, spec, loaded));
    }
    attach_cgroup_types(&mut results, &cgroup_loads)?;
    for (index, spec, loaded) in &cgroup_loads {
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
    Ok(results)
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
    let cg = crate::cgroup::Cgroup::create_unique("rawbpf-selftest")?;
    let mut attachments = Vec::new();
    for (index, spec, loaded) in &cgroup_loads {
        let Some(prog) = loaded.program(spec.program) else {
            continue;
        };
        match crate::cgroup::attach(prog, &cg, crate::cgroup::AttachMode::Link) {
            Ok(a) => attachments.push(a),
            Err(e) => results[*index].attached = Step::Failed(step_err(&e)),
        }
    }
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| Error::io("UDP socket", e))?;
    let tcp =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("TCP listener", e))?;
    let probe = sys::Probe {
        udp: udp.local_addr().map_err(|e| Error::io("UDP socket", e))?,
        tcp: Some(tcp.local_addr().map_err(|e| Error::io("TCP listener", e))?),
        touch_files: true,
    };
    let outcome = cg.probe(&probe);
    for a in attachments {
        a.detach()?;
    }
    if let Err(e) = outcome {
        for (index, _, _) in &cgroup_loads {
            results[*index].attached = Step::Failed(format!("probe: {e}"));
        }
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
    out
}

/// The table a person reads: case, documented result, observed, verdict.
pub fn format_cases(rows: &[CaseResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<46} {:<4} {:<26} {:<46} verdict",
        "case", "doc", "expected", "observed"
    );
    for r in rows {
        let verdict = match &r.verdict {
            Verdict::Pass => "ok".to_string(),
            Verdict::Fail => "FAIL".to_string(),
            Verdict::NotApplicable(why) => format!("n/a ({why})"),
        };
        let _ = writeln!(
            out,
            "{:<46} {:<4} {:<26} {:<46} {verdict}",
            r.case,
            if r.documented { "yes" } else { "no" },
            r.expected,
            r.observed
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(-22), "-EINVAL");
        assert_eq!(errno_name(-35), "-EDEADLK");
        assert_eq!(errno_name(1), "1");
        assert_eq!(list(&[0, -16]), "0, -EBUSY");
    }

    #[test]
    fn records_follow_the_c_layout() {
        let mut bytes = vec![0u8; Record::SIZE];
        bytes[..8].copy_from_slice(&(-22i64).to_ne_bytes());
        bytes[48..56].copy_from_slice(&7u64.to_ne_bytes());
        bytes[80..88].copy_from_slice(&1u64.to_ne_bytes());
        let r = Record::parse(&bytes).unwrap();
        assert_eq!((r.ret[0], r.t[0], r.done), (-22, 7, 1));
        assert!(Record::parse(&bytes[1..]).is_none());
    }
}
