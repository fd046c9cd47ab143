//! Step 1: read a clang-built BPF ELF object into the pieces a loader needs.
//!
//! clang puts each `SEC("...")` program in an executable section of that name,
//! one global FUNC symbol per program; static functions that are called or
//! whose address is taken go to `.text` as subprograms. Maps defined with BTF
//! live in `.maps` (their bytes are all zero: the definition is in `.BTF`),
//! legacy `struct bpf_map_def` maps in `maps`, globals in `.rodata*`, `.data*`
//! and `.bss*`, and the license string in `license`. References from code to
//! maps, globals and functions are REL relocations in `.rel<section>`, whose
//! `sh_info` names the section they patch.
//!
//! The kernel never sees the ELF: what it checks later comes from here.
//! The license string decides whether GPL-only helpers may be called
//! (`license_is_gpl_compatible`, checked in `bpf_prog_load`); every program
//! and subprogram must start where a FUNC says, because BTF func_info is
//! matched against the verifier's own split into subprograms
//! (`check_btf_func`).
//!
//! Nothing here touches the kernel: it is a pure function of the bytes.

use std::collections::BTreeMap;
use std::ffi::CString;

use object::elf;
use object::read::elf::{FileHeader, Rel, SectionHeader, Sym};
use object::LittleEndian as LE;
use rawbpf_asm::Insn;

use crate::error::{Error, Result};

/// `e_machine` of BPF objects.
const EM_BPF: u16 = 247;

/// The relocation types clang emits for BPF code (llvm's ELFRelocs/BPF.def).
pub const R_BPF_64_64: u32 = 1;
/// `R_BPF_64_32`: a call or callback reference to a function (a 32-bit instruction offset).
pub const R_BPF_64_32: u32 = 10;

/// What a section is to the loader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionKind {
    /// An executable section holding programs (`SEC("cgroup_skb/egress")`).
    Program,
    /// `.text`: subprograms and callbacks.
    Text,
    /// `.maps`: maps defined through BTF.
    Maps,
    /// `maps`: legacy `struct bpf_map_def` maps.
    LegacyMaps,
    /// Global variables, one ARRAY map each.
    Data(DataKind),
    /// `license`.
    License,
    /// Anything the loader does not need (DWARF, BTF, symbol tables, ...).
    Other,
}

/// The three kinds of global-data section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DataKind {
    /// `.rodata*`: constants; read-only for programs and frozen after writing.
    Rodata,
    /// `.data*`: initialised globals.
    Data,
    /// `.bss*`: zero-initialised globals (no bytes in the file).
    Bss,
}

/// One ELF section with what the loader needs of it.
#[derive(Debug)]
pub struct Section<'a> {
    /// The section's index in the ELF file.
    pub index: usize,
    /// The section's name.
    pub name: String,
    /// What the loader makes of it.
    pub kind: SectionKind,
    /// File contents; empty for `.bss` (SHT_NOBITS).
    pub data: &'a [u8],
    /// Its size in bytes (for `.bss` too, which has no file contents).
    pub size: u64,
    /// Decoded instructions, for Program and Text sections.
    pub insns: Vec<Insn>,
}

/// A symbol from `.symtab`.
#[derive(Clone, Debug)]
pub struct Symbol {
    /// The symbol's name.
    pub name: String,
    /// The section it is defined in (None for undefined, absolute, common).
    pub section: Option<usize>,
    /// The symbol's value: its offset in its section.
    pub value: u64,
    /// The symbol's size.
    pub size: u64,
    /// Its type (`STT_*`).
    pub kind: u8,
    /// Whether it is global (a BPF program, a global function).
    pub global: bool,
    /// `STB_WEAK`: for an extern, "missing is fine, read it as zero".
    pub weak: bool,
    /// Visibility `STV_HIDDEN` or `STV_INTERNAL` (`__hidden`): global for
    /// the linker's sake only; a hidden function in `.text` is verified as
    /// a static one (see [`crate::object::btf::Btf::fix_hidden_funcs`]).
    pub hidden: bool,
}

