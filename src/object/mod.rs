//! Everything before the first system call: the object as clang wrote it,
//! and what the loader makes of it.
//!
//! Inputs are the object's bytes and facts about the kernel handed in
//! (its BTF as a [`btf::BtfSource`], extern values through
//! [`externs::Sources`]: see [`crate::kernel`]); nothing here opens a file
//! or calls into the kernel, so all of it is tested over bytes, without
//! root, and fuzzed. [`spec::ObjectSpec::parse`] runs the steps that need nothing from
//! the kernel, in this order:
//!
//! 1. [`elf`]: sections, symbols, functions, relocations, the license.
//! 2. [`section`]: the program type and attach type a section name means.
//! 3. [`btf`]: the one model of BTF types; DATASEC fix-up; map definitions;
//!    `.BTF.ext` func, line and CO-RE records.
//! 4. [`externs`]: `__kconfig` and `__ksym` externs, and how each resolves.
//! 5. [`maps`]: the BPF_MAP_CREATE attr of every map the object defines.
//!
//! and the load layer, with the kernel's facts in hand, then runs
//!
//! 6. [`core`]: CO-RE: access specs, candidate matching, values, patching.
//! 7. [`reloc`]: one flat instruction array per program, references patched.
//!
//! With the `tools` feature, `inspect` and `disasm` show a person what
//! these steps make of an object, and `btf_c` prints BTF types as C.

#![forbid(unsafe_code)]

pub mod btf;
#[cfg(feature = "tools")]
pub mod btf_c;
pub mod core;
#[cfg(feature = "tools")]
pub mod disasm;
pub mod elf;
pub mod externs;
#[cfg(feature = "tools")]
pub mod inspect;
pub mod maps;
pub mod reloc;
pub mod section;
pub mod spec;
