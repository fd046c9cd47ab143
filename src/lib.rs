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
pub use load::{load, Loaded, Program};
pub use rawbpf_asm as asm;

/// The seed object: the bpf_timer_cancel example program, built by `make bpf`.
pub const SEED_OBJECT: &[u8] = include_bytes!("../bpf/timer_cancel.bpf.o");