impl Symbol {
    /// Whether this is a section symbol (STT_SECTION).
    pub fn is_section(&self) -> bool {
        self.kind == elf::STT_SECTION.0
    }
}

/// A FUNC symbol in an executable section: a program or a subprogram.
#[derive(Clone, Debug)]
pub struct Function {
    /// The function's name.
    pub name: String,
    /// The index of its section.
    pub section: usize,
    /// First instruction, as an index into the section.
    pub start: usize,
    /// Length in instruction slots.
    pub len: usize,
    /// Whether it is global: a program outside `.text`, a global function in it.
    pub global: bool,
    /// Whether its symbol is `__hidden` (STV_HIDDEN or STV_INTERNAL).
    pub hidden: bool,
}

/// One relocation in a code section.
#[derive(Clone, Copy, Debug)]
pub struct Reloc {
    /// Index into [`Object::symbols`].
    pub symbol: usize,
    /// The relocation type (`R_BPF_*`).
    pub r_type: u32,
}

/// A relocation in `.maps`: a pointer in a map definition's static `values`
/// initialiser (`.values = { [0] = &inner_map }` or `= { [0] = &prog }`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapReloc {
    /// Byte offset in `.maps` of the 8-byte pointer.
    pub offset: u64,
    /// Index into [`Object::symbols`]: the map or program pointed to.
    pub symbol: usize,
}

/// A map's place in `.maps` or `maps`, named by its symbol.
#[derive(Clone, Debug)]
pub struct MapSymbol {
    /// The map's name.
    pub name: String,
    /// The index of the section it is defined in.
    pub section: usize,
    /// Its offset there.
    pub offset: u64,
    /// The size of its definition.
    pub size: u64,
}

/// A parsed BPF object.
#[derive(Debug)]
pub struct Object<'a> {
    /// The sections the loader cares about.
    pub sections: Vec<Section<'a>>,
    /// The symbol table.
    pub symbols: Vec<Symbol>,
    /// Every function of every executable section, sorted by (section, start).
    pub functions: Vec<Function>,
    /// Indexes into `functions` of the entry points (global functions outside `.text`).
    pub programs: Vec<usize>,
    /// The maps defined in `.maps` and `maps`.
    pub maps: Vec<MapSymbol>,
    /// Relocations of code sections, keyed by (section, byte offset).
    pub relocs: BTreeMap<(usize, u64), Reloc>,
    /// Relocations of `.maps`: map-in-map and program-array initialisers.
    pub map_relocs: Vec<MapReloc>,
    /// The `license` section's string.
    pub license: CString,
    /// The `.BTF` section, if any.
    pub btf: Option<&'a [u8]>,
    /// The `.BTF.ext` section, if any.
    pub btf_ext: Option<&'a [u8]>,
}

fn elf_err(what: impl std::fmt::Display) -> Error {
    Error::Elf(what.to_string())
}

fn classify(name: &str, sh_type: u32, flags: u64) -> SectionKind {
    let exec = flags & elf::SHF_EXECINSTR.0 != 0;
    let alloc = flags & elf::SHF_ALLOC.0 != 0;
    let has = |prefix: &str| name == prefix || name.starts_with(&format!("{prefix}."));
    match name {
        ".text" if exec => SectionKind::Text,
        ".maps" => SectionKind::Maps,
        "maps" => SectionKind::LegacyMaps,
        "license" => SectionKind::License,
        _ if exec && sh_type == elf::SHT_PROGBITS.0 => SectionKind::Program,
        _ if alloc && has(".rodata") => SectionKind::Data(DataKind::Rodata),
        _ if alloc && has(".data") => SectionKind::Data(DataKind::Data),
        _ if alloc && has(".bss") => SectionKind::Data(DataKind::Bss),
        _ => SectionKind::Other,
    }
}

