//! `run --pin`'s half of the protocol in [`super`]'s module doc: the record
//! of what the run will make, written before the first thing it makes that
//! outlives the process, then the cgroup, the pins, and on failure the undo
//! in the opposite order.

use std::fs;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use super::record::{self, Made, Pin, ProgIdent, Record};
use super::{cgroup_id, check_free, refuse, symlink, Locked, NameSet, PinDir, PinKind};
use crate::attach::cgroup::{Attachment, Cgroup};
use crate::error::{Error, Result};
use crate::kernel::bpffs;
use crate::load::Loaded;
use crate::sys;

/// The cgroup a run attaches to, as its record says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupIntent {
    /// Its path.
    pub path: PathBuf,
    /// Its id (inode number); 0 while it is still to be made.
    pub id: u64,
    /// Whether the run made it, or is about to.
    pub made: Made,
}

impl CgroupIntent {
    /// An existing cgroup: `made` says whether this run made it.
    pub fn of(cgroup: &Cgroup, made: bool) -> Result<CgroupIntent> {
        Ok(CgroupIntent {
            path: cgroup.path().to_path_buf(),
            id: cgroup_id(cgroup.path())?,
            made: if made { Made::Yes } else { Made::No },
        })
    }
}

/// A program the run attaches: its name, attach type and whether through a
/// BPF link (else BPF_PROG_ATTACH).
#[derive(Clone, Copy, Debug)]
pub struct Attached<'a> {
    /// The program's (function's) name.
    pub program: &'a str,
    /// The attach type.
    pub attach_type: u32,
    /// A BPF link, or a legacy attachment.
    pub link: bool,
}

