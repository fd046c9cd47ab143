//! The examples in examples/ do what their doc comments say (as root):
//! each is compiled in here as a module, so the VM tests run it too.

mod common;

use common::require_root;

#[allow(dead_code)]
#[path = "../examples/set_global.rs"]
mod set_global;

#[test]
fn set_global_example_reads_back_what_it_set() {
    require_root();
    assert_eq!(set_global::run().unwrap(), 135);
}

#[allow(dead_code)]
#[path = "../examples/configure_and_count.rs"]
mod configure_and_count;

#[allow(dead_code)]
#[path = "../examples/percpu.rs"]
mod percpu;

#[allow(dead_code)]
#[path = "../examples/reopen_pin.rs"]
mod reopen_pin;

#[test]
fn configure_and_count_example_counts_the_configured_step_per_cpu() {
    require_root();
    let cpus = rawbpf::sys::CpuSet::of_this_thread().unwrap().cpus().len() as u64;
    assert_eq!(configure_and_count::run().unwrap(), 5 * cpus);
}

#[test]
fn percpu_and_reopen_pin_examples_run() {
    require_root();
    percpu::run().unwrap();
    reopen_pin::run().unwrap();
}
