//! rawbpf: a minimal eBPF loader over its own `bpf()` system calls.
//!
//! The modules follow the pipeline, each explaining the kernel concept it
//! handles:
//!
//! 1. [`elf`]: the clang-built object: programs, subprograms, maps, globals, relocations.
//! 2. [`btf`]: type information; DATASEC fix-up; map definitions; func/line info.
//!    [`core`] applies CO-RE relocations against the kernel's types, which
//!    [`kernel_btf`] reads lean.
//! 3. [`maps`]: BPF_MAP_CREATE for defined maps and global-data sections.
//! 4. [`reloc`]: one flat instruction array per program, with fds and offsets patched in.
//! 5. [`prog`]: program types from section names; BPF_PROG_LOAD and the verifier log.
//! 6. [`cgroup`]: cgroup2 and bpffs mounts, attach, pin, detach.
//!
//! [`loader`] runs steps 1 to 5; [`sys`] is the system-call layer under all of
//! them and the only place with `unsafe`. Instruction encoding lives in the
//! `rawbpf-asm` crate.

#![deny(unsafe_code)]

pub mod btf;
pub mod cgroup;
pub mod core;
pub mod elf;
pub mod error;
pub mod kernel_btf;
pub mod loader;
pub mod maps;
pub mod prog;
pub mod reloc;
pub mod selftest;
#[allow(unsafe_code)]
pub mod sys;

pub use error::{Error, Result};
pub use loader::{load, Loaded, Program};
pub use rawbpf_asm as asm;

/// The seed object: the bpf_timer_cancel example program, built by `make bpf`.
pub const SEED_OBJECT: &[u8] = include_bytes!("../bpf/timer_cancel.bpf.o");
