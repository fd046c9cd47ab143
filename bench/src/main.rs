//! `make bench`: rawbpf against a libbpf peer loader, on the same jobs, side
//! by side.
//!
//! Both loaders do `run OBJECT --pin DIR --cgroup CG` (load every map and
//! program, attach the cgroup programs with links, pin maps and links, exit)
//! and are started the same way, by `launch` (bench/launch.c), which times the
//! whole process from fork to wait4, reads its peak RSS from wait4's rusage and
//! removes the pins afterwards. A static hello world started the same way is
//! the floor of what any process costs. Runs alternate (rawbpf, libbpf, hello,
//! then hello, libbpf, rawbpf) so that a machine getting busier or quieter
//! weighs on both alike, and the rawbpf/libbpf ratio is taken pair by pair,
//! each rawbpf run against the libbpf run beside it.
//!
//! Syscall counts come from `strace -f -c`, one run each; the time rawbpf's
//! bpf() calls spent in the kernel from `rawbpf run --verbose`, which times
//! each call.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use rawbpf::attach::cgroup::{self, Cgroup};
use rawbpf::uapi::attach_type;

const USAGE: &str = "usage: rawbpf-bench --rawbpf BIN --peer BIN --launch BIN --hello BIN \
[--runs N] [--expect-seed-calls] [--rawbpf-arg ARG]... OBJECT...";

/// The seed: 7 bpf() calls to load and attach, and with --pin one for the
/// attached program's id and tag (the record `detach` reads, a symlink)
/// and one pin per map (hmap, .rodata) and link.
const SEED_FILE: &str = "timer_cancel.bpf.o";
const SEED_CALLS: u64 = 7 + 1 + 3;

struct Args {
    runs: usize,
    rawbpf: PathBuf,
    peer: PathBuf,
    launch: PathBuf,
    hello: PathBuf,
    expect_seed_calls: bool,
    /// Extra arguments for every `rawbpf run` (`--rawbpf-arg`, repeated).
    rawbpf_args: Vec<PathBuf>,
    objects: Vec<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut rawbpf, mut peer, mut launch, mut hello) = (None, None, None, None);
    let mut runs = 31;
    let mut expect_seed_calls = false;
    let mut rawbpf_args = Vec::new();
    let mut objects = Vec::new();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--rawbpf" => rawbpf = Some(value("--rawbpf")?),
            "--peer" => peer = Some(value("--peer")?),
            "--launch" => launch = Some(value("--launch")?),
            "--hello" => hello = Some(value("--hello")?),
            "--runs" => {
                runs = value("--runs")?
                    .parse()
                    .map_err(|_| "--runs needs a number".to_string())?
            }
            "--expect-seed-calls" => expect_seed_calls = true,
            "--rawbpf-arg" => rawbpf_args.push(PathBuf::from(value("--rawbpf-arg")?)),
            a if a.starts_with('-') => return Err(format!("unknown option {a}")),
            a => objects.push(PathBuf::from(a)),
        }
    }
    let abs = |p: Option<String>, name: &str| -> Result<PathBuf, String> {
        let p = p.ok_or(format!("{name} is required"))?;
        std::fs::canonicalize(&p).map_err(|e| format!("{name} {p}: {e}"))
    };
    if runs == 0 || objects.is_empty() {
        return Err("need at least one run and one object".into());
    }
    Ok(Args {
        runs,
        rawbpf: abs(rawbpf, "--rawbpf")?,
        peer: abs(peer, "--peer")?,
        launch: abs(launch, "--launch")?,
        hello: abs(hello, "--hello")?,
        expect_seed_calls,
        rawbpf_args,
        objects: objects
            .into_iter()
            .map(|o| std::fs::canonicalize(&o).map_err(|e| format!("{}: {e}", o.display())))
            .collect::<Result<_, _>>()?,
    })
}

/// One process as `launch` saw it.
#[derive(Clone, Copy, Debug)]
struct Sample {
    wall_ns: u64,
    maxrss_kib: u64,
    /// User plus system time: what the process itself used of a CPU, which
    /// other load on the machine changes little.
    cpu_us: u64,
}

/// What one launch printed: the sample and the program's own output.
struct Launched {
    sample: Sample,
    stdout: String,
}

