//! `/init` of the initramfs that `vmtest/run.sh` boots under qemu: process 1
//! of a guest whose only job is to run rawbpf's tests on a real Debian kernel
//! and say on the serial console whether they passed.
//!
//! # What an init must do, and why
//!
//! The kernel unpacks the initramfs into a tmpfs root and executes `/init` as
//! process 1 with almost nothing set up. What a distribution's init (systemd,
//! busybox) would normally provide, this program provides itself:
//!
//! - **A console.** The kernel gives process 1 `/dev/console` as stdin, stdout
//!   and stderr only if that node exists in the initramfs; ours has no device
//!   nodes. So init mounts devtmpfs first and opens `/dev/console` (which
//!   `console=ttyS0` routes to the serial port the host reads) on fds 0-2.
//!   Before that it has nowhere to print.
//! - **Filesystems.** Nothing is mounted. The tests need `/proc` (they read
//!   `/proc/self/mountinfo` and `/proc/self/fd`), `/sys` (BTF is at
//!   `/sys/kernel/btf/vmlinux`), devtmpfs on `/dev` (Debian's kernels do not
//!   mount it by themselves for an initramfs), a tmpfs on `/tmp` (unless the
//!   binaries were built under /tmp and sit there), the cgroup2
//!   hierarchy on `/sys/fs/cgroup` (cgroup BPF programs attach to its
//!   directories) and bpffs on `/sys/fs/bpf` (pins).
//! - **The network.** Even `lo` starts down, and the tests send UDP to
//!   127.0.0.1. Setting IFF_UP (SIOCSIFFLAGS) makes the kernel add
//!   127.0.0.1/8 to it; init checks that it did (and assigns it if not), then
//!   sends itself a datagram to prove loopback delivery works.
//! - **An environment.** The kernel passes a bare one; init sets PATH, HOME,
//!   TMPDIR and RUST_BACKTRACE=1, which its children inherit.
//! - **Children.** Process 1 adopts every orphan, so it must reap them
//!   (`waitpid(-1)`) or they stay zombies. Every program it runs also needs a
//!   time limit: a hung test would otherwise hang the guest until the host's
//!   timeout, without a word about which test hung.
//! - **Never exiting.** If process 1 exits or dies, the kernel panics
//!   ("Attempted to kill init"). Init catches its own panics, and every path
//!   ends in a power-off: a byte written to qemu's isa-debug-exit port (qemu
//!   then exits with status `(byte << 1) | 1`), else `reboot(RB_POWER_OFF)`.
//!
//! # What it runs and reports
//!
//! `/vmtest/manifest`, written by run.sh, has one tab-separated line per
//! program, `KIND<TAB>LABEL<TAB>CWD<TAB>PATH`: KIND `test` for each test
//! executable cargo built, `rawbpf` for the rawbpf binary. PATH is the
//! absolute path on the build host: the tests find rawbpf through the
//! compiled-in `env!("CARGO_BIN_EXE_rawbpf")`, so everything sits at the same
//! path here. Each test runs with `--test-threads=1` in its package's
//! directory (CWD, as under cargo), then `rawbpf demo`, then `rawbpf
//! selftest` if `rawbpf help` mentions it. Their output goes through to the
//! console and libtest's `test result:` lines are counted.
//!
//! Lines starting with `RAWBPF-VMTEST-` are for the host: the kernel, one
//! line per program, a summary, and last `RAWBPF-VMTEST-RESULT: PASS` or
//! `RAWBPF-VMTEST-RESULT: FAIL <what failed>`.
//!
//! Kernel command line options (read from /proc/cmdline):
//! `vmtest.budget=SECS` for all programs together (default 200) and
//! `vmtest.program_timeout=SECS` for each one (default 150).

use std::ffi::CString;
use std::io::Write;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What run.sh packs next to the binaries.
const MANIFEST: &str = "/vmtest/manifest";
/// qemu's `-device isa-debug-exit,iobase=0xf4,iosize=0x04`.
const DEBUG_EXIT_PORT: u16 = 0xf4;
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// How long a program gets after SIGTERM before SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(5);

