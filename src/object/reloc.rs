//! Step 7: relocation, turning a program's ELF code into what BPF_PROG_LOAD takes.
//!
//! The kernel loads one flat instruction array per program, so each
//! subprogram the program calls (or takes the address of, as a callback) is
//! appended to it once, recursively, and every call and function pointer gets
//! its offset relative to the instruction after it. libbpf calls this step
//! "linking" sub-programs; here it is *assembling*, so that it is not confused
//! with BPF links (the kernel objects that keep a program attached):
//!
//! ```text
//!  ELF sections                        the assembled program (one array)
//!  cgroup_skb/egress                   +---------------------------+
//!    0  egress: ...                    | 0  egress: ...            |
//!    3  call helper  --(relocation)--> | 3  call pc+4  ----+       |
//!    7  exit                           | 7  exit           |       |
//!  .text                               |-------------------|-------|
//!    0  helper: ...                    | 8  helper: ...  <-+       | appended
//!    5  exit                           | 13 exit                   |
//!    6  cb: ...                        | 14 cb: ...                | appended if
//!    9  exit                           | 17 exit                   | referenced
//!                                      +---------------------------+
//! ```
//!
//! Every other reference is one `ld_imm64` or call that gets a new meaning.
//! Each kind of reference has its own function below, read as "this kind of
//! reference, found here, becomes this instruction":
//!
//! | reference in the ELF                  | becomes                                          |
//! |---------------------------------------|--------------------------------------------------|
//! | ld_imm64 of a map in `.maps`/`maps`   | `Insn::ld_map_fd` (BPF_PSEUDO_MAP_FD)            |
//! | ld_imm64 of a global in `.data`, ...  | `Insn::ld_map_value` (BPF_PSEUDO_MAP_VALUE)      |
//! | call of a function in the object      | `Insn::call_pseudo`, the function appended       |
//! | ld_imm64 of a function (callback)     | `Insn::ld_func` (BPF_PSEUDO_FUNC), appended      |
//! | ld_imm64 of a `__kconfig` extern      | `Insn::ld_map_value` into the `.kconfig` map     |
//! | ld_imm64 of a typed `__ksym` variable | `Insn::ld_btf_id` (BPF_PSEUDO_BTF_ID)            |
//! | ld_imm64 of a typeless `__ksym`       | `Insn::ld_u64` with its kallsyms address         |
//! | ld_imm64 of a missing `__weak` ksym   | `Insn::ld_u64` of 0                              |
//! | call of a `__ksym` kernel function    | `Insn::call_module_kfunc` (BPF_PSEUDO_KFUNC_CALL)|
//! | call of a missing `__weak` kfunc      | `Insn::call_helper` of a helper no kernel has    |
//!
//! Relocation records name a *byte* offset in their section; instructions are
//! counted in 8-byte *slots*. Names here say which: `*_byte` or `*_slot`.
//!
//! `.BTF.ext` func_info and line_info travel with their functions: their byte
//! offsets in an ELF section become slot indexes of the final program.
//! The kernel matches func_info against its own split of the program into
//! subprograms (`check_btf_func` in kernel/bpf/verifier.c). The pseudo
//! sources this step writes are what the verifier resolves before it
//! checks anything: map fds and values, BTF ids in `resolve_pseudo_ldimm64`
//! (`check_pseudo_btf_id`), function pointers and bpf-to-bpf calls in
//! `add_subprog_and_kfunc`.
//!
//! This step is pure: map fds and extern resolutions are handed in, so it is
//! tested without a kernel.

use std::collections::BTreeMap;
use std::os::fd::RawFd;

use rawbpf_asm::{Insn, INSN_SIZE};

use crate::error::{Error, Result};
use crate::object::btf::{BtfExt, FuncInfo, LineInfo};
use crate::object::elf::{Object, Reloc, SectionKind, Symbol, R_BPF_64_32, R_BPF_64_64};
use crate::object::externs::{Resolution, Resolved};
use crate::object::maps::MapSource;

