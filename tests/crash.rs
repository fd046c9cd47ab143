//! Whatever stops `run` or `detach`, what rawbpf attached stays within
//! `detach`'s reach: `run --pin` killed (SIGKILL) at every system call that
//! makes, attaches or records something (strace's fault injection) and at
//! random moments; failures injected at every bpf() call of `run` and of
//! `detach`; `detach` under every RLIMIT_NOFILE from 3 to 20; two `run`s,
//! or a `run` and a `detach`, on one pin directory at once. After each,
//! the kernel is asked: nothing of the run is attached to the test's
//! cgroup (BPF_PROG_QUERY), its programs are gone (by id), and nothing is
//! left in bpffs.
//!
//! strace comes from `make test` (it installs it when missing); in the
//! `make vmtest` guests, which have none, the injection tests say they do
//! not apply and the others run.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{attached, gone_soon, rawbpf_bin, require_root, test_cgroup, text, ObjectFile};
use rawbpf::attach::cgroup::Cgroup;
use rawbpf::sys::{self, IdKind};

const MULTI: &[u8] = include_bytes!("../bpf/multi.bpf.o");

/// A pin directory name no one uses; whatever a failed test leaves there is
/// detached, then removed, when the guard goes.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        Dir(common::PinDir::new(tag).0.clone())
    }

    fn s(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        if self.0.exists() {
            let _ = Command::new(rawbpf_bin())
                .args(["detach", "--pin", self.s()])
                .output();
        }
        drop(common::PinDir(self.0.clone()));
    }
}

/// A way to run `rawbpf run`: the object file and its extra arguments.
struct Job {
    name: &'static str,
    object: ObjectFile,
    args: Vec<&'static str>,
}

fn jobs() -> Vec<Job> {
    let seed = common::policy_object();
    vec![
        Job {
            name: "multi link",
            object: ObjectFile::new(MULTI),
            args: vec![],
        },
        Job {
            name: "multi legacy",
            object: ObjectFile::new(MULTI),
            args: vec!["--legacy-attach"],
        },
        Job {
            name: "seed link",
            object: ObjectFile::new(seed),
            args: vec![],
        },
        Job {
            name: "seed legacy",
            object: ObjectFile::new(seed),
            args: vec!["--legacy-attach"],
        },
        Job {
            name: "multi no-attach",
            object: ObjectFile::new(MULTI),
            args: vec!["--no-attach"],
        },
    ]
}

impl Job {
    /// `rawbpf run OBJECT --cgroup CG --pin DIR ARGS...`, as arguments.
    fn run_args<'a>(&'a self, cg: &'a Cgroup, dir: &'a Dir) -> Vec<&'a str> {
        let mut args = vec!["run", self.object.path(), "--pin", dir.s()];
        if !self.args.contains(&"--no-attach") {
            args.extend(["--cgroup", cg.path().to_str().unwrap()]);
        }
        args.extend(&self.args);
        args
    }
}

