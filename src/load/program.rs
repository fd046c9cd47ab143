//! Step 5: load programs.
//!
//! The kernel needs each program's type (`enum bpf_prog_type`) and, for many
//! types, the attach type it will be attached with (`expected_attach_type`):
//! the verifier checks return values and context accesses against it, so a
//! `cgroup_skb/egress` program loaded without BPF_CGROUP_INET_EGRESS may not
//! return 2 or 3. Neither is in the ELF, so, like libbpf, we derive both from
//! the section name ([`crate::object::section`] has the table). LSM, fentry, iterator
//! and tp_btf programs also name the kernel function or type they attach to by
//! its BTF id in the kernel's own BTF (`/sys/kernel/btf/vmlinux`), which is
//! read only when such a program is present.
//!
//! The kernel reads `fd_array[index]` for the index a module kfunc call
//! (its `off`) or a `BPF_PSEUDO_MAP_IDX` load names, without knowing the
//! array's length (`__find_kfunc_desc_btf` and `resolve_pseudo_ldimm64` in
//! kernel/bpf/verifier.c): [`load`] refuses an index past the array before
//! any system call.
//!
//! Policy for loading lives here and only here: retry on EAGAIN (unless a
//! stop signal caused it), and on any other failure load once more, and only
//! once, with a log buffer to show the verifier's words.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
use crate::kernel::caps::{self, Cap};
use crate::object::reloc::Assembled;
use crate::sys::{self, ProgLoad};
use crate::uapi::prog_type;
use crate::uapi::Cmd;

pub use crate::object::section::ProgKind;
pub use test_run::{TestRun, TestRunOptions};

mod test_run;

/// Everything needed to load one program: [`LoadRequest::new`], then the
/// BTF and attach target where the program has them.
#[non_exhaustive]
pub struct LoadRequest<'a> {
    /// The program's name (its function).
    pub name: &'a str,
    /// The section it came from, for messages.
    pub section: &'a str,
    /// Program type, attach type and flags.
    pub kind: &'a ProgKind,
    /// The relocated instructions with their func and line info.
    pub assembled: &'a Assembled,
    /// The object's license.
    pub license: &'a std::ffi::CStr,
    /// The loaded BTF the func and line info refer to.
    pub btf: Option<BorrowedFd<'a>>,
    /// The kernel BTF id of the attach target (tracing, LSM), else 0.
    pub attach_btf_id: u32,
    /// Set to stop the load (a verification in progress ends with EAGAIN
    /// when a signal arrives).
    pub cancel: Option<&'a AtomicBool>,
}

impl<'a> LoadRequest<'a> {
    /// Function `name` of `section`, assembled, to load as `kind`: no BTF,
    /// no attach target.
    pub fn new(
        name: &'a str,
        section: &'a str,
        kind: &'a ProgKind,
        assembled: &'a Assembled,
        license: &'a std::ffi::CStr,
    ) -> LoadRequest<'a> {
        LoadRequest {
            name,
            section,
            kind,
            assembled,
            license,
            btf: None,
            attach_btf_id: 0,
            cancel: None,
        }
    }
}

/// The log buffer of the one logged retry. Since Linux 6.4 a log that
/// overflows keeps its end (a rolling log, where the verifier's reason is);
/// older kernels keep its beginning.
const LOG_SIZE: usize = 4 * 1024 * 1024;
/// How much of a kernel log an error keeps: its end, where the reason is.
const LOG_KEEP_LINES: usize = 40;
/// How often a load refused with EAGAIN (no stop signal pending) is retried.
const EAGAIN_TRIES: usize = 5;