/// A program ready for BPF_PROG_LOAD: its functions assembled into one array.
#[derive(Clone, Debug, Default)]
pub struct Assembled {
    /// The program with its subprograms appended, every reference patched.
    pub insns: Vec<Insn>,
    /// `insn_off` is a slot index into `insns`.
    pub func_info: Vec<FuncInfo>,
    /// Line records; `insn_off` is an instruction index into `insns`.
    pub line_info: Vec<LineInfo>,
    /// The functions placed, as (index into `Object::functions`, first slot).
    pub layout: Vec<(usize, usize)>,
    /// BPF_PROG_LOAD's `fd_array` when a kfunc call names a module's BTF by
    /// index (empty otherwise).
    pub fd_array: Vec<RawFd>,
    /// `layout` indexed by function, so that finding whether a function is
    /// already placed does not take time linear in the functions placed.
    placed: BTreeMap<usize, usize>,
}

impl Assembled {
    /// The encoded instructions.
    pub fn insn_bytes(&self) -> Vec<u8> {
        rawbpf_asm::encode(&self.insns)
    }

    /// func_info as packed `struct bpf_func_info` records.
    pub fn func_info_bytes(&self) -> Vec<u8> {
        le_words(self.func_info.iter().map(|f| [f.insn_off, f.type_id]))
    }

    /// line_info as packed `struct bpf_line_info` records.
    pub fn line_info_bytes(&self) -> Vec<u8> {
        le_words(
            (self.line_info.iter()).map(|l| [l.insn_off, l.file_name_off, l.line_off, l.line_col]),
        )
    }
}

/// Records of `N` u32 fields, packed little-endian one after the other, in
/// a vector sized once.
fn le_words<const N: usize>(records: impl ExactSizeIterator<Item = [u32; N]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.len() * N * 4);
    for record in records {
        for word in record {
            out.extend_from_slice(&word.to_le_bytes());
        }
    }
    out
}

/// What the kernel side created that instructions refer to.
pub struct Targets<'t> {
    /// The fd of the map created for a [`MapSource`].
    pub map_fd: &'t dyn Fn(MapSource) -> Option<RawFd>,
    /// How each extern symbol was resolved.
    pub externs: &'t Resolved,
}

/// `call` of an unresolved weak kfunc becomes a call of this helper id plus
/// the extern's number, which no kernel has: the verifier refuses it only if
/// the call is reachable ("invalid func unknown#2002000001"), as with libbpf.
pub const POISONED_KFUNC_CALL: i32 = 2_002_000_000;

/// Builds the final instruction array of the program whose function index
/// (into `obj.functions`) is `entry`.
pub fn assemble(
    obj: &Object<'_>,
    entry: usize,
    ext: Option<&BtfExt>,
    targets: &Targets<'_>,
) -> Result<Assembled> {
    assemble_with(obj, entry, None, ext, targets)
}

/// [`assemble`], and function `also` appended after everything the
/// program reaches, unless it is there already: the program's exception
/// callback, which nothing calls and the kernel finds by its func_info
/// (see [`crate::object::btf::tags`]).
pub fn assemble_with(
    obj: &Object<'_>,
    entry: usize,
    also: Option<usize>,
    ext: Option<&BtfExt>,
    targets: &Targets<'_>,
) -> Result<Assembled> {
    let mut out = Assembled::default();
    let mut next = 0;
    append_function(obj, entry, &mut out);
    // `layout` grows while we walk it: each newly referenced function is
    // appended and relocated in turn.
    for root in [None, also] {
        if let Some(func) = root {
            append_function(obj, func, &mut out);
        }
        while next < out.layout.len() {
            let (func, first_slot) = out.layout[next];
            next += 1;
            relocate_function(obj, func, first_slot, targets, &mut out)?;
        }
    }
    // Without .BTF.ext there are no func_info and line_info to carry along.
    if let Some(ext) = ext {
        move_ext_info(obj, ext, &mut out)?;
    }
    // fd_array only when a kfunc call names a module's BTF by index.
    if out.insns.iter().any(|i| i.is_kfunc_call() && i.off != 0) {
        out.fd_array = targets.externs.fd_array.clone();
    }
    Ok(out)
}

/// Appends function `func` unless it is already placed; returns its first slot.
fn append_function(obj: &Object<'_>, func: usize, out: &mut Assembled) -> usize {
    if let Some(&first_slot) = out.placed.get(&func) {
        return first_slot;
    }
    let f = &obj.functions[func];
    let first_slot = out.insns.len();
    out.insns
        .extend_from_slice(&obj.sections[f.section].insns[f.start..f.start + f.len]);
    out.layout.push((func, first_slot));
    out.placed.insert(func, first_slot);
    first_slot
}

