//! `detach`'s half of the protocol in [`super`]'s module doc: undo a run
//! in whatever state it left, keep the record until nothing it names is
//! left, and say per object what stays and why.

use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::record::{self, Made, Pin, Record};
use super::{find_record, has_run_mark, read_cgroup_note, refuse, Found, Locked, PinDir, PinKind};
use crate::attach::cgroup::Cgroup;
use crate::error::{Error, Result};
use crate::kernel::bpffs::{self, fd_kind};
use crate::sys::{self, IdKind};
use crate::uapi::Cmd;

/// What `detach` did, one line per thing worth telling.
#[derive(Debug, Default)]
pub struct DetachReport {
    /// How many links and legacy attachments were detached.
    pub detached: usize,
    /// What was already gone, left alone, kept or removed.
    pub notes: Vec<String>,
}

/// Why a recorded object could not be undone: the cause, per object.
type Failures = Vec<String>;

/// Undoes `run --pin` in whatever state it left `dir`: detaches and unpins
/// what the record names, then removes the record's files (the head
/// first), then the directory if nothing else is in it, then the cgroup if
/// `run` made it and it is empty. `cgroup_arg` (`--cgroup`) is checked
/// against the record and refused if it names another cgroup. If anything
/// the record names cannot be undone, the error says what and why, per
/// object, and the record stays for another `detach`.
pub fn detach(dir: &PinDir, cgroup_arg: Option<&Cgroup>) -> Result<DetachReport> {
    if !dir.exists {
        return Err(refuse(format!(
            "pin directory {} does not exist",
            dir.path.display()
        )));
    }
    let lock = Locked::for_detach(dir)?;
    let (record, parts) = match find_record(lock.path()) {
        Found::Record(record, parts) => (record, parts),
        Found::NoHead(e) => return remove_leftovers(&lock, e),
        Found::NotOurs(e) => return Err(e),
    };
    let mut report = DetachReport::default();
    let record = with_noted_cgroup(record, lock.path(), &mut report)?;
    let cgroup = recorded_cgroup(&record, cgroup_arg, &mut report)?;
    let dev = fs::metadata(lock.path())
        .map_err(|e| Error::io(lock.path(), e))?
        .dev();
    let mut failures = Failures::new();
    for pin in &record.pins {
        if let Err(why) = undo_pin(pin, lock.path(), dev, cgroup.as_ref(), &mut report) {
            failures.push(format!("{}: {why}", lock.path().join(&pin.name).display()));
        }
    }
    if let Some(cg) = &cgroup {
        still_attached(&record, cg, lock.path(), &mut failures);
    }
    if !failures.is_empty() {
        return Err(incomplete(lock.path(), &report, &failures));
    }
    remove_record(lock.path(), parts)?;
    remove_dir(&record, lock.path(), &mut report)?;
    remove_cgroup(&record, &mut report);
    Ok(report)
}

/// The error of a `detach` that could not undo everything.
fn incomplete(dir: &Path, report: &DetachReport, failures: &[String]) -> Error {
    let mut text = format!(
        "detach did not finish: {} object(s) {}/{} names stay{}; the record is kept, \
         so `rawbpf detach --pin {}` can be run again once the cause is gone:",
        failures.len(),
        dir.display(),
        super::RECORD,
        if report.detached > 0 {
            format!(" ({} detached meanwhile)", report.detached)
        } else {
            String::new()
        },
        dir.display()
    );
    for note in &report.notes {
        text += &format!("\n  (note: {note})");
    }
    for f in failures {
        text += &format!("\n  {f}");
    }
    refuse(text)
}

/// A directory without a record's head: the remains of a run stopped
/// before its record was whole, or of a `detach` stopped while removing
/// it. Its record files (symlinks this user made) go, then the directory
/// if it is empty; anything else is not rawbpf's.
fn remove_leftovers(lock: &Locked, no_record: Error) -> Result<DetachReport> {
    let dir = lock.path();
    let mut report = DetachReport::default();
    let mut left = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let meta = entry.metadata().map_err(|e| Error::io(entry.path(), e))?;
        let ours = meta.file_type().is_symlink() && meta.uid() == sys::geteuid();
        match record::is_record_name(&name) && ours {
            true => left.push(entry.path()),
            false => return Err(no_record),
        }
    }
    let marked = fs::symlink_metadata(dir).is_ok_and(|m| has_run_mark(&m));
    if left.is_empty() && !marked {
        return Err(no_record);
    }
    for path in &left {
        fs::remove_file(path).map_err(|e| Error::io(path, e))?;
        report.notes.push(format!(
            "removed {}: what is left of a record",
            path.display()
        ));
    }
    fs::remove_dir(dir).map_err(|e| Error::io(dir, e))?;
    report.notes.push(format!(
        "removed {}: a run stopped there before anything it made was pinned or attached",
        dir.display()
    ));
    Ok(report)
}