fn main() {
    let code = match std::panic::catch_unwind(run) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(_) => {
            say("RAWBPF-VMTEST-RESULT: FAIL init panicked");
            1
        }
    };
    power_off(code);
}

/// Sets up the guest, runs everything, prints the report; true if all passed.
fn run() -> bool {
    let started = Instant::now();
    let mut problems = setup();
    let options = Options::from_cmdline();
    let deadline = started + options.budget;

    let (release, version) = uname();
    say(&format!("RAWBPF-VMTEST-KERNEL: {release} {version}"));
    say(&format!("init: {}", machine_line()));
    match loopback() {
        Ok(how) => say(&format!("init: {how}")),
        Err(e) => problems.push(format!("loopback: {e}")),
    }
    for p in &problems {
        say(&format!("init: setup problem: {p}"));
    }

    let entries = match std::fs::read_to_string(MANIFEST) {
        Ok(text) => parse_manifest(&text),
        Err(e) => {
            problems.push(format!("read {MANIFEST}: {e}"));
            Vec::new()
        }
    };
    let tests: Vec<&Entry> = entries.iter().filter(|e| e.kind == "test").collect();
    let rawbpf = entries.iter().find(|e| e.kind == "rawbpf");
    if tests.is_empty() {
        problems.push(format!("no test executables in {MANIFEST}"));
    }

    let mut jobs: Vec<Job> = tests
        .iter()
        .map(|e| Job {
            label: e.label.clone(),
            path: e.path.clone(),
            cwd: e.cwd.clone(),
            args: vec!["--test-threads=1".into()],
            libtest: true,
        })
        .collect();
    match rawbpf {
        None => problems.push(format!("no rawbpf binary in {MANIFEST}")),
        Some(r) => {
            jobs.push(Job::rawbpf(r, "demo"));
            if rawbpf_has_selftest(r) {
                say("init: `rawbpf help` lists a selftest subcommand: running it");
                jobs.push(Job::rawbpf(r, "selftest"));
            } else {
                say("init: `rawbpf help` lists no selftest subcommand: not run");
            }
        }
    }

    let mut results = Vec::new();
    for job in &jobs {
        let name = job.name();
        let left = deadline.saturating_duration_since(Instant::now());
        let limit = left.min(options.program_timeout);
        if limit < Duration::from_secs(1) {
            say(&format!(
                "RAWBPF-VMTEST-DONE: {name}: NOT RUN (the {}s budget is spent)",
                options.budget.as_secs()
            ));
            results.push(JobResult {
                name,
                end: End::NotRun,
                seconds: 0.0,
                counts: Counts {
                    failed: 1,
                    ..Counts::default()
                },
            });
            continue;
        }
        say(&format!(
            "RAWBPF-VMTEST-RUN: {name} (limit {}s)",
            limit.as_secs()
        ));
        let out = run_program(&job.path, &job.args, &job.cwd, limit, true);
        let counts = job.counts(&out);
        let result = JobResult {
            name,
            end: out.end,
            seconds: out.seconds,
            counts,
        };
        say(&format!("RAWBPF-VMTEST-DONE: {}", result.describe()));
        results.push(result);
    }

    report(&results, &problems, started)
}

