//! `rawbpf show`: what the kernel has attached to a cgroup and what is
//! pinned under a bpffs directory; with no arguments, the cgroup2 root's
//! attachments and every `rawbpf run --pin` directory. `--json` prints the
//! same as one JSON object (keys documented in the README).

use std::path::{Path, PathBuf};

use rawbpf::show::{self, Attached, PinKind, PinListing, Pinned};
use rawbpf::uapi::{AttachType, LinkType, MapType, ProgType};
use rawbpf::Error;

use super::json::Json;
use super::{Failure, Usage};

#[derive(Default)]
struct ShowArgs {
    cgroup: Option<PathBuf>,
    pin: Option<String>,
    json: bool,
}

fn parse(args: &[String]) -> Result<ShowArgs, Usage> {
    let mut out = ShowArgs::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| Usage(format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--json" | "-j" => out.json = true,
            "--pin" => out.pin = Some(value()?),
            "--cgroup" => out.cgroup = Some(value()?.into()),
            a => return Err(Usage(format!("unexpected argument '{a}'"))),
        }
    }
    Ok(out)
}

fn bpffs_mount() -> Result<PathBuf, Error> {
    rawbpf::kernel::mounts::find_mount("bpf")?
        .ok_or_else(|| Error::Env("no bpffs is mounted".into()))
}

pub(super) fn show(args: &[String]) -> Result<(), Failure> {
    let args = parse(args)?;
    let mut report = Vec::new();
    if args.cgroup.is_none() && args.pin.is_none() {
        let root = rawbpf::kernel::mounts::find_mount("cgroup2")?
            .ok_or_else(|| Error::Env("no cgroup2 hierarchy is mounted".into()))?;
        report.push(cgroup_section(&root)?);
        if let Some(bpffs) = rawbpf::kernel::mounts::find_mount("bpf")? {
            report.extend(run_sections(&bpffs)?);
        }
    }
    if let Some(dir) = &args.cgroup {
        report.push(cgroup_section(dir)?);
    }
    if let Some(pin) = &args.pin {
        let dir = if pin.starts_with('/') {
            PathBuf::from(pin)
        } else {
            bpffs_mount()?.join(pin)
        };
        let listing = show::pins(&dir)?;
        report.push(Section::Pins(dir, listing));
    }
    if args.json {
        outln!("{}", json(&report).render());
    } else {
        for section in &report {
            out!("{}", section.text());
        }
    }
    Ok(())
}

/// One part of the report.
enum Section {
    Cgroup(PathBuf, Vec<Attached>),
    Pins(PathBuf, PinListing),
    /// A directory of `run_dirs` that could not be read.
    Skipped(PathBuf, String),
}

fn cgroup_section(dir: &Path) -> Result<Section, Error> {
    Ok(Section::Cgroup(
        dir.to_path_buf(),
        show::cgroup_attachments(dir)?,
    ))
}

/// Every `rawbpf run --pin` directory under the bpffs mount.
fn run_sections(bpffs: &Path) -> Result<Vec<Section>, Error> {
    let (dirs, skipped) = show::run_dirs(bpffs)?;
    let mut out: Vec<Section> = skipped
        .into_iter()
        .map(|(dir, why)| Section::Skipped(dir, why))
        .collect();
    for dir in dirs {
        match show::pins(&dir) {
            Ok(listing) => out.push(Section::Pins(dir, listing)),
            Err(e) => out.push(Section::Skipped(dir, e.to_string())),
        }
    }
    if out.is_empty() {
        out.push(Section::Pins(bpffs.to_path_buf(), PinListing::default()));
    }
    Ok(out)
}

impl Section {
    fn text(&self) -> String {
        match self {
            Section::Cgroup(dir, attached) => show::format_attachments(dir, attached),
            Section::Pins(dir, listing) => show::format_pins(dir, listing),
            Section::Skipped(dir, why) => format!("{}: skipped: {why}\n", dir.display()),
        }
    }
}

/// The report as JSON: `{"cgroups": [...], "pins": [...], "skipped": [...]}`.
fn json(report: &[Section]) -> Json {
    let (mut cgroups, mut pins, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for section in report {
        match section {
            Section::Cgroup(dir, attached) => cgroups.push(Json::Obj(vec![
                ("path", Json::str(dir.display().to_string())),
                (
                    "attached",
                    Json::Arr(attached.iter().map(attached_json).collect()),
                ),
            ])),
            Section::Pins(_, listing) => {
                pins.extend(listing.pins.iter().map(pinned_json));
                skipped.extend(listing.skipped.iter().map(|(p, why)| skipped_json(p, why)));
            }
            Section::Skipped(dir, why) => skipped.push(skipped_json(dir, why)),
        }
    }
    Json::Obj(vec![
        ("cgroups", Json::Arr(cgroups)),
        ("pins", Json::Arr(pins)),
        ("skipped", Json::Arr(skipped)),
    ])
}

fn attached_json(a: &Attached) -> Json {
    Json::Obj(vec![
        (
            "attach_type",
            Json::str(AttachType(a.attach_type).to_string()),
        ),
        ("prog_id", Json::Num(a.prog_id.into())),
        ("prog_name", Json::str(a.prog_name.clone())),
        ("prog_type", Json::str(ProgType(a.prog_type).to_string())),
        (
            "link_id",
            a.link_id.map_or(Json::Null, |id| Json::Num(id.into())),
        ),
        ("flags", Json::Num(a.flags.bits().into())),
    ])
}

fn pinned_json(p: &Pinned) -> Json {
    let (kind, type_name) = match p.kind {
        PinKind::Prog => ("prog", ProgType(p.type_).to_string()),
        PinKind::Map => ("map", MapType(p.type_).to_string()),
        PinKind::Link => ("link", LinkType(p.type_).to_string()),
    };
    let (prog_id, attach_type) = p.link.unwrap_or((0, None));
    Json::Obj(vec![
        ("path", Json::str(p.path.display().to_string())),
        ("kind", Json::str(kind)),
        ("id", Json::Num(p.id.into())),
        ("name", Json::str(p.name.clone())),
        ("type", Json::str(type_name)),
        (
            "prog_id",
            p.link.map_or(Json::Null, |_| Json::Num(prog_id.into())),
        ),
        (
            "attach_type",
            attach_type.map_or(Json::Null, |t| Json::str(AttachType(t).to_string())),
        ),
    ])
}

fn skipped_json(path: &Path, why: &str) -> Json {
    Json::Obj(vec![
        ("path", Json::str(path.display().to_string())),
        ("reason", Json::str(why)),
    ])
}
