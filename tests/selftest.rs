//! The bpf_timer_cancel conformance suite as tests: every documented result
//! must hold on the running kernel, and every listed program type must load
//! (or be refused by the kernel's policy, said so) and record 0/0/0/1 when run.

mod common;

use std::process::Command;

use common::*;
use rawbpf::selftest::{self, Step, Verdict};

/// The tests here run one at a time: a fork (a probe child, a spawned
/// rawbpf) copies every fd of this process, which would give a map another
/// test just closed a user reference again.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn case<'a>(rows: &'a [selftest::CaseResult], name: &str) -> &'a selftest::CaseResult {
    rows.iter()
        .find(|r| r.case.starts_with(name))
        .unwrap_or_else(|| panic!("no case {name}"))
}

#[test]
fn documented_return_values_hold() {
    require_root();
    let _serial = serial();
    if not_applicable_without_timers("the return-value cases", selftest::TIMER_CASES) {
        return;
    }
    let rows = selftest::return_value_cases().unwrap();
    print!("{}", selftest::format_cases(&rows));
    for (name, observed) in [
        ("cancel before bpf_timer_init", "-EINVAL"),
        ("init, set_callback, cancel (not armed)", "0, 0, 0"),
        ("start (1 h), cancel, cancel again", "0, 1, 0"),
        ("HASH: start, delete element, cancel", "0, 0, -EINVAL"),
        ("callback cancels its own timer", "-EDEADLK"),
        (
            "cancel, start, set_callback, start, cancel",
            "1, -EINVAL, 0, 0, 1",
        ),
        ("init, init again", "0, -EBUSY"),
        ("init when no fd or pin holds the map", "-EPERM"),
    ] {
        let r = case(&rows, name);
        assert_eq!(r.observed, observed, "{name}");
        assert_eq!(r.verdict, Verdict::Pass, "{name}");
    }
    let wait = case(&rows, "cancel while the callback runs");
    match &wait.verdict {
        Verdict::NotApplicable(why) => assert!(why.contains("two CPUs"), "{why}"),
        v => assert_eq!(*v, Verdict::Pass, "{}", wait.observed),
    }
    let mutual = case(&rows, "two callbacks cancel each other");
    match (&mutual.verdict, selftest::kernel_version()) {
        (Verdict::NotApplicable(why), Some(v)) => {
            assert!(v < (6, 10) || why.contains("CPUs"), "{why}")
        }
        (v, _) => assert_eq!(*v, Verdict::Pass, "{}", mutual.observed),
    }
}

#[test]
fn every_listed_program_type_can_use_timers() {
    require_root();
    let _serial = serial();
    if not_applicable_without_timers("the program types", selftest::TIMER_TYPES) {
        return;
    }
    let types = selftest::program_types().unwrap();
    print!("{}", selftest::format_types(&types));
    assert_eq!(types.len(), 23, "the seed page lists 23 program types");
    for t in &types {
        assert_ne!(t.verdict, Verdict::Fail, "{}: {t:?}", t.prog_type);
        match &t.loaded {
            Step::Done => {}
            // Only the types a security policy can single out (perfmon ones).
            Step::NotApplicable(why) => {
                assert!(
                    ["LSM", "TRACING"].contains(&t.prog_type),
                    "{}: {why}",
                    t.prog_type
                );
                assert!(why.contains("EPERM"));
            }
            Step::Failed(why) => panic!("{} failed to load: {why}", t.prog_type),
        }
        if t.test_run == Step::Done || t.attached == Step::Done {
            let (values, runs) = t.values.unwrap();
            assert!(runs > 0, "{} ran", t.prog_type);
            assert!(
                values[0] == 0 || values[0] == -16,
                "{}: init {}",
                t.prog_type,
                values[0]
            );
            assert_eq!(
                values[1..],
                [0, 0, 1],
                "{}: set_callback, start, cancel",
                t.prog_type
            );
        }
    }
    // The cgroup types were really attached and triggered.
    for name in [
        "CGROUP_DEVICE",
        "CGROUP_SKB",
        "CGROUP_SOCK",
        "CGROUP_SOCKOPT",
        "CGROUP_SOCK_ADDR",
        "CGROUP_SYSCTL",
        "SOCK_OPS",
    ] {
        let t = types.iter().find(|t| t.prog_type == name).unwrap();
        assert_eq!(t.attached, Step::Done, "{name}");
        assert!(t.values.unwrap().1 > 0, "{name} ran while attached");
    }
    // The network types were attached in the test's own network namespace
    // (links: the kernel's link info matched) and, but for the flow
    // dissector, ran on the loopback traffic sent there.
    for name in [
        "FLOW_DISSECTOR",
        "SK_LOOKUP",
        "XDP",
        "SCHED_CLS",
        "SOCKET_FILTER",
        "SK_REUSEPORT",
        "SK_MSG",
        "SK_SKB",
    ] {
        let t = types.iter().find(|t| t.prog_type == name).unwrap();
        match (&t.attached, selftest::kernel_version()) {
            (Step::NotApplicable(why), Some(v)) if name == "SCHED_CLS" && v < (6, 6) => {
                assert!(why.contains("6.6"), "{why}")
            }
            // The machine's own flow dissector would override ours.
            (Step::NotApplicable(why), _) if name == "FLOW_DISSECTOR" => {
                assert!(why.contains("root namespace"), "{why}")
            }
            (step, _) => assert_eq!(*step, Step::Done, "{name}"),
        }
    }
    // Types with a test run ran once more on the traffic.
    for name in ["SK_LOOKUP", "XDP", "SOCKET_FILTER"] {
        let t = types.iter().find(|t| t.prog_type == name).unwrap();
        assert!(t.values.unwrap().1 >= 2, "{name}: a test run and traffic");
    }
    // Test runs where the kernel has them.
    for name in [
        "CGROUP_SKB",
        "SCHED_CLS",
        "SCHED_ACT",
        "XDP",
        "SOCKET_FILTER",
        "SYSCALL",
        "SK_LOOKUP",
        "FLOW_DISSECTOR",
    ] {
        let t = types.iter().find(|t| t.prog_type == name).unwrap();
        assert_eq!(t.test_run, Step::Done, "{name}");
    }
}

#[test]
fn selftest_command_reports_and_exits_zero() {
    require_root();
    let _serial = serial();
    let out = Command::new(rawbpf_bin()).arg("selftest").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !kernel_has_bpf_timer() {
        // Too old to test: its own exit status, the reason, nothing left.
        assert_eq!(out.status.code(), Some(3), "{stdout}");
        assert!(
            stdout.contains(
                "this kernel has no bpf_timer helpers (bpf_timer needs Linux 5.15 or later): nothing to test"
            ),
            "{stdout}"
        );
        let root = rawbpf::kernel::mounts::cgroup2_root().unwrap();
        let left: Vec<_> = std::fs::read_dir(root)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("rawbpf"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        assert!(not_applicable_without_timers(
            "the selftest command",
            selftest::TIMER_CASES
        ));
        return;
    }
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("bpf_timer_cancel on Linux"));
    assert!(stdout.contains("cancel before bpf_timer_init"));
    assert!(stdout.contains("CGROUP_SKB"));
    assert!(stdout.contains("all documented behaviour holds"));
}
