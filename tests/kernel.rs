//! Kernel tests: load real objects into the running kernel and check what it
//! did through its own interfaces (OBJ_GET_INFO_BY_FD, PROG_QUERY, map
//! reads, loopback traffic). They need root.

mod common;

use std::os::fd::AsFd;
use std::process::Command;

use common::*;
use rawbpf::attach::cgroup::{self, AttachMode};
use rawbpf::sys::{self, AttachFlags, Cmd, IdKind, MapFlags, SendOutcome};
use rawbpf::uapi::{attach_type, prog_type};
use rawbpf::Error;

const SUBPROG: &[u8] = include_bytes!("../bpf/subprog.bpf.o");
const CALLBACK: &[u8] = include_bytes!("../bpf/callback.bpf.o");
const GLOBALS: &[u8] = include_bytes!("../bpf/globals.bpf.o");
const MULTI: &[u8] = include_bytes!("../bpf/multi.bpf.o");
const BAD_CALLBACK: &[u8] = include_bytes!("../bpf/bad_callback.bpf.o");
const BAD_VERIFIER: &[u8] = include_bytes!("../bpf/bad_verifier.bpf.o");
const NO_BTF: &[u8] = include_bytes!("../bpf/no_btf.bpf.o");
/// The bench's object with 64 cgroup_skb programs, each with a timer map.
const TIMERS_64: &[u8] = include_bytes!("../bench/objs/timers_64.bpf.o");

fn name(bytes: &[u8]) -> &str {
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    std::str::from_utf8(&bytes[..len]).unwrap()
}

/// The seed's seven bpf() calls to load and attach.
const SEED_CALLS: [Cmd; 7] = [
    Cmd::BtfLoad,
    Cmd::MapCreate,
    Cmd::MapCreate,
    Cmd::MapUpdateElem,
    Cmd::MapFreeze,
    Cmd::ProgLoad,
    Cmd::LinkCreate,
];

#[test]
fn seed_loads_and_attaches_with_exactly_seven_bpf_calls() {
    if not_applicable_without_timers("the seed's seven bpf() calls", rawbpf::SEED_OBJECT) {
        return;
    }
    let cg = test_cgroup();
    sys::start_call_log();
    let loaded = common::load(rawbpf::SEED_OBJECT).unwrap();
    let link = cgroup::attach(loaded.program("bpf_prog1").unwrap(), &cg, AttachMode::Link).unwrap();
    let calls = sys::take_call_log();
    assert_eq!(calls, SEED_CALLS, "no feature probes, no vmlinux BTF");
    drop(link);
}

/// What `rawbpf run OBJECT --pin DIR --cgroup CG` does, through the library:
/// the seven calls, then one BPF_OBJ_GET_INFO_BY_FD for the attached
/// program's id and tag, which the record keeps (the record itself is a
/// symlink), then one BPF_OBJ_PIN per map and link, and nothing else: the
/// summary `run` prints costs no call. Before 5.15 the same with the seed's
/// timer-free twin: its four calls, one map.
#[test]
fn seed_run_with_pins_adds_only_the_record_id_and_one_call_per_pin() {
    let cg = test_cgroup();
    let pins = PinDir::new("calls");
    sys::start_call_log();
    let loaded = common::load(policy_object()).unwrap();
    let links = cgroup::attach_all(&loaded, &cg, AttachMode::Link).unwrap();
    let dir = rawbpf::pin::PinDir {
        path: pins.path().to_path_buf(),
        exists: false,
    };
    rawbpf::pin::pin_run(&dir, &loaded, links, None).unwrap();
    let calls = sys::take_timed_call_log();
    let cmds: Vec<Cmd> = calls.iter().map(|c| c.cmd).collect();
    let mut want = if kernel_has_bpf_timer() {
        [&SEED_CALLS[..], &[Cmd::ObjGetInfoByFd]].concat()
    } else {
        // The twin: hmap only, no .rodata to fill and freeze.
        vec![
            Cmd::BtfLoad,
            Cmd::MapCreate,
            Cmd::ProgLoad,
            Cmd::LinkCreate,
            Cmd::ObjGetInfoByFd,
        ]
    };
    // A pin per map and the link (before 6.5, and the first refused by fd).
    let made = if kernel_has_bpf_timer() { 3 } else { 2 };
    want.extend(std::iter::repeat_n(Cmd::ObjPin, common::pin_calls(made)));
    assert_eq!(cmds, want);
    // Each call is timed (verification takes some microseconds at least).
    let load = calls.iter().find(|c| c.cmd == Cmd::ProgLoad).unwrap();
    assert!(load.nanos > 1000, "{load:?}");
    // The record is there all the same, a symlink naming every pin.
    let head = pins.path().join(rawbpf::pin::RECORD);
    let meta = std::fs::symlink_metadata(&head).unwrap();
    assert!(meta.file_type().is_symlink(), "{meta:?}");
    let (record, parts) = rawbpf::pin::read_record(pins.path()).unwrap();
    assert_eq!(parts, 1);
    let mut named: Vec<&str> = record.pins.iter().map(|p| p.name.as_str()).collect();
    named.sort_unstable();
    let mut pinned: Vec<String> = std::fs::read_dir(pins.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != rawbpf::pin::RECORD)
        .collect();
    pinned.sort_unstable();
    assert_eq!(named, pinned);
    let link = rawbpf::kernel::bpffs::open_pinned(&pins.path().join("link_bpf_prog1")).unwrap();
    sys::link_detach(link.as_fd()).unwrap();
}

