//! Running a loaded program once in the kernel (BPF_PROG_TEST_RUN), on a
//! packet and/or a context, and reading back what it made of them.
//!
//! The kernel copies the packet after the run into `data_out`, at most
//! `data_size_out` bytes (`bpf_test_finish` in net/bpf/test_run.c), and
//! answers ENOSPC with the size it had when that was too small; the context
//! goes to `ctx_out` in the same way (`bpf_ctx_finish`), except for syscall
//! programs, whose context is written back over `ctx_in`
//! (`bpf_prog_test_run_syscall`). So the buffers are ours to size: room for
//! a page of growth past the packet (an XDP frame cannot outgrow its page,
//! `bpf_xdp_adjust_head`/`_tail`), and a context buffer no smaller than any
//! context struct. Only an skb program that grows its packet by more than a
//! page runs a second time, into a buffer of the size the kernel reported.

use std::time::Duration;

use super::Program;
use crate::error::{Error, Result};
use crate::sys::{self, TestRunArgs, TestRunFlags};
use crate::uapi::prog_type as pt;
use crate::uapi::Cmd;

/// Room past the packet for what a program adds to it: a page.
const DATA_OUT_ROOM: usize = 4096;
/// The smallest context buffer: larger than every context struct of Linux
/// 6.18 (`struct __sk_buff`, 192 bytes, is the largest).
const CTX_OUT_MIN: usize = 256;
/// How often a run is made when the kernel reports an output larger than
/// its buffer (ENOSPC): the first run and at most two with larger buffers.
const TRIES: usize = 3;

/// What one test run did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestRun {
    /// The program's return value.
    pub retval: u32,
    /// The average time of one run (of `repeat`), as the kernel measured it.
    pub duration: Duration,
    /// The packet after the run (empty when no packet was given, or with
    /// [`TestRunFlags::XDP_LIVE_FRAMES`]).
    pub data_out: Vec<u8>,
    /// The context after the run, as long as the kernel's context struct
    /// (a ctx shorter than the struct is its beginning). Empty when no
    /// context was given or the program type hands none back (raw
    /// tracepoints, tracing, netfilter).
    pub ctx_out: Vec<u8>,
}

/// How to run: [`TestRunOptions::new`], then the settings to change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestRunOptions {
    /// How often the program runs (0 and 1: once); `duration` is the average.
    pub repeat: u32,
    /// `BPF_F_TEST_*` flags.
    pub flags: TestRunFlags,
    /// The CPU to run on, with [`TestRunFlags::ON_CPU`].
    pub cpu: u32,
}

impl TestRunOptions {
    /// Run once, on this CPU, with no flags.
    pub fn new() -> TestRunOptions {
        TestRunOptions::default()
    }

    /// Runs the program `repeat` times (syscall programs refuse any value but 0).
    pub fn repeat(mut self, repeat: u32) -> TestRunOptions {
        self.repeat = repeat;
        self
    }

    /// Adds `flags`.
    pub fn flags(mut self, flags: TestRunFlags) -> TestRunOptions {
        self.flags |= flags;
        self
    }

    /// Runs on `cpu` (raw tracepoint programs only).
    pub fn on_cpu(mut self, cpu: u32) -> TestRunOptions {
        self.flags |= TestRunFlags::ON_CPU;
        self.cpu = cpu;
        self
    }
}

/// Where a program type's test run puts the context afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CtxBack {
    /// Into `ctx_out` (packet programs, flow dissector, sk_lookup).
    Separate,
    /// Over `ctx_in` (syscall programs; `ctx_out` must be 0).
    InPlace,
    /// Nowhere (`ctx_out` must be 0: raw tracepoints, tracing; or ignored).
    Nowhere,
}

impl CtxBack {
    fn of(prog_type: u32) -> CtxBack {
        match prog_type {
            pt::SOCKET_FILTER
            | pt::SCHED_CLS
            | pt::SCHED_ACT
            | pt::CGROUP_SKB
            | pt::LWT_IN
            | pt::LWT_OUT
            | pt::LWT_XMIT
            | pt::LWT_SEG6LOCAL
            | pt::XDP
            | pt::FLOW_DISSECTOR
            | pt::SK_LOOKUP => CtxBack::Separate,
            pt::SYSCALL => CtxBack::InPlace,
            _ => CtxBack::Nowhere,
        }
    }
}

impl Program {
    /// Runs the program once in the kernel on `packet` and/or `ctx`
    /// (either may be empty) and returns what it made of them.
    pub fn test_run(&self, packet: &[u8], ctx: &[u8]) -> Result<TestRun> {
        self.test_run_with(packet, ctx, &TestRunOptions::new())
    }

    /// [`Program::test_run`] with `options`. A program whose output does
    /// not fit the first buffers (an skb grown by more than a page) runs
    /// again, all `repeat` times, into buffers of the size the kernel
    /// reported: its effects on maps happen twice then.
    pub fn test_run_with(
        &self,
        packet: &[u8],
        ctx: &[u8],
        options: &TestRunOptions,
    ) -> Result<TestRun> {
        let live = options.flags.contains(TestRunFlags::XDP_LIVE_FRAMES);
        let back = CtxBack::of(self.kind().prog_type);
        let mut data_len = if packet.is_empty() || live {
            0
        } else {
            packet.len() + DATA_OUT_ROOM
        };
        let mut ctx_len = if ctx.is_empty() || live || back != CtxBack::Separate {
            0
        } else {
            ctx.len().max(CTX_OUT_MIN)
        };
        let what = || format!("program '{}'", self.name());
        for _ in 0..TRIES {
            let mut data_out = vec![0u8; data_len];
            let mut ctx_out = vec![0u8; ctx_len];
            let mut ctx_in = ctx.to_vec();
            let mut args = TestRunArgs {
                data_in: packet,
                data_out: &mut data_out,
                ctx_in: &mut ctx_in,
                ctx_out: &mut ctx_out,
                repeat: options.repeat,
                flags: options.flags,
                cpu: options.cpu,
            };
            let r = sys::prog_test_run(self.fd(), &mut args)
                .map_err(Error::sys(Cmd::ProgTestRun, what()))?;
            if r.no_space {
                let (need_data, need_ctx) = (r.data_size_out as usize, r.ctx_size_out as usize);
                if need_data <= data_len && need_ctx <= ctx_len {
                    break;
                }
                data_len = data_len.max(need_data);
                ctx_len = ctx_len.max(need_ctx);
                continue;
            }
            data_out.truncate(r.data_size_out as usize);
            ctx_out.truncate(r.ctx_size_out as usize);
            if back == CtxBack::InPlace {
                ctx_out = ctx_in;
            }
            return Ok(TestRun {
                retval: r.retval,
                duration: Duration::from_nanos(u64::from(r.duration_ns)),
                data_out,
                ctx_out,
            });
        }
        Err(Error::Sys {
            cmd: Cmd::ProgTestRun,
            what: what(),
            source: std::io::Error::from_raw_os_error(libc::ENOSPC),
        })
    }
}
