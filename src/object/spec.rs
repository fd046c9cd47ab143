//! The object as a spec: everything it asks the kernel for, editable before
//! the first system call.
//!
//! [`ObjectSpec::parse`] runs the kernel-free half of the pipeline (ELF,
//! BTF and its fix-ups, externs, map plans) and keeps the result. Before
//! [`ObjectSpec::load`](crate::ObjectSpec::load) a user may change what will
//! be loaded, as a libbpf skeleton user does between `open` and `load`:
//!
//! - a global variable's initial value ([`ObjectSpec::set_global`]): the
//!   bytes of `.rodata`, `.data` and `.bss` become the single value of their
//!   ARRAY map, so setting a `const volatile` global here is how a tool
//!   passes its configuration to a program, and the verifier sees it as a
//!   constant (`.rodata` is frozen: `bpf_map_direct_read` lets the verifier
//!   read a frozen, read-only map's value);
//! - a program's autoload and type ([`ProgramSpec`]);
//! - a map's size, flags and pinning ([`MapSpec`]);
//! - the object's name ([`ObjectSpec::set_name`]), which the kernel names
//!   the global-data maps after, as libbpf does ([`internal_map_name`]).

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::object::btf::tags::ExceptionTags;
use crate::object::btf::{kind, Btf, BtfExt};
use crate::object::elf::Object;
use crate::object::externs::Externs;
use crate::object::maps::{self, MapSource, MapSpec};
use crate::object::section::{self, ProgKind};
use crate::sys::MapFlags;

/// A global variable's place: its data section and the bytes it spans in
/// that section's map value.
#[derive(Clone, Debug)]
pub(crate) struct Global {
    pub(crate) name: String,
    pub(crate) section: usize,
    pub(crate) offset: usize,
    pub(crate) size: usize,
}

/// A program of the object, before load.
#[derive(Clone, Debug)]
pub struct ProgramSpec {
    pub(crate) name: String,
    pub(crate) section: String,
    /// Index into the object's functions.
    pub(crate) entry: usize,
    /// The type from the section name, or why there is none.
    pub(crate) kind: std::result::Result<ProgKind, String>,
    pub(crate) autoload: bool,
    /// Index into the object's functions of its exception callback
    /// (`__exception_cb`), appended although nothing calls it.
    pub(crate) exception_cb: Option<usize>,
}

impl ProgramSpec {
    /// The function's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The ELF section it is in, e.g. `cgroup_skb/egress`.
    pub fn section(&self) -> &str {
        &self.section
    }

    /// Program type, attach type and flags, from the section name (or as
    /// set with [`set_kind`](Self::set_kind)); None if the section names none.
    pub fn kind(&self) -> Option<&ProgKind> {
        self.kind.as_ref().ok()
    }

    /// Whether [`load`](crate::ObjectSpec::load) loads it: true unless its
    /// section starts with `?`, as with libbpf.
    pub fn autoload(&self) -> bool {
        self.autoload
    }

    /// Loads the program, or not.
    pub fn set_autoload(&mut self, autoload: bool) {
        self.autoload = autoload;
    }

    /// Loads it as `kind` instead of what its section name says (libbpf's
    /// `bpf_program__set_type` and `set_expected_attach_type`).
    pub fn set_kind(&mut self, kind: ProgKind) {
        self.kind = Ok(kind);
    }

    /// Its exception callback (`__exception_cb`), as an index into the
    /// object's functions: appended to the program although nothing
    /// calls it ([`crate::object::reloc::assemble_with`]).
    pub fn exception_callback(&self) -> Option<usize> {
        self.exception_cb
    }

    /// Whether it attaches to a cgroup (a type `rawbpf run` attaches).
    pub fn attaches_to_cgroup(&self) -> bool {
        self.kind().is_some_and(ProgKind::attaches_to_cgroup)
    }
}

/// A parsed object, ready to be edited and loaded.
#[derive(Debug)]
pub struct ObjectSpec<'a> {
    /// The parsed ELF object.
    pub(crate) object: Object<'a>,
    /// Its `.BTF`, parsed and fixed up.
    pub(crate) btf: Option<Btf>,
    /// Its `.BTF.ext`, parsed.
    pub(crate) ext: Option<BtfExt>,
    /// The maps to create.
    pub(crate) maps: Vec<MapSpec<'a>>,
    /// `__kconfig` and `__ksym` externs, resolved at load time.
    pub(crate) externs: Externs,
    /// The programs, in the object's order.
    pub(crate) programs: Vec<ProgramSpec>,
    /// The object's name (libbpf's `bpf_object__name`), "" until set.
    pub(crate) name: String,
}

