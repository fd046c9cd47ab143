//! `rawbpf run`: load an object, attach its cgroup programs, and either stay
//! until a stop signal or pin everything and exit.

use std::os::fd::AsFd;
use std::path::PathBuf;

use rawbpf::attach::cgroup::{self, AttachMode, Attachment, Cgroup};
use rawbpf::sys::{self, AttachFlags};
use rawbpf::uapi::{AttachType, MapType, ProgType};
use rawbpf::{pin as pins, Error, Loaded};

use super::{check_stop, non_empty, Failure, Usage, STOP_SIGNALS};

#[derive(Default)]
pub(super) struct RunArgs {
    object: Option<PathBuf>,
    cgroup: Option<PathBuf>,
    pin: Option<String>,
    legacy: Option<AttachFlags>,
    verbose: bool,
    btf: Option<PathBuf>,
}

pub(super) fn parse_run(args: &[String]) -> Result<RunArgs, Usage> {
    let mut out = RunArgs::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| Usage(format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--cgroup" => out.cgroup = Some(non_empty("--cgroup", value("--cgroup")?)?.into()),
            "--pin" => out.pin = Some(non_empty("--pin", value("--pin")?)?),
            "--legacy-attach" | "--legacy-attach=multi" => {
                out.legacy = Some(AttachFlags::ALLOW_MULTI)
            }
            "--legacy-attach=override" => out.legacy = Some(AttachFlags::ALLOW_OVERRIDE),
            "--verbose" | "-v" => out.verbose = true,
            "--trace" => sys::set_trace(true),
            "--btf" => out.btf = Some(value("--btf")?.into()),
            a if a.starts_with('-') => return Err(Usage(format!("unknown option '{a}'"))),
            a if out.object.is_none() => out.object = Some(a.into()),
            a => return Err(Usage(format!("unexpected argument '{a}'"))),
        }
    }
    Ok(out)
}

/// What `run` will do with each program of the object, known before any
/// bpf() call: (function name, attaches to a cgroup).
fn plan_programs(p: &rawbpf::load::Prepared<'_>) -> Vec<(String, bool)> {
    p.object
        .programs
        .iter()
        .filter_map(|&e| p.object.functions.get(e))
        .map(|f| {
            let cgroup = p
                .object
                .sections
                .get(f.section)
                .and_then(|s| rawbpf::load::program::ProgKind::from_section(&s.name))
                .is_some_and(|k| k.attaches_to_cgroup());
            (f.name.clone(), cgroup)
        })
        .collect()
}

