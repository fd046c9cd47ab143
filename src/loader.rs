//! The pipeline in one call: ELF bytes in, kernel objects out.
//!
//! Order matters because each step hands fds to the next: the BTF object
//! first (maps and programs refer to it by fd), then maps (programs refer to
//! them from their instructions), then programs. Only what the object needs
//! reaches the kernel: no feature probes, and the kernel's BTF only when an LSM
//! or tracing program needs an attach target. If any step fails, everything
//! created so far is an `OwnedFd` that is closed on the way out, so a failed
//! load leaves nothing behind in the kernel.

use std::os::fd::{AsFd, OwnedFd};

use crate::btf::{Btf, BtfExt};
use crate::elf::Object;
use crate::error::{Error, Result};
use crate::maps::{self, Map};
use crate::prog::{self, LoadRequest, ProgKind};
use crate::reloc;
use crate::sys::{self, TestRunResult};

/// A program the kernel accepted.
#[derive(Debug)]
pub struct Program {
    /// The function's name (also the kernel's program name, cut to 15 bytes).
    pub name: String,
    /// The ELF section, e.g. `cgroup_skb/egress`.
    pub section: String,
    pub kind: ProgKind,
    /// Instructions handed to the kernel, subprograms included.
    pub insn_count: usize,
    pub fd: OwnedFd,
}

impl Program {
    /// The kernel's view: id, tag, verified instructions, maps used.
    pub fn info(&self) -> Result<(sys::ProgInfo, Vec<u32>)> {
        sys::prog_info(self.fd.as_fd()).map_err(|source| Error::Sys {
            call: "BPF_OBJ_GET_INFO_BY_FD",
            what: format!("program '{}'", self.name),
            source,
        })
    }

    /// Runs the program once in the kernel on `packet` and/or `ctx`
    /// (BPF_PROG_TEST_RUN). `repeat` stays 0 (= once): syscall programs
    /// refuse any other value.
    pub fn test_run(&self, packet: &[u8], ctx: &[u8]) -> Result<TestRunResult> {
        sys::prog_test_run(self.fd.as_fd(), packet, None, ctx, 0).map_err(|source| Error::Sys {
            call: "BPF_PROG_TEST_RUN",
            what: format!("program '{}'", self.name),
            source,
        })
    }
}

/// Everything an object put into the kernel. Dropping it closes every fd;
/// objects not pinned or attached through a kept link are then freed.
#[derive(Debug)]
pub struct Loaded {
    pub btf: Option<OwnedFd>,
    pub maps: Vec<Map>,
    pub programs: Vec<Program>,
}

impl Loaded {
    /// The map named `name` (a `.maps` symbol or a data section such as `.bss`).
    pub fn map(&self, name: &str) -> Option<&Map> {
        self.maps.iter().find(|m| m.name == name)
    }

    /// The program whose function is named `name`.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name == name)
    }
}

/// What the kernel-free half of the pipeline makes of an object.
#[derive(Debug)]
pub struct Prepared<'a> {
    pub object: Object<'a>,
    pub btf: Option<Btf>,
    pub ext: Option<BtfExt>,
    pub maps: Vec<maps::MapSpec<'a>>,
}

/// Parses the ELF, fixes up its BTF and plans its maps: everything before the
/// first system call.
pub fn prepare(bytes: &[u8]) -> Result<Prepared<'_>> {
    let object = Object::parse(bytes)?;
    if object.programs.is_empty() {
        return Err(Error::Elf(
            "no programs: no global function in an executable section other than .text".into(),
        ));
    }
    let btf = match object.btf {
        Some(raw) => {
            let mut btf = Btf::parse(raw)?;
            btf.fix_datasecs(&object)?;
            Some(btf)
        }
        None => None,
    };
    let ext = match (object.btf_ext, &btf) {
        (Some(raw), Some(btf)) => Some(BtfExt::parse(raw, btf)?),
        _ => None,
    };
    if let Some(ext) = &ext {
        if ext.core_relo_count > 0 {
            return Err(Error::Btf(format!(
                "the object has {} CO-RE relocations, which rawbpf does not support yet",
                ext.core_relo_count
            )));
        }
    }
    let maps = maps::plan(&object, btf.as_ref())?;
    Ok(Prepared {
        object,
        btf,
        ext,
        maps,
    })
}

/// Loads every map and program of a BPF ELF object into the kernel.
pub fn load(bytes: &[u8]) -> Result<Loaded> {
    load_selected(bytes, &|_| true)
}

