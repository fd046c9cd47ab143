//! One error type for the whole pipeline.
//!
//! Every variant carries the context a person needs to act: which section or
//! offset of the object, which map or program, which bpf() command, and for a
//! rejected program the verifier's own words. A program acts on
//! [`Error::kind`], a small [`ErrorKind`] that sorts every variant and errno
//! into what can be done about it; [`Error::errno`] and
//! [`Error::verifier_log`] give the details.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::uapi::{Cmd, Errno};

/// Everything that can go wrong between ELF bytes and an attached program.
#[derive(Debug)]
#[non_exhaustive]
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
    /// A program section the loader does not know how to load, or a
    /// program that asks for what it cannot have.
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
    /// The environment is not usable (no cgroup2 or bpffs, no /proc, ...).
    Env(String),
    /// A request refused for a reason of the kind given, with no errno
    /// behind it (a path that is not a cgroup, an attach-mode conflict).
    Refused {
        /// What kind of failure it is.
        kind: ErrorKind,
        /// What was refused, and why.
        what: String,
    },
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

/// What kind of failure an [`Error`] is: what a program can do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file, pin, cgroup or kernel object that is not there (ENOENT,
    /// ESRCH, ESTALE, ENODEV, ENXIO).
    NotFound,
    /// Something of that name is there already (EEXIST): a pin, a cgroup.
    AlreadyExists,
    /// Not allowed (EPERM, EACCES, EROFS): BPF needs root, or CAP_BPF and
    /// friends.
    PermissionDenied,
    /// The verifier or the BTF checker refused the program or BTF:
    /// [`Error::verifier_log`] says why.
    VerifierRejected,
    /// The object file is malformed or asks for what cannot be (ELF, BTF,
    /// relocations, map and program definitions).
    BadObject,
    /// This kernel lacks what was asked for: a program type, helper, kfunc,
    /// extern or attr field (EOPNOTSUPP, ENOTSUPP, ENOSYS), or a program
    /// refused with no log (the kernel stopped before verifying).
    Unsupported,
    /// In use or in conflict (EBUSY, EAGAIN): an attach mode, a mount.
    Busy,
    /// A wrong argument (EINVAL, EBADF, EFAULT, ERANGE, ...): a mistake of
    /// the caller's.
    InvalidInput,
    /// A limit was reached (ENOMEM, E2BIG, ENOSPC, EMFILE, ENFILE,
    /// EDQUOT): memory, map size, open files.
    ResourceLimit,
    /// A signal stopped the work (EINTR, or SIGINT, SIGTERM, SIGHUP).
    Interrupted,
    /// The system around the loader is not set up: no cgroup2 or bpffs
    /// mount, no /proc, no kernel config.
    Environment,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// The kind of a failure with errno `errno`.
    pub fn of_errno(errno: i32) -> ErrorKind {
        match errno {
            libc::ENOENT | libc::ESRCH | libc::ESTALE | libc::ENODEV | libc::ENXIO => {
                ErrorKind::NotFound
            }
            libc::EEXIST => ErrorKind::AlreadyExists,
            libc::EPERM | libc::EACCES | libc::EROFS => ErrorKind::PermissionDenied,
            libc::EOPNOTSUPP | ENOTSUPP | libc::ENOSYS | libc::EAFNOSUPPORT => {
                ErrorKind::Unsupported
            }
            libc::EBUSY | libc::EAGAIN | libc::ETXTBSY | libc::EDEADLK => ErrorKind::Busy,
            libc::EINVAL
            | libc::EBADF
            | libc::EFAULT
            | libc::ERANGE
            | libc::EDOM
            | libc::ENOTDIR
            | libc::EISDIR
            | libc::ENAMETOOLONG
            | libc::ELOOP
            | libc::EPROTO
            | libc::EMSGSIZE
            | libc::ENOTEMPTY => ErrorKind::InvalidInput,
            libc::ENOMEM
            | libc::E2BIG
            | libc::ENOSPC
            | libc::EMFILE
            | libc::ENFILE
            | libc::EDQUOT
            | libc::EFBIG
            | libc::EOVERFLOW => ErrorKind::ResourceLimit,
            libc::EINTR => ErrorKind::Interrupted,
            _ => ErrorKind::Other,
        }
    }

    /// The kind of an I/O error: by its errno, else by std's kind (an
    /// error rawbpf made itself, such as an `fd_array` overrun).
    pub fn of_io(e: &io::Error) -> ErrorKind {
        if let Some(errno) = e.raw_os_error() {
            return ErrorKind::of_errno(errno);
        }
        match e.kind() {
            io::ErrorKind::NotFound => ErrorKind::NotFound,
            io::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists,
            io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => ErrorKind::InvalidInput,
            io::ErrorKind::Unsupported => ErrorKind::Unsupported,
            io::ErrorKind::OutOfMemory => ErrorKind::ResourceLimit,
            io::ErrorKind::Interrupted => ErrorKind::Interrupted,
            _ => ErrorKind::Other,
        }
    }
}

