//! Embedding rawbpf as a library: load an object, attach its cgroup
//! programs through BPF links, pin the links and maps so they outlive this
//! process — what `rawbpf run OBJECT --cgroup DIR --pin DIR` does, in a few
//! library calls. `rawbpf show` lists the result, `rawbpf detach --pin DIR`
//! undoes it.
//!
//! ```sh
//! cargo run --example embed -- bpf/timer_cancel.bpf.o /sys/fs/cgroup/mine /sys/fs/bpf/mine
//! ```

use rawbpf::attach::cgroup::{self, AttachMode, Cgroup};
use rawbpf::pin::{self, CgroupRecord};

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
    let bytes = rawbpf::load::read_object(object.as_ref())?;
    let dir = pin::resolve_pin_dir(pin_dir, rawbpf::kernel::mounts::bpffs_root)?;
    let mut spec = rawbpf::ObjectSpec::parse(&bytes)?;
    // The kernel names the data maps after the object, as libbpf does.
    spec.set_name(&rawbpf::object::spec::object_name(object.as_ref()));
    let loaded = spec.load(&rawbpf::LoadOptions::default())?;
    let cgroup = Cgroup::open(cgroup_dir)?;
    let links = cgroup::attach_all(&loaded, &cgroup, AttachMode::Link)?;
    let attached = links.len();
    let record = CgroupRecord {
        cgroup: &cgroup,
        created: false,
    };
    pin::pin_run(&dir, &loaded, links, Some(record))?;
    println!("{attached} program(s) attached to {cgroup_dir}, pinned under {pin_dir}");
    Ok(())
}
