//! One error type for the whole pipeline.
//!
//! Every variant carries the context a person needs to act: which section or
//! offset of the object, which map or program, which bpf() command, and for a
//! rejected program the verifier's own words.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::uapi::{Cmd, Errno};

/// Everything that can go wrong between ELF bytes and an attached program.
#[derive(Debug)]
pub enum Error {
    /// The ELF file itself is malformed or not a BPF object.
    Elf(String),
    /// `.BTF` or `.BTF.ext` is malformed, or a map definition in it is.
    Btf(String),
    /// An instruction or relocation cannot be resolved.
    Reloc {
        /// The code section.
        section: String,
        /// The instruction's index in it.
        insn: usize,
        /// What is wrong.
        what: String,
    },
    /// An extern (`__kconfig`, `__ksym`) that cannot be declared or resolved.
    Extern {
        /// The extern's name.
        name: String,
        /// What is wrong.
        what: String,
    },
    /// A map definition the loader cannot turn into a MAP_CREATE.
    Map {
        /// The map's name.
        map: String,
        /// What is wrong.
        what: String,
    },
    /// A program section the loader does not know how to load.
    Program {
        /// The program's name.
        program: String,
        /// What is wrong.
        what: String,
    },
    /// A bpf() command failed; `what` names the object it was for.
    Sys {
        /// The command.
        cmd: Cmd,
        /// What it was called on.
        what: String,
        /// The errno.
        source: io::Error,
    },
    /// A system call other than bpf() failed on something that is not a path
    /// (a socket, a signal mask, a mount); `what` names the call and object.
    Os {
        /// The call and the object it acted on.
        what: String,
        /// The error.
        source: io::Error,
    },
    /// The kernel refused the object's BTF or a program; `log` is its explanation.
    Rejected {
        /// What was refused.
        what: String,
        /// The errno.
        source: io::Error,
        /// The end of the verifier's (or BTF checker's) log.
        log: String,
        /// A one-line hint for a known message.
        hint: Option<&'static str>,
    },
    /// A file-system problem at `path` (cgroup2, bpffs, pins, an object file).
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The environment is not usable (not root, no cgroup2, ...).
    Env(String),
    /// SIGINT, SIGTERM or SIGHUP arrived before the work was done; what was
    /// done so far is undone on the way out.
    Interrupted {
        /// The signal's number.
        signal: i32,
    },
    /// The load was cancelled through [`LoadOptions::cancel`](crate::LoadOptions::cancel);
    /// what was done so far is undone on the way out.
    Cancelled,
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The errno behind this error, when there is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Sys { source, .. }
            | Error::Os { source, .. }
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

    /// The failure of bpf(`cmd`) for `what`, as a `map_err` argument:
    /// `sys::map_freeze(fd).map_err(Error::sys(Cmd::MapFreeze, "map 'hmap'"))`.
    pub fn sys(cmd: Cmd, what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
        let what = what.into();
        move |source| Error::Sys { cmd, what, source }
    }

    /// An I/O error on the file or directory `path`.
    pub fn io(path: impl AsRef<Path>, source: io::Error) -> Error {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// A failed system call that is not about a path: `what` says which
    /// call on which object ("UDP socket", "sigprocmask").
    pub fn os(what: impl Into<String>, source: io::Error) -> Error {
        Error::Os {
            what: what.into(),
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
            Error::Extern { name, what } => write!(f, "extern '{name}': {what}"),
            Error::Map { map, what } => write!(f, "map '{map}': {what}"),
            Error::Program { program, what } => write!(f, "program '{program}': {what}"),
            Error::Sys { cmd, what, source } => {
                write!(f, "{cmd} ({what}): {}", Reason(source))
            }
            Error::Os { what, source } => write!(f, "{what}: {}", Reason(source)),
            Error::Rejected {
                what,
                source,
                log,
                hint,
            } => {
                write!(f, "the kernel rejected {what}: {}", Reason(source))?;
                let log = log.trim_end();
                if !log.is_empty() {
                    write!(f, "\n--- kernel log ---\n{log}\n---")?;
                }
                if let Some(hint) = hint {
                    write!(f, "\nhint: {hint}")?;
                }
                Ok(())
            }
            Error::Io { path, source } => write!(f, "{}: {}", path.display(), Reason(source)),
            Error::Env(what) => f.write_str(what),
            Error::Cancelled => {
                f.write_str("cancelled before finishing; everything done so far is undone")
            }
            Error::Interrupted { signal } => write!(
                f,
                "interrupted by {} before finishing; everything done so far is undone",
                signal_name(*signal)
            ),
        }
    }
}

/// An errno with its uapi name first: `EINVAL: Invalid argument (os error
/// 22)`, and `ENOTSUPP: Unknown error 524 (os error 524)`, which strerror()
/// alone leaves unnamed.
struct Reason<'a>(&'a io::Error);

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Errno::of(self.0).and_then(Errno::name) {
            Some(name) => write!(f, "{name}: {}", self.0),
            None => write!(f, "{}", self.0),
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
            | Error::Os { source, .. }
            | Error::Rejected { source, .. }
            | Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_command_and_the_errno() {
        let e = Error::sys(Cmd::ProgLoad, "program 'p'")(io::Error::from_raw_os_error(524));
        assert_eq!(e.raw_os_error(), Some(524));
        let text = e.to_string();
        assert!(
            text.starts_with("BPF_PROG_LOAD (program 'p'): ENOTSUPP: "),
            "{text}"
        );
        let e = Error::io("/sys/fs/bpf/x", io::Error::from_raw_os_error(libc::ENOENT));
        assert!(e.to_string().starts_with("/sys/fs/bpf/x: ENOENT: "), "{e}");
        let e = Error::os("UDP socket", io::Error::from_raw_os_error(libc::EPERM));
        assert!(e.to_string().starts_with("UDP socket: EPERM: "), "{e}");
    }
}
