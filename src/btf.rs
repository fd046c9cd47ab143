//! Step 2: BTF, the type information clang leaves in `.BTF` and `.BTF.ext`.
//!
//! The kernel needs BTF to accept a map whose value holds a `struct bpf_timer`:
//! it finds the timer by walking the value's BTF type (`btf_parse_fields` in
//! kernel/bpf/btf.c), so the map must be created with a BTF fd and the key and
//! value type ids. Before the kernel takes the blob, two things clang cannot
//! know must be filled in (libbpf does the same): each DATASEC's size and each
//! global VAR's offset inside it, both from the ELF. Map definitions in `.maps`
//! are read from BTF too: `__uint(max_entries, 1)` is a member `int (*)[1]`,
//! `__type(key, int)` a member `int *`.
//!
//! `.BTF.ext` carries func_info (which BTF FUNC starts at which instruction) and
//! line_info, per ELF section with byte offsets; the relocation step turns them
//! into the per-program records BPF_PROG_LOAD wants.
//!
//! Everything is bounds-checked: bogus offsets give [`Error::Btf`], never a panic.

use std::collections::BTreeMap;

use crate::elf::Object;
use crate::error::{Error, Result};

const MAGIC: u16 = 0xeb9f;
const HEADER_LEN: usize = 24;

/// BTF kinds (`BTF_KIND_*` in include/uapi/linux/btf.h).
pub mod kind {
    pub const INT: u8 = 1;
    pub const PTR: u8 = 2;
    pub const ARRAY: u8 = 3;
    pub const STRUCT: u8 = 4;
    pub const UNION: u8 = 5;
    pub const ENUM: u8 = 6;
    pub const FWD: u8 = 7;
    pub const TYPEDEF: u8 = 8;
    pub const VOLATILE: u8 = 9;
    pub const CONST: u8 = 10;
    pub const RESTRICT: u8 = 11;
    pub const FUNC: u8 = 12;
    pub const FUNC_PROTO: u8 = 13;
    pub const VAR: u8 = 14;
    pub const DATASEC: u8 = 15;
    pub const FLOAT: u8 = 16;
    pub const DECL_TAG: u8 = 17;
    pub const TYPE_TAG: u8 = 18;
    pub const ENUM64: u8 = 19;
}

/// How deep a type walk may go, as in the kernel (`MAX_RESOLVE_DEPTH`).
const MAX_RESOLVE_DEPTH: u32 = 32;

/// `BTF_VAR_STATIC`: a static variable, which libbpf and we leave as clang wrote it.
const VAR_STATIC: u32 = 0;

fn btf_err(what: impl std::fmt::Display) -> Error {
    Error::Btf(what.to_string())
}

fn u32_at(data: &[u8], pos: usize) -> Result<u32> {
    pos.checked_add(4)
        .and_then(|end| data.get(pos..end))
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| btf_err(format!("read past the end at offset {pos}")))
}

fn put_u32(data: &mut [u8], pos: usize, value: u32) {
    if let Some(b) = data.get_mut(pos..pos + 4) {
        b.copy_from_slice(&value.to_le_bytes());
    }
}

/// One type record: the common 12-byte `struct btf_type` and where it is.
#[derive(Clone, Copy, Debug)]
pub struct Type {
    /// Byte offset of the record in the blob.
    pub pos: usize,
    pub name_off: u32,
    pub kind: u8,
    pub vlen: u16,
    pub kflag: bool,
    /// `size` for sized kinds, `type` for the rest.
    pub size_or_type: u32,
}

impl Type {
    /// Where the kind-specific data after the common header starts.
    fn extra(&self) -> usize {
        self.pos + 12
    }
}

/// A parsed BTF blob, kept as bytes so fix-ups patch it in place.
#[derive(Clone, Debug)]
pub struct Btf {
    raw: Vec<u8>,
    str_start: usize,
    str_len: usize,
    /// Index = type id; entry 0 stands for `void`.
    types: Vec<Type>,
}

/// A map definition read from `.maps` BTF.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BtfMapDef {
    pub name: String,
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub numa_node: u32,
    pub pinning: u32,
    /// BTF ids of the key and value types, 0 when only a size was given.
    pub key_type_id: u32,
    pub value_type_id: u32,
}

