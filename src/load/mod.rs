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
pub(crate) mod parallel;
pub mod program;
mod read;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
use crate::kernel::btf::KernelBtf;
use crate::object::btf::BtfSource;
use crate::object::core;
use crate::object::externs;
use crate::object::maps;
use crate::object::reloc;
use crate::object::spec::{Global, ObjectSpec, ProgramSpec};
use crate::sys;
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
    /// The maps pinned by name (LIBBPF_PIN_BY_NAME): reused, or pinned by
    /// this load. The pins stay when this is dropped, as libbpf's do.
    pub pinned_by_name: Vec<map::ByNamePin>,
    /// Where each global variable lives, for [`Loaded::global`].
    globals: Vec<Global>,
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

    /// Removes the pins by name this load made (not those it reused): for
    /// a caller whose next step failed, to leave nothing behind.
    pub fn unpin_made_by_name(&self) {
        map::unpin_made(&self.pinned_by_name);
    }

    /// The current bytes of the global variable `name` (in `.data*`,
    /// `.bss*` or `.rodata*`): a lookup of its section's map, cut to the
    /// variable.
    pub fn global(&self, name: &str) -> Result<Vec<u8>> {
        let unknown = || Error::Map {
            map: name.to_string(),
            what: "no global variable of that name in .rodata, .data or .bss".into(),
        };
        let global = self
            .globals
            .iter()
            .find(|g| g.name == name)
            .ok_or_else(unknown)?;
        let map = self
            .maps
            .iter()
            .find(|m| matches!(m.source, Some(maps::MapSource::Data { section, .. }) if section == global.section))
            .ok_or_else(unknown)?;
        let value = map.lookup(&0u32.to_ne_bytes())?.ok_or_else(unknown)?;
        value
            .get(global.offset..global.offset + global.size)
            .map(<[u8]>::to_vec)
            .ok_or_else(unknown)
    }
}

/// The largest object file rawbpf reads. Real BPF objects are kilobytes to
/// a few megabytes; the cap keeps a wrong path (a disk image, /dev/zero)
/// from costing unbounded memory.
pub const MAX_OBJECT_SIZE: u64 = 64 * 1024 * 1024;

/// Reads a BPF object file: a regular file of at most [`MAX_OBJECT_SIZE`]
/// bytes. Opened non-blocking, so a FIFO or device is refused at once
/// instead of blocking or growing without end. Its DWARF sections are not
/// read: their bytes are zeros (see `read.rs`).
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
    if let Some(bytes) = read::read_without_dwarf(&file, meta.len()) {
        return Ok(bytes);
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

/// Where a load looks beyond the object itself, and how it may be stopped.
/// Built from [`LoadOptions::default`] with the methods below.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct LoadOptions<'a> {
    target_btf: Option<&'a Path>,
    pin_maps: Option<&'a Path>,
    cancel: Option<&'a AtomicBool>,
    threads: Option<usize>,
}

impl<'a> LoadOptions<'a> {
    /// Resolves CO-RE relocations against this whole-kernel BTF file
    /// (another kernel's) instead of the running kernel's
    /// `/sys/kernel/btf/vmlinux`.
    pub fn target_btf(mut self, path: &'a Path) -> Self {
        self.target_btf = Some(path);
        self
    }

    /// Maps pinned by name (LIBBPF_PIN_BY_NAME) are reused from this bpffs
    /// directory where a compatible one is pinned, else created and pinned
    /// there (libbpf's `pin_root_path`). Without it: the bpffs mount,
    /// libbpf's default `/sys/fs/bpf`, found in /proc/self/mountinfo (only
    /// for an object that has such maps).
    pub fn pin_maps(mut self, dir: &'a Path) -> Self {
        self.pin_maps = Some(dir);
        self
    }

    /// The load stops with [`Error::Cancelled`] (undoing what it did) once
    /// `flag` is set: checked between steps and while the kernel verifies,
    /// which a signal interrupts. A signal handler that sets the flag is
    /// the caller's, as `rawbpf run` installs one.
    pub fn cancel(mut self, flag: &'a AtomicBool) -> Self {
        self.cancel = Some(flag);
        self
    }

