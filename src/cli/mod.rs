//! The subcommands, each a module of its own, and what they share: the
//! usage text, output that survives a closed stdout, exit statuses.

use std::ffi::OsString;

use rawbpf::{sys, Error};

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

mod demo;
mod detach;
mod run;
#[cfg(feature = "selftest")]
mod selftest;
mod show;
#[cfg(feature = "tools")]
mod tools;

const USAGE: &str = "\
rawbpf: a minimal eBPF loader over its own bpf() system calls

usage:
  rawbpf run [OBJECT] [--cgroup DIR] [--pin DIR] [--legacy-attach[=multi|override]]
             [--no-attach] [--verbose] [--trace] [--btf FILE]
      Load every map and program of OBJECT (default: the embedded seed, the
      bpf_timer_cancel example) and attach its cgroup programs to DIR (default:
      a cgroup named 'rawbpf' under the cgroup2 root). Without --pin it stays
      attached until SIGINT, SIGTERM or SIGHUP, then detaches and cleans up.
      With --pin DIR (a directory inside a bpffs, or a name under its mount)
      it pins the links, maps and programs not attached there, records
      what it pinned in the symlink DIR/rawbpf_run and exits;
      `rawbpf detach --pin DIR` undoes that, also after a run that was
      killed halfway: the record is written before anything is attached or
      pinned. Any failure or stop signal before the end undoes everything
      the run did. Two runs (or a run and a detach) on one DIR: the second
      fails at once.
      --legacy-attach  attach with BPF_PROG_ATTACH instead of a BPF link, with
                       BPF_F_ALLOW_MULTI (the default) or BPF_F_ALLOW_OVERRIDE
      --no-attach      with --pin: attach nothing, pin every program as
                       DIR/prog_NAME (for systemd's BPFProgram= or
                       IPEgressFilterPath=)
      --verbose        ask the kernel about what it holds (ids, tags), list
                       the bpf() commands that loaded and attached it, and
                       say how long they took
      --trace          print every bpf() call on stderr as it happens: the
                       command, its decoded fields, the result or errno, time
      --btf FILE       resolve CO-RE relocations against FILE (another
                       kernel's vmlinux BTF) instead of /sys/kernel/btf/vmlinux
  rawbpf detach --pin DIR [--cgroup DIR] [--trace]
      Detach and unpin what `run --pin DIR` left, as its record there says,
      whether the run finished or was killed; anything else in DIR is left
      alone. If anything recorded cannot be undone (or stays attached), it
      exits 1 with the reason per object and keeps the record: run it again
      once the cause is gone. --cgroup is only needed if the cgroup moved,
      and must be the one the programs are attached to.
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

/// The command line, minus the program name, to an exit status.
pub fn main(args: Vec<OsString>) -> u8 {
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
        Some("run") => run::parse_run(&args[1..])
            .map_err(Failure::from)
            .and_then(run::run),
        Some("detach") => detach::detach(&args[1..]),
        Some("demo") => no_arguments("demo", &args[1..]).and_then(|()| demo::demo()),
        #[cfg(feature = "selftest")]
        Some("selftest") => {
            no_arguments("selftest", &args[1..]).and_then(|()| selftest::selftest())
        }
        #[cfg(feature = "tools")]
        Some("disasm") => tools::disasm(&args[1..]),
        #[cfg(feature = "tools")]
        Some("inspect") => match &args[1..] {
            [object] => {
                out!(
                    "{}",
                    rawbpf::object::inspect::inspect(&tools::read_object(object)?)?
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
        Some("show") => show::show(&args[1..]),
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
