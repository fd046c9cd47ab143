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

use std::cell::RefCell;
use std::time::Instant;

use rawbpf::sys::{self, Call, Cmd};

/// The steps' ends, and the calls the log handed over.
struct Timeline {
    start: Instant,
    marks: Vec<(&'static str, Instant)>,
    calls: Vec<Call>,
}

thread_local! {
    static TIMELINE: RefCell<Option<Timeline>> = const { RefCell::new(None) };
}

/// Starts the clock (for `--verbose`).
pub(super) fn start() {
    sys::call_epoch();
    TIMELINE.with(|t| {
        *t.borrow_mut() = Some(Timeline {
            start: Instant::now(),
            marks: Vec::new(),
            calls: Vec::new(),
        })
    });
}

/// Ends step `name` now.
pub(super) fn mark(name: &'static str) {
    TIMELINE.with(|t| {
        if let Some(t) = t.borrow_mut().as_mut() {
            t.marks.push((name, Instant::now()));
        }
    });
}

/// Hands over calls taken from the call log.
pub(super) fn add_calls(calls: &[Call]) {
    TIMELINE.with(|t| {
        if let Some(t) = t.borrow_mut().as_mut() {
            t.calls.extend_from_slice(calls);
        }
    });
}

/// How long each program's BPF_PROG_LOAD took, in the order the programs
/// were loaded (the log holds them in that order), in nanoseconds.
pub(super) fn prog_load_nanos() -> Vec<u64> {
    TIMELINE.with(|t| {
        t.borrow().as_ref().map_or_else(Vec::new, |t| {
            t.calls
                .iter()
                .filter(|c| c.cmd == Cmd::ProgLoad)
                .map(|c| c.nanos)
                .collect()
        })
    })
}

/// The account, one line per step, or nothing if the clock never started.
pub(super) fn report() -> String {
    TIMELINE.with(|t| {
        t.borrow()
            .as_ref()
            .map(Timeline::report)
            .unwrap_or_default()
    })
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
            out += &format!("  {name:<26} {}\n", Step::of(to - from, &calls).describe());
            from = to;
        }
        out + &format!("  {:<26} {}", "total", ms(from - since(self.start)))
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
        let mut threads: Vec<(u16, usize, u64)> = Vec::new();
        for c in calls {
            match threads.iter_mut().find(|t| t.0 == c.thread) {
                Some(t) => {
                    t.1 += 1;
                    t.2 += c.nanos;
                }
                None => threads.push((c.thread, 1, c.nanos)),
            }
        }
        threads.sort_unstable();
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
    fn describe(&self) -> String {
        let main_busy = self.threads.first().filter(|t| t.0 == 0).map_or(0, |t| t.2);
        let user = self.wall.saturating_sub(main_busy + self.waiting);
        let mut parts = vec![format!("{} own work", ms(user))];
        let calls: usize = self.threads.iter().map(|t| t.1).sum();
        if calls > 0 {
            let kernel: u64 = self.threads.iter().map(|t| t.2).sum();
            parts.push(format!("{} in {calls} bpf() calls", ms(kernel)));
        }
        if self.threads.len() > 1 {
            let each: Vec<String> = self
                .threads
                .iter()
                .map(|&(no, n, nanos)| format!("thread {no}: {n} calls, {}", ms(nanos)))
                .collect();
            parts.push(format!(
                "on {} threads ({}), waiting {}",
                self.threads.len(),
                each.join("; "),
                ms(self.waiting)
            ));
        }
        if self.prog_loads > 0 {
            parts.push(format!(
                "{} programs verified, the slowest in {}",
                self.prog_loads,
                ms(self.slowest_load)
            ));
        }
        format!("{}: {}", ms(self.wall), parts.join(", "))
    }
}

/// Nanoseconds as milliseconds, two decimals.
fn ms(nanos: u64) -> String {
    format!("{}.{:02} ms", nanos / 1_000_000, nanos % 1_000_000 / 10_000)
}