    /// Verifies programs on at most `n` threads at once (at least one).
    /// Without it, one thread per CPU this thread may run on: the shortest
    /// load. Verifications side by side share the kernel's locks and the
    /// CPUs' caches, so together they take more CPU time than one after
    /// the other (about a tenth more at 64 programs on the 2-CPU machine of
    /// `make bench`); one thread takes the least.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n.max(1));
        self
    }

    /// Errs with [`Error::Cancelled`] once the cancel flag is set.
    fn check_cancel(&self) -> Result<()> {
        match self.cancel {
            Some(flag) if flag.load(Ordering::SeqCst) => Err(Error::Cancelled),
            _ => Ok(()),
        }
    }
}

/// What the running kernel told the loader about an object: its BTF (for
/// attach targets, after CO-RE) and its extern values.
struct KernelFacts {
    vmlinux: Option<KernelBtf>,
    externs: externs::Resolved,
}

/// A program relocated and ready for BPF_PROG_LOAD.
struct Job<'s> {
    spec: &'s ProgramSpec,
    kind: ProgKind,
    assembled: reloc::Assembled,
    attach_btf_id: u32,
}

impl ObjectSpec<'_> {
    /// Loads every map, and every program whose autoload is on, into the
    /// kernel. A failure at any step closes what was made, so it leaves
    /// nothing behind.
    pub fn load(mut self, options: &LoadOptions<'_>) -> Result<Loaded> {
        refuse_struct_ops(&self)?;
        let globals = self.globals();
        let facts = self.resolve_against_kernel(options)?;
        options.check_cancel()?;
        // Before the first kernel object: on kernels without memcg
        // accounting of BPF memory (before 5.11) the default RLIMIT_MEMLOCK
        // is too small.
        raise_memlock_once();
        let btf = self.load_btf()?;
        let btf_fd = btf.as_ref().map(|f| f.as_fd());
        let (maps, pinned_by_name) = self.create_maps(btf_fd, options, &facts.externs)?;
        // A load that fails from here removes the pins it made (libbpf).
        let programs = self
            .load_programs(&maps, &facts, btf_fd, options)
            .inspect_err(|_| map::unpin_made(&pinned_by_name))?;
        Ok(Loaded {
            btf,
            maps,
            programs,
            pinned_by_name,
            globals,
        })
    }

    /// Relocates and loads the programs, then fills the program arrays.
    fn load_programs(
        &self,
        maps: &[Map],
        facts: &KernelFacts,
        btf: Option<BorrowedFd<'_>>,
        options: &LoadOptions<'_>,
    ) -> Result<Vec<Program>> {
        options.check_cancel()?;
        let jobs = self.relocate_programs(maps, facts)?;
        let programs = load_programs(self, &jobs, btf, options)?;
        fill_prog_arrays(&self.maps, maps, &programs)?;
        Ok(programs)
    }

    /// The one step that reads the running kernel, skipped for an object
    /// that needs nothing of it (the seed): its BTF for CO-RE relocations
    /// and attach targets, its config and symbols for externs. All before
    /// the first bpf() call, so a failure here leaves nothing behind.
    fn resolve_against_kernel(&mut self, options: &LoadOptions<'_>) -> Result<KernelFacts> {
        let core_names = self.core_names()?;
        let mut kernel_names: Vec<String> = self
            .programs
            .iter()
            .filter(|p| p.autoload)
            .filter_map(|p| p.kind().and_then(|k| k.attach_func.clone()))
            .collect();
        kernel_names.extend(crate::kernel::externs::btf_names(&self.externs));
        // The running kernel's BTF, read once for everything asked of it:
        // CO-RE targets (unless another kernel's BTF is given), attach
        // targets, ksyms and kfuncs. Each read is a pass over 5 MB.
        if options.target_btf.is_none() {
            kernel_names.extend(core_names.iter().cloned());
        }
        let vmlinux = match kernel_names.is_empty() {
            true => None,
            false => Some(KernelBtf::vmlinux(&kernel_names)?),
        };
        if !core_names.is_empty() {
            let other = match options.target_btf {
                Some(path) => Some(KernelBtf::open(path, &core_names)?),
                None => None,
            };
            // Without another kernel's BTF, the CO-RE names are among the
            // running kernel's, so `vmlinux` was read.
            if let Some(target) = other.as_ref().or(vmlinux.as_ref()) {
                apply_core(self, target, &core_names)?;
            }
        }
        let externs = crate::kernel::externs::resolve_with(&self.externs, vmlinux.as_ref())?;
        Ok(KernelFacts { vmlinux, externs })
    }

    /// The type names the object's CO-RE relocations look for in a target.
    fn core_names(&self) -> Result<Vec<String>> {
        match (&self.btf, &self.ext) {
            (Some(btf), Some(ext)) => {
                core::wanted_names(btf, ext.core_relos.iter().flat_map(|(_, r)| r))
            }
            _ => Ok(Vec::new()),
        }
    }

    /// BPF_BTF_LOAD of the object's fixed-up BTF, if it has any: maps and
    /// programs refer to it by fd.
    fn load_btf(&self) -> Result<Option<OwnedFd>> {
        let Some(btf) = &self.btf else {
            return Ok(None);
        };
        program::with_kernel_log(
            None,
            || "the object's BTF".to_string(),
            |log| sys::btf_load(btf.bytes(), log),
        )
        .map(Some)
        .map_err(explain_eperm)
    }

    /// The object's maps (reusing pinned-by-name ones), then the `.kconfig`
    /// map if the object has `__kconfig` externs.
    fn create_maps(
        &self,
        btf: Option<BorrowedFd<'_>>,
        options: &LoadOptions<'_>,
        resolved: &externs::Resolved,
    ) -> Result<(Vec<Map>, Vec<map::ByNamePin>)> {
        let (mut maps, pins) =
            map::create_maps(&self.maps, btf, options.pin_maps).map_err(explain_eperm)?;
        if !resolved.kconfig.is_empty() {
            let mut spec = externs::kconfig_map_spec(&resolved.kconfig);
            // libbpf's name and flags: its `.kconfig` DATASEC's VARs are
            // all allocated globals (`map_is_mmapable`).
            spec.attr.map_name = crate::object::spec::internal_map_name(&self.name, &spec.name);
            spec.attr.map_flags |= sys::MapFlags::MMAPABLE.bits();
            let kconfig = map::create(&[spec], None).map_err(explain_eperm);
            maps.extend(kconfig.inspect_err(|_| map::unpin_made(&pins))?);
        }
        Ok((maps, pins))
    }

    /// Every selected program relocated, in order, before any is loaded:
    /// an error in this pure work comes before the first program exists.
    fn relocate_programs(&self, maps: &[Map], facts: &KernelFacts) -> Result<Vec<Job<'_>>> {
        let map_fd = map_fds_by_source(maps);
        let targets = reloc::Targets {
            map_fd: &map_fd,
            externs: &facts.externs,
        };
        let mut jobs = Vec::new();
        for spec in self.programs.iter().filter(|p| p.autoload) {
            let kind = spec.kind.clone().map_err(|what| Error::Program {
                program: spec.name.clone(),
                what,
            })?;
            let assembled = reloc::assemble_with(
                &self.object,
                spec.entry,
                spec.exception_cb,
                self.ext.as_ref(),
                &targets,
            )?;
            let attach_btf_id = match (&kind.attach_func, &facts.vmlinux) {
                (Some(target), Some(vmlinux)) => {
                    crate::kernel::btf::attach_id(vmlinux, kind.attach_btf_kind(), target)?
                }
                _ => 0,
            };
            jobs.push(Job {
                spec,
                kind,
                assembled,
                attach_btf_id,
            });
        }
        Ok(jobs)
    }
}

