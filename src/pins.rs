//! Pin directories: what `run --pin` leaves behind, and how `detach` finds
//! exactly that again and nothing else.
//!
//! A pin keeps a kernel object alive after the process ends (BPF_OBJ_PIN
//! makes a file for it in a bpf file system). rawbpf runs as root on paths it
//! is given, so every path is checked for what it resolves to, not for how it
//! is spelled: a pin directory is a real directory on a bpffs (statfs says
//! `BPF_FS_MAGIC`), never the mount's root, reached without `..`.
//!
//! Beside its pins `run` pins a record, a small ARRAY map named
//! `rawbpf_run`: which names it created and of what kind, and the cgroup its
//! legacy attachments are attached to (path and id). `detach` acts on the
//! entries the record names, each only if it is a bpf object of the kind the
//! record says, and leaves anything else alone, saying so. Legacy
//! attachments need no `--cgroup`: the record says where they are, and a
//! `--cgroup` that names another cgroup is refused before anything changes.

use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use crate::cgroup::{self, Attachment, Cgroup};
use crate::error::{Error, Result};
use crate::loader::Loaded;
use crate::maps::{Map, MapSpec};
use crate::sys::{self, MapCreateAttr};
use crate::uapi::Cmd;

/// The record's pin name.
pub const RECORD: &str = "rawbpf_run";
const RECORD_MAGIC: &[u8; 8] = b"RAWBPF01";
/// One record entry: 16 bytes of fixed fields, then a name or path.
const ENTRY_SIZE: usize = 512;
const TEXT_MAX: usize = ENTRY_SIZE - 16;
/// The largest record `detach` reads (2,048 entries): a hostile pin cannot
/// make it allocate more.
const RECORD_MAX: usize = 2048 * ENTRY_SIZE;

/// What a pin of the record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum PinKind {
    /// A BPF link (`link_NAME`): unpinning and BPF_LINK_DETACH detach it.
    Link = 1,
    /// A program attached with BPF_PROG_ATTACH to the recorded cgroup.
    Legacy = 2,
    /// A map (`map_NAME`).
    Map = 3,
    /// A program loaded but not attached (`prog_NAME`).
    Program = 4,
    /// A map pinned by name (`NAME`, LIBBPF_PIN_BY_NAME): shared with
    /// other loaders, so `detach` leaves it.
    ByName = 5,
}

impl PinKind {
    fn from_u32(v: u32) -> Option<PinKind> {
        Some(match v {
            1 => PinKind::Link,
            2 => PinKind::Legacy,
            3 => PinKind::Map,
            4 => PinKind::Program,
            5 => PinKind::ByName,
            _ => return None,
        })
    }

    /// The anon-inode name the kernel gives such an fd (`/proc/self/fd`).
    fn inode_name(self) -> &'static str {
        match self {
            PinKind::Link => "anon_inode:bpf-link",
            PinKind::Legacy | PinKind::Program => "anon_inode:bpf-prog",
            PinKind::Map | PinKind::ByName => "anon_inode:bpf-map",
        }
    }
}

/// A checked pin directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinDir {
    /// The resolved path (symlinks followed, no `.` or `..`).
    pub path: PathBuf,
    /// Whether it exists already.
    pub exists: bool,
}

fn refuse(what: String) -> Error {
    Error::Env(what)
}

fn is_bpffs(path: &Path) -> Result<bool> {
    let s = path
        .to_str()
        .ok_or_else(|| refuse(format!("path {} is not UTF-8", path.display())))?;
    sys::fs_type(s)
        .map(|t| t == sys::BPF_FS_MAGIC)
        .map_err(|e| Error::io(path, e))
}