/// Loads a program. On failure the error carries the verifier log and a hint.
pub fn load(req: &LoadRequest<'_>) -> Result<OwnedFd> {
    let insns = req.assembled.insn_bytes();
    let func_info = req.assembled.func_info_bytes();
    let line_info = req.assembled.line_info_bytes();
    let attr = ProgLoad {
        prog_type: req.kind.prog_type,
        expected_attach_type: req.kind.expected_attach_type,
        name: req.name,
        insns: &insns,
        license: req.license,
        flags: req.kind.flags,
        btf: req.btf,
        func_info: &func_info,
        line_info: &line_info,
        attach_btf_id: req.attach_btf_id,
        fd_array: &req.assembled.fd_array,
    };
    // The kernel reads fd_array[index] without knowing its length: check
    // before the call (sys::prog_load checks again, for its other callers).
    if let Some(overrun) = sys::fd_array_overrun(attr.insns, attr.fd_array.len()) {
        return Err(Error::Program {
            program: req.name.to_string(),
            what: format!("section '{}': {overrun}", req.section),
        });
    }
    with_kernel_log_needing(
        req.cancel,
        // Asked only when the kernel refuses with EPERM (it reads a sysctl).
        &|| caps::for_prog_type(req.kind.prog_type),
        || format!("program '{}' (section '{}')", req.name, req.section),
        |log| sys::prog_load(&attr, log),
    )
    .map_err(|e| match e {
        // A kernel before 5.15 may stop at something else first (a timer
        // callback's BPF_PSEUDO_FUNC before 5.13, the syscall program type
        // before 5.14): ask it about the helper itself.
        Error::Rejected {
            what, source, log, ..
        } if calls_timer_helper(&req.assembled.insns) && kernel_lacks_timer() => Error::Rejected {
            what,
            source,
            log,
            hint: Some(NO_BPF_TIMER),
        },
        e => e,
    })
}

/// Whether a program calls one of the bpf_timer_* helpers.
fn calls_timer_helper(insns: &[rawbpf_asm::Insn]) -> bool {
    insns
        .iter()
        .any(|i| i.is_helper_call() && (BPF_TIMER_INIT..=BPF_TIMER_CANCEL).contains(&i.imm))
}

/// Loads `call bpf_timer_init; exit` as a socket filter (a type every kernel
/// has, so the verifier gets to the call): a kernel without bpf_timer
/// rejects the helper id itself ("invalid func unknown#169"); one with it
/// complains about something else.
fn kernel_lacks_timer() -> bool {
    let insns = rawbpf_asm::encode(&[
        rawbpf_asm::Insn::call_helper(BPF_TIMER_INIT),
        rawbpf_asm::Insn::exit(),
    ]);
    let attr = ProgLoad::new(prog_type::SOCKET_FILTER, "timer_probe", &insns, c"GPL");
    let mut log = vec![0u8; 4096];
    match sys::prog_load(&attr, Some(&mut log)) {
        Ok(_) => false,
        Err(_) => {
            let len = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            calls_missing_timer_helper(&String::from_utf8_lossy(&log[..len]))
        }
    }
}

/// Stops when SIGINT, SIGTERM or SIGHUP arrived (see `sys::install_stop_handlers`).
fn check_stop(cancel: Option<&AtomicBool>) -> Result<()> {
    match cancel {
        Some(flag) if flag.load(Ordering::SeqCst) => Err(Error::Cancelled),
        _ => Ok(()),
    }
}

/// The one place of the retry policy for loads the kernel may refuse with an
/// explanation (programs and BTF). Try without a log (cheaper); retry on
/// EAGAIN, which the verifier also returns when a signal interrupts it, so
/// a stop signal ends the load instead. On failure verify once more with a
/// 4 MiB log and report the kernel's words: a program is verified at most
/// twice, even one that hits the verifier's instruction limit, whose log
/// overflows any buffer. A load that needs only CAP_BPF (BTF); see
/// [`with_kernel_log_needing`].
pub fn with_kernel_log(
    cancel: Option<&AtomicBool>,
    what: impl Fn() -> String,
    load: impl Fn(Option<&mut [u8]>) -> std::io::Result<OwnedFd>,
) -> Result<OwnedFd> {
    with_kernel_log_needing(cancel, &|| vec![Cap::BPF], what, load)
}

/// [`with_kernel_log`] for a load that needs the capabilities `needs`.
/// Refusals that are not the verifier's verdict are said as what they are,
/// without a second try or a log: a limit of this process (EMFILE, ENFILE,
/// ENOMEM, RLIMIT_MEMLOCK before 5.11, see [`crate::kernel::limits`]), or
/// EPERM for a capability this process lacks ([`crate::kernel::caps`]).
pub fn with_kernel_log_needing(
    cancel: Option<&AtomicBool>,
    needs: &dyn Fn() -> Vec<Cap>,
    what: impl Fn() -> String,
    load: impl Fn(Option<&mut [u8]>) -> std::io::Result<OwnedFd>,
) -> Result<OwnedFd> {
    let mut first = None;
    for _ in 0..EAGAIN_TRIES {
        check_stop(cancel)?;
        match load(None) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            Err(e) => {
                if let Some(refused) = not_the_verifier(needs, &what, e.raw_os_error()) {
                    return Err(Error::Os {
                        what: refused,
                        source: e,
                    });
                }
                first = Some(e);
                break;
            }
        }
    }
    check_stop(cancel)?;
    // Zeroed lazily by the allocator: only the pages the kernel writes cost.
    let mut log = vec![0u8; LOG_SIZE];
    match load(Some(&mut log)) {
        Ok(fd) => Ok(fd),
        Err(e) => {
            check_stop(cancel)?;
            let cut = e.raw_os_error() == Some(libc::ENOSPC);
            // Report the kernel's first answer: the logged retry may only
            // add EAGAIN, or ENOSPC when the log did not fit.
            Err(rejected(what(), first.unwrap_or(e), &log, cut))
        }
    }
}

