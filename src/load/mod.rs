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

pub mod map;
pub mod parallel;
pub mod program;

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use crate::error::{Error, Result};
use crate::kernel::btf::KernelBtf;
use crate::object::btf::{Btf, BtfExt};
use crate::object::core::{self, BtfSource};
use crate::object::elf::Object;
use crate::object::externs::{self, Externs};
use crate::object::maps;
use crate::object::reloc;
use crate::object::section;
use crate::sys::{self};
use map::Map;
pub use program::Program;
use program::{LoadRequest, ProgKind};

/// Everything an object put into the kernel. Dropping it closes every fd;
/// objects not pinned or attached through a kept link are then freed.
#[derive(Debug)]
pub struct Loaded {
    /// The object's BTF as loaded into the kernel, if it had any.
    pub btf: Option<OwnedFd>,
    /// The maps, created and initialised.
    pub maps: Vec<Map>,
    /// The programs, loaded.
    pub programs: Vec<Program>,
}

impl Loaded {
    /// The map named `name` (a `.maps` symbol or a data section such as `.bss`).
    pub fn map(&self, name: &str) -> Option<&Map> {
        self.maps.iter().find(|m| m.name == name)
    }

    /// The program whose function is named `name`.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name() == name)
    }
}

/// What the kernel-free half of the pipeline makes of an object.
#[derive(Debug)]
pub struct Prepared<'a> {
    /// The parsed ELF object.
    pub object: Object<'a>,
    /// Its `.BTF`, parsed and fixed up.
    pub btf: Option<Btf>,
    /// Its `.BTF.ext`, parsed.
    pub ext: Option<BtfExt>,
    /// The maps to create.
    pub maps: Vec<maps::MapSpec<'a>>,
    /// `__kconfig` and `__ksym` externs, resolved at load time.
    pub externs: Externs,
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
    let mut btf = object.btf.map(Btf::parse).transpose()?;
    // Externs are declared in BTF, before the fix-ups rewrite their types.
    let externs = Externs::collect(&object, btf.as_ref())?;
    if let Some(btf) = &mut btf {
        btf.fix_datasecs(&object)?;
        externs.fix_btf(btf)?;
    }
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
        externs,
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
    let io = |e| Error::io(path, e);
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

/// Loads every map and program of a BPF ELF object into the kernel, except
/// programs whose section starts with `?` (not loaded by default, as with
/// libbpf; see [`load_also`]).
pub fn load(bytes: &[u8]) -> Result<Loaded> {
    load_also(bytes, &[])
}

/// As [`load`], and also the `?`-sections' programs whose function names
/// are in `names`.
pub fn load_also(bytes: &[u8], names: &[&str]) -> Result<Loaded> {
    load_programs(
        bytes,
        &|name, autoload| autoload || names.contains(&name),
        &Options::default(),
    )
}

/// Loads every map, and the programs whose function name `select` accepts,
/// whether their section has a `?` or not.
pub fn load_selected(bytes: &[u8], select: &dyn Fn(&str) -> bool) -> Result<Loaded> {
    load_programs(bytes, &|name, _| select(name), &Options::default())
}

/// Where a load looks beyond the object itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options<'a> {
    /// Maps pinned by name (LIBBPF_PIN_BY_NAME) are reused from here where a
    /// compatible one is there (see `pins::create_maps`), else created.
    pub pin_dir: Option<&'a Path>,
    /// CO-RE relocations are resolved against this whole-kernel BTF file
    /// (another kernel's) instead of the running kernel's
    /// `/sys/kernel/btf/vmlinux`.
    pub target_btf: Option<&'a Path>,
}

/// Loads what [`load`] loads, with `options`.
pub fn load_with(bytes: &[u8], options: &Options<'_>) -> Result<Loaded> {
    load_programs(bytes, &|_, autoload| autoload, options)
}