/// Checks a `--pin` argument. A relative path is taken under the bpffs
/// mount. The result is a directory on a bpffs that is not the mount's root
/// (or, if it does not exist yet, a name whose parent directory is on a
/// bpffs). Nothing is created.
pub fn resolve_pin_dir(arg: &str, root: impl FnOnce() -> Result<PathBuf>) -> Result<PinDir> {
    if arg.is_empty() {
        return Err(refuse(
            "the pin directory is empty: give a directory inside a bpf file system".into(),
        ));
    }
    let given = Path::new(arg);
    if given.components().any(|c| c == Component::ParentDir) {
        return Err(refuse(format!(
            "pin directory {arg}: '..' is not allowed in a pin directory"
        )));
    }
    let path = if given.is_absolute() {
        given.to_path_buf()
    } else {
        root()?.join(given)
    };
    let resolved = match fs::canonicalize(&path) {
        Ok(resolved) => {
            let meta = fs::metadata(&resolved).map_err(|e| Error::io(&resolved, e))?;
            if !meta.is_dir() {
                return Err(refuse(format!(
                    "pin directory {}: {} is not a directory",
                    arg,
                    resolved.display()
                )));
            }
            PinDir {
                path: resolved,
                exists: true,
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (Some(parent), Some(Component::Normal(name))) =
                (path.parent(), path.components().next_back())
            else {
                return Err(refuse(format!("pin directory {arg} has no name")));
            };
            let parent = fs::canonicalize(parent).map_err(|e| {
                refuse(format!(
                    "pin directory {arg}: its parent {} is not usable: {e}",
                    parent.display()
                ))
            })?;
            PinDir {
                path: parent.join(name),
                exists: false,
            }
        }
        Err(e) => return Err(Error::io(&path, e)),
    };
    // The file system the directory (or its parent) is really on.
    let on = if resolved.exists {
        resolved.path.clone()
    } else {
        resolved
            .path
            .parent()
            .unwrap_or(Path::new("/"))
            .to_path_buf()
    };
    if !is_bpffs(&on)? {
        return Err(refuse(format!(
            "pin directory {arg}: {} is not on a bpf file system (statfs: not BPF_FS_MAGIC)",
            on.display()
        )));
    }
    if resolved.exists && is_mount_root(&resolved.path)? {
        return Err(refuse(format!(
            "pin directory {arg}: {} is the root of a bpf file system; use a directory inside it",
            resolved.path.display()
        )));
    }
    Ok(resolved)
}

/// Whether `dir` is the root of its mount: its parent is on another device
/// (or it is `/`).
fn is_mount_root(dir: &Path) -> Result<bool> {
    let Some(parent) = dir.parent() else {
        return Ok(true);
    };
    let dev = |p: &Path| {
        fs::metadata(p)
            .map(|m| m.dev())
            .map_err(|e| Error::io(p, e))
    };
    Ok(dev(dir)? != dev(parent)?)
}

/// The pin names `run` creates for `loaded` with these attachments.
/// `maps` are (name, pinned by name).
pub fn planned_names(
    maps: &[(String, bool)],
    attached: &[(String, bool)],
    unattached: &[String],
) -> Vec<(String, PinKind)> {
    let mut out: Vec<(String, PinKind)> = maps
        .iter()
        .map(|(m, by_name)| match by_name {
            true => (by_name_pin(m), PinKind::ByName),
            false => (cgroup::pin_name(cgroup::MAP_PREFIX, m), PinKind::Map),
        })
        .collect();
    for (prog, link) in attached {
        out.push(if *link {
            (cgroup::pin_name(cgroup::LINK_PREFIX, prog), PinKind::Link)
        } else {
            (cgroup::pin_name(cgroup::PROG_PREFIX, prog), PinKind::Legacy)
        });
    }
    for prog in unattached {
        out.push((
            cgroup::pin_name(cgroup::PROG_PREFIX, prog),
            PinKind::Program,
        ));
    }
    out
}

/// Refuses, before anything is loaded, a pin directory that already holds
/// a rawbpf record or any of the names `run` would create.
pub fn check_free(dir: &PinDir, names: &[(String, PinKind)]) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for (name, _) in names {
        // NAME_MAX, which bpffs enforces; the record holds the same.
        if name.len() > 255 {
            return Err(refuse(format!(
                "cannot pin {}...: a pin name is at most 255 bytes",
                &name[..name.char_indices().nth(40).map_or(name.len(), |(i, _)| i)]
            )));
        }
        if !seen.insert(name) {
            return Err(refuse(format!(
                "two objects would be pinned as {name} (their names differ only in characters bpffs does not allow)"
            )));
        }
    }
    if !dir.exists {
        return Ok(());
    }
    // A pin by name may exist: it is reused (or refused if incompatible).
    let made_here = names.iter().filter(|(_, k)| *k != PinKind::ByName);
    for name in std::iter::once(RECORD).chain(made_here.map(|(n, _)| n.as_str())) {
        let p = dir.path.join(name);
        if fs::symlink_metadata(&p).is_ok() {
            return Err(refuse(format!(
                "{} exists already: detach what is pinned there first, or choose another --pin directory",
                p.display()
            )));
        }
    }
    Ok(())
}

