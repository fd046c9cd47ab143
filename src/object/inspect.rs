//! `rawbpf inspect`: what is inside a BPF object, as the loader sees it.
//!
//! Everything [`ObjectSpec::parse`](crate::ObjectSpec::parse) works out before the first system
//! call, printed for a person: the ELF sections, each program with the
//! program type and expected attach type its section name gives it, the maps
//! with their key and value types as C, the global-data sections and their
//! variables, the relocations grouped by what they refer to, the externs, and
//! the fix-ups rawbpf makes to the BTF before the kernel sees it. No kernel,
//! no root.

use std::fmt::Write as _;

use rawbpf_asm::Insn;

use crate::error::Result;
use crate::object::btf::{kind, Btf, CoreRelo};
use crate::object::btf_c;
use crate::object::core::describe_relo;
use crate::object::elf::{Object, SectionKind};
use crate::object::maps::{MapSource, MapSpec};
use crate::object::section::ProgKind;
use crate::object::spec::ObjectSpec as Prepared;
use crate::sys::MapFlags;
use crate::uapi::{AttachType, MapType, ProgType};

/// The whole report.
pub fn inspect(bytes: &[u8]) -> Result<String> {
    let p = Prepared::parse(bytes)?;
    let mut out = String::new();
    summary(&mut out, &p);
    sections(&mut out, &p.object);
    programs(&mut out, &p);
    maps(&mut out, &p);
    data(&mut out, &p);
    relocations(&mut out, &p);
    externs(&mut out, &p.object);
    fixups(&mut out, &p)?;
    Ok(out)
}

fn summary(out: &mut String, p: &Prepared<'_>) {
    let obj = &p.object;
    let _ = writeln!(out, "license: {:?}", obj.license.to_string_lossy());
    match &p.btf {
        Some(btf) => {
            let _ = writeln!(
                out,
                "BTF: {} bytes, {} types",
                btf.bytes().len(),
                btf.len() - 1
            );
        }
        None => {
            let _ = writeln!(out, "BTF: none");
        }
    }
    if let Some(ext) = &p.ext {
        let _ = writeln!(
            out,
            "BTF.ext: {} func_info, {} line_info, {} CO-RE relocations",
            ext.func_info.values().map(Vec::len).sum::<usize>(),
            ext.line_info.values().map(Vec::len).sum::<usize>(),
            ext.core_relos.iter().map(|(_, r)| r.len()).sum::<usize>()
        );
    }
}

fn section_kind(kind: SectionKind) -> &'static str {
    match kind {
        SectionKind::Program => "programs",
        SectionKind::Text => "subprograms",
        SectionKind::Maps => "BTF map definitions",
        SectionKind::LegacyMaps => "legacy map definitions",
        SectionKind::Data(_) => "global data",
        SectionKind::License => "license",
        SectionKind::Other => "",
    }
}

fn sections(out: &mut String, obj: &Object<'_>) {
    let _ = writeln!(out, "\nsections:");
    for s in &obj.sections {
        if s.name.is_empty() {
            continue;
        }
        let what = match s.kind {
            SectionKind::Other if s.name == ".BTF" => "types (BTF)",
            SectionKind::Other if s.name == ".BTF.ext" => "func_info, line_info, CO-RE (BTF.ext)",
            SectionKind::Other if s.name.starts_with(".rel") => "relocations",
            k => section_kind(k),
        };
        if what.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "  [{:>2}] {:<24} {:>6} bytes  {what}",
            s.index, s.name, s.size
        );
    }
}

