//! The `rawbpf` command: load a BPF object, attach it to a cgroup, show it works.
//!
//! The command is one user of the library: everything it does goes through
//! `rawbpf`'s public API ([`cli`] has one module per subcommand).
//!
//! The process starts in `sys::c_main!` rather than Rust's start-up, which
//! would abort when stdio is closed and /dev has no null device yet, as in
//! an early initramfs.

#![no_main]
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod cli;

/// Freed blocks are kept for reuse rather than handed back to the kernel
/// one mmap at a time (see `sys::ReusingAllocator`).
#[global_allocator]
static HEAP: rawbpf::sys::ReusingAllocator = rawbpf::sys::ReusingAllocator::new();

rawbpf::c_main!(cli::main);
