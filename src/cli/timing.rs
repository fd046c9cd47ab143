//! `run --verbose`: where a run's time went, step by step.
//!
//! A loader's time has three parts: its own work in user space (reading
//! and relocating the object, checks, the record), the kernel's work in
//! bpf() calls (verification, above all: each BPF_PROG_LOAD runs the
//! verifier and the JIT in the calling thread), and waiting. Programs are
//! loaded side by side, one thread per CPU (`load::parallel`), so for
//! the load step the account says how the verification spread over the
//! threads and how long the first thread waited for the others.
//!
//! Each step's end is marked with [`mark`]; the bpf() calls come from the
//! call log (`sys::Call`: the command, when, how long, which thread), and
//! each call counts in the step whose span holds its start. Process start
//! and exit are outside: the clock starts in `run`. Nothing is recorded
//! unless [`start`] was called.

use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use rawbpf::sys::{self, Call, Cmd};

/// The steps' ends, and the calls the log handed over.
struct Timeline {
    start: Instant,
    marks: Vec<(&'static str, Instant)>,
    calls: Vec<Call>,
}

/// The run's timeline (a static, not a thread-local: `run` is one thread
/// and needs no destructor registered for it).
static TIMELINE: Mutex<Option<Timeline>> = Mutex::new(None);

/// `f` on the timeline, if the clock was started.
fn with<R: Default>(f: impl FnOnce(&mut Timeline) -> R) -> R {
    let mut t = TIMELINE.lock().unwrap_or_else(PoisonError::into_inner);
    t.as_mut().map(f).unwrap_or_default()
}

/// Starts the clock (for `--verbose`).
pub(super) fn start() {
    sys::call_epoch();
    *TIMELINE.lock().unwrap_or_else(PoisonError::into_inner) = Some(Timeline {
        start: Instant::now(),
        marks: Vec::new(),
        calls: Vec::new(),
    });
}

/// Ends step `name` now.
pub(super) fn mark(name: &'static str) {
    with(|t| t.marks.push((name, Instant::now())));
}

/// Hands over calls taken from the call log.
pub(super) fn add_calls(calls: &[Call]) {
    with(|t| t.calls.extend_from_slice(calls));
}

/// How long each program's BPF_PROG_LOAD took, in the order the programs
/// were loaded (the log holds them in that order), in nanoseconds.
pub(super) fn prog_load_nanos() -> Vec<u64> {
    with(|t| {
        t.calls
            .iter()
            .filter(|c| c.cmd == Cmd::ProgLoad)
            .map(|c| c.nanos)
            .collect()
    })
}

/// The account, one line per step, or nothing if the clock never started.
pub(super) fn report() -> String {
    with(|t| t.report())
}

impl Timeline {
    fn report(&self) -> String {
        let epoch = sys::call_epoch();
        let since = |i: Instant| i.saturating_duration_since(epoch).as_nanos() as u64;
        let mut out = String::from(
            "time, step by step (from the start of `run`, not counting process start and exit; \
             own work: user space and system calls other than bpf()):\n",
        );
        let mut from = since(self.start);
        for &(name, end) in &self.marks {
            let to = since(end);
            let calls: Vec<&Call> = self
                .calls
                .iter()
                .filter(|c| c.at >= from && c.at < to)
                .collect();
            let _ = write!(out, "  {name:<26} ");
            Step::of(to - from, &calls).describe(&mut out);
            out.push('\n');
            from = to;
        }
        let _ = write!(out, "  {:<26} {}", "total", Ms(from - since(self.start)));
        out
    }
}

/// One step's account.
struct Step {
    wall: u64,
    /// Calls and their time, per thread (0: the one that runs the steps).
    threads: Vec<(u16, usize, u64)>,
    /// How long the first thread waited for the others at the step's end.
    waiting: u64,
    /// BPF_PROG_LOADs: how many, the longest.
    prog_loads: usize,
    slowest_load: u64,
}

impl Step {
    fn of(wall: u64, calls: &[&Call]) -> Step {
        // By thread number (the calls of the first thread first).
        let mut threads: Vec<(u16, usize, u64)> = Vec::new();
        for c in calls {
            match threads.binary_search_by_key(&c.thread, |t| t.0) {
                Ok(i) => {
                    threads[i].1 += 1;
                    threads[i].2 += c.nanos;
                }
                Err(i) => threads.insert(i, (c.thread, 1, c.nanos)),
            }
        }
        let end_of = |main: bool| {
            calls
                .iter()
                .filter(|c| !main || c.thread == 0)
                .map(|c| c.at + c.nanos)
                .max()
                .unwrap_or(0)
        };
        let waiting = match threads.len() > 1 {
            true => end_of(false).saturating_sub(end_of(true)),
            false => 0,
        };
        let loads = calls.iter().filter(|c| c.cmd == Cmd::ProgLoad);
        Step {
            wall,
            threads,
            waiting,
            prog_loads: loads.clone().count(),
            slowest_load: loads.map(|c| c.nanos).max().unwrap_or(0),
        }
    }

    /// "3.95 ms: 0.71 ms own work, 3.12 ms in 65 bpf() calls, ..."
    fn describe(&self, out: &mut String) {
        let main_busy = self.threads.first().filter(|t| t.0 == 0).map_or(0, |t| t.2);
        let user = self.wall.saturating_sub(main_busy + self.waiting);
        let _ = write!(out, "{}: {} own work", Ms(self.wall), Ms(user));
        let calls: usize = self.threads.iter().map(|t| t.1).sum();
        if calls > 0 {
            let kernel: u64 = self.threads.iter().map(|t| t.2).sum();
            let _ = write!(out, ", {} in {calls} bpf() calls", Ms(kernel));
        }
        if self.threads.len() > 1 {
            let _ = write!(out, ", on {} threads (", self.threads.len());
            for (i, &(no, n, nanos)) in self.threads.iter().enumerate() {
                let sep = if i == 0 { "" } else { "; " };
                let _ = write!(out, "{sep}thread {no}: {n} calls, {}", Ms(nanos));
            }
            let _ = write!(out, "), waiting {}", Ms(self.waiting));
        }
        if self.prog_loads > 0 {
            let _ = write!(
                out,
                ", {} programs verified, the slowest in {}",
                self.prog_loads,
                Ms(self.slowest_load)
            );
        }
    }
}

/// Nanoseconds, shown as microseconds with one decimal (a bpf() call's time).
pub(super) struct Us(pub(super) u64);

impl std::fmt::Display for Us {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{} us", self.0 / 1000, self.0 % 1000 / 100)
    }
}

/// Nanoseconds, shown as milliseconds with two decimals.
struct Ms(u64);

impl std::fmt::Display for Ms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{:02} ms",
            self.0 / 1_000_000,
            self.0 % 1_000_000 / 10_000
        )
    }
}
