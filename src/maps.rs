//! Step 3: create the object's maps.
//!
//! Two sources of maps: definitions (`.maps` through BTF, or legacy
//! `struct bpf_map_def` in `maps`) and global data. Each `.rodata*`, `.data*`
//! and `.bss*` section becomes a one-entry ARRAY map whose single value is the
//! section's bytes (key 4 bytes, value = section size); programs reach a global
//! through a pointer into that value (BPF_PSEUDO_MAP_VALUE). `.rodata` is
//! created with BPF_F_RDONLY_PROG, written once and frozen (BPF_MAP_FREEZE), so
//! the verifier may treat its contents as constants.
//!
//! A map whose value holds `struct bpf_timer` must carry BTF: the kernel looks
//! the timer up in the value type given by `btf_value_type_id`
//! (`map_check_btf` in kernel/bpf/syscall.c).

use std::collections::BTreeMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::btf::{kind, Btf};
use crate::elf::{DataKind, Object, SectionKind};
use crate::error::{Error, Result};
use crate::sys::{self, MapCreateAttr, MapFlags};

/// `BPF_MAP_TYPE_ARRAY`.
pub const MAP_TYPE_ARRAY: u32 = 2;
/// `BPF_MAP_TYPE_SOCKMAP` (the selftest's sk_msg and sk_skb programs).
pub const MAP_TYPE_SOCKMAP: u32 = 15;

/// Where in the object a map comes from: what relocations point at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapSource {
    /// A definition at `offset` in `.maps` or `maps` (section index `section`).
    Defined { section: usize, offset: u64 },
    /// The global-data section with this index.
    Data { section: usize, kind: DataKind },
}

/// A map to create: the attr for BPF_MAP_CREATE and what to do after.
#[derive(Clone, Debug)]
pub struct MapSpec<'a> {
    pub name: String,
    pub source: MapSource,
    pub attr: MapCreateAttr,
    /// Written to key 0 after creation (the bytes of `.data`/`.rodata`).
    pub initial: Option<&'a [u8]>,
    /// Freeze after writing (`.rodata`).
    pub freeze: bool,
}

/// A map the kernel created for this object.
#[derive(Debug)]
pub struct Map {
    pub name: String,
    pub source: MapSource,
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: MapFlags,
    pub fd: OwnedFd,
}

fn map_err(map: &str, what: impl std::fmt::Display) -> Error {
    Error::Map {
        map: map.to_string(),
        what: what.to_string(),
    }
}

/// Plans every map of `obj` (pure: no kernel involved). `btf` is the fixed-up
/// object BTF, if there is one; `btf_fd` is written into the attrs later.
pub fn plan<'a>(obj: &Object<'a>, btf: Option<&Btf>) -> Result<Vec<MapSpec<'a>>> {
    let btf_defs = match btf {
        Some(btf) => btf.map_defs()?,
        None => Vec::new(),
    };
    let mut specs = Vec::new();
    for sym in &obj.maps {
        let section = &obj.sections[sym.section];
        let source = MapSource::Defined {
            section: sym.section,
            offset: sym.offset,
        };
        let mut attr = MapCreateAttr {
            map_name: sys::object_name(&sym.name),
            ..Default::default()
        };
        if section.kind == SectionKind::LegacyMaps {
            // struct bpf_map_def { type, key_size, value_size, max_entries, map_flags }
            let field = |i: usize| -> Result<u32> {
                let at = usize::try_from(sym.offset)
                    .ok()
                    .and_then(|o| o.checked_add(4 * i));
                at.and_then(|at| section.data.get(at..at.checked_add(4)?))
                    .filter(|_| sym.size >= 20)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .ok_or_else(|| {
                        map_err(
                            &sym.name,
                            "legacy definition in 'maps' is shorter than struct bpf_map_def",
                        )
                    })
            };
            attr.map_type = field(0)?;
            attr.key_size = field(1)?;
            attr.value_size = field(2)?;
            attr.max_entries = field(3)?;
            attr.map_flags = field(4)?;
        } else {
            let def = btf_defs.iter().find(|d| d.name == sym.name).ok_or_else(|| {
                map_err(
                    &sym.name,
                    if btf.is_none() {
                        "maps in '.maps' are defined through BTF, but the object has no .BTF (compile with clang -g)"
                    } else {
                        "no definition in the .maps DATASEC of .BTF"
                    },
                )
            })?;
            attr.map_type = def.map_type;
            attr.key_size = def.key_size;
            attr.value_size = def.value_size;
            attr.max_entries = def.max_entries;
            attr.map_flags = def.map_flags;
            attr.numa_node = def.numa_node;
            attr.btf_key_type_id = def.key_type_id;
            attr.btf_value_type_id = def.value_type_id;
        }
        specs.push(MapSpec {
            name: sym.name.clone(),
            source,
            attr,
            initial: None,
            freeze: false,
        });
    }

    // Each DATASEC's id by name (the first of a name wins, as in
    // `Btf::find`), found in one pass over the types instead of one pass per
    // data section, which was quadratic in the number of sections.
    let mut datasecs = BTreeMap::new();
    if let Some(btf) = btf {
        for id in (1..btf.len() as u32).rev() {
            let t = btf.get(id)?;
            if t.kind == kind::DATASEC {
                if let Ok(name) = btf.name(t.name_off) {
                    datasecs.insert(name, id);
                }
            }
        }
    }
    for (section, kind) in obj.data_sections() {
        let value_size = u32::try_from(section.size)
            .map_err(|_| map_err(&section.name, "section too large for a map value"))?;
        let mut attr = MapCreateAttr {
            map_type: MAP_TYPE_ARRAY,
            key_size: 4,
            value_size,
            max_entries: 1,
            map_name: sys::object_name(&section.name),
            ..Default::default()
        };
        if kind == DataKind::Rodata {
            attr.map_flags = MapFlags::RDONLY_PROG.bits();
        }
        // Keyless BTF (key id 0, value = the DATASEC) is what the kernel
        // accepts for global-data arrays (`array_map_check_btf`).
        if let Some(&id) = datasecs.get(section.name.as_str()) {
            attr.btf_value_type_id = id;
        }
        let has_bytes = kind != DataKind::Bss && section.data.iter().any(|&b| b != 0);
        specs.push(MapSpec {
            name: section.name.clone(),
            source: MapSource::Data {
                section: section.index,
                kind,
            },
            attr,
            // .rodata is always written, so it can always be frozen.
            initial: (has_bytes || kind == DataKind::Rodata).then_some(section.data),
            freeze: kind == DataKind::Rodata,
        });
    }
    Ok(specs)
}

