//! Attaching loaded programs to where they run. Each kind of hook is a
//! module of its own: today cgroups ([`cgroup`]).

pub mod cgroup;
