//! Facts read from the running system, and only when an object needs them:
//! the kernel's BTF (read lean: only the types an object asks for), its
//! configuration and symbols for externs, where cgroup2 and bpffs are
//! mounted, and how many CPUs it may bring up.

pub mod bpffs;
pub mod btf;
pub mod caps;
pub mod cpus;
pub mod externs;
pub mod limits;
pub mod mounts;