impl<'a> ObjectSpec<'a> {
    /// Parses the ELF, fixes up its BTF and plans its maps: everything
    /// before the first system call. `bytes` is a BPF object as clang
    /// writes it (`clang -O2 -g -target bpf`).
    ///
    /// Order matters: externs are found in the BTF as clang wrote it,
    /// before the fix-ups rewrite their types into what the kernel accepts
    /// (`btf_datasec_check_meta`, `btf_var_check_meta`); `.BTF.ext` is read
    /// against the fixed BTF's strings; maps are planned from the fixed
    /// BTF. What needs the running kernel (CO-RE targets, extern values)
    /// comes at load time, from [`crate::kernel`].
    pub fn parse(bytes: &'a [u8]) -> Result<ObjectSpec<'a>> {
        // An object without programs (maps only, or a library's static
        // functions) is loaded for its maps, as libbpf does.
        let object = Object::parse(bytes)?;
        let mut btf = object.btf.map(Btf::parse).transpose()?;
        // Externs are declared in BTF, before the fix-ups rewrite their types.
        let externs = Externs::collect(&object, btf.as_ref())?;
        if let Some(btf) = &mut btf {
            btf.fix_datasecs(&object)?;
            btf.fix_hidden_funcs(&object)?;
            externs.fix_btf(btf)?;
            btf.name_func_params()?;
        }
        let ext = match (object.btf_ext, &btf) {
            (Some(raw), Some(btf)) => Some(BtfExt::parse(raw, btf)?),
            _ => None,
        };
        let maps = maps::plan(&object, btf.as_ref())?;
        let programs = program_specs(&object, btf.as_ref())?;
        let mut spec = ObjectSpec {
            object,
            btf,
            ext,
            maps,
            externs,
            programs,
            name: String::new(),
        };
        spec.set_name("");
        Ok(spec)
    }

    /// The object's name: "" from [`parse`](Self::parse), else as set.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Names the object, as libbpf's `bpf_object_open_opts.object_name`
    /// does (the first 15 bytes are kept): the kernel's names of the
    /// global-data maps start with it ([`internal_map_name`]). Objects read
    /// from a file take the name libbpf gives them, [`object_name`] of the
    /// path (`rawbpf run` does). The maps keep their names in the object
    /// (`.rodata`, `.bss`), by which they are found.
    pub fn set_name(&mut self, name: &str) {
        let end = name.len().min(15);
        let end = (0..=end)
            .rev()
            .find(|&i| name.is_char_boundary(i))
            .unwrap_or(0);
        self.name = name[..end].to_string();
        for map in &mut self.maps {
            if matches!(map.source, MapSource::Data { .. }) {
                map.attr.map_name = internal_map_name(&self.name, &map.name);
            }
        }
    }

    /// The parsed ELF object (sections, symbols, functions, relocations).
    pub fn object(&self) -> &Object<'a> {
        &self.object
    }

    /// The object's `.BTF`, parsed and fixed up as the kernel will get it.
    pub fn btf(&self) -> Option<&Btf> {
        self.btf.as_ref()
    }

    /// The object's `.BTF.ext` (func, line and CO-RE records).
    pub fn btf_ext(&self) -> Option<&BtfExt> {
        self.ext.as_ref()
    }

    /// The programs, in the object's order.
    pub fn programs(&self) -> impl Iterator<Item = &ProgramSpec> {
        self.programs.iter()
    }

    /// The programs, to change what is loaded and how.
    pub fn programs_mut(&mut self) -> impl Iterator<Item = &mut ProgramSpec> {
        self.programs.iter_mut()
    }

    /// The program whose function is named `name`.
    pub fn program_mut(&mut self, name: &str) -> Option<&mut ProgramSpec> {
        self.programs.iter_mut().find(|p| p.name == name)
    }

