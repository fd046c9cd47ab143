//! The README stays true: every `rawbpf` command of its examples runs as
//! written and succeeds, and the output it shows under a command is what
//! the command prints.
//!
//! A command is a line `$ rawbpf ...` in any code block, or `rawbpf ...` in
//! a ```sh block (a shell comment after it is dropped); the lines after a
//! `$` line, up to the next one, are its output: exactly for `inspect` and
//! `disasm`, which read only the file, and with numbers and runs of blanks
//! made alike for the commands that ask the kernel (ids, times). A listing
//! that ends with `...` is the start of the output; under a command with
//! `--trace` it is the trace on stderr. Nothing is left out: a `rawbpf`
//! line that is not meant to run must be in [`NOT_RUN`], with the reason.
//!
//! The commands run in order, from the source tree, in a private mount
//! namespace (the test binary re-runs itself in one) where a fresh bpffs
//! is at `/sys/fs/bpf` and a cgroup of the test's own is the only cgroup2
//! mount, at `/sys/fs/cgroup`: the README's paths work as written, and
//! nothing reaches the machine's pins or cgroups. At the end nothing may be
//! attached, pinned or left in that cgroup but what the README says stays.
//! Needs root.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{attached, mounts, require_root, test_cgroup};
use rawbpf::attach::cgroup::Cgroup;
use rawbpf::sys;

const README: &str = include_str!("../README.md");

/// `rawbpf` lines of ```sh blocks that are not run, and why. (Lines in
/// other blocks without `$` are not commands: synopses, listings.)
const NOT_RUN: &[(&str, &str)] = &[];

/// What the README's commands leave on purpose (it says so): pins by name
/// are shared, and `detach` keeps them. Removed by the test after checking
/// they are there.
const LEFT_ON_PURPOSE: &[&str] = &["shared/shared_counts", "shared"];

/// One command of the README and the output shown under it.
#[derive(Debug)]
struct Example {
    /// Its line in README.md (1-based).
    line: usize,
    /// The words after `rawbpf`.
    args: Vec<String>,
    /// The output shown, without a final `...`.
    listing: Vec<String>,
    /// The listing ends with `...`: only the start of the output is shown.
    cut: bool,
}

impl Example {
    fn is_file_tool(&self) -> bool {
        matches!(
            self.args.first().map(String::as_str),
            Some("inspect" | "disasm")
        )
    }
}

/// The commands of the README's code blocks, in order.
fn examples(readme: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut block: Option<&str> = None;
    for (i, line) in readme.lines().enumerate() {
        if let Some(fence) = line.strip_prefix("```") {
            block = match block {
                None => Some(fence),
                Some(_) => None,
            };
            continue;
        }
        let Some(lang) = block else { continue };
        let command = match line.strip_prefix("$ ") {
            Some(c) => Some(c),
            None if lang == "sh" && line.starts_with("rawbpf ") => Some(line),
            None => None,
        };
        match command {
            Some(c) => {
                let c = c.split(" #").next().unwrap().trim();
                if !c.starts_with("rawbpf ") {
                    continue;
                }
                if NOT_RUN.iter().any(|(l, _)| *l == c) {
                    continue;
                }
                out.push(Example {
                    line: i + 1,
                    args: c.split_whitespace().skip(1).map(String::from).collect(),
                    listing: Vec::new(),
                    cut: false,
                });
            }
            None if line.starts_with('$') => {}
            None => {
                // Output: of the `$` line above it in this block.
                let Some(last) = out.last_mut() else { continue };
                if lang == "sh" || last.cut || !in_same_block(readme, last.line, i + 1) {
                    continue;
                }
                if line == "..." {
                    last.cut = true;
                } else {
                    last.listing.push(line.to_string());
                }
            }
        }
    }
    out
}

/// Whether README lines `a` and `b` (1-based) are in one code block.
fn in_same_block(readme: &str, a: usize, b: usize) -> bool {
    !readme
        .lines()
        .skip(a)
        .take(b - a - 1)
        .any(|l| l.starts_with("```"))
}

/// Kernel output made comparable: every number is N, blanks are one.
fn alike(line: &str) -> String {
    let mut out = String::new();
    let mut last = ' ';
    for c in line.trim_end().chars() {
        let c = if c.is_ascii_digit() { 'N' } else { c };
        if (c == 'N' && last == 'N') || (c == ' ' && last == ' ') {
            continue;
        }
        out.push(c);
        last = c;
    }
    out
}

#[test]
fn the_readme_shows_every_command() {
    let all = examples(README);
    for want in [
        "inspect",
        "disasm",
        "disasm --relocated",
        "run",
        "run bpf/pin_by_name.bpf.o --pin-maps",
        "show",
        "detach",
        "demo",
        "demo --trace",
    ] {
        assert!(
            all.iter().any(|e| e.args.join(" ").starts_with(want)),
            "no README example of rawbpf {want}: {all:#?}"
        );
    }
    for (line, why) in NOT_RUN {
        assert!(
            README.contains(line),
            "NOT_RUN names a line that is gone: {line}"
        );
        assert!(!why.is_empty());
    }
}