/// The record with the cgroup `run` was about to make ([`Made::Pending`])
/// resolved by its note: made (or found) with this id, or, without a note,
/// not known, and nothing attached to it.
fn with_noted_cgroup(mut record: Record, dir: &Path, report: &mut DetachReport) -> Result<Record> {
    if record.cgroup_made != Made::Pending {
        return Ok(record);
    }
    match read_cgroup_note(dir)? {
        Some((id, made)) => {
            record.cgroup_id = id;
            record.cgroup_made = if made { Made::Yes } else { Made::No };
        }
        None => report.notes.push(format!(
            "kept the cgroup {} if it is there: the run stopped before noting that it made it, \
             and before attaching anything to it",
            record.cgroup_path.display()
        )),
    }
    Ok(record)
}

/// The cgroup of the record's attachments, checked against `--cgroup`
/// before anything changes; None when there is none, or it is gone (and
/// with it whatever was attached to it).
fn recorded_cgroup(
    record: &Record,
    cgroup_arg: Option<&Cgroup>,
    report: &mut DetachReport,
) -> Result<Option<Cgroup>> {
    let attaches = record
        .pins
        .iter()
        .any(|p| matches!(p.kind, PinKind::Link | PinKind::Legacy));
    let path = record.cgroup_path.as_path();
    let id = record.cgroup_id;
    if let Some(cg) = cgroup_arg {
        if id != 0 && super::cgroup_id(cg.path())? != id {
            return Err(refuse(format!(
                "--cgroup {} is not the cgroup these programs were attached to ({}, cgroup id {id}); nothing was touched",
                cg.path().display(),
                path.display(),
            )));
        }
    }
    if !attaches || id == 0 {
        return Ok(None);
    }
    let found = match cgroup_arg {
        Some(cg) => Some(Cgroup::open(cg.path())?),
        None => find_cgroup(path, id)?,
    };
    match &found {
        Some(cg) if cg.path() != path => report.notes.push(format!(
            "the cgroup {} is now at {}",
            path.display(),
            cg.path().display()
        )),
        Some(_) => {}
        None => report.notes.push(format!(
            "the cgroup {} (id {id}) is gone, and its programs were detached with it",
            path.display()
        )),
    }
    Ok(found)
}

/// The cgroup with `id`: at `path` if it is still there, else wherever
/// it is now (by its id); None if it is gone. An error that is not "not
/// there" (EMFILE, ENOMEM...) is an error: it says nothing of the cgroup.
fn find_cgroup(path: &Path, id: u64) -> Result<Option<Cgroup>> {
    match Cgroup::open(path) {
        Ok(cg) if super::cgroup_id(cg.path())? == id => return Ok(Some(cg)),
        Ok(_) => {}
        Err(e) if matches!(e.raw_os_error(), None | Some(libc::ENOENT | libc::ENOTDIR)) => {}
        Err(e) => return Err(e),
    }
    Cgroup::by_id(id)
}

/// What is at a recorded name.
enum Opened {
    /// Nothing: never made, or removed.
    Gone,
    /// Something rawbpf did not pin there; why.
    Foreign(String),
    /// The bpf object pinned there.
    Pin(OwnedFd),
}

/// Undoes one entry of the record; Err says why it could not.
fn undo_pin(
    pin: &Pin,
    dir: &Path,
    dev: u64,
    cgroup: Option<&Cgroup>,
    report: &mut DetachReport,
) -> std::result::Result<(), String> {
    let path = dir.join(&pin.name);
    let opened = open_recorded(&path, dev, pin)?;
    match pin.kind {
        PinKind::Legacy => {
            let pinned = match &opened {
                Opened::Pin(fd) => Some(fd.as_fd()),
                _ => None,
            };
            if let Some(cg) = cgroup {
                detach_legacy(pin, pinned, cg, report)?;
            }
        }
        PinKind::Link => {
            if let Opened::Pin(fd) = &opened {
                sys::link_detach(fd.as_fd()).map_err(|e| cause(Cmd::LinkDetach, e))?;
                report.detached += 1;
            }
        }
        PinKind::ByName if matches!(opened, Opened::Pin(_)) => {
            report.notes.push(format!(
                "kept {}: pinned by name (LIBBPF_PIN_BY_NAME), to be shared",
                path.display()
            ));
            return Ok(());
        }
        PinKind::ByName | PinKind::Map | PinKind::Program => {}
    }
    match opened {
        Opened::Gone => Ok(()),
        Opened::Foreign(why) => {
            report
                .notes
                .push(format!("{}: left alone: {why}", path.display()));
            Ok(())
        }
        Opened::Pin(fd) => {
            drop(fd);
            fs::remove_file(&path)
                .map_err(|e| format!("cannot unpin it: {}", why(Error::io(&path, e))))
        }
    }
}