/// Where a reference sits: its slot in the ELF section and in the program.
#[derive(Clone, Copy, Debug)]
struct Site {
    /// Slot index in the ELF section (what error messages name).
    section_slot: usize,
    /// Slot index in the assembled program (what gets patched).
    program_slot: usize,
}

fn byte_of_slot(slot: usize) -> u64 {
    slot as u64 * INSN_SIZE as u64
}

/// The slot at a byte offset, if the offset is on a slot boundary.
fn slot_of_byte(byte: u64) -> Option<usize> {
    byte.is_multiple_of(INSN_SIZE as u64)
        .then(|| usize::try_from(byte / INSN_SIZE as u64).ok())
        .flatten()
}

/// Relocates every reference in one placed function, instruction by
/// instruction (an ld_imm64 and its second slot are one). The function's
/// relocations are read in one ordered pass beside its instructions, not
/// looked up once per instruction.
fn relocate_function(
    obj: &Object<'_>,
    func: usize,
    first_slot: usize,
    targets: &Targets<'_>,
    out: &mut Assembled,
) -> Result<()> {
    let f = &obj.functions[func];
    let (start, end) = (byte_of_slot(f.start), byte_of_slot(f.start + f.len));
    let mut relocs = obj
        .relocs
        .range((f.section, start)..(f.section, end))
        .peekable();
    let mut j = 0;
    while j < f.len {
        let site = Site {
            section_slot: f.start + j,
            program_slot: first_slot + j,
        };
        // Relocations inside an instruction (an ld_imm64's second slot)
        // name no instruction and are passed over, as before.
        let byte = byte_of_slot(site.section_slot);
        while relocs.next_if(|((_, at), _)| *at < byte).is_some() {}
        let reloc = relocs.next_if(|((_, at), _)| *at == byte).map(|(_, r)| r);
        let insn = out.insns[site.program_slot];
        let result = if insn.is_ld_imm64() && j + 1 >= f.len {
            Err(format!(
                "ld_imm64 runs past the end of function '{}'",
                f.name
            ))
        } else {
            relocate_site(obj, f.section, site, reloc, targets, out)
        };
        result.map_err(|what| Error::Reloc {
            section: obj.sections[f.section].name.clone(),
            insn: site.section_slot,
            what,
        })?;
        j += if insn.is_ld_imm64() { 2 } else { 1 };
    }
    Ok(())
}

/// The reference at one site, if any, by what its ELF relocation (`reloc`)
/// names: an extern, or a symbol of the object that an ld_imm64 loads or a
/// call calls.
fn relocate_site(
    obj: &Object<'_>,
    section: usize,
    site: Site,
    reloc: Option<&Reloc>,
    targets: &Targets<'_>,
    out: &mut Assembled,
) -> std::result::Result<(), String> {
    let insn = out.insns[site.program_slot];
    let Some(reloc) = reloc else {
        // A call without relocation is relative inside its own section.
        if insn.is_pseudo_call() {
            return relocate_local_call(obj, section, site, out);
        }
        return Ok(());
    };
    let sym = &obj.symbols[reloc.symbol];
    match sym.section {
        None => relocate_extern(sym, site, targets.externs, &targets.map_fd, out),
        Some(target_section) if insn.is_ld_imm64() => {
            if reloc.r_type != R_BPF_64_64 {
                return Err(format!("ld_imm64 with relocation type {}", reloc.r_type));
            }
            relocate_load(obj, sym, target_section, site, targets, out)
        }
        Some(target_section) if insn.is_pseudo_call() => {
            if reloc.r_type != R_BPF_64_32 {
                return Err(format!("call with relocation type {}", reloc.r_type));
            }
            relocate_subprogram_call(obj, sym, target_section, site, out)
        }
        Some(_) => Err(format!(
            "relocation against '{}' on an instruction that is neither ld_imm64 nor a call",
            sym.name
        )),
    }
}

