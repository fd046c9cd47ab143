//! /sbin/init of the root file system `make vmtest-initramfs` and `make
//! vmtest-dracut` boot: by the time it runs, the distribution's initramfs
//! (initramfs-tools or dracut) has run rawbpf's boot script, mounted this
//! root, moved /sys, /proc, /dev and /run into it and switched root.
//!
//! What it expects comes from `/etc/rawbpf-check.conf` on this root (lines
//! `cgroup=DIR` and `pin=DIR`, where the configuration attaches and pins;
//! the test scripts write it) and from the kernel command line: with
//! `rawbpf=off` nothing may be loaded. It checks through `rawbpf show` (the
//! kernel's BPF_PROG_QUERY and the pins) and real traffic:
//!
//! - normal boot: the log of the boot script says it ran rawbpf; cgroup2
//!   and bpffs are mounted under the moved /sys; the seed is attached to the
//!   configured cgroup's egress by a link, the same link (and the map) is
//!   pinned where configured; a UDP datagram to 127.0.0.1 from that cgroup
//!   fails with EPERM and does not arrive (from the root cgroup it passes
//!   unless that is the configured one); after `rawbpf detach --pin` it
//!   passes and nothing is attached: the drop was the seed's doing.
//! - `rawbpf=off`: the log says loading was skipped, nothing is attached to
//!   the root cgroup or the configured one, nothing is pinned, and the
//!   datagram passes.
//!
//! Results go to the console as in `make vmtest`: `RAWBPF-VMTEST-...`
//! lines, the PASS/FAIL sentinel, and qemu's isa-debug-exit.

use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rawbpf_vm_init::{loopback_up, mount, power_off, say};

const RAWBPF: &str = "/sbin/rawbpf";
const CGROUP_ROOT: &str = "/sys/fs/cgroup";
const EXPECT: &str = "/etc/rawbpf-check.conf";
const LOG: &str = "/run/rawbpf/initramfs.log";

struct Checks {
    failed: Vec<String>,
}

impl Checks {
    fn check(&mut self, ok: bool, what: &str) {
        say(&format!(
            "RAWBPF-VMTEST-CHECK: {} {what}",
            if ok { "ok  " } else { "FAIL" }
        ));
        if !ok {
            self.failed.push(what.to_string());
        }
    }
}

fn main() {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    say(&format!("RAWBPF-VMTEST-KERNEL: {}", release.trim()));
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    say(&format!("RAWBPF-VMTEST-CMDLINE: {}", cmdline.trim()));
    let off = cmdline.split_whitespace().any(|a| a == "rawbpf=off");
    let expect = std::fs::read_to_string(EXPECT).unwrap_or_default();
    let setting = |key: &str| {
        expect
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_string)
    };
    let mut c = Checks { failed: Vec::new() };
    let (Some(cgroup), Some(pin)) = (setting("cgroup"), setting("pin")) else {
        c.check(false, &format!("{EXPECT} names the cgroup and the pin"));
        finish(c);
    };
    say(&format!(
        "RAWBPF-VMTEST-EXPECT: {} (cgroup {cgroup:?}, pin {pin:?})",
        if off {
            "nothing loaded (rawbpf=off)"
        } else {
            "the seed attached and pinned"
        }
    ));

    let log = std::fs::read_to_string(LOG).unwrap_or_default();
    say(&format!("--- {LOG} (the boot script in the initramfs) ---"));
    say(log.trim_end());
    say("---");

    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mounted = |point: &str, fstype: &str| {
        mountinfo.lines().any(|l| {
            let Some((left, right)) = l.split_once(" - ") else {
                return false;
            };
            left.split(' ').nth(4) == Some(point) && right.split(' ').next() == Some(fstype)
        })
    };
    c.check(
        mounted("/", "ext4"),
        "the root is the ext4 image (switch_root happened)",
    );

    if off {
        check_off(&mut c, &log, &cgroup, &pin, &mounted);
    } else {
        check_on(&mut c, &log, &cgroup, &pin, &mounted);
    }
    finish(c);
}