/// The program ids of the run pinned in `dir`: those its record names and
/// those its pins hold.
fn recorded_programs(dir: &Path) -> Vec<u32> {
    // The record names the programs of legacy attachments by id; the
    // programs of links and of program pins are found through the pins.
    let mut ids: Vec<u32> = match rawbpf::pin::read_record(dir) {
        Ok((record, _)) => record
            .pins
            .iter()
            .filter_map(|p| p.prog.map(|p| p.id))
            .collect(),
        Err(_) => Vec::new(),
    };
    if let Ok(listing) = rawbpf::show::pins(dir) {
        for pin in listing.pins {
            match (pin.kind, pin.link) {
                (rawbpf::show::PinKind::Prog, _) => ids.push(pin.id),
                (rawbpf::show::PinKind::Link, Some((prog, _))) => ids.push(prog),
                _ => {}
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Runs `detach --pin DIR` (when DIR is there) and checks that nothing of
/// the run is left: attached, loaded (the ids its record named) or in
/// bpffs. `case` names the case in messages.
fn detach_and_check(cg: &Cgroup, dir: &Dir, case: &str) {
    let ids = recorded_programs(&dir.0);
    if std::fs::symlink_metadata(&dir.0).is_ok() {
        let o = rawbpf_cmd(&["detach", "--pin", dir.s()]).output().unwrap();
        assert!(o.status.success(), "{case}: detach: {}", text(&o));
    }
    check_clean(cg, dir, &ids, case);
}

/// Nothing of the run is attached to `cg`, its programs `ids` are gone,
/// and `dir` is not there.
fn check_clean(cg: &Cgroup, dir: &Dir, ids: &[u32], case: &str) {
    assert!(
        attached(cg).is_empty(),
        "{case}: left attached {:?}",
        attached(cg)
    );
    assert!(
        std::fs::symlink_metadata(&dir.0).is_err(),
        "{case}: {} is left: {:?}",
        dir.s(),
        std::fs::read_dir(&dir.0).map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
    );
    for &id in ids {
        assert!(gone_soon(IdKind::Prog, id), "{case}: program {id} is left");
    }
}

fn rawbpf_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(rawbpf_bin());
    cmd.args(args).stdin(Stdio::null());
    cmd
}

/// strace's path, or None in a guest of `make vmtest` (which has none:
/// the caller says the test does not apply). Elsewhere it must be there:
/// `make test` installs it.
///
/// strace counts a `when=N` per thread, and rawbpf loads and pins from one
/// thread per allowed CPU: so this test thread, and the processes it
/// starts, are put on one CPU, where rawbpf makes every call from its main
/// thread and N counts them all. (Kills at random moments cover the
/// threads.)
fn strace() -> Option<&'static str> {
    let cpus = sys::CpuSet::of_this_thread().unwrap().cpus();
    sys::pin_thread_to_cpu(cpus[0]).unwrap();
    for path in ["/usr/bin/strace", "/bin/strace"] {
        if Path::new(path).exists() {
            return Some(path);
        }
    }
    assert!(
        Path::new("/vmtest").exists(),
        "strace is missing: `make test` installs it (apt-get install strace)"
    );
    None
}

fn not_applicable(test: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "NOT APPLICABLE: {test}: needs strace, which this guest does not have"
    );
}

/// `strace -f` around `args`, injecting `inject` (e.g.
/// `bpf:signal=SIGKILL:when=3`).
fn under_strace(strace: &str, inject: &str, args: &[&str]) -> Output {
    Command::new(strace)
        .args(["-f", "-qq", "-o", "/dev/null", "-e"])
        .arg(format!("inject={inject}"))
        .arg(rawbpf_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run strace")
}

/// How often `rawbpf ARGS` calls each of `syscalls`, from one traced run.
fn count_calls(strace: &str, syscalls: &[&str], args: &[&str]) -> Vec<usize> {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let log = std::env::temp_dir().join(format!("rawbpf-crash-{}-{n}.strace", std::process::id()));
    let o = Command::new(strace)
        .args(["-f", "-qq", "-o"])
        .arg(&log)
        .arg("-e")
        .arg(format!("trace={}", syscalls.join(",")))
        .arg(rawbpf_bin())
        .args(args)
        .output()
        .expect("run strace");
    assert!(o.status.success(), "{}", text(&o));
    let trace = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    syscalls
        .iter()
        .map(|s| {
            let call = format!(" {s}(");
            trace.lines().filter(|l| l.contains(&call)).count()
        })
        .collect()
}

/// The system calls of `run` that make, attach or record something that
/// outlives it: every bpf() call, the record's symlinks, the directory and
/// cgroup it makes, its lock.
const RUN_CALLS: &[&str] = &["bpf", "symlink", "mkdir", "flock"];

/// `run --pin` killed by SIGKILL at the entry of each of its calls that
/// make, attach or record something (so after every one before it), for
/// each job; then `detach`, and nothing is left.
#[test]
fn run_killed_at_every_call_leaves_nothing_detach_cannot_undo() {
    require_root();
    let Some(strace) = strace() else {
        return not_applicable("run_killed_at_every_call_leaves_nothing_detach_cannot_undo");
    };
    let cg = test_cgroup();
    let start = Instant::now();
    let mut cases = 0;
    for job in jobs() {
        let probe = Dir::new("count");
        let counts = count_calls(strace, RUN_CALLS, &job.run_args(&cg, &probe));
        detach_and_check(&cg, &probe, job.name);
        for (syscall, &count) in RUN_CALLS.iter().zip(&counts) {
            for n in 1..=count {
                let dir = Dir::new("kill");
                let inject = format!("{syscall}:signal=SIGKILL:when={n}");
                let o = under_strace(strace, &inject, &job.run_args(&cg, &dir));
                let case = format!("{}: SIGKILL at {syscall} call {n} of {count}", job.name);
                assert!(!o.status.success(), "{case}: not killed: {}", text(&o));
                detach_and_check(&cg, &dir, &case);
                cases += 1;
            }
        }
    }
    eprintln!(
        "run killed at {cases} calls, all undone by detach, in {:?}",
        start.elapsed()
    );
}

/// `detach` killed (SIGKILL) at each of its calls that detach, unpin or
/// remove something: another `detach` finishes the job.
#[test]
fn detach_killed_at_every_call_is_finished_by_another() {
    require_root();
    let Some(strace) = strace() else {
        return not_applicable("detach_killed_at_every_call_is_finished_by_another");
    };
    let cg = test_cgroup();
    let calls = ["bpf", "unlink", "rmdir", "flock"];
    let mut cases = 0;
    for job in jobs() {
        let probe = Dir::new("count");
        let o = rawbpf_cmd(&job.run_args(&cg, &probe)).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let counts = count_calls(strace, &calls, &["detach", "--pin", probe.s()]);
        check_clean(&cg, &probe, &[], job.name);
        for (syscall, &count) in calls.iter().zip(&counts) {
            for n in 1..=count {
                let dir = Dir::new("dkill");
                let o = rawbpf_cmd(&job.run_args(&cg, &dir)).output().unwrap();
                assert!(o.status.success(), "{}", text(&o));
                let ids = recorded_programs(&dir.0);
                let inject = format!("{syscall}:signal=SIGKILL:when={n}");
                let o = under_strace(strace, &inject, &["detach", "--pin", dir.s()]);
                let case = format!(
                    "{}: detach killed at {syscall} call {n} of {count}",
                    job.name
                );
                assert!(!o.status.success(), "{case}: not killed: {}", text(&o));
                detach_and_check(&cg, &dir, &case);
                check_clean(&cg, &dir, &ids, &case);
                cases += 1;
            }
        }
    }
    eprintln!("detach killed at {cases} calls, all finished by another detach");
}

/// `run --pin` killed at random moments (no strace: the timing is the
/// run's own), for each job; then `detach`, and nothing is left.
#[test]
fn run_killed_at_random_moments_leaves_nothing_detach_cannot_undo() {
    require_root();
    let cg = test_cgroup();
    // A fixed sequence, so that a failure can be run again.
    let mut seed = 0x2545_f491_u32;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    for job in jobs() {
        for round in 0..12 {
            let dir = Dir::new("random");
            let mut child = rawbpf_cmd(&job.run_args(&cg, &dir))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let delay = Duration::from_micros(u64::from(next() % 40_000));
            std::thread::sleep(delay);
            let _ = sys::send_signal(child.id(), libc::SIGKILL);
            let status = child.wait().unwrap();
            let case = format!(
                "{}: round {round}, SIGKILL after {delay:?} ({status})",
                job.name
            );
            detach_and_check(&cg, &dir, &case);
        }
    }
}

/// A failure (not a kill) injected at each bpf() call or record symlink of
/// `run`: it undoes everything itself, no `detach` needed.
#[test]
fn run_failing_at_every_call_undoes_everything_itself() {
    require_root();
    let Some(strace) = strace() else {
        return not_applicable("run_failing_at_every_call_undoes_everything_itself");
    };
    let cg = test_cgroup();
    for job in jobs().into_iter().take(2) {
        let probe = Dir::new("count");
        let calls = ["bpf", "symlink"];
        let counts = count_calls(strace, &calls, &job.run_args(&cg, &probe));
        detach_and_check(&cg, &probe, job.name);
        for (syscall, &count) in calls.iter().zip(&counts) {
            for n in 1..=count {
                let dir = Dir::new("fail");
                let inject = format!("{syscall}:error=ENOMEM:when={n}");
                let o = under_strace(strace, &inject, &job.run_args(&cg, &dir));
                let case = format!("{}: ENOMEM at {syscall} call {n} of {count}", job.name);
                assert_eq!(o.status.code(), Some(1), "{case}: {}", text(&o));
                assert!(text(&o).contains("ENOMEM"), "{case}: {}", text(&o));
                check_clean(&cg, &dir, &[], &case);
            }
        }
    }
}

/// `detach` failing at each of its bpf() calls and unpins (EINTR, ENOMEM,
/// EIO injected): it exits 0 only when nothing is left; otherwise it says
/// why, keeps the record, and another `detach` finishes the job.
#[test]
fn detach_failing_at_every_call_keeps_its_record_until_done() {
    require_root();
    let Some(strace) = strace() else {
        return not_applicable("detach_failing_at_every_call_keeps_its_record_until_done");
    };
    let cg = test_cgroup();
    let mut cases = 0;
    for job in jobs().into_iter().take(2) {
        let probe = Dir::new("count");
        let o = rawbpf_cmd(&job.run_args(&cg, &probe)).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let calls = ["bpf", "unlink"];
        let counts = count_calls(strace, &calls, &["detach", "--pin", probe.s()]);
        check_clean(&cg, &probe, &[], job.name);
        for (syscall, &count) in calls.iter().zip(&counts) {
            for (n, errno) in (1..=count).flat_map(|n| [(n, "EINTR"), (n, "ENOMEM")]) {
                let dir = Dir::new("detach");
                let o = rawbpf_cmd(&job.run_args(&cg, &dir)).output().unwrap();
                assert!(o.status.success(), "{}", text(&o));
                let ids = recorded_programs(&dir.0);
                let inject = format!("{syscall}:error={errno}:when={n}");
                let o = under_strace(strace, &inject, &["detach", "--pin", dir.s()]);
                let case = format!("{}: {errno} at detach's {syscall} call {n}", job.name);
                match o.status.code() {
                    Some(0) => check_clean(&cg, &dir, &ids, &case),
                    Some(1) => {
                        assert!(text(&o).contains(errno), "{case}: {}", text(&o));
                        detach_and_check(&cg, &dir, &case);
                    }
                    _ => panic!("{case}: {}", text(&o)),
                }
                cases += 1;
            }
        }
    }
    assert!(cases > 20, "{cases}");
}

/// `detach` with RLIMIT_NOFILE at every value from 3 to 20: exit 0 only
/// when nothing is left; otherwise the cause is named (the open-file
/// limit), the record kept, and a `detach` without the limit finishes.
#[test]
fn detach_under_every_open_file_limit_keeps_its_record_until_done() {
    require_root();
    let cg = test_cgroup();
    let jobs = jobs();
    let (mut failed, mut done) = (0, 0);
    for limit in 3..=20u64 {
        let job = &jobs[limit as usize % 2];
        let dir = Dir::new("nofile");
        let o = rawbpf_cmd(&job.run_args(&cg, &dir)).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let ids = recorded_programs(&dir.0);
        assert!(!ids.is_empty());
        let mut cmd = rawbpf_cmd(&["detach", "--pin", dir.s()]);
        common::os::limit_open_files_on_exec(&mut cmd, limit);
        let o = cmd.output().unwrap();
        let case = format!("{}: detach with RLIMIT_NOFILE {limit}", job.name);
        if could_not_start(&o) {
            assert!(dir.0.join("rawbpf_run").is_symlink(), "{case}");
            detach_and_check(&cg, &dir, &case);
            continue;
        }
        match o.status.code() {
            Some(0) => {
                check_clean(&cg, &dir, &ids, &case);
                done += 1;
            }
            Some(1) => {
                assert!(text(&o).contains("EMFILE"), "{case}: {}", text(&o));
                assert!(text(&o).contains("RLIMIT_NOFILE"), "{case}: {}", text(&o));
                assert!(
                    dir.0.join("rawbpf_run").is_symlink() || !attached(&cg).is_empty(),
                    "{case}: failed, yet nothing is left to retry: {}",
                    text(&o)
                );
                detach_and_check(&cg, &dir, &case);
                failed += 1;
            }
            _ => panic!("{case}: {}", text(&o)),
        }
    }
    assert!(failed > 0 && done > 0, "failed {failed}, done {done}");
}

/// Whether the binary did not even start: a dynamically linked build needs
/// an fd to open its shared libraries, which RLIMIT_NOFILE 3 leaves none for.
fn could_not_start(o: &Output) -> bool {
    o.status.code() == Some(127)
        && String::from_utf8_lossy(&o.stderr).contains("error while loading shared libraries")
}

/// `run` with RLIMIT_NOFILE at every value from 3 to 20: it succeeds, or
/// fails naming the limit, without a verifier log, and leaves nothing.
#[test]
fn run_under_every_open_file_limit_names_the_limit() {
    require_root();
    let cg = test_cgroup();
    let jobs = jobs();
    for limit in 3..=20u64 {
        let job = &jobs[limit as usize % 4];
        let dir = Dir::new("runfile");
        let mut cmd = rawbpf_cmd(&job.run_args(&cg, &dir));
        common::os::limit_open_files_on_exec(&mut cmd, limit);
        let o = cmd.output().unwrap();
        let case = format!("{}: run with RLIMIT_NOFILE {limit}", job.name);
        if could_not_start(&o) {
            check_clean(&cg, &dir, &[], &case);
        } else if o.status.code() == Some(1) {
            let t = text(&o);
            assert!(t.contains("RLIMIT_NOFILE is"), "{case}: {t}");
            assert!(
                !t.contains("kernel log") && !t.contains("rejected"),
                "{case}: {t}"
            );
            check_clean(&cg, &dir, &[], &case);
        } else {
            assert!(o.status.success(), "{case}: {}", text(&o));
            detach_and_check(&cg, &dir, &case);
        }
    }
}

/// Two `run`s on one new pin directory at once, many rounds: one wins,
/// the other fails saying why, and only the winner's programs are attached;
/// then `run` against `detach`: whatever the order, a `detach` at the end
/// leaves nothing.
#[test]
fn racing_runs_and_detaches_on_one_directory() {
    require_root();
    let cg = test_cgroup();
    let job = &jobs()[0];
    let (mut busy, mut exists) = (0, 0);
    for round in 0..40 {
        let dir = Dir::new("race");
        let spawn = |args: &[&str]| {
            rawbpf_cmd(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let a = spawn(&job.run_args(&cg, &dir));
        let b = if round % 2 == 0 {
            spawn(&job.run_args(&cg, &dir))
        } else {
            spawn(&["detach", "--pin", dir.s()])
        };
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let case = format!("round {round}: {}\n---\n{}", text(&a), text(&b));
        if round % 2 == 0 {
            assert!(
                a.status.success() != b.status.success(),
                "exactly one run wins: {case}"
            );
            let loser = if a.status.success() { &b } else { &a };
            let why = text(loser);
            busy += usize::from(why.contains("is in use"));
            exists += usize::from(why.contains("exists already"));
            assert!(
                why.contains("is in use") || why.contains("exists already"),
                "{case}"
            );
            assert_eq!(attached(&cg).len(), 2, "only the winner's: {case}");
        } else {
            assert!(a.status.success(), "{case}");
        }
        detach_and_check(&cg, &dir, &case);
    }
    eprintln!("racing runs: {busy} lost the lock, {exists} found the winner's record");
}

/// `run --no-attach --pin DIR`: every program pinned as DIR/prog_NAME and
/// none attached; a pinned program can be attached by its path (as
/// systemd's BPFProgram= does); `detach` removes the pins.
#[test]
fn no_attach_pins_programs_another_loader_attaches_by_path() {
    require_root();
    let cg = test_cgroup();
    let multi = ObjectFile::new(MULTI);
    let dir = Dir::new("noattach");
    let o = rawbpf_cmd(&["run", multi.path(), "--no-attach", "--pin", dir.s()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(attached(&cg).is_empty());
    let progs = [
        "count_ingress",
        "count_egress",
        "count_socket",
        "count_tc",
        "count_xdp",
    ];
    for p in progs {
        assert!(
            dir.0.join(format!("prog_{p}")).is_file(),
            "{p}: {}",
            text(&o)
        );
    }
    assert!(!dir.0.join("link_count_egress").exists());
    let egress = rawbpf::uapi::attach_type::CGROUP_INET_EGRESS;
    let path = std::ffi::CString::new(dir.0.join("prog_count_egress").to_str().unwrap()).unwrap();
    let prog = sys::obj_get(&path, sys::ObjGetFlags::empty()).unwrap();
    let (info, _) = sys::prog_info(std::os::fd::AsFd::as_fd(&prog)).unwrap();
    let link = sys::link_create(
        std::os::fd::AsFd::as_fd(&prog),
        sys::LinkTarget::Fd(cg.fd()),
        egress,
    )
    .unwrap();
    assert_eq!(cg.query(egress).unwrap().1, [info.id]);
    drop(link);
    let start = Instant::now();
    while !attached(&cg).is_empty() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(prog);
    // A usage mistake is refused before anything is loaded.
    let o = rawbpf_cmd(&["run", multi.path(), "--no-attach"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    detach_and_check(&cg, &dir, "no-attach");
    assert!(gone_soon(IdKind::Prog, info.id));
}

/// The seed calls bpf_trace_printk, which the kernel offers only with
/// CAP_PERFMON (or CAP_SYS_ADMIN): without them the error names
/// CAP_PERFMON, not the program type. Without CAP_BPF the BTF load is
/// refused, and the error names CAP_BPF.
#[test]
fn a_missing_capability_is_named() {
    require_root();
    if common::not_applicable_without_timers("a_missing_capability_is_named", rawbpf::SEED_OBJECT) {
        return;
    }
    let cg = test_cgroup();
    // CAP_PERFMON 38, CAP_SYS_ADMIN 21, CAP_BPF 39.
    for (drop, names) in [(&[38, 21][..], "CAP_PERFMON"), (&[39, 21][..], "CAP_BPF")] {
        let dir = Dir::new("caps");
        let mut cmd = rawbpf_cmd(&[
            "run",
            "--cgroup",
            cg.path().to_str().unwrap(),
            "--pin",
            dir.s(),
        ]);
        common::os::drop_capabilities_on_exec(&mut cmd, drop);
        let o = cmd.output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let t = text(&o);
        assert!(
            t.contains(&format!("lacks {names}")) || t.contains(&format!("needs {names}")),
            "{t}"
        );
        assert!(!t.contains("not available to this program type"), "{t}");
        check_clean(&cg, &dir, &[], names);
    }
}