/// Loads every map, and the programs whose function name `select` accepts.
pub fn load_selected(bytes: &[u8], select: &dyn Fn(&str) -> bool) -> Result<Loaded> {
    let p = prepare(bytes)?;
    let obj = &p.object;

    let btf = match &p.btf {
        Some(btf) => Some(
            prog::with_kernel_log(
                || "the object's BTF".to_string(),
                |log| sys::btf_load(btf.bytes(), log),
            )
            .map_err(explain_eperm)?,
        ),
        None => None,
    };
    let maps = maps::create(&p.maps, btf.as_ref().map(|f| f.as_fd())).map_err(explain_eperm)?;
    // Sorted by source (then by index: the first map of a source is found
    // first), for a binary search per relocation instead of a scan.
    let mut by_source: Vec<(maps::MapSource, usize)> = maps
        .iter()
        .enumerate()
        .map(|(i, m)| (m.source, i))
        .collect();
    by_source.sort_unstable();
    let map_fd = |source| {
        let first = by_source.partition_point(|&(s, _)| s < source);
        let (_, i) = by_source.get(first).filter(|&&(s, _)| s == source)?;
        Some(std::os::fd::AsRawFd::as_raw_fd(&maps[*i].fd))
    };

    // Relocate every program first (pure work, in order), then load them:
    // the kernel verifies independent programs in parallel.
    let mut vmlinux = None;
    let mut jobs = Vec::with_capacity(obj.programs.len());
    for &entry in obj
        .programs
        .iter()
        .filter(|&&e| select(&obj.functions[e].name))
    {
        let func = &obj.functions[entry];
        let section = &obj.sections[func.section].name;
        let kind = ProgKind::from_section(section).ok_or_else(|| Error::Program {
            program: func.name.clone(),
            what: format!("section '{section}' does not name a program type rawbpf knows"),
        })?;
        let linked = reloc::link(obj, entry, p.ext.as_ref(), &map_fd)?;
        let attach_btf_id = match &kind.attach_func {
            Some(target) => {
                if vmlinux.is_none() {
                    vmlinux = Some(prog::vmlinux_btf()?);
                }
                prog::attach_btf_id(vmlinux.as_ref().expect("just set"), target)?
            }
            None => 0,
        };
        jobs.push((func, section, kind, linked, attach_btf_id));
    }
    let requests: Vec<LoadRequest<'_>> = jobs
        .iter()
        .map(|(func, section, kind, linked, attach_btf_id)| LoadRequest {
            name: &func.name,
            section,
            kind,
            linked,
            license: &obj.license,
            btf: btf.as_ref().map(|f| f.as_fd()),
            attach_btf_id: *attach_btf_id,
        })
        .collect();
    let fds = load_parallel(&requests)?;
    let programs = jobs
        .into_iter()
        .zip(fds)
        .map(|((func, section, kind, linked, _), fd)| Program {
            name: func.name.clone(),
            section: section.clone(),
            kind,
            insn_count: linked.insns.len(),
            fd,
        })
        .collect();
    Ok(Loaded {
        btf,
        maps,
        programs,
    })
}

/// Worker threads' stacks: loading a program needs little (its buffers are
/// on the heap).
const WORKER_STACK: usize = 256 * 1024;

/// Loads `requests` (BPF_PROG_LOAD each), on up to one thread per allowed
/// CPU: the kernel verifies programs independently, and verification is
/// most of a load. Programs are taken in order and the result is in order:
/// the fds by request, and on failure the error of the first request that
/// failed, as a load one by one would report it (once one fails no new
/// request is started; those before it all finish, since they were taken
/// first). The calls each worker makes go into this thread's call log in
/// request order.
fn load_parallel(requests: &[LoadRequest<'_>]) -> Result<Vec<OwnedFd>> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    type Done = (usize, Result<OwnedFd>, Vec<sys::Call>);

    let threads = requests.len().min(sys::cpus_allowed());
    if threads <= 1 {
        return requests
            .iter()
            .map(|r| prog::load(r).map_err(explain_eperm))
            .collect();
    }
    // This thread works too, and a worker logs request by request: set this
    // thread's log aside meanwhile and put the requests' calls after it.
    let earlier = sys::call_log_active().then(sys::take_timed_call_log);
    let logging = earlier.is_some();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let work = || -> Vec<Done> {
        let mut done = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(request) = requests.get(i) else {
                break;
            };
            if logging {
                sys::start_call_log();
            }
            let result = prog::load(request).map_err(explain_eperm);
            failed.fetch_or(result.is_err(), Ordering::Relaxed);
            done.push((i, result, sys::take_timed_call_log()));
        }
        done
    };
    let mut slots: Vec<Option<(Result<OwnedFd>, Vec<sys::Call>)>> = std::iter::repeat_with(|| None)
        .take(requests.len())
        .collect();
    std::thread::scope(|scope| {
        // A thread the system refuses is one helper fewer, not a failure:
        // this thread works through the requests too.
        let helpers: Vec<_> = (1..threads)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .stack_size(WORKER_STACK)
                    .spawn_scoped(scope, work)
                    .ok()
            })
            .collect();
        let mut all = work();
        for helper in helpers {
            all.extend(
                helper
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        for (i, result, calls) in all {
            slots[i] = Some((result, calls));
        }
    });
    if let Some(earlier) = earlier {
        sys::start_call_log();
        sys::extend_call_log(earlier);
    }
    let mut fds = Vec::with_capacity(requests.len());
    let mut first_error = None;
    for (result, calls) in slots.into_iter().flatten() {
        sys::extend_call_log(calls);
        match result {
            Ok(fd) => fds.push(fd),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(fds),
    }
}

/// EPERM from bpf() as a non-root user means "not allowed", not "bad object".
fn explain_eperm(e: Error) -> Error {
    if e.raw_os_error() != Some(libc::EPERM) || sys::geteuid() == 0 {
        return e;
    }
    let refused = match &e {
        Error::Rejected { what, .. } => what.clone(),
        Error::Sys { call, what, .. } => format!("{call} ({what})"),
        other => other.to_string(),
    };
    Error::Env(format!(
        "not permitted: loading BPF objects needs root (CAP_BPF, CAP_PERFMON); the kernel refused {refused} with EPERM.\n\
         Run rawbpf as root, or `make vmtest` to run the tests as root in a VM."
    ))
}
