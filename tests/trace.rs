//! `--trace`: the kernel conversation of `rawbpf run` on the seed, decoded.
//! Needs root (it loads and attaches the seed in a cgroup of its own).

mod common;

use std::process::Command;

use common::*;

#[test]
fn trace_of_run_shows_the_seven_calls_decoded() {
    let cg = test_cgroup();
    let pins = PinDir::new("trace");
    let cg_path = cg.path().to_str().unwrap();
    let pin_path = pins.path().to_str().unwrap();
    // Before 5.15 the seed cannot load: its timer-free twin, whose calls
    // are the same but for the .rodata map.
    let object = PolicyArg::new();
    let out = Command::new(rawbpf_bin())
        .arg("run")
        .args(object.args())
        .args(["--trace", "--cgroup", cg_path, "--pin", pin_path])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "run --trace: {stderr}");
    let calls: Vec<&str> = stderr.lines().filter(|l| l.starts_with("bpf(")).collect();
    // The seven calls that load and attach the seed come first, in order,
    // each with the fields that matter decoded, with before the attach the
    // attached program's id and tag for the record; then the pins.
    let want: [&[&str]; 8] = [
        &["bpf(BPF_BTF_LOAD, btf_size "],
        &[
            "bpf(BPF_MAP_CREATE, map_type ARRAY, key_size 4, value_size 16, max_entries 1, ",
            "map_name \"hmap\", btf_fd ",
        ],
        &[
            "bpf(BPF_MAP_CREATE, map_type ARRAY, ",
            "map_flags RDONLY_PROG, map_name \"timer_ca.rodata\"",
        ],
        &["bpf(BPF_MAP_UPDATE_ELEM, map_fd ", "flags BPF_ANY) = 0 <"],
        &["bpf(BPF_MAP_FREEZE, map_fd ", ") = 0 <"],
        &[
            "bpf(BPF_PROG_LOAD, prog_type CGROUP_SKB, prog_name \"bpf_prog1\", insn_cnt ",
            "expected_attach_type CGROUP_INET_EGRESS, prog_btf_fd ",
            "func_info_cnt 2, line_info_cnt ",
        ],
        &["bpf(BPF_OBJ_GET_INFO_BY_FD, "],
        &[
            "bpf(BPF_LINK_CREATE, prog_fd ",
            "attach_type CGROUP_INET_EGRESS) = ",
        ],
    ];
    let twin: [&[&str]; 5] = [
        &["bpf(BPF_BTF_LOAD, btf_size "],
        &[
            "bpf(BPF_MAP_CREATE, map_type ARRAY, key_size 4, value_size 8, max_entries 1, ",
            "map_name \"hmap\", btf_fd ",
        ],
        &[
            "bpf(BPF_PROG_LOAD, prog_type CGROUP_SKB, prog_name \"bpf_prog1\", insn_cnt ",
            "expected_attach_type CGROUP_INET_EGRESS, prog_btf_fd ",
            "func_info_cnt 1, line_info_cnt ",
        ],
        &["bpf(BPF_OBJ_GET_INFO_BY_FD, "],
        &[
            "bpf(BPF_LINK_CREATE, prog_fd ",
            "attach_type CGROUP_INET_EGRESS) = ",
        ],
    ];
    let want: &[&[&str]] = if kernel_has_bpf_timer() { &want } else { &twin };
    let n = want.len();
    assert!(calls.len() > n, "{stderr}");
    for (line, parts) in calls.iter().zip(want) {
        for part in *parts {
            assert!(line.contains(part), "{line:?} lacks {part:?}\n{stderr}");
        }
        assert!(line.ends_with(" us>"), "{line}");
    }
    // Then only the pins: two maps (the twin's one) and the link; the
    // record itself is a symlink and the summary costs no call.
    let rest: Vec<&str> = calls[n..]
        .iter()
        .map(|l| &l[..l.find(',').unwrap_or(l.len())])
        .collect();
    let map_pins = if kernel_has_bpf_timer() { 2 } else { 1 };
    let pins = common::pin_calls(map_pins + 1);
    assert_eq!(rest, vec!["bpf(BPF_OBJ_PIN"; pins], "{stderr}");
    // describe() prints names, not numbers.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("type CGROUP_SKB"), "{stdout}");
    assert!(
        stdout.contains("(attach type CGROUP_INET_EGRESS)"),
        "{stdout}"
    );
    assert!(stdout.contains("type ARRAY key 4"), "{stdout}");

    let out = Command::new(rawbpf_bin())
        .args(["detach", "--trace", "--pin", pin_path])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "detach --trace: {stderr}");
    assert!(stderr.contains("bpf(BPF_OBJ_GET, pathname \""), "{stderr}");
    assert!(
        stderr.contains("bpf(BPF_LINK_DETACH, link_fd "),
        "{stderr}\n{stdout}"
    );
    let egress = rawbpf::uapi::AttachType::CGROUP_INET_EGRESS.0;
    assert!(cg.query(egress).unwrap().1.is_empty(), "detached");
}

#[test]
fn failed_calls_show_the_errno_by_name() {
    require_root();
    // The verifier refuses this program before anything is attached: the
    // load, and the retry with a log, end in EACCES.
    // A file of its own: in a VM the source tree is not there.
    let object = std::env::temp_dir().join(format!("rawbpf-trace-{}.bpf.o", std::process::id()));
    std::fs::write(&object, include_bytes!("../bpf/bad_verifier.bpf.o")).unwrap();
    let out = Command::new(rawbpf_bin())
        .arg("run")
        .arg(&object)
        .arg("--trace")
        .output();
    let _ = std::fs::remove_file(&object);
    let out = out.unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let loads: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("bpf(BPF_PROG_LOAD, prog_type CGROUP_SKB"))
        .collect();
    assert_eq!(loads.len(), 2, "{stderr}");
    assert!(loads[0].contains("log_level 0) = -1 EACCES ("), "{stderr}");
    assert!(loads[1].contains("log_level 1) = -1 EACCES ("), "{stderr}");
}