impl Btf {
    /// Parses and checks the layout of a `.BTF` section.
    pub fn parse(data: &[u8]) -> Result<Btf> {
        if data.len() < HEADER_LEN {
            return Err(btf_err(format!(
                "{} bytes is too short for a BTF header",
                data.len()
            )));
        }
        let magic = u16::from_le_bytes([data[0], data[1]]);
        if magic != MAGIC {
            return Err(btf_err(format!(
                "magic {magic:#06x} is not {MAGIC:#06x} (little-endian BTF)"
            )));
        }
        if data[2] != 1 {
            return Err(btf_err(format!("version {} is not 1", data[2])));
        }
        let hdr_len = u32_at(data, 4)? as usize;
        let [type_off, type_len, str_off, str_len] =
            [8, 12, 16, 20].map(|p| u32_at(data, p).map(|v| v as usize));
        let (type_off, type_len, str_off, str_len) = (type_off?, type_len?, str_off?, str_len?);
        let body = data
            .len()
            .checked_sub(hdr_len)
            .filter(|_| hdr_len >= HEADER_LEN);
        let body = body.ok_or_else(|| btf_err(format!("header length {hdr_len} is wrong")))?;
        let type_end = type_off.checked_add(type_len).filter(|&e| e <= body);
        let str_end = str_off.checked_add(str_len).filter(|&e| e <= body);
        if type_end.is_none() || str_end.is_none() || type_off % 4 != 0 {
            return Err(btf_err(format!(
                "type section {type_off}+{type_len} or string section {str_off}+{str_len} lies outside the {body} bytes after the header"
            )));
        }
        let str_start = hdr_len + str_off;
        if str_len == 0 || data[str_start] != 0 || data[str_start + str_len - 1] != 0 {
            return Err(btf_err(
                "the string section must start and end with a NUL byte",
            ));
        }

        let mut types = vec![Type {
            pos: 0,
            name_off: 0,
            kind: 0,
            vlen: 0,
            kflag: false,
            size_or_type: 0,
        }];
        let (mut pos, end) = (hdr_len + type_off, hdr_len + type_off + type_len);
        while pos < end {
            let info = u32_at(data, pos + 4)?;
            let t = Type {
                pos,
                name_off: u32_at(data, pos)?,
                kind: ((info >> 24) & 0x1f) as u8,
                vlen: (info & 0xffff) as u16,
                kflag: info >> 31 == 1,
                size_or_type: u32_at(data, pos + 8)?,
            };
            let vlen = usize::from(t.vlen);
            let extra = match t.kind {
                kind::INT | kind::VAR | kind::DECL_TAG => 4,
                kind::PTR
                | kind::FWD
                | kind::TYPEDEF
                | kind::VOLATILE
                | kind::CONST
                | kind::RESTRICT
                | kind::FUNC
                | kind::FLOAT
                | kind::TYPE_TAG => 0,
                kind::ARRAY => 12,
                kind::STRUCT | kind::UNION | kind::DATASEC | kind::ENUM64 => 12 * vlen,
                kind::ENUM | kind::FUNC_PROTO => 8 * vlen,
                other => {
                    return Err(btf_err(format!(
                        "type {} has unknown kind {other}",
                        types.len()
                    )))
                }
            };
            let next = pos + 12 + extra;
            if next > end {
                return Err(btf_err(format!(
                    "type {} runs past the type section",
                    types.len()
                )));
            }
            types.push(t);
            pos = next;
        }
        Ok(Btf {
            raw: data.to_vec(),
            str_start,
            str_len,
            types,
        })
    }

    /// The blob as it should be handed to BPF_BTF_LOAD.
    pub fn bytes(&self) -> &[u8] {
        &self.raw
    }

    /// Number of type ids, including `void` (0).
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether the blob has no types besides `void`.
    pub fn is_empty(&self) -> bool {
        self.types.len() <= 1
    }

    /// The string at `off` in the string section.
    pub fn name(&self, off: u32) -> Result<&str> {
        let off = off as usize;
        if off >= self.str_len {
            return Err(btf_err(format!(
                "string offset {off} is past the string section"
            )));
        }
        let bytes = &self.raw[self.str_start + off..self.str_start + self.str_len];
        let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        std::str::from_utf8(&bytes[..len])
            .map_err(|_| btf_err(format!("string at {off} is not UTF-8")))
    }

    /// The type with this id.
    pub fn get(&self, id: u32) -> Result<&Type> {
        self.types
            .get(id as usize)
            .filter(|_| id != 0)
            .ok_or_else(|| btf_err(format!("type id {id} does not exist")))
    }