/// Several programs load in parallel (on a machine with more than one CPU)
/// and still come back in the object's order, their calls in the log too.
#[test]
fn programs_loaded_in_parallel_keep_the_objects_order() {
    require_root();
    let expected = rawbpf::ObjectSpec::parse(MULTI).unwrap();
    let names: Vec<&str> = expected
        .object()
        .programs
        .iter()
        .map(|&f| expected.object().functions[f].name.as_str())
        .collect();
    assert!(names.len() >= 5, "{names:?}");
    sys::start_call_log();
    let loaded = common::load(MULTI).unwrap();
    let calls = sys::take_call_log();
    let loaded_names: Vec<&str> = loaded.programs.iter().map(|p| p.name()).collect();
    assert_eq!(loaded_names, names);
    for p in &loaded.programs {
        let (info, _) = p.info().unwrap();
        assert_eq!(name(&info.name), &p.name()[..p.name().len().min(15)]);
    }
    let loads = calls.iter().filter(|&&c| c == Cmd::ProgLoad).count();
    assert_eq!(loads, names.len(), "one PROG_LOAD per program: {calls:?}");
    // The map calls come first, then the loads, whichever thread made them.
    let first_load = calls.iter().position(|&c| c == Cmd::ProgLoad).unwrap();
    assert!(calls[first_load..].iter().all(|&c| c == Cmd::ProgLoad));
    assert_eq!(calls[0], Cmd::BtfLoad);
}

/// A program the verifier refuses stops a parallel load with the error of
/// the first refused program in the object's order, whichever thread met it.
#[test]
fn a_parallel_load_reports_the_first_refused_program() {
    require_root();
    // Turn the final `exit` of the 2nd and 4th programs into a jump to
    // itself, which the verifier rejects as an infinite loop.
    let mut bytes = MULTI.to_vec();
    let names = {
        let p = rawbpf::ObjectSpec::parse(MULTI).unwrap();
        let mut names = Vec::new();
        for (n, &f) in p.object().programs.iter().enumerate() {
            let func = &p.object().functions[f];
            names.push(func.name.clone());
            if n == 1 || n == 3 {
                let data = p.object().sections[func.section].data;
                let at = data.as_ptr() as usize - MULTI.as_ptr() as usize
                    + (func.start + func.len - 1) * 8;
                assert_eq!(bytes[at], 0x95, "the last instruction is exit");
                bytes[at] = 0x05; // ja
                bytes[at + 2..at + 4].copy_from_slice(&(-1i16).to_le_bytes());
            }
        }
        names
    };
    for _ in 0..3 {
        let err = common::load(&bytes).unwrap_err();
        assert!(matches!(err, Error::Rejected { .. }), "{err}");
        assert!(
            err.to_string().contains(&format!("program '{}'", names[1])),
            "{err}"
        );
    }
}

