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

use crate::error::{Error, Result};
use crate::object::elf::Object;
use crate::uapi::MapType;

const MAGIC: u16 = 0xeb9f;
const HEADER_LEN: usize = 24;

/// BTF kinds as the `u8` the `info` word holds (named in [`crate::uapi::BtfKind`]).
pub mod kind {
    use crate::uapi::BtfKind;

    /// `BTF_KIND_INT`.
    pub const INT: u8 = BtfKind::INT.0 as u8;
    /// `BTF_KIND_PTR`.
    pub const PTR: u8 = BtfKind::PTR.0 as u8;
    /// `BTF_KIND_ARRAY`.
    pub const ARRAY: u8 = BtfKind::ARRAY.0 as u8;
    /// `BTF_KIND_STRUCT`.
    pub const STRUCT: u8 = BtfKind::STRUCT.0 as u8;
    /// `BTF_KIND_UNION`.
    pub const UNION: u8 = BtfKind::UNION.0 as u8;
    /// `BTF_KIND_ENUM`.
    pub const ENUM: u8 = BtfKind::ENUM.0 as u8;
    /// `BTF_KIND_FWD`.
    pub const FWD: u8 = BtfKind::FWD.0 as u8;
    /// `BTF_KIND_TYPEDEF`.
    pub const TYPEDEF: u8 = BtfKind::TYPEDEF.0 as u8;
    /// `BTF_KIND_VOLATILE`.
    pub const VOLATILE: u8 = BtfKind::VOLATILE.0 as u8;
    /// `BTF_KIND_CONST`.
    pub const CONST: u8 = BtfKind::CONST.0 as u8;
    /// `BTF_KIND_RESTRICT`.
    pub const RESTRICT: u8 = BtfKind::RESTRICT.0 as u8;
    /// `BTF_KIND_FUNC`.
    pub const FUNC: u8 = BtfKind::FUNC.0 as u8;
    /// `BTF_KIND_FUNC_PROTO`.
    pub const FUNC_PROTO: u8 = BtfKind::FUNC_PROTO.0 as u8;
    /// `BTF_KIND_VAR`.
    pub const VAR: u8 = BtfKind::VAR.0 as u8;
    /// `BTF_KIND_DATASEC`.
    pub const DATASEC: u8 = BtfKind::DATASEC.0 as u8;
    /// `BTF_KIND_FLOAT`.
    pub const FLOAT: u8 = BtfKind::FLOAT.0 as u8;
    /// `BTF_KIND_DECL_TAG`.
    pub const DECL_TAG: u8 = BtfKind::DECL_TAG.0 as u8;
    /// `BTF_KIND_TYPE_TAG`.
    pub const TYPE_TAG: u8 = BtfKind::TYPE_TAG.0 as u8;
    /// `BTF_KIND_ENUM64`.
    pub const ENUM64: u8 = BtfKind::ENUM64.0 as u8;
}

/// How deep any walk over BTF types goes (modifier chains, arrays of
/// arrays) before it calls the types a loop: every walk is bounded, so a
/// hostile blob cannot overflow the stack or spin. The kernel's own limit
/// for modifier chains is 32 (`MAX_RESOLVE_DEPTH` in kernel/bpf/btf.c).
pub const MAX_DEPTH: usize = 32;

/// The longest name rawbpf reads from BTF. The kernel's own limit for
/// identifiers is KSYM_NAME_LEN (512); section names are shorter still.
pub const MAX_NAME_LEN: usize = 1024;

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
    /// Offset of the type's name in the string section (0: anonymous).
    pub name_off: u32,
    /// The `BTF_KIND_*` of the type (see [`kind`]).
    pub kind: u8,
    /// How many members, parameters, enumerators or variables follow the header.
    pub vlen: u16,
    /// The header's kind flag (bitfield members, a forward union, ...).
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

/// How many bytes of kind-specific data follow a type's 12-byte header, or
/// `None` for a kind this code does not know.
#[inline]
pub fn extra_len(kind: u8, vlen: u16) -> Option<usize> {
    let vlen = usize::from(vlen);
    Some(match kind {
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
        _ => return None,
    })
}

/// A map definition read from `.maps` BTF.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BtfMapDef {
    /// The map's name (its variable in `.maps`).
    pub name: String,
    /// `type`: the map type (`enum bpf_map_type`).
    pub map_type: u32,
    /// `key_size`, or the size of `key`'s type.
    pub key_size: u32,
    /// `value_size`, or the size of `value`'s type.
    pub value_size: u32,
    /// `max_entries`.
    pub max_entries: u32,
    /// `map_flags`.
    pub map_flags: u32,
    /// The NUMA node to allocate on (`numa_node`; used with BPF_F_NUMA_NODE).
    pub numa_node: u32,
    /// `pinning`: LIBBPF_PIN_BY_NAME (1) or none (0).
    pub pinning: u32,
    /// BTF ids of the key and value types, 0 when only a size was given.
    pub key_type_id: u32,
    /// The value's (see `key_type_id`).
    pub value_type_id: u32,
    /// `map_extra` (bloom filters: the number of hash functions).
    pub map_extra: u64,
    /// What `__array(values, ...)` says the values are, if present.
    pub values: Option<MapValues>,
    /// Byte offset of the `values` member in the definition: where the
    /// pointers of a static initialiser start in `.maps`.
    pub values_offset: u32,
}