/// An ld_imm64 of a symbol defined in the object: what it becomes depends on
/// the section the symbol is in.
fn relocate_load(
    obj: &Object<'_>,
    sym: &Symbol,
    target_section: usize,
    site: Site,
    targets: &Targets<'_>,
    out: &mut Assembled,
) -> std::result::Result<(), String> {
    // Static symbols come as the section symbol with the byte offset in imm;
    // globals as their own symbol with imm 0.
    let addend = out.insns[site.program_slot].imm as i64 as u64;
    let byte = sym.value.wrapping_add(addend);
    match obj.sections[target_section].kind {
        SectionKind::Maps | SectionKind::LegacyMaps => {
            relocate_map_load(sym, target_section, byte, site, targets.map_fd, out)
        }
        SectionKind::Data(kind) => {
            let source = MapSource::Data {
                section: target_section,
                kind,
            };
            let size = obj.sections[target_section].size;
            relocate_data_load(sym, source, byte, size, site, targets.map_fd, out)
        }
        SectionKind::Text | SectionKind::Program => {
            relocate_function_pointer(obj, sym, target_section, byte, site, out)
        }
        _ => Err(format!(
            "'{}' is in section '{}', which is not a map, global data or code",
            sym.name, obj.sections[target_section].name
        )),
    }
}

/// Writes an ld_imm64 pair at the site, keeping the destination register.
fn put_pair(out: &mut Assembled, site: Site, pair: [Insn; 2]) {
    out.insns[site.program_slot..site.program_slot + 2].copy_from_slice(&pair);
}

fn dst_of(out: &Assembled, site: Site) -> u8 {
    out.insns[site.program_slot].dst
}

/// `r1 = &my_map` (a map defined in `.maps` or `maps`) becomes
/// `r1 = map[fd]`: the kernel swaps the fd for its map pointer.
fn relocate_map_load(
    sym: &Symbol,
    section: usize,
    byte: u64,
    site: Site,
    map_fd: &dyn Fn(MapSource) -> Option<RawFd>,
    out: &mut Assembled,
) -> std::result::Result<(), String> {
    let source = MapSource::Defined {
        section,
        offset: byte,
    };
    let fd = map_fd(source).ok_or_else(|| {
        format!(
            "no map defined at byte {byte} of its section (symbol '{}')",
            sym.name
        )
    })?;
    put_pair(out, site, Insn::ld_map_fd(dst_of(out, site), fd));
    Ok(())
}

/// `r1 = &my_global` (in `.data`, `.rodata`, `.bss`) becomes
/// `r1 = map_value[fd] + byte`: a pointer into the section's one-entry map.
fn relocate_data_load(
    sym: &Symbol,
    source: MapSource,
    byte: u64,
    section_size: u64,
    site: Site,
    map_fd: &dyn Fn(MapSource) -> Option<RawFd>,
    out: &mut Assembled,
) -> std::result::Result<(), String> {
    let fd = map_fd(source).ok_or_else(|| format!("no map for data symbol '{}'", sym.name))?;
    let byte = u32::try_from(byte)
        .ok()
        .filter(|&b| u64::from(b) < section_size)
        .ok_or_else(|| format!("byte {byte} of '{}' is past its section", sym.name))?;
    put_pair(out, site, Insn::ld_map_value(dst_of(out, site), fd, byte));
    Ok(())
}

/// `r2 = &callback` becomes `r2 = func pc+N`, the callback appended to the
/// program if it is not there yet.
fn relocate_function_pointer(
    obj: &Object<'_>,
    sym: &Symbol,
    section: usize,
    byte: u64,
    site: Site,
    out: &mut Assembled,
) -> std::result::Result<(), String> {
    let slot = slot_of_byte(byte)
        .ok_or_else(|| format!("function pointer to '{}' is not on a slot", sym.name))?;
    let rel = place_target(obj, section, slot as i64, site, out)?;
    put_pair(out, site, Insn::ld_func(dst_of(out, site), rel));
    Ok(())
}

/// `call helper_fn` (a function in the object, reached through its symbol)
/// becomes `call pc+N`, the callee appended if it is not there yet.
fn relocate_subprogram_call(
    obj: &Object<'_>,
    sym: &Symbol,
    section: usize,
    site: Site,
    out: &mut Assembled,
) -> std::result::Result<(), String> {
    let symbol_slot = match obj.sections[section].kind {
        SectionKind::Text | SectionKind::Program => slot_of_byte(sym.value),
        _ => None,
    };
    let symbol_slot =
        symbol_slot.ok_or_else(|| format!("call to '{}', which is not code", sym.name))?;
    // For a section symbol the callee is imm + 1 slots after the symbol.
    call_in_section(obj, section, symbol_slot, site, out)
}

