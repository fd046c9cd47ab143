//! Embedding rawbpf as a library: load an object, attach its cgroup
//! programs through BPF links, pin the links and maps so they outlive this
//! process — what `rawbpf run OBJECT --cgroup DIR --pin DIR` does, in six
//! library calls. `rawbpf show` lists the result, `rawbpf detach --pin DIR`
//! undoes it.
//!
//! ```sh
//! cargo run --example embed -- bpf/timer_cancel.bpf.o /sys/fs/cgroup/mine /sys/fs/bpf/mine
//! ```

use rawbpf::cgroup::{self, AttachMode, Cgroup};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [object, cgroup_dir, pin_dir] = &args[..] else {
        eprintln!("usage: embed OBJECT CGROUP_DIR PIN_DIR");
        std::process::exit(2);
    };
    if let Err(e) = attach_and_pin(object, cgroup_dir, pin_dir) {
        eprintln!("embed: {e}");
        std::process::exit(1);
    }
}

fn attach_and_pin(object: &str, cgroup_dir: &str, pin_dir: &str) -> rawbpf::Result<()> {
    let bytes = std::fs::read(object).map_err(|e| rawbpf::Error::io(object, e))?;
    let loaded = rawbpf::load(&bytes)?;
    let cgroup = Cgroup::open(cgroup_dir)?;
    let mut links = cgroup::attach_all(&loaded, &cgroup, AttachMode::Link)?;
    cgroup::pin_all(&loaded, &mut links, &cgroup::pin_dir(pin_dir)?)?;
    println!(
        "{} program(s) attached to {cgroup_dir}, pinned under {pin_dir}",
        links.len()
    );
    Ok(())
}
