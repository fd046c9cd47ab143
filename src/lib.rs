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
//! 5. [`prog`]: program types from section names ([`section`]); BPF_PROG_LOAD and the verifier log.
//! 6. [`cgroup`]: cgroup2 and bpffs mounts, attach, pin, detach.
//! 7. [`pins`]: checked pin directories, the record of what `run --pin` left, `detach`.
//!
//! [`externs`] finds `__kconfig` and `__ksym` externs (after step 2) and
//! resolves them against the running kernel for step 4.
//!
//! [`loader`] runs steps 1 to 5; [`parallel`] spreads steps 5 and 7 over the
//! CPUs; [`sys`] is the system-call layer under all of them and the only
//! place with `unsafe`; [`uapi`] names the kernel's numbers.
//! [`inspect`] and [`disasm`] show what steps 1 to 4 make of an object,
//! without a kernel. Instruction encoding lives in the `rawbpf-asm` crate.

#![deny(unsafe_code)]
#![warn(missing_docs)]
// Every `unsafe` block (all in sys/) says why it is sound.
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod btf;
#[cfg(feature = "tools")]
pub mod btf_c;
pub mod cgroup;
pub mod core;
#[cfg(feature = "tools")]
pub mod disasm;
pub mod elf;
pub mod error;
pub mod externs;
#[cfg(feature = "tools")]
pub mod inspect;
pub mod kernel_btf;
pub mod loader;
pub mod maps;
pub mod parallel;
pub mod pins;
pub mod prog;
pub mod reloc;
pub mod section;
#[cfg(feature = "selftest")]
pub mod selftest;
pub mod show;
#[allow(unsafe_code)]
pub mod sys;
pub mod uapi;

pub use error::{Error, Result};
pub use loader::{load, Loaded, Program};
pub use rawbpf_asm as asm;

/// The seed object: the bpf_timer_cancel example program, built by `make bpf`.
pub const SEED_OBJECT: &[u8] = include_bytes!("../bpf/timer_cancel.bpf.o");