/// [`load_with`] for an object already [`prepare`]d (a caller that checks
/// the object before loading it need not parse it twice).
pub fn load_prepared(p: Prepared<'_>, options: &Options<'_>) -> Result<Loaded> {
    load_from(p, &|_, autoload| autoload, options)
}

/// Loads every map, and the programs `select(function name, autoload)`
/// accepts.
fn load_programs(
    bytes: &[u8],
    select: &dyn Fn(&str, bool) -> bool,
    options: &Options<'_>,
) -> Result<Loaded> {
    load_from(prepare(bytes)?, select, options)
}

/// [`load_programs`] from the prepared object.
fn load_from(
    mut p: Prepared<'_>,
    select: &dyn Fn(&str, bool) -> bool,
    options: &Options<'_>,
) -> Result<Loaded> {
    let selected = |e: usize| {
        let f = &p.object.functions[e];
        select(
            &f.name,
            section::autoload(&p.object.sections[f.section].name).1,
        )
    };
    let attach_names: Vec<String> = p
        .object
        .programs
        .iter()
        .filter(|&&e| selected(e))
        .filter_map(|&e| {
            let section = &p.object.sections[p.object.functions[e].section].name;
            ProgKind::from_section(section)?.attach_func
        })
        .collect();
    // The kernel's types, read only for CO-RE relocations (before any
    // bpf() call, so a failure leaves nothing behind) and attach targets.
    let mut vmlinux = relocate_core(&mut p, options.target_btf, &attach_names)?;
    if vmlinux.is_none() && !attach_names.is_empty() {
        vmlinux = Some(KernelBtf::vmlinux(&attach_names)?);
    }
    let obj = &p.object;
    // Externs only when the object has some (the seed never reads the
    // kernel's config, BTF or kallsyms), and before any kernel object exists.
    let resolved = if p.externs.is_empty() {
        externs::Resolved::default()
    } else {
        externs::resolve(
            &p.externs,
            &mut crate::kernel::externs::Host::new(&p.externs),
        )?
    };

    // Before the first kernel object: on kernels without memcg accounting
    // of BPF memory (before 5.11) the default RLIMIT_MEMLOCK is too small.
    raise_memlock_once();
    let btf = match &p.btf {
        Some(btf) => Some(
            program::with_kernel_log(
                || "the object's BTF".to_string(),
                |log| sys::btf_load(btf.bytes(), log),
            )
            .map_err(explain_eperm)?,
        ),
        None => None,
    };
    let mut maps =
        crate::load::map::create_maps(&p.maps, btf.as_ref().map(|f| f.as_fd()), options.pin_dir)
            .map_err(explain_eperm)?;
    if !resolved.kconfig.is_empty() {
        let spec = externs::kconfig_map_spec(&resolved.kconfig);
        maps.extend(map::create(&[spec], None).map_err(explain_eperm)?);
    }
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

    // Relocate every program first (pure work, in order, so that an error
    // in it comes before any program is loaded), then load them: the kernel
    // verifies independent programs in parallel.
    let mut jobs = Vec::with_capacity(obj.programs.len());
    for &entry in obj.programs.iter().filter(|&&e| {
        let f = &obj.functions[e];
        select(&f.name, section::autoload(&obj.sections[f.section].name).1)
    }) {
        let func = &obj.functions[entry];
        let section = &obj.sections[func.section].name;
        let kind = ProgKind::parse(section).map_err(|what| Error::Program {
            program: func.name.clone(),
            what,
        })?;
        let targets = reloc::Targets {
            map_fd: &map_fd,
            externs: &resolved,
        };
        let assembled = reloc::assemble(obj, entry, p.ext.as_ref(), &targets)?;
        let attach_btf_id = match (&kind.attach_func, &vmlinux) {
            (Some(target), Some(vmlinux)) => {
                crate::kernel::btf::attach_id(vmlinux, kind.attach_btf_kind(), target)?
            }
            _ => 0,
        };
        jobs.push((func, section, kind, assembled, attach_btf_id));
    }
    let btf_fd = btf.as_ref().map(|f| f.as_fd());
    let fds = parallel::in_parallel(jobs.len(), 1, |i| {
        let (func, section, kind, assembled, attach_btf_id) = &jobs[i];
        let request = LoadRequest {
            name: &func.name,
            section,
            kind,
            assembled,
            license: &obj.license,
            btf: btf_fd,
            attach_btf_id: *attach_btf_id,
        };
        program::load(&request).map_err(explain_eperm)
    })?;
    let programs: Vec<Program> = jobs
        .into_iter()
        .zip(fds)
        .map(|((func, section, kind, assembled, _), fd)| {
            Program::new(
                func.name.clone(),
                section.clone(),
                kind,
                assembled.insns.len(),
                fd,
            )
        })
        .collect();
    fill_prog_arrays(&p.maps, &maps, &programs)?;
    Ok(Loaded {
        btf,
        maps,
        programs,
    })
}

