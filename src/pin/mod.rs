//! Pin directories: what `run --pin` leaves behind, and how `detach` finds
//! exactly that again and nothing else, however `run` or `detach` ended.
//!
//! A pin keeps a kernel object alive after the process ends (BPF_OBJ_PIN
//! makes a file for it in a bpf file system, `bpf_obj_pin_user` in
//! kernel/bpf/inode.c). rawbpf runs as root on paths it is given, so every
//! path is checked for what it resolves to, not for how it is spelled: a pin
//! directory is a real directory on a bpffs (statfs says `BPF_FS_MAGIC`),
//! never the mount's root, reached without `..`.
//!
//! Beside its pins `run` leaves a record, symbolic links named `rawbpf_run`
//! (and `rawbpf_run-1`... when it is long) whose target text says which
//! names it pins and of what kind, which programs it attaches (id and tag)
//! with which attach types, and the cgroup (path and id); [`record`] has
//! the format. A symlink costs no bpf() call, is made in one step
//! (`bpf_symlink`), and is read back with readlink, never followed.
//! `detach` acts on the entries the record names, each only if it is a pin
//! (not a symlink or a directory) of a bpf object of the kind, and for a
//! program the id, the record says, and leaves anything else alone, saying
//! so. A `--cgroup` that names another cgroup than the record's is refused
//! before anything changes.
//!
//! # The protocol: the record comes before anything needs it
//!
//! Something `run` makes outlives it in two ways only: a pin (a file in
//! bpffs holds the object), and a program attached with BPF_PROG_ATTACH,
//! which the cgroup holds from that call on (`cgroup_bpf_attach` in
//! kernel/bpf/cgroup.c) until BPF_PROG_DETACH. A BPF link outlives the
//! process only once it is pinned: its last fd's close detaches it
//! (`bpf_link_release`). So `run --pin DIR` takes its steps in this order,
//! and a process stopped between any two of them (SIGKILL, the OOM killer,
//! a power cut) leaves one of these states, each of which `detach --pin
//! DIR` undoes:
//!
//! | after step | on disk | `detach` |
//! |---|---|---|
//! | 1. lock | DIR, made with mode 01700 (0700 as bpftool makes a pin directory; the sticky bit marks it as `run`'s) if it was missing, its fd locked with flock(2) | finds no record: an empty DIR with the mark, owned by this user, is removed; anything else is left alone |
//! | 2. load | nothing more in DIR: maps and programs live only in this process's fds, but for maps pinned by name (LIBBPF_PIN_BY_NAME), pinned in the load's pin root as libbpf pins them, shared, in no record | as 1; pins by name are left, as every pin by name is |
//! | 3. record | `rawbpf_run-N` parts, then `rawbpf_run`, the head, last (parts without a head are no record): every name the run will pin; each program it will attach, with its id and tag (BPF_OBJ_GET_INFO_BY_FD) and attach type; the cgroup's path and id | reads the record; nothing it names is there yet; removes the record and DIR |
//! | 4. cgroup | only for the default cgroup, when it is missing: the record says "about to make it" (`2`), then the cgroup is made, then `rawbpf_run-cgroup` notes its id | without the note it keeps the cgroup: it cannot tell whether the run made it, and nothing was attached to it yet |
//! | 5. attach | a legacy attachment is in the kernel from here on, a link is not | finds the recorded program ids with BPF_PROG_QUERY on the recorded cgroup and detaches them (BPF_PROG_DETACH on an fd got by id) |
//! | 6. pin | `map_*`, `link_*`, `prog_*`, in any order | detaches (a link: BPF_LINK_DETACH) and unpins each pin that is there; a name that is missing was never made |
//! | 7. exit | the lock goes with the process (`locks_remove_file` at the last close) | as 6 |
//!
//! A failure (not a kill) undoes the run in the opposite order: legacy
//! attachments detached, pins removed, the record, the head first, then
//! DIR if the run made it, and the pins by name the load made. `detach` removes the record only once every
//! object it names is gone: any failure to open, query, detach or unpin one
//! (EMFILE, ENOMEM, EINTR, a pin moved away while its link still holds the
//! program attached) ends it with the cause per object, the record kept and
//! the directory as it is, ready for another `detach`, which does only
//! what is left. A `detach` stopped halfway through the record's removal
//! leaves parts without a head: the next one removes them.
//!
//! `run` and `detach` each hold the directory's flock(2) lock from before
//! they read or write anything in it to their end; a second one on the
//! same directory fails at once, saying so, and touches nothing. The lock
//! is on the directory's own fd and is checked, once held, to still be the
//! directory at that path (a `detach` may have removed it in between).