/// Why a load failing with `errno` was not refused by the verifier, if it
/// was not: the capability missing for EPERM, or a limit of this process.
fn not_the_verifier(
    needs: &dyn Fn() -> Vec<Cap>,
    what: &impl Fn() -> String,
    errno: Option<i32>,
) -> Option<String> {
    let errno = errno?;
    if errno == libc::EPERM {
        let missing = caps::missing(&needs());
        if !missing.is_empty() {
            return Some(format!(
                "loading {} needs {}, which this process does not have (its effective \
                 capabilities; CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON)",
                what(),
                caps::names(&missing)
            ));
        }
    }
    let limit = crate::kernel::limits::cause(errno)?;
    Some(format!(
        "loading {} failed for a limit of this process, not for anything in it: {limit}",
        what()
    ))
}

/// Builds an [`Error::Rejected`] from a kernel log buffer, keeping the
/// log's last lines (a verifier log can run to megabytes; the reason is at
/// the end). `cut` says the kernel's log did not fit in the buffer, so the
/// buffer holds only part of it.
pub fn rejected(what: String, source: std::io::Error, log: &[u8], cut: bool) -> Error {
    let len = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    let full = String::from_utf8_lossy(&log[..len]);
    let hint = hint(&full, &source);
    let lines: Vec<&str> = full.lines().collect();
    let mut log = String::new();
    if cut {
        log += &format!(
            "[... the kernel's log was longer than the {} MiB buffer; {} lines of it were kept ...]\n",
            LOG_SIZE >> 20,
            lines.len()
        );
    }
    if lines.len() > LOG_KEEP_LINES {
        log += &format!(
            "[... {} earlier lines of the kept log not shown ...]\n{}",
            lines.len() - LOG_KEEP_LINES,
            lines[lines.len() - LOG_KEEP_LINES..].join("\n")
        );
    } else {
        log += &full;
    }
    Error::Rejected {
        what,
        source,
        log,
        hint,
    }
}

/// `BPF_FUNC_timer_init` and `BPF_FUNC_timer_cancel`, the first and last
/// bpf_timer helper ids (Linux 5.15).
const BPF_TIMER_INIT: i32 = 169;
const BPF_TIMER_CANCEL: i32 = 172;

/// The hint for a program that calls a bpf_timer helper on a kernel without them.
pub const NO_BPF_TIMER: &str =
    "this kernel has no bpf_timer helpers (bpf_timer needs Linux 5.15 or later)";

/// Whether `e` is a rejection because the kernel has no bpf_timer helpers.
pub fn lacks_bpf_timer(e: &Error) -> bool {
    matches!(e, Error::Rejected { hint: Some(h), .. } if *h == NO_BPF_TIMER)
}

/// Whether the verifier refused a bpf_timer_* helper (ids 169 to 172,
/// `bpf_timer_init` to `bpf_timer_cancel`) as one it does not know: a
/// kernel before 5.15 says "invalid func unknown#169".
fn calls_missing_timer_helper(log: &str) -> bool {
    log.split("func unknown#").skip(1).any(|rest| {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        matches!(digits.parse::<u32>(), Ok(169..=172))
    })
}

/// The hint for a helper refused because this process lacks CAP_PERFMON.
pub const NEEDS_PERFMON: &str =
    "this process lacks CAP_PERFMON, and without it the kernel offers no \
     tracing helper (bpf_trace_printk, bpf_probe_read_kernel, bpf_snprintf...): run it with \
     CAP_PERFMON (or CAP_SYS_ADMIN)";
