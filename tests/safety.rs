//! What rawbpf promises, checked against the kernel: it never acts on paths
//! outside a pin directory it made, a failure or a stop signal leaves
//! nothing attached or loaded, and detach finds its programs without help.
//!
//! Path tests run in a private mount namespace (the test binary re-runs
//! itself in one) on a fresh bpffs and tmpfs; the real
//! /sys/fs/bpf is unmounted there first, so nothing here can reach it.

mod common;

use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{attached, gone_soon, mounts, rawbpf_bin, require_root, test_cgroup, text};
use rawbpf::attach::cgroup::{self, AttachMode, Cgroup};
use rawbpf::sys::{self, AttachFlags, IdKind};

/// A test object written to a file for the rawbpf binary (the objects are
/// embedded: the VM has no checkout); removed on drop.
struct TempObject(PathBuf);

impl TempObject {
    fn new(name: &str, bytes: &[u8]) -> TempObject {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("rawbpf-safety-{}-{n}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        TempObject(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempObject {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const MULTI: &[u8] = include_bytes!("../bpf/multi.bpf.o");
const SLOW: &[u8] = include_bytes!("../bpf/slow_verify.bpf.o");
const SYSCALL_ONLY: &[u8] = include_bytes!("../bpf/timer_cases.bpf.o");
const MAP_IN_MAP: &[u8] = include_bytes!("../bpf/map_in_map.bpf.o");
const BY_NAME: &[u8] = include_bytes!("../bpf/pin_by_name.bpf.o");
const EGRESS: u32 = rawbpf::uapi::attach_type::CGROUP_INET_EGRESS;

fn rawbpf(args: &[&str]) -> Output {
    Command::new(rawbpf_bin())
        .args(args)
        .output()
        .expect("run rawbpf")
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("rawbpf did not exit within {limit:?} of the signal");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits (bounded) until process `pid` catches `sig`: rawbpf has installed
/// its stop handlers (SigCgt in /proc/PID/status).
fn wait_for_handlers(pid: u32, sig: i32) {
    let start = Instant::now();
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .unwrap_or(0);
        if caught & (1 << (sig - 1)) != 0 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "rawbpf never caught signal {sig}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ------------------------------------------------------------ arguments

#[test]
fn object_must_be_a_regular_file_of_bounded_size() {
    let start = Instant::now();
    let o = rawbpf(&["run", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("not a regular file"), "{}", text(&o));

    let dir = std::env::temp_dir().join(format!("rawbpf-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo");
    common::os::mkfifo(s(&fifo)).unwrap();
    let o = rawbpf(&["run", fifo.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(text(&o).contains("not a regular file"), "{}", text(&o));

    // A sparse file just over the cap: refused by its size, not read.
    let big = std::env::temp_dir().join(format!("rawbpf-big-{}", std::process::id()));
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(rawbpf::load::MAX_OBJECT_SIZE + 1).unwrap();
    let o = rawbpf(&["run", big.to_str().unwrap()]);
    let _ = std::fs::remove_file(&big);
    assert!(
        text(&o).contains("object size cap of 64 MiB"),
        "{}",
        text(&o)
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn messages_name_the_real_cause() {
    let o = rawbpf(&["run", "--cgroup", ""]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--cgroup is empty"), "{}", text(&o));
    let o = rawbpf(&["demo", "extra"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("'demo' takes no arguments (got 'extra')"),
        "{}",
        text(&o)
    );
    let o = rawbpf(&["selftest", "x"]);
    assert!(
        text(&o).contains("'selftest' takes no arguments"),
        "{}",
        text(&o)
    );
    // A directory that is not cgroup v2 (this one is wherever temp is).
    let tmp = std::env::temp_dir();
    let o = rawbpf(&["run", "--cgroup", tmp.to_str().unwrap()]);
    assert!(
        text(&o).contains("is not a cgroup v2 directory"),
        "{}",
        text(&o)
    );
}

/// A bad --pin is refused before anything is loaded or attached: nothing
/// was described (that happens after attaching) and the cgroup is empty.
#[test]
fn a_bad_pin_directory_is_refused_before_any_bpf_call() {
    require_root();
    let cg = test_cgroup();
    let tmp = std::env::temp_dir();
    let bad = tmp.join("rawbpf-not-bpffs");
    let o = rawbpf(&[
        "run",
        "--verbose",
        "--cgroup",
        cg.path().to_str().unwrap(),
        "--pin",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("not on a bpf file system"),
        "{}",
        text(&o)
    );
    assert!(
        o.stdout.is_empty(),
        "nothing was loaded or attached: {}",
        text(&o)
    );
    assert!(attached(&cg).is_empty());
    assert!(!bad.exists());
}

// ------------------------------------------------------------ orphans

/// The second program's attach fails (an exclusive program holds its hook):
/// the first one, already attached, is detached again and its program is
/// gone from the kernel; the message names the conflict.
#[test]
fn a_failed_second_attach_undoes_the_first() {
    require_root();
    let cg = test_cgroup();
    let multi = TempObject::new("multi.bpf.o", MULTI);
    let plan = common::load(MULTI).unwrap();
    let cgroup_progs: Vec<_> = plan
        .programs
        .iter()
        .filter(|p| p.kind().attaches_to_cgroup())
        .collect();
    assert!(
        cgroup_progs.len() >= 2,
        "multi.bpf.o has two cgroup programs"
    );
    let second = cgroup_progs[1];
    // A program of our own (a copy of the second) attached exclusively
    // (no flags) where rawbpf's second program goes.
    let at = second.kind().expected_attach_type;
    let fprog_load = second.fd();
    sys::prog_attach(fprog_load, cg.fd(), at, AttachFlags::empty()).unwrap();
    let first_type = cgroup_progs[0].kind().expected_attach_type;
    drop(cgroup_progs);

    for mode in [&[][..], &["--legacy-attach"][..]] {
        let mut args = vec!["run", multi.path(), "--cgroup", cg.path().to_str().unwrap()];
        args.extend_from_slice(mode);
        let o = rawbpf(&args);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains("attach mode conflict"), "{}", text(&o));
        assert!(
            cg.query(first_type).unwrap().1.is_empty(),
            "the first program was detached again ({mode:?})"
        );
        assert_eq!(cg.query(at).unwrap().1.len(), 1, "only the foreign one");
    }
    sys::prog_detach(fprog_load, cg.fd(), at).unwrap();
    assert!(attached(&cg).is_empty());
}

/// A stop signal during a long verification ends it at once; nothing stays.
#[test]
fn a_stop_signal_interrupts_a_long_verification() {
    require_root();
    let cg = test_cgroup();
    let slow = TempObject::new("slow_verify.bpf.o", SLOW);
    let mut child = Command::new(rawbpf_bin())
        .args(["run", slow.path(), "--cgroup", cg.path().to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_handlers(child.id(), libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    sys::send_signal(child.id(), libc::SIGTERM).unwrap();
    let status = wait_with_timeout(&mut child, Duration::from_secs(5));
    let took = sent.elapsed();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("interrupted by SIGTERM"), "{err}");
    // A full verification takes about 3 s here; the signal ends it.
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(attached(&cg).is_empty());
}

/// SIGINT, SIGTERM and SIGHUP at different moments of `run`: whenever they
/// come, rawbpf exits and leaves nothing attached to the cgroup.
#[test]
fn stop_signals_at_any_moment_leave_nothing_attached() {
    require_root();
    let cg = test_cgroup();
    let path = cg.path().to_str().unwrap().to_string();
    // The seed, or its timer-free twin before 5.15 (where the seed would
    // fail before attaching anything, whatever the signal did).
    let object = common::PolicyArg::new();
    for (i, delay_ms) in [0u64, 1, 3, 6, 10, 20, 40, 80, 200].into_iter().enumerate() {
        let sig = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP][i % 3];
        for legacy in [false, true] {
            let mut args = vec!["run"];
            args.extend(object.args());
            args.extend(["--cgroup", &path]);
            if legacy {
                args.push("--legacy-attach");
            }
            let mut child = Command::new(rawbpf_bin())
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(delay_ms));
            sys::send_signal(child.id(), sig).unwrap();
            let status = wait_with_timeout(&mut child, Duration::from_secs(10));
            // Killed before the handlers were installed, interrupted (1), or
            // detached after attaching (0): never anything left behind.
            assert!(
                status.code().is_none() || matches!(status.code(), Some(0 | 1)),
                "{status:?}"
            );
            assert!(
                attached(&cg).is_empty(),
                "signal {sig} after {delay_ms} ms (legacy {legacy}) left {:?}",
                attached(&cg)
            );
        }
    }
}

/// SIGHUP after a legacy attachment is in place detaches it.
#[test]
fn sighup_after_a_legacy_attach_detaches() {
    require_root();
    let cg = test_cgroup();
    let object = common::PolicyArg::new();
    let mut child = Command::new(rawbpf_bin())
        .arg("run")
        .args(object.args())
        .args(["--legacy-attach", "--cgroup", cg.path().to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while cg.query(EGRESS).unwrap().1.is_empty() {
        assert!(start.elapsed() < Duration::from_secs(10), "never attached");
        std::thread::sleep(Duration::from_millis(10));
    }
    let id = cg.query(EGRESS).unwrap().1[0];
    sys::send_signal(child.id(), libc::SIGHUP).unwrap();
    let status = wait_with_timeout(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    assert!(attached(&cg).is_empty());
    assert!(gone_soon(IdKind::Prog, id), "program {id} is unloaded");
}

/// SIGINT during `demo` removes its cgroup, whenever it comes.
#[test]
fn a_stop_signal_during_demo_removes_its_cgroup() {
    require_root();
    let root = rawbpf::kernel::mounts::cgroup2_root().unwrap();
    for delay_ms in [0u64, 2, 5, 10, 30, 100, 300] {
        let mut child = Command::new(rawbpf_bin())
            .arg("demo")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        sys::send_signal(child.id(), libc::SIGINT).unwrap();
        wait_with_timeout(&mut child, Duration::from_secs(10));
        let dir = root.join(format!("rawbpf-demo-{}-0", child.id()));
        assert!(!dir.exists(), "{} left after {delay_ms} ms", dir.display());
    }
}

// ------------------------------------------------- private mount namespace

/// Runs [`in_private_mount_namespace`] in a new mount namespace (made in
/// the child before exec, mounts private), with test cgroups it may use.
#[test]
fn path_safety_in_private_mount_namespace() {
    require_root();
    let cg = test_cgroup();
    let cg2 = test_cgroup();
    let scratch = std::env::temp_dir().join(format!("rawbpf-ns-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    common::os::private_mount_ns_on_exec(&mut cmd);
    let o = cmd
        .args([
            "--ignored",
            "--exact",
            "in_private_mount_namespace",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RAWBPF_NS_SCRATCH", &scratch)
        .env(
            "RAWBPF_NS_HOST",
            std::fs::read_link("/proc/self/ns/mnt").unwrap(),
        )
        .env("RAWBPF_NS_CGROUP", cg.path())
        .env("RAWBPF_NS_CGROUP2", cg2.path())
        .output()
        .expect("the namespace half runs");
    let _ = std::fs::remove_dir(&scratch);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("1 passed"), "the namespace half ran: {out}");
    assert!(out.contains("namespace checks: all done"), "{out}");
    assert!(attached(&cg).is_empty() && attached(&cg2).is_empty());
}

fn ns_env(name: &str) -> PathBuf {
    PathBuf::from(std::env::var_os(name).expect("set by path_safety_in_private_mount_namespace"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn pin_foreign_map(path: &Path) -> u32 {
    pin_array(path, 4)
}

fn pin_array(path: &Path, value_size: u32) -> u32 {
    let attr = sys::MapCreateAttr {
        map_type: rawbpf::object::maps::MAP_TYPE_ARRAY,
        key_size: 4,
        value_size,
        max_entries: 1,
        map_name: sys::object_name("foreign"),
        ..Default::default()
    };
    let fd = sys::map_create(&attr).unwrap();
    rawbpf::kernel::bpffs::pin(fd.as_fd(), path).unwrap();
    sys::map_info(fd.as_fd()).unwrap().id
}

/// Whether `path` is a symlink (never followed), as run's record is.
fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Whether nothing at all is at `path` (not even a dangling symlink).
fn absent(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_err()
}

/// A one-part record, as documented in src/pins/record.rs, by hand:
/// `lines` after the first, without the byte count.
fn one_part_record(pins: usize, body: &str) -> String {
    format!("rawbpf-run 1 1 {pins} {}\n{body}", body.len())
}

/// A record's parts to make, by name: a symlink with this target text,
/// or (None) a map pinned there.
type Parts<'a> = Vec<(&'a str, Option<String>)>;

/// Directories made for a test, removed (deepest first) when it ends.
struct Dirs(Vec<PathBuf>);

impl Drop for Dirs {
    fn drop(&mut self) {
        for d in self.0.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Records that are not rawbpf's (forged, damaged, oversized, not
/// symlinks): `detach` refuses each and touches nothing, not even the
/// record. Then a well-formed record naming a symlink: left alone.
fn detach_refuses_what_is_not_a_record(bpf: &Path) {
    let f = bpf.join("forged");
    std::fs::create_dir(&f).unwrap();
    let map_x = pin_foreign_map(&f.join("map_x"));
    let map_part = f.join("rawbpf_run-1");
    let full = format!("{:<4095}", one_part_record(1, "cgroup 0 0\nM 0 map_x\n"));
    let cases: Vec<(Parts, &str)> = vec![
        // A map where the record goes (as an older rawbpf pinned it).
        (
            vec![("rawbpf_run", None)],
            "rawbpf_run is not a symbolic link",
        ),
        // A symlink to a pin: its target is text, never followed.
        (
            vec![("rawbpf_run", Some("map_x".into()))],
            "not rawbpf's record",
        ),
        (
            vec![("rawbpf_run", Some("rawbpf-run 1 300 0 0\n".into()))],
            "it says it has 300 parts",
        ),
        (
            vec![("rawbpf_run", Some("rawbpf-run 3 1 0 0\n".into()))],
            "a record of version 3",
        ),
        (
            vec![(
                "rawbpf_run",
                Some(one_part_record(1, "cgroup 0 0\nQ 0 map_x\n")),
            )],
            "unknown kind",
        ),
        (
            vec![(
                "rawbpf_run",
                // Says 22 bytes follow its first line; 21 do.
                Some("rawbpf-run 1 1 1 22\ncgroup 0 0\nM 0 map_x\n".into()),
            )],
            "its length does not match",
        ),
        (
            vec![(
                "rawbpf_run",
                Some(one_part_record(1, "cgroup 0 0\nM 0 ../x\n")),
            )],
            "holds a '/'",
        ),
        // Two parts said, the second missing, a map, or the first short.
        (
            vec![("rawbpf_run", Some(full.replacen(" 1 1 ", " 1 2 ", 1)))],
            "rawbpf_run-1 is missing",
        ),
        (
            vec![
                ("rawbpf_run", Some(full.replacen(" 1 1 ", " 1 2 ", 1))),
                ("rawbpf_run-1", None),
            ],
            "rawbpf_run-1 is not a symbolic link",
        ),
        (
            vec![
                (
                    "rawbpf_run",
                    Some(
                        one_part_record(1, "cgroup 0 0\nM 0 map_x\n").replacen(" 1 1 ", " 1 2 ", 1),
                    ),
                ),
                ("rawbpf_run-1", Some("x".into())),
            ],
            "rawbpf_run is not 4095 bytes long",
        ),
    ];
    for (parts, why) in cases {
        for (name, target) in &parts {
            match target {
                Some(t) => std::os::unix::fs::symlink(t, f.join(name)).unwrap(),
                None => {
                    pin_foreign_map(&f.join(name));
                }
            }
        }
        let o = rawbpf(&["detach", "--pin", s(&f)]);
        assert_eq!(o.status.code(), Some(1), "{why}: {}", text(&o));
        assert!(text(&o).contains(why), "{why}: {}", text(&o));
        assert!(text(&o).contains("nothing was touched"), "{}", text(&o));
        assert!(common::exists(IdKind::Map, map_x), "{why}");
        assert!(f.join("map_x").is_file(), "{why}");
        for (name, _) in &parts {
            assert!(!absent(&f.join(name)), "{why}: {name} is still there");
            std::fs::remove_file(f.join(name)).unwrap();
        }
    }
    assert!(absent(&map_part));

    // A well-formed record that another user made: anyone who may write in
    // the directory may make a symlink, so it is not rawbpf's record.
    let forged = f.join("rawbpf_run");
    std::os::unix::fs::symlink(one_part_record(1, "cgroup 0 0\nM 0 map_x\n"), &forged).unwrap();
    std::os::unix::fs::lchown(&forged, Some(65534), None).unwrap();
    let o = rawbpf(&["detach", "--pin", s(&f)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("belongs to user 65534"), "{}", text(&o));
    assert!(text(&o).contains("nothing was touched"), "{}", text(&o));
    assert!(common::exists(IdKind::Map, map_x) && f.join("map_x").is_file());
    std::fs::remove_file(&forged).unwrap();

    // A well-formed record naming a symlink (to a pin outside the
    // directory) as a map: the symlink is left alone, not followed.
    std::os::unix::fs::symlink("../foreign", f.join("map_y")).unwrap();
    let body = "cgroup 0 0\nM 0 map_y\nM 0 map_x\n";
    std::os::unix::fs::symlink(one_part_record(2, body), f.join("rawbpf_run")).unwrap();
    let o = rawbpf(&["detach", "--pin", s(&f)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("map_y: left alone: not a pin but a symbolic link"),
        "{}",
        text(&o)
    );
    assert!(is_symlink(&f.join("map_y")));
    assert!(bpf.join("foreign").is_file());
    assert!(absent(&f.join("map_x")) && absent(&f.join("rawbpf_run")));
    assert!(
        gone_soon(IdKind::Map, map_x),
        "the recorded map was unpinned"
    );
    std::fs::remove_file(f.join("map_y")).unwrap();
    std::fs::remove_dir(&f).unwrap();

    // A record of several parts (long names), written by the library:
    // detach reads them all, unpins every map named, removes every part.
    let big = bpf.join("big");
    std::fs::create_dir(&big).unwrap();
    let names: Vec<String> = (0..40).map(|i| format!("map_{i:a>200}")).collect();
    let ids: Vec<u32> = names
        .iter()
        .map(|n| pin_foreign_map(&big.join(n)))
        .collect();
    let record = rawbpf::pin::Record {
        cgroup_made: rawbpf::pin::Made::No,
        cgroup_path: PathBuf::new(),
        cgroup_id: 0,
        pins: names
            .iter()
            .map(|n| rawbpf::pin::Pin::new(n.clone(), rawbpf::pin::PinKind::Map, 0))
            .collect(),
    };
    rawbpf::pin::write_record(&big, &record, &mut Vec::new()).unwrap();
    for part in ["rawbpf_run", "rawbpf_run-1", "rawbpf_run-2"] {
        assert!(is_symlink(&big.join(part)), "{part}");
    }
    assert!(absent(&big.join("rawbpf_run-3")));
    // run refuses the directory while any part is there.
    std::fs::rename(big.join("rawbpf_run"), bpf.join("saved_head")).unwrap();
    let o = rawbpf(&["run", "--pin", s(&big)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("exists already"), "{}", text(&o));
    assert!(o.stdout.is_empty(), "refused before loading: {}", text(&o));
    std::fs::rename(bpf.join("saved_head"), big.join("rawbpf_run")).unwrap();
    let o = rawbpf(&["detach", "--pin", s(&big)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(absent(&big), "{}", text(&o));
    for id in ids {
        assert!(gone_soon(IdKind::Map, id), "map {id} unpinned");
    }
}

#[test]
#[ignore = "runs inside the mount namespace of path_safety_in_private_mount_namespace"]
fn in_private_mount_namespace() {
    // Refuse to run anywhere but in a mount namespace of our own.
    let ours = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    let host = ns_env("RAWBPF_NS_HOST");
    assert_ne!(ours, host, "not in a private mount namespace");
    let scratch = ns_env("RAWBPF_NS_SCRATCH");
    let cg = Cgroup::open(ns_env("RAWBPF_NS_CGROUP")).unwrap();
    let cg2 = Cgroup::open(ns_env("RAWBPF_NS_CGROUP2")).unwrap();

    let multi = TempObject::new("multi.bpf.o", MULTI);
    let by_name = TempObject::new("pin_by_name.bpf.o", BY_NAME);
    // An object without cgroup programs: syscall programs with timers
    // (5.15), else tc programs.
    let syscall_only = if common::kernel_has_bpf_timer() {
        TempObject::new("timer_cases.bpf.o", SYSCALL_ONLY)
    } else {
        TempObject::new("map_in_map.bpf.o", MAP_IN_MAP)
    };
    // `run` of the seed, or of its timer-free twin before 5.15.
    let policy = common::PolicyArg::new();
    let run = |rest: &[&str]| {
        let mut args = vec!["run"];
        args.extend(policy.args());
        args.extend_from_slice(rest);
        rawbpf(&args)
    };

    // Hide every bpffs of the host; everything below is on fresh mounts.
    for _ in 0..16 {
        for m in mounts("bpf") {
            let _ = common::os::unmount_lazy(&m);
        }
    }
    assert!(mounts("bpf").is_empty(), "a host bpffs is still visible");
    sys::mount_fs("tmpfs", s(&scratch)).unwrap();
    let bpf = scratch.join("bpf");
    let plain = scratch.join("plain");
    std::fs::create_dir(&bpf).unwrap();
    std::fs::create_dir(&plain).unwrap();
    sys::mount_fs("bpf", s(&bpf)).unwrap();
    std::fs::write(plain.join("keep.txt"), "mine").unwrap();
    let foreign_root = pin_foreign_map(&bpf.join("foreign"));
    std::os::unix::fs::symlink(&plain, bpf.join("evil")).unwrap();
    std::fs::create_dir(bpf.join("norecord")).unwrap();
    pin_foreign_map(&bpf.join("norecord").join("link_x"));

    let untouched = || {
        assert!(
            plain.join("keep.txt").exists(),
            "a file outside bpffs survived"
        );
        assert!(
            bpf.join("foreign").exists(),
            "a foreign pin at the root survived"
        );
        assert!(bpf.join("norecord/link_x").exists());
        assert!(common::exists(IdKind::Map, foreign_root));
    };

    // Paths that resolve to something that is not a pin directory of ours.
    let sub = bpf.join("sub");
    std::fs::create_dir(&sub).unwrap();
    for (arg, why) in [
        ("".to_string(), "--pin is empty"),
        (s(&bpf).to_string(), "root of a bpf file system"),
        (".".to_string(), "root of a bpf file system"),
        (format!("{}/sub/..", s(&bpf)), "'..' is not allowed"),
        (format!("{}/sub/../..", s(&bpf)), "'..' is not allowed"),
        (s(&plain).to_string(), "not on a bpf file system"),
        (format!("{}/evil", s(&bpf)), "not on a bpf file system"),
        (format!("{}/norecord", s(&bpf)), "no rawbpf_run record"),
        ("norecord".to_string(), "no rawbpf_run record"),
        ("/".to_string(), "not on a bpf file system"),
    ] {
        let o = rawbpf(&["detach", "--pin", &arg]);
        assert!(!o.status.success(), "detach --pin '{arg}': {}", text(&o));
        assert!(text(&o).contains(why), "detach --pin '{arg}': {}", text(&o));
        untouched();
        if why.contains("no rawbpf_run record") {
            // A directory on bpffs without a record is fine for run.
            continue;
        }
        let o = run(&["--cgroup", s(cg.path()), "--pin", &arg]);
        assert!(!o.status.success(), "run --pin '{arg}': {}", text(&o));
        assert!(o.stdout.is_empty(), "refused before loading: {}", text(&o));
        untouched();
    }
    assert!(attached(&cg).is_empty());

    // run --pin, then a foreign pin beside rawbpf's: detach keeps it.
    let mine = bpf.join("mine");
    let o = rawbpf(&[
        "run",
        multi.path(),
        "--cgroup",
        s(cg.path()),
        "--pin",
        s(&mine),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // Item 6 of issue 7: the programs not attached are pinned too.
    for p in ["count_socket", "count_tc", "count_xdp"] {
        assert!(mine.join(format!("prog_{p}")).exists(), "{p}: {}", text(&o));
    }
    assert!(
        text(&o).contains("pinned the programs not attached"),
        "{}",
        text(&o)
    );
    let ids = attached(&cg);
    assert_eq!(ids.len(), 2, "both cgroup programs attached");
    // The record: one symlink whose text names every pin.
    let head = std::fs::read_link(mine.join("rawbpf_run")).unwrap();
    let head = head.to_str().unwrap();
    assert!(head.starts_with("rawbpf-run 2 1 "), "{head}");
    for p in ["count_socket", "count_tc", "count_xdp"] {
        let line = head.lines().find(|l| l.ends_with(&format!(" prog_{p}")));
        assert!(line.is_some_and(|l| l.starts_with("P 0 ")), "{head}");
    }
    assert!(head.ends_with(&format!("\n{}", s(cg.path()))), "{head}");
    assert!(absent(&mine.join("rawbpf_run-1")));
    pin_foreign_map(&mine.join("extra"));
    let o = rawbpf(&["detach", "--pin", s(&mine)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("rawbpf did not pin: extra"),
        "{}",
        text(&o)
    );
    assert!(mine.join("extra").exists());
    assert_eq!(std::fs::read_dir(&mine).unwrap().count(), 1);
    assert!(attached(&cg).is_empty());
    for id in ids {
        assert!(gone_soon(IdKind::Prog, id), "program {id} unloaded");
    }
    std::fs::remove_file(mine.join("extra")).unwrap();
    std::fs::remove_dir(&mine).unwrap();

    detach_refuses_what_is_not_a_record(&bpf);
    untouched();

    // A directory holding only a later part of a record: run refuses it.
    let c = bpf.join("c");
    std::fs::create_dir(&c).unwrap();
    std::os::unix::fs::symlink("x", c.join("rawbpf_run-3")).unwrap();
    let o = run(&["--cgroup", s(cg.path()), "--pin", s(&c)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("rawbpf_run-3 exists already"),
        "{}",
        text(&o)
    );
    assert!(o.stdout.is_empty(), "refused before loading: {}", text(&o));
    std::fs::remove_file(c.join("rawbpf_run-3")).unwrap();
    std::fs::remove_dir(&c).unwrap();
    assert!(attached(&cg).is_empty());

    // A cgroup path of 4,060 bytes: the record of a real run takes two
    // parts, and detach, reading the path across them, finds the cgroup
    // where it was (not by its id) and detaches from it.
    let mut chain = Dirs(Vec::new());
    let mut deep = cg.path().to_path_buf();
    while deep.as_os_str().len() < 4060 {
        let room = 4060 - deep.as_os_str().len() - 1;
        deep.push("d".repeat(room.clamp(1, 255)));
        std::fs::create_dir(&deep).unwrap();
        chain.0.push(deep.clone());
    }
    let w = bpf.join("w");
    let o = run(&["--legacy-attach", "--cgroup", s(&deep), "--pin", s(&w)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(is_symlink(&w.join("rawbpf_run")) && is_symlink(&w.join("rawbpf_run-1")));
    assert!(absent(&w.join("rawbpf_run-2")));
    let deep_cg = Cgroup::open(&deep).unwrap();
    let ids = deep_cg.query(EGRESS).unwrap().1;
    assert_eq!(ids.len(), 1);
    let o = rawbpf(&["detach", "--pin", s(&w)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("detached 1 program"), "{}", text(&o));
    assert!(!text(&o).contains("is now at"), "{}", text(&o));
    assert!(deep_cg.query(EGRESS).unwrap().1.is_empty());
    assert!(gone_soon(IdKind::Prog, ids[0]));
    assert!(absent(&w));
    drop(deep_cg);
    drop(chain);

    // An entry replaced by another kind of object is left alone.
    let k = bpf.join("k");
    let o = run(&["--cgroup", s(cg.path()), "--pin", s(&k)]);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::rename(k.join("link_bpf_prog1"), bpf.join("saved_link")).unwrap();
    pin_foreign_map(&k.join("link_bpf_prog1"));
    // The moved link still holds the program attached: detach says so,
    // fails, and keeps its record for another try.
    let o = rawbpf(&["detach", "--pin", s(&k)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("left alone: it is anon_inode:bpf-map"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("is still attached"), "{}", text(&o));
    assert!(is_symlink(&k.join("rawbpf_run")), "the record is kept");
    assert_eq!(attached(&cg).len(), 1);
    std::fs::remove_file(bpf.join("saved_link")).unwrap();
    let start = Instant::now();
    while !attached(&cg).is_empty() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(attached(&cg).is_empty(), "the last link reference went");
    let o = rawbpf(&["detach", "--pin", s(&k)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("left alone"), "{}", text(&o));
    assert!(k.join("link_bpf_prog1").exists());
    assert!(absent(&k.join("rawbpf_run")));
    std::fs::remove_file(k.join("link_bpf_prog1")).unwrap();
    std::fs::remove_dir(&k).unwrap();

    // Legacy attachments: the record says where; a wrong --cgroup is refused.
    let l = bpf.join("l");
    let o = run(&["--legacy-attach", "--cgroup", s(cg.path()), "--pin", s(&l)]);
    assert!(o.status.success(), "{}", text(&o));
    let ids = cg.query(EGRESS).unwrap().1;
    assert_eq!(ids.len(), 1);
    let o = rawbpf(&["detach", "--pin", s(&l), "--cgroup", s(cg2.path())]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("is not the cgroup these programs were attached to"));
    assert_eq!(cg.query(EGRESS).unwrap().1, ids, "still attached");
    assert!(is_symlink(&l.join("rawbpf_run")), "nothing was touched");
    let o = rawbpf(&["detach", "--pin", s(&l)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("detached 1 program"), "{}", text(&o));
    assert!(cg.query(EGRESS).unwrap().1.is_empty());
    assert!(gone_soon(IdKind::Prog, ids[0]));
    assert!(!l.exists());

    // The cgroup of a legacy attachment was removed: detach says its
    // programs went with it (cgroup v2 refuses renames; a cgroup reached
    // by another mount is found by its id, see `Cgroup::by_id`).
    let sub = cg.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let m = bpf.join("m");
    let o = run(&["--legacy-attach", "--cgroup", s(&sub), "--pin", s(&m)]);
    assert!(o.status.success(), "{}", text(&o));
    let subcg = Cgroup::open(&sub).unwrap();
    let id = subcg.query(EGRESS).unwrap().1[0];
    drop(subcg);
    std::fs::remove_dir(&sub).unwrap();
    let o = rawbpf(&["detach", "--pin", s(&m)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("is gone"), "{}", text(&o));
    assert!(!m.exists());
    assert!(gone_soon(IdKind::Prog, id));

    // A read-only bpffs: the record, written before anything is attached,
    // cannot be, so nothing is attached and the directory is as it was.
    // (A pin that fails after a legacy attach: tests/crash.rs injects it.)
    let e = bpf.join("e");
    std::fs::create_dir(&e).unwrap();
    common::os::remount(s(&bpf), true).unwrap();
    let o = run(&["--legacy-attach", "--cgroup", s(cg.path()), "--pin", s(&e)]);
    common::os::remount(s(&bpf), false).unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("rawbpf_run: EROFS"), "{}", text(&o));
    assert!(attached(&cg).is_empty(), "nothing was attached");
    assert_eq!(std::fs::read_dir(&e).unwrap().count(), 0);
    std::fs::remove_dir(&e).unwrap();

    pins_by_name(&bpf, &cg, &by_name);

    // Where the test cgroup is, relative to the cgroup2 root.
    let host_root = rawbpf::kernel::mounts::cgroup2_root().unwrap();
    let rel = cg.path().strip_prefix(&host_root).unwrap().to_path_buf();

    // No cgroup2 mounted (a cgroup v1 system): a run that needs no cgroup
    // mounts nothing; one that needs it mounts at a private path, never
    // over /sys/fs/cgroup, whose listing stays the same.
    let v = bpf.join("v");
    let o = run(&["--legacy-attach", "--cgroup", s(cg.path()), "--pin", s(&v)]);
    assert!(o.status.success(), "{}", text(&o));
    for m in mounts("cgroup2") {
        common::os::unmount_lazy(&m).unwrap();
    }
    std::fs::create_dir_all("/run").unwrap();
    sys::mount_fs("tmpfs", "/run").unwrap();
    let before: Vec<_> = std::fs::read_dir("/sys/fs/cgroup")
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    let n = bpf.join("n");
    let o = rawbpf(&["run", syscall_only.path(), "--pin", s(&n)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(mounts("cgroup2").is_empty(), "mounted only when needed");
    let o = rawbpf(&["detach", "--pin", s(&n)]);
    assert!(o.status.success(), "{}", text(&o));
    let root = rawbpf::kernel::mounts::cgroup2_root().unwrap();
    assert_eq!(root, Path::new(rawbpf::kernel::mounts::PRIVATE_CGROUP2));
    // The recorded path of `v`'s cgroup is gone with its mount: detach
    // finds the cgroup by its id under the new mount.
    let o = rawbpf(&["detach", "--pin", s(&v)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("is now at /run/rawbpf/cgroup2/"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("detached 1 program"), "{}", text(&o));
    assert!(attached(&cg).is_empty());
    assert_eq!(
        mounts("cgroup2"),
        vec![rawbpf::kernel::mounts::PRIVATE_CGROUP2.to_string()]
    );
    let after: Vec<_> = std::fs::read_dir("/sys/fs/cgroup")
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert_eq!(before, after, "/sys/fs/cgroup is not hidden");

    // The default cgroup: with the test cgroup as the only cgroup2 "root"
    // visible, run makes `rawbpf` inside it, and detach removes it again.
    let view = Path::new("/run/cg2");
    std::fs::create_dir(view).unwrap();
    let inside = Path::new(rawbpf::kernel::mounts::PRIVATE_CGROUP2).join(&rel);
    common::os::bind_mount(s(&inside), s(view))
        .unwrap_or_else(|e| panic!("bind mount of {}: {e}", inside.display()));
    common::os::unmount_lazy(rawbpf::kernel::mounts::PRIVATE_CGROUP2).unwrap();
    assert_eq!(mounts("cgroup2"), vec!["/run/cg2".to_string()]);
    let d = bpf.join("d");
    let o = run(&["--pin", s(&d)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(view.join("rawbpf").is_dir(), "{}", text(&o));
    let o = rawbpf(&["detach", "--pin", s(&d)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("removed the cgroup"), "{}", text(&o));
    assert!(!view.join("rawbpf").exists());
    untouched();

    a_relative_pin_mounts_bpffs(&run, &cg);
    println!("namespace checks: all done");
}

/// LIBBPF_PIN_BY_NAME in the namespace's fresh bpffs `bpf` (see the
/// comments); `cg` is the test cgroup.
fn pins_by_name(bpf: &Path, cg: &Cgroup, by_name: &TempObject) {
    // LIBBPF_PIN_BY_NAME, as libbpf does it: under the bpffs mount (here
    // the fresh one) unless --pin-maps names another directory, a
    // compatible pin is reused, an incompatible one refused before
    // anything is attached, a missing one pinned; no record names them,
    // so detach keeps them (they are there to be shared).
    let shared_path = bpf.join("shared_counts");
    let p = bpf.join("p");
    let shared = pin_array(&shared_path, 8);
    let by_name_run = |dir: &Path, extra: &[&str]| {
        let mut args = vec!["run", by_name.path(), "--cgroup", s(cg.path())];
        args.extend_from_slice(&["--pin", s(dir)]);
        args.extend_from_slice(extra);
        rawbpf(&args)
    };
    let o = by_name_run(&p, &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("reused by name"), "{}", text(&o));
    // Modes as bpftool makes them: the directory 0700 (with the run's
    // mark, the sticky bit), a pin 0600 (bpffs's own).
    assert_eq!(mode(&p), 0o1700);
    assert_eq!(mode(&p.join("link_count_shared")), 0o600);
    let ids = cg.query(EGRESS).unwrap().1;
    let prog = sys::get_fd_by_id(IdKind::Prog, ids[0]).unwrap();
    let (_, maps) = sys::prog_info(prog.as_fd()).unwrap();
    drop(prog);
    assert_eq!(maps, [shared], "the pinned map is the program's");
    assert!(absent(&p.join("shared_counts")) && absent(&p.join("map_shared_counts")));
    let o = rawbpf(&["detach", "--pin", s(&p)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(absent(&p), "{}", text(&o));
    assert!(shared_path.exists(), "kept for sharing");
    assert!(attached(cg).is_empty());
    std::fs::remove_file(&shared_path).unwrap();

    pin_array(&shared_path, 16);
    let o = by_name_run(&p, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("incompatible: value size 16, the object's 8"),
        "{}",
        text(&o)
    );
    assert!(attached(cg).is_empty());
    assert!(absent(&p), "the directory the run made is gone");
    std::fs::remove_file(&shared_path).unwrap();
    pins_by_name_made(bpf, cg, &by_name_run);
}

/// LIBBPF_PIN_BY_NAME, continued: a missing pin is made, and undone when
/// the run fails.
fn pins_by_name_made(bpf: &Path, cg: &Cgroup, by_name_run: &dyn Fn(&Path, &[&str]) -> Output) {
    let shared_path = bpf.join("shared_counts");
    let p = bpf.join("p");
    // Missing: pinned in --pin-maps (a name under the bpffs mount, made
    // with mode 0700 as libbpf and bpftool make directories; the pin
    // file 0600, as bpffs makes it).
    let o = by_name_run(&p, &["--pin-maps", "shared"]);
    assert!(o.status.success(), "{}", text(&o));
    let made = bpf.join("shared/shared_counts");
    assert!(text(&o).contains("pinned by name"), "{}", text(&o));
    assert_eq!(mode(&bpf.join("shared")), 0o700);
    assert_eq!(mode(&made), 0o600);
    let o = rawbpf(&["detach", "--pin", s(&p)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(made.exists(), "kept for sharing");
    std::fs::remove_file(&made).unwrap();
    std::fs::remove_dir(bpf.join("shared")).unwrap();

    // A run that fails after its load (the attach conflicts with a program
    // attached exclusively) removes the pin by name it made.
    let foreign = common::load(common::policy_object()).unwrap();
    let fprog = foreign.programs[0].fd();
    sys::prog_attach(fprog, cg.fd(), EGRESS, AttachFlags::empty()).unwrap();
    let o = by_name_run(&p, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("attach mode conflict"), "{}", text(&o));
    assert!(absent(&shared_path), "the pin it made is gone");
    assert!(absent(&p));
    sys::prog_detach(fprog, cg.fd(), EGRESS).unwrap();
    drop(foreign);
    assert!(attached(cg).is_empty());
}

/// The mode bits of `p` (the file type's left out).
fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// With no bpffs mounted at all: only a relative --pin mounts one.
fn a_relative_pin_mounts_bpffs(run: &dyn Fn(&[&str]) -> Output, cg: &Cgroup) {
    // No bpffs at all: a relative --pin mounts one (mode 0700, as bpftool
    // and systemd mount it) on the empty /sys/fs/bpf; an absolute one
    // mounts nothing.
    for m in mounts("bpf") {
        common::os::unmount_lazy(&m).unwrap();
    }
    let o = run(&["--pin", "/sys/fs/bpf/abs"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(mounts("bpf").is_empty(), "{}", text(&o));
    let o = run(&["--pin", "rel"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(mounts("bpf"), ["/sys/fs/bpf"]);
    assert_eq!(mode(Path::new("/sys/fs/bpf")), 0o700);
    let o = rawbpf(&["detach", "--pin", "rel"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(attached(cg).is_empty());
    common::os::unmount_lazy("/sys/fs/bpf").unwrap();
}

#[test]
fn legacy_attach_modes_do_not_leak_between_tests() {
    // A sanity check of the helpers above: attach and detach by hand.
    require_root();
    let cg = test_cgroup();
    let loaded = common::load(common::policy_object()).unwrap();
    let prog = loaded.program("bpf_prog1").unwrap();
    let a = cgroup::attach(prog, &cg, AttachMode::Legacy(AttachFlags::ALLOW_MULTI)).unwrap();
    assert_eq!(attached(&cg).len(), 1);
    a.detach().unwrap();
    assert!(attached(&cg).is_empty());
}