use std::ffi::OsStr;
use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::kernel::bpffs;
use crate::sys;

mod detach;
pub mod record;
mod run;

pub use detach::{detach, DetachReport};
/// The record's first part's name.
pub use record::HEAD as RECORD;
pub use record::{Made, Pin, ProgIdent, Record};
pub use run::{
    intent, pin_run, prog_ident, write_record, Attached, CgroupIntent, CgroupRecord, PinRun,
};

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
    /// other loaders, so `detach` leaves it. Only in the records of older
    /// versions: such maps are now pinned by the load, in its pin root,
    /// and no record names them.
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
    let resolved = resolve_on_bpffs(arg, root)?;
    if resolved.exists && is_mount_root(&resolved.path)? {
        return Err(refuse(format!(
            "pin directory {arg}: {} is the root of a bpf file system; use a directory inside it",
            resolved.path.display()
        )));
    }
    Ok(resolved)
}

/// Checks a `--pin-maps` argument as [`resolve_pin_dir`] does a `--pin`
/// one, except that the bpffs mount's root itself is allowed: it is where
/// maps are pinned by name when none is given, as with libbpf.
pub fn resolve_pin_root(arg: &str, root: impl FnOnce() -> Result<PathBuf>) -> Result<PathBuf> {
    resolve_on_bpffs(arg, root).map(|d| d.path)
}

/// A directory on a bpffs, or a name whose parent directory is on one.
fn resolve_on_bpffs(arg: &str, root: impl FnOnce() -> Result<PathBuf>) -> Result<PinDir> {
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
/// `maps` are the maps not pinned by name (those are the load's, in its
/// pin root: see [`crate::LoadOptions::pin_maps`]).
pub fn planned_names(
    maps: &[String],
    attached: &[(String, bool)],
    unattached: &[String],
) -> Vec<(String, PinKind)> {
    let mut out: Vec<(String, PinKind)> = maps
        .iter()
        .map(|m| (bpffs::pin_name(bpffs::MAP_PREFIX, m), PinKind::Map))
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

/// Refuses names the record could not hold, or two the same, before
/// anything is loaded.
pub fn check_names(names: &[(String, PinKind)]) -> Result<()> {
    checked_names(names).map(drop)
}

/// [`check_names`], and the names in a [`NameSet`].
fn checked_names(names: &[(String, PinKind)]) -> Result<NameSet<'_>> {
    if names.len() > record::MAX_PINS {
        return Err(refuse(format!(
            "{} pins are more than rawbpf's record holds ({})",
            names.len(),
            record::MAX_PINS
        )));
    }
    for (name, _) in names {
        if let Some(why) = record::bad_name(name) {
            let short = &name[..name.char_indices().nth(40).map_or(name.len(), |(i, _)| i)];
            return Err(refuse(format!("cannot pin {short:?}: the name {why}")));
        }
    }
    let set = NameSet::new(names.iter().map(|(n, _)| (n.as_str(), ())));
    match set.duplicate() {
        Some(name) => Err(refuse(format!(
            "two objects would be pinned as {name} (their names differ only in characters bpffs does not allow)"
        ))),
        None => Ok(set),
    }
}

/// Names, each with a value, sorted by a 64-bit hash of the name, then by
/// the name: equal names sort side by side (in the order given: the sort is
/// stable), and a name is found by its hash before any text is compared. A
/// run's pin names share long prefixes (`link_egress_`), which a plain sort
/// compares again and again.
pub(crate) struct NameSet<'a, T = ()>(Vec<(u64, &'a str, T)>);

