//! What the loader writes into the object's BTF before BPF_BTF_LOAD: the
//! blob is edited in place, record by record.
//!
//! clang cannot know where the linker puts things, so it leaves each
//! DATASEC's size and each global VAR's offset in it as 0; the kernel wants
//! them filled in and the entries sorted by offset (`btf_datasec_check_meta`
//! in kernel/bpf/btf.c). libbpf fills them in from the ELF, and so does
//! [`Btf::fix_datasecs`]. The kernel also refuses extern VARs and FUNCs
//! (`btf_var_check_meta`, `btf_func_check_meta`): the setters here let
//! [`crate::object::externs`] turn them into what it accepts.
//!
//! The verifier checks a global function on its own, from its BTF
//! prototype alone (`btf_prepare_func_args`, `do_check_subprogs` in
//! kernel/bpf/verifier.c), and a static one inline, with what its caller
//! knows. A `__hidden` global function (`bpf_usdt_arg`, libbpf's header
//! helpers) is global only for the linker: [`Btf::fix_hidden_funcs`] marks
//! its FUNC static, as libbpf does, so a pointer argument is the caller's
//! pointer and not memory that may be NULL.
//!
//! The kernel refuses a FUNC whose prototype has an unnamed parameter
//! (`btf_func_check`: "Invalid arg#1"), which clang writes for `naked`
//! functions; [`Btf::name_func_params`] names them (libbpf instead loads
//! such an object without its BTF).

use super::types::{kind, u32_at, Type, TYPE_HEADER_LEN};
use super::{btf_err, Btf};
use crate::error::Result;
use crate::object::elf::{Object, Section, SectionKind};

/// `BTF_VAR_STATIC`: a static variable, which libbpf and we leave as clang wrote it.
const VAR_STATIC: u32 = 0;
/// `BTF_FUNC_STATIC` and `BTF_FUNC_GLOBAL`, a FUNC's linkage.
const FUNC_STATIC: u16 = 0;
const FUNC_GLOBAL: u32 = 1;

fn put_u32(data: &mut [u8], pos: usize, value: u32) {
    if let Some(b) = data.get_mut(pos..pos + 4) {
        b.copy_from_slice(&value.to_le_bytes());
    }
}

/// The object's global symbols sorted by (section, name, index), built
/// once: a binary search per VAR keeps the fix-up at n log n in the number
/// of globals (a scan per VAR would be quadratic).
struct Globals<'o> {
    sorted: Vec<(usize, &'o str, usize)>,
    obj: &'o Object<'o>,
}

impl<'o> Globals<'o> {
    fn new(obj: &'o Object<'o>) -> Globals<'o> {
        let mut sorted: Vec<(usize, &str, usize)> = obj
            .symbols
            .iter()
            .enumerate()
            .filter(|(_, s)| s.global)
            .filter_map(|(i, s)| Some((s.section?, s.name.as_str(), i)))
            .collect();
        sorted.sort();
        Globals { sorted, obj }
    }

    /// The value (offset in its section) of the first global symbol named
    /// `name` in section `section`.
    fn value(&self, section: usize, name: &str) -> Option<u64> {
        let key = (section, name);
        let first = self.sorted.partition_point(|&(s, n, _)| (s, n) < key);
        self.sorted
            .get(first)
            .filter(|&&(s, n, _)| (s, n) == key)
            .map(|&(_, _, sym)| self.obj.symbols[sym].value)
    }
}

impl Btf {
    /// Byte offset of type `id`'s record in the blob.
    fn pos(&self, id: u32) -> Result<usize> {
        self.get(id)?;
        Ok(self.index[id as usize - 1] as usize)
    }

    /// Type `id`, which must be of kind `want`, and where its record lies.
    fn expect_kind(&self, id: u32, want: u8) -> Result<(usize, Type<'_>)> {
        let t = self.get(id)?;
        if t.kind != want {
            return Err(btf_err(format!("type {id} is kind {}, not {want}", t.kind)));
        }
        Ok((self.pos(id)?, t))
    }