/// The text of a failed bpf() command, as the error would say it, with
/// the process limit behind it if one is.
fn cause(cmd: Cmd, e: std::io::Error) -> String {
    let text = why(Error::sys(cmd, "")(e));
    text.replacen(" ()", "", 1).replacen(" (; ", " (", 1)
}

/// An error as a failure's text, with the process limit behind it if one is.
fn why(e: Error) -> String {
    crate::kernel::limits::explain(e).to_string()
}

/// Opens what is at a recorded name, and tells whether it is what the
/// record says: a pin of the recorded kind and, for a program or a link,
/// of the recorded program. Err when that cannot be told (EMFILE, ENOMEM,
/// no /proc...).
fn open_recorded(path: &Path, dev: u64, pin: &Pin) -> std::result::Result<Opened, String> {
    let fd = match open_pin_itself(path, dev)? {
        Opened::Pin(fd) => fd,
        other => return Ok(other),
    };
    let is = fd_kind(fd.as_fd()).map_err(why)?;
    let kind = pin.kind;
    if is != kind.inode_name() {
        let why = format!("it is {is}, not the {kind:?} rawbpf pinned there");
        return Ok(Opened::Foreign(why));
    }
    let Some(want) = pin.prog else {
        return Ok(Opened::Pin(fd));
    };
    let id = match kind {
        PinKind::Link => sys::link_info(fd.as_fd())
            .map(|i| i.prog_id)
            .map_err(|e| cause(Cmd::ObjGetInfoByFd, e))?,
        _ => sys::prog_info(fd.as_fd())
            .map(|(i, _)| i.id)
            .map_err(|e| cause(Cmd::ObjGetInfoByFd, e))?,
    };
    if id != want.id {
        let why = format!(
            "it holds program id {id}, not the id {} rawbpf recorded",
            want.id
        );
        return Ok(Opened::Foreign(why));
    }
    Ok(Opened::Pin(fd))
}

/// Opens the bpf object pinned at `path` itself, never one a symlink there
/// points to, even a symlink put there after the name was looked at:
/// BPF_OBJ_GET follows symlinks. The name is opened with O_PATH and
/// O_NOFOLLOW (an fd of the name itself, whatever it is), checked to be a
/// regular file of the pin directory's file system, and BPF_OBJ_GET then
/// reads /proc/self/fd/N, which is that very file. On a bpffs every regular
/// file is a pin, so any failure from here on is a failure, not a sign that
/// the entry is someone else's.
fn open_pin_itself(path: &Path, dir_dev: u64) -> std::result::Result<Opened, String> {
    let file = match sys::open_path_nofollow(path) {
        Ok(fd) => fs::File::from(fd),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Opened::Gone),
        Err(e) => return Err(format!("cannot open it: {}", why(Error::io(path, e)))),
    };
    let m = file
        .metadata()
        .map_err(|e| format!("cannot stat it: {}", why(Error::io(path, e))))?;
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
        return Ok(Opened::Foreign(format!("not a pin but a {what}")));
    }
    let by_fd = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file));
    if fs::symlink_metadata(&by_fd).is_err() {
        return Err(format!(
            "cannot reach it through {by_fd}: is /proc mounted?"
        ));
    }
    bpffs::open_pinned(Path::new(&by_fd))
        .map(Opened::Pin)
        .map_err(why)
}

/// Detaches a legacy attachment the record names, found by its program's
/// id with BPF_PROG_QUERY on the cgroup, whether or not its program was
/// pinned yet (a record of version 1 has no id: then the pin's program).
fn detach_legacy(
    pin: &Pin,
    pinned: Option<std::os::fd::BorrowedFd<'_>>,
    cg: &Cgroup,
    report: &mut DetachReport,
) -> std::result::Result<(), String> {
    let id = match (pin.prog, pinned) {
        (Some(p), _) => p.id,
        (None, Some(fd)) => sys::prog_info(fd)
            .map(|(i, _)| i.id)
            .map_err(|e| cause(Cmd::ObjGetInfoByFd, e))?,
        (None, None) => return Ok(()),
    };
    let (_, ids) = cg.query(pin.attach_type).map_err(why)?;
    if !ids.contains(&id) {
        return Ok(());
    }
    let prog = match sys::get_fd_by_id(IdKind::Prog, id) {
        Ok(fd) => fd,
        // Detached and freed since the query.
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(cause(Cmd::ProgGetFdById, e)),
    };
    let (info, _) = sys::prog_info(prog.as_fd()).map_err(|e| cause(Cmd::ObjGetInfoByFd, e))?;
    if pin.prog.is_some_and(|p| p.tag != info.tag) {
        return Err(format!(
            "program id {id} on {} is not the program rawbpf attached (another tag)",
            cg.path().display()
        ));
    }
    sys::prog_detach(prog.as_fd(), cg.fd(), pin.attach_type)
        .map_err(|e| cause(Cmd::ProgDetach, e))?;
    report.detached += 1;
    Ok(())
}