#[test]
fn kernel_sees_the_seed_program_its_maps_and_btf() {
    require_root();
    if not_applicable_without_timers("the seed as the kernel sees it", rawbpf::SEED_OBJECT) {
        return;
    }
    let mut spec = rawbpf::ObjectSpec::parse(rawbpf::SEED_OBJECT).unwrap();
    spec.set_name(rawbpf::SEED_NAME);
    let loaded = spec.load(&rawbpf::LoadOptions::default()).unwrap();
    let prog = loaded.program("bpf_prog1").unwrap();
    let (info, map_ids) = prog.info().unwrap();
    assert_eq!(info.prog_type, prog_type::CGROUP_SKB);
    assert_eq!(name(&info.name), "bpf_prog1");
    assert!(info.verified_insns > 0);
    assert_ne!(info.btf_id, 0, "the program carries the object's BTF");

    let hmap = loaded.map("hmap").unwrap().info().unwrap();
    let rodata = loaded.map(".rodata").unwrap().info().unwrap();
    let mut expected = vec![hmap.id, rodata.id];
    let mut got = map_ids.clone();
    expected.sort();
    got.sort();
    assert_eq!(got, expected, "the program uses exactly hmap and .rodata");

    assert_eq!(name(&hmap.name), "hmap");
    assert_eq!(
        (
            hmap.map_type,
            hmap.key_size,
            hmap.value_size,
            hmap.max_entries
        ),
        (2, 4, 16, 1)
    );
    assert_ne!(hmap.btf_id, 0, "hmap was created with BTF");
    assert_ne!(hmap.btf_value_type_id, 0);
    let btf = sys::btf_info(loaded.btf.as_ref().unwrap().as_fd()).unwrap();
    assert_eq!(hmap.btf_id, btf.id);

    // libbpf's name (object name cut to fit before the section's) and
    // flags: read-only for programs, not mmapable (its one variable, the
    // printk format, is static).
    assert_eq!(name(&rodata.name), "timer_ca.rodata");
    assert_eq!(rodata.map_flags, MapFlags::RDONLY_PROG.bits());
    // Frozen: user space may no longer write it.
    let m = loaded.map(".rodata").unwrap();
    let value = m.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    assert!(
        value.starts_with(b"Callback was invoked"),
        "the printk format is in .rodata"
    );
    let err = m
        .update(&0u32.to_ne_bytes(), &value, rawbpf::UpdateFlags::Any)
        .unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        Some(libc::EPERM),
        ".rodata is frozen: {err}"
    );
}

fn check_drop_then_pass(mode: AttachMode) {
    let cg = test_cgroup();
    let rx = Receiver::new();
    let loaded = common::load(policy_object()).unwrap();
    let prog = loaded.program("bpf_prog1").unwrap();
    let prog_id = prog.info().unwrap().0.id;

    let attachment = cgroup::attach(prog, &cg, mode).unwrap();
    let (flags, ids) = cg.query(attach_type::CGROUP_INET_EGRESS).unwrap();
    assert_eq!(ids, [prog_id], "PROG_QUERY lists the program for egress");
    if let AttachMode::Legacy(f) = mode {
        assert_eq!(flags, f);
    }
    assert_eq!(
        cg.query(attach_type::CGROUP_INET_INGRESS).unwrap().1,
        [] as [u32; 0]
    );
    assert_eq!(
        common::send_udp(&cg, rx.addr()).unwrap(),
        SendOutcome::Failed(libc::EPERM),
        "dropped while attached"
    );
    assert!(!rx.received());

    attachment.detach().unwrap();
    assert!(cg
        .query(attach_type::CGROUP_INET_EGRESS)
        .unwrap()
        .1
        .is_empty());
    assert_eq!(
        common::send_udp(&cg, rx.addr()).unwrap(),
        SendOutcome::Sent,
        "passes after detach"
    );
    assert!(rx.received());
}

