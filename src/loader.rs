//! The pipeline in one call: ELF bytes in, kernel objects out.
//!
//! Order matters because each step hands fds to the next: the BTF object
//! first (maps and programs refer to it by fd), then maps (programs refer to
//! them from their instructions), then programs. Only what the object needs
//! reaches the kernel: no feature probes, and the kernel's BTF only when an LSM
//! or tracing program needs an attach target or CO-RE relocations need the
//! kernel's types (read before the first bpf() call). If any step fails, everything
//! created so far is an `OwnedFd` that is closed on the way out, so a failed
//! load leaves nothing behind in the kernel.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use crate::btf::{Btf, BtfExt};
use crate::core::{self, BtfSource};
use crate::elf::Object;
use crate::error::{Error, Result};
use crate::kernel_btf::{self, KernelBtf};
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
    load_with(bytes, select, None)
}

/// Like [`load_selected`], with CO-RE relocations resolved against the
/// whole-kernel BTF file `target_btf` (another kernel's) instead of the
/// running kernel's `/sys/kernel/btf/vmlinux`.
pub fn load_with(
    bytes: &[u8],
    select: &dyn Fn(&str) -> bool,
    target_btf: Option<&Path>,
) -> Result<Loaded> {
    let mut p = prepare(bytes)?;
    // The kernel's types, read only for CO-RE relocations (before any
    // bpf() call, so a failure leaves nothing behind) and attach targets.
    let core_names = match (&p.btf, &p.ext) {
        (Some(btf), Some(ext)) => {
            core::wanted_names(btf, ext.core_relos.iter().flat_map(|(_, r)| r))?
        }
        _ => Vec::new(),
    };
    let attach_names: Vec<String> = p
        .object
        .programs
        .iter()
        .filter(|&&e| select(&p.object.functions[e].name))
        .filter_map(|&e| {
            let section = &p.object.sections[p.object.functions[e].section].name;
            ProgKind::from_section(section)?.attach_func
        })
        .collect();
    let mut vmlinux = None;
    if !core_names.is_empty() {
        let target = match target_btf {
            Some(path) => KernelBtf::open(path, &core_names)?,
            None => {
                let mut wanted = core_names.clone();
                wanted.extend(attach_names.iter().cloned());
                KernelBtf::vmlinux(&wanted)?
            }
        };
        apply_core(&mut p, &target, &core_names)?;
        if target_btf.is_none() {
            vmlinux = Some(target);
        }
    }
    if vmlinux.is_none() && !attach_names.is_empty() {
        vmlinux = Some(KernelBtf::vmlinux(&attach_names)?);
    }
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
    let map_fd = |source| {
        maps.iter()
            .find(|m| m.source == source)
            .map(|m| std::os::fd::AsRawFd::as_raw_fd(&m.fd))
    };

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
        let attach_btf_id = match (&kind.attach_func, &vmlinux) {
            (Some(target), Some(vmlinux)) => kernel_btf::func_id(vmlinux, target)?,
            _ => 0,
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

/// Applies the object's CO-RE relocations, section by section, against
/// `target` (and, for names it lacks, the running kernel's modules).
fn apply_core(p: &mut Prepared<'_>, target: &KernelBtf, names: &[String]) -> Result<()> {
    let (Some(btf), Some(ext)) = (&p.btf, &p.ext) else {
        return Ok(());
    };
    let missing: Vec<String> = names
        .iter()
        .filter(|n| target.candidates(n).is_ok_and(|c| c.is_empty()))
        .cloned()
        .collect();
    let modules = target.modules(&missing)?;
    let mut targets: Vec<&dyn BtfSource> = vec![target];
    targets.extend(modules.iter().map(|m| m as &dyn BtfSource));
    for (section, relos) in &ext.core_relos {
        let Some(sec) = p.object.sections.iter_mut().find(|s| &s.name == section) else {
            return Err(Error::Reloc {
                section: section.clone(),
                insn: 0,
                what: "CO-RE relocations for a section the object does not have".into(),
            });
        };
        core::relocate_section(section, &mut sec.insns, relos, btf, &targets)?;
    }
    Ok(())
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
