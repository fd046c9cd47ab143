//! Configuring a program before load, as a libbpf skeleton user does: a
//! `const volatile` global in `.rodata` is set in the spec, and the
//! verifier then sees the value as a constant. `bpf/globals.bpf.c` returns
//! 1, and stores `seven + thirty_five` in the `.bss` global `last`, which
//! this example reads back after one test run.
//!
//! ```sh
//! cargo run --example set_global   # as root
//! ```

use rawbpf::{LoadOptions, ObjectSpec};

const GLOBALS: &[u8] = include_bytes!("../bpf/globals.bpf.o");

fn main() {
    if let Err(e) = run() {
        eprintln!("set_global: {e}");
        std::process::exit(1);
    }
}

/// Loads with `seven` set to 100, runs once, returns `last`.
pub fn run() -> rawbpf::Result<u64> {
    let mut spec = ObjectSpec::parse(GLOBALS)?;
    // `const volatile __u32 seven = 7;`: the program will see 100.
    spec.set_global("seven", &100u32.to_ne_bytes())?;
    let loaded = spec.load(&LoadOptions::default())?;

    let prog = loaded
        .program("count_packets")
        .expect("the object's program");
    // A minimal IPv4 packet: cgroup_skb programs run on any bytes here.
    let packet = [0u8; 64];
    let run = prog.test_run(&packet, &[])?;
    println!("count_packets returned {}", run.retval);

    // `.bss` is one ARRAY map whose single value holds every .bss global;
    // `global` reads it and cuts out the variable.
    let last = loaded.global("last")?;
    let last = u64::from_ne_bytes(last.try_into().expect("last is a __u64"));
    println!("last = seven + thirty_five = {last}");
    Ok(last)
}
