//! Nothing is left behind: no fd after a load is dropped or fails or the
//! selftest returns, no kernel object after `rawbpf run` exits. One test function, so no other test thread
//! opens fds while /proc/self/fd is counted.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use rawbpf::sys::IdKind;
use rawbpf::uapi::attach_type;

const BAD_VERIFIER: &[u8] = include_bytes!("../bpf/bad_verifier.bpf.o");
const BAD_CALLBACK: &[u8] = include_bytes!("../bpf/bad_callback.bpf.o");
const NO_BTF: &[u8] = include_bytes!("../bpf/no_btf.bpf.o");

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Ids of everything a successful load created.
fn ids(loaded: &rawbpf::Loaded) -> Vec<(IdKind, u32)> {
    let mut ids = vec![];
    if let Some(btf) = &loaded.btf {
        ids.push((
            IdKind::Btf,
            rawbpf::sys::btf_info(std::os::fd::AsFd::as_fd(btf))
                .unwrap()
                .id,
        ));
    }
    ids.extend(
        loaded
            .maps
            .iter()
            .map(|m| (IdKind::Map, m.info().unwrap().id)),
    );
    ids.extend(
        loaded
            .programs
            .iter()
            .map(|p| (IdKind::Prog, p.info().unwrap().0.id)),
    );
    ids
}

#[test]
fn nothing_is_left_behind() {
    require_root();

    // A successful load, then drop: fds closed, kernel objects freed.
    let before = open_fds();
    let loaded = common::load(policy_object()).unwrap();
    let created = ids(&loaded);
    if kernel_has_bpf_timer() {
        assert_eq!(created.len(), 4, "BTF, hmap, .rodata, bpf_prog1");
    } else {
        assert_eq!(created.len(), 3, "BTF, hmap, bpf_prog1 (drop_egress)");
    }
    drop(loaded);
    assert_eq!(open_fds(), before, "fds after dropping a loaded object");
    for (kind, id) in created {
        assert!(gone_soon(kind, id), "{kind:?} {id} still exists");
    }

    // Failed loads close what they had created so far.
    for (what, bytes) in [
        ("bad_verifier", BAD_VERIFIER),
        ("bad_callback", BAD_CALLBACK),
        ("no_btf", NO_BTF),
    ] {
        let before = open_fds();
        assert!(common::load(bytes).is_err(), "{what} must fail");
        assert_eq!(open_fds(), before, "fds after the failed load of {what}");
    }
    let before = open_fds();
    assert!(common::load(&rawbpf::SEED_OBJECT[..rawbpf::SEED_OBJECT.len() / 2]).is_err());
    assert_eq!(open_fds(), before, "fds after a truncated object");

    // The selftest: its cgroup, network namespace, sockets, sockmap and
    // links are all closed when it returns.
    let before = open_fds();
    if kernel_has_bpf_timer() {
        rawbpf::selftest::program_types().unwrap();
        rawbpf::selftest::return_value_cases().unwrap();
    } else {
        let err = rawbpf::selftest::return_value_cases().unwrap_err();
        assert!(rawbpf::load::program::lacks_bpf_timer(&err), "{err}");
    }
    assert_eq!(open_fds(), before, "fds after the selftest suites");

    // `rawbpf run` until SIGTERM: attached while it runs, nothing left after.
    let cg = test_cgroup();
    let object = PolicyArg::new();
    let child = Command::new(rawbpf_bin())
        .arg("run")
        .args(object.args())
        .args(["--cgroup", cg.path().to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut prog_ids = vec![];
    for _ in 0..250 {
        prog_ids = cg.query(attach_type::CGROUP_INET_EGRESS).unwrap().1;
        if !prog_ids.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(prog_ids.len(), 1, "rawbpf run attached its program");
    let map_ids = {
        let prog = rawbpf::sys::get_fd_by_id(IdKind::Prog, prog_ids[0]).unwrap();
        rawbpf::sys::prog_info(std::os::fd::AsFd::as_fd(&prog))
            .unwrap()
            .1
    };
    rawbpf::sys::send_signal(child.id(), libc::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "run exits cleanly on SIGTERM: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(cg
        .query(attach_type::CGROUP_INET_EGRESS)
        .unwrap()
        .1
        .is_empty());
    assert!(
        gone_soon(IdKind::Prog, prog_ids[0]),
        "program freed after run exits"
    );
    for id in map_ids {
        assert!(gone_soon(IdKind::Map, id), "map {id} freed after run exits");
    }
}