#[test]
fn link_attach_drops_loopback_egress_until_detached() {
    check_drop_then_pass(AttachMode::Link);
}

#[test]
fn legacy_attach_drops_loopback_egress_until_detached() {
    check_drop_then_pass(AttachMode::Legacy(AttachFlags::ALLOW_MULTI));
    check_drop_then_pass(AttachMode::Legacy(AttachFlags::ALLOW_OVERRIDE));
}

#[test]
fn dropping_a_link_detaches() {
    let cg = test_cgroup();
    let loaded = common::load(policy_object()).unwrap();
    let attachment =
        cgroup::attach(loaded.program("bpf_prog1").unwrap(), &cg, AttachMode::Link).unwrap();
    let link_id = sys::link_info(attachment.link().unwrap()).unwrap().id;
    drop(attachment);
    assert!(gone_soon(IdKind::Link, link_id));
    assert!(cg
        .query(attach_type::CGROUP_INET_EGRESS)
        .unwrap()
        .1
        .is_empty());
}

/// `rawbpf run --pin` in a second process, then `rawbpf detach`; `flags` are
/// the attach flags PROG_QUERY must report (for legacy attachments).
fn run_pinned(extra: &[&str], flags: Option<AttachFlags>) {
    let cg = test_cgroup();
    let pins = PinDir::new("pin");
    let cg_path = cg.path().to_str().unwrap();
    let pin_path = pins.path().to_str().unwrap();
    let object = PolicyArg::new();
    let mut args = vec!["run"];
    args.extend(object.args());
    args.extend(["--cgroup", cg_path, "--pin", pin_path]);
    args.extend(extra);
    rawbpf_ok(&args);

    // This process is not the one that loaded it: it sees the pins.
    let map = rawbpf::kernel::bpffs::open_pinned(&pins.path().join("map_hmap")).unwrap();
    assert_eq!(name(&sys::map_info(map.as_fd()).unwrap().name), "hmap");
    let (got_flags, ids) = cg.query(attach_type::CGROUP_INET_EGRESS).unwrap();
    assert_eq!(
        ids.len(),
        1,
        "the pinned program stays attached after run exits"
    );
    if let Some(flags) = flags {
        assert_eq!(got_flags, flags, "attach flags");
    }
    let rx = Receiver::new();
    assert_eq!(
        common::send_udp(&cg, rx.addr()).unwrap(),
        SendOutcome::Failed(libc::EPERM)
    );

    rawbpf_ok(&["detach", "--pin", pin_path, "--cgroup", cg_path]);
    assert!(!pins.path().exists(), "detach removes the pins");
    assert!(cg
        .query(attach_type::CGROUP_INET_EGRESS)
        .unwrap()
        .1
        .is_empty());
    assert_eq!(common::send_udp(&cg, rx.addr()).unwrap(), SendOutcome::Sent);
    assert!(rx.received());
}

/// `run --verbose`'s account of the 64-program run: each call in the step
/// that made it, each program's verification time, the threads.
fn check_time_breakdown(stdout: &str) {
    let step = |name: &str| {
        stdout
            .lines()
            .find(|l| {
                l.strip_prefix("  ")
                    .is_some_and(|l| l.starts_with(&format!("{name} ")))
            })
            .unwrap_or_else(|| panic!("no step '{name}' in:\n{stdout}"))
    };
    // BTF, 64 maps, 64 programs; 64 links; 128 pins.
    let load = step("load");
    assert!(load.contains(" in 129 bpf() calls"), "{load}");
    assert!(load.contains("64 programs verified"), "{load}");
    if std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2) {
        assert!(load.contains(" threads (thread 0: "), "{load}");
    }
    assert!(
        step("attach").contains(" in 64 bpf() calls"),
        "{}",
        step("attach")
    );
    let pins = format!(" in {} bpf() calls", common::pin_calls(128));
    assert!(step("pin").contains(&pins), "{}", step("pin"));
    step("total");
    let timed = stdout
        .lines()
        .filter(|l| l.starts_with("prog ") && l.contains(" us maps "))
        .count();
    assert_eq!(timed, 64, "each program's BPF_PROG_LOAD time:\n{stdout}");
}

