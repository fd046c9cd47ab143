//! Step 3: BTF, the type information clang leaves in `.BTF` and `.BTF.ext`.
//!
//! The kernel needs BTF to accept a map whose value holds a `struct bpf_timer`:
//! it finds the timer by walking the value's BTF type (`btf_parse_fields` in
//! kernel/bpf/btf.c), so the map must be created with a BTF fd and the key and
//! value type ids. The kernel checks the blob before it takes it
//! (`btf_parse_hdr`, `btf_parse_str_sec`, `btf_check_all_metas`); [`Btf::parse`]
//! checks the same layout, so a malformed blob is refused here, by name.
//!
//! - [`types`]: the one model of BTF types, shared with the kernel's BTF
//!   reader ([`crate::kernel::btf`]): records, their fields, and the walks
//!   over them ([`BtfSource`]).
//! - [`fixup`]: what the loader fills in before BPF_BTF_LOAD.
//! - [`map_def`]: map definitions in `.maps`.
//! - [`ext`]: `.BTF.ext`: func_info, line_info, CO-RE relocations.
//! - [`tags`]: the DECL_TAGs the loader acts on (exception callbacks).
//!
//! Everything is bounds-checked: bogus offsets give [`Error::Btf`], never a panic.

pub mod ext;
pub mod fixup;
pub mod map_def;
pub mod tags;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
pub mod types;

use std::borrow::Cow;

use crate::error::{Error, Result};
pub use ext::{BtfExt, CoreRelo, FuncInfo, LineInfo, CORE_RELO_KIND_MAX};
pub use map_def::{BtfMapDef, MapValues};
pub use types::{essential_name, extra_len, kind, BtfSource, Header, Int, Member, Type, MAX_DEPTH};

/// The longest name rawbpf reads from BTF. The kernel's own limit for
/// identifiers is KSYM_NAME_LEN (512); section names are shorter still.
pub const MAX_NAME_LEN: usize = 1024;

fn btf_err(what: impl std::fmt::Display) -> Error {
    Error::Btf(what.to_string())
}

/// What an error says, without the "bad BTF: " its display adds: for an
/// error that gains context (a map's name, an instruction) on its way out.
pub(crate) fn btf_what(e: Error) -> String {
    match e {
        Error::Btf(what) => what,
        other => other.to_string(),
    }
}

/// A parsed BTF blob, kept as bytes so fix-ups patch it in place.
#[derive(Clone, Debug)]
pub struct Btf {
    raw: Vec<u8>,
    header: Header,
    str_start: usize,
    str_len: usize,
    /// Byte offset in `raw` of the record of each type: entry `i` is type
    /// id `i + 1` (id 0, `void`, has no record).
    index: Vec<u32>,
}

/// The header, and the sections it places inside the `data`: the strings
/// must start and end with NUL, as the kernel's `btf_parse_str_sec` requires.
fn read_header(data: &[u8]) -> Result<Header> {
    let header = Header::parse(data).map_err(btf_err)?;
    header.check_within(data.len() as u64).map_err(btf_err)?;
    let str_start = header.str_start() as usize;
    let str_end = str_start + header.str_len as usize;
    if data[str_start] != 0 || data[str_end - 1] != 0 {
        return Err(btf_err(
            "the string section must start and end with a NUL byte",
        ));
    }
    Ok(header)
}

/// Where each type record lies in `data`, found by [`types::scan_records`];
/// an unknown kind or a record past the end of the type section is an error.
fn index_types(data: &[u8], header: &Header) -> Result<Vec<u32>> {
    let start = header.type_start() as usize;
    let section = &data[start..start + header.type_len as usize];
    let mut index = Vec::new();
    let used = types::scan_records(section, |pos, _| index.push((start + pos) as u32))
        .map_err(|k| btf_err(format!("type {} has unknown kind {k}", index.len() + 1)))?;
    if used != section.len() {
        return Err(btf_err(format!(
            "type {} runs past the type section",
            index.len() + 1
        )));
    }
    Ok(index)
}

impl Btf {
    /// Parses and checks the layout of a `.BTF` section.
    pub fn parse(data: &[u8]) -> Result<Btf> {
        let header = read_header(data)?;
        let index = index_types(data, &header)?;
        Ok(Btf {
            raw: data.to_vec(),
            header,
            str_start: header.str_start() as usize,
            str_len: header.str_len as usize,
            index,
        })
    }

    /// The blob as it should be handed to BPF_BTF_LOAD.
    pub fn bytes(&self) -> &[u8] {
        &self.raw
    }

    /// Number of type ids, including `void` (0).
    pub fn len(&self) -> usize {
        self.index.len() + 1
    }

    /// Whether the blob has no types besides `void`.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
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

