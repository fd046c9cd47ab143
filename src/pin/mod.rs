//! Pin directories: what `run --pin` leaves behind, and how `detach` finds
//! exactly that again and nothing else.
//!
//! A pin keeps a kernel object alive after the process ends (BPF_OBJ_PIN
//! makes a file for it in a bpf file system). rawbpf runs as root on paths it
//! is given, so every path is checked for what it resolves to, not for how it
//! is spelled: a pin directory is a real directory on a bpffs (statfs says
//! `BPF_FS_MAGIC`), never the mount's root, reached without `..`.
//!
//! Beside its pins `run` leaves a record, symbolic links named `rawbpf_run`
//! (and `rawbpf_run-1`... when it is long) whose target text says which
//! names it created and of what kind, and the cgroup its legacy attachments
//! are attached to (path and id); [`record`] has the format. A symlink costs
//! no bpf() call, and it is read back with readlink, never followed.
//! `detach` acts on the entries the record names, each only if it is a pin
//! (not a symlink or a directory) of a bpf object of the kind the record
//! says, and leaves anything else alone, saying so. Legacy attachments need
//! no `--cgroup`: the record says where they are, and a `--cgroup` that
//! names another cgroup is refused before anything changes.

use std::ffi::OsStr;
use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use crate::attach::cgroup::{Attachment, Cgroup};
use crate::error::{Error, Result};
use crate::kernel::bpffs::{self, by_name_pin, fd_kind};
use crate::load::parallel;
use crate::load::Loaded;
use crate::sys;
use crate::uapi::Cmd;

pub mod record;

pub use record::Record;
/// The record's first part's name.
pub use record::HEAD as RECORD;

/// What a pin of the record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinKind {
    /// A BPF link (`link_NAME`): unpinning and BPF_LINK_DETACH detach it.
    Link,
    /// A program attached with BPF_PROG_ATTACH to the recorded cgroup.
    Legacy,
    /// A map (`map_NAME`).
    Map,
    /// A program loaded but not attached (`prog_NAME`).
    Program,
    /// A map pinned by name (`NAME`, LIBBPF_PIN_BY_NAME): shared with
    /// other loaders, so `detach` leaves it.
    ByName,
}

impl PinKind {
    /// The anon-inode name the kernel gives such an fd (`/proc/self/fd`).
    fn inode_name(self) -> &'static str {
        match self {
            PinKind::Link => bpffs::LINK_INODE,
            PinKind::Legacy | PinKind::Program => bpffs::PROG_INODE,
            PinKind::Map | PinKind::ByName => bpffs::MAP_INODE,
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
            false => (bpffs::pin_name(bpffs::MAP_PREFIX, m), PinKind::Map),
        })
        .collect();
    for (prog, link) in attached {
        out.push(if *link {
            (bpffs::pin_name(bpffs::LINK_PREFIX, prog), PinKind::Link)
        } else {
            (bpffs::pin_name(bpffs::PROG_PREFIX, prog), PinKind::Legacy)
        });
    }
    for prog in unattached {
        out.push((bpffs::pin_name(bpffs::PROG_PREFIX, prog), PinKind::Program));
    }
    out
}