fn programs(out: &mut String, p: &Prepared<'_>) {
    let obj = &p.object;
    let _ = writeln!(out, "\nprograms:");
    for &entry in &obj.programs {
        let f = &obj.functions[entry];
        let section = &obj.sections[f.section].name;
        let kind = match ProgKind::from_section(section) {
            Some(k) => {
                let mut s = format!(
                    "type {}, expected attach type {}",
                    ProgType(k.prog_type),
                    AttachType(k.expected_attach_type)
                );
                if let Some(func) = &k.attach_func {
                    let _ = write!(s, ", attaches to kernel function {func}");
                }
                s
            }
            None => "section name unknown to rawbpf: not loadable".into(),
        };
        let _ = writeln!(
            out,
            "  {}  section {section}  {kind}  {} insns ({} bytes)",
            f.name,
            f.len,
            f.len * 8
        );
        let cb = p.programs.iter().find(|s| s.entry == entry);
        if let Some(cb) = cb.and_then(|s| s.exception_cb) {
            let _ = writeln!(
                out,
                "      exception callback {} (__exception_cb): appended with its func_info",
                obj.functions[cb].name
            );
        }
    }
    let subs: Vec<_> = obj
        .functions
        .iter()
        .enumerate()
        .filter(|(i, _)| !obj.programs.contains(i))
        .collect();
    if !subs.is_empty() {
        let _ = writeln!(
            out,
            "subprograms (appended to each program that uses them):"
        );
        for (_, f) in subs {
            let _ = writeln!(
                out,
                "  {}  section {}  {} insns",
                f.name, obj.sections[f.section].name, f.len
            );
        }
    }
}

fn maps(out: &mut String, p: &Prepared<'_>) {
    let _ = writeln!(out, "\nmaps (BPF_MAP_CREATE, in this order):");
    for m in &p.maps {
        map_line(out, p, m);
        if m.initial.is_some() {
            let _ = writeln!(
                out,
                "      then BPF_MAP_UPDATE_ELEM of the section's bytes{}",
                if m.freeze {
                    ", then BPF_MAP_FREEZE"
                } else {
                    ""
                }
            );
        }
        if let Some(btf) = &p.btf {
            struct_definitions(out, btf, [m.attr.btf_key_type_id, m.attr.btf_value_type_id]);
        }
    }
}

/// `  hmap  ARRAY  key int (4 bytes)  value struct elem (16 bytes)
/// max_entries 1  (defined in .maps)`.
fn map_line(out: &mut String, p: &Prepared<'_>, m: &MapSpec<'_>) {
    let a = &m.attr;
    let origin = match m.source {
        MapSource::Defined { section, .. } => {
            format!("defined in {}", p.object.sections[section].name)
        }
        MapSource::Data { section, .. } => {
            format!("global data of {}", p.object.sections[section].name)
        }
        MapSource::Kconfig => "the .kconfig externs, resolved at load time".to_string(),
    };
    let ty = |id: u32, size: u32| match (&p.btf, id) {
        (Some(btf), id) if id != 0 => {
            format!("{} ({size} bytes)", btf_c::declaration(btf, id, ""))
        }
        _ => format!("{size} bytes"),
    };
    let _ = write!(
        out,
        "  {}  {}  key {}  value {}  max_entries {}",
        m.name,
        MapType(a.map_type),
        ty(a.btf_key_type_id, a.key_size),
        ty(a.btf_value_type_id, a.value_size),
        a.max_entries
    );
    if a.map_flags != 0 {
        let flags = MapFlags::from_bits_retain(a.map_flags);
        let names: Vec<&str> = flags.iter_names().map(|(n, _)| n).collect();
        let _ = write!(out, "  flags {}", names.join("|"));
    }
    let _ = writeln!(out, "  ({origin})");
}

/// The C definitions of the named structs a map's key and value refer to.
fn struct_definitions(out: &mut String, btf: &Btf, ids: [u32; 2]) {
    for id in ids
        .into_iter()
        .filter(|&id| id != 0)
        .flat_map(|id| btf_c::referenced_structs(btf, id))
    {
        if btf.type_name(id).is_ok_and(|n| !n.is_empty()) {
            if let Ok(def) = btf_c::definition(btf, id) {
                for line in def.lines() {
                    let _ = writeln!(out, "      {}", line.replace('\t', "    "));
                }
            }
        }
    }
}

fn data(out: &mut String, p: &Prepared<'_>) {
    let obj = &p.object;
    let sections: Vec<_> = obj.data_sections().collect();
    if sections.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nglobal data (one single-entry ARRAY map each):");
    for (s, _) in sections {
        let _ = writeln!(out, "  {}  {} bytes", s.name, s.size);
        let Some(btf) = &p.btf else { continue };
        let Some(sec) = btf.find(kind::DATASEC, &s.name) else {
            continue;
        };
        for (var, offset, size) in btf.datasec_vars(sec).unwrap_or_default() {
            let decl = btf_c::declaration(btf, var, "");
            let _ = writeln!(out, "      +{offset:<4} {decl}; ({size} bytes)");
        }
    }
}