    /// The name of type `id` ("" for anonymous types).
    pub fn type_name(&self, id: u32) -> Result<&str> {
        self.name(self.get(id)?.name_off)
    }

    /// Skips typedefs and qualifiers (const, volatile, restrict, type tags).
    pub fn resolve(&self, mut id: u32) -> Result<u32> {
        for _ in 0..32 {
            let t = self.get(id)?;
            match t.kind {
                kind::TYPEDEF | kind::VOLATILE | kind::CONST | kind::RESTRICT | kind::TYPE_TAG => {
                    id = t.size_or_type
                }
                _ => return Ok(id),
            }
        }
        Err(btf_err(format!(
            "type {id}: modifier chain too long (a loop?)"
        )))
    }

    /// The size in bytes of a value of type `id`.
    pub fn size_of(&self, id: u32) -> Result<u32> {
        self.size_at_depth(id, 0)
    }

    /// [`Btf::size_of`] for an element `depth` arrays deep: an array whose
    /// element is itself (or nested deeper than the kernel's
    /// `MAX_RESOLVE_DEPTH`) is an error, not a stack overflow.
    fn size_at_depth(&self, id: u32, depth: u32) -> Result<u32> {
        if depth >= MAX_RESOLVE_DEPTH {
            return Err(btf_err(format!(
                "type {id}: arrays nested more than {MAX_RESOLVE_DEPTH} deep (a loop?)"
            )));
        }
        let id = self.resolve(id)?;
        let t = self.get(id)?;
        match t.kind {
            kind::INT
            | kind::STRUCT
            | kind::UNION
            | kind::ENUM
            | kind::ENUM64
            | kind::FLOAT
            | kind::DATASEC => Ok(t.size_or_type),
            kind::PTR => Ok(8),
            kind::ARRAY => {
                let (elem, nelems) = self.array(id)?;
                self.size_at_depth(elem, depth + 1)?
                    .checked_mul(nelems)
                    .ok_or_else(|| btf_err(format!("array type {id} is too large")))
            }
            k => Err(btf_err(format!("type {id} (kind {k}) has no size"))),
        }
    }

    /// `(element type, number of elements)` of an ARRAY.
    pub fn array(&self, id: u32) -> Result<(u32, u32)> {
        let t = self.get(id)?;
        if t.kind != kind::ARRAY {
            return Err(btf_err(format!("type {id} is not an array")));
        }
        Ok((
            u32_at(&self.raw, t.extra())?,
            u32_at(&self.raw, t.extra() + 8)?,
        ))
    }

    /// `(name, type, bit offset)` of each member of a STRUCT or UNION.
    pub fn members(&self, id: u32) -> Result<Vec<(&str, u32, u32)>> {
        let t = self.get(id)?;
        if t.kind != kind::STRUCT && t.kind != kind::UNION {
            return Err(btf_err(format!("type {id} is not a struct or union")));
        }
        (0..usize::from(t.vlen))
            .map(|i| {
                let p = t.extra() + 12 * i;
                let offset = u32_at(&self.raw, p + 8)?;
                // With kflag set, the low 24 bits are the bit offset.
                let bits = if t.kflag {
                    offset & 0x00ff_ffff
                } else {
                    offset
                };
                Ok((
                    self.name(u32_at(&self.raw, p)?)?,
                    u32_at(&self.raw, p + 4)?,
                    bits,
                ))
            })
            .collect()
    }

    /// `(var type id, offset, size)` of each entry of a DATASEC.
    pub fn datasec_vars(&self, id: u32) -> Result<Vec<(u32, u32, u32)>> {
        let t = self.get(id)?;
        if t.kind != kind::DATASEC {
            return Err(btf_err(format!("type {id} is not a DATASEC")));
        }
        (0..usize::from(t.vlen))
            .map(|i| {
                let p = t.extra() + 12 * i;
                Ok((
                    u32_at(&self.raw, p)?,
                    u32_at(&self.raw, p + 4)?,
                    u32_at(&self.raw, p + 8)?,
                ))
            })
            .collect()
    }

    /// The id of the first type of `kind` named `name`.
    pub fn find(&self, kind: u8, name: &str) -> Option<u32> {
        (1..self.types.len() as u32).find(|&id| {
            let t = &self.types[id as usize];
            t.kind == kind && self.name(t.name_off).is_ok_and(|n| n == name)
        })
    }

