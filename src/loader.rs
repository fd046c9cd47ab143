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

/// The largest object file rawbpf reads. Real BPF objects are kilobytes to
/// a few megabytes; the cap keeps a wrong path (a disk image, /dev/zero)
/// from costing unbounded memory.
pub const MAX_OBJECT_SIZE: u64 = 64 * 1024 * 1024;

/// Reads a BPF object file: a regular file of at most [`MAX_OBJECT_SIZE`]
/// bytes. Opened non-blocking, so a FIFO or device is refused at once
/// instead of blocking or growing without end.
pub fn read_object(path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |e| Error::io(path.display(), e);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(Error::Env(format!(
            "{}: not a regular file (a BPF object is a file clang wrote)",
            path.display()
        )));
    }
    if meta.len() > MAX_OBJECT_SIZE {
        return Err(Error::Env(format!(
            "{}: {} bytes is larger than rawbpf's object size cap of {} MiB",
            path.display(),
            meta.len(),
            MAX_OBJECT_SIZE >> 20
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow while read: never read past the cap.
    file.take(MAX_OBJECT_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_OBJECT_SIZE {
        return Err(Error::Env(format!(
            "{}: grew past rawbpf's object size cap of {} MiB while being read",
            path.display(),
            MAX_OBJECT_SIZE >> 20
        )));
    }
    Ok(bytes)
}

/// Loads every map and program of a BPF ELF object into the kernel.
pub fn load(bytes: &[u8]) -> Result<Loaded> {
    load_selected(bytes, &|_| true)
}

/// Loads every map, and the programs whose function name `select` accepts.
pub fn load_selected(bytes: &[u8], select: &dyn Fn(&str) -> bool) -> Result<Loaded> {
    load_inner(bytes, select, None)
}

/// Loads everything, reusing the maps pinned by name (LIBBPF_PIN_BY_NAME)
/// in `pin_dir` where a compatible one is there (see `pins::create_maps`).
pub fn load_pinned(bytes: &[u8], pin_dir: Option<&std::path::Path>) -> Result<Loaded> {
    load_inner(bytes, &|_| true, pin_dir)
}

fn load_inner(
    bytes: &[u8],
    select: &dyn Fn(&str) -> bool,
    pin_dir: Option<&std::path::Path>,
) -> Result<Loaded> {
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
    let maps = crate::pins::create_maps(&p.maps, btf.as_ref().map(|f| f.as_fd()), pin_dir)
        .map_err(explain_eperm)?;
    let map_fd = |source| {
        maps.iter()
            .find(|m| m.source == source)
            .map(|m| std::os::fd::AsRawFd::as_raw_fd(&m.fd))
    };

    let mut vmlinux = None;
    let mut programs = Vec::with_capacity(obj.programs.len());
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
        let fd = prog::load(&LoadRequest {
            name: &func.name,
            section,
            kind: &kind,
            linked: &linked,
            license: &obj.license,
            btf: btf.as_ref().map(|f| f.as_fd()),
            attach_btf_id,
        })
        .map_err(explain_eperm)?;
        programs.push(Program {
            name: func.name.clone(),
            section: section.clone(),
            kind,
            insn_count: linked.insns.len(),
            fd,
        });
    }
    Ok(Loaded {
        btf,
        maps,
        programs,
    })
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