/// What a relocation or call at an instruction refers to.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum RelocKind {
    /// ld_imm64 of a map: becomes BPF_PSEUDO_MAP_FD.
    Map,
    /// ld_imm64 of a global: becomes BPF_PSEUDO_MAP_VALUE.
    Data,
    /// A bpf-to-bpf call: the callee is appended and the offset fixed.
    Call,
    /// ld_imm64 of a function's address: becomes BPF_PSEUDO_FUNC.
    Callback,
    /// A symbol the object does not define.
    Extern,
}

impl RelocKind {
    fn title(self) -> &'static str {
        match self {
            RelocKind::Map => "map (ld_imm64 -> BPF_PSEUDO_MAP_FD)",
            RelocKind::Data => "global data (ld_imm64 -> BPF_PSEUDO_MAP_VALUE)",
            RelocKind::Call => "subprogram call (call -> BPF_PSEUDO_CALL)",
            RelocKind::Callback => "callback (ld_imm64 -> BPF_PSEUDO_FUNC)",
            RelocKind::Extern => "extern (not defined in the object)",
        }
    }
}

/// Every relocation (and relative call), as (kind, function, insn, target).
fn classify(obj: &Object<'_>) -> Vec<(RelocKind, String, usize, String)> {
    let mut found = Vec::new();
    for f in &obj.functions {
        let code = &obj.sections[f.section].insns;
        for at in f.start..f.start + f.len {
            let Some(insn) = code.get(at) else { break };
            if let Some((kind, target)) = reloc_at(obj, f.section, at, insn) {
                found.push((kind, f.name.clone(), at, target));
            }
        }
    }
    found.sort();
    found
}

fn reloc_at(
    obj: &Object<'_>,
    section: usize,
    at: usize,
    insn: &Insn,
) -> Option<(RelocKind, String)> {
    let func_name = |section: usize, start: i64| {
        usize::try_from(start)
            .ok()
            .and_then(|s| obj.function_at(section, s))
            .map_or("?".to_string(), |f| obj.functions[f].name.clone())
    };
    let Some(reloc) = obj.relocs.get(&(section, at as u64 * 8)) else {
        // A call inside its own section needs no relocation.
        return insn.is_pseudo_call().then(|| {
            let target = at as i64 + 1 + i64::from(insn.imm);
            (RelocKind::Call, func_name(section, target))
        });
    };
    let sym = obj.symbols.get(reloc.symbol)?;
    let Some(target) = sym.section else {
        return Some((RelocKind::Extern, sym.name.clone()));
    };
    let tsec = obj.sections.get(target)?;
    if insn.is_pseudo_call() {
        let start = (sym.value / 8) as i64 + i64::from(insn.imm) + 1;
        return Some((RelocKind::Call, func_name(target, start)));
    }
    let offset = sym.value.wrapping_add(insn.imm as i64 as u64);
    Some(match tsec.kind {
        SectionKind::Maps | SectionKind::LegacyMaps => {
            let name = obj
                .maps
                .iter()
                .find(|m| m.section == target && m.offset == offset)
                .map_or(format!("{}+{offset}", tsec.name), |m| m.name.clone());
            (RelocKind::Map, name)
        }
        SectionKind::Data(_) if sym.is_section() => {
            (RelocKind::Data, format!("{}+{offset}", tsec.name))
        }
        SectionKind::Data(_) => (
            RelocKind::Data,
            format!("{} ({}+{offset})", sym.name, tsec.name),
        ),
        SectionKind::Program | SectionKind::Text => {
            (RelocKind::Callback, func_name(target, (offset / 8) as i64))
        }
        _ => (RelocKind::Extern, format!("{} in {}", sym.name, tsec.name)),
    })
}