/// The hint for a helper refused because this process lacks CAP_BPF.
pub const NEEDS_BPF: &str = "this process lacks CAP_BPF, and without it the kernel offers no \
     bpf_timer, spin lock or per-CPU pointer helper: run it with CAP_BPF (or CAP_SYS_ADMIN)";

/// The capability a helper the log refuses is offered only with, when this
/// process lacks it (`bpf_base_func_proto`, see [`crate::kernel::caps`]).
fn missing_helper_cap(log: &str) -> Option<&'static str> {
    caps::refused_helpers(log)
        .into_iter()
        .filter_map(caps::for_helper)
        .find(|&cap| !caps::missing(&[cap]).is_empty())
        .map(|cap| {
            if cap == Cap::PERFMON {
                NEEDS_PERFMON
            } else {
                NEEDS_BPF
            }
        })
}

/// A one-line hint for the commonest verifier messages.
fn hint(log: &str, err: &std::io::Error) -> Option<&'static str> {
    if let Some(cap) = missing_helper_cap(log) {
        return Some(cap);
    }
    if calls_missing_timer_helper(log) {
        return Some(NO_BPF_TIMER);
    }
    if let Some(kind) = unknown_btf_kind(log) {
        return Some(kind);
    }
    const HINTS: &[(&str, &str)] = &[
        ("has to have BTF in order to use bpf_timer", "a map holding struct bpf_timer needs BTF: compile with clang -g and keep .BTF"),
        ("callback function not static", "make the callback a static function"),
        ("map_value_or_null", "check the result of bpf_map_lookup_elem() for NULL before using it"),
        ("cannot call GPL-restricted function", "this helper is GPL-only: declare char _license[] SEC(\"license\") = \"GPL\";"),
        ("unknown func", "this helper is not available to this program type on this kernel"),
        ("program of this type cannot use helper", "this helper is not available to this program type on this kernel"),
        ("At program exit the register R0", "the return value is out of range for this program type: is the section name (attach type) right?"),
        ("BPF program is too large", "the verifier explored too many paths: bound loops with constants or use bpf_loop()"),
        ("back-edge", "the verifier could not prove a loop terminates: bound it or use bpf_loop()"),
        ("missing btf func_info", "the object has subprograms but no .BTF.ext func_info: compile with clang -g"),
        ("invalid access to map value", "a map value access is out of bounds"),
        ("R1 type=ctx expected", "a helper was called with the wrong kind of argument"),
        ("size cannot be determined", "a global function's pointer argument has no size the verifier knows (void *): an __arg_ctx tag (BTF DECL_TAG \"arg:ctx\") makes it the program's context on kernels from 6.8; older kernels ignore the tag and need the context's own type (struct __sk_buff *, ...)"),
    ];
    if let Some((_, h)) = HINTS.iter().find(|(needle, _)| log.contains(needle)) {
        return Some(h);
    }
    match err.raw_os_error() {
        Some(libc::EPERM) if log.is_empty() => {
            Some("loading BPF programs needs root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON)")
        }
        Some(libc::E2BIG) => {
            Some("the kernel does not know a field rawbpf set: is it older than the program needs?")
        }
        _ => None,
    }
}

/// For BTF the kernel refuses with "Invalid btf_info" (`btf_check_meta`
/// knows no kind past its own), which kind it is and which kernel first
/// knows it: the object's BTF needs a newer kernel.
fn unknown_btf_kind(log: &str) -> Option<&'static str> {
    let info = log
        .split("Invalid btf_info:")
        .nth(1)?
        .split_whitespace()
        .next()?;
    let kind = (u32::from_str_radix(info, 16).ok()? >> 24) & 0x1f;
    Some(match kind {
        14 | 15 => "the object's BTF has a VAR or DATASEC, which this kernel does not know (Linux 5.2)",
        16 => "the object's BTF has a FLOAT, which this kernel does not know (Linux 5.13)",
        17 => "the object's BTF has a DECL_TAG (an __arg_ctx or other btf_decl_tag), which this kernel does not know (Linux 5.16)",
        18 => "the object's BTF has a TYPE_TAG (__kptr, __user), which this kernel does not know (Linux 5.17)",
        19 => "the object's BTF has an ENUM64, which this kernel does not know (Linux 6.0)",
        _ => "the object's BTF has a kind this kernel does not know: it needs a newer kernel",
    })
}

