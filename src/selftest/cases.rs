//! The return-value cases: one program of `bpf/timer_cases.bpf.c` each.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::{errno_name, joined, kernel_version, list, pinned, Verdict};
use crate::error::{Error, Result};
use crate::{LoadOptions, Loaded, ObjectSpec};

/// The compiled `bpf/timer_cases.bpf.c`, embedded so the static binary can
/// run the suite on its own (in an initramfs).
pub const TIMER_CASES: &[u8] = include_bytes!("../../bpf/timer_cases.bpf.o");

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
    /// Return values of the helper calls, in order.
    pub ret: [i64; 6],
    /// Timestamps (bpf_ktime_get_ns) the case took.
    pub t: [u64; 4],
    /// Non-zero once the case (and its callbacks) finished.
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

/// One row of the conformance table.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// What the case does.
    pub case: &'static str,
    /// Whether the helper's documentation states this result.
    pub documented: bool,
    /// What the documentation (or the kernel source) says it returns.
    pub expected: String,
    /// What the running kernel returned.
    pub observed: String,
    /// Whether they agree.
    pub verdict: Verdict,
}

struct Cases {
    loaded: Loaded,
}

impl Cases {
    fn load() -> Result<Cases> {
        Ok(Cases {
            loaded: ObjectSpec::parse(TIMER_CASES)?.load(&LoadOptions::default())?,
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

#[rustfmt::skip]
const SIMPLE_DOCUMENTED: &[Simple] = &[
    simple_case("cancel_uninit", CANCEL_UNINIT, "cancel before bpf_timer_init", true, 0, &[-22]),
    simple_case("cancel_inactive", CANCEL_INACTIVE, "init, set_callback, cancel (not armed)", true, 0, &[0, 0, 0]),
    simple_case("cancel_active", CANCEL_ACTIVE, "start (1 h), cancel, cancel again", true, 2, &[0, 1, 0]),
    simple_case("cancel_deleted", CANCEL_DELETED, "HASH: start, delete element, cancel", true, 2, &[0, 0, -22]),
];

#[rustfmt::skip]
const SIMPLE_UNDOCUMENTED: &[Simple] = &[
    simple_case("cancel_forgets_callback", CANCEL_FORGETS_CALLBACK, "cancel, start, set_callback, start, cancel", false, 0, &[1, -22, 0, 0, 1]),
    simple_case("init_twice", INIT_TWICE, "init, init again", false, 0, &[0, -16]),
];

const fn simple_case(
    program: &'static str,
    slot: u32,
    case: &'static str,
    documented: bool,
    first: usize,
    expected: &'static [i64],
) -> Simple {
    Simple {
        program,
        slot,
        case,
        documented,
        first,
        expected,
    }
}

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
    // A fork by another thread of this process copies every open fd, ours
    // of `orphan` too, and the child holds that copy (a user reference)
    // until it execs or exits: then init succeeds. So a 0 is tried again,
    // on a fresh object, a few times.
    let mut observed = [0i64];
    for _ in 0..5 {
        let mut cases = Cases::load()?;
        // Close our only fd of `orphan`: the program's reference does not count.
        cases.loaded.maps.retain(|m| m.name != "orphan");
        observed[0] = cases.run_case("init_no_user_ref", INIT_NO_USER_REF)?.ret[0];
        if observed[0] != 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(row(
        "init when no fd or pin holds the map",
        false,
        &[-1],
        &observed,
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