/// `rawbpf run --verbose` of the 64-program object, with `extra`
/// arguments, into a cgroup and a pin directory of the test's own: those,
/// what the run printed, and the program ids the kernel has on the
/// cgroup's two hooks (32 on each, which this checks).
fn run_timers_64(pin_dir: &str, extra: &[&str]) -> (cgroup::Cgroup, PinDir, String, Vec<u32>) {
    let cg = test_cgroup();
    let pins = PinDir::new(pin_dir);
    let object = ObjectFile::new(TIMERS_64);
    let (cg_path, pin_path) = (cg.path().to_str().unwrap(), pins.path().to_str().unwrap());
    let mut args = vec![
        "run",
        object.path(),
        "--cgroup",
        cg_path,
        "--pin",
        pin_path,
        "--verbose",
    ];
    args.extend_from_slice(extra);
    let stdout = rawbpf_ok(&args);
    let mut attached = Vec::new();
    for hook in [
        attach_type::CGROUP_INET_INGRESS,
        attach_type::CGROUP_INET_EGRESS,
    ] {
        let (_, ids) = cg.query(hook).unwrap();
        assert_eq!(ids.len(), 32, "programs on attach type {hook}");
        attached.extend(ids);
    }
    (cg, pins, stdout, attached)
}

/// `--threads 1`: the 64 programs are verified one after the other, on
/// the thread that runs `run` (its call log names no other), and all are
/// loaded and attached as with the default.
#[test]
fn a_run_with_one_thread_verifies_on_one() {
    if not_applicable_without_timers("a_run_with_one_thread_verifies_on_one", TIMERS_64) {
        return;
    }
    let (_cg, pins, stdout, _) = run_timers_64("threads1", &["--threads", "1"]);
    let load = stdout
        .lines()
        .find(|l| l.starts_with("  load "))
        .unwrap_or_else(|| panic!("no load step in:\n{stdout}"));
    assert!(load.contains("64 programs verified"), "{load}");
    assert!(!load.contains(" threads ("), "one thread only: {load}");
    rawbpf_ok(&["detach", "--pin", pins.path().to_str().unwrap()]);
}

/// 64 programs and 64 maps: the loads are spread over the
/// CPUs, and still every program is attached, every pin made, named in the
/// record, and removed by `detach`.
#[test]
fn a_run_of_64_programs_pins_and_records_everything() {
    if not_applicable_without_timers(
        "a_run_of_64_programs_pins_and_records_everything",
        TIMERS_64,
    ) {
        return;
    }
    let (cg, pins, stdout, mut attached) = run_timers_64("pin64", &[]);
    assert!(
        stdout.contains("BPF_PROG_LOAD x64")
            && stdout.contains(&format!("BPF_OBJ_PIN x{}", common::pin_calls(128))),
        "{stdout}"
    );
    check_time_breakdown(&stdout);

    // The kernel has 32 programs on each hook, the ones the links name.
    attached.sort_unstable();
    let mut linked = Vec::new();
    let mut maps = 0;
    let mut pinned = Vec::new();
    for entry in std::fs::read_dir(pins.path()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.starts_with("rawbpf_run") {
            continue;
        }
        pinned.push(name.clone());
        let fd = rawbpf::kernel::bpffs::open_pinned(&pins.path().join(&name)).unwrap();
        if name.starts_with("link_") {
            linked.push(sys::link_info(fd.as_fd()).unwrap().prog_id);
        } else {
            assert!(name.starts_with("map_"), "{name}");
            sys::map_info(fd.as_fd()).unwrap();
            maps += 1;
        }
    }
    linked.sort_unstable();
    assert_eq!(linked, attached, "each link pinned is one the kernel runs");
    assert_eq!(maps, 64);
    let (record, _) = rawbpf::pin::read_record(pins.path()).unwrap();
    let mut recorded: Vec<String> = record.pins.iter().map(|p| p.name.clone()).collect();
    recorded.sort_unstable();
    pinned.sort_unstable();
    assert_eq!(recorded, pinned, "the record names exactly the pins made");

    rawbpf_ok(&["detach", "--pin", pins.path().to_str().unwrap()]);
    assert!(
        !pins.path().exists(),
        "detach removes every pin and the record"
    );
    for hook in [
        attach_type::CGROUP_INET_INGRESS,
        attach_type::CGROUP_INET_EGRESS,
    ] {
        assert!(cg.query(hook).unwrap().1.is_empty());
    }
}

