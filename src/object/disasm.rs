//! `rawbpf disasm`: a BPF object's programs, instruction by instruction.
//!
//! Two views of the same code:
//!
//! - As clang left it ([`object()`]): every executable section in file order,
//!   each function under its name, the text exactly llvm-objdump's, and after
//!   `;` what the ELF relocation at that instruction refers to (`map hmap`,
//!   `data .rodata+0`, `func timer_callback`) or which helper a call is.
//! - As BPF_PROG_LOAD receives it ([`relocated`]): one flat array per
//!   program, subprograms appended, pseudo sources set, with func_info
//!   starting each function and line_info's source lines interleaved. The
//!   map fds are the ones a real run gets (3 for the BTF, 4 on for the maps
//!   in order), so the output reads side by side with `--trace`; the
//!   annotation names the map.
//!
//! Both are pure: the first a function of the object's bytes, the second of
//! the prepared object and the extern values the caller resolved (CO-RE
//! applied by the caller too). No kernel, no root here.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::fd::RawFd;

use rawbpf_asm::{pseudo, Insn, Syntax};

use crate::error::{Error, Result};
use crate::object::btf::{Btf, BtfExt, LineInfo};
use crate::object::core::describe_relo;
use crate::object::elf::{Object, SectionKind};
use crate::object::externs::{Resolved, KCONFIG_SEC};
use crate::object::maps::{MapSource, MapSpec};
use crate::object::reloc::{assemble_with, Assembled, Targets};
use crate::object::spec::ObjectSpec as Prepared;
use crate::uapi::helper_name;

/// What to show.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Only the program (or, unrelocated, the function) with this name.
    pub program: Option<String>,
    /// llvm's alu32 rendering of sub-register loads, stores and atomics.
    pub syntax: Syntax,
}

/// One instruction line: `  12: r1 = 0 ll ; map hmap`.
fn line(
    out: &mut String,
    at: usize,
    insn: &Insn,
    next: Option<&Insn>,
    syn: Syntax,
    note: Option<String>,
) {
    let _ = write!(out, "{at:>6}: {}", insn.display_with(next).syntax(syn));
    if let Some(note) = note {
        let _ = write!(out, " ; {note}");
    }
    out.push('\n');
}

/// Walks `insns` as the kernel does: an ld_imm64 and its second slot are one
/// instruction. Calls `f(index, insn, second slot)`.
fn each_insn(insns: &[Insn], mut f: impl FnMut(usize, &Insn, Option<&Insn>)) {
    let mut i = 0;
    while let Some(insn) = insns.get(i) {
        let next = insns
            .get(i + 1)
            .filter(|n| insn.is_ld_imm64() && n.is_ld_imm64_tail());
        f(i, insn, next);
        i += if next.is_some() { 2 } else { 1 };
    }
}

/// The object's code as clang wrote it, annotated from its relocations.
pub fn object(bytes: &[u8], opts: &Options) -> Result<String> {
    let obj = Object::parse(bytes)?;
    let core = core_notes(&obj);
    let mut out = String::new();
    for (index, section) in obj.sections.iter().enumerate() {
        if !matches!(section.kind, SectionKind::Program | SectionKind::Text) {
            continue;
        }
        let funcs: Vec<_> = obj
            .functions
            .iter()
            .filter(|f| f.section == index)
            .filter(|f| opts.program.as_ref().is_none_or(|p| *p == f.name))
            .collect();
        if funcs.is_empty() {
            continue;
        }
        let _ = writeln!(out, "section {}:", section.name);
        for f in funcs {
            let _ = writeln!(out, "{}:", f.name);
            let code = &section.insns[f.start..f.start + f.len];
            each_insn(code, |j, insn, next| {
                let at = f.start + j;
                let note = match (object_note(&obj, index, at, insn), core.get(&(index, at))) {
                    (Some(a), Some(b)) => Some(format!("{a}; {b}")),
                    (a, b) => a.or_else(|| b.cloned()),
                };
                line(&mut out, at, insn, next, opts.syntax, note);
            });
        }
        out.push('\n');
    }
    if out.is_empty() {
        return Err(no_such_program(opts));
    }
    Ok(out)
}

/// The CO-RE relocation of each instruction, by (section index, slot), with
/// its field path (`CO-RE FIELD_BYTE_OFFSET struct sk_buff.len (0:1)`).
/// Best effort: an object whose BTF does not parse gets no such notes.
fn core_notes(obj: &Object<'_>) -> BTreeMap<(usize, usize), String> {
    let mut notes = BTreeMap::new();
    let (Some(raw), Some(ext)) = (obj.btf, obj.btf_ext) else {
        return notes;
    };
    let Ok(btf) = Btf::parse(raw) else {
        return notes;
    };
    let Ok(ext) = BtfExt::parse(ext, &btf) else {
        return notes;
    };
    for (section, relos) in &ext.core_relos {
        let Some(index) = obj.sections.iter().position(|s| &s.name == section) else {
            continue;
        };
        for r in relos {
            let note = format!("CO-RE {}", describe_relo(&btf, r));
            notes.insert((index, r.insn_off as usize / 8), note);
        }
    }
    notes
}