/// Refuses, before anything is loaded, a pin directory that already holds
/// a rawbpf record (any of its parts) or any of the names `run` would
/// create, and names the record could not hold.
pub fn check_free(dir: &PinDir, names: &[(String, PinKind)]) -> Result<()> {
    if names.len() > record::MAX_PINS {
        return Err(refuse(format!(
            "{} pins are more than rawbpf's record holds ({})",
            names.len(),
            record::MAX_PINS
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (name, _) in names {
        if let Some(why) = record::bad_name(name) {
            let short = &name[..name.char_indices().nth(40).map_or(name.len(), |(i, _)| i)];
            return Err(refuse(format!("cannot pin {short:?}: the name {why}")));
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
    // One look at the directory finds both the record's parts, however
    // many, and the names `run` would create.
    let made_here: std::collections::BTreeSet<&str> = names
        .iter()
        .filter(|(_, k)| *k != PinKind::ByName)
        .map(|(n, _)| n.as_str())
        .collect();
    let entries = fs::read_dir(&dir.path).map_err(|e| Error::io(&dir.path, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&dir.path, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if record::is_part_name(&name) || made_here.contains(name.as_ref()) {
            return Err(refuse(format!(
                "{} exists already: detach what is pinned there first, or choose another --pin directory",
                entry.path().display()
            )));
        }
    }
    Ok(())
}

/// Refuses, before anything is loaded, a cgroup path too long for the record.
pub fn check_cgroup_path(path: &Path) -> Result<()> {
    if path.as_os_str().len() > record::PATH_MAX {
        return Err(refuse(format!(
            "the cgroup path {} is longer than {} bytes, more than rawbpf's pin record holds",
            path.display(),
            record::PATH_MAX
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

/// The cgroup id of a cgroup v2 directory: its inode number.
pub fn cgroup_id(path: &Path) -> Result<u64> {
    fs::metadata(path)
        .map(|m| m.ino())
        .map_err(|e| Error::io(path, e))
}

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
    // Each pin and record part made here, removed again if a later step fails.
    let mut made: Vec<PathBuf> = Vec::new();
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
            for p in made.iter().rev() {
                let _ = fs::remove_file(p);
            }
            if created_dir {
                let _ = fs::remove_dir(&dir.path);
            }
            Err(e)
        }
    }
}

/// Pins in one directory spread over threads only from this many per
/// thread: a pin costs a few microseconds, a thread about a dozen pins.
const PINS_PER_THREAD: usize = 16;

fn pin_everything(
    dir: &PinDir,
    loaded: &Loaded,
    attachments: &[Attachment],
    cgroup: Option<CgroupRecord<'_>>,
    made: &mut Vec<PathBuf>,
) -> Result<()> {
    // What to pin (an fd and its name), and what the record says of each.
    let mut to_pin: Vec<(BorrowedFd<'_>, usize)> = Vec::new();
    let mut pins = Vec::new();
    let attached: Vec<&str> = attachments.iter().map(|a| a.program.as_str()).collect();
    for map in &loaded.maps {
        if map.pin_by_name {
            let name = by_name_pin(&map.name);
            if !is_pinned_here(&dir.path.join(&name), map.fd.as_fd())? {
                to_pin.push((map.fd.as_fd(), pins.len()));
            }
            pins.push((name, PinKind::ByName, 0));
            continue;
        }
        to_pin.push((map.fd.as_fd(), pins.len()));
        pins.push((
            bpffs::pin_name(bpffs::MAP_PREFIX, &map.name),
            PinKind::Map,
            0,
        ));
    }
    for a in attachments {
        let (kind, name, fd) = match (a.link(), a.program_fd()) {
            (Some(link), _) => (
                PinKind::Link,
                bpffs::pin_name(bpffs::LINK_PREFIX, &a.program),
                link,
            ),
            (None, Some(prog)) => (
                PinKind::Legacy,
                bpffs::pin_name(bpffs::PROG_PREFIX, &a.program),
                prog,
            ),
            (None, None) => continue,
        };
        to_pin.push((fd, pins.len()));
        pins.push((name, kind, a.attach_type));
    }
    for p in loaded
        .programs
        .iter()
        .filter(|p| !attached.contains(&p.name()))
    {
        to_pin.push((p.fd(), pins.len()));
        pins.push((
            bpffs::pin_name(bpffs::PROG_PREFIX, p.name()),
            PinKind::Program,
            0,
        ));
    }
    // Each pin made is noted at once, so that a failure undoes exactly those.
    let pinned = std::sync::Mutex::new(Vec::with_capacity(to_pin.len()));
    let result = parallel::in_parallel(to_pin.len(), PINS_PER_THREAD, |i| {
        let (fd, entry) = to_pin[i];
        let path = dir.path.join(&pins[entry].0);
        bpffs::pin(fd, &path)?;
        pinned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(path);
        Ok(())
    });
    made.extend(
        pinned
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    result?;
    let record = Record {
        cgroup_created: cgroup.as_ref().is_some_and(|c| c.created),
        cgroup_id: match &cgroup {
            Some(c) => cgroup_id(c.cgroup.path())?,
            None => 0,
        },
        cgroup_path: cgroup
            .map(|c| c.cgroup.path().to_path_buf())
            .unwrap_or_default(),
        pins,
    };
    write_record(&dir.path, &record, made)
}

/// Writes `record` into `dir` as symlinks (see [`record`]), the first part
/// last: while it is missing, nothing reads a record that is not whole.
/// Each part made is added to `made`. No bpf() call.
pub fn write_record(dir: &Path, record: &Record, made: &mut Vec<PathBuf>) -> Result<()> {
    let parts = record::encode(record).map_err(refuse)?;
    for (i, part) in parts.iter().enumerate().rev() {
        let path = dir.join(record::part_name(i));
        std::os::unix::fs::symlink(OsStr::from_bytes(part), &path)
            .map_err(|e| Error::io(&path, e))?;
        made.push(path);
    }
    Ok(())
}

/// Whether `path` is a pin of the very map `fd` refers to (same id).
fn is_pinned_here(path: &Path, fd: BorrowedFd<'_>) -> Result<bool> {
    if fs::symlink_metadata(path).is_err() {
        return Ok(false);
    }
    let pinned = bpffs::open_pinned(path)?;
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

/// Reads the record of `dir`, with how many parts it has; an error if there
/// is none or it is not one. Each part is read with readlink, never
/// followed, and at most [`record::MAX_PARTS`] of them.
pub fn read_record(dir: &Path) -> Result<(Record, usize)> {
    let not_ours = |why: String| {
        refuse(format!(
            "{}: {why}; it was not made by `rawbpf run --pin`, so nothing was touched",
            dir.display()
        ))
    };
    let part = |i: usize| -> Result<Vec<u8>> {
        let name = record::part_name(i);
        let path = dir.join(&name);
        match fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(not_ours(match i {
                    0 => format!("there is no {RECORD} record"),
                    _ => format!("the {RECORD} record is damaged ({name} is missing)"),
                }))
            }
            Err(e) => return Err(Error::io(&path, e)),
            Ok(m) if !m.file_type().is_symlink() => {
                return Err(not_ours(format!(
                    "{name} is not a symbolic link, so not rawbpf's record"
                )))
            }
            // Anyone who may write in the directory may make a symlink: a
            // record is only one this user made.
            Ok(m) if m.uid() != sys::geteuid() => {
                return Err(not_ours(format!(
                    "{name} belongs to user {}, not to this one",
                    m.uid()
                )))
            }
            Ok(_) => {}
        }
        let text = fs::read_link(&path).map_err(|e| Error::io(&path, e))?;
        Ok(text.into_os_string().into_vec())
    };
    let head = part(0)?;
    let parts = record::part_count(&head).map_err(|why| not_ours(format!("{RECORD}: {why}")))?;
    let mut text = head;
    for i in 1..parts {
        if text.len() != i * record::PART_MAX {
            return Err(not_ours(format!(
                "the {RECORD} record is damaged ({} is not {} bytes long)",
                record::part_name(i - 1),
                record::PART_MAX
            )));
        }
        text.extend(part(i)?);
    }
    let record =
        record::decode(&text, parts).map_err(|why| not_ours(format!("{RECORD}: {why}")))?;
    Ok((record, parts))
}

/// What `detach` did, one line per thing worth telling.
#[derive(Debug, Default)]
pub struct DetachReport {
    /// How many links and legacy attachments were detached.
    pub detached: usize,
    /// What was already gone, left alone, kept or removed.
    pub notes: Vec<String>,
}

/// Opens the bpf object pinned at `path` itself, never one a symlink there
/// points to, even a symlink put there after the name was looked at:
/// BPF_OBJ_GET follows symlinks. The name is opened with O_PATH and
/// O_NOFOLLOW (an fd of the name itself, whatever it is), checked to be a
/// regular file of the pin directory's file system, and BPF_OBJ_GET then
/// reads /proc/self/fd/N, which is that very file. The error says why the
/// entry is left alone.
fn open_pin_itself(path: &Path, dir_dev: u64) -> std::result::Result<OwnedFd, String> {
    let file = match sys::open_path_nofollow(path) {
        Ok(fd) => fs::File::from(fd),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err("already gone".into()),
        Err(e) => return Err(format!("left alone: cannot open it ({e})")),
    };
    let m = file
        .metadata()
        .map_err(|e| format!("left alone: cannot stat it ({e})"))?;
    if !m.is_file() || m.dev() != dir_dev {
        let what = if m.is_dir() {
            "directory"
        } else if m.file_type().is_symlink() {
            "symbolic link"
        } else if m.is_file() {
            "file of another file system"
        } else {
            "special file"
        };
        return Err(format!("left alone: not a pin but a {what}"));
    }
    let by_fd = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file));
    bpffs::open_pinned(Path::new(&by_fd))
        .map_err(|e| format!("left alone: not a bpf object ({e}; is /proc mounted?)"))
}

/// Undoes `run --pin`: detaches and unpins what the record names, then the
/// record's parts (the first one last), then the directory if nothing else
/// is in it, then the cgroup if `run` created it and it is empty.
/// `cgroup_arg` (`--cgroup`) is checked against the record and refused if
/// it names another cgroup.
pub fn detach(dir: &PinDir, cgroup_arg: Option<&Cgroup>) -> Result<DetachReport> {
    if !dir.exists {
        return Err(refuse(format!(
            "pin directory {} does not exist",
            dir.path.display()
        )));
    }
    let (record, parts) = read_record(&dir.path)?;
    let mut report = DetachReport::default();
    let needs_cgroup = record.pins.iter().any(|(_, k, _)| *k == PinKind::Legacy);
    // The cgroup of the legacy attachments, checked before anything changes.
    let recorded = record.cgroup_path.as_path();
    let own;
    let cgroup: Option<&Cgroup> = match cgroup_arg {
        Some(cg) => {
            let id = cgroup_id(cg.path())?;
            if record.cgroup_id != 0 && id != record.cgroup_id {
                return Err(refuse(format!(
                    "--cgroup {} is not the cgroup these programs were attached to ({}, cgroup id {}); nothing was touched",
                    cg.path().display(),
                    recorded.display(),
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
                        recorded.display(),
                        cg.path().display()
                    ));
                    own = cg;
                    Some(&own)
                }
                None => {
                    report.notes.push(format!(
                        "the cgroup {} (id {}) is gone, and its programs were detached with it",
                        recorded.display(),
                        record.cgroup_id
                    ));
                    None
                }
            },
        },
        None => None,
    };

    let dir_dev = fs::metadata(&dir.path)
        .map_err(|e| Error::io(&dir.path, e))?
        .dev();
    for (name, kind, attach_type) in &record.pins {
        let path = dir.path.join(name);
        let fd = match open_pin_itself(&path, dir_dev) {
            Ok(fd) => fd,
            Err(why) => {
                report.notes.push(format!("{}: {why}", path.display()));
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
    // The first part last, as `run` made it last: whatever is left of a
    // record still starts with the part that says what it was.
    for i in (0..parts).rev() {
        let part = dir.path.join(record::part_name(i));
        fs::remove_file(&part).map_err(|e| Error::io(&part, e))?;
    }

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
        && !recorded.as_os_str().is_empty()
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