/// A call with no relocation is pc-relative inside its own section; it
/// becomes pc-relative inside the program.
fn relocate_local_call(
    obj: &Object<'_>,
    section: usize,
    site: Site,
    out: &mut Assembled,
) -> std::result::Result<(), String> {
    call_in_section(obj, section, site.section_slot, site, out)
}

/// The call at `site` reaches `imm + 1` slots after slot `from` of
/// `section`: that function is placed and the call made relative to it.
fn call_in_section(
    obj: &Object<'_>,
    section: usize,
    from: usize,
    site: Site,
    out: &mut Assembled,
) -> std::result::Result<(), String> {
    let target = from as i64 + i64::from(out.insns[site.program_slot].imm) + 1;
    let rel = place_target(obj, section, target, site, out)?;
    out.insns[site.program_slot] = Insn::call_pseudo(rel);
    Ok(())
}

/// Places the function starting at `target_slot` of `section` and returns its
/// offset from the slot after the site, as calls and function loads count.
fn place_target(
    obj: &Object<'_>,
    section: usize,
    target_slot: i64,
    site: Site,
    out: &mut Assembled,
) -> std::result::Result<i32, String> {
    let func = usize::try_from(target_slot)
        .ok()
        .and_then(|t| obj.function_at(section, t))
        .ok_or_else(|| {
            format!(
                "target slot {target_slot} of section '{}' is not the start of a function",
                obj.sections[section].name
            )
        })?;
    let first_slot = append_function(obj, func, out);
    i32::try_from(first_slot as i64 - site.program_slot as i64 - 1)
        .map_err(|_| "program too large".to_string())
}

/// A reference to a symbol the object does not define: an extern, resolved
/// before this step ([`crate::object::externs`]).
fn relocate_extern(
    sym: &Symbol,
    site: Site,
    externs: &Resolved,
    map_fd: &dyn Fn(MapSource) -> Option<RawFd>,
    out: &mut Assembled,
) -> std::result::Result<(), String> {
    let resolution = externs.get(&sym.name).ok_or_else(|| {
        format!(
            "symbol '{}' is not defined in this object and is not a .kconfig or .ksyms extern",
            sym.name
        )
    })?;
    let insn = out.insns[site.program_slot];
    if insn.is_ld_imm64() {
        match *resolution {
            Resolution::Kconfig { byte } => relocate_kconfig_load(sym, byte, site, map_fd, out),
            Resolution::TypedKsym { btf_id, btf_obj_fd } => {
                relocate_typed_ksym_load(btf_id, btf_obj_fd, site, out)
            }
            Resolution::Address(address) => relocate_address_load(address, site, out),
            Resolution::Missing { .. } => relocate_address_load(0, site, out),
            Resolution::Kfunc {
                btf_id,
                fd_array_index,
            } => {
                // `bpf_ksym_exists(kfunc)`: the kfunc's address by BTF id, its
                // module's BTF object (if any) by fd.
                let btf_obj_fd = match fd_array_index {
                    0 => 0,
                    i => externs.fd_array.get(i as usize).copied().unwrap_or(-1),
                };
                relocate_typed_ksym_load(btf_id, btf_obj_fd, site, out)
            }
        }
    } else if insn.is_pseudo_call() {
        match *resolution {
            Resolution::Kfunc {
                btf_id,
                fd_array_index,
            } => relocate_kfunc_call(btf_id, fd_array_index, site, out),
            Resolution::Missing { number } => relocate_missing_kfunc_call(number, site, out),
            _ => Err(format!(
                "call of extern '{}', which is a variable, not a kernel function",
                sym.name
            )),
        }
    } else {
        Err(format!(
            "extern '{}' is used by an instruction that is neither ld_imm64 nor a call",
            sym.name
        ))
    }
}

/// `r1 = &CONFIG_HZ` (a `__kconfig` extern) becomes
/// `r1 = map_value[.kconfig fd] + byte`: the value sits in the frozen,
/// read-only `.kconfig` map, so the verifier reads it as a constant.
fn relocate_kconfig_load(
    sym: &Symbol,
    byte: u32,
    site: Site,
    map_fd: &dyn Fn(MapSource) -> Option<RawFd>,
    out: &mut Assembled,
) -> std::result::Result<(), String> {
    let fd = map_fd(MapSource::Kconfig)
        .ok_or_else(|| format!("no .kconfig map for extern '{}'", sym.name))?;
    let addend = out.insns[site.program_slot].imm;
    let byte = u32::try_from(i64::from(byte) + i64::from(addend))
        .map_err(|_| format!("extern '{}' with a negative addend", sym.name))?;
    put_pair(out, site, Insn::ld_map_value(dst_of(out, site), fd, byte));
    Ok(())
}

