//! Step 4: relocation, turning a program's ELF code into what BPF_PROG_LOAD takes.
//!
//! The kernel loads one flat instruction array per program, so each
//! subprogram the program calls (or takes the address of, as a callback) is
//! appended to it once, recursively, and every call and function pointer gets
//! its offset relative to the instruction after it. References to maps become
//! `ld_imm64` with `src_reg = BPF_PSEUDO_MAP_FD` and the map's fd; references to
//! globals become `BPF_PSEUDO_MAP_VALUE` with the fd of the section's map and
//! the offset inside its value. Function pointers get `BPF_PSEUDO_FUNC`, which
//! clang leaves out.
//!
//! `.BTF.ext` func_info and line_info travel with their functions: their byte
//! offsets in an ELF section become instruction indexes of the final program.
//! The kernel matches func_info against its own split of the program into
//! subprograms (`check_btf_func` in kernel/bpf/verifier.c).
//!
//! This step is pure: map fds are handed in, so it is tested without a kernel.

use std::collections::BTreeMap;
use std::os::fd::RawFd;

use rawbpf_asm::{pseudo, Insn};

use crate::btf::{BtfExt, FuncInfo, LineInfo};
use crate::elf::{Object, SectionKind, R_BPF_64_32, R_BPF_64_64};
use crate::error::{Error, Result};
use crate::maps::MapSource;

/// A program ready for BPF_PROG_LOAD.
#[derive(Clone, Debug, Default)]
pub struct Linked {
    pub insns: Vec<Insn>,
    /// `insn_off` is an instruction index into `insns`.
    pub func_info: Vec<FuncInfo>,
    pub line_info: Vec<LineInfo>,
    /// The functions placed, as (index into `Object::functions`, first insn).
    pub layout: Vec<(usize, usize)>,
    /// `layout` indexed by function, so that finding whether a function is
    /// already placed does not take time linear in the functions placed.
    placed: BTreeMap<usize, usize>,
}

impl Linked {
    /// The encoded instructions.
    pub fn insn_bytes(&self) -> Vec<u8> {
        rawbpf_asm::encode(&self.insns)
    }

    /// func_info as packed `struct bpf_func_info` records.
    pub fn func_info_bytes(&self) -> Vec<u8> {
        self.func_info
            .iter()
            .flat_map(|f| [f.insn_off, f.type_id])
            .flat_map(u32::to_le_bytes)
            .collect()
    }

    /// line_info as packed `struct bpf_line_info` records.
    pub fn line_info_bytes(&self) -> Vec<u8> {
        self.line_info
            .iter()
            .flat_map(|l| [l.insn_off, l.file_name_off, l.line_off, l.line_col])
            .flat_map(u32::to_le_bytes)
            .collect()
    }
}

/// Builds the final instruction array of the program whose function index
/// (into `obj.functions`) is `entry`. `map_fd` gives the fd of the map created
/// for a [`MapSource`].
pub fn link(
    obj: &Object<'_>,
    entry: usize,
    ext: Option<&BtfExt>,
    map_fd: &dyn Fn(MapSource) -> Option<RawFd>,
) -> Result<Linked> {
    let mut out = Linked::default();
    let mut next = 0;
    place(obj, entry, &mut out);
    // `layout` grows while we walk it: each newly referenced function is
    // appended and relocated in turn.
    while next < out.layout.len() {
        let (func, base) = out.layout[next];
        next += 1;
        relocate_function(obj, func, base, map_fd, &mut out)?;
    }
    if let Some(ext) = ext {
        move_ext_info(obj, ext, &mut out)?;
    }
    Ok(out)
}

fn place(obj: &Object<'_>, func: usize, out: &mut Linked) -> usize {
    if let Some(&base) = out.placed.get(&func) {
        return base;
    }
    let f = &obj.functions[func];
    let base = out.insns.len();
    out.insns
        .extend_from_slice(&obj.sections[f.section].insns[f.start..f.start + f.len]);
    out.layout.push((func, base));
    out.placed.insert(func, base);
    base
}

