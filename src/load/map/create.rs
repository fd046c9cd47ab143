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
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

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
/// Formatted only on failure: a load creates many maps.
pub(super) fn create_error<'a>(
    attr: &'a MapCreateAttr,
    name: &'a str,
) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| {
        let what = format!(
            "map '{}', type {}, key {} B, value {} B, {} entries",
            name,
            MapType(attr.map_type),
            attr.key_size,
            attr.value_size,
            attr.max_entries
        );
        Error::sys(Cmd::MapCreate, what)(source)
    }
}

/// A map of the object pinned by name (LIBBPF_PIN_BY_NAME): where, and
/// whether this load made the pin (else it reused the map pinned there).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ByNamePin {
    /// The map's name in the object.
    pub map: String,
    /// `ROOT/NAME`.
    pub path: PathBuf,
    /// This load pinned it; false: it reused the map already pinned there.
    pub made: bool,
    /// This load made ROOT.
    made_root: bool,
}

/// Creates the maps of `specs` (see `maps::create`), except that a map
/// asking for LIBBPF_PIN_BY_NAME reuses the map pinned at `ROOT/NAME` if
/// it is compatible (same type, key and value sizes, entries, flags and
/// map_extra, as libbpf's `map_is_reuse_compat`), and is otherwise created
/// and pinned there, as libbpf's `bpf_object__create_maps` does; an
/// incompatible one is an error naming the difference, never replaced.
/// ROOT is `root`, else the bpffs mount (libbpf's default `/sys/fs/bpf`,
/// found in /proc/self/mountinfo); a missing ROOT is made, mode 0700, as
/// libbpf makes it. A pin another loader made meanwhile (EEXIST) is
/// reused. On error the pins made here are removed again.
pub fn create_maps(
    specs: &[MapSpec<'_>],
    btf: Option<BorrowedFd<'_>>,
    root: Option<&Path>,
) -> Result<(Vec<Map>, Vec<ByNamePin>)> {
    if !specs.iter().any(|s| s.pin_by_name) {
        // The common case: the maps step exactly as without pins.
        return Ok((create(specs, btf)?, Vec::new()));
    }
    let (root, made_root) = pin_root(root)?;
    let mut pins = Vec::new();
    let result = pin_or_reuse(specs, btf, &root, &mut pins);
    for pin in &mut pins {
        pin.made_root = made_root;
    }
    if result.is_err() {
        unpin_made(&pins);
        if made_root {
            let _ = fs::remove_dir(&root);
        }
    }
    result.map(|maps| (maps, pins))
}

/// The maps, each by-name one reused from `root` or pinned there, noted
/// in `pins` as it is.
fn pin_or_reuse(
    specs: &[MapSpec<'_>],
    btf: Option<BorrowedFd<'_>>,
    root: &Path,
    pins: &mut Vec<ByNamePin>,
) -> Result<Vec<Map>> {
    let mut reused = Vec::new();
    let mut fresh = Vec::new();
    for spec in specs {
        let path = root.join(by_name_pin(&spec.name));
        if spec.pin_by_name && fs::symlink_metadata(&path).is_ok() {
            reused.push(reuse(spec, &path)?);
            pins.push(ByNamePin::new(spec, path, false));
        } else {
            fresh.push(spec);
        }
    }
    let owned: Vec<MapSpec<'_>> = fresh.iter().map(|s| (*s).clone()).collect();
    let mut maps = create(&owned, btf)?;
    for (map, spec) in maps.iter_mut().zip(fresh).filter(|(_, s)| s.pin_by_name) {
        let path = root.join(by_name_pin(&spec.name));
        let made = match bpffs::pin(map.fd(), &path) {
            Ok(()) => true,
            // Pinned by another loader since we looked: theirs is used.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                *map = reuse(spec, &path)?;
                false
            }
            Err(e) => return Err(e),
        };
        pins.push(ByNamePin::new(spec, path, made));
    }
    maps.extend(reused);
    Ok(maps)
}

impl ByNamePin {
    fn new(spec: &MapSpec<'_>, path: PathBuf, made: bool) -> ByNamePin {
        ByNamePin {
            map: spec.name.clone(),
            path,
            made,
            made_root: false,
        }
    }
}

/// Removes the pins in `pins` that were made (not reused), as libbpf's
/// `bpf_object_load` does when it fails after pinning, and the root if the
/// load made it and it is empty now.
pub fn unpin_made(pins: &[ByNamePin]) {
    for pin in pins.iter().filter(|p| p.made) {
        let _ = fs::remove_file(&pin.path);
    }
    if let Some(root) = pins.iter().find(|p| p.made_root) {
        let _ = fs::remove_dir(root.path.parent().unwrap_or(Path::new("")));
    }
}

/// Where maps are pinned by name: `given`, else the bpffs mount; made
/// (mode 0700) if missing, with whether it was; it must be on a bpffs.
fn pin_root(given: Option<&Path>) -> Result<(PathBuf, bool)> {
    let root = match given {
        Some(dir) => dir.to_path_buf(),
        None => crate::kernel::mounts::find_mount("bpf")?.ok_or_else(|| {
            Error::Env(
                "maps pinned by name (LIBBPF_PIN_BY_NAME) go under the bpffs mount, and none \
                 is mounted: mount one, or name a directory (LoadOptions::pin_maps, --pin-maps)"
                    .into(),
            )
        })?,
    };
    // Checked before anything is made: the root, or where it would go.
    let missing = fs::symlink_metadata(&root).is_err();
    let on = if missing {
        root.parent()
    } else {
        Some(root.as_path())
    };
    let on_bpffs = on
        .and_then(Path::to_str)
        .and_then(|p| sys::fs_type(p).ok())
        .is_some_and(|t| t == sys::BPF_FS_MAGIC);
    if !on_bpffs {
        return Err(Error::Env(format!(
            "{}: not in a bpf file system, where maps are pinned by name",
            root.display()
        )));
    }
    if !missing {
        return Ok((root, false));
    }
    match fs::DirBuilder::new().mode(0o700).create(&root) {
        Ok(()) => Ok((root, true)),
        // Made by another loader meanwhile.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok((root, false)),
        Err(e) => Err(Error::io(&root, e)),
    }
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
        ("type", u64::from(info.map_type), u64::from(a.map_type)),
        ("key size", u64::from(info.key_size), u64::from(a.key_size)),
        (
            "value size",
            u64::from(info.value_size),
            u64::from(a.value_size),
        ),
        (
            "max entries",
            u64::from(info.max_entries),
            u64::from(a.max_entries),
        ),
        ("flags", u64::from(info.map_flags), u64::from(a.map_flags)),
        ("map_extra", info.map_extra, a.map_extra),
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