/// The record of a run that pins what `loaded` holds, with `attached`
/// attached to `cgroup`: every name it will pin and, for each program, its
/// id and tag (one BPF_OBJ_GET_INFO_BY_FD each).
pub fn intent(
    loaded: &Loaded,
    cgroup: Option<&CgroupIntent>,
    attached: &[Attached<'_>],
) -> Result<Record> {
    let mut pins = Vec::new();
    // Maps pinned by name are pinned already, by the load, and shared.
    for map in loaded.maps.iter().filter(|m| !m.pin_by_name) {
        let name = bpffs::pin_name(bpffs::MAP_PREFIX, &map.name);
        pins.push(Pin::new(name, PinKind::Map, 0));
    }
    // Looked up by name, not by a scan per program.
    let by_name = NameSet::new(loaded.programs.iter().map(|p| (p.name(), p)));
    let attached_names = NameSet::new(attached.iter().map(|a| (a.program, ())));
    for a in attached {
        let prog = by_name.get(a.program).ok_or_else(|| Error::Program {
            program: a.program.to_string(),
            what: "attached, but not among the loaded programs".into(),
        })?;
        let (prefix, kind) = match a.link {
            true => (bpffs::LINK_PREFIX, PinKind::Link),
            false => (bpffs::PROG_PREFIX, PinKind::Legacy),
        };
        let mut pin = Pin::new(bpffs::pin_name(prefix, a.program), kind, a.attach_type);
        // An attached program's id and tag: detach finds a legacy
        // attachment by them (it outlives the process from the attach on,
        // pinned or not), and tells whether a link moved out of its pin
        // still holds the program attached.
        pin.prog = Some(prog_ident(prog.fd())?);
        pins.push(pin);
    }
    for p in &loaded.programs {
        if attached_names.contains(p.name()) {
            continue;
        }
        // Loaded, not attached: its pin is all there is to undo.
        pins.push(Pin::new(
            bpffs::pin_name(bpffs::PROG_PREFIX, p.name()),
            PinKind::Program,
            0,
        ));
    }
    Ok(Record {
        cgroup_made: cgroup.map_or(Made::No, |c| c.made),
        cgroup_path: cgroup.map(|c| c.path.clone()).unwrap_or_default(),
        cgroup_id: cgroup.map_or(0, |c| c.id),
        pins,
    })
}

/// A program's id and tag, from the kernel (BPF_OBJ_GET_INFO_BY_FD).
pub fn prog_ident(fd: BorrowedFd<'_>) -> Result<ProgIdent> {
    let (id, tag) = sys::prog_id_tag(fd)
        .map_err(Error::sys(sys::Cmd::ObjGetInfoByFd, "an attached program"))?;
    Ok(ProgIdent { id, tag })
}

/// A `run --pin` under way: its record is on disk, and the directory
/// locked. Dropped before [`PinRun::finish`] or [`PinRun::keep`], it
/// removes the pins it made, then the record (the head first), then the
/// directory if the run made it. The caller detaches its legacy
/// attachments before that (drop them first).
#[derive(Debug)]
pub struct PinRun {
    lock: Locked,
    parts: usize,
    made: Vec<PathBuf>,
    note: Option<PathBuf>,
    keep: bool,
}

impl PinRun {
    /// Writes `record` into the locked directory, refusing first a
    /// directory that holds a record or any name the record names.
    pub fn begin(lock: Locked, record: &Record) -> Result<PinRun> {
        let names: Vec<(String, PinKind)> = record
            .pins
            .iter()
            .map(|p| (p.name.clone(), p.kind))
            .collect();
        let dir = PinDir {
            path: lock.path().to_path_buf(),
            exists: true,
        };
        check_free(&dir, &names)?;
        let mut parts = Vec::new();
        if let Err(e) = write_record(lock.path(), record, &mut parts) {
            // The head is written last: what is there is no record yet.
            for p in &parts {
                let _ = fs::remove_file(p);
            }
            return Err(e);
        }
        Ok(PinRun {
            lock,
            parts: parts.len(),
            made: Vec::new(),
            note: None,
            keep: false,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.lock.path()
    }

    /// Makes the cgroup `name` under the cgroup2 root, which the record
    /// says the run is about to make ([`Made::Pending`]), and notes its id.
    pub fn make_cgroup(&mut self, name: &str) -> Result<Cgroup> {
        let cg = Cgroup::create(name)?;
        let note = record::cgroup_note(cgroup_id(cg.path())?, cg.removes_on_drop());
        self.note = Some(symlink(
            self.lock.path(),
            record::CGROUP_NOTE,
            note.as_bytes(),
        )?);
        Ok(cg)
    }

    /// Pins everything `record` names that `loaded` and `attachments`
    /// hold: maps, links, the programs of legacy attachments, programs not
    /// attached.
    pub fn pin(
        &mut self,
        record: &Record,
        loaded: &Loaded,
        attachments: &[Attachment],
    ) -> Result<()> {
        let named = fds_by_pin_name(loaded, attachments);
        // The last of a name wins: an attachment's own fd comes after its
        // program's; reversed, it is the first of its name.
        let fds = NameSet::new(named.iter().rev().map(|(name, fd)| (name.as_str(), *fd)));
        // One pin after the other: pins in one directory take its lock, so
        // a second thread would mostly wait for it, spinning.
        let dir = self.lock.fd();
        let mut by_fd = true;
        for pin in &record.pins {
            let fd = *fds.get(&pin.name).ok_or_else(|| {
                refuse(format!(
                    "{} is recorded, but nothing of this run is pinned as it",
                    pin.name
                ))
            })?;
            let path = self.lock.path().join(&pin.name);
            bpffs::pin_in(fd, dir, &path, &mut by_fd)?;
            // Noted at once, so that a failure undoes exactly the pins made.
            self.made.push(path);
        }
        Ok(())
    }

    /// The run is complete: everything stays, the lock goes.
    pub fn finish(self) {
        self.keep();
    }

    /// Leaves everything as it is for `detach` (a failed undo).
    pub fn keep(mut self) {
        self.keep = true;
        self.lock.keep();
    }
}

impl Drop for PinRun {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        for p in self.made.iter().rev() {
            let _ = fs::remove_file(p);
        }
        // The head first: from then on there is no record, and the rest is
        // leftovers `detach` removes.
        for i in 0..self.parts {
            let _ = fs::remove_file(self.lock.path().join(record::part_name(i)));
        }
        if let Some(note) = &self.note {
            let _ = fs::remove_file(note);
        }
    }
}

/// What each name of a run's record pins: the same names [`intent`] gives.
fn fds_by_pin_name<'a>(
    loaded: &'a Loaded,
    attachments: &'a [Attachment],
) -> Vec<(String, BorrowedFd<'a>)> {
    let mut fds = Vec::new();
    for map in loaded.maps.iter().filter(|m| !m.pin_by_name) {
        fds.push((bpffs::pin_name(bpffs::MAP_PREFIX, &map.name), map.fd()));
    }
    for p in &loaded.programs {
        fds.push((bpffs::pin_name(bpffs::PROG_PREFIX, p.name()), p.fd()));
    }
    for a in attachments {
        match (a.link(), a.program_fd()) {
            (Some(link), _) => fds.push((bpffs::pin_name(bpffs::LINK_PREFIX, &a.program), link)),
            (None, Some(prog)) => fds.push((bpffs::pin_name(bpffs::PROG_PREFIX, &a.program), prog)),
            (None, None) => {}
        }
    }
    fds
}

/// Writes `record` into `dir` as symlinks (see [`record`]), the first part
/// last: while it is missing, nothing reads a record that is not whole.
/// Each part made is added to `made`. No bpf() call.
pub fn write_record(dir: &Path, record: &Record, made: &mut Vec<PathBuf>) -> Result<()> {
    let parts = record::encode(record).map_err(refuse)?;
    for (i, part) in parts.iter().enumerate().rev() {
        made.push(symlink(dir, &record::part_name(i), part)?);
    }
    Ok(())
}

/// What `run` did to a cgroup, for [`pin_run`].
pub struct CgroupRecord<'a> {
    /// The cgroup the programs were attached to.
    pub cgroup: &'a Cgroup,
    /// `run` created the directory (the default `rawbpf` cgroup): `detach`
    /// removes it again when it is empty.
    pub created: bool,
}