/// Prints the summary and the result line; true if everything passed.
fn report(results: &[JobResult], problems: &[String], started: Instant) -> bool {
    let mut total = Counts::default();
    let mut failed: Vec<String> = problems.iter().map(|p| format!("setup ({p})")).collect();
    say("RAWBPF-VMTEST-SUMMARY:");
    for r in results {
        total.add(&r.counts);
        let verdict = match r.end {
            End::Exited(0) => "ok",
            End::NotRun => "NOT RUN",
            _ => "FAILED",
        };
        say(&format!(
            "  {verdict:<7} {:>6.1}s  {:<28} {}",
            r.seconds,
            r.name,
            r.counts.text()
        ));
        if !r.ok() {
            failed.push(r.name.clone());
        }
    }
    say(&format!(
        "RAWBPF-VMTEST-TOTAL: programs={} programs_failed={} passed={} failed={} ignored={}",
        results.len(),
        results.iter().filter(|r| !r.ok()).count(),
        total.passed,
        total.failed,
        total.ignored
    ));
    say(&format!(
        "RAWBPF-VMTEST-TIME: {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    if failed.is_empty() {
        say("RAWBPF-VMTEST-RESULT: PASS");
        true
    } else {
        say(&format!("RAWBPF-VMTEST-RESULT: FAIL {}", failed.join(", ")));
        false
    }
}

/// The time limits, from the kernel command line.
struct Options {
    budget: Duration,
    program_timeout: Duration,
}

impl Options {
    fn from_cmdline() -> Options {
        let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
        let get = |key: &str, default: u64| {
            // The last one wins, so VMTEST_APPEND can override run.sh's.
            cmdline
                .split_whitespace()
                .rev()
                .find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
                .unwrap_or(default)
        };
        Options {
            budget: Duration::from_secs(get("vmtest.budget", 200)),
            program_timeout: Duration::from_secs(get("vmtest.program_timeout", 150)),
        }
    }
}

/// One line of the manifest.
struct Entry {
    kind: String,
    label: String,
    cwd: String,
    path: String,
}

fn parse_manifest(text: &str) -> Vec<Entry> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split('\t');
            let (kind, label, cwd, path) = (f.next()?, f.next()?, f.next()?, f.next()?);
            Some(Entry {
                kind: kind.into(),
                label: label.into(),
                cwd: cwd.into(),
                path: path.into(),
            })
        })
        .collect()
}

/// A program to run.
struct Job {
    label: String,
    path: String,
    cwd: String,
    args: Vec<String>,
    /// A libtest harness: counts come from its `test result:` lines.
    libtest: bool,
}

impl Job {
    fn rawbpf(entry: &Entry, subcommand: &str) -> Job {
        Job {
            label: "rawbpf".into(),
            path: entry.path.clone(),
            cwd: entry.cwd.clone(),
            args: vec![subcommand.into()],
            libtest: false,
        }
    }

    fn name(&self) -> String {
        if self.libtest {
            self.label.clone()
        } else {
            format!("{} {}", self.label, self.args.join(" "))
        }
    }

    /// Tests passed and failed. A program that failed counts at least one
    /// failure even if it printed no `test result:` line (a crash, a timeout);
    /// a program without libtest counts as one test.
    fn counts(&self, out: &Output) -> Counts {
        let ok = matches!(out.end, End::Exited(0));
        let mut c = if self.libtest {
            out.counts.clone()
        } else {
            Counts::default()
        };
        if !ok && c.failed == 0 {
            c.failed = 1;
        }
        if ok && !out.saw_result {
            c.passed += 1;
        }
        c
    }
}

