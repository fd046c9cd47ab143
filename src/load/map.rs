//! Creating the planned maps, and the safe handle to a map.

use std::fs;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::error::{Error, Result};
use crate::kernel::bpffs::{self, by_name_pin, fd_kind};
use crate::kernel::cpus::possible_cpus;
use crate::object::maps::{map_err, MapSource, MapSpec, SlotTarget};
use crate::sys::{self, MapCreateAttr, MapFlags, MapMmap};
use crate::uapi::{Cmd, MapType};

/// A map the kernel created for this object.
#[derive(Debug)]
pub struct Map {
    /// The map's name as in the object (the kernel keeps 15 bytes of it).
    pub name: String,
    /// Where in the object it comes from.
    pub source: MapSource,
    /// `map_type` for BPF_MAP_CREATE.
    pub map_type: u32,
    /// `key_size` for BPF_MAP_CREATE.
    pub key_size: u32,
    /// `value_size` for BPF_MAP_CREATE.
    pub value_size: u32,
    /// `max_entries` for BPF_MAP_CREATE.
    pub max_entries: u32,
    /// The map's `map_flags`.
    pub flags: MapFlags,
    /// The map.
    pub fd: OwnedFd,
    /// Asked to be pinned by name (LIBBPF_PIN_BY_NAME).
    pub pin_by_name: bool,
}