/// The values of a map of maps or a program array, from `__array(values, T)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapValues {
    /// `T` is a map definition: the inner map's template (ARRAY_OF_MAPS,
    /// HASH_OF_MAPS).
    Maps(Box<BtfMapDef>),
    /// `T` is a function prototype: programs (PROG_ARRAY).
    Programs,
}

/// Where the parts of a `.BTF` section lie, as its header says.
struct Layout {
    /// Byte offset of the first type record in the section.
    type_start: usize,
    /// Byte offset just past the last type record.
    type_end: usize,
    /// Byte offset of the string section.
    str_start: usize,
    /// Length of the string section.
    str_len: usize,
}

/// The header (`struct btf_header`): little-endian magic, version 1, and type
/// and string sections inside the data, the type section 4-byte aligned and
/// the strings starting and ending with NUL, as the kernel's `btf_parse_hdr`
/// and `btf_parse_str_sec` require.
fn read_header(data: &[u8]) -> Result<Layout> {
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
    Ok(Layout {
        type_start: hdr_len + type_off,
        type_end: hdr_len + type_off + type_len,
        str_start,
        str_len,
    })
}

/// Every type record between `pos` and `end`, indexed by id (entry 0 is
/// `void`): a 12-byte `struct btf_type` followed by as many bytes as its kind
/// and `vlen` say; an unknown kind or a record past the end is an error.
fn index_types(data: &[u8], mut pos: usize, end: usize) -> Result<Vec<Type>> {
    let mut types = vec![Type {
        pos: 0,
        name_off: 0,
        kind: 0,
        vlen: 0,
        kflag: false,
        size_or_type: 0,
    }];
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
        let extra = extra_len(t.kind, t.vlen)
            .ok_or_else(|| btf_err(format!("type {} has unknown kind {}", types.len(), t.kind)))?;
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
    Ok(types)
}