#[derive(Clone, Default)]
struct Counts {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.ignored += other.ignored;
    }

    fn text(&self) -> String {
        format!(
            "{} passed, {} failed, {} ignored",
            self.passed, self.failed, self.ignored
        )
    }

    /// Adds the numbers of a libtest line after `test result: `, such as
    /// `ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; ...`.
    fn add_result_line(&mut self, rest: &str) {
        let words: Vec<&str> = rest
            .split([' ', ';', '.'])
            .filter(|w| !w.is_empty())
            .collect();
        for pair in words.windows(2) {
            let Ok(n) = pair[0].parse::<u64>() else {
                continue;
            };
            match pair[1] {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

/// How a program ended.
enum End {
    Exited(i32),
    Signaled(i32),
    TimedOut(u64),
    NotStarted(String),
    NotRun,
}

struct JobResult {
    name: String,
    end: End,
    seconds: f64,
    counts: Counts,
}

impl JobResult {
    fn ok(&self) -> bool {
        matches!(self.end, End::Exited(0))
    }

    fn describe(&self) -> String {
        let how = match &self.end {
            End::Exited(0) => "ok".to_string(),
            End::Exited(n) => format!("FAILED (exit status {n})"),
            End::Signaled(s) => format!("FAILED (killed by signal {s})"),
            End::TimedOut(limit) => format!("FAILED (timed out after {limit}s)"),
            End::NotStarted(e) => format!("FAILED (could not start: {e})"),
            End::NotRun => "NOT RUN".to_string(),
        };
        format!(
            "{}: {how}; {} in {:.1}s",
            self.name,
            self.counts.text(),
            self.seconds
        )
    }
}

/// What [`run_program`] saw.
struct Output {
    end: End,
    seconds: f64,
    counts: Counts,
    /// Whether a `test result:` line was seen.
    saw_result: bool,
    /// Everything the program printed (up to a limit).
    text: String,
}

/// Runs a program in its own process group with stdout and stderr on one
/// pipe that init reads: passed on to the console when `echo`, scanned for
/// libtest's result lines, and kept in [`Output::text`]. After `limit` the
/// group gets SIGTERM, then SIGKILL. Reaps every child that init has.
fn run_program(path: &str, args: &[String], cwd: &str, limit: Duration, echo: bool) -> Output {
    let start = Instant::now();
    let mut out = Output {
        end: End::NotRun,
        seconds: 0.0,
        counts: Counts::default(),
        saw_result: false,
        text: String::new(),
    };
    let cwd = if Path::new(cwd).is_dir() { cwd } else { "/" };
    let spawned = pipe().and_then(|(read, write)| {
        let mut cmd = Command::new(path);
        cmd.args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::from(write.try_clone()?))
            .stderr(Stdio::from(write))
            .process_group(0);
        // The Command (and with it init's copies of the write end) is
        // dropped here; the std Child is never waited on: reap() does that.
        let child = cmd.spawn()?;
        Ok((child.id() as libc::pid_t, read))
    });
    let (pid, read) = match spawned {
        Ok(x) => x,
        Err(e) => {
            out.end = End::NotStarted(e.to_string());
            return out;
        }
    };

    let mut lines = LineScanner::default();
    let mut status = None;
    let mut eof = false;
    let mut term_sent: Option<Instant> = None;
    loop {
        if eof {
            std::thread::sleep(Duration::from_millis(50));
        } else {
            let mut pfd = libc::pollfd {
                fd: read.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut pfd, 1, 100) };
            eof = drain(&read, echo, &mut lines);
        }
        reap(pid, &mut status);
        if let Some(st) = status {
            // Whatever it wrote before it exited is in the pipe now. A
            // process it left behind may keep the pipe open: do not wait
            // for end of file.
            if !eof {
                drain(&read, echo, &mut lines);
            }
            out.end = match term_sent {
                Some(_) => End::TimedOut(limit.as_secs()),
                None if libc::WIFEXITED(st) => End::Exited(libc::WEXITSTATUS(st)),
                None if libc::WIFSIGNALED(st) => End::Signaled(libc::WTERMSIG(st)),
                None => End::Exited(-1),
            };
            break;
        }
        match term_sent {
            None if start.elapsed() > limit => {
                say(&format!(
                    "\ninit: time limit of {}s reached: SIGTERM to the process group",
                    limit.as_secs()
                ));
                kill_group(pid, libc::SIGTERM);
                term_sent = Some(Instant::now());
            }
            Some(t) if t.elapsed() > KILL_GRACE => kill_group(pid, libc::SIGKILL),
            _ => {}
        }
    }
    lines.finish();
    out.seconds = start.elapsed().as_secs_f64();
    out.counts = lines.counts;
    out.saw_result = lines.saw_result;
    out.text = lines.text;
    kill_leftovers(pid, path);
    out
}

/// Reads what is in the (non-blocking) pipe; true at end of file.
fn drain(read: &OwnedFd, echo: bool, lines: &mut LineScanner) -> bool {
    let mut buf = [0u8; 16384];
    loop {
        // SAFETY: reading into a buffer we own, at most its length.
        let n = unsafe { libc::read(read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            let chunk = &buf[..n as usize];
            if echo {
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(chunk);
                let _ = stdout.flush();
            }
            lines.feed(chunk);
            continue;
        }
        if n == 0 {
            return true;
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => return false,
            _ => return true,
        }
    }
}

/// Splits a program's output into lines: counts libtest results, keeps text.
#[derive(Default)]
struct LineScanner {
    line: Vec<u8>,
    counts: Counts,
    saw_result: bool,
    text: String,
}

impl LineScanner {
    const MAX_LINE: usize = 4096;
    const MAX_TEXT: usize = 1 << 20;

    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                self.end_line();
            } else if self.line.len() < Self::MAX_LINE {
                self.line.push(b);
            }
        }
    }

    fn finish(&mut self) {
        if !self.line.is_empty() {
            self.end_line();
        }
    }

    fn end_line(&mut self) {
        let line = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        if let Some((_, rest)) = line.split_once("test result: ") {
            self.saw_result = true;
            self.counts.add_result_line(rest);
        }
        if self.text.len() + line.len() < Self::MAX_TEXT {
            self.text.push_str(&line);
            self.text.push('\n');
        }
    }
}