fn no_such_program(opts: &Options) -> Error {
    match &opts.program {
        Some(p) => Error::Program {
            program: p.clone(),
            what: "no such program or function in the object".into(),
        },
        None => Error::Elf("no code in the object".into()),
    }
}

/// What the relocation at instruction `at` of `section` refers to, or which
/// helper or function a call reaches.
fn object_note(obj: &Object<'_>, section: usize, at: usize, insn: &Insn) -> Option<String> {
    let Some(reloc) = obj.relocs.get(&(section, at as u64 * 8)) else {
        if insn.is_helper_call() {
            return helper_name(insn.imm);
        }
        if insn.is_pseudo_call() {
            let target = (at as i64 + 1 + i64::from(insn.imm)).try_into().ok()?;
            let func = obj.function_at(section, target)?;
            return Some(format!("call {}", obj.functions[func].name));
        }
        return None;
    };
    let sym = obj.symbols.get(reloc.symbol)?;
    let Some(target) = sym.section else {
        return Some(format!("extern {}", sym.name));
    };
    let kind = obj.sections.get(target)?.kind;
    let name = &obj.sections[target].name;
    if insn.is_pseudo_call() {
        let start = (sym.value / 8) as i64 + i64::from(insn.imm) + 1;
        let func = obj.function_at(target, usize::try_from(start).ok()?)?;
        return Some(format!("call {}", obj.functions[func].name));
    }
    // A static symbol is its section's symbol plus the offset in imm.
    let offset = sym.value.wrapping_add(insn.imm as i64 as u64);
    Some(match kind {
        SectionKind::Maps | SectionKind::LegacyMaps => {
            match obj
                .maps
                .iter()
                .find(|m| m.section == target && m.offset == offset)
            {
                Some(m) => format!("map {}", m.name),
                None => format!("map at {name}+{offset}"),
            }
        }
        SectionKind::Data(_) if sym.is_section() => format!("data {name}+{offset}"),
        SectionKind::Data(_) => format!("data {name}+{offset} ({})", sym.name),
        SectionKind::Program | SectionKind::Text => {
            match obj.function_at(target, (offset / 8) as usize) {
                Some(f) => format!("func {}", obj.functions[f].name),
                None => format!("code {name}+{offset}"),
            }
        }
        _ => format!("{} in {name}", sym.name),
    })
}

/// Every program as BPF_PROG_LOAD receives it, from `p` with its CO-RE
/// relocations already applied and its externs resolved (`resolved`): the
/// caller decides against which kernel (`rawbpf disasm --relocated` uses
/// the running one, as `run` does).
pub fn relocated(p: &Prepared<'_>, resolved: &Resolved, opts: &Options) -> Result<String> {
    let maps = FakeFds {
        has_btf: p.btf.is_some(),
        maps: &p.maps,
        kconfig: !resolved.kconfig.is_empty(),
    };
    let targets = Targets {
        map_fd: &|source| maps.fd(source),
        externs: resolved,
    };
    let mut out = String::new();
    for &entry in &p.object.programs {
        let func = &p.object.functions[entry];
        if opts.program.as_ref().is_some_and(|p| *p != func.name) {
            continue;
        }
        let also = p.programs.iter().find(|s| s.entry == entry);
        let also = also.and_then(|s| s.exception_cb);
        let assembled = assemble_with(&p.object, entry, also, p.ext.as_ref(), &targets)?;
        program_listing(&mut out, p, entry, &assembled, &maps, opts);
        out.push('\n');
    }
    if out.is_empty() {
        return Err(no_such_program(opts));
    }
    Ok(out)
}

/// The fds a real run gives the maps: 3 is the BTF's, when there is BTF,
/// and maps follow in creation order, the `.kconfig` map (if any) last.
struct FakeFds<'m> {
    has_btf: bool,
    maps: &'m [MapSpec<'m>],
    kconfig: bool,
}

impl FakeFds<'_> {
    /// The fd of the map of `spec_index`.
    fn of(&self, spec_index: usize) -> RawFd {
        (3 + usize::from(self.has_btf) + spec_index) as RawFd
    }

    /// The fd of the map made from `source`.
    fn fd(&self, source: MapSource) -> Option<RawFd> {
        if source == MapSource::Kconfig && self.kconfig {
            return Some(self.of(self.maps.len()));
        }
        let i = self.maps.iter().position(|m| m.source == source)?;
        Some(self.of(i))
    }

    /// The name of the map given `fd`.
    fn name(&self, fd: i32) -> Option<&str> {
        if self.kconfig && fd == self.of(self.maps.len()) {
            return Some(KCONFIG_SEC);
        }
        (0..self.maps.len())
            .find(|&i| self.of(i) == fd)
            .map(|i| self.maps[i].name.as_str())
    }
}

