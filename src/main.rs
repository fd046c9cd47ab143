//! The `rawbpf` command: load a BPF object, attach it to a cgroup, show it works.
//!
//! The process starts in `sys::c_main!` rather than Rust's start-up, which
//! would abort when stdio is closed and /dev has no null device yet, as in
//! an early initramfs.

#![no_main]
#![deny(unsafe_code)]

use std::ffi::OsString;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Duration;

use rawbpf::cgroup::{self, AttachMode, Attachment, Cgroup};
use rawbpf::sys::{self, AttachFlags, SendOutcome};
use rawbpf::{selftest, Error, Loaded};

const USAGE: &str = "\
rawbpf: a minimal eBPF loader over its own bpf() system calls

usage:
  rawbpf run [OBJECT] [--cgroup DIR] [--pin DIR] [--legacy-attach[=multi|override]] [--verbose]
      Load every map and program of OBJECT (default: the embedded seed, the
      bpf_timer_cancel example) and attach its cgroup programs to DIR (default:
      a cgroup named 'rawbpf' under the cgroup2 root). Without --pin it stays
      attached until SIGINT or SIGTERM, then detaches and cleans up. With --pin
      DIR (inside bpffs, or a name under it) it pins the links and maps there
      and exits; `rawbpf detach --pin DIR` undoes that.
      --legacy-attach  attach with BPF_PROG_ATTACH instead of a BPF link, with
                       BPF_F_ALLOW_MULTI (the default) or BPF_F_ALLOW_OVERRIDE
      --verbose        ask the kernel about what it holds (ids, tags), list
                       the bpf() commands that loaded and attached it, and
                       say how long they took
  rawbpf detach --pin DIR [--cgroup DIR]
      Detach and unpin what `run --pin DIR` left (--cgroup is needed for
      programs attached with --legacy-attach).
  rawbpf demo
      Load the embedded seed, attach it to a fresh cgroup, show the kernel
      drops a UDP datagram to 127.0.0.1 sent from inside it, detach, show the
      datagram now passes, and clean everything up.
  rawbpf selftest
      Check on the running kernel what bpf_timer_cancel is documented to
      return (and what it does beyond that), and print a table; exit status 0
      only if everything documented holds.
  rawbpf help | --help | --version

exit status: 0 success, 1 failure, 2 bad usage";

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
            "--cgroup" => out.cgroup = Some(value("--cgroup")?.into()),
            "--pin" => out.pin = Some(value("--pin")?),
            "--legacy-attach" | "--legacy-attach=multi" => {
                out.legacy = Some(AttachFlags::ALLOW_MULTI)
            }
            "--legacy-attach=override" => out.legacy = Some(AttachFlags::ALLOW_OVERRIDE),
            "--verbose" | "-v" => out.verbose = true,
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
        Some("demo") if args.len() == 1 => demo(),
        Some("selftest") if args.len() == 1 => selftest(),
        Some(other) => Err(Usage(format!("unknown command '{other}'")).into()),
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
    }
}

fn load_object(path: Option<&PathBuf>) -> Result<Loaded, Error> {
    match path {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| Error::Io {
                path: path.display().to_string(),
                source: e,
            })?;
            rawbpf::load(&bytes)
        }
        None => rawbpf::load(rawbpf::SEED_OBJECT),
    }
}