/// Creates the planned maps, writes their initial values and freezes
/// `.rodata`. On error, maps created so far are closed (and so freed).
pub fn create(specs: &[MapSpec<'_>], btf_fd: Option<BorrowedFd<'_>>) -> Result<Vec<Map>> {
    let mut maps = Vec::with_capacity(specs.len());
    let mut cpus = None;
    for spec in specs {
        let mut attr = spec.attr;
        with_btf(&mut attr, btf_fd);
        if attr.map_type == MapType::PERF_EVENT_ARRAY.0 && attr.max_entries == 0 {
            if cpus.is_none() {
                cpus = Some(possible_cpus()?);
            }
            attr.max_entries = cpus.unwrap_or_default();
        }
        // The inner template lives only until the outer map exists.
        let template = match &spec.inner {
            Some(inner) => {
                let mut inner = *inner;
                with_btf(&mut inner, btf_fd);
                Some(create_one(&inner, &format!("{}.inner", spec.name))?)
            }
            None => None,
        };
        if let Some(t) = &template {
            attr.inner_map_fd = t.as_raw_fd() as u32;
        }
        let fd = create_one(&attr, &spec.name)?;
        drop(template);
        let map = Map {
            name: spec.name.clone(),
            source: spec.source,
            map_type: attr.map_type,
            key_size: attr.key_size,
            value_size: attr.value_size,
            max_entries: attr.max_entries,
            flags: MapFlags::from_bits_retain(attr.map_flags),
            fd,
            pin_by_name: spec.pin_by_name,
        };
        if let Some(bytes) = &spec.initial {
            // .rodata's size may exceed its file bytes only for NOBITS, which
            // has no initial value; pad defensively all the same.
            let mut value = bytes.to_vec();
            value.resize(map.value_size as usize, 0);
            map.update(&0u32.to_ne_bytes(), &value)?;
        }
        if spec.freeze {
            sys::map_freeze(map.fd.as_fd())
                .map_err(Error::sys(Cmd::MapFreeze, format!("map '{}'", map.name)))?;
        }
        maps.push(map);
    }
    // Maps of maps: every map exists now, so the slots can point anywhere.
    for (spec, map) in specs.iter().zip(&maps) {
        for slot in &spec.slots {
            if let SlotTarget::Map(target) = &slot.target {
                let inner = maps.iter().find(|m| &m.name == target).ok_or_else(|| {
                    map_err(
                        &spec.name,
                        format!("slot {} names unknown map '{target}'", slot.index),
                    )
                })?;
                map.update_fd(slot.index, inner.fd.as_fd())?;
            }
        }
    }
    Ok(maps)
}

/// Sets the attr's BTF fd when it has BTF type ids (and an fd to go with them).
fn with_btf(attr: &mut MapCreateAttr, btf_fd: Option<BorrowedFd<'_>>) {
    match btf_fd {
        Some(btf) if attr.btf_key_type_id != 0 || attr.btf_value_type_id != 0 => {
            attr.btf_fd = btf.as_raw_fd() as u32;
        }
        _ => {
            attr.btf_key_type_id = 0;
            attr.btf_value_type_id = 0;
        }
    }
}

fn create_one(attr: &MapCreateAttr, name: &str) -> Result<OwnedFd> {
    sys::map_create(attr).map_err(Error::sys(
        Cmd::MapCreate,
        format!(
            "map '{}', type {}, key {} B, value {} B, {} entries",
            name,
            MapType(attr.map_type),
            attr.key_size,
            attr.value_size,
            attr.max_entries
        ),
    ))
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

    fn what(&self) -> String {
        format!("map '{}'", self.name)
    }

    /// The value at `key`, or None if there is none.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check("key", key.len(), self.key_size)?;
        let mut value = vec![0u8; self.value_size as usize];
        match sys::map_lookup_elem(self.fd.as_fd(), key, &mut value) {
            Ok(()) => Ok(Some(value)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(Error::sys(Cmd::MapLookupElem, self.what())(e)),
        }
    }

    /// Sets `key` to `value` (BPF_ANY).
    pub fn update(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.check("key", key.len(), self.key_size)?;
        self.check("value", value.len(), self.value_size)?;
        sys::map_update_elem(self.fd.as_fd(), key, value, sys::BPF_ANY)
            .map_err(Error::sys(Cmd::MapUpdateElem, self.what()))
    }

    /// Deletes `key`.
    pub fn delete(&self, key: &[u8]) -> Result<()> {
        self.check("key", key.len(), self.key_size)?;
        sys::map_delete_elem(self.fd.as_fd(), key)
            .map_err(Error::sys(Cmd::MapDeleteElem, self.what()))
    }

    /// Puts the map or program `fd` into slot `index` of a map of maps or a
    /// program array (the kernel takes fds in, and hands ids out on lookup).
    pub fn update_fd(&self, index: u32, fd: BorrowedFd<'_>) -> Result<()> {
        let value = (fd.as_raw_fd() as u32).to_ne_bytes();
        let key = index.to_ne_bytes();
        let key = match self.key_size {
            4 => &key[..],
            k => {
                return Err(map_err(
                    &self.name,
                    format!("slot keys are 4-byte indexes, the map's key is {k} bytes"),
                ))
            }
        };
        self.update(key, &value)
    }

    /// Maps the values of a BPF_F_MMAPABLE map into memory (a data section
    /// with globals: `.data`, `.bss`, `.rodata`), read-only unless
    /// `writable`. A frozen map such as `.rodata` maps only read-only.
    pub fn mmap(&self, writable: bool) -> Result<MapMmap> {
        if !self.flags.contains(MapFlags::MMAPABLE) {
            return Err(map_err(
                &self.name,
                "the map was not created BPF_F_MMAPABLE",
            ));
        }
        let len = (self.value_size as usize)
            .checked_next_multiple_of(8)
            .and_then(|v| v.checked_mul(self.max_entries as usize))
            .ok_or_else(|| map_err(&self.name, "too large to map"))?;
        sys::mmap_map(self.fd.as_fd(), len, writable)
            .map_err(|e| Error::os(format!("mmap of {}", self.what()), e))
    }

    /// The kernel's view of the map.
    pub fn info(&self) -> Result<sys::MapInfo> {
        sys::map_info(self.fd.as_fd()).map_err(Error::sys(Cmd::ObjGetInfoByFd, self.what()))
    }
}

/// Creates the maps of `specs` (see `maps::create`), except that a map
/// asking for LIBBPF_PIN_BY_NAME whose pin `DIR/NAME` exists reuses the
/// pinned map, if it is compatible: same type, key and value sizes,
/// entries and flags, as libbpf requires. An incompatible one is an error
/// naming the difference, never silently replaced.
pub fn create_maps(
    specs: &[MapSpec<'_>],
    btf: Option<BorrowedFd<'_>>,
    dir: Option<&Path>,
) -> Result<Vec<Map>> {
    let mut reused = Vec::new();
    let mut fresh = Vec::new();
    for spec in specs {
        if let (true, Some(dir)) = (spec.pin_by_name, dir) {
            let path = dir.join(by_name_pin(&spec.name));
            if fs::symlink_metadata(&path).is_ok() {
                reused.push(reuse(spec, &path)?);
                continue;
            }
        }
        fresh.push(spec.clone());
    }
    if reused.is_empty() {
        // The common case: the maps step exactly as without pins.
        return crate::load::map::create(specs, btf);
    }
    let mut maps = crate::load::map::create(&fresh, btf)?;
    maps.extend(reused);
    Ok(maps)
}

fn reuse(spec: &MapSpec<'_>, path: &Path) -> Result<Map> {
    let bad = |what: String| Error::Map {
        map: spec.name.clone(),
        what: format!("{} (LIBBPF_PIN_BY_NAME): {what}", path.display()),
    };
    let fd = bpffs::open_pinned(path)?;
    let kind = fd_kind(fd.as_fd())?;
    if kind != bpffs::MAP_INODE {
        return Err(bad(format!("it is {kind}, not a map")));
    }
    let info = sys::map_info(fd.as_fd()).map_err(|e| bad(e.to_string()))?;
    let a = &spec.attr;
    let mut diff = Vec::new();
    for (what, pinned, wanted) in [
        ("type", info.map_type, a.map_type),
        ("key size", info.key_size, a.key_size),
        ("value size", info.value_size, a.value_size),
        ("max entries", info.max_entries, a.max_entries),
        ("flags", info.map_flags, a.map_flags),
    ] {
        if pinned != wanted {
            diff.push(format!("{what} {pinned}, the object's {wanted}"));
        }
    }
    if !diff.is_empty() {
        return Err(bad(format!(
            "the pinned map is incompatible: {}; remove the pin or rename the map",
            diff.join(", ")
        )));
    }
    Ok(Map {
        name: spec.name.clone(),
        source: spec.source,
        map_type: info.map_type,
        key_size: info.key_size,
        value_size: info.value_size,
        max_entries: info.max_entries,
        flags: sys::MapFlags::from_bits_retain(info.map_flags),
        fd,
        pin_by_name: true,
    })
}