#[test]
fn pinned_link_outlives_run_and_detach_removes_it() {
    run_pinned(&[], None);
}

#[test]
fn pinned_legacy_attachment_outlives_run_and_detach_removes_it() {
    run_pinned(&["--legacy-attach"], Some(AttachFlags::ALLOW_MULTI));
    run_pinned(
        &["--legacy-attach=override"],
        Some(AttachFlags::ALLOW_OVERRIDE),
    );
}

#[test]
fn subprograms_load_and_compute() {
    require_root();
    let loaded = common::load(SUBPROG).unwrap();
    assert!(loaded.programs.len() >= 2);
    // bpf_prog_info.verified_insns is Linux 5.16; before, it reads 0.
    if rawbpf::selftest::kernel_version().is_some_and(|v| v >= (5, 16)) {
        for prog in &loaded.programs {
            let (info, _) = prog.info().unwrap();
            assert!(info.verified_insns > 0, "{}", prog.name());
        }
    }
    let egress = loaded
        .programs
        .iter()
        .find(|p| p.section() == "cgroup_skb/egress")
        .unwrap();
    assert_eq!(egress.test_run(&udp_packet(), &[]).unwrap().retval, 1);
}

#[test]
fn multiple_programs_of_different_types_load() {
    require_root();
    let loaded = common::load(MULTI).unwrap();
    let mut types: Vec<u32> = loaded
        .programs
        .iter()
        .map(|p| p.info().unwrap().0.prog_type)
        .collect();
    types.sort();
    types.dedup();
    assert!(types.len() >= 3, "several program types: {types:?}");
    // All of them share one map.
    let shared: Vec<Vec<u32>> = loaded
        .programs
        .iter()
        .map(|p| p.info().unwrap().1)
        .collect();
    assert!(shared
        .windows(2)
        .all(|w| w[0].iter().any(|id| w[1].contains(id))));
}

#[test]
fn broken_callback_is_rejected_with_the_verifiers_words() {
    require_root();
    if not_applicable_without_timers("a non-static timer callback", BAD_CALLBACK) {
        return;
    }
    let err = common::load(BAD_CALLBACK).unwrap_err();
    assert!(matches!(err, Error::Rejected { .. }), "{err}");
    assert!(err.to_string().contains("program 'bpf_prog1'"), "{err}");
    // Newer kernels name the rule; 6.1 already fails verifying the global
    // function on its own. Either way the verifier's words are shown.
    let log = err.verifier_log().unwrap_or_default();
    if log.contains("callback function not static") {
        assert!(
            err.to_string()
                .contains("hint: make the callback a static function"),
            "{err}"
        );
    } else {
        assert!(log.contains("Validating timer_callback()"), "{err}");
    }
}

#[test]
fn verifier_rejection_shows_the_log_and_a_hint() {
    require_root();
    let err = common::load(BAD_VERIFIER).unwrap_err();
    let Error::Rejected { log, hint, .. } = &err else {
        panic!("not a rejection: {err}")
    };
    assert!(
        log.contains("invalid mem access 'map_value_or_null'"),
        "{log}"
    );
    assert!(hint.unwrap().contains("NULL"), "a hint for: {log}");
    assert!(err.to_string().contains("kernel log"), "{err}");
}

