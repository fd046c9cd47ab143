//! A tool's whole life with the library, built as such a tool would build
//! it (`default-features = false`: the loader alone):
//!
//! 1. set its configuration, a `const volatile` global, before load;
//! 2. run its program (BPF_PROG_TEST_RUN) on every CPU it may use;
//! 3. read its per-CPU counter with `lookup_percpu`: one value per
//!    possible CPU, where a plain `lookup`, an `update`, or a key or value
//!    of the wrong length is refused before any system call;
//! 4. pin the counter, and reopen the pin as a map that still knows it is
//!    per-CPU (from the kernel's own OBJ_GET_INFO_BY_FD).
//!
//! ```sh
//! cargo run --no-default-features --example configure_and_count   # as root
//! ```

use rawbpf::{sys, LoadOptions, Map, ObjectSpec, UpdateFlags};

const OBJECT: &[u8] = include_bytes!("../bpf/configure_and_count.bpf.o");

/// What the tool added to each CPU's counter.
const STEP: u32 = 5;

fn main() {
    match run() {
        Ok(total) => println!("total over every CPU: {total}"),
        Err(e) => {
            eprintln!("configure_and_count: {e}");
            std::process::exit(1);
        }
    }
}

/// Runs the whole life; returns the sum of the per-CPU counters.
pub fn run() -> rawbpf::Result<u64> {
    let mut spec = ObjectSpec::parse(OBJECT)?;
    spec.set_global("step", &STEP.to_ne_bytes())?;
    let loaded = spec.load(&LoadOptions::default())?;
    let prog = loaded.program("count").expect("the object's program");
    let hits = loaded.map("hits").expect("the object's map");

    let runs = run_on_each_cpu(prog)?;
    let per_cpu = hits.lookup_percpu_as::<u32, u64>(&0)?.unwrap_or_default();
    for (cpu, n) in per_cpu.iter().enumerate().filter(|(_, &n)| n != 0) {
        println!("CPU {cpu}: {n}");
    }
    let total: u64 = per_cpu.iter().sum();
    assert_eq!(total, u64::from(STEP) * runs, "step was set before load");

    show_refusals(hits);
    reopen_pinned(hits)?;
    Ok(total)
}

/// Runs `prog` once on each CPU this process may use; returns how often.
fn run_on_each_cpu(prog: &rawbpf::Program) -> rawbpf::Result<u64> {
    // A tc program runs on a packet of at least an Ethernet header.
    let mut packet = [0u8; 64];
    packet[12] = 0x08;
    let cpus = sys::CpuSet::of_this_thread()
        .map_err(|e| rawbpf::Error::os("sched_getaffinity", e))?
        .cpus();
    for &cpu in &cpus {
        sys::pin_thread_to_cpu(cpu).map_err(|e| rawbpf::Error::os("sched_setaffinity", e))?;
        prog.test_run(&packet, &[])?;
    }
    Ok(cpus.len() as u64)
}

/// What the map refuses, each before any system call.
fn show_refusals(hits: &Map) {
    let key = 0u32.to_ne_bytes();
    for (what, result) in [
        ("lookup", hits.lookup(&key).map(|_| ())),
        ("update", hits.update(&key, &[0; 8], UpdateFlags::Any)),
        ("a 2-byte key", hits.lookup_percpu(&[0, 0]).map(|_| ())),
        (
            "one value",
            hits.update_percpu(&key, &[[0u8; 8]], UpdateFlags::Any),
        ),
    ] {
        match result {
            Err(e) => println!("{what}: refused: {e}"),
            Ok(()) => panic!("{what} on a per-CPU map was not refused"),
        }
    }
}

/// Pins `hits` under a directory of its own in bpffs, reopens it and
/// removes both.
fn reopen_pinned(hits: &Map) -> rawbpf::Result<()> {
    let root = rawbpf::kernel::mounts::bpffs_root()?;
    let dir = root.join(format!("rawbpf-example-count-{}", std::process::id()));
    std::fs::create_dir(&dir).map_err(|e| rawbpf::Error::io(&dir, e))?;
    let pin = dir.join("hits");
    let reopened = hits.pin(&pin).and_then(|()| Map::from_pin(&pin));
    let _ = std::fs::remove_file(&pin);
    let _ = std::fs::remove_dir(&dir);
    let reopened = reopened?;
    println!(
        "reopened {}: {}, per-CPU: {}",
        pin.display(),
        reopened.map_type(),
        reopened.is_per_cpu()
    );
    assert!(reopened.is_per_cpu() && reopened.value_size() == 8);
    Ok(())
}