/// `ENOTSUPP` (524): the kernel-internal "not supported" that bpf() returns
/// to user space; libc has no name for it.
const ENOTSUPP: i32 = 524;

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// What kind of failure this is (see [`ErrorKind`]): by variant, and for
    /// a failed system call by its errno.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Elf(_)
            | Error::Btf(_)
            | Error::Reloc { .. }
            | Error::Map { .. }
            | Error::Program { .. } => ErrorKind::BadObject,
            // Mostly a ksym, kfunc or CONFIG_ value this kernel lacks.
            Error::Extern { .. } => ErrorKind::Unsupported,
            Error::Sys { source, .. } | Error::Os { source, .. } | Error::Io { source, .. } => {
                ErrorKind::of_io(source)
            }
            Error::Rejected { source, log, .. } => rejected_kind(source, log),
            Error::Env(_) => ErrorKind::Environment,
            Error::Refused { kind, .. } => *kind,
            Error::Interrupted { .. } | Error::Cancelled => ErrorKind::Interrupted,
        }
    }

    /// The errno behind this error, when there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Sys { source, .. }
            | Error::Os { source, .. }
            | Error::Rejected { source, .. }
            | Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// The errno behind this error, when there is one: [`Error::errno`].
    pub fn raw_os_error(&self) -> Option<i32> {
        self.errno()
    }

    /// The kernel's log for a rejected program or BTF (its last lines),
    /// when it gave one.
    pub fn verifier_log(&self) -> Option<&str> {
        match self {
            Error::Rejected { log, .. } if !log.trim().is_empty() => Some(log),
            _ => None,
        }
    }

    /// A refusal of the kind `kind`, with no errno behind it.
    pub fn refused(kind: ErrorKind, what: impl Into<String>) -> Error {
        Error::Refused {
            kind,
            what: what.into(),
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
            Error::Env(what) | Error::Refused { what, .. } => f.write_str(what),
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

/// A rejection with the verifier's words is the verifier's, unless they
/// say the kernel does not know a helper ("invalid func unknown#169": a
/// kernel older than the helper); one without them was refused before
/// verifying: an unknown program type or attr field (EINVAL, E2BIG:
/// unsupported), or what its errno says.
fn rejected_kind(source: &io::Error, log: &str) -> ErrorKind {
    if log.contains("invalid func unknown#") {
        return ErrorKind::Unsupported;
    }
    if !log.trim().is_empty() {
        return ErrorKind::VerifierRejected;
    }
    match source.raw_os_error() {
        Some(libc::EINVAL | libc::E2BIG) => ErrorKind::Unsupported,
        Some(errno) => match ErrorKind::of_errno(errno) {
            ErrorKind::Other => ErrorKind::VerifierRejected,
            kind => kind,
        },
        None => ErrorKind::VerifierRejected,
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

    fn errno(n: i32) -> io::Error {
        io::Error::from_raw_os_error(n)
    }

    fn rejected(source: io::Error, log: &str, hint: Option<&'static str>) -> Error {
        Error::Rejected {
            what: "program 'p'".into(),
            source,
            log: log.into(),
            hint,
        }
    }

    #[test]
    fn every_variant_has_a_kind() {
        use ErrorKind as K;
        let sys = |n| Error::sys(Cmd::ProgLoad, "program 'p'")(errno(n));
        let cases = [
            (Error::Elf("x".into()), K::BadObject),
            (Error::Btf("x".into()), K::BadObject),
            (
                Error::Reloc {
                    section: "s".into(),
                    insn: 1,
                    what: "x".into(),
                },
                K::BadObject,
            ),
            (
                Error::Map {
                    map: "m".into(),
                    what: "x".into(),
                },
                K::BadObject,
            ),
            (
                Error::Program {
                    program: "p".into(),
                    what: "x".into(),
                },
                K::BadObject,
            ),
            (
                Error::Extern {
                    name: "CONFIG_X".into(),
                    what: "x".into(),
                },
                K::Unsupported,
            ),
            (sys(libc::EPERM), K::PermissionDenied),
            (sys(libc::ENOENT), K::NotFound),
            (sys(524), K::Unsupported),
            (sys(libc::EBUSY), K::Busy),
            (sys(libc::EINVAL), K::InvalidInput),
            (sys(libc::ENOMEM), K::ResourceLimit),
            (sys(libc::E2BIG), K::ResourceLimit),
            (sys(libc::EHOSTDOWN), K::Other),
            (Error::os("sigwait", errno(libc::EINTR)), K::Interrupted),
            (
                Error::io("/sys/fs/bpf/x", errno(libc::EEXIST)),
                K::AlreadyExists,
            ),
            (Error::io("/x", errno(libc::EROFS)), K::PermissionDenied),
            (Error::Env("no bpffs".into()), K::Environment),
            (Error::refused(K::Busy, "attach mode conflict"), K::Busy),
            (Error::Interrupted { signal: 2 }, K::Interrupted),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{error}");
        }
        // An io::Error rawbpf made itself has no errno: std's kind decides.
        let made = Error::sys(Cmd::ProgLoad, "p")(io::Error::new(
            io::ErrorKind::InvalidInput,
            "insn 3 uses fd_array[2], but fd_array has 2 entries",
        ));
        assert_eq!((made.kind(), made.errno()), (K::InvalidInput, None));
    }

    #[test]
    fn a_rejection_is_the_verifiers_when_it_has_its_words() {
        use ErrorKind as K;
        let log = "0: (b7) r0 = 0\nR0 !read_ok\n";
        let with_log = rejected(errno(libc::EACCES), log, None);
        assert_eq!(with_log.kind(), K::VerifierRejected);
        assert_eq!(with_log.verifier_log(), Some(log));
        assert_eq!(with_log.errno(), Some(libc::EACCES));
        // Refused before the verifier ran: a type or field this kernel lacks.
        let unknown = rejected(errno(libc::EINVAL), "", None);
        assert_eq!(
            (unknown.kind(), unknown.verifier_log()),
            (K::Unsupported, None)
        );
        assert_eq!(
            rejected(errno(libc::EPERM), "", None).kind(),
            K::PermissionDenied
        );
        assert_eq!(
            rejected(errno(libc::ENOMEM), "\n", None).kind(),
            K::ResourceLimit
        );
        // A kernel older than a helper says so in its log.
        let old = rejected(errno(libc::EINVAL), "invalid func unknown#169\n", None);
        assert_eq!(old.kind(), K::Unsupported);
        assert_eq!(Error::Elf("x".into()).verifier_log(), None);
    }

    #[test]
    fn the_source_is_the_system_calls_error() {
        use std::error::Error as _;
        let e = Error::sys(Cmd::ProgQuery, "cgroup /x")(errno(libc::EBADF));
        let source = e.source().unwrap().downcast_ref::<io::Error>().unwrap();
        assert_eq!(source.raw_os_error(), Some(libc::EBADF));
        assert!(Error::Btf("x".into()).source().is_none());
    }

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