    /// The maps, definitions and global data alike.
    pub fn maps(&self) -> impl Iterator<Item = &MapSpec<'a>> {
        self.maps.iter()
    }

    /// The map named `name` (a `.maps` symbol, or a data section such as
    /// `.rodata`), to change its size, flags or pinning.
    pub fn map_mut(&mut self, name: &str) -> Option<&mut MapSpec<'a>> {
        self.maps.iter_mut().find(|m| m.name == name)
    }

    /// Sets the initial value of the global variable `name` (in `.rodata*`,
    /// `.data*` or `.bss*`) to `value`, whose length must be the variable's
    /// size: from BTF where the object has it, else from its ELF symbol.
    pub fn set_global(&mut self, name: &str, value: &[u8]) -> Result<()> {
        let (section, offset, size) = self.find_global(name)?;
        if value.len() != size {
            return Err(Error::Map {
                map: self.object.sections[section].name.clone(),
                what: format!(
                    "global '{name}' is {size} bytes; the value given is {} bytes",
                    value.len()
                ),
            });
        }
        let map = self
            .maps
            .iter_mut()
            .find(|m| matches!(m.source, MapSource::Data { section: s, .. } if s == section))
            .ok_or_else(|| not_a_global(name))?;
        let mut bytes = match map.initial.take() {
            Some(bytes) => bytes.into_owned(),
            None => Vec::new(),
        };
        bytes.resize(map.attr.value_size as usize, 0);
        let end = offset + size;
        let slot = bytes
            .get_mut(offset..end)
            .ok_or_else(|| not_a_global(name))?;
        slot.copy_from_slice(value);
        map.initial = Some(Cow::Owned(bytes));
        Ok(())
    }

    /// Where the global `name` lives: (section index, offset, size).
    fn find_global(&self, name: &str) -> Result<(usize, usize, usize)> {
        for section in self.data_sections() {
            let found = match &self.btf {
                Some(btf) => btf_global(btf, &section.name, name)?,
                None => None,
            };
            let found = found.or_else(|| self.symbol_global(section.index, name));
            if let Some((offset, size)) = found {
                return Ok((section.index, offset, size));
            }
        }
        Err(not_a_global(name))
    }

    /// The sections that become global-data maps.
    fn data_sections(&self) -> impl Iterator<Item = &crate::object::elf::Section<'a>> {
        self.object.sections.iter().filter(|s| {
            self.maps
                .iter()
                .any(|m| matches!(m.source, MapSource::Data { section, .. } if section == s.index))
        })
    }

    /// Every named global variable of the data sections, with where it
    /// lives in its own section: what [`Loaded::global`](crate::Loaded::global)
    /// reads. Each section's DATASEC is looked up once; a variable it does
    /// not list is placed by its ELF symbol.
    pub(crate) fn globals(&self) -> Vec<Global> {
        let mut out = Vec::new();
        for section in self.data_sections() {
            let mut from_btf = match &self.btf {
                Some(btf) => datasec_globals(btf, &section.name).unwrap_or_default(),
                None => Vec::new(),
            };
            from_btf.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            let symbols = self.object.symbols.iter().filter(|s| {
                s.section == Some(section.index) && !s.is_section() && !s.name.is_empty()
            });
            for sym in symbols {
                let place = match from_btf.binary_search_by(|(n, ..)| n.as_str().cmp(&sym.name)) {
                    Ok(i) => Some((from_btf[i].1, from_btf[i].2)),
                    Err(_) => usize::try_from(sym.value)
                        .ok()
                        .zip(usize::try_from(sym.size).ok()),
                };
                if let Some((offset, size)) = place {
                    out.push(Global {
                        name: sym.name.clone(),
                        section: section.index,
                        offset,
                        size,
                    });
                }
            }
        }
        out
    }

    /// The ELF symbol `name` in the data section `section`: (offset, size).
    fn symbol_global(&self, section: usize, name: &str) -> Option<(usize, usize)> {
        let sym = self
            .object
            .symbols
            .iter()
            .find(|s| s.section == Some(section) && s.name == name && !s.is_section())?;
        Some((
            usize::try_from(sym.value).ok()?,
            usize::try_from(sym.size).ok()?,
        ))
    }
}

