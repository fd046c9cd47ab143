//! /sbin/init of the root file system `make vmtest-initramfs` boots: by the
//! time it runs, Debian's initramfs has run contrib/initramfs-tools' boot
//! script (rawbpf attached the seed to the root cgroup and pinned it under
//! /sys/fs/bpf/rawbpf), mounted this root, moved /sys, /proc, /dev and /run
//! into it and switched root. It checks, through `rawbpf show` and real
//! traffic, that the policy held across that:
//!
//! - cgroup2 and bpffs are mounted under the moved /sys, and this process
//!   (PID 1) is in the root cgroup;
//! - `rawbpf show` lists the seed on the root cgroup's egress hook with a
//!   link id, and the same link (and the maps) pinned under the moved bpffs;
//! - a UDP datagram to 127.0.0.1 fails with EPERM and does not arrive;
//! - after `rawbpf detach --pin`, the same datagram passes and nothing is
//!   attached: the drop was the seed's doing.
//!
//! Results go to the console as in `make vmtest`: `RAWBPF-VMTEST-...`
//! lines, the PASS/FAIL sentinel, and qemu's isa-debug-exit.

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use rawbpf_vm_init::{loopback_up, power_off, say};

const RAWBPF: &str = "/sbin/rawbpf";
const PIN: &str = "/sys/fs/bpf/rawbpf";
const CGROUP: &str = "/sys/fs/cgroup";

fn main() {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    say(&format!("RAWBPF-VMTEST-KERNEL: {}", release.trim()));
    let mut failed = Vec::new();
    let mut check = |ok: bool, what: &str| {
        say(&format!(
            "RAWBPF-VMTEST-CHECK: {} {what}",
            if ok { "ok  " } else { "FAIL" }
        ));
        if !ok {
            failed.push(what.to_string());
        }
    };

    let log = std::fs::read_to_string("/run/rawbpf/initramfs.log").unwrap_or_default();
    say("--- /run/rawbpf/initramfs.log (rawbpf run in the initramfs) ---");
    say(log.trim_end());
    say("---");
    check(
        log.contains("pinned under /sys/fs/bpf/rawbpf"),
        "the initramfs boot script ran rawbpf and pinned",
    );

    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mounted = |point: &str, fstype: &str| {
        mountinfo.lines().any(|l| {
            let Some((left, right)) = l.split_once(" - ") else {
                return false;
            };
            left.split(' ').nth(4) == Some(point) && right.split(' ').next() == Some(fstype)
        })
    };
    check(
        mounted("/", "ext4"),
        "the root is the ext4 image (switch_root happened)",
    );
    check(
        mounted(CGROUP, "cgroup2"),
        "cgroup2 moved to /sys/fs/cgroup",
    );
    check(mounted("/sys/fs/bpf", "bpf"), "bpffs moved to /sys/fs/bpf");
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    check(own.trim() == "0::/", "PID 1 is in the root cgroup");

    let (ok, shown) = rawbpf(&["show", "--cgroup", CGROUP, "--pin", PIN]);
    check(ok, "rawbpf show exits 0");
    let attached = shown
        .lines()
        .find(|l| l.contains("CGROUP_INET_EGRESS") && l.contains("bpf_prog1"))
        .and_then(|l| link_id(l, "link id "));
    let pinned = shown
        .lines()
        .find(|l| l.trim_start().starts_with("link_bpf_prog1"))
        .and_then(|l| link_id(l, "link id "));
    check(
        attached.is_some(),
        "the seed is attached to the root cgroup's egress through a link",
    );
    check(
        attached.is_some() && attached == pinned,
        "that link is the one pinned under the moved bpffs",
    );
    check(shown.contains("map_hmap"), "the seed's map is pinned too");

    loopback_up();
    let (sent, received) = udp_to_loopback();
    check(
        sent.as_ref().err().and_then(|e| e.raw_os_error()) == Some(libc::EPERM),
        &format!(
            "a UDP datagram from the root cgroup to 127.0.0.1 is dropped with EPERM ({sent:?})"
        ),
    );
    check(!received, "the dropped datagram does not arrive");

    let (ok, _) = rawbpf(&["detach", "--pin", PIN]);
    check(ok, "rawbpf detach --pin removes it");
    let (sent, received) = udp_to_loopback();
    check(
        sent.is_ok() && received,
        &format!("after detach the datagram passes ({sent:?})"),
    );
    let (ok, shown) = rawbpf(&["show", "--cgroup", CGROUP]);
    check(
        ok && shown.contains("0 program(s) attached"),
        "nothing is attached after detach",
    );

    if failed.is_empty() {
        say("RAWBPF-VMTEST-RESULT: PASS");
    } else {
        say(&format!("RAWBPF-VMTEST-RESULT: FAIL {}", failed.join("; ")));
    }
    power_off(if failed.is_empty() { 0 } else { 1 });
}

/// Runs rawbpf, echoing its output; (exit status 0, stdout).
fn rawbpf(args: &[&str]) -> (bool, String) {
    say(&format!("RAWBPF-VMTEST-RUN: rawbpf {}", args.join(" ")));
    match Command::new(RAWBPF).args(args).output() {
        Ok(out) => {
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            say(stdout.trim_end());
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !stderr.trim().is_empty() {
                say(stderr.trim_end());
            }
            (out.status.success(), stdout)
        }
        Err(e) => {
            say(&format!("cannot run {RAWBPF}: {e}"));
            (false, String::new())
        }
    }
}

/// The number after `key` in `line`.
fn link_id(line: &str, key: &str) -> Option<u32> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// Sends one datagram to a receiver on 127.0.0.1; (send result, whether it arrived).
fn udp_to_loopback() -> (std::io::Result<usize>, bool) {
    let rx = match UdpSocket::bind("127.0.0.1:0") {
        Ok(rx) => rx,
        Err(e) => return (Err(e), false),
    };
    let _ = rx.set_read_timeout(Some(Duration::from_millis(500)));
    let sent = UdpSocket::bind("127.0.0.1:0")
        .and_then(|tx| rx.local_addr().and_then(|dst| tx.send_to(b"rawbpf", dst)));
    let mut buf = [0u8; 16];
    let received = matches!(rx.recv(&mut buf), Ok(6) if &buf[..6] == b"rawbpf");
    (sent, received)
}