pub(super) fn run(args: RunArgs) -> Result<(), Failure> {
    // From here SIGINT, SIGTERM and SIGHUP are noted instead of killing the
    // process; each step below checks, and returning undoes what was done.
    sys::install_stop_handlers(&STOP_SIGNALS).map_err(|e| Error::os("sigaction", e))?;

    // 1. Every argument is checked before the first bpf() call: the object
    // (read and parsed), the pin directory, the cgroup.
    let bytes: std::borrow::Cow<'_, [u8]> = match &args.object {
        Some(path) => rawbpf::load::read_object(path)?.into(),
        None => rawbpf::SEED_OBJECT.into(),
    };
    let prepared = rawbpf::load::prepare(&bytes)?;
    let programs = plan_programs(&prepared);
    let needs_cgroup = programs.iter().any(|(_, cg)| *cg);
    let mode = match args.legacy {
        Some(flags) => AttachMode::Legacy(flags),
        None => AttachMode::Link,
    };
    let pin_dir = match &args.pin {
        Some(pin) => {
            let dir = pins::resolve_pin_dir(pin, rawbpf::kernel::mounts::bpffs_root)?;
            let maps: Vec<(String, bool)> = prepared
                .maps
                .iter()
                .map(|m| (m.name.clone(), m.pin_by_name))
                .collect();
            let attached: Vec<(String, bool)> = programs
                .iter()
                .filter(|(_, cg)| *cg)
                .map(|(n, _)| (n.clone(), mode == AttachMode::Link))
                .collect();
            let unattached: Vec<String> = programs
                .iter()
                .filter(|(_, cg)| !*cg)
                .map(|(n, _)| n.clone())
                .collect();
            pins::check_free(&dir, &pins::planned_names(&maps, &attached, &unattached))?;
            Some(dir)
        }
        None => None,
    };
    let by_name: Vec<String> = prepared
        .maps
        .iter()
        .filter(|m| m.pin_by_name)
        .map(|m| m.name.clone())
        .collect();
    let cgroup = match (&args.cgroup, needs_cgroup) {
        (_, false) => None,
        (Some(dir), true) => Some(Cgroup::open(dir)?),
        (None, true) => Some(Cgroup::create("rawbpf")?),
    };
    if let (Some(_), Some(cg)) = (&pin_dir, &cgroup) {
        pins::check_cgroup_path(cg.path())?;
    }
    check_stop()?;

    // 2. Load and attach.
    if args.verbose {
        sys::start_call_log();
    }
    let reuse_from = pin_dir
        .as_ref()
        .filter(|d| d.exists)
        .map(|d| d.path.as_path());
    // The object parsed in step 1, not parsed again.
    let loaded = rawbpf::load::load_prepared(
        prepared,
        &rawbpf::load::Options {
            pin_dir: reuse_from,
            target_btf: args.btf.as_deref(),
        },
    )?;
    check_stop()?;
    let attachments = match &cgroup {
        Some(cg) => cgroup::attach_all(&loaded, cg, mode)?,
        None => Vec::new(),
    };
    // From here a stop signal is the normal end of a run without --pin
    // (detach and exit 0), and ends a run with --pin before it pins.
    // The load and attach calls only, before describe() adds its queries.
    let calls = sys::take_timed_call_log();
    if args.verbose {
        out!("{}", describe(&loaded, &attachments, cgroup.as_ref()));
        let names: Vec<&str> = calls.iter().map(|c| c.cmd.name()).collect();
        outln!(
            "bpf() calls to load and attach ({}): {}",
            names.len(),
            names.join(", ")
        );
        outln!("{}", call_time(&calls, "load and attach"));
    } else {
        // What the loader already knows: no query, no system call per object.
        out!("{}", summary(&loaded, &attachments, cgroup.as_ref()));
    }
    let unattached: Vec<&str> = loaded
        .programs
        .iter()
        .filter(|p| !attachments.iter().any(|a| a.program == p.name()))
        .map(|p| p.name())
        .collect();

    // 3a. With --pin: pin everything, all or nothing, and exit.
    if let Some(dir) = &pin_dir {
        check_stop()?;
        let record = cgroup.as_ref().map(|cg| pins::CgroupRecord {
            cgroup: cg,
            created: cg.removes_on_drop(),
        });
        if args.verbose {
            sys::start_call_log();
        }
        pins::pin_run(dir, &loaded, attachments, record)?;
        if args.verbose {
            outln!("{}", call_time(&sys::take_timed_call_log(), "pin"));
        }
        if !unattached.is_empty() {
            outln!(
                "pinned the programs not attached as prog_NAME: {}",
                unattached.join(", ")
            );
        }
        outln!(
            "pinned under {}; undo with: rawbpf detach --pin {}",
            dir.path.display(),
            dir.path.display()
        );
        // The cgroup stays: the pinned programs are attached to it.
        if let Some(cg) = cgroup {
            cg.keep();
        }
        return Ok(());
    }

    // 3b. Without --pin: stay until a stop signal, then undo everything.
    if !by_name.is_empty() {
        outln!(
            "maps asking to be pinned by name (LIBBPF_PIN_BY_NAME) are not pinned without --pin: {}",
            by_name.join(", ")
        );
    }
    if !unattached.is_empty() {
        outln!(
            "loaded but not attached (they go when rawbpf exits; --pin DIR keeps them): {}",
            unattached.join(", ")
        );
    }
    if attachments.is_empty() {
        outln!("loaded (no cgroup programs to attach); press Ctrl-C (or send SIGTERM) to unload and exit");
    } else {
        outln!("attached; press Ctrl-C (or send SIGTERM) to detach and exit");
    }
    let signals = sys::block_signals(&STOP_SIGNALS).map_err(|e| Error::os("sigprocmask", e))?;
    let sig = match sys::stop_signal() {
        Some(sig) => sig,
        None => signals.wait().map_err(|e| Error::os("sigwaitinfo", e))?,
    };
    for a in attachments {
        a.detach()?;
    }
    outln!("{}: detached", rawbpf::error::signal_name(sig));
    Ok(())
}

