//! PID 1 of the VMs `make vmtest` boots: set up what the tests need, run
//! them, report, power off.
//!
//! The kernel runs `/init` from the initramfs with nothing mounted, so this
//! does what a distribution's init would have done for the tests: mount
//! proc, sysfs, devtmpfs, the cgroup2 hierarchy and bpffs,
//! and bring up the loopback interface. It then runs each test binary listed
//! in /vmtest/tests (built for the host's paths, so they sit at the same
//! absolute paths here), and `rawbpf demo` and `rawbpf selftest` from the
//! binary named in /vmtest/rawbpf. The host reads the serial console: a
//! last line `RAWBPF-VMTEST-RESULT: PASS` (or `FAIL ...`) and the exit code
//! written to qemu's isa-debug-exit port. PID 1 must never exit (the kernel
//! panics), so every path ends in a power-off.

use std::process::{Command, Stdio};
use std::time::Instant;

use rawbpf_vm_init::{console_on_stdio, loopback_up, mount, power_off, say};

fn main() {
    let started = Instant::now();
    setup();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    say(&format!("RAWBPF-VMTEST-KERNEL: {}", release.trim()));
    say(&format!("RAWBPF-VMTEST-CPUS: {}", std::thread::available_parallelism().map_or(0, |n| n.get())));

    let mut failed = Vec::new();
    let tests = std::fs::read_to_string("/vmtest/tests").unwrap_or_default();
    let rawbpf = std::fs::read_to_string("/vmtest/rawbpf").unwrap_or_default();
    let rawbpf = rawbpf.trim();
    let mut runs: Vec<(String, Vec<&str>)> = tests
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| (l.trim().to_string(), vec!["--test-threads=1"]))
        .collect();
    if runs.is_empty() || rawbpf.is_empty() {
        failed.push("no test list in /vmtest".to_string());
    }
    runs.push((rawbpf.to_string(), vec!["demo"]));
    runs.push((rawbpf.to_string(), vec!["selftest"]));
    // Before 5.15 there is no bpf_timer: the seed's demo must fail (1) and
    // the selftest say the kernel is too old (3); the tests check the words.
    let mut version = release.trim().split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
    let no_timer = (version.next().unwrap_or(0), version.next().unwrap_or(0)) < (5, 15);
    let expected = |args: &[&str]| match args {
        ["demo"] if no_timer => 1,
        ["selftest"] if no_timer => 3,
        _ => 0,
    };

    for (program, args) in &runs {
        let name = format!("{} {}", program.rsplit('/').next().unwrap_or(program), args.join(" "));
        say(&format!("RAWBPF-VMTEST-RUN: {name}"));
        let t = Instant::now();
        let status = Command::new(program)
            .args(args)
            .env("RUST_BACKTRACE", "1")
            .env("PATH", "/bin")
            .stdin(Stdio::null())
            .status();
        let want = expected(args);
        let ok = matches!(&status, Ok(s) if s.code() == Some(want));
        say(&format!(
            "RAWBPF-VMTEST-DONE: {name}: {} in {:.1}s",
            match &status {
                Ok(s) if s.success() && want == 0 => "ok".to_string(),
                Ok(s) if s.code() == Some(want) => format!("ok (exit status {want}, as expected on this kernel)"),
                Ok(s) => format!("FAILED ({s})"),
                Err(e) => format!("FAILED (could not start: {e})"),
            },
            t.elapsed().as_secs_f64()
        ));
        if !ok {
            failed.push(name);
        }
    }

    say(&format!("RAWBPF-VMTEST-TIME: {:.1}s", started.elapsed().as_secs_f64()));
    if failed.is_empty() {
        say("RAWBPF-VMTEST-RESULT: PASS");
    } else {
        say(&format!("RAWBPF-VMTEST-RESULT: FAIL {}", failed.join("; ")));
    }
    power_off(if failed.is_empty() { 0 } else { 1 });
}

fn setup() {
    mount("proc", "/proc");
    mount("sysfs", "/sys");
    mount("devtmpfs", "/dev");
    console_on_stdio();
    // No tmpfs on /tmp: the initramfs is already writable memory, and a
    // checkout under /tmp (as in CI) has its test binaries there.
    mount("cgroup2", "/sys/fs/cgroup");
    mount("bpf", "/sys/fs/bpf");
    loopback_up();
}