#[test]
fn timer_map_without_btf_says_btf_is_needed() {
    require_root();
    if not_applicable_without_timers("a timer map without BTF", NO_BTF) {
        return;
    }
    let err = common::load(NO_BTF).unwrap_err();
    assert!(
        err.verifier_log()
            .unwrap_or_default()
            .contains("map 'hmap' has to have BTF in order to use bpf_timer"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("hint: a map holding struct bpf_timer needs BTF"),
        "{err}"
    );
}

/// Reads the u64 global `name` of `object` from its section's map.
fn global_u64(object: &[u8], loaded: &rawbpf::Loaded, name: &str) -> u64 {
    let obj = rawbpf::object::elf::Object::parse(object).unwrap();
    let sym = obj.symbols.iter().find(|s| s.name == name).unwrap();
    let section = &obj.sections[sym.section.unwrap()].name;
    let value = loaded
        .map(section)
        .unwrap()
        .lookup(&0u32.to_ne_bytes())
        .unwrap()
        .unwrap();
    let at = sym.value as usize;
    u64::from_ne_bytes(value[at..at + 8].try_into().unwrap())
}

#[test]
fn callbacks_run_and_store_results_in_bss() {
    require_root();
    if rawbpf::selftest::kernel_version().is_some_and(|v| v < (5, 17)) {
        // bpf_loop is Linux 5.17: the kernel must refuse the object, in its words.
        let err = common::load(CALLBACK).unwrap_err();
        assert!(
            matches!(err, Error::Rejected { .. }) && err.verifier_log().is_some(),
            "{err}"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "NOT APPLICABLE: callbacks: bpf_loop needs Linux 5.17; checked that the kernel refuses it"
        );
        return;
    }
    let loaded = common::load(CALLBACK).unwrap();
    let prog = &loaded.programs[0];
    assert_eq!(global_u64(CALLBACK, &loaded, "runs"), 0);
    assert_eq!(prog.test_run(&udp_packet(), &[]).unwrap().retval, 1);
    assert_eq!(
        global_u64(CALLBACK, &loaded, "loop_sum"),
        45,
        "bpf_loop callback: 0 + ... + 9"
    );
    assert_eq!(
        global_u64(CALLBACK, &loaded, "elem_sum"),
        10,
        "for_each_map_elem callback: 1 + 2 + 3 + 4"
    );
    assert_eq!(global_u64(CALLBACK, &loaded, "runs"), 1);
}

#[test]
fn globals_are_shared_between_runs_and_user_space() {
    require_root();
    let loaded = common::load(GLOBALS).unwrap();
    let prog = &loaded.programs[0];
    assert!(loaded.map(".data").is_some() && loaded.map(".rodata").is_some());
    for _ in 0..3 {
        assert_eq!(prog.test_run(&udp_packet(), &[]).unwrap().retval, 1);
    }
    assert_eq!(
        global_u64(GLOBALS, &loaded, "counter"),
        3,
        ".bss counter after 3 runs"
    );
    assert_eq!(
        global_u64(GLOBALS, &loaded, "last"),
        42,
        ".rodata 7 + .data 35"
    );
}

#[test]
fn globals_set_before_load_are_what_the_program_sees() {
    require_root();
    let mut spec = rawbpf::ObjectSpec::parse(GLOBALS).unwrap();
    spec.set_global("seven", &100u32.to_ne_bytes()).unwrap();
    spec.set_global("thirty_five", &1u32.to_ne_bytes()).unwrap();
    spec.set_global("counter", &10u64.to_ne_bytes()).unwrap();
    let loaded = spec.load(&rawbpf::LoadOptions::default()).unwrap();
    let prog = loaded.program("count_packets").unwrap();
    assert_eq!(prog.test_run(&udp_packet(), &[]).unwrap().retval, 1);
    assert_eq!(
        global_u64(GLOBALS, &loaded, "counter"),
        11,
        ".bss set to 10, one run"
    );
    assert_eq!(
        global_u64(GLOBALS, &loaded, "last"),
        101,
        ".rodata 100 + .data 1"
    );
    // The kernel's copy of .rodata holds the value set, and is frozen.
    let rodata = loaded.map(".rodata").unwrap();
    let value = rodata.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    assert_eq!(value[..4], 100u32.to_ne_bytes());
    assert!(
        rodata
            .update(&0u32.to_ne_bytes(), &value, rawbpf::UpdateFlags::Any)
            .is_err(),
        "frozen"
    );
}

#[test]
fn set_global_checks_the_name_and_the_size() {
    let mut spec = rawbpf::ObjectSpec::parse(GLOBALS).unwrap();
    let err = spec.set_global("seven", &1u64.to_ne_bytes()).unwrap_err();
    assert!(
        err.to_string()
            .contains("'seven' is 4 bytes; the value given is 8 bytes"),
        "{err}"
    );
    let err = spec.set_global("no_such", &[0]).unwrap_err();
    assert!(
        err.to_string().contains("no global variable of that name"),
        "{err}"
    );
    // A map definition is not a global.
    let mut spec = rawbpf::ObjectSpec::parse(rawbpf::SEED_OBJECT).unwrap();
    assert!(spec.set_global("hmap", &[0; 4]).is_err());
}

#[test]
fn map_size_and_autoload_set_before_load_are_what_the_kernel_gets() {
    require_root();
    let mut spec = rawbpf::ObjectSpec::parse(MULTI).unwrap();
    let names: Vec<String> = spec.programs().map(|p| p.name().to_string()).collect();
    let (first, rest) = names.split_first().unwrap();
    for name in rest {
        spec.program_mut(name).unwrap().set_autoload(false);
    }
    spec.map_mut("hits").unwrap().set_max_entries(3).unwrap();
    let loaded = spec.load(&rawbpf::LoadOptions::default()).unwrap();
    let loaded_names: Vec<&str> = loaded.programs.iter().map(|p| p.name()).collect();
    assert_eq!(loaded_names, [first.as_str()]);
    assert_eq!(loaded.map("hits").unwrap().info().unwrap().max_entries, 3);
    // Data maps hold one value: their size is not to be changed.
    let mut spec = rawbpf::ObjectSpec::parse(GLOBALS).unwrap();
    assert!(spec.map_mut(".bss").unwrap().set_max_entries(2).is_err());
}

fn demo_cgroups() -> Vec<String> {
    let root = rawbpf::kernel::mounts::cgroup2_root().unwrap();
    std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("rawbpf-demo-"))
        .collect()
}

