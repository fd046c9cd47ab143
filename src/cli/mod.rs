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
mod help;
#[cfg_attr(not(feature = "tools"), allow(dead_code))]
mod json;
mod run;
#[cfg(feature = "selftest")]
mod selftest;
mod show;
mod timing;
#[cfg(feature = "tools")]
mod tools;

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
    if let Some(text) = help_asked(args)? {
        outln!("{text}");
        return Ok(());
    }
    let result = dispatch(args);
    // A usage error shows the subcommand's synopsis.
    match (result, args.first().and_then(|name| help::command(name))) {
        (Err(Failure::Usage(Usage(msg))), Some(c)) => Err(Usage(format!(
            "{msg}\nusage: {}\n(see `rawbpf {} --help`)",
            c.synopsis, c.name
        ))
        .into()),
        (result, _) => result,
    }
}

/// The help text asked for, if any: `rawbpf`, `rawbpf --help`, `rawbpf help
/// [COMMAND | --roff]`, `rawbpf COMMAND --help`, `--version`.
fn help_asked(args: &[String]) -> Result<Option<String>, Failure> {
    let first = args.first().map(String::as_str);
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    Ok(Some(match (first, rest.as_slice()) {
        (None | Some("--help" | "-h" | "help"), []) => help::usage(),
        #[cfg(feature = "tools")]
        (Some("help"), ["--roff"]) => help::roff(),
        (Some("help"), [name]) => match help::command(name) {
            Some(c) => help::help(c),
            None => return Err(Usage(format!("no command '{name}' to help with")).into()),
        },
        (Some("--version" | "-V"), []) => format!("rawbpf {}", env!("CARGO_PKG_VERSION")),
        (Some(name), rest) if rest.iter().any(|a| matches!(*a, "--help" | "-h")) => {
            match help::command(name) {
                Some(c) => help::help(c),
                None => return Ok(None),
            }
        }
        _ => return Ok(None),
    }))
}

fn dispatch(args: &[String]) -> Result<(), Failure> {
    match args.first().map(String::as_str) {
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
        Some("inspect") => tools::inspect(&args[1..]),
        #[cfg(not(all(feature = "selftest", feature = "tools")))]
        Some(cmd @ ("selftest" | "disasm" | "inspect")) => Err(Error::Env(format!(
            "'{cmd}' is not in this build of rawbpf: it was built without the \
             selftest and tools features, as `make static` builds the initramfs binary"
        ))
        .into()),
        Some("show") => show::show(&args[1..]),
        Some(other) => Err(Usage(format!("unknown command '{other}'")).into()),
        None => Err(Usage("no command".into()).into()),
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
        Err(Failure::Usage(Usage(msg))) if msg.contains("--help`)") => {
            errln!("rawbpf: {msg}");
            2
        }
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

/// A cancelled load, as the stop signal that cancelled it.
fn stopped(e: Error) -> Error {
    match (e, sys::stop_signal()) {
        (Error::Cancelled, Some(signal)) => Error::Interrupted { signal },
        (e, _) => e,
    }
}

/// Ends the current step if a stop signal arrived; returning drops (and so
/// undoes) everything done so far.
fn check_stop() -> Result<(), Error> {
    match sys::stop_signal() {
        Some(signal) => Err(Error::Interrupted { signal }),
        None => Ok(()),
    }
}
