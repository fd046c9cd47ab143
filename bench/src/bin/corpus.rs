//! The rawbpf side of `make corpus` (bench/corpus/Makefile): `corpus --pin-maps
//! DIR OBJECT...` loads each object with `ObjectSpec::parse(..)?.load(..)`,
//! its maps pinned by name (LIBBPF_PIN_BY_NAME) under DIR, the Makefile's
//! own bpffs directory, which it removes (as libbpf's `pin_root_path` in
//! libbpf_load.c), never under the bpffs root; and prints one line per
//! object,
//!
//! ```text
//! NAME<TAB>ok                    every map and autoloaded program loaded
//! NAME<TAB>FIRST ERROR LINE      the first line of rawbpf's error
//! ```
//!
//! then drops what it loaded (nothing is attached or pinned). `corpus
//! count` prints how many programs, maps, links and BTF objects the kernel
//! holds, waiting up to 10 s for it to be `--at-most N` (objects go once
//! the kernel's RCU callbacks run): the Makefile's check that the two
//! loaders left nothing behind.

use std::io::Write;
use std::time::{Duration, Instant};

use rawbpf::sys::{self, IdKind};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("count") => count(args.get(2).and_then(|n| n.parse().ok())),
        Some("--pin-maps") if args.len() >= 2 => load_each(args[1].as_ref(), &args[2..]),
        _ => {
            eprintln!("usage: corpus --pin-maps DIR OBJECT... | corpus count [--at-most N]");
            std::process::exit(2);
        }
    }
}

fn load_each(pin_maps: &std::path::Path, paths: &[String]) {
    let mut out = std::io::stdout().lock();
    for path in paths {
        let name = path.rsplit('/').next().unwrap_or(path);
        let result = rawbpf::load::read_object(path.as_ref()).and_then(|bytes| {
            let spec = rawbpf::ObjectSpec::parse(&bytes)?;
            spec.load(&rawbpf::LoadOptions::default().pin_maps(pin_maps))
                .map(drop)
        });
        let line = match result {
            Ok(()) => "ok".to_string(),
            Err(e) => e
                .to_string()
                .lines()
                .next()
                .unwrap_or("")
                .replace('\t', " "),
        };
        let _ = writeln!(out, "{name}\t{line}");
        let _ = out.flush();
    }
}

/// Programs, maps, links and BTF objects the kernel holds now.
fn objects() -> u32 {
    let mut n = 0;
    for kind in [IdKind::Prog, IdKind::Map, IdKind::Link] {
        let mut id = 0;
        while let Ok(Some(next)) = sys::next_id(kind, id) {
            (n, id) = (n + 1, next);
        }
    }
    let mut id = 0;
    while let Ok(Some(next)) = sys::btf_get_next_id(id) {
        (n, id) = (n + 1, next);
    }
    n
}

fn count(at_most: Option<u32>) {
    let start = Instant::now();
    let mut n = objects();
    while at_most.is_some_and(|m| n > m) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(200));
        n = objects();
    }
    println!("{n}");
}
