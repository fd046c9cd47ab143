//! The `rawbpf` command: load a BPF object, attach it to a cgroup, show it works.
//!
//! The process starts in `sys::c_main!` rather than Rust's start-up, which
//! would abort when stdio is closed and /dev has no null device yet, as in
//! an early initramfs.

#![no_main]
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

use std::ffi::OsString;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Duration;

use rawbpf::attach::cgroup::{self, AttachMode, Attachment, Cgroup};
#[cfg(feature = "selftest")]
use rawbpf::selftest;
use rawbpf::sys::{self, AttachFlags, SendOutcome};
use rawbpf::uapi::{AttachType, MapType, ProgType};
use rawbpf::{pin as pins, Error, Loaded};

/// Freed blocks are kept for reuse rather than handed back to the kernel
/// one mmap at a time (see `sys::ReusingAllocator`).
#[global_allocator]
static HEAP: sys::ReusingAllocator = sys::ReusingAllocator::new();

const USAGE: &str = "\
rawbpf: a minimal eBPF loader over its own bpf() system calls

usage:
  rawbpf run [OBJECT] [--cgroup DIR] [--pin DIR] [--legacy-attach[=multi|override]]
             [--verbose] [--trace] [--btf FILE]
      Load every map and program of OBJECT (default: the embedded seed, the
      bpf_timer_cancel example) and attach its cgroup programs to DIR (default:
      a cgroup named 'rawbpf' under the cgroup2 root). Without --pin it stays
      attached until SIGINT, SIGTERM or SIGHUP, then detaches and cleans up.
      With --pin DIR (a directory inside a bpffs, or a name under its mount)
      it pins the links, maps and programs not attached there, records
      what it pinned in the symlink DIR/rawbpf_run and exits;
      `rawbpf detach --pin DIR` undoes that. Any failure or stop signal
      before the end undoes everything the run did.
      --legacy-attach  attach with BPF_PROG_ATTACH instead of a BPF link, with
                       BPF_F_ALLOW_MULTI (the default) or BPF_F_ALLOW_OVERRIDE
      --verbose        ask the kernel about what it holds (ids, tags), list
                       the bpf() commands that loaded and attached it, and
                       say how long they took
      --trace          print every bpf() call on stderr as it happens: the
                       command, its decoded fields, the result or errno, time
      --btf FILE       resolve CO-RE relocations against FILE (another
                       kernel's vmlinux BTF) instead of /sys/kernel/btf/vmlinux
  rawbpf detach --pin DIR [--cgroup DIR] [--trace]
      Detach and unpin what `run --pin DIR` left, as its record there says;
      anything else in DIR is left alone. --cgroup is only needed if the
      cgroup moved, and must be the one the programs are attached to.
  rawbpf demo [--trace]
      Load the embedded seed, attach it to a fresh cgroup, show the kernel
      drops a UDP datagram to 127.0.0.1 sent from inside it, detach, show the
      datagram now passes, and clean everything up.
  rawbpf show [--cgroup DIR] [--pin DIR]
      What the kernel has attached directly to the cgroup DIR (each cgroup
      attach type: program id, name, type, link id) and what is pinned under
      the bpffs directory DIR (a name goes under the bpffs mount). Without
      either: the cgroup2 root and the bpffs mount.
  rawbpf selftest [--trace]
      Check on the running kernel what bpf_timer_cancel is documented to
      return (and what it does beyond that), and print a table; exit status 0
      only if everything documented holds.
  rawbpf inspect OBJECT
      What is inside OBJECT, as the loader sees it: sections, programs with
      their program and attach types, maps with key and value types as C,
      global data and its variables, relocations by kind, externs, and the
      BTF fix-ups rawbpf makes. No kernel and no root needed.
  rawbpf disasm OBJECT [--relocated] [--alu32] [PROGRAM]
      Every program's instructions in llvm-objdump's syntax, annotated after
      ';' with the map, global, function or helper each refers to. With
      --relocated, each program as BPF_PROG_LOAD receives it: subprograms
      appended, pseudo sources set, func_info and source lines interleaved.
      --alu32 prints sub-register loads and stores as llvm -mcpu=v3 does.
      No kernel and no root needed.
  rawbpf help | --help | --version

exit status: 0 success, 1 failure, 2 bad usage, 3 (selftest) the kernel is
too old to test: it has no bpf_timer helpers (Linux 5.15 or later)";

/// Prints to stdout, ignoring errors: a closed stdout or a reader that went
/// away (`rawbpf demo | head`) must not abort the process halfway, with
/// programs attached and a cgroup left behind.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// A command-line mistake (exit status 2).
struct Usage(String);

enum Failure {
    Usage(Usage),
    Run(Error),
    /// The kernel lacks what the command tests (exit status 3).
    #[cfg_attr(not(feature = "selftest"), allow(dead_code))]
    TooOld(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Run(e)
    }
}

impl From<Usage> for Failure {
    fn from(u: Usage) -> Failure {
        Failure::Usage(u)
    }
}

#[derive(Default)]
struct RunArgs {
    object: Option<PathBuf>,
    cgroup: Option<PathBuf>,
    pin: Option<String>,
    legacy: Option<AttachFlags>,
    verbose: bool,
    btf: Option<PathBuf>,
}

fn parse_run(args: &[String]) -> Result<RunArgs, Usage> {
    let mut out = RunArgs::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| Usage(format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--cgroup" => out.cgroup = Some(non_empty("--cgroup", value("--cgroup")?)?.into()),
            "--pin" => out.pin = Some(non_empty("--pin", value("--pin")?)?),
            "--legacy-attach" | "--legacy-attach=multi" => {
                out.legacy = Some(AttachFlags::ALLOW_MULTI)
            }
            "--legacy-attach=override" => out.legacy = Some(AttachFlags::ALLOW_OVERRIDE),
            "--verbose" | "-v" => out.verbose = true,
            "--trace" => sys::set_trace(true),
            "--btf" => out.btf = Some(value("--btf")?.into()),
            a if a.starts_with('-') => return Err(Usage(format!("unknown option '{a}'"))),
            a if out.object.is_none() => out.object = Some(a.into()),
            a => return Err(Usage(format!("unexpected argument '{a}'"))),
        }
    }
    Ok(out)
}