/// Runs [`in_readme_namespace`] in a mount namespace of its own, with a
/// test cgroup to become its cgroup2 root.
#[test]
fn readme_examples_run_as_written() {
    require_root();
    if Path::new("/vmtest").exists() {
        eprintln!("NOT APPLICABLE: the README's examples: they run from the source tree");
        return;
    }
    let cg = test_cgroup();
    let scratch = std::env::temp_dir().join(format!("rawbpf-readme-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    common::os::private_mount_ns_on_exec(&mut cmd);
    let o = cmd
        .args(["--ignored", "--exact", "in_readme_namespace", "--nocapture"])
        .env("RAWBPF_README_CGROUP", cg.path())
        .env("RAWBPF_README_SCRATCH", &scratch)
        .env(
            "RAWBPF_README_HOST_NS",
            std::fs::read_link("/proc/self/ns/mnt").unwrap(),
        )
        .output()
        .expect("the namespace half runs");
    let _ = std::fs::remove_dir(&scratch);
    // What the commands made in the test cgroup, should one have failed
    // before its undo (pins and links went with the namespace's bpffs).
    let left = remove_subcgroups(cg.path());
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{out}");
    assert!(out.contains("README examples: all ran"), "{out}");
    assert!(left.is_empty(), "cgroups left by the examples: {left:?}");
    assert!(attached(&cg).is_empty(), "nothing stays attached");
}

/// Removes every cgroup under `dir`, deepest first; returns their paths.
fn remove_subcgroups(dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            removed.extend(remove_subcgroups(&path));
            let _ = std::fs::remove_dir(&path);
            removed.push(path);
        }
    }
    removed
}

fn env_path(name: &str) -> PathBuf {
    PathBuf::from(std::env::var_os(name).expect("set by readme_examples_run_as_written"))
}

/// The README's machine in this namespace: a fresh bpffs at /sys/fs/bpf,
/// the test cgroup as the only cgroup2 mount, at /sys/fs/cgroup.
fn set_up_namespace(cg: &Path, scratch: &Path) {
    let ours = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    assert_ne!(
        ours,
        env_path("RAWBPF_README_HOST_NS"),
        "not in a namespace of its own"
    );
    let s = |p: &Path| p.to_str().unwrap().to_string();
    sys::mount_fs("tmpfs", &s(scratch)).unwrap();
    let view = scratch.join("cgroup");
    std::fs::create_dir(&view).unwrap();
    common::os::bind_mount(&s(cg), &s(&view)).unwrap();
    for _ in 0..8 {
        for m in mounts("cgroup2").into_iter().chain(mounts("bpf")) {
            if m != s(&view) {
                let _ = common::os::unmount_lazy(&m);
            }
        }
    }
    common::os::bind_mount(&s(&view), "/sys/fs/cgroup").unwrap();
    common::os::unmount_lazy(&s(&view)).unwrap();
    sys::mount_fs("bpf", "/sys/fs/bpf").unwrap();
    assert_eq!(mounts("cgroup2"), ["/sys/fs/cgroup"]);
    assert_eq!(mounts("bpf"), ["/sys/fs/bpf"]);
}

fn run(e: &Example) -> Output {
    Command::new(common::rawbpf_bin())
        .args(&e.args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run rawbpf")
}

/// Checks that `e` succeeded and printed what the README shows.
fn check(e: &Example, o: &Output) {
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let what = format!(
        "README.md:{}: rawbpf {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        e.line,
        e.args.join(" ")
    );
    assert!(o.status.success(), "{what}");
    let shown = if e.args.iter().any(|a| a == "--trace") {
        stderr
            .lines()
            .filter(|l| l.starts_with("bpf("))
            .collect::<Vec<_>>()
    } else {
        stdout.lines().collect()
    };
    let mut got: Vec<String> = shown.iter().map(|l| l.trim_end().to_string()).collect();
    let mut want: Vec<String> = e.listing.iter().map(|l| l.trim_end().to_string()).collect();
    if !e.is_file_tool() {
        got = got.iter().map(|l| alike(l)).collect();
        want = want.iter().map(|l| alike(l)).collect();
    }
    if e.cut {
        got.truncate(want.len());
    }
    // A block cannot end with a blank line.
    while got.last().is_some_and(String::is_empty) {
        got.pop();
    }
    if e.listing.is_empty() {
        return;
    }
    assert_eq!(
        got.join("\n"),
        want.join("\n"),
        "the output differs from the README's listing (left: real)\n{what}"
    );
}

#[test]
#[ignore = "runs inside the mount namespace of readme_examples_run_as_written"]
fn in_readme_namespace() {
    let cg = env_path("RAWBPF_README_CGROUP");
    set_up_namespace(&cg, &env_path("RAWBPF_README_SCRATCH"));
    let bpf = Path::new("/sys/fs/bpf");
    // A fresh bpffs may hold the kernel's own preloaded iterators.
    let entries = || -> Vec<PathBuf> {
        let mut all: Vec<PathBuf> = std::fs::read_dir(bpf)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        all.sort();
        all
    };
    let fresh = entries();
    let all = examples(README);
    for e in &all {
        check(e, &run(e));
    }
    // What the README said stays, and nothing else.
    for left in LEFT_ON_PURPOSE {
        let path = bpf.join(left);
        assert!(path.exists(), "the README says {left} stays");
        let _ = std::fs::remove_file(&path).or_else(|_| std::fs::remove_dir(&path));
    }
    assert_eq!(entries(), fresh, "left in bpffs");
    let cgroups: Vec<_> = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    assert!(cgroups.is_empty(), "cgroups left: {cgroups:?}");
    assert!(attached(&Cgroup::open("/sys/fs/cgroup").unwrap()).is_empty());
    println!("README examples: all ran ({} commands)", all.len());
}