impl<'a, T> NameSet<'a, T> {
    /// The set of `names` with their values (duplicates kept).
    pub(crate) fn new(names: impl Iterator<Item = (&'a str, T)>) -> NameSet<'a, T> {
        let mut sorted: Vec<(u64, &str, T)> = names.map(|(n, v)| (name_hash(n), n, v)).collect();
        sorted.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        NameSet(sorted)
    }

    /// The value of the first entry named `name` (first as given).
    pub(crate) fn get(&self, name: &str) -> Option<&T> {
        let key = (name_hash(name), name);
        let first = self.0.partition_point(|e| (e.0, e.1) < key);
        self.0.get(first).filter(|e| e.1 == name).map(|e| &e.2)
    }

    /// Whether the set holds `name`.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A name the set holds twice, if any.
    fn duplicate(&self) -> Option<&'a str> {
        self.0.windows(2).find(|w| w[0].1 == w[1].1).map(|w| w[0].1)
    }
}

/// FNV-1a over the name's bytes: cheap, and spread enough that names
/// rarely share a hash (those that do are told apart by their text).
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Refuses a pin directory that already holds a rawbpf record (any of its
/// files) or any of the names `run` would create, and names the record
/// could not hold ([`check_names`]). `run` asks once it holds the
/// directory's lock, before anything is loaded.
pub fn check_free(dir: &PinDir, names: &[(String, PinKind)]) -> Result<()> {
    let made_here = checked_names(names)?;
    if !dir.exists {
        return Ok(());
    }
    // One look at the directory finds both the record's parts, however
    // many, and the names `run` would create.
    let entries = fs::read_dir(&dir.path).map_err(|e| Error::io(&dir.path, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&dir.path, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if record::is_record_name(&name) || made_here.contains(&name) {
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

/// The cgroup id of a cgroup v2 directory: its inode number.
pub fn cgroup_id(path: &Path) -> Result<u64> {
    fs::metadata(path)
        .map(|m| m.ino())
        .map_err(|e| Error::io(path, e))
}

/// The mode `run` makes a pin directory with: 0700, as bpftool makes one
/// (`create_and_mount_bpffs_dir`: S_IRWXU), and the sticky bit, which
/// marks it as made by `run` (see the table above), so that `detach` may
/// remove it when a run stopped before writing anything in it. (Pins are
/// 0600 whoever makes them: bpffs gives them that mode, `bpf_obj_pin_user`.)
const MADE_MODE: u32 = 0o1700;

/// A pin directory this process holds: open, and locked with flock(2)
/// (LOCK_EX) on that fd until it is dropped. Dropped while it still has
/// `made` set, it removes the directory if it is empty.
#[derive(Debug)]
pub struct Locked {
    path: PathBuf,
    fd: OwnedFd,
    made: bool,
}

impl Locked {
    /// For `run`: makes the directory if it is missing (mode 01700), then
    /// locks it.
    pub fn for_run(dir: &PinDir) -> Result<Locked> {
        Locked::acquire(&dir.path, true)
    }

    /// For `detach`: locks the existing directory.
    pub fn for_detach(dir: &PinDir) -> Result<Locked> {
        Locked::acquire(&dir.path, false)
    }

    fn acquire(path: &Path, create: bool) -> Result<Locked> {
        // A `detach` may remove the directory between our open and our
        // lock; then the path is tried again, a few times.
        for _ in 0..8 {
            let made = create && make_marked_dir(path)?;
            let locked = open_dir(path).and_then(|fd| {
                let held = sys::flock_exclusive(fd.as_fd()).map_err(|e| Error::io(path, e))?;
                Ok((fd, held))
            });
            let (fd, held) = match locked {
                Ok(locked) => locked,
                Err(e) if create && e.raw_os_error() == Some(libc::ENOENT) => continue,
                Err(e) => {
                    if made {
                        let _ = fs::remove_dir(path);
                    }
                    return Err(e);
                }
            };
            if !held {
                // Whoever holds it uses the directory, also one we made.
                return Err(refuse(format!(
                    "{} is in use: another rawbpf run or detach holds its lock (flock); \
                     nothing was done here, try again once it has finished",
                    path.display()
                )));
            }
            let held = fs::File::from(fd);
            let same = match (held.metadata(), fs::symlink_metadata(path)) {
                (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                _ => false,
            };
            if same {
                let fd = OwnedFd::from(held);
                return Ok(Locked {
                    path: path.to_path_buf(),
                    fd,
                    made,
                });
            }
            if !create {
                break;
            }
        }
        Err(refuse(format!(
            "{} was removed or replaced while rawbpf was locking it; nothing was done",
            path.display()
        )))
    }

    /// The locked directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The locked directory's fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Whether this process made the directory.
    pub fn made(&self) -> bool {
        self.made
    }

    /// Keeps the directory when this lock is dropped.
    fn keep(&mut self) {
        self.made = false;
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        if self.made {
            // Fails (ENOTEMPTY) if anything is in it: then it stays.
            let _ = fs::remove_dir(&self.path);
        }
    }
}

/// Makes `path` with [`MADE_MODE`]; false if it exists already.
fn make_marked_dir(path: &Path) -> Result<bool> {
    match fs::DirBuilder::new().mode(MADE_MODE).create(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn open_dir(path: &Path) -> Result<OwnedFd> {
    let s = path
        .to_str()
        .ok_or_else(|| refuse(format!("path {} is not UTF-8", path.display())))?;
    let fd = sys::open(s, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .map_err(|e| Error::io(path, e))?;
    let fs_type = sys::fd_fs_type(fd.as_fd()).map_err(|e| Error::io(path, e))?;
    if fs_type != sys::BPF_FS_MAGIC {
        return Err(refuse(format!(
            "{} is no longer on a bpf file system",
            path.display()
        )));
    }
    Ok(fd)
}

/// Whether `meta` is a directory `run` made (its mark, the sticky bit,
/// which no umask clears) and this user owns.
fn has_run_mark(meta: &fs::Metadata) -> bool {
    meta.is_dir() && meta.permissions().mode() & 0o1000 != 0 && meta.uid() == sys::geteuid()
}

/// What the head of a record looked like.
pub(crate) enum Found {
    /// A whole record, with its part count.
    Record(Record, usize),
    /// No `rawbpf_run` at all.
    NoHead(Error),
    /// Something there that is not rawbpf's record.
    NotOurs(Error),
}

/// Reads the record of `dir`, with how many parts it has; an error if there
/// is none or it is not one. Each part is read with readlink, never
/// followed, and at most [`record::MAX_PARTS`] of them.
pub fn read_record(dir: &Path) -> Result<(Record, usize)> {
    match find_record(dir) {
        Found::Record(r, parts) => Ok((r, parts)),
        Found::NoHead(e) | Found::NotOurs(e) => Err(e),
    }
}

fn not_ours(dir: &Path, why: String) -> Error {
    refuse(format!(
        "{}: {why}; it was not made by `rawbpf run --pin`, so nothing was touched",
        dir.display()
    ))
}

/// readlink of `dir/name`, if it is a symlink this user made; NotFound
/// says it is missing.
fn read_own_symlink(dir: &Path, name: &str) -> std::result::Result<Vec<u8>, (bool, Error)> {
    let path = dir.join(name);
    match fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err((true, Error::io(&path, e)))
        }
        Err(e) => return Err((false, Error::io(&path, e))),
        Ok(m) if !m.file_type().is_symlink() => {
            return Err((
                false,
                not_ours(
                    dir,
                    format!("{name} is not a symbolic link, so not rawbpf's record"),
                ),
            ))
        }
        // Anyone who may write in the directory may make a symlink: a
        // record is only one this user made.
        Ok(m) if m.uid() != sys::geteuid() => {
            return Err((
                false,
                not_ours(
                    dir,
                    format!("{name} belongs to user {}, not to this one", m.uid()),
                ),
            ))
        }
        Ok(_) => {}
    }
    fs::read_link(&path)
        .map(|t| t.into_os_string().into_vec())
        .map_err(|e| (false, Error::io(&path, e)))
}

pub(crate) fn find_record(dir: &Path) -> Found {
    let head = match read_own_symlink(dir, RECORD) {
        Ok(head) => head,
        Err((true, _)) => {
            return Found::NoHead(not_ours(dir, format!("there is no {RECORD} record")))
        }
        Err((false, e)) => return Found::NotOurs(e),
    };
    let parts = match record::part_count(&head) {
        Ok(n) => n,
        Err(why) => return Found::NotOurs(not_ours(dir, format!("{RECORD}: {why}"))),
    };
    let mut text = head;
    for i in 1..parts {
        let name = record::part_name(i);
        if text.len() != i * record::PART_MAX {
            let why = format!(
                "the {RECORD} record is damaged ({} is not {} bytes long)",
                record::part_name(i - 1),
                record::PART_MAX
            );
            return Found::NotOurs(not_ours(dir, why));
        }
        match read_own_symlink(dir, &name) {
            Ok(part) => text.extend(part),
            Err((true, _)) => {
                let why = format!("the {RECORD} record is damaged ({name} is missing)");
                return Found::NotOurs(not_ours(dir, why));
            }
            Err((false, e)) => return Found::NotOurs(e),
        }
    }
    match record::decode(&text, parts) {
        Ok(r) => Found::Record(r, parts),
        Err(why) => Found::NotOurs(not_ours(dir, format!("{RECORD}: {why}"))),
    }
}

/// The id in `dir`'s [`record::CGROUP_NOTE`], with whether `run` made the
/// cgroup; None if there is none.
pub(crate) fn read_cgroup_note(dir: &Path) -> Result<Option<(u64, bool)>> {
    match read_own_symlink(dir, record::CGROUP_NOTE) {
        Ok(text) => record::parse_cgroup_note(&text)
            .map(Some)
            .map_err(|why| not_ours(dir, why)),
        Err((true, _)) => Ok(None),
        Err((false, e)) => Err(e),
    }
}

/// Makes the symlink `dir/name` with `text` as its target.
fn symlink(dir: &Path, name: &str, text: &[u8]) -> Result<PathBuf> {
    let path = dir.join(name);
    std::os::unix::fs::symlink(OsStr::from_bytes(text), &path).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<(String, PinKind)> {
        list.iter().map(|n| (n.to_string(), PinKind::Map)).collect()
    }

    #[test]
    fn two_objects_with_one_pin_name_are_refused_by_that_name() {
        // `.rodata` and `_rodata` both pin as map__rodata.
        let list = names(&["map_hmap", "map__rodata", "link_prog", "map__rodata"]);
        let err = check_names(&list).unwrap_err().to_string();
        assert!(
            err.contains("two objects would be pinned as map__rodata"),
            "{err}"
        );
        assert!(check_names(&names(&["map_a", "map_b", "link_a"])).is_ok());
    }

    #[test]
    fn a_name_set_finds_its_names_and_only_those() {
        let list: Vec<String> = (0..300).map(|i| format!("link_egress_{i}")).collect();
        let set = NameSet::new(list.iter().map(|n| (n.as_str(), ())));
        assert!(list.iter().all(|n| set.contains(n)));
        assert!(!set.contains("link_egress_300"));
        assert!(!set.contains(""));
        assert_eq!(set.duplicate(), None);
        // Of two entries with one name, the one given first is found.
        let two = NameSet::new([("link_a", 1), ("map_b", 2), ("link_a", 3)].into_iter());
        assert_eq!(two.get("link_a"), Some(&1));
        assert_eq!(two.get("map_b"), Some(&2));
        assert_eq!(two.duplicate(), Some("link_a"));
    }
}