#[cfg(feature = "tools")]
impl ObjectSpec<'_> {
    /// Every program as [`load`](Self::load) would hand it to
    /// BPF_PROG_LOAD, after the same step against the running kernel (CO-RE
    /// relocations, extern values), as text: `rawbpf disasm --relocated`.
    /// Maps get the fds a real load would give them; nothing is loaded.
    pub fn disasm_relocated(mut self, opts: &crate::object::disasm::Options) -> Result<String> {
        let facts = self.resolve_against_kernel(&LoadOptions::default())?;
        crate::object::disasm::relocated(&self, &facts.externs, opts)
    }
}

/// A map's fd by the place in the object it comes from, found by binary
/// search (relocations ask once per reference).
fn map_fds_by_source(maps: &[Map]) -> impl Fn(maps::MapSource) -> Option<RawFd> + '_ {
    // Sorted by source, then index: the first map of a source is found first.
    let mut by_source: Vec<(maps::MapSource, usize)> = maps
        .iter()
        .enumerate()
        .filter_map(|(i, m)| Some((m.source?, i)))
        .collect();
    by_source.sort();
    move |source| {
        let first = by_source.partition_point(|&(s, _)| s < source);
        let (_, i) = by_source.get(first).filter(|&&(s, _)| s == source)?;
        Some(maps[*i].fd().as_raw_fd())
    }
}