    /// Fills in what clang leaves for the loader: each DATASEC's size (its ELF
    /// section's size) and each global VAR's offset (its symbol's value), then
    /// sorts the entries by offset as the kernel requires
    /// (`btf_datasec_check_meta`).
    pub fn fix_datasecs(&mut self, obj: &Object<'_>) -> Result<()> {
        for id in 1..self.types.len() as u32 {
            let t = self.types[id as usize];
            if t.kind != kind::DATASEC {
                continue;
            }
            let sec_name = self.name(t.name_off)?.to_string();
            let Some(section) = obj.section_by_name(&sec_name) else {
                return Err(btf_err(format!(
                    "DATASEC '{sec_name}' has no ELF section of that name (extern .kconfig/.ksyms variables are not supported)"
                )));
            };
            if t.size_or_type == 0 {
                let size = u32::try_from(section.size).map_err(|_| btf_err("section too large"))?;
                put_u32(&mut self.raw, t.pos + 8, size);
                self.types[id as usize].size_or_type = size;
            }
            let mut vars = self.datasec_vars(id)?;
            for (var, offset, _) in vars.iter_mut() {
                let v = *self.get(*var)?;
                if v.kind != kind::VAR {
                    return Err(btf_err(format!(
                        "DATASEC '{sec_name}' entry {var} is not a VAR"
                    )));
                }
                if u32_at(&self.raw, v.extra())? == VAR_STATIC {
                    continue;
                }
                let var_name = self.name(v.name_off)?;
                let sym = obj
                    .symbols
                    .iter()
                    .find(|s| s.global && s.section == Some(section.index) && s.name == var_name)
                    .ok_or_else(|| {
                        btf_err(format!(
                            "VAR '{var_name}' in DATASEC '{sec_name}' has no ELF symbol"
                        ))
                    })?;
                *offset =
                    u32::try_from(sym.value).map_err(|_| btf_err("symbol offset too large"))?;
            }
            vars.sort_by_key(|&(_, offset, _)| offset);
            for (i, (var, offset, size)) in vars.into_iter().enumerate() {
                let p = t.extra() + 12 * i;
                put_u32(&mut self.raw, p, var);
                put_u32(&mut self.raw, p + 4, offset);
                put_u32(&mut self.raw, p + 8, size);
            }
        }
        Ok(())
    }

    /// Reads every map definition of the `.maps` DATASEC.
    pub fn map_defs(&self) -> Result<Vec<BtfMapDef>> {
        let Some(maps) = self.find(kind::DATASEC, ".maps") else {
            return Ok(Vec::new());
        };
        let mut defs = Vec::new();
        for (var, _, _) in self.datasec_vars(maps)? {
            let v = self.get(var)?;
            let name = self.name(v.name_off)?.to_string();
            let def = self
                .map_def(&name, v.size_or_type)
                .map_err(|e| btf_err(format!("map '{name}': {}", strip_prefix(e))))?;
            defs.push(def);
        }
        Ok(defs)
    }

    fn map_def(&self, name: &str, type_id: u32) -> Result<BtfMapDef> {
        let st = self.resolve(type_id)?;
        if self.get(st)?.kind != kind::STRUCT {
            return Err(btf_err("the definition is not a struct"));
        }
        let mut def = BtfMapDef {
            name: name.to_string(),
            ..Default::default()
        };
        for (member, ty, _) in self.members(st)? {
            // `__uint(name, N)` is `int (*name)[N]`; `__type(name, T)` is `T *name`.
            let pointee = || -> Result<u32> {
                let p = self.resolve(ty)?;
                let t = self.get(p)?;
                if t.kind != kind::PTR {
                    return Err(btf_err(format!("member '{member}' is not a pointer")));
                }
                Ok(t.size_or_type)
            };
            let uint = || -> Result<u32> { Ok(self.array(self.resolve(pointee()?)?)?.1) };
            match member {
                "type" => def.map_type = uint()?,
                "max_entries" => def.max_entries = uint()?,
                "map_flags" => def.map_flags = uint()?,
                "numa_node" => def.numa_node = uint()?,
                "pinning" => def.pinning = uint()?,
                "key_size" => def.key_size = uint()?,
                "value_size" => def.value_size = uint()?,
                "key" => {
                    def.key_type_id = pointee()?;
                    def.key_size = self.size_of(def.key_type_id)?;
                }
                "value" => {
                    def.value_type_id = pointee()?;
                    def.value_size = self.size_of(def.value_type_id)?;
                }
                "values" => {
                    return Err(btf_err(
                        "inner maps and program arrays (`values`) are not supported",
                    ))
                }
                "map_extra" => {}
                other => return Err(btf_err(format!("unknown member '{other}'"))),
            }
        }
        if def.map_type == 0 {
            return Err(btf_err("no map type"));
        }
        Ok(def)
    }
}