/// Refuses, before anything is loaded, a cgroup path too long for the record.
pub fn check_cgroup_path(path: &Path) -> Result<()> {
    if path.as_os_str().len() > TEXT_MAX {
        return Err(refuse(format!(
            "the cgroup path {} is longer than {TEXT_MAX} bytes, more than rawbpf's pin record holds",
            path.display()
        )));
    }
    Ok(())
}

/// What `run` did to a cgroup, for the record.
pub struct CgroupRecord<'a> {
    /// The cgroup the programs were attached to.
    pub cgroup: &'a Cgroup,
    /// `run` created the directory (the default `rawbpf` cgroup): `detach`
    /// removes it again when it is empty.
    pub created: bool,
}

fn put_entry(kind: u32, attach_type: u32, extra: u64, text: &str) -> Result<Vec<u8>> {
    if text.len() > TEXT_MAX {
        return Err(refuse(format!(
            "{text}: longer than {TEXT_MAX} bytes, too long for rawbpf's pin record"
        )));
    }
    let mut v = vec![0u8; ENTRY_SIZE];
    v[0..4].copy_from_slice(&kind.to_le_bytes());
    v[4..8].copy_from_slice(&attach_type.to_le_bytes());
    v[8..16].copy_from_slice(&extra.to_le_bytes());
    v[16..16 + text.len()].copy_from_slice(text.as_bytes());
    Ok(v)
}

fn entry_text(v: &[u8]) -> String {
    let t = &v[16..];
    let len = t.iter().position(|&b| b == 0).unwrap_or(t.len());
    String::from_utf8_lossy(&t[..len]).into_owned()
}

fn u32_le(v: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([v[at], v[at + 1], v[at + 2], v[at + 3]])
}

fn u64_le(v: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&v[at..at + 8]);
    u64::from_le_bytes(b)
}

/// The cgroup id of a cgroup v2 directory: its inode number.
pub fn cgroup_id(path: &Path) -> Result<u64> {
    fs::metadata(path)
        .map(|m| m.ino())
        .map_err(|e| Error::io(path, e))
}

/// One pin made by [`pin_run`], removed again if a later step fails.
struct Made(PathBuf);

/// Pins everything `run --pin` leaves behind: the maps, each attachment
/// (the link, or the program of a legacy attachment), each program loaded
/// but not attached, and the record. All or nothing: on any failure every
/// pin made here is removed again (and the directory, if made here), and
/// the caller's attachments, still owned by it, detach when dropped. On
/// success the attachments are released to their pins.
pub fn pin_run(
    dir: &PinDir,
    loaded: &Loaded,
    attachments: Vec<Attachment>,
    cgroup: Option<CgroupRecord<'_>>,
) -> Result<()> {
    let mut made: Vec<Made> = Vec::new();
    let created_dir = !dir.exists;
    if created_dir {
        fs::create_dir(&dir.path).map_err(|e| Error::io(&dir.path, e))?;
    }
    let result = pin_everything(dir, loaded, &attachments, cgroup, &mut made);
    match result {
        Ok(()) => {
            for a in attachments {
                a.keep();
            }
            Ok(())
        }
        Err(e) => {
            for Made(p) in made.iter().rev() {
                let _ = fs::remove_file(p);
            }
            if created_dir {
                let _ = fs::remove_dir(&dir.path);
            }
            Err(e)
        }
    }
}