#[test]
fn demo_survives_closed_stdio_no_dev_null_and_a_vanished_reader() {
    require_root();
    if !kernel_has_bpf_timer() {
        // The demo is the seed's: it must fail saying why, and leave nothing.
        let out = Command::new(rawbpf_bin()).arg("demo").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(
                "hint: this kernel has no bpf_timer helpers (bpf_timer needs Linux 5.15 or later)"
            ),
            "{stderr}"
        );
        assert_eq!(demo_cgroups(), [] as [String; 0], "no demo cgroup left");
        assert!(not_applicable_without_timers(
            "the demo",
            rawbpf::SEED_OBJECT
        ));
        return;
    }
    // An initramfs tool may start with stdio closed.
    let mut cmd = Command::new(rawbpf_bin());
    cmd.arg("demo");
    common::os::close_stdio_on_exec(&mut cmd);
    let status = cmd.status().unwrap();
    assert!(status.success(), "demo with stdio closed: {status}");
    // Earlier still: no /dev/null to put on the closed fds (Rust's own
    // start-up aborts there).
    let mut cmd = Command::new(rawbpf_bin());
    cmd.arg("demo");
    common::os::empty_dev_on_exec(&mut cmd);
    common::os::close_stdio_on_exec(&mut cmd);
    let status = cmd.status().unwrap();
    assert!(
        status.success(),
        "demo with stdio closed and an empty /dev: {status}"
    );
    // A reader that goes away must not abort it halfway.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = Command::new(rawbpf_bin())
        .arg("demo")
        .stdout(writer)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "demo writing into a closed pipe: {status}"
    );
    assert_eq!(
        demo_cgroups(),
        [] as [String; 0],
        "the demo cgroup was removed"
    );
}

#[test]
fn without_root_the_error_says_so() {
    require_root();
    use std::os::unix::process::CommandExt;
    // Drop to nobody for the child only.
    let out = Command::new(rawbpf_bin())
        .arg("demo")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("needs root"), "{stderr}");
    assert!(stderr.contains("make vmtest"), "{stderr}");
}
