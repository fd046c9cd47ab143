//! `rawbpf show`: what the kernel has attached to a cgroup and what is
//! pinned under a bpffs directory.

use std::path::PathBuf;

use rawbpf::Error;

use super::{Failure, Usage};

pub(super) fn show(args: &[String]) -> Result<(), Failure> {
    let (mut pin, mut cg) = (None, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match (arg.as_str(), it.next()) {
            ("--pin", Some(v)) => pin = Some(v.clone()),
            ("--cgroup", Some(v)) => cg = Some(PathBuf::from(v)),
            (a, _) => {
                return Err(Usage(format!(
                    "unexpected argument '{a}' (show takes [--cgroup DIR] [--pin DIR])"
                ))
                .into())
            }
        }
    }
    if pin.is_none() && cg.is_none() {
        cg = Some(
            rawbpf::kernel::mounts::find_mount("cgroup2")?
                .ok_or_else(|| Error::Env("no cgroup2 hierarchy is mounted".into()))?,
        );
        pin = rawbpf::kernel::mounts::find_mount("bpf")?.map(|p| p.display().to_string());
    }
    if let Some(dir) = cg {
        let attached = rawbpf::show::cgroup_attachments(&dir)?;
        out!("{}", rawbpf::show::format_attachments(&dir, &attached));
    }
    if let Some(pin) = pin {
        let dir = if pin.starts_with('/') {
            PathBuf::from(pin)
        } else {
            rawbpf::kernel::mounts::find_mount("bpf")?
                .ok_or_else(|| Error::Env(format!("no bpffs is mounted to find '{pin}' in")))?
                .join(pin)
        };
        let pins = rawbpf::show::pins(&dir)?;
        out!("{}", rawbpf::show::format_pins(&dir, &pins));
    }
    Ok(())
}
