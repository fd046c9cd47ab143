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

use std::ffi::CString;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

/// qemu's `-device isa-debug-exit,iobase=0xf4`: writing N exits with 2N+1.
const DEBUG_EXIT_PORT: u16 = 0xf4;

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
        let ok = matches!(&status, Ok(s) if s.success());
        say(&format!(
            "RAWBPF-VMTEST-DONE: {name}: {} in {:.1}s",
            match &status {
                Ok(s) if s.success() => "ok".to_string(),
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

/// One line on the console, flushed (the host reads it as it comes).
fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn mount(fstype: &str, target: &str) {
    let _ = std::fs::create_dir_all(target);
    let (Ok(source), Ok(dir)) = (CString::new(fstype), CString::new(target)) else {
        return;
    };
    // SAFETY: NUL-terminated strings that outlive the call, no data argument.
    let ret = unsafe { libc::mount(source.as_ptr(), dir.as_ptr(), source.as_ptr(), 0, std::ptr::null()) };
    if ret != 0 {
        say(&format!("init: mount {fstype} on {target}: {}", std::io::Error::last_os_error()));
    }
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

/// The kernel gives init /dev/console as stdio only if the initramfs has it;
/// after devtmpfs is mounted it exists, so (re)open it on 0, 1 and 2.
fn console_on_stdio() {
    let path = c"/dev/console";
    // SAFETY: open/dup2/close on fds this process owns.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_RDWR);
        if fd < 0 {
            return;
        }
        for target in 0..3 {
            if fd != target {
                libc::dup2(fd, target);
            }
        }
        if fd > 2 {
            libc::close(fd);
        }
    }
}

/// `ip link set lo up`: 127.0.0.1 comes with it.
fn loopback_up() {
    // SAFETY: a socket used only for the two ioctls on a zeroed ifreq whose
    // name we set; closed at the end.
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if s < 0 {
            say("init: no socket to bring up lo");
            return;
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        if libc::ioctl(s, libc::SIOCGIFFLAGS as _, &mut req) == 0 {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            if libc::ioctl(s, libc::SIOCSIFFLAGS as _, &req) != 0 {
                say(&format!("init: lo up: {}", std::io::Error::last_os_error()));
            }
        }
        libc::close(s);
    }
}

/// Reports `code` through qemu's isa-debug-exit, then powers off in case
/// that device is missing. Never returns: PID 1 must not exit.
fn power_off(code: u8) -> ! {
    // The console is a serial port: the last lines (the sentinel among
    // them) may still sit in the tty's buffer, and qemu exits the moment the
    // port below is written. Wait until they have gone out.
    // SAFETY: tcdrain only waits on fd 1, which setup() made the console.
    unsafe {
        libc::tcdrain(1);
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: sync, ioperm/outb on the debug-exit port qemu provides, and
    // reboot(2) as a fallback; nothing here touches Rust-owned memory.
    unsafe {
        libc::sync();
        if libc::ioperm(u64::from(DEBUG_EXIT_PORT), 1, 1) == 0 {
            std::arch::asm!("out dx, al", in("dx") DEBUG_EXIT_PORT, in("al") code);
        }
        libc::reboot(libc::RB_POWER_OFF);
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}
