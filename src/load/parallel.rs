//! Work spread over the CPUs: independent kernel calls made from several
//! threads at once.
//!
//! The kernel verifies each program on its own, in the thread that asked
//! (BPF_PROG_LOAD), and verification is most of what loading costs: with
//! one thread per CPU, programs are verified side by side. (Pins are not:
//! pins in one directory are made under the directory's lock, and a second
//! thread mostly spins waiting for it.)
//!
//! Where a thread runs matters as much as having it. A new thread is queued
//! on the CPU of the thread that starts it or on another, as the scheduler
//! sees fit; queued on the starter's, it waits while the starter keeps that
//! CPU (inside a bpf() call, which is not preempted) until a load balance
//! moves it: on the 2-CPU machine this was measured on, often for
//! milliseconds, most of a load. So each helper is placed on a CPU of its
//! own before it does any work ([`sys::run_placed`]).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::error::Result;
use crate::sys;

/// Worker threads' stacks: a job needs little (its buffers are on the heap).
const WORKER_STACK: usize = 256 * 1024;

/// Runs `job(0)` to `job(count - 1)` on up to one thread per allowed CPU
/// and per job (and at most `max_threads`, this one included). Jobs are
/// taken in order and the result is in order: the values by job, and on
/// failure the error of the first job that failed, as a run one by one
/// would report it (once one fails no new job is started; those before it
/// all finish, since they were taken first). The bpf() calls each thread
/// makes go into this thread's call log in job order.
pub fn in_parallel<T: Send>(
    count: usize,
    max_threads: Option<usize>,
    job: impl Fn(usize) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    // Each value in its own slot; the work itself is not generic, so that
    // each use adds only this to the binary.
    let slots: Vec<Mutex<Option<T>>> = std::iter::repeat_with(|| Mutex::new(None))
        .take(count)
        .collect();
    run_jobs(count, max_threads, &|i| {
        let value = job(i)?;
        *slots[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
        Ok(())
    })?;
    Ok(slots
        .into_iter()
        .filter_map(|slot| slot.into_inner().unwrap_or_else(PoisonError::into_inner))
        .collect())
}

/// [`in_parallel`] for jobs that leave their results elsewhere.
fn run_jobs(
    count: usize,
    max_threads: Option<usize>,
    job: &(dyn Fn(usize) -> Result<()> + Sync),
) -> Result<()> {
    type Done = (usize, Result<()>, Vec<sys::Call>);

    let allowed = sys::CpuSet::of_this_thread().ok();
    let cpus = allowed.as_ref().map_or_else(Vec::new, sys::CpuSet::cpus);
    let threads = count.min(cpus.len()).min(max_threads.unwrap_or(count));
    if threads <= 1 {
        return (0..count).try_for_each(job);
    }
    // This thread works too, and a worker logs request by request: set this
    // thread's log aside meanwhile and put the requests' calls after it.
    let earlier = sys::call_log_active().then(sys::take_timed_call_log);
    let logging = earlier.is_some();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let work = || -> Vec<Done> {
        let mut done = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= count {
                break;
            }
            if logging {
                sys::start_call_log();
            }
            let result = job(i);
            failed.fetch_or(result.is_err(), Ordering::Relaxed);
            done.push((i, result, sys::take_timed_call_log()));
        }
        done
    };
    let mut slots: Vec<Option<(Result<()>, Vec<sys::Call>)>> =
        std::iter::repeat_with(|| None).take(count).collect();
    // Each helper is placed on a CPU of its own, one this thread is not on
    // (see the module doc).
    let here = sys::current_cpu();
    let helper_cpus: Vec<usize> = cpus
        .iter()
        .copied()
        .filter(|&cpu| Some(cpu) != here)
        .take(threads - 1)
        .collect();
    let from_helpers = Mutex::new(Vec::new());
    let helper_no = AtomicUsize::new(1);
    let helper = || {
        sys::set_log_thread(helper_no.fetch_add(1, Ordering::Relaxed) as u16);
        let done = work();
        from_helpers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(done);
    };
    let mut all = sys::run_placed(&helper_cpus, WORKER_STACK, &helper, work);
    all.extend(
        from_helpers
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner),
    );
    for (i, result, calls) in all {
        slots[i] = Some((result, calls));
    }
    if let Some(earlier) = earlier {
        sys::start_call_log();
        sys::extend_call_log(earlier);
    }
    let mut first_error = None;
    for (result, calls) in slots.into_iter().flatten() {
        sys::extend_call_log(calls);
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}