/// The fixed parts of every launch: the launcher, the cgroup the loaders
/// attach to (ours, removed on drop) and the pin directory (made by the
/// loader, removed by the launcher after each run).
struct Bench {
    launch: PathBuf,
    cgroup: Cgroup,
    pin: PathBuf,
}

impl Bench {
    /// Starts `argv` through the launcher and waits until what it attached is
    /// gone again (removing a link's last pin detaches it, in a kernel work
    /// item that may finish after the launcher).
    fn launch(&self, argv: &[&Path], pins: bool) -> Result<Launched, String> {
        let out = Command::new(&self.launch)
            .arg(if pins {
                self.pin.as_path()
            } else {
                Path::new("-")
            })
            .args(argv)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", self.launch.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!("launch failed: {}", stderr.trim()));
        }
        let (program_out, last) = match stdout.trim_end().rsplit_once('\n') {
            Some((before, last)) => (before.to_string(), last),
            None => (String::new(), stdout.trim_end()),
        };
        let fields: Vec<u64> = last
            .split(' ')
            .map(|f| f.parse().map_err(|_| format!("launch printed '{last}'")))
            .collect::<Result<_, _>>()?;
        let [status, wall_ns, maxrss_kib, user_us, sys_us] = fields[..] else {
            return Err(format!("launch printed '{last}'"));
        };
        if pins {
            self.wait_detached()?;
        }
        if status != 0 {
            let first = stderr.lines().next().unwrap_or("").trim();
            return Err(format!("exit status {status}: {first}"));
        }
        Ok(Launched {
            sample: Sample {
                wall_ns,
                maxrss_kib,
                cpu_us: user_us + sys_us,
            },
            stdout: program_out,
        })
    }

    fn wait_detached(&self) -> Result<(), String> {
        let start = Instant::now();
        loop {
            let mut attached = 0;
            for at in [
                attach_type::CGROUP_INET_INGRESS,
                attach_type::CGROUP_INET_EGRESS,
            ] {
                let (_, ids) = self.cgroup.query(at).map_err(|e| e.to_string())?;
                attached += ids.len();
            }
            if attached == 0 {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(5) {
                return Err(format!(
                    "{attached} program(s) still attached to {} 5 s after their pins were removed",
                    self.cgroup.path().display()
                ));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

/// `strace -f -c` of one run: (bpf() calls, all system calls).
fn count_syscalls(bench: &Bench, strace: &Path, argv: &[&Path]) -> Result<(u64, u64), String> {
    let file = std::env::temp_dir().join(format!("rawbpf-bench-strace-{}", std::process::id()));
    let mut full: Vec<&Path> = vec![
        strace,
        Path::new("-f"),
        Path::new("-qq"),
        Path::new("-c"),
        Path::new("-U"),
        Path::new("name,calls"),
        Path::new("-o"),
        &file,
    ];
    full.extend_from_slice(argv);
    let result = bench.launch(&full, true);
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let _ = std::fs::remove_file(&file);
    result?;
    // "syscall            calls" lines, then "total" (strace -U name,calls).
    let (mut bpf, mut total) = (None, None);
    for line in text.lines() {
        let mut f = line.split_whitespace();
        if let (Some(name), Some(calls)) = (f.next(), f.next()) {
            match (name, calls.parse::<u64>()) {
                ("bpf", Ok(n)) => bpf = Some(n),
                ("total", Ok(n)) => total = Some(n),
                _ => {}
            }
        }
    }
    let total = total.ok_or(format!("no total in strace's summary:\n{text}"))?;
    Ok((bpf.unwrap_or(0), total))
}

/// The time `rawbpf run --verbose` says its bpf() calls took, in ns.
fn bpf_time_ns(verbose_out: &str) -> Option<u64> {
    // "bpf() time: 612.3 us in 7 calls to load and attach"
    let mut sum = None;
    for line in verbose_out.lines() {
        if let Some(rest) = line.strip_prefix("bpf() time: ") {
            let us = rest.split(' ').next()?;
            let (whole, tenth) = us.split_once('.').unwrap_or((us, "0"));
            let ns = whole.parse::<u64>().ok()? * 1000 + tenth.parse::<u64>().ok()? * 100;
            *sum.get_or_insert(0) += ns;
        }
    }
    sum
}

fn median(v: &[u64]) -> u64 {
    let mut v = v.to_vec();
    v.sort_unstable();
    v[v.len() / 2]
}

/// The value below which `q` of the sorted values lie (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

fn ms(ns: u64) -> String {
    format!("{:.2} ms", ns as f64 / 1e6)
}

fn kib(bytes: u64) -> String {
    format!("{} KiB", bytes.div_ceil(1024))
}

fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        return "-".into();
    }
    format!("{:.2}x", a as f64 / b as f64)
}

/// Everything measured for one loader on one object.
struct Measured {
    size: u64,
    rss_kib: u64,
    bpf_calls: u64,
    syscalls: u64,
    walls: Vec<u64>,
    cpu_ns: Vec<u64>,
}

/// One object's table, and its line for the summary.
struct ObjectResult {
    table: String,
    summary: String,
    seed_calls_ok: Option<bool>,
}

/// Programs and maps in rawbpf's summary of a run.
fn count_lines(out: &str, prefix: &str) -> usize {
    out.lines().filter(|l| l.starts_with(prefix)).count()
}

fn bench_object(args: &Args, bench: &Bench, strace: &Path, object: &Path) -> ObjectResult {
    let pin = bench.pin.as_path();
    let cg = bench.cgroup.path();
    let p = Path::new;
    let mut raw_argv = vec![
        args.rawbpf.as_path(),
        p("run"),
        object,
        p("--pin"),
        pin,
        p("--cgroup"),
        cg,
    ];
    raw_argv.extend(args.rawbpf_args.iter().map(PathBuf::as_path));
    let peer_argv = [
        args.peer.as_path(),
        object,
        p("--pin"),
        pin,
        p("--cgroup"),
        cg,
    ];
    let verbose_argv: Vec<&Path> = raw_argv.iter().copied().chain([p("--verbose")]).collect();
    let hello_argv = [args.hello.as_path()];
    let name = object
        .strip_prefix(
            std::env::current_dir()
                .unwrap_or_default()
                .parent()
                .unwrap_or(p("/")),
        )
        .unwrap_or(object);

    let mut table = String::new();
    // A loader that cannot do the job gets a line saying why, not numbers.
    let raw_probe = bench.launch(&raw_argv, true);
    let peer_probe = bench.launch(&peer_argv, true);
    // Both print a line per program ("prog ...") and map ("map ...").
    let (programs, maps) = match raw_probe.as_ref().or(peer_probe.as_ref()) {
        Ok(l) => (
            count_lines(&l.stdout, "prog "),
            count_lines(&l.stdout, "map "),
        ),
        Err(_) => (0, 0),
    };
    let _ = writeln!(
        table,
        "{}  ({} program(s), {} map(s); {} alternating runs)",
        name.display(),
        programs,
        maps,
        args.runs
    );
    for (who, probe) in [("rawbpf", &raw_probe), ("libbpf", &peer_probe)] {
        if let Err(e) = probe {
            let _ = writeln!(table, "  {who} cannot load it: {e}");
        }
    }

    let measure_counts = |argv: &[&Path], bin: &Path| -> Result<(u64, u64, u64), String> {
        let (bpf, all) = count_syscalls(bench, strace, argv)?;
        let size = std::fs::metadata(bin).map(|m| m.len()).unwrap_or(0);
        Ok((size, bpf, all))
    };
    let mut raw = None;
    let mut peer = None;
    if raw_probe.is_ok() {
        match measure_counts(&raw_argv, &args.rawbpf) {
            Ok((size, bpf, all)) => {
                raw = Some(Measured {
                    size,
                    rss_kib: 0,
                    bpf_calls: bpf,
                    syscalls: all,
                    walls: vec![],
                    cpu_ns: vec![],
                })
            }
            Err(e) => {
                let _ = writeln!(table, "  rawbpf under strace: {e}");
            }
        }
    }
    if peer_probe.is_ok() {
        match measure_counts(&peer_argv, &args.peer) {
            Ok((size, bpf, all)) => {
                peer = Some(Measured {
                    size,
                    rss_kib: 0,
                    bpf_calls: bpf,
                    syscalls: all,
                    walls: vec![],
                    cpu_ns: vec![],
                })
            }
            Err(e) => {
                let _ = writeln!(table, "  libbpf under strace: {e}");
            }
        }
    }

    // The timed runs: two rounds of warm-up, then `runs` rounds.
    let (mut hello_walls, mut hello_cpu) = (Vec::new(), Vec::new());
    let (mut raw_rss, mut peer_rss) = (Vec::new(), Vec::new());
    let mut errors = Vec::new();
    for round in 0..args.runs + 2 {
        let order: [u8; 3] = if round % 2 == 0 { [0, 1, 2] } else { [2, 1, 0] };
        for who in order {
            let (argv, pins): (&[&Path], bool) = match who {
                0 if raw.is_some() => (&raw_argv, true),
                1 if peer.is_some() => (&peer_argv, true),
                2 => (&hello_argv, false),
                _ => continue,
            };
            let sample = match bench.launch(argv, pins) {
                Ok(l) => l.sample,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            if round < 2 {
                continue;
            }
            match who {
                0 => {
                    let m = raw.as_mut().expect("checked above");
                    m.walls.push(sample.wall_ns);
                    m.cpu_ns.push(sample.cpu_us * 1000);
                    raw_rss.push(sample.maxrss_kib);
                }
                1 => {
                    let m = peer.as_mut().expect("checked above");
                    m.walls.push(sample.wall_ns);
                    m.cpu_ns.push(sample.cpu_us * 1000);
                    peer_rss.push(sample.maxrss_kib);
                }
                _ => {
                    hello_walls.push(sample.wall_ns);
                    hello_cpu.push(sample.cpu_us * 1000);
                }
            }
        }
    }
    if let Some(e) = errors.first() {
        let _ = writeln!(table, "  {} run(s) failed, the first: {e}", errors.len());
    }
    if let Some(m) = raw.as_mut() {
        m.rss_kib = if raw_rss.is_empty() {
            0
        } else {
            median(&raw_rss)
        };
    }
    if let Some(m) = peer.as_mut() {
        m.rss_kib = if peer_rss.is_empty() {
            0
        } else {
            median(&peer_rss)
        };
    }

    // The kernel's share: rawbpf's own timing of its bpf() calls.
    let mut kernel = Vec::new();
    if raw.is_some() {
        for _ in 0..(args.runs / 4).max(3) {
            if let Ok(l) = bench.launch(&verbose_argv, true) {
                kernel.extend(bpf_time_ns(&l.stdout));
            }
        }
    }

    let _ = writeln!(
        table,
        "  {:<14} {:>12} {:>10} {:>7} {:>9} {:>11} {:>12}",
        "", "static size", "peak RSS", "bpf()", "syscalls", "CPU median", "wall median"
    );
    for (who, m) in [("rawbpf", &raw), ("libbpf peer", &peer)] {
        if let Some(m) = m.as_ref().filter(|m| !m.walls.is_empty()) {
            let _ = writeln!(
                table,
                "  {:<14} {:>12} {:>10} {:>7} {:>9} {:>11} {:>12}",
                who,
                kib(m.size),
                format!("{} KiB", m.rss_kib),
                m.bpf_calls,
                m.syscalls,
                ms(median(&m.cpu_ns)),
                ms(median(&m.walls))
            );
        }
    }
    let mut summary = format!("{:<40} {:>4}", name.display(), programs);
    match (&raw, &peer) {
        (Some(r), Some(l)) if !r.walls.is_empty() && r.walls.len() == l.walls.len() => {
            let mut pairs: Vec<f64> = r
                .walls
                .iter()
                .zip(&l.walls)
                .map(|(&a, &b)| a as f64 / b as f64)
                .collect();
            pairs.sort_by(f64::total_cmp);
            let _ = writeln!(
                table,
                "  {:<14} {:>12} {:>10} {:>7} {:>9} {:>11} {:>12}   pair by pair: median {:.2}x, half within {:.2}-{:.2}x, 80% within {:.2}-{:.2}x",
                "rawbpf/libbpf",
                ratio(r.size, l.size),
                ratio(r.rss_kib, l.rss_kib),
                ratio(r.bpf_calls, l.bpf_calls),
                ratio(r.syscalls, l.syscalls),
                ratio(median(&r.cpu_ns), median(&l.cpu_ns)),
                ratio(median(&r.walls), median(&l.walls)),
                quantile(&pairs, 0.5),
                quantile(&pairs, 0.25),
                quantile(&pairs, 0.75),
                quantile(&pairs, 0.1),
                quantile(&pairs, 0.9),
            );
            let _ = write!(
                summary,
                " {:>10} {:>10} {:>7.2}x {:>12}",
                ms(median(&r.walls)),
                ms(median(&l.walls)),
                quantile(&pairs, 0.5),
                if programs > 0 {
                    format!("{:.3} ms", median(&r.walls) as f64 / 1e6 / programs as f64)
                } else {
                    "-".into()
                }
            );
        }
        _ => summary += "   (no comparison: a loader failed)",
    }
    if let (Some(r), false) = (&raw, hello_walls.is_empty()) {
        let hello = median(&hello_walls);
        if kernel.is_empty() {
            let _ = writeln!(
                table,
                "  floor: static hello world {}; rawbpf --verbose gave no bpf() times",
                ms(hello)
            );
        } else if !r.walls.is_empty() {
            // The same in CPU time, which other load on the machine
            // disturbs less than wall time.
            let k = median(&kernel);
            let hello_cpu = median(&hello_cpu);
            let _ = writeln!(
                table,
                "  floor: static hello world {} + rawbpf's bpf() calls in the kernel {} = {}; rawbpf = {} the floor \
                 (in CPU time: {} + {} = {}; rawbpf = {})",
                ms(hello),
                ms(k),
                ms(hello + k),
                ratio(median(&r.walls), hello + k),
                ms(hello_cpu),
                ms(k),
                ms(hello_cpu + k),
                ratio(median(&r.cpu_ns), hello_cpu + k)
            );
        }
    }
    let seed_calls_ok = (object.file_name() == Some(SEED_FILE.as_ref()))
        .then(|| raw.as_ref().map(|r| r.bpf_calls) == Some(SEED_CALLS));
    ObjectResult {
        table,
        summary,
        seed_calls_ok,
    }
}

fn machine() -> String {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "{date}; Linux {}; {} CPU(s) allowed: {cpu}; load average {}",
        read("/proc/sys/kernel/osrelease").trim(),
        rawbpf::sys::CpuSet::of_this_thread().map_or(1, |set| set.cpus().len()),
        read("/proc/loadavg")
            .split(' ')
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// Runs the rest of the benchmark ahead of other work on the machine: in a
/// session of its own, whose autogroup (the unit the scheduler shares CPUs
/// between when `kernel.sched_autogroup_enabled` is 1) gets nice -20, and at
/// nice -20 inside it. On a machine shared with builds and VMs the loaders'
/// wall time is otherwise mostly waiting for a CPU. Returns what was done.
fn prioritize() -> String {
    // SAFETY: setsid and setpriority only change this process's attributes.
    let (sid, prio) = unsafe {
        (
            libc::setsid(),
            libc::setpriority(libc::PRIO_PROCESS, 0, -20),
        )
    };
    let autogroup = sid >= 0 && std::fs::write("/proc/self/autogroup", "-20").is_ok();
    match (autogroup, prio == 0) {
        (true, true) => "runs in an autogroup of its own at nice -20, and at nice -20".into(),
        (false, true) => "runs at nice -20 (no autogroup of its own)".into(),
        (true, false) => "runs in an autogroup of its own at nice -20".into(),
        (false, false) => "runs at normal priority (not root?)".into(),
    }
}

/// Keeps the kernel's cgroup_skb ingress and egress hooks switched on for
/// the whole benchmark: one program of ours attached to a second cgroup of
/// ours. The kernel turns a cgroup hook on with the first program attached
/// anywhere and off with the last detached, rewriting its own code each
/// time (a static key), which waits for every other CPU to acknowledge an
/// interrupt; on a virtual machine whose other vCPU is busy elsewhere that
/// takes milliseconds, twice per run, for either loader alike. With the
/// hooks held on, each run measures the loader rather than that wait.
struct KeysOn {
    _links: Vec<cgroup::Attachment>,
    _loaded: rawbpf::Loaded,
    _cgroup: Cgroup,
}

impl KeysOn {
    fn attach() -> Result<KeysOn, String> {
        const MULTI: &[u8] = include_bytes!("../../bpf/multi.bpf.o");
        let cgroup = Cgroup::create_unique("rawbpf-bench-keys").map_err(|e| e.to_string())?;
        let mut spec = rawbpf::ObjectSpec::parse(MULTI).map_err(|e| e.to_string())?;
        for p in spec.programs_mut() {
            let wanted = p.name().contains("ingress") || p.name().contains("egress");
            p.set_autoload(wanted);
        }
        let loaded = spec
            .load(&rawbpf::LoadOptions::default())
            .map_err(|e| e.to_string())?;
        let links = cgroup::attach_all(&loaded, &cgroup, cgroup::AttachMode::Link)
            .map_err(|e| e.to_string())?;
        Ok(KeysOn {
            _links: links,
            _loaded: loaded,
            _cgroup: cgroup,
        })
    }
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rawbpf-bench: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let Some(strace) = find_in_path("strace") else {
        eprintln!("rawbpf-bench: strace is not installed (make bench installs it)");
        return ExitCode::FAILURE;
    };
    let cgroup = match Cgroup::create_unique("rawbpf-bench") {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rawbpf-bench: a cgroup of our own: {e}");
            return ExitCode::FAILURE;
        }
    };
    let pin = match rawbpf::kernel::mounts::bpffs_root() {
        Ok(root) => root.join(format!("rawbpf-bench-{}", std::process::id())),
        Err(e) => {
            eprintln!("rawbpf-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bench = Bench {
        launch: args.launch.clone(),
        cgroup,
        pin,
    };
    let keys = if std::env::var_os("BENCH_KEYS").is_some_and(|v| v == "0") {
        None
    } else {
        match KeysOn::attach() {
            Ok(k) => Some(k),
            Err(e) => {
                eprintln!("rawbpf-bench: keeping cgroup BPF enabled: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let priority = if std::env::var_os("BENCH_NICE").is_some_and(|v| v == "0") {
        "runs at normal priority (BENCH_NICE=0)".to_string()
    } else {
        prioritize()
    };
    println!("rawbpf bench: {}", machine());
    println!("the benchmark {priority}");
    if keys.is_some() {
        println!(
            "cgroup_skb ingress and egress stay enabled in the kernel meanwhile (a program of the \
             harness attached to a cgroup of its own; BENCH_KEYS=0 to measure without)"
        );
    }
    println!(
        "each loader: `run OBJECT --pin DIR --cgroup CG` as a whole process, started by bench/launch; \
         RSS from wait4, calls from strace -f -c"
    );
    if !args.rawbpf_args.is_empty() {
        let extra: Vec<_> = args
            .rawbpf_args
            .iter()
            .map(|a| a.display().to_string())
            .collect();
        println!("rawbpf runs with {} as well", extra.join(" "));
    }
    println!();
    let mut summaries = Vec::new();
    let mut ok = true;
    for object in &args.objects {
        let r = bench_object(&args, &bench, &strace, object);
        println!("{}", r.table);
        summaries.push(r.summary);
        if args.expect_seed_calls {
            match r.seed_calls_ok {
                Some(true) => println!(
                    "ok: the seed took exactly {SEED_CALLS} bpf() calls (7 to load and attach, 1 for the record's program id, 3 pins)\n"
                ),
                Some(false) => {
                    println!("FAIL: the seed did not take exactly {SEED_CALLS} bpf() calls\n");
                    ok = false;
                }
                None => {}
            }
        }
    }
    if args.expect_seed_calls
        && !args
            .objects
            .iter()
            .any(|o| o.file_name() == Some(SEED_FILE.as_ref()))
    {
        println!("FAIL: --expect-seed-calls without the seed object");
        ok = false;
    }
    println!(
        "{:<40} {:>4} {:>10} {:>10} {:>8} {:>12}",
        "object", "progs", "rawbpf", "libbpf", "ratio", "rawbpf/prog"
    );
    for s in summaries {
        println!("{s}");
    }
    println!("{}", machine());
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
