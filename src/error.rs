//! One error type for the whole pipeline.
//!
//! Every variant carries the context a person needs to act: which section or
//! offset of the object, which map or program, which bpf() command, and for a
//! rejected program the verifier's own words.

use std::fmt;
use std::io;

/// Everything that can go wrong between ELF bytes and an attached program.
#[derive(Debug)]
pub enum Error {
    /// The ELF file itself is malformed or not a BPF object.
    Elf(String),
    /// `.BTF` or `.BTF.ext` is malformed, or a map definition in it is.
    Btf(String),
    /// An instruction or relocation cannot be resolved.
    Reloc {
        section: String,
        insn: usize,
        what: String,
    },
    /// A map definition the loader cannot turn into a MAP_CREATE.
    Map { map: String, what: String },
    /// A program section the loader does not know how to load.
    Program { program: String, what: String },
    /// A bpf() or other system call failed.
    Sys {
        call: &'static str,
        what: String,
        source: io::Error,
    },
    /// The kernel refused the object's BTF or a program; `log` is its explanation.
    Rejected {
        what: String,
        source: io::Error,
        log: String,
        hint: Option<&'static str>,
    },
    /// A file-system or mount problem (cgroup2, bpffs, pins).
    Io { path: String, source: io::Error },
    /// The environment is not usable (not root, no cgroup2, ...).
    Env(String),
    /// SIGINT, SIGTERM or SIGHUP arrived before the work was done; what was
    /// done so far is undone on the way out.
    Interrupted { signal: i32 },
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The errno behind this error, when there is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Sys { source, .. }
            | Error::Rejected { source, .. }
            | Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// The kernel's log for a rejected program or BTF, or "".
    pub fn verifier_log(&self) -> &str {
        match self {
            Error::Rejected { log, .. } => log,
            _ => "",
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl fmt::Display, source: io::Error) -> Error {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Elf(what) => write!(f, "bad ELF object: {what}"),
            Error::Btf(what) => write!(f, "bad BTF: {what}"),
            Error::Reloc {
                section,
                insn,
                what,
            } => {
                write!(
                    f,
                    "relocation in section '{section}' at insn {insn}: {what}"
                )
            }
            Error::Map { map, what } => write!(f, "map '{map}': {what}"),
            Error::Program { program, what } => write!(f, "program '{program}': {what}"),
            Error::Sys { call, what, source } => write!(f, "{call} ({what}): {source}"),
            Error::Rejected {
                what,
                source,
                log,
                hint,
            } => {
                write!(f, "the kernel rejected {what}: {source}")?;
                let log = log.trim_end();
                if !log.is_empty() {
                    write!(f, "\n--- kernel log ---\n{log}\n---")?;
                }
                if let Some(hint) = hint {
                    write!(f, "\nhint: {hint}")?;
                }
                Ok(())
            }
            Error::Io { path, source } => write!(f, "{path}: {source}"),
            Error::Env(what) => f.write_str(what),
            Error::Interrupted { signal } => write!(
                f,
                "interrupted by {} before finishing; everything done so far is undone",
                signal_name(*signal)
            ),
        }
    }
}

/// The name of a stop signal, for messages.
pub fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP".into(),
        n => format!("signal {n}"),
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Sys { source, .. }
            | Error::Rejected { source, .. }
            | Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