fn relocations(out: &mut String, p: &Prepared<'_>) {
    let found = classify(&p.object);
    let _ = writeln!(out, "\nrelocations (function insn -> target):");
    for kind in [
        RelocKind::Map,
        RelocKind::Data,
        RelocKind::Call,
        RelocKind::Callback,
        RelocKind::Extern,
    ] {
        let of_kind: Vec<_> = found.iter().filter(|r| r.0 == kind).collect();
        let _ = writeln!(out, "  {}: {}", kind.title(), of_kind.len());
        for (_, func, at, target) in of_kind {
            let _ = writeln!(out, "      {func} {at} -> {target}");
        }
    }
    // CO-RE relocations live in .BTF.ext, not in ELF relocation sections.
    let core: Vec<(&str, &CoreRelo)> = p
        .ext
        .iter()
        .flat_map(|e| &e.core_relos)
        .flat_map(|(sec, relos)| relos.iter().map(move |r| (sec.as_str(), r)))
        .collect();
    let _ = writeln!(
        out,
        "  CO-RE (.BTF.ext field and type relocations): {}",
        core.len()
    );
    if let Some(btf) = &p.btf {
        for (sec, r) in core {
            let _ = writeln!(
                out,
                "      {sec} insn {} -> {}",
                r.insn_off / 8,
                describe_relo(btf, r)
            );
        }
    }
}

fn externs(out: &mut String, obj: &Object<'_>) {
    let mut names: Vec<&str> = obj
        .relocs
        .values()
        .filter_map(|r| obj.symbols.get(r.symbol))
        .filter(|s| s.section.is_none() && !s.name.is_empty())
        .map(|s| s.name.as_str())
        .collect();
    names.sort();
    names.dedup();
    let _ = writeln!(
        out,
        "\nexterns: {}",
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    );
}

/// What rawbpf changes in the BTF before BPF_BTF_LOAD: clang leaves each
/// DATASEC's size and its global variables' offsets for the loader to fill
/// in from the ELF section and symbols, and the kernel wants the entries
/// sorted by offset.
fn fixups(out: &mut String, p: &Prepared<'_>) -> Result<()> {
    let (Some(fixed), Some(raw)) = (&p.btf, p.object.btf) else {
        return Ok(());
    };
    let before = Btf::parse(raw)?;
    let _ = writeln!(out, "\nBTF fix-ups before BPF_BTF_LOAD:");
    let mut any = false;
    for id in 1..fixed.len() as u32 {
        let (Ok(t0), Ok(t1)) = (before.get(id), fixed.get(id)) else {
            continue;
        };
        if t1.kind == kind::FUNC && t0.vlen != t1.vlen {
            any = true;
            let linkage = |l: u16| ["static", "global", "extern"].get(usize::from(l)).copied();
            let _ = writeln!(
                out,
                "  FUNC {}: {} -> {}{}",
                fixed.name(t1.name_off)?,
                linkage(t0.vlen).unwrap_or("?"),
                linkage(t1.vlen).unwrap_or("?"),
                if (t0.vlen, t1.vlen) == (1, 0) {
                    " (__hidden: verified with its caller)"
                } else {
                    ""
                }
            );
        }
        if t1.kind != kind::DATASEC {
            continue;
        }
        let name = fixed.name(t1.name_off)?;
        if t0.size_or_type != t1.size_or_type {
            any = true;
            let _ = writeln!(
                out,
                "  DATASEC {name}: size {} -> {} (the ELF section's size)",
                t0.size_or_type, t1.size_or_type
            );
        }
        let vars0 = before.datasec_vars(id)?;
        for (var, offset, size) in fixed.datasec_vars(id)? {
            let old = vars0.iter().find(|v| v.0 == var).map(|v| v.1);
            if old != Some(offset) {
                any = true;
                let var_name = fixed.type_name(var).unwrap_or("?");
                let _ = writeln!(
                    out,
                    "  DATASEC {name}: VAR {var_name} offset {} -> {offset} ({size} bytes, from its ELF symbol)",
                    old.map_or("?".to_string(), |o| o.to_string())
                );
            }
        }
    }
    if !any {
        let _ = writeln!(out, "  none needed");
    }
    Ok(())
}