/// A program the kernel accepted.
#[derive(Debug)]
pub struct Program {
    name: String,
    section: String,
    kind: ProgKind,
    insn_count: usize,
    fd: OwnedFd,
}

impl Program {
    /// A loaded program: `fd` is what BPF_PROG_LOAD returned for `insn_count`
    /// instructions of function `name` in `section`, loaded as `kind`.
    pub(crate) fn new(
        name: String,
        section: String,
        kind: ProgKind,
        insn_count: usize,
        fd: OwnedFd,
    ) -> Program {
        Program {
            name,
            section,
            kind,
            insn_count,
            fd,
        }
    }

    /// The function's name (also the kernel's program name, cut to 15 bytes).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The ELF section it came from, e.g. `cgroup_skb/egress`.
    pub fn section(&self) -> &str {
        &self.section
    }

    /// Program type, attach type and flags, from the section name.
    pub fn kind(&self) -> &ProgKind {
        &self.kind
    }

    /// How many instructions (8-byte slots) were handed to the kernel,
    /// subprograms included.
    pub fn insn_count(&self) -> usize {
        self.insn_count
    }

    /// The loaded program's fd, for attach calls and pins.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The kernel's view: id, tag, verified instructions, maps used.
    pub fn info(&self) -> Result<(sys::ProgInfo, Vec<u32>)> {
        sys::prog_info(self.fd.as_fd()).map_err(Error::sys(
            Cmd::ObjGetInfoByFd,
            format!("program '{}'", self.name),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn btf_kinds_the_kernel_does_not_know_are_named() {
        let log = "[4] FUNC packet_len type_id=2\n[5] Invalid btf_info:11000000\n";
        assert!(unknown_btf_kind(log).unwrap().contains("DECL_TAG"));
        assert!(unknown_btf_kind("[5] Invalid btf_info:13000000")
            .unwrap()
            .contains("ENUM64"));
        assert_eq!(unknown_btf_kind("R0 invalid mem access"), None);
    }

    #[test]
    fn a_program_over_the_instruction_limit_is_verified_at_most_twice() {
        use std::cell::Cell;
        let calls = Cell::new(0);
        let err = with_kernel_log(
            None,
            || "program 'big'".into(),
            |log| {
                calls.set(calls.get() + 1);
                match log {
                    None => Err(std::io::Error::from_raw_os_error(libc::E2BIG)),
                    Some(buf) => {
                        // A rolling log that overflowed: its end, and ENOSPC.
                        let text = b"...\nBPF program is too large. Processed 1000001 insn\n";
                        buf[..text.len()].copy_from_slice(text);
                        Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
                    }
                }
            },
        )
        .unwrap_err();
        assert_eq!(calls.get(), 2, "one try without a log, one with");
        assert_eq!(err.raw_os_error(), Some(libc::E2BIG), "the first answer");
        let text = err.to_string();
        assert!(text.contains("too large"), "{text}");
        assert!(text.contains("longer than the 4 MiB buffer"), "{text}");
    }

    #[test]
    fn a_cut_log_says_how_many_lines_it_kept_and_shows_the_end() {
        let log: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let err = rejected(
            "program 'p'".into(),
            std::io::Error::from_raw_os_error(libc::EACCES),
            log.as_bytes(),
            false,
        );
        let text = err.to_string();
        assert!(text.contains("[... 60 earlier lines"), "{text}");
        assert!(text.contains("line 99"), "{text}");
        assert!(!text.contains("longer than"), "{text}");
    }

    #[test]
    fn hints_name_the_fix() {
        let err = std::io::Error::from_raw_os_error(libc::EINVAL);
        assert!(
            hint("map 'hmap' has to have BTF in order to use bpf_timer", &err)
                .unwrap()
                .contains("BTF")
        );
        assert!(hint("R0 invalid mem access 'map_value_or_null'", &err)
            .unwrap()
            .contains("NULL"));
        assert_eq!(hint("something new", &err), None);
        // Before 6.8 the kernel ignores __arg_ctx: the hint names the tag.
        let untagged = "arg#0 reference type('UNKNOWN ') size cannot be determined: -22\n";
        assert!(hint(untagged, &err).is_some_and(|h| h.contains("__arg_ctx")));
        let old_kernel = "14: (85) call unknown#169\ninvalid func unknown#169\n";
        assert_eq!(hint(old_kernel, &err), Some(NO_BPF_TIMER));
        assert_eq!(hint("invalid func unknown#168\n", &err), None);
    }
}