fn pin_everything(
    dir: &PinDir,
    loaded: &Loaded,
    attachments: &[Attachment],
    cgroup: Option<CgroupRecord<'_>>,
    made: &mut Vec<Made>,
) -> Result<()> {
    let mut pin = |fd: BorrowedFd<'_>, name: &str| -> Result<()> {
        let path = dir.path.join(name);
        cgroup::pin(fd, &path)?;
        made.push(Made(path));
        Ok(())
    };
    let mut entries = Vec::new();
    let attached: Vec<&str> = attachments.iter().map(|a| a.program.as_str()).collect();
    for map in &loaded.maps {
        if map.pin_by_name {
            let name = by_name_pin(&map.name);
            entries.push(put_entry(PinKind::ByName as u32, 0, 0, &name)?);
            if !is_pinned_here(&dir.path.join(&name), map.fd.as_fd())? {
                pin(map.fd.as_fd(), &name)?;
            }
            continue;
        }
        let name = cgroup::pin_name(cgroup::MAP_PREFIX, &map.name);
        entries.push(put_entry(PinKind::Map as u32, 0, 0, &name)?);
        pin(map.fd.as_fd(), &name)?;
    }
    for a in attachments {
        let (kind, name, fd) = match (a.link(), a.program_fd()) {
            (Some(link), _) => (
                PinKind::Link,
                cgroup::pin_name(cgroup::LINK_PREFIX, &a.program),
                link,
            ),
            (None, Some(prog)) => (
                PinKind::Legacy,
                cgroup::pin_name(cgroup::PROG_PREFIX, &a.program),
                prog,
            ),
            (None, None) => continue,
        };
        entries.push(put_entry(kind as u32, a.attach_type, 0, &name)?);
        pin(fd, &name)?;
    }
    for p in loaded
        .programs
        .iter()
        .filter(|p| !attached.contains(&p.name.as_str()))
    {
        let name = cgroup::pin_name(cgroup::PROG_PREFIX, &p.name);
        entries.push(put_entry(PinKind::Program as u32, 0, 0, &name)?);
        pin(p.fd.as_fd(), &name)?;
    }
    // Entry 0: magic, flags, the cgroup's id and path.
    let (flags, id, path) = match &cgroup {
        Some(c) => (
            u32::from(c.created),
            cgroup_id(c.cgroup.path())?,
            c.cgroup.path().display().to_string(),
        ),
        None => (0, 0, String::new()),
    };
    let mut head = put_entry(0, 0, 0, &path)?;
    head[0..8].copy_from_slice(RECORD_MAGIC);
    head[8..12].copy_from_slice(&flags.to_le_bytes());
    head[12..16].copy_from_slice(&(entries.len() as u32).to_le_bytes());
    // Entry 0: magic, flags, count and the cgroup's path; entry 1: its id;
    // from entry 2 on, one per pin.
    let idrec = put_entry(0, 0, id, "")?;
    // One value holding every entry: one BPF_MAP_UPDATE_ELEM for the record.
    let all: Vec<u8> = [head, idrec].into_iter().chain(entries).flatten().collect();
    if all.len() > RECORD_MAX {
        return Err(refuse(format!(
            "{} pins are more than rawbpf's record holds ({})",
            all.len() / ENTRY_SIZE - 2,
            RECORD_MAX / ENTRY_SIZE - 2
        )));
    }
    let record = create_record(all.len() as u32)?;
    sys::map_update_elem(record.as_fd(), &0u32.to_ne_bytes(), &all, sys::BPF_ANY).map_err(
        |source| Error::Sys {
            cmd: Cmd::MapUpdateElem,
            what: "rawbpf's pin record".into(),
            source,
        },
    )?;
    pin(record.as_fd(), RECORD)
}