/// BPF_PROG_LOAD of every job; the kernel verifies independent programs in
/// parallel, so they are loaded from as many threads as there are CPUs.
fn load_programs(
    spec: &ObjectSpec<'_>,
    jobs: &[Job<'_>],
    btf: Option<BorrowedFd<'_>>,
    options: &LoadOptions<'_>,
) -> Result<Vec<Program>> {
    let fds = parallel::in_parallel(jobs.len(), options.threads, |i| {
        let job = &jobs[i];
        let request = LoadRequest {
            name: &job.spec.name,
            section: &job.spec.section,
            kind: &job.kind,
            assembled: &job.assembled,
            license: &spec.object.license,
            btf,
            attach_btf_id: job.attach_btf_id,
            cancel: options.cancel,
        };
        program::load(&request).map_err(explain_eperm)
    })?;
    Ok(jobs
        .iter()
        .zip(fds)
        .map(|(job, fd)| {
            Program::new(
                job.spec.name.clone(),
                job.spec.section.clone(),
                job.kind.clone(),
                job.assembled.insns.len(),
                fd,
            )
        })
        .collect())
}

/// Program arrays initialised in the object (`.values = { [0] = &prog }`):
/// each slot gets its program's fd, now that the programs are loaded (tail
/// calls through the array then reach it).
fn fill_prog_arrays(specs: &[maps::MapSpec<'_>], maps: &[Map], programs: &[Program]) -> Result<()> {
    for spec in specs {
        // Found by source: maps reused from pins come after the fresh ones.
        let Some(map) = maps.iter().find(|m| m.source == Some(spec.source)) else {
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

/// Applies the object's CO-RE relocations, section by section, against
/// `target` (and, for names it lacks, the running kernel's modules).
fn apply_core(p: &mut ObjectSpec<'_>, target: &KernelBtf, names: &[String]) -> Result<()> {
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

/// An object with a struct_ops map is refused before any system call,
/// naming the map: creating it would register kernel ops (a TCP congestion
/// control, a scheduler) for the whole system, beyond what loading an
/// object should do, and its value must be built from the kernel's BTF of
/// the ops struct (`bpf_struct_ops_map_update_elem`), which rawbpf does not
/// do. Its programs (`SEC("struct_ops/...")`) are refused by their section
/// name too.
fn refuse_struct_ops(spec: &ObjectSpec<'_>) -> Result<()> {
    let Some((map, section)) = maps::struct_ops_maps(&spec.object).into_iter().next() else {
        return Ok(());
    };
    Err(Error::refused(
        crate::error::ErrorKind::Unsupported,
        format!(
            "map '{map}' is a struct_ops map (SEC(\"{section}\")), which rawbpf does not create: \
             it would register kernel ops (e.g. a TCP congestion control) for the whole system"
        ),
    ))
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