/// The name libbpf gives an object it opens from `path`
/// (`bpf_object__new`): the file name's first 15 bytes, cut at the first
/// dot, so `bpf/timer_cancel.bpf.o` is `timer_cancel`. A byte that is not
/// ASCII becomes `_`, as it would in a map name.
pub fn object_name(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let base = path.file_name().map_or(&[][..], |b| b.as_bytes());
    let base = &base[..base.len().min(15)];
    let end = base.iter().position(|&b| b == b'.').unwrap_or(base.len());
    base[..end]
        .iter()
        .map(|&b| if b.is_ascii() { b as char } else { '_' })
        .collect()
}

/// The kernel's name (`map_name`) of a global-data map, by libbpf's rule
/// (`internal_map_name` in libbpf.c): as much of the object's name as fits
/// before the section's name, which keeps at least 7 bytes and at most 15
/// (`timer_ca.rodata`, `globals.bss`, `timer_c.kconfig`); a section with a
/// second dot (`.rodata.str1.1`, `.data.custom`) is named alone. What the
/// kernel refuses (anything but letters, digits, `_` and `.`) becomes `_`.
pub fn internal_map_name(object: &str, section: &str) -> [u8; 16] {
    let real = section.as_bytes();
    let sfx = real.len().clamp(7, 15);
    let pfx = match real.get(1..).is_some_and(|r| r.contains(&b'.')) {
        true => 0,
        false => (15 - sfx).min(object.len()),
    };
    let bytes = object.as_bytes()[..pfx]
        .iter()
        .chain(&real[..real.len().min(sfx)]);
    let mut out = [0u8; 16];
    for (slot, &b) in out.iter_mut().take(15).zip(bytes) {
        let ok = b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
        *slot = if ok { b } else { b'_' };
    }
    out
}

/// The VAR `name` in the DATASEC named `section`: (offset, size).
fn btf_global(btf: &Btf, section: &str, name: &str) -> Result<Option<(usize, usize)>> {
    let vars = datasec_globals(btf, section)?;
    Ok(vars
        .into_iter()
        .find(|(n, ..)| n == name)
        .map(|(_, offset, size)| (offset, size)))
}

/// Every VAR of the DATASEC named `section`: (name, offset, size); none
/// when the BTF has no such DATASEC.
fn datasec_globals(btf: &Btf, section: &str) -> Result<Vec<(String, usize, usize)>> {
    let Some(datasec) = btf.find(kind::DATASEC, section) else {
        return Ok(Vec::new());
    };
    btf.datasec_vars(datasec)?
        .into_iter()
        .map(|(var, offset, size)| {
            Ok((
                btf.type_name(var)?.to_string(),
                offset as usize,
                size as usize,
            ))
        })
        .collect()
}

fn not_a_global(name: &str) -> Error {
    Error::Map {
        map: name.to_string(),
        what: "no global variable of that name in .rodata, .data or .bss".into(),
    }
}

/// One spec per program, with its type from the section name and its
/// exception callback from its BTF.
fn program_specs(object: &Object<'_>, btf: Option<&Btf>) -> Result<Vec<ProgramSpec>> {
    let tags = btf
        .map(Btf::exception_tags)
        .transpose()?
        .unwrap_or_default();
    let mut specs = Vec::new();
    for &entry in &object.programs {
        let Some(func) = object.functions.get(entry) else {
            continue;
        };
        let section = &object.sections[func.section].name;
        let exception_cb = exception_callback(object, &tags, &func.name)?;
        specs.push(ProgramSpec {
            name: func.name.clone(),
            section: section.clone(),
            entry,
            kind: ProgKind::parse(section),
            autoload: section::autoload(section).1,
            exception_cb,
        });
    }
    Ok(specs)
}

/// The function (index into the object's) that program `prog` names as
/// its exception callback: a global, not hidden, function of `.text`, as
/// libbpf requires (the kernel wants the callback's BTF linkage global,
/// and a hidden one is made static: [`Btf::fix_hidden_funcs`]).
fn exception_callback(
    object: &Object<'_>,
    tags: &ExceptionTags,
    prog: &str,
) -> Result<Option<usize>> {
    let Some(name) = tags.of(prog)? else {
        return Ok(None);
    };
    let err = |what: String| Error::Program {
        program: prog.to_string(),
        what,
    };
    let found = object.functions.iter().position(|f| {
        f.name == name && object.sections[f.section].kind == crate::object::elf::SectionKind::Text
    });
    match found.map(|i| (i, &object.functions[i])) {
        Some((i, f)) if f.global && !f.hidden => Ok(Some(i)),
        Some(_) => Err(err(format!(
            "its exception callback '{name}' must be a global function that is not __hidden"
        ))),
        None => Err(err(format!(
            "its exception callback '{name}' (__exception_cb) is not a function of .text"
        ))),
    }
}