/// `r1 = &bpf_prog_active` (a typed `__ksym`) becomes
/// `r1 = btf_id[N]`: the kernel loads the variable's address and knows its type.
fn relocate_typed_ksym_load(
    btf_id: u32,
    btf_obj_fd: RawFd,
    site: Site,
    out: &mut Assembled,
) -> std::result::Result<(), String> {
    put_pair(
        out,
        site,
        Insn::ld_btf_id(dst_of(out, site), btf_id as i32, btf_obj_fd),
    );
    Ok(())
}

/// `r1 = &some_symbol` (a typeless `__ksym`, or a missing weak one) becomes
/// `r1 = ADDRESS`, a plain number from /proc/kallsyms (0 when missing).
fn relocate_address_load(
    address: u64,
    site: Site,
    out: &mut Assembled,
) -> std::result::Result<(), String> {
    put_pair(out, site, Insn::ld_u64(dst_of(out, site), address));
    Ok(())
}

/// `call bpf_kfunc` (an extern function with `__ksym`) becomes
/// `call kfunc[btf_id]`, with the BTF object's `fd_array` index in `off`
/// (0: vmlinux).
fn relocate_kfunc_call(
    btf_id: u32,
    fd_array_index: i16,
    site: Site,
    out: &mut Assembled,
) -> std::result::Result<(), String> {
    out.insns[site.program_slot] = Insn::call_module_kfunc(btf_id as i32, fd_array_index);
    Ok(())
}

/// `call weak_kfunc` that the kernel does not have becomes a call of a helper
/// that does not exist ([`POISONED_KFUNC_CALL`]): fine as dead code.
fn relocate_missing_kfunc_call(
    number: u32,
    site: Site,
    out: &mut Assembled,
) -> std::result::Result<(), String> {
    let id = POISONED_KFUNC_CALL.saturating_add(number as i32);
    out.insns[site.program_slot] = Insn::call_helper(id);
    Ok(())
}

/// The records of `sorted` (by byte offset, as [`BtfExt::parse`] leaves
/// them) whose byte offset lies in `range`: two binary searches.
fn in_range<'r, T>(sorted: &'r [T], off: fn(&T) -> u32, range: &std::ops::Range<u64>) -> &'r [T] {
    let start = sorted.partition_point(|r| u64::from(off(r)) < range.start);
    let end = sorted.partition_point(|r| u64::from(off(r)) < range.end);
    &sorted[start..end.max(start)]
}

fn move_ext_info(obj: &Object<'_>, ext: &BtfExt, out: &mut Assembled) -> Result<()> {
    for &(func, first_slot) in &out.layout {
        let f = &obj.functions[func];
        let name = &obj.sections[f.section].name;
        let range = byte_of_slot(f.start)..byte_of_slot(f.start + f.len);
        let to_program_slot = |byte: u32| -> Result<u32> {
            let section_slot = slot_of_byte(u64::from(byte)).ok_or_else(|| {
                Error::Btf(format!(
                    ".BTF.ext byte offset {byte} in '{name}' is not on a slot"
                ))
            })?;
            Ok((first_slot + (section_slot - f.start)) as u32)
        };
        // Each function takes its run of its section's records.
        let func_info = ext.func_info.get(name).map_or(&[][..], Vec::as_slice);
        let func_info = in_range(func_info, |r| r.insn_off, &range);
        out.func_info.reserve(func_info.len());
        for rec in func_info {
            out.func_info.push(FuncInfo {
                insn_off: to_program_slot(rec.insn_off)?,
                type_id: rec.type_id,
            });
        }
        let line_info = ext.line_info.get(name).map_or(&[][..], Vec::as_slice);
        let line_info = in_range(line_info, |r| r.insn_off, &range);
        out.line_info.reserve(line_info.len());
        for rec in line_info {
            out.line_info.push(LineInfo {
                insn_off: to_program_slot(rec.insn_off)?,
                ..*rec
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