fn strip_prefix(e: Error) -> String {
    match e {
        Error::Btf(what) => what,
        other => other.to_string(),
    }
}

/// A `struct bpf_func_info` record, with the offset still in bytes of its ELF section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncInfo {
    pub insn_off: u32,
    pub type_id: u32,
}

/// A `struct bpf_line_info` record, with the offset still in bytes of its ELF section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineInfo {
    pub insn_off: u32,
    pub file_name_off: u32,
    pub line_off: u32,
    pub line_col: u32,
}

/// The parsed `.BTF.ext`: func_info and line_info per ELF section name.
#[derive(Clone, Debug, Default)]
pub struct BtfExt {
    pub func_info: BTreeMap<String, Vec<FuncInfo>>,
    pub line_info: BTreeMap<String, Vec<LineInfo>>,
    /// Number of CO-RE relocation records (not supported yet).
    pub core_relo_count: usize,
}

impl BtfExt {
    /// Parses `.BTF.ext`; section names are resolved through `btf`'s strings.
    pub fn parse(data: &[u8], btf: &Btf) -> Result<BtfExt> {
        let ext_err = |what: String| btf_err(format!(".BTF.ext: {what}"));
        if data.len() < 8 || u16::from_le_bytes([data[0], data[1]]) != MAGIC {
            return Err(ext_err("bad magic or too short".into()));
        }
        let hdr_len = u32_at(data, 4)? as usize;
        if hdr_len < 24 || hdr_len > data.len() {
            return Err(ext_err(format!("header length {hdr_len} is wrong")));
        }
        let field = |pos: usize| -> Result<usize> {
            if pos + 4 > hdr_len {
                Ok(0) // older headers end before the CO-RE fields
            } else {
                Ok(u32_at(data, pos)? as usize)
            }
        };
        let block = |off: usize, len: usize| -> Result<&[u8]> {
            hdr_len
                .checked_add(off)
                .and_then(|start| Some(start..start.checked_add(len)?))
                .and_then(|r| data.get(r))
                .ok_or_else(|| ext_err(format!("block {off}+{len} lies outside the section")))
        };
        let mut ext = BtfExt::default();
        for (sec, rec) in info_blocks(block(field(8)?, field(12)?)?, 8, btf)? {
            ext.func_info.entry(sec).or_default().push(FuncInfo {
                insn_off: u32_at(rec, 0)?,
                type_id: u32_at(rec, 4)?,
            });
        }
        for (sec, rec) in info_blocks(block(field(16)?, field(20)?)?, 16, btf)? {
            ext.line_info.entry(sec).or_default().push(LineInfo {
                insn_off: u32_at(rec, 0)?,
                file_name_off: u32_at(rec, 4)?,
                line_off: u32_at(rec, 8)?,
                line_col: u32_at(rec, 12)?,
            });
        }
        let core = block(field(24)?, field(28)?)?;
        ext.core_relo_count = info_blocks(core, 16, btf)?.len();
        Ok(ext)
    }
}

/// Splits one info block (`u32 rec_size`, then per section `{sec_name_off,
/// num_info, records}`) into `(section name, record)` pairs.
fn info_blocks<'d>(data: &'d [u8], min_rec: usize, btf: &Btf) -> Result<Vec<(String, &'d [u8])>> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let rec_size = u32_at(data, 0)? as usize;
    if rec_size < min_rec || rec_size % 4 != 0 {
        return Err(btf_err(format!(
            ".BTF.ext: record size {rec_size} is invalid (need at least {min_rec})"
        )));
    }
    let mut out = Vec::new();
    let mut pos = 4;
    while pos < data.len() {
        let sec = btf.name(u32_at(data, pos)?)?.to_string();
        let count = u32_at(data, pos + 4)? as usize;
        pos += 8;
        let len = count
            .checked_mul(rec_size)
            .filter(|&len| pos.checked_add(len).is_some_and(|end| end <= data.len()))
            .ok_or_else(|| {
                btf_err(format!(
                    ".BTF.ext: {count} records for '{sec}' run past the block"
                ))
            })?;
        out.extend(
            data[pos..pos + len]
                .chunks_exact(rec_size)
                .map(|r| (sec.clone(), r)),
        );
        pos += len;
    }
    Ok(out)
}