fn run(args: RunArgs) -> Result<(), Failure> {
    // Block SIGINT/SIGTERM first so they wake us up in `wait` instead of
    // killing the process with programs attached.
    let signals = sys::block_signals(&[libc::SIGINT, libc::SIGTERM])
        .map_err(|e| Error::io("sigprocmask", e))?;
    if args.verbose {
        sys::start_call_log();
    }
    let loaded = load_object(args.object.as_ref())?;
    // Only programs that attach to a cgroup need one.
    let needs_cgroup = loaded.programs.iter().any(|p| p.kind.attaches_to_cgroup());
    let cgroup = match (&args.cgroup, needs_cgroup) {
        (_, false) => None,
        (Some(dir), true) => Some(Cgroup::open(dir)?),
        (None, true) => Some(Cgroup::create("rawbpf")?),
    };
    let mode = match args.legacy {
        Some(flags) => AttachMode::Legacy(flags),
        None => AttachMode::Link,
    };
    let mut attachments = match &cgroup {
        Some(cg) => cgroup::attach_all(&loaded, cg, mode)?,
        None => Vec::new(),
    };
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
    if let Some(pin) = &args.pin {
        let dir = cgroup::pin_dir(pin)?;
        if args.verbose {
            sys::start_call_log();
        }
        cgroup::pin_all(&loaded, &mut attachments, &dir)?;
        if args.verbose {
            outln!("{}", call_time(&sys::take_timed_call_log(), "pin"));
        }
        outln!(
            "pinned under {}; undo with: rawbpf detach --pin {}",
            dir.display(),
            dir.display()
        );
        // The cgroup stays: the pinned programs are attached to it.
        if let Some(cg) = cgroup {
            cg.keep();
        }
        return Ok(());
    }
    if attachments.is_empty() {
        outln!("loaded (no cgroup programs to attach); press Ctrl-C (or send SIGTERM) to unload and exit");
    } else {
        outln!("attached; press Ctrl-C (or send SIGTERM) to detach and exit");
    }
    let sig = signals.wait().map_err(|e| Error::io("sigwaitinfo", e))?;
    for a in attachments {
        a.detach()?;
    }
    outln!("signal {sig}: detached");
    Ok(())
}

fn detach(args: &[String]) -> Result<(), Failure> {
    let (mut pin, mut cg) = (None, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match (arg.as_str(), it.next()) {
            ("--pin", Some(v)) => pin = Some(v.clone()),
            ("--cgroup", Some(v)) => cg = Some(v.clone()),
            (a, _) => {
                return Err(Usage(format!(
                    "unexpected argument '{a}' (detach takes --pin DIR [--cgroup DIR])"
                ))
                .into())
            }
        }
    }
    let pin = pin.ok_or_else(|| Usage("detach needs --pin DIR".into()))?;
    let cgroup = cg.map(Cgroup::open).transpose()?;
    let dir = cgroup::pin_dir(&pin)?;
    let n = cgroup::detach_pinned(&dir, cgroup.as_ref())?;
    outln!("detached {n} program(s) and removed {}", dir.display());
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
            map.name, map.map_type, map.key_size, map.value_size, map.max_entries
        );
    }
    for prog in &loaded.programs {
        out += &format!(
            "prog    {:<16} {} ({} insns)\n",
            prog.name, prog.section, prog.insn_count
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
            a.program, a.attach_type
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
                info.map_type,
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
                info.prog_type,
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
                    info.id, a.program, a.attach_type
                )
            }
            _ => {
                out += &format!(
                    "attach  legacy  {} -> {target} (attach type {})\n",
                    a.program, a.attach_type
                )
            }
        }
    }
    out
}

/// The main job in one shot (`make run`).
fn demo() -> Result<(), Failure> {
    let loaded = rawbpf::load(rawbpf::SEED_OBJECT)?;
    let cgroup = Cgroup::create_unique("rawbpf-demo")?;
    let receiver =
        UdpSocket::bind("127.0.0.1:0").map_err(|e| Error::io("UDP socket on 127.0.0.1", e))?;
    receiver
        .set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(|e| Error::io("UDP socket", e))?;
    let dst: SocketAddr = receiver
        .local_addr()
        .map_err(|e| Error::io("UDP socket", e))?;

    let prog = loaded
        .program("bpf_prog1")
        .ok_or_else(|| Error::Env("the embedded seed has no program bpf_prog1".into()))?;
    let attachment = cgroup::attach(prog, &cgroup, AttachMode::Link)?;
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
    outln!(
        "send from inside the cgroup while attached: {}",
        outcome(attached, got_attached)
    );
    attachment.detach()?;
    let detached = cgroup.send_udp(dst)?;
    let got_detached = receive(&receiver);
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
fn selftest() -> Result<(), Failure> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    outln!("bpf_timer_cancel on Linux {}", release.trim());
    let rows = selftest::return_value_cases()?;
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