/// A pipe, both ends close-on-exec, the read end non-blocking.
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fds, which we then own.
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let (read, write) = (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]));
        // The child's stdout must block when the pipe is full, not fail.
        let flags = libc::fcntl(fds[1], libc::F_GETFL);
        libc::fcntl(fds[1], libc::F_SETFL, flags & !libc::O_NONBLOCK);
        Ok((read, write))
    }
}

/// Reaps every exited child; records `pid`'s wait status.
fn reap(pid: libc::pid_t, status: &mut Option<libc::c_int>) {
    loop {
        let mut st = 0;
        // SAFETY: waitpid with a valid out-pointer.
        let r = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
        if r <= 0 {
            return;
        }
        if r == pid {
            *status = Some(st);
        }
    }
}

fn kill_group(pgid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) on a process group init created.
    unsafe { libc::kill(-pgid, signal) };
}

/// Processes a program left in its group get a second to go, then SIGKILL.
fn kill_leftovers(pgid: libc::pid_t, path: &str) {
    let alive = || unsafe { libc::kill(-pgid, 0) } == 0;
    let until = Instant::now() + Duration::from_secs(1);
    while alive() && Instant::now() < until {
        reap(0, &mut None);
        std::thread::sleep(Duration::from_millis(20));
    }
    if alive() {
        say(&format!(
            "init: {path} left processes behind: SIGKILL to its process group"
        ));
        kill_group(pgid, libc::SIGKILL);
        std::thread::sleep(Duration::from_millis(100));
    }
    reap(0, &mut None);
}

/// Whether `rawbpf help` (or `--help`) mentions a selftest subcommand.
fn rawbpf_has_selftest(rawbpf: &Entry) -> bool {
    ["help", "--help"].iter().any(|arg| {
        let out = run_program(
            &rawbpf.path,
            &[arg.to_string()],
            &rawbpf.cwd,
            Duration::from_secs(30),
            false,
        );
        out.text.contains("selftest")
    })
}