/// Pins what a caller loaded and attached already, with its record: maps,
/// each attachment (the link, or the program of a legacy attachment), each
/// program not attached. All or nothing: on any failure every pin made
/// here is removed again (and the directory, if made here), and the
/// caller's attachments, still owned by it, detach when dropped. On
/// success the attachments are released to their pins.
///
/// The record is written before the first pin, so a link pinned here is
/// always within `detach`'s reach; legacy attachments made before this
/// call are not, until it has written the record: a caller that wants them
/// covered from the start follows [`PinRun`]'s order (record, then attach).
pub fn pin_run(
    dir: &PinDir,
    loaded: &Loaded,
    attachments: Vec<Attachment>,
    cgroup: Option<CgroupRecord<'_>>,
) -> Result<()> {
    let attached: Vec<Attached<'_>> = attachments
        .iter()
        .filter(|a| a.link().is_some() || a.program_fd().is_some())
        .map(|a| Attached {
            program: &a.program,
            attach_type: a.attach_type,
            link: a.link().is_some(),
        })
        .collect();
    let cgroup = cgroup
        .map(|c| CgroupIntent::of(c.cgroup, c.created))
        .transpose()?;
    let record = intent(loaded, cgroup.as_ref(), &attached)?;
    // begin() checks the record's names before it writes anything.
    let mut run = PinRun::begin(Locked::for_run(dir)?, &record)?;
    match run.pin(&record, loaded, &attachments) {
        Ok(()) => {
            for a in attachments {
                a.keep();
            }
            run.finish();
            Ok(())
        }
        Err(e) => {
            // Legacy attachments detached while the record still names them.
            drop(attachments);
            drop(run);
            Err(e)
        }
    }
}