impl Btf {
    /// Parses and checks the layout of a `.BTF` section.
    pub fn parse(data: &[u8]) -> Result<Btf> {
        let layout = read_header(data)?;
        let types = index_types(data, layout.type_start, layout.type_end)?;
        Ok(Btf {
            raw: data.to_vec(),
            str_start: layout.str_start,
            str_len: layout.str_len,
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

    /// The string at `off` in the string section: a name, so at most
    /// [`MAX_NAME_LEN`] bytes are looked at. Without that bound a hostile
    /// blob whose names all point into one long string makes every lookup
    /// cost its length, and a walk over the types quadratic.
    pub fn name(&self, off: u32) -> Result<&str> {
        let off = off as usize;
        if off >= self.str_len {
            return Err(btf_err(format!(
                "string offset {off} is past the string section"
            )));
        }
        let end = self.str_len.min(off.saturating_add(MAX_NAME_LEN + 1));
        let bytes = &self.raw[self.str_start + off..self.str_start + end];
        let Some(len) = bytes.iter().position(|&b| b == 0) else {
            return Err(btf_err(format!(
                "the name at string offset {off} is longer than {MAX_NAME_LEN} bytes"
            )));
        };
        std::str::from_utf8(&bytes[..len])
            .map_err(|_| btf_err(format!("string at {off} is not UTF-8")))
    }

    /// The kind-specific bytes after type `id`'s 12-byte header (members,
    /// enumerators, array info, ...), for code that decodes them itself.
    pub fn extra_bytes(&self, id: u32) -> Result<&[u8]> {
        let t = self.get(id)?;
        let len = extra_len(t.kind, t.vlen)
            .ok_or_else(|| btf_err(format!("type {id} has unknown kind {}", t.kind)))?;
        self.raw
            .get(t.extra()..t.extra() + len)
            .ok_or_else(|| btf_err(format!("type {id} runs past the blob")))
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
    pub fn resolve(&self, id: u32) -> Result<u32> {
        self.skip_modifiers(id, false)
    }

    /// [`Btf::resolve`], where `void_ok` makes reaching `void` (0) an answer.
    fn skip_modifiers(&self, mut id: u32, void_ok: bool) -> Result<u32> {
        for _ in 0..MAX_DEPTH {
            if id == 0 && void_ok {
                return Ok(0);
            }
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

    /// The size in bytes of a value of type `id`. Iterative: an array of
    /// arrays multiplies its way down, at most [`MAX_DEPTH`] levels, so a
    /// hostile ARRAY whose element is itself is an error, not a stack overflow.
    pub fn size_of(&self, id: u32) -> Result<u32> {
        let start = id;
        let mut id = id;
        let mut factor: u32 = 1;
        for _ in 0..MAX_DEPTH {
            id = self.resolve(id)?;
            let t = self.get(id)?;
            let size = match t.kind {
                kind::INT
                | kind::STRUCT
                | kind::UNION
                | kind::ENUM
                | kind::ENUM64
                | kind::FLOAT
                | kind::DATASEC => t.size_or_type,
                kind::PTR => 8,
                kind::ARRAY => {
                    let (elem, nelems) = self.array(id)?;
                    factor = factor
                        .checked_mul(nelems)
                        .ok_or_else(|| btf_err(format!("array type {start} is too large")))?;
                    id = elem;
                    continue;
                }
                k => return Err(btf_err(format!("type {id} (kind {k}) has no size"))),
            };
            return size
                .checked_mul(factor)
                .ok_or_else(|| btf_err(format!("array type {start} is too large")));
        }
        Err(btf_err(format!(
            "type {start}: arrays nested deeper than {MAX_DEPTH} levels (a loop?)"
        )))
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
        // Global symbols sorted by (section, name, index), built once: a
        // binary search per VAR keeps the fix-up at n log n in the number of
        // globals (a scan per VAR would be quadratic); the first symbol of a
        // name wins.
        let mut globals: Vec<(usize, &str, usize)> = obj
            .symbols
            .iter()
            .enumerate()
            .filter(|(_, s)| s.global)
            .filter_map(|(i, s)| Some((s.section?, s.name.as_str(), i)))
            .collect();
        globals.sort_unstable();
        for id in 1..self.types.len() as u32 {
            let t = self.types[id as usize];
            if t.kind != kind::DATASEC {
                continue;
            }
            let sec_name = self.name(t.name_off)?.to_string();
            if sec_name == ".kconfig" || sec_name == ".ksyms" {
                // Externs, which have no ELF section: `Externs::fix_btf`.
                continue;
            }
            let Some(section) = obj.section_by_name(&sec_name) else {
                return Err(btf_err(format!(
                    "DATASEC '{sec_name}' has no ELF section of that name"
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
                let key = (section.index, var_name);
                let first = globals.partition_point(|&(sec, name, _)| (sec, name) < key);
                let value = globals
                    .get(first)
                    .filter(|&&(sec, name, _)| (sec, name) == key)
                    .map(|&(_, _, sym)| obj.symbols[sym].value)
                    .ok_or_else(|| {
                        btf_err(format!(
                            "VAR '{var_name}' in DATASEC '{sec_name}' has no ELF symbol"
                        ))
                    })?;
                *offset = u32::try_from(value).map_err(|_| btf_err("symbol offset too large"))?;
            }
            vars.sort_unstable_by_key(|&(_, offset, _)| offset);
            for (i, (var, offset, size)) in vars.into_iter().enumerate() {
                let p = t.extra() + 12 * i;
                put_u32(&mut self.raw, p, var);
                put_u32(&mut self.raw, p + 4, offset);
                put_u32(&mut self.raw, p + 8, size);
            }
        }
        Ok(())
    }

    /// Like [`Btf::resolve`], but `void` (0) is an answer, not an error.
    pub fn resolve_or_void(&self, id: u32) -> Result<u32> {
        self.skip_modifiers(id, true)
    }

    /// `(encoding, bits)` of an INT: `BTF_INT_SIGNED` 1, `CHAR` 2, `BOOL` 4.
    pub fn int_encoding(&self, id: u32) -> Result<(u32, u32)> {
        let t = self.get(id)?;
        if t.kind != kind::INT {
            return Err(btf_err(format!("type {id} is not an INT")));
        }
        let word = u32_at(&self.raw, t.extra())?;
        Ok(((word >> 24) & 0x0f, word & 0xff))
    }

    fn expect_kind(&self, id: u32, want: u8) -> Result<Type> {
        let t = *self.get(id)?;
        if t.kind != want {
            return Err(btf_err(format!("type {id} is kind {}, not {want}", t.kind)));
        }
        Ok(t)
    }

    /// Sets a VAR's linkage (0 static, 1 global, 2 extern).
    pub fn set_var_linkage(&mut self, id: u32, linkage: u32) -> Result<()> {
        let t = self.expect_kind(id, kind::VAR)?;
        put_u32(&mut self.raw, t.extra(), linkage);
        Ok(())
    }

    /// Sets the type a VAR has.
    pub fn set_var_type(&mut self, id: u32, type_id: u32) -> Result<()> {
        let t = self.expect_kind(id, kind::VAR)?;
        put_u32(&mut self.raw, t.pos + 8, type_id);
        self.types[id as usize].size_or_type = type_id;
        Ok(())
    }

    /// Sets a FUNC's linkage (0 static, 1 global, 2 extern), kept in `vlen`.
    pub fn set_func_linkage(&mut self, id: u32, linkage: u16) -> Result<()> {
        let t = self.expect_kind(id, kind::FUNC)?;
        let info = u32_at(&self.raw, t.pos + 4)?;
        put_u32(
            &mut self.raw,
            t.pos + 4,
            (info & !0xffff) | u32::from(linkage),
        );
        self.types[id as usize].vlen = linkage;
        Ok(())
    }

    /// Gives every unnamed parameter of FUNC `id`'s prototype the name at
    /// `name_off`: the kernel wants named parameters of a global function.
    pub fn name_unnamed_params(&mut self, id: u32, name_off: u32) -> Result<()> {
        let func = self.expect_kind(id, kind::FUNC)?;
        let proto = self.expect_kind(func.size_or_type, kind::FUNC_PROTO)?;
        for i in 0..usize::from(proto.vlen) {
            let p = proto.extra() + 8 * i;
            // A trailing (void) parameter marks varargs and stays unnamed.
            if u32_at(&self.raw, p)? == 0 && u32_at(&self.raw, p + 4)? != 0 {
                put_u32(&mut self.raw, p, name_off);
            }
        }
        Ok(())
    }

    /// Rewrites a DATASEC's size and its entries `(var, offset, size)`; the
    /// number of entries stays.
    pub fn set_datasec(&mut self, id: u32, size: u32, entries: &[(u32, u32, u32)]) -> Result<()> {
        let t = self.expect_kind(id, kind::DATASEC)?;
        if entries.len() != usize::from(t.vlen) {
            return Err(btf_err(format!("DATASEC {id} has {} entries", t.vlen)));
        }
        put_u32(&mut self.raw, t.pos + 8, size);
        self.types[id as usize].size_or_type = size;
        for (i, &(var, offset, size)) in entries.iter().enumerate() {
            let p = t.extra() + 12 * i;
            put_u32(&mut self.raw, p, var);
            put_u32(&mut self.raw, p + 4, offset);
            put_u32(&mut self.raw, p + 8, size);
        }
        Ok(())
    }

    /// A signed INT of `size` bytes: an existing one, or one added.
    pub fn int_type(&mut self, size: u32) -> Result<u32> {
        let existing = (1..self.types.len() as u32).find(|&id| {
            let t = &self.types[id as usize];
            t.kind == kind::INT
                && t.size_or_type == size
                && self
                    .int_encoding(id)
                    .is_ok_and(|(e, bits)| e == 1 && bits == 8 * size)
        });
        if let Some(id) = existing {
            return Ok(id);
        }
        let info = u32::from(kind::INT) << 24;
        let extra = ((1u32 << 24) | (8 * size)).to_le_bytes();
        self.push_type(&format!("__rawbpf_s{}", 8 * size), info, size, &extra)
    }

    /// Adds a VAR named `name` of type `type_id`; returns its id.
    pub fn push_var(&mut self, name: &str, type_id: u32, linkage: u32) -> Result<u32> {
        let info = u32::from(kind::VAR) << 24;
        self.push_type(name, info, type_id, &linkage.to_le_bytes())
    }

    /// Appends a type record and its name. The type section must end where
    /// the string section starts (as clang and pahole lay them out).
    fn push_type(&mut self, name: &str, info: u32, size_or_type: u32, extra: &[u8]) -> Result<u32> {
        let hdr_len = u32_at(&self.raw, 4)? as usize;
        let [type_off, type_len, str_off] = [8, 12, 16].map(|p| u32_at(&self.raw, p));
        let (type_off, type_len, str_off) = (type_off?, type_len?, str_off?);
        if type_off + type_len != str_off || self.str_start + self.str_len != self.raw.len() {
            return Err(btf_err(
                "cannot add a type: the string section does not follow the type section",
            ));
        }
        let name_off = self.str_len as u32;
        let mut record = Vec::with_capacity(12 + extra.len());
        for word in [name_off, info, size_or_type] {
            record.extend_from_slice(&word.to_le_bytes());
        }
        record.extend_from_slice(extra);
        let pos = hdr_len + (type_off + type_len) as usize;
        self.raw.splice(pos..pos, record.iter().copied());
        self.raw.extend_from_slice(name.as_bytes());
        self.raw.push(0);
        let grow = record.len() as u32;
        put_u32(&mut self.raw, 12, type_len + grow);
        put_u32(&mut self.raw, 16, str_off + grow);
        self.str_start += grow as usize;
        self.str_len += name.len() + 1;
        put_u32(&mut self.raw, 20, self.str_len as u32);
        self.types.push(Type {
            pos,
            name_off,
            kind: (info >> 24) as u8 & 0x1f,
            vlen: (info & 0xffff) as u16,
            kflag: false,
            size_or_type,
        });
        Ok(self.types.len() as u32 - 1)
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
                .map_def(&name, v.size_or_type, false)
                .map_err(|e| btf_err(format!("map '{name}': {}", strip_prefix(e))))?;
            defs.push(def);
        }
        Ok(defs)
    }

    fn map_def(&self, name: &str, type_id: u32, inner: bool) -> Result<BtfMapDef> {
        let st = self.resolve(type_id)?;
        if self.get(st)?.kind != kind::STRUCT {
            return Err(btf_err("the definition is not a struct"));
        }
        let mut def = BtfMapDef {
            name: name.to_string(),
            ..Default::default()
        };
        for (member, ty, bit_offset) in self.members(st)? {
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
                    if inner {
                        return Err(btf_err("an inner map cannot itself hold maps or programs"));
                    }
                    def.values = Some(self.map_values(name, ty)?);
                    def.values_offset = bit_offset / 8;
                }
                "map_extra" => def.map_extra = u64::from(uint()?),
                other => return Err(btf_err(format!("unknown member '{other}'"))),
            }
        }
        if def.map_type == 0 {
            return Err(btf_err("no map type"));
        }
        if let Some(values) = &def.values {
            // The kernel stores maps and programs by fd: a 4-byte value.
            let fits = match values {
                MapValues::Maps(_) => matches!(
                    MapType(def.map_type),
                    MapType::ARRAY_OF_MAPS | MapType::HASH_OF_MAPS
                ),
                MapValues::Programs => def.map_type == MapType::PROG_ARRAY.0,
            };
            if !fits {
                return Err(btf_err(format!(
                    "`values` of {} does not fit map type {}",
                    match values {
                        MapValues::Maps(_) => "maps",
                        MapValues::Programs => "programs",
                    },
                    def.map_type
                )));
            }
            if def.value_type_id != 0 || (def.value_size != 0 && def.value_size != 4) {
                return Err(btf_err(
                    "`values` and a value type or size other than 4 contradict each other",
                ));
            }
            def.value_size = 4;
        }
        Ok(def)
    }

    /// `__array(values, T)` is a member `T *values[]`: an ARRAY of PTR to
    /// either a map definition STRUCT or a FUNC_PROTO.
    fn map_values(&self, name: &str, ty: u32) -> Result<MapValues> {
        let array = self.resolve(ty)?;
        if self.get(array)?.kind != kind::ARRAY {
            return Err(btf_err(
                "member 'values' is not an array (use __array(values, T))",
            ));
        }
        let ptr = self.resolve(self.array(array)?.0)?;
        let p = self.get(ptr)?;
        if p.kind != kind::PTR {
            return Err(btf_err("member 'values' is not an array of pointers"));
        }
        let target = self.resolve(p.size_or_type)?;
        match self.get(target)?.kind {
            kind::STRUCT => {
                let inner = self
                    .map_def(&format!("{name}.inner"), target, true)
                    .map_err(|e| btf_err(format!("inner map: {}", strip_prefix(e))))?;
                Ok(MapValues::Maps(Box::new(inner)))
            }
            kind::FUNC_PROTO => Ok(MapValues::Programs),
            k => Err(btf_err(format!(
                "member 'values' points to BTF kind {k}, neither a map definition nor a function"
            ))),
        }
    }

    /// Whether DATASEC `id` holds a global (non-static) variable: libbpf makes
    /// a data section's map mmapable only then.
    pub fn datasec_has_global_var(&self, id: u32) -> Result<bool> {
        for (var, _, _) in self.datasec_vars(id)? {
            let v = self.get(var)?;
            if v.kind == kind::VAR && u32_at(&self.raw, v.extra())? != VAR_STATIC {
                return Ok(true);
            }
        }
        Ok(false)
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
    /// The instruction the record is for (an index into the program).
    pub insn_off: u32,
    /// The BTF id of the function's FUNC type.
    pub type_id: u32,
}

/// A `struct bpf_line_info` record, with the offset still in bytes of its ELF section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineInfo {
    /// The instruction the record is for (an index into the program).
    pub insn_off: u32,
    /// Offset of the source file name in the string section.
    pub file_name_off: u32,
    /// Offset of the source line's text in the string section.
    pub line_off: u32,
    /// Line number (upper 22 bits) and column (lower 10 bits).
    pub line_col: u32,
}

/// A `struct bpf_core_relo` record: "the instruction at `insn_off` (bytes
/// into its ELF section) uses some property (`kind`) of the type, field or
/// enumerator that access string `access` names, starting from local type
/// `type_id`". [`crate::object::core`] explains and applies them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreRelo {
    /// Byte offset of the instruction in its ELF section.
    pub insn_off: u32,
    /// The local BTF type id the access string starts from.
    pub type_id: u32,
    /// The access string, e.g. "0:1:3", already checked to be digits and colons.
    pub access: String,
    /// `enum bpf_core_relo_kind`, already checked to be one rawbpf knows.
    pub kind: u32,
}

/// The highest `enum bpf_core_relo_kind` value (BPF_CORE_TYPE_MATCHES).
pub const CORE_RELO_KIND_MAX: u32 = 12;

/// The parsed `.BTF.ext`: func_info, line_info and CO-RE relocations per ELF
/// section name.
#[derive(Clone, Debug, Default)]
pub struct BtfExt {
    /// Function records per section name, sorted by `insn_off`.
    pub func_info: BTreeMap<String, Vec<FuncInfo>>,
    /// Line records per section name, sorted by `insn_off`.
    pub line_info: BTreeMap<String, Vec<LineInfo>>,
    /// Per section, in the order the sections first appear.
    pub core_relos: Vec<(String, Vec<CoreRelo>)>,
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
        for (sec, recs) in info_blocks(block(field(8)?, field(12)?)?, 8, btf)? {
            if recs.is_empty() {
                continue;
            }
            let out = ext.func_info.entry(sec.to_string()).or_default();
            for rec in recs {
                out.push(FuncInfo {
                    insn_off: u32_at(rec, 0)?,
                    type_id: u32_at(rec, 4)?,
                });
            }
        }
        for (sec, recs) in info_blocks(block(field(16)?, field(20)?)?, 16, btf)? {
            if recs.is_empty() {
                continue;
            }
            let out = ext.line_info.entry(sec.to_string()).or_default();
            for rec in recs {
                out.push(LineInfo {
                    insn_off: u32_at(rec, 0)?,
                    file_name_off: u32_at(rec, 4)?,
                    line_off: u32_at(rec, 8)?,
                    line_col: u32_at(rec, 12)?,
                });
            }
        }
        let core = block(field(24)?, field(28)?)?;
        for (sec, recs) in info_blocks(core, 16, btf)? {
            if recs.is_empty() {
                continue;
            }
            let mut relos = Vec::with_capacity(recs.len());
            for rec in recs {
                relos.push(core_relo(rec, btf).map_err(|what| {
                    let insn_off = u32_at(rec, 0).unwrap_or(0);
                    ext_err(format!(
                        "CO-RE relocation for section '{sec}' at insn {}: {what}",
                        insn_off / 8
                    ))
                })?);
            }
            match ext.core_relos.iter_mut().find(|(s, _)| s == sec) {
                Some((_, old)) => old.extend(relos),
                None => ext.core_relos.push((sec.to_string(), relos)),
            }
        }
        // In instruction order, as clang writes them (a hostile object need
        // not): relocation then finds each function's records by binary
        // search. The kernel wants them strictly increasing anyway.
        for v in ext.func_info.values_mut() {
            v.sort_unstable_by_key(|r| r.insn_off);
        }
        for v in ext.line_info.values_mut() {
            v.sort_unstable_by_key(|r| r.insn_off);
        }
        Ok(ext)
    }
}

/// One section's records of an info block: its name and each record.
type InfoSection<'b, 'd> = (&'b str, Vec<&'d [u8]>);

/// Reads and checks one `struct bpf_core_relo`: the type id must exist in
/// the object's BTF, the access string must be in the string section and be
/// `N(:N)*`, and the kind must be one of `enum bpf_core_relo_kind`.
fn core_relo(rec: &[u8], btf: &Btf) -> std::result::Result<CoreRelo, String> {
    let field = |pos| u32_at(rec, pos).map_err(|_| "record too short".to_string());
    let (insn_off, type_id, access_off, kind) = (field(0)?, field(4)?, field(8)?, field(12)?);
    if insn_off % 8 != 0 {
        return Err(format!(
            "insn_off {insn_off} is not on an instruction boundary"
        ));
    }
    if type_id == 0 || type_id as usize >= btf.len() {
        return Err(format!("type id {type_id} does not exist"));
    }
    if kind > CORE_RELO_KIND_MAX {
        return Err(format!("unknown relocation kind {kind}"));
    }
    let access = btf
        .name(access_off)
        .map_err(|_| format!("access string offset {access_off} is out of range"))?;
    let well_formed = !access.is_empty()
        && access.len() <= 256
        && access
            .split(':')
            .all(|n| !n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit()));
    if !well_formed {
        return Err(format!(
            "access string {access:?} is not a list of numbers such as \"0:1:2\""
        ));
    }
    Ok(CoreRelo {
        insn_off,
        type_id,
        access: access.to_string(),
        kind,
    })
}

/// Splits one info block (`u32 rec_size`, then per section `{sec_name_off,
/// num_info, records}`) into `(section name, its records)`. Names are
/// borrowed and each record is one slice, so memory stays linear in the
/// block's size whatever the counts and names say.
fn info_blocks<'d, 'b>(
    data: &'d [u8],
    min_rec: usize,
    btf: &'b Btf,
) -> Result<Vec<InfoSection<'b, 'd>>> {
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
    // Section names may overlap in the string section, so reading and
    // copying them could cost far more than the block's own bytes: cap
    // their total length, generously, to keep time and memory linear.
    let budget = data.len().saturating_mul(16).saturating_add(64 * 1024);
    let mut spent = 0usize;
    while pos < data.len() {
        let sec = btf.name(u32_at(data, pos)?)?;
        spent = spent.saturating_add(sec.len() + 1);
        if spent > budget {
            return Err(btf_err(format!(
                ".BTF.ext: section names take more than {budget} bytes (16 per byte of the block)"
            )));
        }
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
        out.push((sec, data[pos..pos + len].chunks_exact(rec_size).collect()));
        pos += len;
    }
    Ok(out)
}

#[cfg(test)]
mod map_values_tests {
    use super::*;

    /// A tiny BTF writer: enough types for map definitions.
    #[derive(Default)]
    struct Builder {
        types: Vec<u32>,
        strings: Vec<u8>,
        next_id: u32,
    }

    impl Builder {
        fn new() -> Builder {
            Builder {
                strings: vec![0],
                next_id: 1,
                ..Default::default()
            }
        }
        fn name(&mut self, s: &str) -> u32 {
            if s.is_empty() {
                return 0;
            }
            let off = self.strings.len() as u32;
            self.strings.extend_from_slice(s.as_bytes());
            self.strings.push(0);
            off
        }
        fn add(
            &mut self,
            name: &str,
            kind: u8,
            vlen: u32,
            size_or_type: u32,
            extra: &[u32],
        ) -> u32 {
            let n = self.name(name);
            self.types
                .extend([n, (u32::from(kind) << 24) | vlen, size_or_type]);
            self.types.extend_from_slice(extra);
            self.next_id += 1;
            self.next_id - 1
        }
        fn int(&mut self) -> u32 {
            self.add("int", kind::INT, 0, 4, &[32])
        }
        fn ptr(&mut self, to: u32) -> u32 {
            self.add("", kind::PTR, 0, to, &[])
        }
        /// `__uint(name, n)`: a pointer to an array of n ints.
        fn uint(&mut self, int: u32, n: u32) -> u32 {
            let arr = self.add("", kind::ARRAY, 0, 0, &[int, int, n]);
            self.ptr(arr)
        }
        fn strukt(&mut self, name: &str, members: &[(&str, u32)]) -> u32 {
            let mut extra = Vec::new();
            for (i, (m, ty)) in members.iter().enumerate() {
                let n = self.name(m);
                extra.extend([n, *ty, 64 * i as u32]);
            }
            self.add(
                name,
                kind::STRUCT,
                members.len() as u32,
                8 * members.len() as u32,
                &extra,
            )
        }
        /// A `.maps` DATASEC with one global VAR `name` of type `ty`.
        fn finish(mut self, name: &str, ty: u32) -> Btf {
            let var = self.add(name, kind::VAR, 0, ty, &[1]);
            self.add(".maps", kind::DATASEC, 1, 0, &[var, 0, 32]);
            let types: Vec<u8> = self.types.iter().flat_map(|w| w.to_le_bytes()).collect();
            let mut blob = Vec::new();
            blob.extend(MAGIC.to_le_bytes());
            blob.extend([1, 0]);
            for w in [
                24,
                0,
                types.len() as u32,
                types.len() as u32,
                self.strings.len() as u32,
            ] {
                blob.extend(w.to_le_bytes());
            }
            blob.extend(types);
            blob.extend(&self.strings);
            Btf::parse(&blob).unwrap()
        }
    }

    /// An outer map of `map_type` whose `values` point to `target(builder)`.
    fn outer(
        map_type: u32,
        target: impl FnOnce(&mut Builder, u32) -> u32,
    ) -> Result<Vec<BtfMapDef>> {
        let mut b = Builder::new();
        let int = b.int();
        let pointee = target(&mut b, int);
        let ptr = b.ptr(pointee);
        let values = b.add("", kind::ARRAY, 0, 0, &[ptr, int, 0]);
        let ty = b.uint(int, map_type);
        let max = b.uint(int, 2);
        let key = b.ptr(int);
        let st = b.strukt(
            "",
            &[
                ("type", ty),
                ("max_entries", max),
                ("key", key),
                ("values", values),
            ],
        );
        b.finish("outer", st).map_defs()
    }

    fn inner_def(b: &mut Builder, int: u32) -> u32 {
        let ty = b.uint(int, MapType::ARRAY.0);
        let max = b.uint(int, 1);
        let key = b.ptr(int);
        let value = b.ptr(int);
        b.strukt(
            "inner",
            &[
                ("type", ty),
                ("max_entries", max),
                ("key", key),
                ("value", value),
            ],
        )
    }

    #[test]
    fn values_of_maps_give_the_inner_definition() {
        let defs = outer(MapType::ARRAY_OF_MAPS.0, inner_def).unwrap();
        let d = &defs[0];
        assert_eq!((d.key_size, d.value_size, d.values_offset), (4, 4, 24));
        let Some(MapValues::Maps(inner)) = &d.values else {
            panic!("{d:?}")
        };
        assert_eq!(
            (
                inner.map_type,
                inner.key_size,
                inner.value_size,
                inner.max_entries
            ),
            (2, 4, 4, 1)
        );
        assert_eq!(inner.name, "outer.inner");
    }

    #[test]
    fn values_of_functions_are_programs() {
        let defs = outer(MapType::PROG_ARRAY.0, |b, int| {
            b.add("", kind::FUNC_PROTO, 1, int, &[0, int])
        })
        .unwrap();
        assert_eq!(defs[0].values, Some(MapValues::Programs));
        assert_eq!(defs[0].value_size, 4);
    }

    #[test]
    fn values_that_do_not_fit_are_refused_by_name() {
        let e = outer(MapType::HASH.0, inner_def).unwrap_err().to_string();
        assert!(
            e.contains("map 'outer'") && e.contains("does not fit map type 1"),
            "{e}"
        );
        let e = outer(MapType::ARRAY_OF_MAPS.0, |b, int| {
            b.add("", kind::FUNC_PROTO, 0, int, &[])
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("does not fit"), "{e}");
        let e = outer(MapType::ARRAY_OF_MAPS.0, |_, int| int)
            .unwrap_err()
            .to_string();
        assert!(e.contains("neither a map definition nor a function"), "{e}");
        // An inner map that is itself a map of maps.
        let e = outer(MapType::ARRAY_OF_MAPS.0, |b, int| {
            let inner = inner_def(b, int);
            let p = b.ptr(inner);
            let values = b.add("", kind::ARRAY, 0, 0, &[p, int, 0]);
            let ty = b.uint(int, MapType::ARRAY_OF_MAPS.0);
            b.strukt("nested", &[("type", ty), ("values", values)])
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("inner map cannot itself hold"), "{e}");
    }
}

#[cfg(test)]
mod bounds_tests {
    //! Hostile inputs built by hand: each must give an error (or succeed)
    //! in bounded time and memory, never overflow the stack.
    use super::*;
    use std::time::{Duration, Instant};

    /// A BTF blob from raw type records and a string section.
    fn blob(types: &[u32], strings: &[u8]) -> Vec<u8> {
        let type_len = (types.len() * 4) as u32;
        let mut b = Vec::new();
        b.extend_from_slice(&MAGIC.to_le_bytes());
        b.extend_from_slice(&[1, 0]);
        for v in [24u32, 0, type_len, type_len, strings.len() as u32] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for t in types {
            b.extend_from_slice(&t.to_le_bytes());
        }
        b.extend_from_slice(strings);
        b
    }

    fn info(kind: u8, vlen: u32) -> u32 {
        (u32::from(kind) << 24) | vlen
    }

    #[test]
    fn an_array_of_itself_is_an_error_not_a_stack_overflow() {
        // 1: int; 2: array of 2 (itself), indexed by 1.
        let types = [
            0,
            info(kind::INT, 0),
            4,
            32,
            0,
            info(kind::ARRAY, 0),
            0,
            2,
            1,
            1,
        ];
        let btf = Btf::parse(&blob(&types, b"\0")).unwrap();
        let err = btf.size_of(2).unwrap_err().to_string();
        assert!(err.contains("deeper than"), "{err}");
        // A cycle through a modifier and an array: const -> array -> const.
        let types = [
            0,
            info(kind::INT, 0),
            4,
            32,
            0,
            info(kind::CONST, 0),
            3,
            0,
            info(kind::ARRAY, 0),
            0,
            2,
            1,
            7,
        ];
        let btf = Btf::parse(&blob(&types, b"\0")).unwrap();
        assert!(btf.size_of(2).is_err());
        assert!(btf.size_of(3).is_err());
    }

    #[test]
    fn overlapping_section_names_in_btf_ext_stay_linear() {
        // A 1 KiB name, and 100,000 func_info blocks each naming a
        // suffix of it: copying each name would take ~50 MB per 1.6 MB.
        let mut strings = vec![b'a'; MAX_NAME_LEN];
        strings.insert(0, 0);
        strings.push(0);
        let btf = Btf::parse(&blob(&[], &strings)).unwrap();
        let mut func = 8u32.to_le_bytes().to_vec();
        for i in 0..100_000u32 {
            func.extend_from_slice(&(1 + i % 16).to_le_bytes());
            func.extend_from_slice(&1u32.to_le_bytes());
            func.extend_from_slice(&[0; 8]);
        }
        let mut ext = Vec::new();
        ext.extend_from_slice(&MAGIC.to_le_bytes());
        ext.extend_from_slice(&[1, 0]);
        for v in [24u32, 0, func.len() as u32, 0, 0] {
            ext.extend_from_slice(&v.to_le_bytes());
        }
        ext.extend_from_slice(&func);
        let start = Instant::now();
        let err = BtfExt::parse(&ext, &btf).unwrap_err().to_string();
        assert!(err.contains("section names take more than"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn many_records_for_one_section_parse_in_linear_time() {
        let btf = Btf::parse(&blob(&[], b"\0prog\0")).unwrap();
        let n = 250_000u32;
        let mut func = 8u32.to_le_bytes().to_vec();
        func.extend_from_slice(&1u32.to_le_bytes());
        func.extend_from_slice(&n.to_le_bytes());
        for i in 0..n {
            func.extend_from_slice(&(i * 8).to_le_bytes());
            func.extend_from_slice(&1u32.to_le_bytes());
        }
        let mut ext = Vec::new();
        ext.extend_from_slice(&MAGIC.to_le_bytes());
        ext.extend_from_slice(&[1, 0]);
        for v in [24u32, 0, func.len() as u32, 0, 0] {
            ext.extend_from_slice(&v.to_le_bytes());
        }
        ext.extend_from_slice(&func);
        let parsed = BtfExt::parse(&ext, &btf).unwrap();
        assert_eq!(parsed.func_info["prog"].len(), n as usize);
    }

    #[test]
    fn sixty_thousand_globals_are_fixed_up_fast() {
        use crate::object::elf::{DataKind, Section, SectionKind, Symbol};
        let n = 60_000u32;
        // Strings: "\0.data\0" then "vN\0" per variable.
        let mut strings = b"\0.data\0".to_vec();
        let mut name_offs = Vec::new();
        for i in 0..n {
            name_offs.push(strings.len() as u32);
            strings.extend_from_slice(format!("v{i}\0").as_bytes());
        }
        // 1: int; 2..=n+1: global VARs; n+2: DATASEC .data.
        let mut types = vec![0, info(kind::INT, 0), 4, 32];
        for &off in &name_offs {
            types.extend_from_slice(&[off, info(kind::VAR, 0), 1, 1]);
        }
        types.extend_from_slice(&[1, info(kind::DATASEC, n), 0]);
        for i in 0..n {
            types.extend_from_slice(&[2 + i, 0, 4]);
        }
        let mut btf = Btf::parse(&blob(&types, &strings)).unwrap();
        let symbols = (0..n)
            .map(|i| Symbol {
                name: format!("v{i}"),
                section: Some(1),
                value: u64::from(n - 1 - i) * 4,
                size: 4,
                kind: 1,
                global: true,
                weak: false,
            })
            .collect();
        let obj = Object {
            sections: vec![Section {
                index: 1,
                name: ".data".into(),
                kind: SectionKind::Data(DataKind::Data),
                data: &[],
                size: u64::from(n) * 4,
                insns: Vec::new(),
            }],
            symbols,
            functions: Vec::new(),
            programs: Vec::new(),
            maps: Vec::new(),
            relocs: Default::default(),
            map_relocs: Vec::new(),
            license: Default::default(),
            btf: None,
            btf_ext: None,
        };
        let start = Instant::now();
        btf.fix_datasecs(&obj).unwrap();
        let took = start.elapsed();
        // Sorted by offset: the last variable comes first.
        let vars = btf.datasec_vars(n + 2).unwrap();
        assert_eq!(vars[0], (n + 1, 0, 4));
        assert_eq!(vars[(n - 1) as usize], (2, (n - 1) * 4, 4));
        assert!(took < Duration::from_secs(2), "fix-up took {took:?}");
    }
}