/// Mounts everything the tests need; returns what failed.
fn setup() -> Vec<String> {
    let mut problems = Vec::new();
    // devtmpfs first: it has /dev/console, the only way to print anything.
    let dev = mount("devtmpfs", "/dev", "mode=0755");
    console_on_stdio();
    problems.extend(dev.err());
    // A build under /tmp (a git worktree there, say) puts the binaries in
    // the initramfs's /tmp: a tmpfs on top would hide them. The initramfs
    // root is itself a tmpfs, so /tmp is then just left as it is.
    let tmp_holds_binaries = std::fs::read_dir("/tmp").is_ok_and(|mut d| d.next().is_some());
    for (fstype, target, data) in [
        ("proc", "/proc", ""),
        ("sysfs", "/sys", ""),
        ("tmpfs", "/tmp", "mode=1777"),
        ("cgroup2", "/sys/fs/cgroup", ""),
        ("bpf", "/sys/fs/bpf", "mode=0700"),
    ] {
        if target == "/tmp" && tmp_holds_binaries {
            say("init: no tmpfs on /tmp: the binaries were built under /tmp, and it would hide them");
            continue;
        }
        problems.extend(mount(fstype, target, data).err());
    }
    std::env::set_var("PATH", PATH);
    std::env::set_var("HOME", "/root");
    std::env::set_var("TMPDIR", "/tmp");
    std::env::set_var("RUST_BACKTRACE", "1");
    let _ = std::fs::create_dir_all("/root");
    problems
}

fn mount(fstype: &str, target: &str, data: &str) -> Result<(), String> {
    // sysfs already has /sys/fs/cgroup and /sys/fs/bpf; elsewhere the
    // initramfs may lack the directory.
    let _ = std::fs::create_dir_all(target);
    let c = |s: &str| CString::new(s).map_err(|e| e.to_string());
    let (fs, dir, data) = (c(fstype)?, c(target)?, c(data)?);
    // SAFETY: NUL-terminated strings that outlive the call.
    let r = unsafe {
        libc::mount(
            fs.as_ptr(),
            dir.as_ptr(),
            fs.as_ptr(),
            0,
            data.as_ptr().cast(),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(format!(
            "mount -t {fstype} on {target}: {}",
            std::io::Error::last_os_error()
        ))
    }
}

/// Opens /dev/console on fds 0, 1 and 2 (or /dev/null if there is none, so
/// that no later file lands on a standard fd).
fn console_on_stdio() {
    // SAFETY: open/dup2/close on fds this process owns.
    unsafe {
        let mut fd = libc::open(c"/dev/console".as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        if fd < 0 {
            fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        }
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

/// Brings lo up and checks that 127.0.0.1 works; says how it went.
fn loopback() -> Result<String, String> {
    let err = |what: &str| format!("{what}: {}", std::io::Error::last_os_error());
    // SAFETY: a fresh socket, owned from here on.
    let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if sock < 0 {
        return Err(err("socket"));
    }
    // SAFETY: sock is a valid fd nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(sock) };
    // SAFETY: ifreq is plain data; all zeroes is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY (these ioctls): the request matches the ifreq argument.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut req) } != 0 {
        return Err(err("SIOCGIFFLAGS lo"));
    }
    // SAFETY: SIOCGIFFLAGS filled ifru_flags.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &req) } != 0 {
        return Err(err("SIOCSIFFLAGS lo IFF_UP"));
    }

    let loopback = Ipv4Addr::LOCALHOST;
    let how = match lo_address(&sock, &mut req) {
        Some(a) if a == loopback => "127.0.0.1 added by the kernel",
        _ => {
            // Not what Linux does, but then the tests would fail obscurely.
            set_lo_address(&sock, &mut req, loopback)
                .map_err(|e| format!("SIOCSIFADDR lo 127.0.0.1: {e}"))?;
            "127.0.0.1 assigned by init (the kernel did not add it)"
        }
    };

    let udp = UdpSocket::bind((loopback, 0)).map_err(|e| format!("bind 127.0.0.1: {e}"))?;
    udp.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let me = udp.local_addr().map_err(|e| e.to_string())?;
    udp.send_to(b"rawbpf-vmtest", me)
        .map_err(|e| format!("UDP send to {me}: {e}"))?;
    let mut buf = [0u8; 32];
    let (n, from) = udp
        .recv_from(&mut buf)
        .map_err(|e| format!("UDP receive on {me}: {e}"))?;
    if &buf[..n] != b"rawbpf-vmtest" || from != me {
        return Err(format!("UDP on {me}: got {n} bytes from {from}"));
    }
    Ok(format!("lo is up, {how}; a UDP datagram to {me} arrived"))
}

fn lo_address(sock: &OwnedFd, req: &mut libc::ifreq) -> Option<Ipv4Addr> {
    // SAFETY: SIOCGIFADDR fills ifru_addr, an AF_INET sockaddr_in for lo.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFADDR as _, &mut *req) != 0 {
            return None;
        }
        let sin: libc::sockaddr_in =
            std::ptr::read_unaligned((&req.ifr_ifru.ifru_addr as *const libc::sockaddr).cast());
        Some(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
    }
}

fn set_lo_address(sock: &OwnedFd, req: &mut libc::ifreq, addr: Ipv4Addr) -> std::io::Result<()> {
    // SAFETY: a sockaddr_in written over the sockaddr of the same size.
    unsafe {
        let mut sin: libc::sockaddr_in = std::mem::zeroed();
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_addr.s_addr = u32::from(addr).to_be();
        std::ptr::write_unaligned(
            (&mut req.ifr_ifru.ifru_addr as *mut libc::sockaddr).cast(),
            sin,
        );
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFADDR as _, &*req) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The kernel's release and version strings.
fn uname() -> (String, String) {
    // SAFETY: utsname is plain data; uname fills it with NUL-terminated strings.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return ("?".into(), "?".into());
        }
        let s = |f: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(f.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        (s(&u.release), s(&u.version))
    }
}

/// CPUs and memory the guest sees.
fn machine_line() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0);
    format!(
        "{cpus} CPUs (online {}), {} MiB of memory",
        online.trim(),
        mem_kib / 1024
    )
}

