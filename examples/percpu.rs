//! Reading a per-CPU map: one value per possible CPU in every element.
//!
//! Loads `bpf/percpu.bpf.o`, whose program adds 1 to the running CPU's
//! counter in a PERCPU_ARRAY, runs it with BPF_PROG_TEST_RUN on each CPU
//! this process may use (once on the first, twice on the second, ...), and
//! prints every CPU's counter with `Map::lookup_percpu`. A plain `lookup`
//! on the map is refused, by name, before any system call. Run as root:
//!
//! ```sh
//! cargo run --example percpu
//! ```

use rawbpf::sys;

const OBJECT: &[u8] = include_bytes!("../bpf/percpu.bpf.o");

fn main() {
    if let Err(e) = run() {
        eprintln!("percpu: {e}");
        std::process::exit(1);
    }
}

pub fn run() -> rawbpf::Result<()> {
    let loaded = rawbpf::ObjectSpec::parse(OBJECT)?.load(&rawbpf::LoadOptions::default())?;
    let (Some(prog), Some(counts)) = (loaded.program("count_per_cpu"), loaded.map("counts")) else {
        return Err(rawbpf::Error::Env(
            "percpu.bpf.o lacks count_per_cpu or counts".into(),
        ));
    };
    // sched_cls programs run on a packet of at least an Ethernet header.
    let mut packet = [0u8; 64];
    packet[12] = 0x08; // ETH_P_IP
    let cpus = sys::CpuSet::of_this_thread()
        .map_err(|e| rawbpf::Error::os("sched_getaffinity", e))?
        .cpus();
    for (i, &cpu) in cpus.iter().enumerate() {
        // A thread of its own, pinned: the program counts on its CPU.
        std::thread::scope(|s| {
            s.spawn(|| -> rawbpf::Result<()> {
                sys::pin_thread_to_cpu(cpu)
                    .map_err(|e| rawbpf::Error::os("sched_setaffinity", e))?;
                for _ in 0..=i {
                    prog.test_run(&packet, &[])?;
                }
                Ok(())
            })
            .join()
            .unwrap_or_else(|_| Err(rawbpf::Error::Env("the counting thread panicked".into())))
        })?;
    }
    println!(
        "map '{}': {}, {}-byte values, one per possible CPU ({})",
        counts.name(),
        counts.map_type(),
        counts.value_size(),
        rawbpf::kernel::cpus::possible_cpus()?
    );
    if let Err(e) = counts.lookup(&0u32.to_ne_bytes()) {
        println!("lookup is refused: {e}");
    }
    let values = counts.lookup_percpu_as::<u32, u32>(&0)?.unwrap_or_default();
    for (cpu, n) in values.iter().enumerate() {
        println!("possible CPU #{cpu}: {n}");
    }
    Ok(())
}