/// Program arrays initialised in the object (`.values = { [0] = &prog }`):
/// each slot gets its program's fd, now that the programs are loaded (tail
/// calls through the array then reach it).
fn fill_prog_arrays(specs: &[maps::MapSpec<'_>], maps: &[Map], programs: &[Program]) -> Result<()> {
    for spec in specs {
        // Found by source: maps reused from pins come after the fresh ones.
        let Some(map) = maps.iter().find(|m| m.source == spec.source) else {
            continue;
        };
        for slot in &spec.slots {
            let maps::SlotTarget::Program(name) = &slot.target else {
                continue;
            };
            let prog = programs
                .iter()
                .find(|p| p.name() == name)
                .ok_or_else(|| Error::Map {
                    map: spec.name.clone(),
                    what: format!(
                        "slot {} names program '{name}', which was not loaded",
                        slot.index
                    ),
                })?;
            map.update_fd(slot.index, prog.fd())?;
        }
    }
    Ok(())
}

/// Applies the object's CO-RE relocations to its code: against the BTF
/// file `target_btf` if given, else against the running kernel's, whose
/// pass then also indexes the names in `also` (attach targets) and is
/// returned for them. Nothing is read for an object without CO-RE records.
pub fn relocate_core(
    p: &mut Prepared<'_>,
    target_btf: Option<&Path>,
    also: &[String],
) -> Result<Option<KernelBtf>> {
    let core_names = match (&p.btf, &p.ext) {
        (Some(btf), Some(ext)) => {
            core::wanted_names(btf, ext.core_relos.iter().flat_map(|(_, r)| r))?
        }
        _ => Vec::new(),
    };
    if core_names.is_empty() {
        return Ok(None);
    }
    let target = match target_btf {
        Some(path) => KernelBtf::open(path, &core_names)?,
        None => {
            let mut wanted = core_names.clone();
            wanted.extend(also.iter().cloned());
            KernelBtf::vmlinux(&wanted)?
        }
    };
    apply_core(p, &target, &core_names)?;
    Ok(target_btf.is_none().then_some(target))
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

/// Raises RLIMIT_MEMLOCK once per process (see `sys::raise_memlock_limit`).
/// A failure is ignored: without root the kernel's own EPERM says more,
/// later, than this would.
fn raise_memlock_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = sys::raise_memlock_limit();
    });
}

/// EPERM from bpf() as a non-root user means "not allowed", not "bad object".
fn explain_eperm(e: Error) -> Error {
    if e.raw_os_error() != Some(libc::EPERM) || sys::geteuid() == 0 {
        return e;
    }
    let refused = match &e {
        Error::Rejected { what, .. } => what.clone(),
        Error::Sys { cmd, what, .. } => format!("{cmd} ({what})"),
        other => other.to_string(),
    };
    Error::refused(crate::error::ErrorKind::PermissionDenied, format!(
        "not permitted: loading BPF objects needs root (CAP_BPF, CAP_PERFMON); the kernel refused {refused} with EPERM.\n\
         Run rawbpf as root, or `make vmtest` to run the tests as root in a VM."
    ))
}
