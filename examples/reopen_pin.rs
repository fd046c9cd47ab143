//! Reopening a pinned map: `Map::from_pin` asks the kernel
//! (OBJ_GET_INFO_BY_FD) what the map is, so the handle knows its type and
//! sizes, and checks every call against them, as the creating one did.
//!
//! Creates a HASH map, writes three entries, pins it in a directory of its
//! own under bpffs, closes it, reopens it from the pin, prints what it
//! finds, and removes the pin and the directory, also when a step fails.
//! Run as root:
//!
//! ```sh
//! cargo run --example reopen_pin
//! ```

use std::path::PathBuf;

use rawbpf::sys::MapFlags;
use rawbpf::uapi::MapType;
use rawbpf::{Map, UpdateFlags};

/// The example's pin directory, removed on drop: the pin in it first,
/// then the directory. Nothing else is touched.
struct PinDir {
    dir: PathBuf,
    pin: PathBuf,
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pin);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("reopen_pin: {e}");
        std::process::exit(1);
    }
}

pub fn run() -> rawbpf::Result<()> {
    let root = rawbpf::kernel::mounts::bpffs_root()?;
    let dir = root.join(format!("rawbpf-example-{}", std::process::id()));
    std::fs::create_dir(&dir).map_err(|e| rawbpf::Error::io(&dir, e))?;
    let pins = PinDir {
        pin: dir.join("squares"),
        dir,
    };
    {
        let map = Map::create("squares", MapType::HASH, 4, 8, 16, MapFlags::empty())?;
        for n in 1..=3u32 {
            map.update_as(&n, &u64::from(n * n), UpdateFlags::Any)?;
        }
        map.pin(&pins.pin)?;
        println!("pinned map '{}' at {}", map.name(), pins.pin.display());
    } // The creating handle is closed here; the pin keeps the map.
    let map = Map::from_pin(&pins.pin)?;
    println!(
        "reopened: {} '{}', key {} B, value {} B, {} entries, per-CPU: {}",
        map.map_type(),
        map.name(),
        map.key_size(),
        map.value_size(),
        map.max_entries(),
        map.is_per_cpu()
    );
    for key in map.keys() {
        let key = key?;
        let n = u32::from_ne_bytes(key[..].try_into().unwrap_or_default());
        let square = map.lookup_as::<u32, u64>(&n)?.unwrap_or_default();
        println!("  {n} -> {square}");
    }
    // The reopened handle checks lengths as the first one did.
    if let Err(e) = map.lookup(&[0u8; 2]) {
        println!("a 2-byte key is refused: {e}");
    }
    Ok(())
}
