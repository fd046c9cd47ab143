//! `rawbpf detach`: undo what `run --pin` left, as its record says.

use rawbpf::attach::cgroup::Cgroup;
use rawbpf::{pin as pins, Error};

use super::{non_empty, Failure, Usage};

pub(super) fn detach(args: &[String]) -> Result<(), Failure> {
    detach_pinned(args).map_err(|f| match f {
        Failure::Run(e) => Failure::Run(rawbpf::kernel::limits::explain(e)),
        f => f,
    })
}

fn detach_pinned(args: &[String]) -> Result<(), Failure> {
    let (mut pin, mut cg) = (None, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match (arg.as_str(), it.next()) {
            ("--pin", Some(v)) => pin = Some(non_empty("--pin", v.clone())?),
            ("--cgroup", Some(v)) => cg = Some(non_empty("--cgroup", v.clone())?),
            (a, _) => {
                return Err(Usage(format!(
                    "unexpected argument '{a}' (detach takes --pin DIR [--cgroup DIR])"
                ))
                .into())
            }
        }
    }
    let pin = pin.ok_or_else(|| Usage("detach needs --pin DIR".into()))?;
    let dir = pins::resolve_pin_dir(&pin, || {
        rawbpf::kernel::mounts::find_mount("bpf")?
            .ok_or_else(|| Error::Env("no bpf file system is mounted".into()))
    })?;
    let cgroup = cg.map(Cgroup::open).transpose()?;
    let report = pins::detach(&dir, cgroup.as_ref())?;
    for note in &report.notes {
        outln!("{note}");
    }
    outln!(
        "detached {} program(s) pinned under {}",
        report.detached,
        dir.path.display()
    );
    Ok(())
}