/// One line on the console, flushed: the host reads it as it comes.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Waits for the console to send everything, then reports `code` through
/// qemu's isa-debug-exit device; powers off if that device is missing.
/// Never returns: process 1 must not exit.
fn power_off(code: u8) -> ! {
    let _ = std::io::stdout().flush();
    // SAFETY: sync, tcdrain on our console fd, ioperm/outb on the port qemu
    // provides for exactly this, reboot(2); none touches Rust-owned memory.
    unsafe {
        libc::sync();
        libc::tcdrain(1);
        #[cfg(target_arch = "x86_64")]
        if libc::ioperm(libc::c_ulong::from(DEBUG_EXIT_PORT), 1, 1) == 0 {
            std::arch::asm!("out dx, al", in("dx") DEBUG_EXIT_PORT, in("al") code, options(nomem, nostack, preserves_flags));
        }
        libc::reboot(libc::RB_POWER_OFF);
    }
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_are_counted() {
        let mut s = LineScanner::default();
        s.feed(b"running 3 tests\ntest a ... ok\n");
        s.feed(b"test result: FAILED. 2 passed; 1 failed; 4 ignored; 0 measured; 0 filtered out; finished in 0.01s\n");
        s.feed(b"test result: ok. 5 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.50s");
        s.finish();
        assert!(s.saw_result);
        assert_eq!(
            (s.counts.passed, s.counts.failed, s.counts.ignored),
            (7, 1, 4)
        );
    }

    #[test]
    fn manifest_lines() {
        let m = parse_manifest(
            "test\ttest kernel\t/w\t/w/t/k-1\nrawbpf\tbin rawbpf\t/w\t/w/t/rawbpf\nbad line\n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(
            (m[0].kind.as_str(), m[0].path.as_str()),
            ("test", "/w/t/k-1")
        );
        assert_eq!(m[1].label, "bin rawbpf");
    }

    #[test]
    fn a_failed_program_counts_a_failure() {
        let job = Job {
            label: "t".into(),
            path: String::new(),
            cwd: String::new(),
            args: vec![],
            libtest: true,
        };
        let out = Output {
            end: End::Signaled(11),
            seconds: 0.0,
            counts: Counts::default(),
            saw_result: false,
            text: String::new(),
        };
        assert_eq!(job.counts(&out).failed, 1);
    }
}