rawbpf::c_main!(cli);

/// The command line, minus the program name, to an exit status.
fn cli(args: Vec<OsString>) -> u8 {
    let status = match args
        .into_iter()
        .map(OsString::into_string)
        .collect::<Result<Vec<String>, _>>()
    {
        Ok(args) => report(command(&args)),
        Err(bad) => report(Err(Usage(format!(
            "argument {} is not valid UTF-8",
            bad.to_string_lossy()
        ))
        .into())),
    };
    let _ = std::io::Write::flush(&mut std::io::stdout());
    status
}

fn command(args: &[String]) -> Result<(), Failure> {
    // `--trace` after demo, selftest or detach (run parses its own).
    let trace = matches!(
        args.first().map(String::as_str),
        Some("demo" | "selftest" | "detach")
    ) && args.iter().any(|a| a == "--trace");
    let args: Vec<String> = if trace {
        sys::set_trace(true);
        args.iter().filter(|a| *a != "--trace").cloned().collect()
    } else {
        args.to_vec()
    };
    let args = &args[..];
    match args.first().map(String::as_str) {
        None | Some("help" | "--help" | "-h") => {
            outln!("{USAGE}");
            Ok(())
        }
        Some("--version" | "-V") => {
            outln!("rawbpf {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Some("run") => parse_run(&args[1..]).map_err(Failure::from).and_then(run),
        Some("detach") => detach(&args[1..]),
        Some("demo") => no_arguments("demo", &args[1..]).and_then(|()| demo()),
        #[cfg(feature = "selftest")]
        Some("selftest") => no_arguments("selftest", &args[1..]).and_then(|()| selftest()),
        #[cfg(feature = "tools")]
        Some("disasm") => disasm(&args[1..]),
        #[cfg(feature = "tools")]
        Some("inspect") => match &args[1..] {
            [object] => {
                out!(
                    "{}",
                    rawbpf::object::inspect::inspect(&read_object(object)?)?
                );
                Ok(())
            }
            _ => Err(Usage("inspect takes one OBJECT".into()).into()),
        },
        #[cfg(not(all(feature = "selftest", feature = "tools")))]
        Some(cmd @ ("selftest" | "disasm" | "inspect")) => Err(Error::Env(format!(
            "'{cmd}' is not in this build of rawbpf: it was built without the \
             selftest and tools features, as `make static` builds the initramfs binary"
        ))
        .into()),
        Some("show") => show(&args[1..]),
        Some(other) => Err(Usage(format!("unknown command '{other}'")).into()),
    }
}

/// Refuses arguments to a subcommand that takes none.
fn no_arguments(command: &str, rest: &[String]) -> Result<(), Failure> {
    match rest.first() {
        None => Ok(()),
        Some(extra) => Err(Usage(format!("'{command}' takes no arguments (got '{extra}')")).into()),
    }
}

/// A `--cgroup` or `--pin` value must not be empty: an empty path would
/// otherwise resolve to some directory nobody meant.
fn non_empty(option: &str, value: String) -> Result<String, Usage> {
    if value.is_empty() {
        Err(Usage(format!("{option} is empty: give a directory")))
    } else {
        Ok(value)
    }
}

/// Prints a failure and gives the exit status: 0, 1 failure, 2 bad usage.
fn report(result: Result<(), Failure>) -> u8 {
    match result {
        Ok(()) => 0,
        Err(Failure::Usage(Usage(msg))) => {
            errln!("rawbpf: {msg}\n(see `rawbpf --help`)");
            2
        }
        Err(Failure::Run(e)) => {
            errln!("rawbpf: {e}");
            1
        }
        Err(Failure::TooOld(e)) => {
            errln!("rawbpf: {e}");
            3
        }
    }
}

/// The signals that stop `run` and `demo`: each cleans up and exits.
const STOP_SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Ends the current step if a stop signal arrived; returning drops (and so
/// undoes) everything done so far.
fn check_stop() -> Result<(), Error> {
    match sys::stop_signal() {
        Some(signal) => Err(Error::Interrupted { signal }),
        None => Ok(()),
    }
}

/// What `run` will do with each program of the object, known before any
/// bpf() call: (function name, attaches to a cgroup).
fn plan_programs(p: &rawbpf::load::Prepared<'_>) -> Vec<(String, bool)> {
    p.object
        .programs
        .iter()
        .filter_map(|&e| p.object.functions.get(e))
        .map(|f| {
            let cgroup = p
                .object
                .sections
                .get(f.section)
                .and_then(|s| rawbpf::load::program::ProgKind::from_section(&s.name))
                .is_some_and(|k| k.attaches_to_cgroup());
            (f.name.clone(), cgroup)
        })
        .collect()
}

fn run(args: RunArgs) -> Result<(), Failure> {
    // From here SIGINT, SIGTERM and SIGHUP are noted instead of killing the
    // process; each step below checks, and returning undoes what was done.
    sys::install_stop_handlers(&STOP_SIGNALS).map_err(|e| Error::os("sigaction", e))?;

    // 1. Every argument is checked before the first bpf() call: the object
    // (read and parsed), the pin directory, the cgroup.
    let bytes: std::borrow::Cow<'_, [u8]> = match &args.object {
        Some(path) => rawbpf::load::read_object(path)?.into(),
        None => rawbpf::SEED_OBJECT.into(),
    };
    let prepared = rawbpf::load::prepare(&bytes)?;
    let programs = plan_programs(&prepared);
    let needs_cgroup = programs.iter().any(|(_, cg)| *cg);
    let mode = match args.legacy {
        Some(flags) => AttachMode::Legacy(flags),
        None => AttachMode::Link,
    };
    let pin_dir = match &args.pin {
        Some(pin) => {
            let dir = pins::resolve_pin_dir(pin, rawbpf::kernel::mounts::bpffs_root)?;
            let maps: Vec<(String, bool)> = prepared
                .maps
                .iter()
                .map(|m| (m.name.clone(), m.pin_by_name))
                .collect();
            let attached: Vec<(String, bool)> = programs
                .iter()
                .filter(|(_, cg)| *cg)
                .map(|(n, _)| (n.clone(), mode == AttachMode::Link))
                .collect();
            let unattached: Vec<String> = programs
                .iter()
                .filter(|(_, cg)| !*cg)
                .map(|(n, _)| n.clone())
                .collect();
            pins::check_free(&dir, &pins::planned_names(&maps, &attached, &unattached))?;
            Some(dir)
        }
        None => None,
    };
    let by_name: Vec<String> = prepared
        .maps
        .iter()
        .filter(|m| m.pin_by_name)
        .map(|m| m.name.clone())
        .collect();
    let cgroup = match (&args.cgroup, needs_cgroup) {
        (_, false) => None,
        (Some(dir), true) => Some(Cgroup::open(dir)?),
        (None, true) => Some(Cgroup::create("rawbpf")?),
    };
    if let (Some(_), Some(cg)) = (&pin_dir, &cgroup) {
        pins::check_cgroup_path(cg.path())?;
    }
    check_stop()?;

    // 2. Load and attach.
    if args.verbose {
        sys::start_call_log();
    }
    let reuse_from = pin_dir
        .as_ref()
        .filter(|d| d.exists)
        .map(|d| d.path.as_path());
    // The object parsed in step 1, not parsed again.
    let loaded = rawbpf::load::load_prepared(
        prepared,
        &rawbpf::load::Options {
            pin_dir: reuse_from,
            target_btf: args.btf.as_deref(),
        },
    )?;
    check_stop()?;
    let attachments = match &cgroup {
        Some(cg) => cgroup::attach_all(&loaded, cg, mode)?,
        None => Vec::new(),
    };
    // From here a stop signal is the normal end of a run without --pin
    // (detach and exit 0), and ends a run with --pin before it pins.
    // The load and attach calls only, before describe() adds its queries.
    let calls = sys::take_timed_call_log();
    if args.verbose {
        out!("{}", describe(&loaded, &attachments, cgroup.as_ref()));
        let names: Vec<&str> = calls.iter().map(|c| c.cmd.name()).collect();
        outln!(
            "bpf() calls to load and attach ({}): {}",
            names.len(),
            names.join(", ")
        );
        outln!("{}", call_time(&calls, "load and attach"));
    } else {
        // What the loader already knows: no query, no system call per object.
        out!("{}", summary(&loaded, &attachments, cgroup.as_ref()));
    }
    let unattached: Vec<&str> = loaded
        .programs
        .iter()
        .filter(|p| !attachments.iter().any(|a| a.program == p.name))
        .map(|p| p.name.as_str())
        .collect();

    // 3a. With --pin: pin everything, all or nothing, and exit.
    if let Some(dir) = &pin_dir {
        check_stop()?;
        let record = cgroup.as_ref().map(|cg| pins::CgroupRecord {
            cgroup: cg,
            created: cg.removes_on_drop(),
        });
        if args.verbose {
            sys::start_call_log();
        }
        pins::pin_run(dir, &loaded, attachments, record)?;
        if args.verbose {
            outln!("{}", call_time(&sys::take_timed_call_log(), "pin"));
        }
        if !unattached.is_empty() {
            outln!(
                "pinned the programs not attached as prog_NAME: {}",
                unattached.join(", ")
            );
        }
        outln!(
            "pinned under {}; undo with: rawbpf detach --pin {}",
            dir.path.display(),
            dir.path.display()
        );
        // The cgroup stays: the pinned programs are attached to it.
        if let Some(cg) = cgroup {
            cg.keep();
        }
        return Ok(());
    }

    // 3b. Without --pin: stay until a stop signal, then undo everything.
    if !by_name.is_empty() {
        outln!(
            "maps asking to be pinned by name (LIBBPF_PIN_BY_NAME) are not pinned without --pin: {}",
            by_name.join(", ")
        );
    }
    if !unattached.is_empty() {
        outln!(
            "loaded but not attached (they go when rawbpf exits; --pin DIR keeps them): {}",
            unattached.join(", ")
        );
    }
    if attachments.is_empty() {
        outln!("loaded (no cgroup programs to attach); press Ctrl-C (or send SIGTERM) to unload and exit");
    } else {
        outln!("attached; press Ctrl-C (or send SIGTERM) to detach and exit");
    }
    let signals = sys::block_signals(&STOP_SIGNALS).map_err(|e| Error::os("sigprocmask", e))?;
    let sig = match sys::stop_signal() {
        Some(sig) => sig,
        None => signals.wait().map_err(|e| Error::os("sigwaitinfo", e))?,
    };
    for a in attachments {
        a.detach()?;
    }
    outln!("{}: detached", rawbpf::error::signal_name(sig));
    Ok(())
}

fn detach(args: &[String]) -> Result<(), Failure> {
    let (mut pin, mut cg) = (None, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match (arg.as_str(), it.next()) {
            ("--pin", Some(v)) => pin = Some(non_empty("--pin", v.clone())?),
            ("--cgroup", Some(v)) => cg = Some(non_empty("--cgroup", v.clone())?),
            (a, _) => {
                return Err(Usage(format!(
                    "unexpected argument '{a}' (detach takes --pin DIR [--cgroup DIR])"
                ))
                .into())
            }
        }
    }
    let pin = pin.ok_or_else(|| Usage("detach needs --pin DIR".into()))?;
    let dir = pins::resolve_pin_dir(&pin, || {
        rawbpf::kernel::mounts::find_mount("bpf")?
            .ok_or_else(|| Error::Env("no bpf file system is mounted".into()))
    })?;
    let cgroup = cg.map(Cgroup::open).transpose()?;
    let report = pins::detach(&dir, cgroup.as_ref())?;
    for note in &report.notes {
        outln!("{note}");
    }
    outln!(
        "detached {} program(s) pinned under {}",
        report.detached,
        dir.path.display()
    );
    Ok(())
}

fn show(args: &[String]) -> Result<(), Failure> {
    let (mut pin, mut cg) = (None, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match (arg.as_str(), it.next()) {
            ("--pin", Some(v)) => pin = Some(v.clone()),
            ("--cgroup", Some(v)) => cg = Some(PathBuf::from(v)),
            (a, _) => {
                return Err(Usage(format!(
                    "unexpected argument '{a}' (show takes [--cgroup DIR] [--pin DIR])"
                ))
                .into())
            }
        }
    }
    if pin.is_none() && cg.is_none() {
        cg = Some(
            rawbpf::kernel::mounts::find_mount("cgroup2")?
                .ok_or_else(|| Error::Env("no cgroup2 hierarchy is mounted".into()))?,
        );
        pin = rawbpf::kernel::mounts::find_mount("bpf")?.map(|p| p.display().to_string());
    }
    if let Some(dir) = cg {
        let attached = rawbpf::show::cgroup_attachments(&dir)?;
        out!("{}", rawbpf::show::format_attachments(&dir, &attached));
    }
    if let Some(pin) = pin {
        let dir = if pin.starts_with('/') {
            PathBuf::from(pin)
        } else {
            rawbpf::kernel::mounts::find_mount("bpf")?
                .ok_or_else(|| Error::Env(format!("no bpffs is mounted to find '{pin}' in")))?
                .join(pin)
        };
        let pins = rawbpf::show::pins(&dir)?;
        out!("{}", rawbpf::show::format_pins(&dir, &pins));
    }
    Ok(())
}

fn name(bytes: &[u8]) -> String {
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..len]).into_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How long `calls` took, summed (over threads, when programs load in
/// parallel), in all and by command.
fn call_time(calls: &[sys::Call], what: &str) -> String {
    let us = |nanos: u64| format!("{}.{} us", nanos / 1000, nanos % 1000 / 100);
    let mut by_cmd: Vec<(sys::Cmd, usize, u64)> = Vec::new();
    for call in calls {
        match by_cmd.iter_mut().find(|(cmd, ..)| *cmd == call.cmd) {
            Some((_, n, nanos)) => {
                *n += 1;
                *nanos += call.nanos;
            }
            None => by_cmd.push((call.cmd, 1, call.nanos)),
        }
    }
    let parts: Vec<String> = by_cmd
        .iter()
        .map(|&(cmd, n, nanos)| format!("{} x{n} {}", cmd.name(), us(nanos)))
        .collect();
    format!(
        "bpf() time: {} in {} calls to {what} ({})",
        us(calls.iter().map(|c| c.nanos).sum()),
        calls.len(),
        parts.join(", ")
    )
}

/// What the loader made, from what it already knows: one line per object and
/// not one system call (`--verbose` asks the kernel instead, see [`describe`]).
fn summary(loaded: &Loaded, attachments: &[Attachment], cgroup: Option<&Cgroup>) -> String {
    let mut out = String::new();
    for map in &loaded.maps {
        out += &format!(
            "map     {:<16} type {} key {} value {} entries {}\n",
            map.name,
            MapType(map.map_type),
            map.key_size,
            map.value_size,
            map.max_entries
        );
    }
    for prog in &loaded.programs {
        out += &format!(
            "prog    {:<16} type {} section {} ({} insns)\n",
            prog.name,
            ProgType(prog.kind.prog_type),
            prog.section,
            prog.insn_count
        );
    }
    let target = cgroup
        .map(|c| c.path().display().to_string())
        .unwrap_or_default();
    for a in attachments {
        let how = if a.link().is_some() {
            "link  "
        } else {
            "legacy"
        };
        out += &format!(
            "{how}  {} -> {target} (attach type {})\n",
            a.program,
            AttachType(a.attach_type)
        );
    }
    out
}

/// What the kernel says it holds for this object, one line per object.
fn describe(loaded: &Loaded, attachments: &[Attachment], cgroup: Option<&Cgroup>) -> String {
    let mut out = String::new();
    if let Some(btf) = &loaded.btf {
        if let Ok(info) = sys::btf_info(btf.as_fd()) {
            out += &format!("btf     id {}  {} bytes\n", info.id, info.btf_size);
        }
    }
    for map in &loaded.maps {
        if let Ok(info) = map.info() {
            out += &format!(
                "map     id {:<5} {:<16} type {} key {} value {} entries {}{}\n",
                info.id,
                name(&info.name),
                MapType(info.map_type),
                info.key_size,
                info.value_size,
                info.max_entries,
                if info.btf_id != 0 { "  (BTF)" } else { "" }
            );
        }
    }
    for prog in &loaded.programs {
        if let Ok((info, maps)) = prog.info() {
            out += &format!(
                "prog    id {:<5} {:<16} type {} tag {} verified insns {} maps {:?}\n",
                info.id,
                name(&info.name),
                ProgType(info.prog_type),
                hex(&info.tag),
                info.verified_insns,
                maps
            );
        }
    }
    for a in attachments {
        let target = cgroup
            .map(|c| c.path().display().to_string())
            .unwrap_or_default();
        match a.link().map(sys::link_info) {
            Some(Ok(info)) => {
                out += &format!(
                    "link    id {:<5} {} -> {target} (attach type {})\n",
                    info.id,
                    a.program,
                    AttachType(a.attach_type)
                )
            }
            _ => {
                out += &format!(
                    "attach  legacy  {} -> {target} (attach type {})\n",
                    a.program,
                    AttachType(a.attach_type)
                )
            }
        }
    }
    out
}

/// An object file, read with the loader's checks (a regular file, capped).
#[cfg(feature = "tools")]
fn read_object(path: &str) -> Result<Vec<u8>, Error> {
    rawbpf::load::read_object(std::path::Path::new(path))
}

/// `rawbpf disasm OBJECT [--relocated] [--alu32] [PROGRAM]`.
#[cfg(feature = "tools")]
fn disasm(args: &[String]) -> Result<(), Failure> {
    let mut opts = rawbpf::object::disasm::Options::default();
    let (mut object, mut relocated) = (None, false);
    for arg in args {
        match arg.as_str() {
            "--relocated" => relocated = true,
            "--alu32" => opts.syntax.alu32 = true,
            a if a.starts_with('-') => return Err(Usage(format!("unknown option '{a}'")).into()),
            a if object.is_none() => object = Some(a.to_string()),
            a if opts.program.is_none() => opts.program = Some(a.to_string()),
            a => return Err(Usage(format!("unexpected argument '{a}'")).into()),
        }
    }
    let object = object.ok_or_else(|| Usage("disasm needs an OBJECT".into()))?;
    let bytes = read_object(&object)?;
    let text = if relocated {
        rawbpf::object::disasm::relocated(&bytes, &opts)?
    } else {
        rawbpf::object::disasm::object(&bytes, &opts)?
    };
    out!("{text}");
    Ok(())
}

/// The main job in one shot (`make run`).
fn demo() -> Result<(), Failure> {
    // A stop signal ends the demo at the next step; returning removes its
    // cgroup and unloads everything.
    sys::install_stop_handlers(&STOP_SIGNALS).map_err(|e| Error::io("sigaction", e))?;
    let loaded = rawbpf::load(rawbpf::SEED_OBJECT)?;
    let cgroup = Cgroup::create_unique("rawbpf-demo")?;
    check_stop()?;
    let receiver = UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .map_err(|e| Error::os("UDP socket on 127.0.0.1", e))?;
    receiver
        .set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(|e| Error::os("UDP socket", e))?;
    let dst: SocketAddr = receiver
        .local_addr()
        .map_err(|e| Error::os("UDP socket", e))?;

    let prog = loaded
        .program("bpf_prog1")
        .ok_or_else(|| Error::Env("the embedded seed has no program bpf_prog1".into()))?;
    let attachment = cgroup::attach(prog, &cgroup, AttachMode::Link)?;
    check_stop()?;
    out!(
        "{}",
        describe(&loaded, std::slice::from_ref(&attachment), Some(&cgroup))
    );
    let (_, ids) = cgroup.query(attachment.attach_type)?;
    outln!(
        "cgroup  {} egress programs (BPF_PROG_QUERY): {ids:?}",
        cgroup.path().display()
    );

    let attached = cgroup.send_udp(dst)?;
    let got_attached = receive(&receiver);
    check_stop()?;
    outln!(
        "send from inside the cgroup while attached: {}",
        outcome(attached, got_attached)
    );
    attachment.detach()?;
    let detached = cgroup.send_udp(dst)?;
    let got_detached = receive(&receiver);
    check_stop()?;
    outln!(
        "send from inside the cgroup after detach:   {}",
        outcome(detached, got_detached)
    );

    let ok = attached == SendOutcome::Failed(libc::EPERM)
        && !got_attached
        && detached == SendOutcome::Sent
        && got_detached;
    drop(loaded);
    drop(cgroup);
    if ok {
        outln!("ok: the program dropped egress traffic while attached; everything is cleaned up");
        Ok(())
    } else {
        Err(Error::Env("the demo did not see the expected drop-then-pass behaviour".into()).into())
    }
}

fn receive(socket: &UdpSocket) -> bool {
    let mut buf = [0u8; 64];
    matches!(socket.recv(&mut buf), Ok(n) if &buf[..n] == b"rawbpf")
}

fn outcome(sent: SendOutcome, received: bool) -> String {
    let send = match sent {
        SendOutcome::Sent => "send() ok".to_string(),
        SendOutcome::Failed(errno) => format!(
            "send() failed: {}",
            std::io::Error::from_raw_os_error(errno)
        ),
    };
    format!(
        "{send}, {}",
        if received { "received" } else { "not received" }
    )
}

/// The bpf_timer_cancel conformance suite on the running kernel.
#[cfg(feature = "selftest")]
fn selftest() -> Result<(), Failure> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    outln!("bpf_timer_cancel on Linux {}", release.trim());
    let rows = match selftest::return_value_cases() {
        Err(e) if rawbpf::load::program::lacks_bpf_timer(&e) => {
            outln!("{}: nothing to test", rawbpf::load::program::NO_BPF_TIMER);
            return Err(Failure::TooOld(e));
        }
        other => other?,
    };
    out!("{}", selftest::format_cases(&rows));
    outln!();
    let types = selftest::program_types()?;
    out!("{}", selftest::format_types(&types));
    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| r.verdict == selftest::Verdict::Fail)
        .map(|r| r.case)
        .chain(
            types
                .iter()
                .filter(|t| t.verdict == selftest::Verdict::Fail)
                .map(|t| t.prog_type),
        )
        .collect();
    if failed.is_empty() {
        outln!("all documented behaviour holds");
        Ok(())
    } else {
        Err(Error::Env(format!(
            "{} case(s) failed: {}",
            failed.len(),
            failed.join("; ")
        ))
        .into())
    }
}