    /// The type with this id; `void` (0) is not a type here (see
    /// [`BtfSource::ty`] for a reader to whom it is).
    pub fn get(&self, id: u32) -> Result<Type<'_>> {
        let pos = id
            .checked_sub(1)
            .and_then(|i| self.index.get(i as usize))
            .ok_or_else(|| btf_err(format!("type id {id} does not exist")))?;
        Type::decode(&self.raw[*pos as usize..])
            .map_err(|e| btf_err(format!("type {id}: {}", btf_what(e))))
    }

    /// The kind-specific bytes after type `id`'s 12-byte header (members,
    /// enumerators, array info, ...), for code that decodes them itself.
    pub fn extra_bytes(&self, id: u32) -> Result<&[u8]> {
        let len = self.get(id)?.extra.len();
        let start = self.index[id as usize - 1] as usize + types::TYPE_HEADER_LEN;
        Ok(&self.raw[start..start + len])
    }

    /// The name of type `id` ("" for anonymous types).
    pub fn type_name(&self, id: u32) -> Result<&str> {
        self.name(self.get(id)?.name_off)
    }

    /// Skips typedefs and qualifiers (const, volatile, restrict, type tags);
    /// reaching `void` is an error.
    pub fn resolve(&self, id: u32) -> Result<u32> {
        match self.skip_modifiers(id)? {
            (0, _) => Err(btf_err(format!("type {id} is void"))),
            (id, _) => Ok(id),
        }
    }

    /// Like [`Btf::resolve`], but `void` (0) is an answer, not an error.
    pub fn resolve_or_void(&self, id: u32) -> Result<u32> {
        Ok(self.skip_modifiers(id)?.0)
    }

    /// The size in bytes of a value of type `id` ([`BtfSource::size_of`],
    /// here without the trait in scope).
    pub fn size_of(&self, id: u32) -> Result<u64> {
        BtfSource::size_of(self, id)
    }

    /// Type `id`, which must be of kind `want` (`what` names it in the error).
    fn of_kind(&self, id: u32, want: u8, what: &str) -> Result<Type<'_>> {
        let t = self.get(id)?;
        if t.kind != want {
            return Err(btf_err(format!("type {id} is not {what}")));
        }
        Ok(t)
    }

    /// `(element type, number of elements)` of an ARRAY.
    pub fn array(&self, id: u32) -> Result<(u32, u32)> {
        self.of_kind(id, kind::ARRAY, "an array")?.array()
    }

    /// `(name, type, bit offset)` of each member of a STRUCT or UNION.
    pub fn members(&self, id: u32) -> Result<Vec<(&str, u32, u32)>> {
        let t = self.get(id)?;
        if !t.is_composite() {
            return Err(btf_err(format!("type {id} is not a struct or union")));
        }
        t.members()
            .map(|m| {
                let m = m?;
                Ok((self.name(m.name_off)?, m.type_id, m.bit_offset))
            })
            .collect()
    }

    /// `(var type id, offset, size)` of each entry of a DATASEC.
    pub fn datasec_vars(&self, id: u32) -> Result<Vec<(u32, u32, u32)>> {
        let t = self.of_kind(id, kind::DATASEC, "a DATASEC")?;
        (0..u32::from(t.vlen)).map(|i| t.datasec_var(i)).collect()
    }

    /// The ids of the types of kind `want`, in order: a pass that reads
    /// one word of each record (its info), for the fix-ups that each look
    /// at one kind, instead of decoding every record.
    pub fn ids_of_kind(&self, want: u8) -> impl Iterator<Item = u32> + '_ {
        (1..self.len() as u32).filter(move |&id| {
            let pos = self.index[id as usize - 1] as usize;
            types::u32_at(&self.raw, pos + 4).is_some_and(|info| types::kind_of(info) == want)
        })
    }

    /// The id of the first type of `kind` named `name`. A scan that reads
    /// each record's kind ([`Btf::ids_of_kind`]) and, for that kind, its
    /// name offset, not the whole record.
    pub fn find(&self, kind: u8, name: &str) -> Option<u32> {
        self.ids_of_kind(kind).find(|&id| {
            let pos = self.index[id as usize - 1] as usize;
            types::u32_at(&self.raw, pos).is_some_and(|off| self.name(off).is_ok_and(|n| n == name))
        })
    }

    /// Whether DATASEC `id` holds a global (non-static) variable: libbpf makes
    /// a data section's map mmapable only then.
    pub fn datasec_has_global_var(&self, id: u32) -> Result<bool> {
        for (var, _, _) in self.datasec_vars(id)? {
            let v = self.get(var)?;
            if v.kind == kind::VAR && v.linkage()? != 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// The object's BTF read through the same interface as the kernel's.
impl BtfSource for Btf {
    fn ty(&self, id: u32) -> Result<Type<'_>> {
        if id == 0 {
            return Ok(Type::VOID);
        }
        self.get(id)
    }

    fn string(&self, off: u32) -> Result<Cow<'_, str>> {
        self.name(off).map(Cow::Borrowed)
    }

    fn candidates(&self, essential: &str) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        for id in 1..self.len() as u32 {
            if essential_name(self.type_name(id)?) == essential {
                out.push(id);
            }
        }
        Ok(out)
    }

    fn label(&self) -> String {
        "BTF".into()
    }
}