fn name(bytes: &[u8]) -> String {
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..len]).into_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How long `calls` took, summed (over threads, when programs load in
/// parallel), in all and by command.
fn call_time(calls: &[sys::Call], what: &str) -> String {
    let us = |nanos: u64| format!("{}.{} us", nanos / 1000, nanos % 1000 / 100);
    let mut by_cmd: Vec<(sys::Cmd, usize, u64)> = Vec::new();
    for call in calls {
        match by_cmd.iter_mut().find(|(cmd, ..)| *cmd == call.cmd) {
            Some((_, n, nanos)) => {
                *n += 1;
                *nanos += call.nanos;
            }
            None => by_cmd.push((call.cmd, 1, call.nanos)),
        }
    }
    let parts: Vec<String> = by_cmd
        .iter()
        .map(|&(cmd, n, nanos)| format!("{} x{n} {}", cmd.name(), us(nanos)))
        .collect();
    format!(
        "bpf() time: {} in {} calls to {what} ({})",
        us(calls.iter().map(|c| c.nanos).sum()),
        calls.len(),
        parts.join(", ")
    )
}

/// What the loader made, from what it already knows: one line per object and
/// not one system call (`--verbose` asks the kernel instead, see [`describe`]).
fn summary(loaded: &Loaded, attachments: &[Attachment], cgroup: Option<&Cgroup>) -> String {
    let mut out = String::new();
    for map in &loaded.maps {
        out += &format!(
            "map     {:<16} type {} key {} value {} entries {}\n",
            map.name,
            MapType(map.map_type),
            map.key_size,
            map.value_size,
            map.max_entries
        );
    }
    for prog in &loaded.programs {
        out += &format!(
            "prog    {:<16} type {} section {} ({} insns)\n",
            prog.name(),
            ProgType(prog.kind().prog_type),
            prog.section(),
            prog.insn_count()
        );
    }
    let target = cgroup
        .map(|c| c.path().display().to_string())
        .unwrap_or_default();
    for a in attachments {
        let how = if a.link().is_some() {
            "link  "
        } else {
            "legacy"
        };
        out += &format!(
            "{how}  {} -> {target} (attach type {})\n",
            a.program,
            AttachType(a.attach_type)
        );
    }
    out
}

/// What the kernel says it holds for this object, one line per object.
pub(super) fn describe(
    loaded: &Loaded,
    attachments: &[Attachment],
    cgroup: Option<&Cgroup>,
) -> String {
    let mut out = String::new();
    if let Some(btf) = &loaded.btf {
        if let Ok(info) = sys::btf_info(btf.as_fd()) {
            out += &format!("btf     id {}  {} bytes\n", info.id, info.btf_size);
        }
    }
    for map in &loaded.maps {
        if let Ok(info) = map.info() {
            out += &format!(
                "map     id {:<5} {:<16} type {} key {} value {} entries {}{}\n",
                info.id,
                name(&info.name),
                MapType(info.map_type),
                info.key_size,
                info.value_size,
                info.max_entries,
                if info.btf_id != 0 { "  (BTF)" } else { "" }
            );
        }
    }
    for prog in &loaded.programs {
        if let Ok((info, maps)) = prog.info() {
            out += &format!(
                "prog    id {:<5} {:<16} type {} tag {} verified insns {} maps {:?}\n",
                info.id,
                name(&info.name),
                ProgType(info.prog_type),
                hex(&info.tag),
                info.verified_insns,
                maps
            );
        }
    }
    for a in attachments {
        let target = cgroup
            .map(|c| c.path().display().to_string())
            .unwrap_or_default();
        match a.link().map(sys::link_info) {
            Some(Ok(info)) => {
                out += &format!(
                    "link    id {:<5} {} -> {target} (attach type {})\n",
                    info.id,
                    a.program,
                    AttachType(a.attach_type)
                )
            }
            _ => {
                out += &format!(
                    "attach  legacy  {} -> {target} (attach type {})\n",
                    a.program,
                    AttachType(a.attach_type)
                )
            }
        }
    }
    out
}
