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
