//! Creating an object's planned maps (BPF_MAP_CREATE), or reusing maps
//! pinned by name; then their initial values, `.rodata`'s freeze, and the
//! slots of maps of maps.
//!
//! The kernel keeps the type and sizes of the create attr as they are
//! (`bpf_map_init_from_attr` in kernel/bpf/syscall.c), so a created map
//! knows them without asking; a reused pin is asked (OBJ_GET_INFO_BY_FD)
//! and must match the object's definition, as libbpf requires
//! (`map_is_reuse_compat`). A map of maps takes an inner map's fd only
//! while it is created (`bpf_map_meta_alloc` copies what it needs), so the
//! inner template is closed right after.

use std::fs;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;

use super::{Map, UpdateFlags};
use crate::error::{Error, Result};
use crate::kernel::bpffs::{self, by_name_pin, fd_kind};
use crate::kernel::cpus::possible_cpus;
use crate::object::maps::{map_err, MapSpec, SlotTarget};
use crate::sys::{self, MapCreateAttr, SizedMap};
use crate::uapi::{Cmd, MapType};

/// Creates the planned maps, writes their initial values and freezes
/// `.rodata`. On error, maps created so far are closed (and so freed).
pub fn create(specs: &[MapSpec<'_>], btf_fd: Option<BorrowedFd<'_>>) -> Result<Vec<Map>> {
    let mut maps = Vec::with_capacity(specs.len());
    for spec in specs {
        let mut attr = spec.attr;
        with_btf(&mut attr, btf_fd);
        if attr.map_type == MapType::PERF_EVENT_ARRAY.0 && attr.max_entries == 0 {
            attr.max_entries = possible_cpus()?;
        }
        // The inner template lives only until the outer map exists.
        let template = match &spec.inner {
            Some(inner) => {
                let mut inner = *inner;
                with_btf(&mut inner, btf_fd);
                let name = format!("{}.inner", spec.name);
                Some(sys::map_create(&inner).map_err(create_error(&inner, &name))?)
            }
            None => None,
        };
        if let Some(t) = &template {
            attr.inner_map_fd = t.as_raw_fd() as u32;
        }
        let sized = SizedMap::create(&attr).map_err(create_error(&attr, &spec.name))?;
        drop(template);
        let map = Map::new(
            spec.name.clone(),
            Some(spec.source),
            spec.pin_by_name,
            sized,
        );
        if let Some(bytes) = &spec.initial {
            // .rodata's size may exceed its file bytes only for NOBITS, which
            // has no initial value; pad defensively all the same.
            let mut value = bytes.to_vec();
            value.resize(map.value_size() as usize, 0);
            map.update(&0u32.to_ne_bytes(), &value, UpdateFlags::Any)?;
        }
        if spec.freeze {
            sys::map_freeze(map.fd())
                .map_err(Error::sys(Cmd::MapFreeze, format!("map '{}'", map.name)))?;
        }
        maps.push(map);
    }
    fill_map_slots(specs, &maps)?;
    Ok(maps)
}

/// Maps of maps: every map exists now, so the slots can point anywhere.
fn fill_map_slots(specs: &[MapSpec<'_>], maps: &[Map]) -> Result<()> {
    for (spec, map) in specs.iter().zip(maps) {
        for slot in &spec.slots {
            if let SlotTarget::Map(target) = &slot.target {
                let inner = maps.iter().find(|m| &m.name == target).ok_or_else(|| {
                    map_err(
                        &spec.name,
                        format!("slot {} names unknown map '{target}'", slot.index),
                    )
                })?;
                map.update_fd(slot.index, inner.fd())?;
            }
        }
    }
    Ok(())
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

/// A failed BPF_MAP_CREATE, naming the map and what was asked.
pub(super) fn create_error(
    attr: &MapCreateAttr,
    name: &str,
) -> impl FnOnce(std::io::Error) -> Error {
    Error::sys(
        Cmd::MapCreate,
        format!(
            "map '{}', type {}, key {} B, value {} B, {} entries",
            name,
            MapType(attr.map_type),
            attr.key_size,
            attr.value_size,
            attr.max_entries
        ),
    )
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
        return create(specs, btf);
    }
    let mut maps = create(&fresh, btf)?;
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
    let (sized, info) = SizedMap::from_fd(fd).map_err(|e| bad(e.to_string()))?;
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
    Ok(Map::new(spec.name.clone(), Some(spec.source), true, sized))
}