/// The seed is attached to `cgroup` and pinned at `pin`, and acts.
fn check_on(
    c: &mut Checks,
    log: &str,
    cgroup: &str,
    pin: &str,
    mounted: &dyn Fn(&str, &str) -> bool,
) {
    c.check(
        log.contains(&format!("pinned under {pin}")),
        "the boot script ran rawbpf and pinned where configured",
    );
    c.check(
        mounted(CGROUP_ROOT, "cgroup2"),
        "cgroup2 moved to /sys/fs/cgroup",
    );
    c.check(mounted("/sys/fs/bpf", "bpf"), "bpffs moved to /sys/fs/bpf");
    // (The kernel lists the cgroup2 line only once cgroup2 has been mounted.)
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    c.check(own.trim() == "0::/", "PID 1 is in the root cgroup");

    let (ok, shown) = rawbpf(&["show", "--cgroup", cgroup, "--pin", pin]);
    c.check(ok, "rawbpf show exits 0");
    let attached = shown
        .lines()
        .find(|l| l.contains("CGROUP_INET_EGRESS") && l.contains("bpf_prog1"))
        .and_then(|l| link_id(l, "link id "));
    let pinned = shown
        .lines()
        .find(|l| l.trim_start().starts_with("link_bpf_prog1"))
        .and_then(|l| link_id(l, "link id "));
    c.check(
        attached.is_some(),
        &format!("the seed is attached to {cgroup:?}'s egress through a link"),
    );
    c.check(
        attached.is_some() && attached == pinned,
        "that link is the one pinned under the moved bpffs",
    );
    c.check(shown.contains("map_hmap"), "the seed's map is pinned too");

    loopback_up();
    let in_root = cgroup.trim_end_matches('/') == CGROUP_ROOT;
    if !in_root {
        let (sent, received) = udp_to_loopback();
        c.check(
            sent.is_ok() && received,
            &format!("from the root cgroup a datagram to 127.0.0.1 passes ({sent:?})"),
        );
    }
    let moved = in_root || move_to(cgroup);
    c.check(moved, &format!("PID 1 moves into {cgroup:?}"));
    let (sent, received) = udp_to_loopback();
    c.check(
        sent.as_ref().err().and_then(|e| e.raw_os_error()) == Some(libc::EPERM),
        &format!("a UDP datagram from {cgroup:?} to 127.0.0.1 is dropped with EPERM ({sent:?})"),
    );
    c.check(!received, "the dropped datagram does not arrive");

    let (ok, _) = rawbpf(&["detach", "--pin", pin]);
    c.check(ok, "rawbpf detach --pin removes it");
    let (sent, received) = udp_to_loopback();
    c.check(
        sent.is_ok() && received,
        &format!("after detach the datagram passes ({sent:?})"),
    );
    if !in_root {
        c.check(move_to(CGROUP_ROOT), "PID 1 moves back to the root cgroup");
    }
    let (ok, shown) = rawbpf(&["show", "--cgroup", cgroup]);
    c.check(
        ok && shown.contains("0 program(s) attached"),
        "nothing is attached after detach",
    );
}

/// Nothing was loaded: the log says why, nothing is attached or pinned,
/// traffic passes.
fn check_off(
    c: &mut Checks,
    log: &str,
    cgroup: &str,
    pin: &str,
    mounted: &dyn Fn(&str, &str) -> bool,
) {
    c.check(
        log.contains("rawbpf=off on the kernel command line: nothing loaded"),
        "the boot script logged that rawbpf=off skipped loading",
    );
    c.check(
        !log.contains("attaching") && !log.contains("pinned under"),
        "the boot script ran no rawbpf",
    );
    // The boot script mounted nothing; a booted system would mount these.
    if !mounted(CGROUP_ROOT, "cgroup2") {
        mount("cgroup2", CGROUP_ROOT);
    }
    if !mounted("/sys/fs/bpf", "bpf") {
        mount("bpf", "/sys/fs/bpf");
    }
    let (ok, shown) = rawbpf(&["show", "--cgroup", CGROUP_ROOT]);
    c.check(
        ok && shown.contains("0 program(s) attached"),
        "nothing is attached to the root cgroup",
    );
    if cgroup.trim_end_matches('/') == CGROUP_ROOT {
        // Checked above.
    } else if Path::new(cgroup).exists() {
        let (ok, shown) = rawbpf(&["show", "--cgroup", cgroup]);
        c.check(
            ok && shown.contains("0 program(s) attached"),
            &format!("nothing is attached to {cgroup:?}"),
        );
    } else {
        say(&format!("RAWBPF-VMTEST-NOTE: {cgroup:?} does not exist"));
    }
    c.check(
        !Path::new(pin).exists(),
        &format!("nothing is pinned at {pin:?}"),
    );
    loopback_up();
    let (sent, received) = udp_to_loopback();
    c.check(
        sent.is_ok() && received,
        &format!("a datagram to 127.0.0.1 passes ({sent:?})"),
    );
}

fn finish(c: Checks) -> ! {
    if c.failed.is_empty() {
        say("RAWBPF-VMTEST-RESULT: PASS");
    } else {
        say(&format!(
            "RAWBPF-VMTEST-RESULT: FAIL {}",
            c.failed.join("; ")
        ));
    }
    power_off(if c.failed.is_empty() { 0 } else { 1 });
}

/// Moves this process into the cgroup directory `dir`.
fn move_to(dir: &str) -> bool {
    match std::fs::write(Path::new(dir).join("cgroup.procs"), b"0") {
        Ok(()) => true,
        Err(e) => {
            say(&format!("cannot move into {dir:?}: {e}"));
            false
        }
    }
}

/// Runs rawbpf, echoing its output; (exit status 0, stdout).
fn rawbpf(args: &[&str]) -> (bool, String) {
    say(&format!("RAWBPF-VMTEST-RUN: rawbpf {args:?}"));
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