/// Whether a program the record attached is still attached to its cgroup
/// (BPF_PROG_QUERY): a link whose pin was moved away, or an attachment a
/// failed step left. Adds the reason per object to `failures`.
fn still_attached(record: &Record, cg: &Cgroup, dir: &Path, failures: &mut Failures) {
    let mut types: Vec<u32> = Vec::new();
    for pin in &record.pins {
        if matches!(pin.kind, PinKind::Link | PinKind::Legacy) && !types.contains(&pin.attach_type)
        {
            types.push(pin.attach_type);
        }
    }
    for attach_type in types {
        let ids = match cg.query(attach_type) {
            Ok((_, ids)) => ids,
            Err(e) => {
                failures.push(format!("cannot tell what is still attached: {}", why(e)));
                continue;
            }
        };
        for pin in record.pins.iter().filter(|p| p.attach_type == attach_type) {
            let path = dir.join(&pin.name);
            let Some(prog) = pin.prog.filter(|p| ids.contains(&p.id)) else {
                continue;
            };
            if failures
                .iter()
                .any(|f| f.starts_with(&path.display().to_string()))
            {
                continue;
            }
            let how = match pin.kind {
                PinKind::Link => {
                    "through a BPF link rawbpf cannot reach: its pin was moved away, \
                                  or another process holds it; remove that pin or close that fd"
                }
                _ => "BPF_PROG_DETACH did not detach it",
            };
            failures.push(format!(
                "{}: program id {} is still attached to {} {how}",
                path.display(),
                prog.id,
                cg.path().display()
            ));
        }
    }
}

/// Removes the record's files: the head first (from then on there is no
/// record), then its other parts, then the cgroup note.
fn remove_record(dir: &Path, parts: usize) -> Result<()> {
    let mut names: Vec<String> = (0..parts).map(record::part_name).collect();
    names.push(record::CGROUP_NOTE.to_string());
    for name in names {
        let path = dir.join(&name);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io(&path, e));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Removes the directory if nothing but the maps pinned by name is left
/// in it (and not even those).
fn remove_dir(record: &Record, dir: &Path, report: &mut DetachReport) -> Result<()> {
    let shared: Vec<&str> = record
        .pins
        .iter()
        .filter(|p| p.kind == PinKind::ByName)
        .map(|p| p.name.as_str())
        .collect();
    let mut left: Vec<String> = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let name = entry.map_err(|e| Error::io(dir, e))?.file_name();
        let name = name.to_string_lossy().into_owned();
        if !shared.contains(&name.as_str()) {
            left.push(name);
        }
    }
    let shared_left = shared.iter().any(|n| dir.join(n).exists());
    if left.is_empty() && shared_left {
        report.notes.push(format!(
            "kept {}: it holds the maps pinned by name",
            dir.display()
        ));
    } else if left.is_empty() {
        fs::remove_dir(dir).map_err(|e| Error::io(dir, e))?;
        report.notes.push(format!("removed {}", dir.display()));
    } else {
        report.notes.push(format!(
            "kept {}: it holds {} entr{} rawbpf did not pin: {}",
            dir.display(),
            left.len(),
            if left.len() == 1 { "y" } else { "ies" },
            left.join(", ")
        ));
    }
    Ok(())
}

/// Removes the cgroup `run` made, if it is still the one it made and empty.
fn remove_cgroup(record: &Record, report: &mut DetachReport) {
    let path = record.cgroup_path.as_path();
    if record.cgroup_made != Made::Yes
        || path.as_os_str().is_empty()
        || super::cgroup_id(path).ok() != Some(record.cgroup_id)
    {
        return;
    }
    match fs::remove_dir(path) {
        Ok(()) => report
            .notes
            .push(format!("removed the cgroup {}", path.display())),
        Err(e) => report
            .notes
            .push(format!("kept the cgroup {}: {e}", path.display())),
    }
}