/// Creates the planned maps, writes their initial values and freezes
/// `.rodata`. On error, maps created so far are closed (and so freed).
pub fn create(specs: &[MapSpec<'_>], btf_fd: Option<BorrowedFd<'_>>) -> Result<Vec<Map>> {
    let mut maps = Vec::with_capacity(specs.len());
    for spec in specs {
        let mut attr = spec.attr;
        match btf_fd {
            Some(btf) if attr.btf_key_type_id != 0 || attr.btf_value_type_id != 0 => {
                attr.btf_fd = std::os::fd::AsRawFd::as_raw_fd(&btf) as u32;
            }
            _ => {
                attr.btf_key_type_id = 0;
                attr.btf_value_type_id = 0;
            }
        }
        let fd = sys::map_create(&attr).map_err(|source| Error::Sys {
            call: "BPF_MAP_CREATE",
            what: format!(
                "map '{}', type {}, key {} B, value {} B, {} entries",
                spec.name, attr.map_type, attr.key_size, attr.value_size, attr.max_entries
            ),
            source,
        })?;
        let map = Map {
            name: spec.name.clone(),
            source: spec.source,
            map_type: attr.map_type,
            key_size: attr.key_size,
            value_size: attr.value_size,
            max_entries: attr.max_entries,
            flags: MapFlags::from_bits_retain(attr.map_flags),
            fd,
        };
        if let Some(bytes) = spec.initial {
            // .rodata's size may exceed its file bytes only for NOBITS, which
            // has no initial value; pad defensively all the same.
            let mut value = bytes.to_vec();
            value.resize(map.value_size as usize, 0);
            map.update(&0u32.to_ne_bytes(), &value)?;
        }
        if spec.freeze {
            sys::map_freeze(map.fd.as_fd()).map_err(|source| Error::Sys {
                call: "BPF_MAP_FREEZE",
                what: format!("map '{}'", map.name),
                source,
            })?;
        }
        maps.push(map);
    }
    Ok(maps)
}

impl Map {
    fn check(&self, what: &str, len: usize, want: u32) -> Result<()> {
        if len != want as usize {
            return Err(map_err(
                &self.name,
                format!("{what} is {len} bytes, the map's is {want}"),
            ));
        }
        Ok(())
    }

    fn sys_err(&self, call: &'static str, source: std::io::Error) -> Error {
        Error::Sys {
            call,
            what: format!("map '{}'", self.name),
            source,
        }
    }

    /// The value at `key`, or None if there is none.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check("key", key.len(), self.key_size)?;
        let mut value = vec![0u8; self.value_size as usize];
        match sys::map_lookup_elem(self.fd.as_fd(), key, &mut value) {
            Ok(()) => Ok(Some(value)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(self.sys_err("BPF_MAP_LOOKUP_ELEM", e)),
        }
    }

    /// Sets `key` to `value` (BPF_ANY).
    pub fn update(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.check("key", key.len(), self.key_size)?;
        self.check("value", value.len(), self.value_size)?;
        sys::map_update_elem(self.fd.as_fd(), key, value, sys::BPF_ANY)
            .map_err(|e| self.sys_err("BPF_MAP_UPDATE_ELEM", e))
    }

    /// Deletes `key`.
    pub fn delete(&self, key: &[u8]) -> Result<()> {
        self.check("key", key.len(), self.key_size)?;
        sys::map_delete_elem(self.fd.as_fd(), key)
            .map_err(|e| self.sys_err("BPF_MAP_DELETE_ELEM", e))
    }

    /// The kernel's view of the map.
    pub fn info(&self) -> Result<sys::MapInfo> {
        sys::map_info(self.fd.as_fd()).map_err(|e| self.sys_err("BPF_OBJ_GET_INFO_BY_FD", e))
    }
}
