//! rawbpf: a minimal eBPF loader over its own `bpf()` system calls.
//!
//! The folders follow the pipeline, from the object's bytes to programs
//! attached in the kernel; every import points down it:
//!
//! | step | folder | system calls |
//! |---|---|---|
//! | parse, plan, relocate | [`object`] | none |
//! | read the running kernel's facts | [`kernel`] | reads of /sys, /proc, /boot |
//! | create maps, load programs | [`load`] | BTF_LOAD, MAP_CREATE, MAP_UPDATE_ELEM, MAP_FREEZE, PROG_LOAD |
//! | attach | [`attach`] | LINK_CREATE, PROG_ATTACH |
//! | pin, detach | [`pin`] | OBJ_PIN, OBJ_GET, LINK_DETACH, PROG_DETACH |
//!
//! [`sys`] is the system-call layer under all of them and the only place
//! with `unsafe`; [`uapi`] names the kernel's numbers; [`show`] reads back
//! what is attached and pinned. Instruction encoding lives in the
//! `rawbpf-asm` crate ([`asm`]).
//!
//! # Using the library
//!
//! One way to load: parse the object (no system call), change what you
//! need, load, then use the programs and maps by name.
//!
//! ```
//! # fn main() -> rawbpf::Result<()> {
//! use rawbpf::{LoadOptions, ObjectSpec};
//!
//! // Loading needs root (CAP_BPF and CAP_PERFMON for the seed).
//! let mut spec = ObjectSpec::parse(rawbpf::SEED_OBJECT)?; // no system call
//! spec.map_mut("hmap").expect("the seed's map").set_max_entries(1)?;
//! let loaded = spec.load(&LoadOptions::default())?;
//!
//! let prog = loaded.program("bpf_prog1").expect("the seed's program");
//! let run = prog.test_run(&[0u8; 64], &[])?; // BPF_PROG_TEST_RUN
//! assert_eq!(run.retval, 0); // the seed drops every packet
//! let map = loaded.map("hmap").expect("the seed's map");
//! assert_eq!(map.info()?.max_entries, 1);
//! # Ok(())
//! # }
//! ```
//!
//! [`ObjectSpec::set_global`] sets a global (a `const volatile` in
//! `.rodata` is how a tool configures its program), [`ObjectSpec::set_name`]
//! names the object as libbpf would (the kernel's names of its data maps
//! start with it), [`ProgramSpec`] turns autoload on or off,
//! [`LoadOptions`] names a target BTF, a pin root for maps pinned by name
//! (libbpf's `pin_root_path`; the bpffs mount by default), and a cancel
//! flag. Attaching is in
//! [`attach`], pinning and undoing a run in [`pin`].

#![deny(unsafe_code)]
#![warn(missing_docs)]
// Every `unsafe` block (all in sys/) says why it is sound.
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod attach;
pub mod error;
pub mod kernel;
pub mod load;
pub mod object;
pub mod pin;
#[cfg(feature = "selftest")]
pub mod selftest;
pub mod show;
#[allow(unsafe_code)]
pub mod sys;
pub mod uapi;

pub use error::{Error, ErrorKind, Result};
pub use load::map::{Map, UpdateFlags};
pub use load::{LoadOptions, Loaded, Program};
pub use object::spec::{ObjectSpec, ProgramSpec};
pub use rawbpf_asm as asm;
pub use sys::Pod;

/// The seed object: the bpf_timer_cancel example program, built by `make bpf`.
pub const SEED_OBJECT: &[u8] = include_bytes!("../bpf/timer_cancel.bpf.o");

/// The seed's object name, the one libbpf gives its file
/// (`bpf/timer_cancel.bpf.o`): its `.rodata` map is `timer_ca.rodata` in
/// the kernel ([`ObjectSpec::set_name`]).
pub const SEED_NAME: &str = "timer_cancel";