/// The ELF file header of a BPF object.
type Header = elf::FileHeader64<LE>;
/// The section header table of a BPF object.
type SectionTable<'a> = object::read::elf::SectionTable<'a, Header>;
/// The sections, then the `.BTF` and `.BTF.ext` bytes.
type Sections<'a> = (Vec<Section<'a>>, Option<&'a [u8]>, Option<&'a [u8]>);
/// Code relocations keyed by (section, byte offset), then `.maps` relocations.
type Relocations = (BTreeMap<(usize, u64), Reloc>, Vec<MapReloc>);

impl<'a> Object<'a> {
    /// Parses a BPF ELF object. Everything is bounds-checked: malformed input
    /// gives an [`Error::Elf`] naming what is wrong, never a panic.
    pub fn parse(data: &'a [u8]) -> Result<Object<'a>> {
        let (endian, table) = check_header(data)?;
        let (sections, btf, btf_ext) = read_sections(&table, endian, data)?;
        let symbols = read_symbols(&table, endian, data, &sections)?;
        let functions = collect_functions(&sections, &symbols)?;
        let programs = find_programs(&sections, &functions);
        let maps = find_maps(&sections, &symbols);
        let (relocs, map_relocs) = read_relocations(&table, endian, data, &sections, &symbols)?;
        let license = read_license(&sections);

        Ok(Object {
            sections,
            symbols,
            functions,
            programs,
            maps,
            relocs,
            map_relocs,
            license,
            btf,
            btf_ext,
        })
    }

    /// The section with this name.
    pub fn section_by_name(&self, name: &str) -> Option<&Section<'a>> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The function that starts at instruction `start` of `section`.
    pub fn function_at(&self, section: usize, start: usize) -> Option<usize> {
        self.functions
            .binary_search_by(|f| (f.section, f.start).cmp(&(section, start)))
            .ok()
    }

    /// Global-data sections, which each become a one-entry ARRAY map.
    pub fn data_sections(&self) -> impl Iterator<Item = (&Section<'a>, DataKind)> {
        self.sections.iter().filter_map(|s| match s.kind {
            SectionKind::Data(kind) if s.size > 0 => Some((s, kind)),
            _ => None,
        })
    }
}

/// The kernel loads only 64-bit little-endian relocatable objects built for
/// `EM_BPF`; checks that and returns the section header table.
fn check_header(data: &[u8]) -> Result<(LE, SectionTable<'_>)> {
    let header = Header::parse(data)
        .map_err(|e| elf_err(format!("not a 64-bit little-endian ELF file ({e})")))?;
    let endian = header.endian().map_err(elf_err)?;
    if header.e_machine(endian).0 != EM_BPF {
        return Err(elf_err(format!(
            "e_machine is {}, not EM_BPF ({EM_BPF}): not a BPF object",
            header.e_machine(endian).0
        )));
    }
    if header.e_type(endian) != elf::ET_REL {
        return Err(elf_err("not a relocatable object (ET_REL)"));
    }
    let table = header.sections(endian, data).map_err(elf_err)?;
    Ok((endian, table))
}

/// Every section by its ELF index, code sections decoded into instructions
/// (each 8 bytes, a 64-bit immediate load taking two), plus `.BTF` and `.BTF.ext`.
fn read_sections<'a>(table: &SectionTable<'a>, endian: LE, data: &'a [u8]) -> Result<Sections<'a>> {
    let mut sections = Vec::with_capacity(table.len());
    let mut btf = None;
    let mut btf_ext = None;
    for (index, sh) in table.enumerate() {
        let index = index.0;
        let name = table.section_name(endian, sh).map_err(elf_err)?;
        let name = String::from_utf8_lossy(name).into_owned();
        let sh_type = sh.sh_type(endian);
        let kind = classify(&name, sh_type.0, sh.sh_flags(endian).0);
        let bytes = sh
            .data(endian, data)
            .map_err(|e| elf_err(format!("section '{name}': {e}")))?;
        match name.as_str() {
            ".BTF" => btf = Some(bytes),
            ".BTF.ext" => btf_ext = Some(bytes),
            _ => {}
        }
        let insns = match kind {
            SectionKind::Program | SectionKind::Text => {
                rawbpf_asm::decode(bytes).map_err(|e| elf_err(format!("section '{name}': {e}")))?
            }
            _ => Vec::new(),
        };
        sections.push(Section {
            index,
            name,
            kind,
            data: bytes,
            size: sh.sh_size(endian),
            insns,
        });
    }
    Ok((sections, btf, btf_ext))
}

/// The `.symtab` entries, which name programs, functions and maps; an object
/// without one (stripped) cannot be loaded.
fn read_symbols(
    table: &SectionTable<'_>,
    endian: LE,
    data: &[u8],
    sections: &[Section<'_>],
) -> Result<Vec<Symbol>> {
    let symtab = table
        .symbols(endian, data, elf::SHT_SYMTAB)
        .map_err(|e| elf_err(format!("symbol table: {e}")))?;
    let mut symbols = Vec::with_capacity(symtab.len());
    for sym in symtab.iter() {
        let name = symtab.symbol_name(endian, sym).map_err(elf_err)?;
        let section = sym
            .st_shndx(endian)
            .index()
            .map(usize::from)
            .filter(|&i| i < sections.len());
        symbols.push(Symbol {
            name: String::from_utf8_lossy(name).into_owned(),
            section,
            value: sym.st_value(endian),
            size: sym.st_size(endian),
            kind: sym.st_type().0,
            global: sym.st_bind() == elf::STB_GLOBAL || sym.st_bind() == elf::STB_WEAK,
            weak: sym.st_bind() == elf::STB_WEAK,
            hidden: matches!(sym.st_visibility(), elf::STV_HIDDEN | elf::STV_INTERNAL),
        });
    }
    if symbols.is_empty() {
        return Err(elf_err(
            "no symbol table (.symtab): was the object stripped?",
        ));
    }
    Ok(symbols)
}

/// The entry points: global functions in a program section (`.text` holds
/// only subprograms, which the kernel receives appended to a program).
fn find_programs(sections: &[Section<'_>], functions: &[Function]) -> Vec<usize> {
    functions
        .iter()
        .enumerate()
        .filter(|(_, f)| f.global && sections[f.section].kind == SectionKind::Program)
        .map(|(i, _)| i)
        .collect()
}

/// The map definitions: object (or named untyped) symbols in `.maps` or `maps`.
fn find_maps(sections: &[Section<'_>], symbols: &[Symbol]) -> Vec<MapSymbol> {
    symbols
        .iter()
        .filter(|s| {
            s.kind == elf::STT_OBJECT.0 || (s.kind == elf::STT_NOTYPE.0 && !s.name.is_empty())
        })
        .filter_map(|s| {
            let section = s.section?;
            matches!(
                sections[section].kind,
                SectionKind::Maps | SectionKind::LegacyMaps
            )
            .then(|| MapSymbol {
                name: s.name.clone(),
                section,
                offset: s.value,
                size: s.size,
            })
        })
        .collect()
}

/// The REL relocations of code sections (each on an 8-byte instruction) and
/// of `.maps` (each an 8-byte pointer), checked against the symbol table.
/// Relocations of other sections (DWARF, `.BTF`, `.BTF.ext`) are for
/// linkers, not for a loader.
fn read_relocations(
    table: &SectionTable<'_>,
    endian: LE,
    data: &[u8],
    sections: &[Section<'_>],
    symbols: &[Symbol],
) -> Result<Relocations> {
    let mut relocs = BTreeMap::new();
    let mut map_relocs = Vec::new();
    for sh in table.iter() {
        let Some((rels, _link)) = sh.rel(endian, data).map_err(elf_err)? else {
            continue;
        };
        let target = sh.sh_info(endian) as usize;
        let Some(target_section) = sections.get(target) else {
            return Err(elf_err(format!(
                "relocation section targets missing section {target}"
            )));
        };
        match target_section.kind {
            SectionKind::Maps => {
                for rel in rels {
                    map_relocs.push(map_reloc(rel, endian, target_section, symbols.len())?);
                }
            }
            SectionKind::Program | SectionKind::Text => {
                for rel in rels {
                    let (offset, reloc) = code_reloc(rel, endian, target_section, symbols.len())?;
                    relocs.insert((target, offset), reloc);
                }
            }
            _ => {}
        }
    }
    Ok((relocs, map_relocs))
}

/// A relocation in `.maps`: an 8-byte pointer (to an inner map or a
/// program) inside the section, naming a known symbol.
fn map_reloc(
    rel: &elf::Rel64<LE>,
    endian: LE,
    maps: &Section<'_>,
    symbol_count: usize,
) -> Result<MapReloc> {
    let (offset, symbol) = (rel.r_offset(endian), rel.r_sym(endian) as usize);
    let in_section = offset.checked_add(8).is_some_and(|end| end <= maps.size);
    if symbol >= symbol_count || offset % 8 != 0 || !in_section {
        return Err(elf_err(format!(
            "relocation at .maps+{offset:#x} (symbol {symbol}) is not an 8-byte pointer to a known symbol"
        )));
    }
    Ok(MapReloc { offset, symbol })
}

/// A relocation in code: on an instruction of the section, naming a known
/// symbol; returned with its byte offset.
fn code_reloc(
    rel: &elf::Rel64<LE>,
    endian: LE,
    code: &Section<'_>,
    symbol_count: usize,
) -> Result<(u64, Reloc)> {
    let offset = rel.r_offset(endian);
    let symbol = rel.r_sym(endian) as usize;
    if symbol >= symbol_count {
        return Err(elf_err(format!(
            "relocation at {}+{offset:#x} names symbol {symbol}, past the symbol table",
            code.name
        )));
    }
    if !offset.is_multiple_of(8) || offset >= code.size {
        return Err(elf_err(format!(
            "relocation at {}+{offset:#x} is not on an instruction",
            code.name
        )));
    }
    let r_type = rel.r_type(endian).0;
    Ok((offset, Reloc { symbol, r_type }))
}

/// The `license` section's NUL-terminated string, which the kernel checks
/// for GPL compatibility before allowing GPL-only helpers (empty if absent).
fn read_license(sections: &[Section<'_>]) -> CString {
    sections
        .iter()
        .find(|s| s.kind == SectionKind::License)
        .map(|s| {
            let text = s.data.split(|&b| b == 0).next().unwrap_or_default();
            CString::new(text).unwrap_or_default()
        })
        .unwrap_or_default()
}

/// Every FUNC symbol of a code section as an instruction range, sorted; ranges
/// must be whole instructions inside their section and must not overlap.
fn collect_functions(sections: &[Section<'_>], symbols: &[Symbol]) -> Result<Vec<Function>> {
    let mut functions = Vec::new();
    for sym in symbols.iter().filter(|s| s.kind == elf::STT_FUNC.0) {
        let Some(index) = sym.section else { continue };
        let section = &sections[index];
        if !matches!(section.kind, SectionKind::Program | SectionKind::Text) {
            continue;
        }
        let (start, len) = (sym.value / 8, sym.size / 8);
        let fits = sym.value % 8 == 0
            && sym.size % 8 == 0
            && len > 0
            && start
                .checked_add(len)
                .is_some_and(|end| end <= section.insns.len() as u64);
        if !fits {
            return Err(elf_err(format!(
                "function '{}' (offset {:#x}, size {:#x}) does not fit in section '{}'",
                sym.name, sym.value, sym.size, section.name
            )));
        }
        functions.push(Function {
            name: sym.name.clone(),
            section: index,
            start: start as usize,
            len: len as usize,
            global: sym.global,
            hidden: sym.hidden,
        });
    }
    if !functions.is_sorted_by_key(|f| (f.section, f.start)) {
        functions.sort_unstable_by_key(|f| (f.section, f.start));
    }
    if let Some(pair) = functions
        .windows(2)
        .find(|w| w[0].section == w[1].section && w[0].start + w[0].len > w[1].start)
    {
        return Err(elf_err(format!(
            "functions '{}' and '{}' overlap",
            pair[0].name, pair[1].name
        )));
    }
    Ok(functions)
}