/// The record: a one-entry ARRAY whose value is `value_size` bytes of
/// ENTRY_SIZE-byte entries.
fn create_record(value_size: u32) -> Result<OwnedFd> {
    let attr = MapCreateAttr {
        map_type: crate::maps::MAP_TYPE_ARRAY,
        key_size: 4,
        value_size,
        max_entries: 1,
        map_name: sys::object_name(RECORD),
        ..Default::default()
    };
    sys::map_create(&attr).map_err(|source| Error::Sys {
        cmd: Cmd::MapCreate,
        what: "rawbpf's pin record".into(),
        source,
    })
}

/// The pin name of a map pinned by name: the map's name, as libbpf does
/// (characters bpffs refuses become `_`).
pub fn by_name_pin(map: &str) -> String {
    cgroup::pin_name("", map)
}

/// Whether `path` is a pin of the very map `fd` refers to (same id).
fn is_pinned_here(path: &Path, fd: BorrowedFd<'_>) -> Result<bool> {
    if fs::symlink_metadata(path).is_err() {
        return Ok(false);
    }
    let pinned = cgroup::open_pinned(path)?;
    let id = |fd: BorrowedFd<'_>| {
        sys::map_info(fd)
            .map(|i| i.id)
            .map_err(|source| Error::Sys {
                cmd: Cmd::ObjGetInfoByFd,
                what: path.display().to_string(),
                source,
            })
    };
    Ok(id(pinned.as_fd())? == id(fd)?)
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
        return crate::maps::create(specs, btf);
    }
    let mut maps = crate::maps::create(&fresh, btf)?;
    maps.extend(reused);
    Ok(maps)
}