    /// Fills in what clang leaves for the loader: each DATASEC's size (its ELF
    /// section's size) and each global VAR's offset (its symbol's value), then
    /// sorts the entries by offset as the kernel requires
    /// (`btf_datasec_check_meta`).
    pub fn fix_datasecs(&mut self, obj: &Object<'_>) -> Result<()> {
        let globals = Globals::new(obj);
        let datasecs: Vec<u32> = self.ids_of_kind(kind::DATASEC).collect();
        for id in datasecs {
            let t = self.get(id)?;
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
            self.fix_datasec(id, &sec_name, section, &globals)?;
        }
        Ok(())
    }

    /// One DATASEC: its size if clang left 0, each global VAR's offset, the
    /// entries sorted by offset.
    fn fix_datasec(
        &mut self,
        id: u32,
        sec_name: &str,
        section: &Section<'_>,
        globals: &Globals<'_>,
    ) -> Result<()> {
        let mut size = self.get(id)?.size_or_type;
        if size == 0 {
            size = u32::try_from(section.size).map_err(|_| btf_err("section too large"))?;
        }
        let mut vars = self.datasec_vars(id)?;
        for (var, offset, _) in vars.iter_mut() {
            let v = self.get(*var)?;
            if v.kind != kind::VAR {
                return Err(btf_err(format!(
                    "DATASEC '{sec_name}' entry {var} is not a VAR"
                )));
            }
            if v.linkage()? == VAR_STATIC {
                continue;
            }
            let var_name = self.name(v.name_off)?;
            let value = globals.value(section.index, var_name).ok_or_else(|| {
                btf_err(format!(
                    "VAR '{var_name}' in DATASEC '{sec_name}' has no ELF symbol"
                ))
            })?;
            *offset = u32::try_from(value).map_err(|_| btf_err("symbol offset too large"))?;
        }
        vars.sort_unstable_by_key(|&(_, offset, _)| offset);
        self.set_datasec(id, size, &vars)
    }

    /// Marks the FUNC of every `__hidden` global function of `.text`
    /// static (libbpf's `mark_btf_static`): the kernel then verifies it
    /// with its caller instead of alone.
    pub fn fix_hidden_funcs(&mut self, obj: &Object<'_>) -> Result<()> {
        let mut hidden: Vec<&str> = obj
            .functions
            .iter()
            .filter(|f| f.global && f.hidden && obj.sections[f.section].kind == SectionKind::Text)
            .map(|f| f.name.as_str())
            .collect();
        if hidden.is_empty() {
            return Ok(());
        }
        hidden.sort_unstable();
        let funcs: Vec<u32> = self.ids_of_kind(kind::FUNC).collect();
        for id in funcs {
            let t = self.get(id)?;
            if u32::from(t.vlen) == FUNC_GLOBAL
                && hidden.binary_search(&self.name(t.name_off)?).is_ok()
            {
                self.set_func_linkage(id, FUNC_STATIC)?;
            }
        }
        Ok(())
    }

    /// Names every unnamed parameter of every FUNC after the function
    /// (the kernel wants them named, `btf_func_check`; the name means
    /// nothing to it).
    pub fn name_func_params(&mut self) -> Result<()> {
        let funcs: Vec<u32> = self.ids_of_kind(kind::FUNC).collect();
        for id in funcs {
            let name_off = self.get(id)?.name_off;
            self.name_unnamed_params(id, name_off)?;
        }
        Ok(())
    }

    /// Sets a VAR's linkage (0 static, 1 global, 2 extern).
    pub fn set_var_linkage(&mut self, id: u32, linkage: u32) -> Result<()> {
        let (pos, _) = self.expect_kind(id, kind::VAR)?;
        put_u32(&mut self.raw, pos + TYPE_HEADER_LEN, linkage);
        Ok(())
    }

    /// Sets the type a VAR has.
    pub fn set_var_type(&mut self, id: u32, type_id: u32) -> Result<()> {
        let (pos, _) = self.expect_kind(id, kind::VAR)?;
        put_u32(&mut self.raw, pos + 8, type_id);
        Ok(())
    }