/// One assembled program: a summary line, then each instruction, with
/// func_info starting each function and line_info's source lines.
fn program_listing(
    out: &mut String,
    p: &Prepared<'_>,
    entry: usize,
    linked: &Assembled,
    maps: &FakeFds<'_>,
    opts: &Options,
) {
    let obj = &p.object;
    let func = &obj.functions[entry];
    let _ = writeln!(
        out,
        "program {} (section {}): {} instructions, {} func_info, {} line_info",
        func.name,
        obj.sections[func.section].name,
        linked.insns.len(),
        linked.func_info.len(),
        linked.line_info.len()
    );
    // Functions by where they start, for calls and function pointers.
    let func_at = |i: usize| {
        linked
            .layout
            .iter()
            .find(|&&(_, base)| base == i)
            .map(|&(f, _)| obj.functions[f].name.as_str())
    };
    let mut lines = SourceLines {
        btf: p.btf.as_ref(),
        records: linked.line_info.iter().peekable(),
        last: None,
    };
    each_insn(&linked.insns, |i, insn, next| {
        // func_info first: it starts a function; then the source line.
        if let Some(fi) = linked.func_info.iter().find(|f| f.insn_off as usize == i) {
            let name = p
                .btf
                .as_ref()
                .and_then(|b| b.type_name(fi.type_id).ok())
                .unwrap_or("?");
            let _ = writeln!(out, "{name}: ; func_info type {}", fi.type_id);
        } else if let Some(name) = func_at(i).filter(|_| i > 0) {
            let _ = writeln!(out, "{name}:");
        }
        lines.up_to(out, i);
        let note = relocated_note(insn, next, i, &|fd| maps.name(fd), &func_at);
        line(out, i, insn, next, opts.syntax, note);
    });
}

/// The line_info records of a program, printed as the instructions reach
/// them; the same source line at another column is said once.
struct SourceLines<'a, I: Iterator<Item = &'a LineInfo>> {
    btf: Option<&'a Btf>,
    records: std::iter::Peekable<I>,
    last: Option<(u32, u32)>,
}

impl<'a, I: Iterator<Item = &'a LineInfo>> SourceLines<'a, I> {
    /// Prints the source lines of every record up to instruction `i`.
    fn up_to(&mut self, out: &mut String, i: usize) {
        while let Some(li) = self.records.next_if(|l| l.insn_off as usize <= i) {
            let here = (li.file_name_off, li.line_col >> 10);
            if self.last == Some(here) {
                continue;
            }
            self.last = Some(here);
            if let Some(text) = self.btf.and_then(|btf| source_line(btf, li)) {
                let _ = writeln!(out, "{text}");
            }
        }
    }
}

/// `        ; return 0; [./x.bpf.c:12:2]`: a line_info record as a comment;
/// None for the compiler's own lines (line 0, no text).
fn source_line(btf: &Btf, li: &LineInfo) -> Option<String> {
    let text = btf.name(li.line_off).unwrap_or("").trim();
    let file = btf.name(li.file_name_off).unwrap_or("?");
    // line_col: line number in the high 22 bits, column in the low 10.
    let (line, col) = (li.line_col >> 10, li.line_col & 0x3ff);
    (line != 0 || !text.is_empty()).then(|| format!("        ; {text} [{file}:{line}:{col}]"))
}

fn relocated_note<'a>(
    insn: &Insn,
    next: Option<&Insn>,
    i: usize,
    map_name: &dyn Fn(i32) -> Option<&'a str>,
    func_at: &dyn Fn(usize) -> Option<&'a str>,
) -> Option<String> {
    let target = || usize::try_from(i as i64 + 1 + i64::from(insn.imm)).ok();
    if insn.is_ld_imm64() {
        let name = || map_name(insn.imm).unwrap_or("?");
        return match insn.src {
            pseudo::MAP_FD => Some(format!("map_fd {}", name())),
            pseudo::MAP_VALUE => Some(format!(
                "map_value {}+{}",
                name(),
                next.map_or(0, |n| n.imm as u32)
            )),
            pseudo::FUNC => Some(format!(
                "func {}",
                target().and_then(func_at).unwrap_or("?")
            )),
            _ => insn.note(next),
        };
    }
    if insn.is_helper_call() {
        return helper_name(insn.imm);
    }
    if insn.is_pseudo_call() {
        return Some(format!(
            "call {}",
            target().and_then(func_at).unwrap_or("?")
        ));
    }
    insn.note(next)
}