fn reuse(spec: &MapSpec<'_>, path: &Path) -> Result<Map> {
    let bad = |what: String| Error::Map {
        map: spec.name.clone(),
        what: format!("{} (LIBBPF_PIN_BY_NAME): {what}", path.display()),
    };
    let fd = cgroup::open_pinned(path)?;
    let kind = fd_kind(fd.as_fd())?;
    if kind != PinKind::Map.inode_name() {
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

/// What a `run --pin` record says.
#[derive(Debug)]
pub struct Record {
    /// `run` created the cgroup: `detach` removes it when it is empty.
    pub cgroup_created: bool,
    /// The cgroup's path at `run` time; empty when there was none.
    pub cgroup_path: String,
    /// The cgroup's id (its inode number); 0 when there was none.
    pub cgroup_id: u64,
    /// (pin name, kind, attach type)
    pub pins: Vec<(String, PinKind, u32)>,
}

/// What kind of bpf object `fd` is, from its anon-inode name.
fn fd_kind(fd: BorrowedFd<'_>) -> Result<String> {
    let link = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
    fs::read_link(&link)
        .map(|p| p.display().to_string())
        .map_err(|e| {
            refuse(format!(
                "cannot tell what kind of bpf object it is ({link}: {e}; is /proc mounted?)"
            ))
        })
}

/// Reads the record of `dir`; an error if there is none or it is not one.
pub fn read_record(dir: &Path) -> Result<Record> {
    let path = dir.join(RECORD);
    let not_ours = |why: String| {
        refuse(format!(
            "{}: {why}; it was not made by `rawbpf run --pin`, so nothing was touched",
            dir.display()
        ))
    };
    if fs::symlink_metadata(&path).is_err() {
        return Err(not_ours(format!("there is no {RECORD} record")));
    }
    let fd = cgroup::open_pinned(&path).map_err(|e| not_ours(format!("{RECORD}: {e}")))?;
    if fd_kind(fd.as_fd())? != PinKind::Map.inode_name() {
        return Err(not_ours(format!("{RECORD} is not a map")));
    }
    let info = sys::map_info(fd.as_fd()).map_err(|e| not_ours(format!("{RECORD}: {e}")))?;
    let size = info.value_size as usize;
    if info.map_type != crate::maps::MAP_TYPE_ARRAY
        || info.key_size != 4
        || info.max_entries != 1
        || size % ENTRY_SIZE != 0
        || !(2 * ENTRY_SIZE..=RECORD_MAX).contains(&size)
    {
        return Err(not_ours(format!("{RECORD} is not rawbpf's record")));
    }
    let mut value = vec![0u8; size];
    sys::map_lookup_elem(fd.as_fd(), &0u32.to_ne_bytes(), &mut value).map_err(|source| {
        Error::Sys {
            cmd: Cmd::MapLookupElem,
            what: path.display().to_string(),
            source,
        }
    })?;
    let entries: Vec<&[u8]> = value.chunks_exact(ENTRY_SIZE).collect();
    let get = |i: u32| -> Result<Vec<u8>> {
        entries
            .get(i as usize)
            .map(|e| e.to_vec())
            .ok_or_else(|| not_ours(format!("{RECORD} is damaged")))
    };
    let head = get(0)?;
    if &head[..8] != RECORD_MAGIC {
        return Err(not_ours(format!("{RECORD} is not rawbpf's record")));
    }
    let flags = u32_le(&head, 8);
    let count = u32_le(&head, 12);
    if count as usize > entries.len() - 2 {
        return Err(not_ours(format!("{RECORD} is damaged")));
    }
    let id = u64_le(&get(1)?, 8);
    let mut pins = Vec::new();
    for i in 0..count {
        let v = get(i + 2)?;
        let kind = PinKind::from_u32(u32_le(&v, 0))
            .ok_or_else(|| not_ours(format!("{RECORD} entry {i} has an unknown kind")))?;
        let name = entry_text(&v);
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(not_ours(format!("{RECORD} entry {i} has a bad name")));
        }
        pins.push((name, kind, u32_le(&v, 4)));
    }
    Ok(Record {
        cgroup_created: flags & 1 != 0,
        cgroup_path: entry_text(&head),
        cgroup_id: id,
        pins,
    })
}

/// What `detach` did, one line per thing worth telling.
#[derive(Debug, Default)]
pub struct DetachReport {
    /// How many links and legacy attachments were detached.
    pub detached: usize,
    /// What was already gone, left alone, kept or removed.
    pub notes: Vec<String>,
}

/// Undoes `run --pin`: detaches and unpins what the record names, then the
/// record, then the directory if nothing else is in it, then the cgroup if
/// `run` created it and it is empty. `cgroup_arg` (`--cgroup`) is checked
/// against the record and refused if it names another cgroup.
pub fn detach(dir: &PinDir, cgroup_arg: Option<&Cgroup>) -> Result<DetachReport> {
    if !dir.exists {
        return Err(refuse(format!(
            "pin directory {} does not exist",
            dir.path.display()
        )));
    }
    let record = read_record(&dir.path)?;
    let mut report = DetachReport::default();
    let needs_cgroup = record.pins.iter().any(|(_, k, _)| *k == PinKind::Legacy);
    // The cgroup of the legacy attachments, checked before anything changes.
    let recorded = Path::new(&record.cgroup_path);
    let own;
    let cgroup: Option<&Cgroup> = match cgroup_arg {
        Some(cg) => {
            let id = cgroup_id(cg.path())?;
            if record.cgroup_id != 0 && id != record.cgroup_id {
                return Err(refuse(format!(
                    "--cgroup {} is not the cgroup these programs were attached to ({}, cgroup id {}); nothing was touched",
                    cg.path().display(),
                    record.cgroup_path,
                    record.cgroup_id
                )));
            }
            Some(cg)
        }
        None if needs_cgroup => match Cgroup::open(recorded) {
            Ok(cg) if cgroup_id(cg.path()).ok() == Some(record.cgroup_id) => {
                own = cg;
                Some(&own)
            }
            // Moved or removed: find it by its id.
            _ => match Cgroup::by_id(record.cgroup_id)? {
                Some(cg) => {
                    report.notes.push(format!(
                        "the cgroup {} is now at {}",
                        record.cgroup_path,
                        cg.path().display()
                    ));
                    own = cg;
                    Some(&own)
                }
                None => {
                    report.notes.push(format!(
                        "the cgroup {} (id {}) is gone, and its programs were detached with it",
                        record.cgroup_path, record.cgroup_id
                    ));
                    None
                }
            },
        },
        None => None,
    };

    for (name, kind, attach_type) in &record.pins {
        let path = dir.path.join(name);
        if fs::symlink_metadata(&path).is_err() {
            report
                .notes
                .push(format!("{}: already gone", path.display()));
            continue;
        }
        let fd = match cgroup::open_pinned(&path) {
            Ok(fd) => fd,
            Err(e) => {
                report.notes.push(format!(
                    "{}: left alone: not a bpf object ({e})",
                    path.display()
                ));
                continue;
            }
        };
        let is = fd_kind(fd.as_fd())?;
        if is != kind.inode_name() {
            report.notes.push(format!(
                "{}: left alone: it is {is}, not the {:?} rawbpf pinned there",
                path.display(),
                kind
            ));
            continue;
        }
        match kind {
            PinKind::Link => {
                sys::link_detach(fd.as_fd()).map_err(|source| Error::Sys {
                    cmd: Cmd::LinkDetach,
                    what: path.display().to_string(),
                    source,
                })?;
                report.detached += 1;
            }
            PinKind::Legacy => {
                let Some(cg) = cgroup else {
                    // Its cgroup is gone (noted above): nothing is attached.
                    drop(fd);
                    fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                    continue;
                };
                let (info, _) = sys::prog_info(fd.as_fd()).map_err(|source| Error::Sys {
                    cmd: Cmd::ObjGetInfoByFd,
                    what: path.display().to_string(),
                    source,
                })?;
                let (_, ids) = cg.query(*attach_type)?;
                if ids.contains(&info.id) {
                    sys::prog_detach(fd.as_fd(), cg.fd(), *attach_type).map_err(|source| {
                        Error::Sys {
                            cmd: Cmd::ProgDetach,
                            what: format!("{} from {}", path.display(), cg.path().display()),
                            source,
                        }
                    })?;
                    report.detached += 1;
                } else {
                    report.notes.push(format!(
                        "{}: was no longer attached to {}",
                        path.display(),
                        cg.path().display()
                    ));
                }
            }
            PinKind::ByName => {
                report.notes.push(format!(
                    "kept {}: pinned by name (LIBBPF_PIN_BY_NAME), to be shared",
                    path.display()
                ));
                continue;
            }
            PinKind::Map | PinKind::Program => {}
        }
        drop(fd);
        fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    }
    let rec = dir.path.join(RECORD);
    fs::remove_file(&rec).map_err(|e| Error::io(&rec, e))?;

    let shared: Vec<&str> = record
        .pins
        .iter()
        .filter(|(_, k, _)| *k == PinKind::ByName)
        .map(|(n, _, _)| n.as_str())
        .collect();
    let left: Vec<String> = fs::read_dir(&dir.path)
        .map_err(|e| Error::io(&dir.path, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !shared.contains(&n.as_str()))
        .collect();
    let shared_left = shared.iter().any(|n| dir.path.join(n).exists());
    if left.is_empty() && shared_left {
        report.notes.push(format!(
            "kept {}: it holds the maps pinned by name",
            dir.path.display()
        ));
    } else if left.is_empty() {
        fs::remove_dir(&dir.path).map_err(|e| Error::io(&dir.path, e))?;
        report.notes.push(format!("removed {}", dir.path.display()));
    } else {
        report.notes.push(format!(
            "kept {}: it holds {} entr{} rawbpf did not pin: {}",
            dir.path.display(),
            left.len(),
            if left.len() == 1 { "y" } else { "ies" },
            left.join(", ")
        ));
    }
    if record.cgroup_created
        && !record.cgroup_path.is_empty()
        && cgroup_id(recorded).ok() == Some(record.cgroup_id)
    {
        match fs::remove_dir(recorded) {
            Ok(()) => report
                .notes
                .push(format!("removed the cgroup {}", recorded.display())),
            Err(e) => report
                .notes
                .push(format!("kept the cgroup {}: {e}", recorded.display())),
        }
    }
    Ok(report)
}
