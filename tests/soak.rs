//! `make soak` (not part of `make test`): 10,000 load -> attach -> detach
//! cycles in one process. At the end the process has the fds it started
//! with, and none of the programs, maps, links or BTF objects the cycles
//! created is left in the kernel's id lists (BPF_*_GET_NEXT_ID). Other
//! processes on the machine load programs too, so the lists are compared
//! on the ids this process created.

mod common;

use std::collections::HashSet;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use common::{require_root, test_cgroup};
use rawbpf::attach::cgroup::{self, AttachMode};
use rawbpf::sys::{self, AttachFlags, IdKind};

const KINDS: [IdKind; 4] = [IdKind::Prog, IdKind::Map, IdKind::Link, IdKind::Btf];

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn cycles() -> usize {
    std::env::var("RAWBPF_SOAK_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

#[test]
#[ignore = "long: run with `make soak`"]
fn ten_thousand_load_attach_detach_cycles_leave_nothing() {
    require_root();
    let cg = test_cgroup();
    let fds_before = open_fds();
    let before: Vec<HashSet<u32>> = KINDS
        .iter()
        .map(|&k| sys::all_ids(k).unwrap().into_iter().collect())
        .collect();
    let mut ours: Vec<HashSet<u32>> = vec![HashSet::new(); 4];
    let n = cycles();
    let start = Instant::now();
    for i in 0..n {
        let loaded = common::load(rawbpf::SEED_OBJECT).unwrap();
        let prog = loaded.program("bpf_prog1").unwrap();
        let mode = if i % 2 == 0 {
            AttachMode::Link
        } else {
            AttachMode::Legacy(AttachFlags::ALLOW_MULTI)
        };
        let a = cgroup::attach(prog, &cg, mode).unwrap();
        ours[0].insert(prog.info().unwrap().0.id);
        for m in &loaded.maps {
            ours[1].insert(m.info().unwrap().id);
        }
        if let Some(link) = a.link() {
            ours[2].insert(sys::link_info(link).unwrap().id);
        }
        if let Some(btf) = &loaded.btf {
            ours[3].insert(sys::btf_info(btf.as_fd()).unwrap().id);
        }
        assert_eq!(cg.query(a.attach_type).unwrap().1.len(), 1, "cycle {i}");
        a.detach().unwrap();
        drop(loaded);
    }
    let took = start.elapsed();
    assert!(cg
        .query(rawbpf::uapi::attach_type::CGROUP_INET_EGRESS)
        .unwrap()
        .1
        .is_empty());
    assert_eq!(open_fds(), fds_before, "fds after {n} cycles");
    // Freed objects leave the id lists after an RCU grace period.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left: Vec<Vec<u32>>;
    loop {
        left = KINDS
            .iter()
            .enumerate()
            .map(|(k, &kind)| {
                sys::all_ids(kind)
                    .unwrap()
                    .into_iter()
                    .filter(|id| ours[k].contains(id) && !before[k].contains(id))
                    .collect()
            })
            .collect();
        if left.iter().all(Vec::is_empty) || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for (k, kind) in KINDS.iter().enumerate() {
        assert!(left[k].is_empty(), "{kind:?} ids left: {:?}", left[k]);
    }
    assert_eq!(ours[0].len(), n, "one new program per cycle");
    assert_eq!(ours[2].len(), n.div_ceil(2), "a link every other cycle");
    println!(
        "soak: {n} cycles in {:.1} s ({:.2} ms each); fds {fds_before} -> {}; created {} progs, {} maps, {} links, {} BTF objects, none left",
        took.as_secs_f64(),
        took.as_secs_f64() * 1000.0 / n as f64,
        open_fds(),
        ours[0].len(),
        ours[1].len(),
        ours[2].len(),
        ours[3].len()
    );
}