impl MapSpec<'_> {
    /// The map's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `BPF_MAP_TYPE_*`.
    pub fn map_type(&self) -> crate::uapi::MapType {
        crate::uapi::MapType(self.attr.map_type)
    }

    /// Key size in bytes.
    pub fn key_size(&self) -> u32 {
        self.attr.key_size
    }

    /// Value size in bytes.
    pub fn value_size(&self) -> u32 {
        self.attr.value_size
    }

    /// Maximum number of entries.
    pub fn max_entries(&self) -> u32 {
        self.attr.max_entries
    }

    /// The flags BPF_MAP_CREATE gets.
    pub fn flags(&self) -> MapFlags {
        MapFlags::from_bits_retain(self.attr.map_flags)
    }

    /// Whether it asks to be pinned by name (LIBBPF_PIN_BY_NAME).
    pub fn pin_by_name(&self) -> bool {
        self.pin_by_name
    }

    /// Creates the map with room for `entries` (libbpf's
    /// `bpf_map__set_max_entries`; a ring buffer's size is rounded up as
    /// in the plan, [`maps::ringbuf_size`]). Global-data maps hold exactly
    /// one value and refuse.
    pub fn set_max_entries(&mut self, entries: u32) -> Result<()> {
        if !matches!(self.source, MapSource::Defined { .. }) {
            return Err(Error::Map {
                map: self.name.clone(),
                what: "a global-data map holds exactly one value; its size is the section's".into(),
            });
        }
        self.attr.max_entries = if maps::is_ringbuf(self.attr.map_type) {
            maps::ringbuf_size(entries, crate::sys::page_size().try_into().unwrap_or(4096))
        } else {
            entries
        };
        Ok(())
    }

    /// Creates the map with `flags` (`BPF_F_*`) instead of the object's.
    pub fn set_flags(&mut self, flags: MapFlags) {
        self.attr.map_flags = flags.bits();
    }

    /// Pins the map by name (LIBBPF_PIN_BY_NAME) under
    /// [`LoadOptions::pin_maps`](crate::LoadOptions::pin_maps), or not.
    pub fn set_pin_by_name(&mut self, pin: bool) {
        self.pin_by_name = pin;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(object: &str, section: &str) -> String {
        let raw = internal_map_name(object, section);
        let len = raw.iter().position(|&b| b == 0).unwrap_or(16);
        String::from_utf8(raw[..len].to_vec()).unwrap()
    }

    /// The examples of libbpf's own comment on `internal_map_name`, and
    /// the objects of bpf/.
    #[test]
    fn data_maps_are_named_as_libbpf_names_them() {
        assert_eq!(name("my_object_name", ".rodata"), "my_objec.rodata");
        assert_eq!(name("my_object_name", ".bss"), "my_objec.bss");
        assert_eq!(name("my_object_name", ".kconfig"), "my_obje.kconfig");
        assert_eq!(
            name("my_object_name", ".rodata.abracadabra"),
            ".rodata.abracad"
        );
        assert_eq!(name("timer_cancel", ".rodata"), "timer_ca.rodata");
        assert_eq!(name("globals", ".data"), "globals.data");
        assert_eq!(name("globals", ".rodata.str1.1"), ".rodata.str1.1");
        assert_eq!(name("my-obj", ".data"), "my_obj.data");
        assert_eq!(name("", ".rodata"), ".rodata");
        assert_eq!(internal_map_name("timer_cancel", ".rodata")[15], 0);
    }

    #[test]
    fn object_names_are_file_names_as_libbpf_cuts_them() {
        let n = |p: &str| object_name(std::path::Path::new(p));
        assert_eq!(n("bpf/timer_cancel.bpf.o"), "timer_cancel");
        assert_eq!(n("/x/prog.o"), "prog");
        // 15 bytes first, then the dot: libbpf's strlcpy, then strchr.
        assert_eq!(n("a_very_long_object_name.bpf.o"), "a_very_long_obj");
        assert_eq!(n("noext"), "noext");
        assert_eq!(n("\u{e9}t\u{e9}.o"), "__t__");
    }
}