    /// Sets a FUNC's linkage (0 static, 1 global, 2 extern), kept in `vlen`.
    pub fn set_func_linkage(&mut self, id: u32, linkage: u16) -> Result<()> {
        let (pos, _) = self.expect_kind(id, kind::FUNC)?;
        let info = u32_at(&self.raw, pos + 4).unwrap_or(0);
        put_u32(
            &mut self.raw,
            pos + 4,
            (info & !0xffff) | u32::from(linkage),
        );
        Ok(())
    }

    /// Gives every unnamed parameter of FUNC `id`'s prototype the name at
    /// `name_off`: the kernel wants named parameters of a global function.
    pub fn name_unnamed_params(&mut self, id: u32, name_off: u32) -> Result<()> {
        let (_, func) = self.expect_kind(id, kind::FUNC)?;
        let (pos, proto) = self.expect_kind(func.size_or_type, kind::FUNC_PROTO)?;
        let mut unnamed = Vec::new();
        for i in 0..u32::from(proto.vlen) {
            // A trailing (void) parameter marks varargs and stays unnamed.
            if let (0, ty) = proto.param(i)? {
                if ty != 0 {
                    unnamed.push(i as usize);
                }
            }
        }
        for i in unnamed {
            put_u32(&mut self.raw, pos + TYPE_HEADER_LEN + 8 * i, name_off);
        }
        Ok(())
    }

    /// Rewrites a DATASEC's size and its entries `(var, offset, size)`; the
    /// number of entries stays.
    pub fn set_datasec(&mut self, id: u32, size: u32, entries: &[(u32, u32, u32)]) -> Result<()> {
        let (pos, t) = self.expect_kind(id, kind::DATASEC)?;
        if entries.len() != usize::from(t.vlen) {
            return Err(btf_err(format!("DATASEC {id} has {} entries", t.vlen)));
        }
        put_u32(&mut self.raw, pos + 8, size);
        for (i, &(var, offset, size)) in entries.iter().enumerate() {
            let p = pos + TYPE_HEADER_LEN + 12 * i;
            put_u32(&mut self.raw, p, var);
            put_u32(&mut self.raw, p + 4, offset);
            put_u32(&mut self.raw, p + 8, size);
        }
        Ok(())
    }

    /// A signed INT of `size` bytes: an existing one, or one added.
    pub fn int_type(&mut self, size: u32) -> Result<u32> {
        let existing = (1..self.len() as u32).find(|&id| {
            self.get(id).is_ok_and(|t| {
                t.kind == kind::INT
                    && t.size_or_type == size
                    && t.int().is_ok_and(|i| i.encoding == 1 && i.bits == 8 * size)
            })
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
        let mut header = self.header;
        if header.type_off + header.type_len != header.str_off
            || self.str_start + self.str_len != self.raw.len()
        {
            return Err(btf_err(
                "cannot add a type: the string section does not follow the type section",
            ));
        }
        let name_off = self.str_len as u32;
        let mut record = Vec::with_capacity(TYPE_HEADER_LEN + extra.len());
        for word in [name_off, info, size_or_type] {
            record.extend_from_slice(&word.to_le_bytes());
        }
        record.extend_from_slice(extra);
        let pos = self.str_start;
        self.raw.splice(pos..pos, record.iter().copied());
        self.raw.extend_from_slice(name.as_bytes());
        self.raw.push(0);
        let grow = record.len() as u32;
        self.str_start += grow as usize;
        self.str_len += name.len() + 1;
        header.type_len += grow;
        header.str_off += grow;
        header.str_len = self.str_len as u32;
        put_u32(&mut self.raw, 12, header.type_len);
        put_u32(&mut self.raw, 16, header.str_off);
        put_u32(&mut self.raw, 20, header.str_len);
        self.header = header;
        self.index.push(pos as u32);
        Ok(self.len() as u32 - 1)
    }
}