fn relocate_function(
    obj: &Object<'_>,
    func: usize,
    base: usize,
    map_fd: &dyn Fn(MapSource) -> Option<RawFd>,
    out: &mut Linked,
) -> Result<()> {
    let f = &obj.functions[func];
    let section = &obj.sections[f.section];
    let err = |insn: usize, what: String| Error::Reloc {
        section: section.name.clone(),
        insn,
        what,
    };
    let mut j = 0;
    while j < f.len {
        let at = f.start + j; // index in the section
        let i = base + j; // index in the final program
        let insn = out.insns[i];
        if insn.is_ld_imm64() && j + 1 >= f.len {
            return Err(err(
                at,
                format!("ld_imm64 runs past the end of function '{}'", f.name),
            ));
        }
        j += if insn.is_ld_imm64() { 2 } else { 1 };

        let reloc = obj.relocs.get(&(f.section, at as u64 * 8));
        let Some(reloc) = reloc else {
            if insn.is_pseudo_call() {
                // A call without relocation is relative inside its own section.
                let target = at as i64 + i64::from(insn.imm) + 1;
                call_target(obj, f.section, target, i, out).map_err(|e| err(at, e))?;
            }
            continue;
        };
        let sym = &obj.symbols[reloc.symbol];
        let Some(target_section) = sym.section else {
            return Err(err(
                at,
                format!("symbol '{}' is not defined in this object (externs, kfuncs and ksyms are not supported)", sym.name),
            ));
        };
        let target_kind = obj.sections[target_section].kind;

        if insn.is_ld_imm64() {
            if reloc.r_type != R_BPF_64_64 {
                return Err(err(
                    at,
                    format!("ld_imm64 with relocation type {}", reloc.r_type),
                ));
            }
            // Static symbols come as the section symbol with the offset in imm;
            // globals as their own symbol with imm 0.
            let offset = sym.value.wrapping_add(insn.imm as i64 as u64);
            match target_kind {
                SectionKind::Maps | SectionKind::LegacyMaps => {
                    let source = MapSource::Defined {
                        section: target_section,
                        offset,
                    };
                    let fd = map_fd(source).ok_or_else(|| {
                        err(
                            at,
                            format!(
                                "no map defined at offset {offset} of its section (symbol '{}')",
                                sym.name
                            ),
                        )
                    })?;
                    out.insns[i].src = pseudo::MAP_FD;
                    out.insns[i].imm = fd;
                    out.insns[i + 1].imm = 0;
                }
                SectionKind::Data(kind) => {
                    let source = MapSource::Data {
                        section: target_section,
                        kind,
                    };
                    let fd = map_fd(source)
                        .ok_or_else(|| err(at, format!("no map for data symbol '{}'", sym.name)))?;
                    let size = obj.sections[target_section].size;
                    if offset >= size {
                        return Err(err(
                            at,
                            format!("offset {offset} of '{}' is past its section", sym.name),
                        ));
                    }
                    out.insns[i].src = pseudo::MAP_VALUE;
                    out.insns[i].imm = fd;
                    out.insns[i + 1].imm = offset as i32;
                }
                SectionKind::Text | SectionKind::Program => {
                    if offset % 8 != 0 {
                        return Err(err(
                            at,
                            format!(
                                "function pointer to '{}' is not on an instruction",
                                sym.name
                            ),
                        ));
                    }
                    out.insns[i].src = pseudo::FUNC;
                    call_target(obj, target_section, (offset / 8) as i64, i, out)
                        .map_err(|e| err(at, e))?;
                }
                _ => {
                    return Err(err(
                        at,
                        format!(
                            "'{}' is in section '{}', which is not a map, global data or code",
                            sym.name, obj.sections[target_section].name
                        ),
                    ))
                }
            }
        } else if insn.is_pseudo_call() {
            if reloc.r_type != R_BPF_64_32 {
                return Err(err(
                    at,
                    format!("call with relocation type {}", reloc.r_type),
                ));
            }
            if !matches!(target_kind, SectionKind::Text | SectionKind::Program)
                || sym.value % 8 != 0
            {
                return Err(err(
                    at,
                    format!("call to '{}', which is not code", sym.name),
                ));
            }
            let target = (sym.value / 8) as i64 + i64::from(insn.imm) + 1;
            call_target(obj, target_section, target, i, out).map_err(|e| err(at, e))?;
        } else {
            return Err(err(
                at,
                format!(
                    "relocation against '{}' on an instruction that is neither ld_imm64 nor a call",
                    sym.name
                ),
            ));
        }
    }
    Ok(())
}

/// Points the call or function load at final index `i` to instruction
/// `target` of `section`, placing the function that starts there if needed.
fn call_target(
    obj: &Object<'_>,
    section: usize,
    target: i64,
    i: usize,
    out: &mut Linked,
) -> std::result::Result<(), String> {
    let func = usize::try_from(target)
        .ok()
        .and_then(|t| obj.function_at(section, t))
        .ok_or_else(|| {
            format!(
                "target instruction {target} of section '{}' is not the start of a function",
                obj.sections[section].name
            )
        })?;
    let base = place(obj, func, out);
    out.insns[i].imm =
        i32::try_from(base as i64 - i as i64 - 1).map_err(|_| "program too large".to_string())?;
    Ok(())
}

fn move_ext_info(obj: &Object<'_>, ext: &BtfExt, out: &mut Linked) -> Result<()> {
    // Each section's records sorted by offset (clang writes them so, a
    // hostile object need not), once per program: every placed function then
    // finds its own by binary search instead of scanning all of them.
    let mut sorted = BTreeMap::new();
    for &(func, base) in &out.layout {
        let f = &obj.functions[func];
        let name = &obj.sections[f.section].name;
        let (func_info, line_info) = sorted.entry(f.section).or_insert_with(|| {
            (
                sorted_by_offset(ext.func_info.get(name), |r| r.insn_off),
                sorted_by_offset(ext.line_info.get(name), |r| r.insn_off),
            )
        });
        let range = f.start as u64 * 8..(f.start + f.len) as u64 * 8;
        let shift = |off: u32| -> Result<u32> {
            if off % 8 != 0 {
                return Err(Error::Btf(format!(
                    ".BTF.ext offset {off} in '{name}' is not on an instruction"
                )));
            }
            Ok((base + (off as usize / 8 - f.start)) as u32)
        };
        for rec in in_range(func_info, |r| r.insn_off, &range) {
            out.func_info.push(FuncInfo {
                insn_off: shift(rec.insn_off)?,
                type_id: rec.type_id,
            });
        }
        for rec in in_range(line_info, |r| r.insn_off, &range) {
            out.line_info.push(LineInfo {
                insn_off: shift(rec.insn_off)?,
                ..*rec
            });
        }
    }
    Ok(())
}

/// A copy of `records` in the order of their byte offset (a stable sort).
fn sorted_by_offset<T: Clone>(records: Option<&Vec<T>>, off: fn(&T) -> u32) -> Vec<T> {
    let mut records = records.cloned().unwrap_or_default();
    records.sort_by_key(off);
    records
}

/// The records of `sorted` whose byte offset lies in `range`.
fn in_range<'r, T>(sorted: &'r [T], off: fn(&T) -> u32, range: &std::ops::Range<u64>) -> &'r [T] {
    let start = sorted.partition_point(|r| u64::from(off(r)) < range.start);
    let end = sorted.partition_point(|r| u64::from(off(r)) < range.end);
    &sorted[start..end]
}
