//! `rawbpf run`: load an object, attach its cgroup programs, and either stay
//! until a stop signal or pin everything and exit.

use std::fmt::Write as _;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rawbpf::attach::cgroup::{self, AttachMode, Attachment, Cgroup};
use rawbpf::sys::{self, AttachFlags};
use rawbpf::uapi::{AttachType, MapType, ProgType};
use rawbpf::{pin as pins, Error, Loaded};

use super::{check_stop, non_empty, timing, Failure, Usage, STOP_SIGNALS};

#[derive(Default)]
pub(super) struct RunArgs {
    object: Option<PathBuf>,
    cgroup: Option<PathBuf>,
    pin: Option<String>,
    pin_maps: Option<String>,
    legacy: Option<AttachFlags>,
    no_attach: bool,
    verbose: bool,
    btf: Option<PathBuf>,
    threads: Option<usize>,
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
            "--pin-maps" => out.pin_maps = Some(non_empty("--pin-maps", value("--pin-maps")?)?),
            "--legacy-attach" | "--legacy-attach=multi" => {
                out.legacy = Some(AttachFlags::ALLOW_MULTI)
            }
            "--legacy-attach=override" => out.legacy = Some(AttachFlags::ALLOW_OVERRIDE),
            "--no-attach" => out.no_attach = true,
            "--verbose" | "-v" => out.verbose = true,
            "--trace" => sys::set_trace(true),
            "--btf" => out.btf = Some(value("--btf")?.into()),
            "--threads" => {
                let n = value("--threads")?;
                match n.parse::<usize>() {
                    Ok(n) if n > 0 => out.threads = Some(n),
                    _ => {
                        return Err(Usage(format!(
                            "--threads needs a count of 1 or more, not '{n}'"
                        )))
                    }
                }
            }
            a if a.starts_with('-') => return Err(Usage(format!("unknown option '{a}'"))),
            a if out.object.is_none() => out.object = Some(a.into()),
            a => return Err(Usage(format!("unexpected argument '{a}'"))),
        }
    }
    if out.no_attach {
        if out.pin.is_none() {
            return Err(Usage(
                "--no-attach needs --pin DIR (it pins the programs instead of attaching them)"
                    .into(),
            ));
        }
        if out.cgroup.is_some() || out.legacy.is_some() {
            return Err(Usage(
                "--no-attach attaches nothing: it takes no --cgroup or --legacy-attach".into(),
            ));
        }
    }
    Ok(out)
}

/// The cgroup a run attaches to, chosen before any bpf() call.
enum CgroupPlan {
    /// Nothing to attach (no cgroup program, or --no-attach).
    None,
    /// A cgroup that is there: given with --cgroup, or the default one.
    There { cgroup: Cgroup, made: bool },
    /// The default cgroup, missing: a pinned run makes it after its record.
    ToMake(PathBuf),
}

/// Everything `run` checks before its first bpf() call.
struct Plan {
    /// The names of the programs `run` attaches, sorted.
    attached: Vec<String>,
    mode: AttachMode,
    pin: Option<pins::PinDir>,
    /// What a pinned run will pin, by name.
    names: Vec<(String, pins::PinKind)>,
    cgroup: CgroupPlan,
    /// Where maps are pinned by name: --pin-maps, else the bpffs mount.
    pin_maps: Option<PathBuf>,
}

/// What `run` will do with each program of the object, known before any
/// bpf() call: (function name, attached to the cgroup).
fn plan_programs(spec: &rawbpf::ObjectSpec<'_>, attach: bool) -> Vec<(String, bool)> {
    spec.programs()
        .filter(|p| p.autoload())
        .map(|p| (p.name().to_string(), attach && p.attaches_to_cgroup()))
        .collect()
}

impl Plan {
    /// Checks the object's names, the pin directory and the cgroup.
    fn new(args: &RunArgs, prepared: &rawbpf::ObjectSpec<'_>) -> Result<Plan, Failure> {
        let programs = plan_programs(prepared, !args.no_attach);
        let mode = match args.legacy {
            Some(flags) => AttachMode::Legacy(flags),
            None => AttachMode::Link,
        };
        let maps: Vec<String> = prepared
            .maps()
            .filter(|m| !m.pin_by_name())
            .map(|m| m.name().to_string())
            .collect();
        let attached: Vec<(String, bool)> = programs
            .iter()
            .filter(|(_, a)| *a)
            .map(|(n, _)| (n.clone(), mode == AttachMode::Link))
            .collect();
        let unattached: Vec<String> = programs
            .iter()
            .filter(|(_, a)| !*a)
            .map(|(n, _)| n.clone())
            .collect();
        let names = pins::planned_names(&maps, &attached, &unattached);
        let pin = match &args.pin {
            Some(pin) => {
                pins::check_names(&names)?;
                Some(pins::resolve_pin_dir(
                    pin,
                    rawbpf::kernel::mounts::bpffs_root,
                )?)
            }
            None => None,
        };
        let bpffs_root = rawbpf::kernel::mounts::bpffs_root;
        let pin_maps = match &args.pin_maps {
            Some(dir) => Some(pins::resolve_pin_root(dir, bpffs_root)?),
            // libbpf's default root, mounted if absent as for a relative --pin.
            None if prepared.maps().any(|m| m.pin_by_name()) => Some(bpffs_root()?),
            None => None,
        };
        let cgroup = plan_cgroup(args, !attached.is_empty(), pin.is_some())?;
        let mut attached: Vec<String> = attached.into_iter().map(|(n, _)| n).collect();
        attached.sort();
        Ok(Plan {
            attached,
            mode,
            pin,
            names,
            cgroup,
            pin_maps,
        })
    }

    /// Whether `run` attaches the program `name`.
    fn attaches(&self, name: &str) -> bool {
        self.attached
            .binary_search_by(|a| a.as_str().cmp(name))
            .is_ok()
    }
}

/// The cgroup: --cgroup's, or `rawbpf` under the cgroup2 root, made now
/// for a run without --pin, and after the record for one with --pin.
fn plan_cgroup(args: &RunArgs, attaches: bool, pinned: bool) -> Result<CgroupPlan, Failure> {
    let plan = match (&args.cgroup, attaches) {
        (_, false) => CgroupPlan::None,
        (Some(dir), true) => CgroupPlan::There {
            cgroup: Cgroup::open(dir)?,
            made: false,
        },
        (None, true) if !pinned => {
            let cgroup = Cgroup::create(DEFAULT_CGROUP)?;
            let made = cgroup.removes_on_drop();
            CgroupPlan::There { cgroup, made }
        }
        (None, true) => {
            let path = rawbpf::kernel::mounts::cgroup2_root()?.join(DEFAULT_CGROUP);
            match path.exists() {
                true => CgroupPlan::There {
                    cgroup: Cgroup::open(&path)?,
                    made: false,
                },
                false => CgroupPlan::ToMake(path),
            }
        }
    };
    if pinned {
        match &plan {
            CgroupPlan::There { cgroup, .. } => pins::check_cgroup_path(cgroup.path())?,
            CgroupPlan::ToMake(path) => pins::check_cgroup_path(path)?,
            CgroupPlan::None => {}
        }
    }
    Ok(plan)
}

/// The cgroup `run` attaches to when no --cgroup is given.
const DEFAULT_CGROUP: &str = "rawbpf";

pub(super) fn run(args: RunArgs) -> Result<(), Failure> {
    // A failure this process's own limits caused (EMFILE opening the
    // object, ENOMEM creating a map) says so, wherever it came.
    run_steps(args).map_err(|f| match f {
        Failure::Run(e) => Failure::Run(rawbpf::kernel::limits::explain(e)),
        f => f,
    })
}

fn run_steps(args: RunArgs) -> Result<(), Failure> {
    // From here SIGINT, SIGTERM and SIGHUP are noted instead of killing the
    // process; each step below checks, and returning undoes what was done.
    sys::install_stop_handlers(&STOP_SIGNALS).map_err(|e| Error::os("sigaction", e))?;
    if args.verbose {
        timing::start();
    }

    // 1. Every argument is checked before the first bpf() call: the object
    // (read and parsed), the pin directory, the cgroup.
    let bytes: std::borrow::Cow<'_, [u8]> = match &args.object {
        Some(path) => rawbpf::load::read_object(path)?.into(),
        None => rawbpf::SEED_OBJECT.into(),
    };
    let mut prepared = rawbpf::ObjectSpec::parse(&bytes)?;
    // libbpf's object name: the kernel's names of the global-data maps.
    prepared.set_name(&match &args.object {
        Some(path) => rawbpf::object::spec::object_name(path),
        None => rawbpf::SEED_NAME.into(),
    });
    timing::mark("read and parse the object");
    let plan = Plan::new(&args, &prepared)?;
    check_stop()?;
    match &plan.pin {
        Some(dir) => run_pinned(&args, prepared, &plan, dir),
        None => run_and_wait(&args, prepared, plan),
    }
}

/// Loads the prepared object; maps pinned by name are reused from, or
/// pinned in, `pin_maps`.
fn load(
    args: &RunArgs,
    prepared: rawbpf::ObjectSpec<'_>,
    pin_maps: Option<&Path>,
) -> Result<Loaded, Failure> {
    if args.verbose {
        sys::start_call_log();
    }
    // The object parsed in step 1, not parsed again.
    let mut options = rawbpf::LoadOptions::default().cancel(sys::stop_flag());
    if let Some(dir) = pin_maps {
        options = options.pin_maps(dir);
    }
    if let Some(btf) = &args.btf {
        options = options.target_btf(btf);
    }
    if let Some(n) = args.threads {
        options = options.threads(n);
    }
    let loaded = prepared.load(&options).map_err(super::stopped)?;
    check_stop()?;
    timing::mark("load");
    Ok(loaded)
}

/// Attaches the planned programs to `cgroup`.
fn attach(loaded: &Loaded, cgroup: Option<&Cgroup>, plan: &Plan) -> Result<Vec<Attachment>, Error> {
    let Some(cg) = cgroup else {
        return Ok(Vec::new());
    };
    loaded
        .programs
        .iter()
        .filter(|p| plan.attaches(p.name()))
        .map(|p| cgroup::attach(p, cg, plan.mode))
        .collect()
}

/// `run --pin`: the protocol of `rawbpf::pin` (its module doc), step by
/// step: lock the directory, load, record, make the cgroup, attach, pin.
fn run_pinned(
    args: &RunArgs,
    prepared: rawbpf::ObjectSpec<'_>,
    plan: &Plan,
    dir: &pins::PinDir,
) -> Result<(), Failure> {
    let lock = pins::Locked::for_run(dir)?;
    let held = pins::PinDir {
        path: lock.path().to_path_buf(),
        exists: true,
    };
    pins::check_free(&held, &plan.names)?;
    check_stop()?;
    timing::mark("check, lock the pin dir");
    let loaded = load(args, prepared, plan.pin_maps.as_deref())?;
    // A run that fails leaves nothing behind: not the pins by name it made.
    pin_loaded(args, &loaded, plan, lock).inspect_err(|_| loaded.unpin_made_by_name())
}

/// `run --pin` once loaded: record, make the cgroup, attach, pin.
fn pin_loaded(
    args: &RunArgs,
    loaded: &Loaded,
    plan: &Plan,
    lock: pins::Locked,
) -> Result<(), Failure> {
    let record = record_of(loaded, plan)?;
    let mut run = pins::PinRun::begin(lock, &record)?;
    check_stop()?;
    timing::mark("record");
    let made = match &plan.cgroup {
        CgroupPlan::ToMake(_) => Some(run.make_cgroup(DEFAULT_CGROUP)?),
        _ => None,
    };
    let cgroup = match &plan.cgroup {
        CgroupPlan::There { cgroup, .. } => Some(cgroup),
        _ => made.as_ref(),
    };
    let attachments = attach(loaded, cgroup, plan)?;
    timing::mark("attach");
    report_loaded(args, loaded, &attachments, cgroup);
    timing::mark("--verbose's queries");
    let pinned = check_stop().and_then(|()| {
        if args.verbose {
            sys::start_call_log();
        }
        run.pin(&record, loaded, &attachments)
    });
    if let Err(e) = pinned {
        return Err(undo(e, attachments, run).into());
    }
    if args.verbose {
        timing::mark("pin");
        let calls = sys::take_timed_call_log();
        timing::add_calls(&calls);
        outln!("{}", call_time(&calls, "pin"));
        outln!("{}", timing::report());
    }
    for a in attachments {
        a.keep();
    }
    // The cgroup stays: the pinned programs are attached to it.
    if let Some(cg) = made {
        cg.keep();
    }
    let path = run.path().to_path_buf();
    run.finish();
    print_pinned(loaded, plan, &path);
    Ok(())
}

/// The record of a pinned run: what it will pin and attach, and where.
fn record_of(loaded: &Loaded, plan: &Plan) -> Result<pins::Record, Error> {
    let cgroup = match &plan.cgroup {
        CgroupPlan::None => None,
        CgroupPlan::There { cgroup, made } => Some(pins::CgroupIntent::of(cgroup, *made)?),
        CgroupPlan::ToMake(path) => Some(pins::CgroupIntent {
            path: path.clone(),
            id: 0,
            made: pins::Made::Pending,
        }),
    };
    let attached: Vec<pins::Attached<'_>> = loaded
        .programs
        .iter()
        .filter(|p| plan.attaches(p.name()))
        .map(|p| pins::Attached {
            program: p.name(),
            attach_type: p.kind().expected_attach_type,
            link: plan.mode == AttachMode::Link,
        })
        .collect();
    pins::intent(loaded, cgroup.as_ref(), &attached)
}

/// Undoes a pinned run that failed after attaching: its legacy
/// attachments first, while the record still names them, then (dropping
/// `run`) its pins and record. If an attachment cannot be detached,
/// everything stays for `detach`, and the error says so.
fn undo(e: Error, attachments: Vec<Attachment>, run: pins::PinRun) -> Error {
    let failed: Vec<String> = attachments
        .into_iter()
        .filter_map(|a| a.detach().err().map(|e| e.to_string()))
        .collect();
    if failed.is_empty() {
        drop(run);
        return e;
    }
    let dir = run.path().display().to_string();
    run.keep();
    Error::Env(format!(
        "{e}\nand undoing the run failed ({}); what it made is left for `rawbpf detach --pin {dir}`",
        failed.join("; ")
    ))
}

/// What a pinned run says at its end.
fn print_pinned(loaded: &Loaded, plan: &Plan, dir: &Path) {
    let unattached: Vec<&str> = loaded
        .programs
        .iter()
        .filter(|p| !plan.attaches(p.name()))
        .map(|p| p.name())
        .collect();
    if !unattached.is_empty() {
        outln!(
            "pinned the programs not attached as prog_NAME: {}",
            unattached.join(", ")
        );
    }
    outln!(
        "pinned under {}; undo with: rawbpf detach --pin {}",
        dir.display(),
        dir.display()
    );
}

/// What was loaded and attached: from what the loader knows, or with
/// `--verbose` from the kernel, with the bpf() calls it took.
fn report_loaded(args: &RunArgs, loaded: &Loaded, attachments: &[Attachment], cg: Option<&Cgroup>) {
    // The load and attach calls only, before describe() adds its queries.
    let calls = sys::take_timed_call_log();
    timing::add_calls(&calls);
    for p in &loaded.pinned_by_name {
        let how = if p.made { "pinned" } else { "reused" };
        outln!("map     {} {how} by name: {}", p.map, p.path.display());
    }
    if loaded.programs.is_empty() {
        outln!("the object has no programs: its maps were created; nothing to attach");
    }
    if !args.verbose {
        // What the loader already knows: no query, no system call per object.
        out!("{}", summary(loaded, attachments, cg));
        return;
    }
    // describe()'s queries are timed as a step of their own.
    sys::start_call_log();
    out!("{}", describe(loaded, attachments, cg));
    timing::add_calls(&sys::take_timed_call_log());
    let names: Vec<&str> = calls.iter().map(|c| c.cmd.name()).collect();
    // A pinned run records each attached program's id before attaching.
    let what = match args.pin {
        Some(_) => "load, record and attach",
        None => "load and attach",
    };
    outln!(
        "bpf() calls to {what} ({}): {}",
        names.len(),
        names.join(", ")
    );
    outln!("{}", call_time(&calls, what));
}

/// `run` without --pin: load, attach, stay until a stop signal, then undo
/// everything.
fn run_and_wait(
    args: &RunArgs,
    prepared: rawbpf::ObjectSpec<'_>,
    plan: Plan,
) -> Result<(), Failure> {
    let cgroup = match plan.cgroup {
        CgroupPlan::There { ref cgroup, .. } => Some(cgroup),
        _ => None,
    };
    timing::mark("check");
    let loaded = load(args, prepared, plan.pin_maps.as_deref())?;
    let attachments =
        attach(&loaded, cgroup, &plan).inspect_err(|_| loaded.unpin_made_by_name())?;
    timing::mark("attach");
    report_loaded(args, &loaded, &attachments, cgroup);
    if args.verbose {
        outln!("{}", timing::report());
    }
    let unattached: Vec<&str> = loaded
        .programs
        .iter()
        .filter(|p| !attachments.iter().any(|a| a.program == p.name()))
        .map(|p| p.name())
        .collect();
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
        .map(|&(cmd, n, nanos)| format!("{} x{n} {}", cmd.name(), timing::Us(nanos)))
        .collect();
    format!(
        "bpf() time: {} in {} calls to {what} ({})",
        timing::Us(calls.iter().map(|c| c.nanos).sum()),
        calls.len(),
        parts.join(", ")
    )
}

/// What the loader made, from what it already knows: one line per object and
/// not one system call (`--verbose` asks the kernel instead, see [`describe`]).
fn summary(loaded: &Loaded, attachments: &[Attachment], cgroup: Option<&Cgroup>) -> String {
    // Written into one buffer: an object may have hundreds of lines.
    let mut out = String::new();
    for map in &loaded.maps {
        let _ = writeln!(
            out,
            "map     {:<16} type {} key {} value {} entries {}",
            map.name(),
            map.map_type(),
            map.key_size(),
            map.value_size(),
            map.max_entries()
        );
    }
    for prog in &loaded.programs {
        let _ = writeln!(
            out,
            "prog    {:<16} type {} section {} ({} insns)",
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
        let _ = writeln!(
            out,
            "{how}  {} -> {target} (attach type {})",
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
    // Each program's BPF_PROG_LOAD time, when `run --verbose` timed them.
    let load_nanos = timing::prog_load_nanos();
    // One call per program in load order; anything else (a retry after
    // EAGAIN) and the times are not shown rather than shown wrong.
    let load_nanos = match load_nanos.len() == loaded.programs.len() {
        true => &load_nanos[..],
        false => &[],
    };
    for (i, prog) in loaded.programs.iter().enumerate() {
        if let Ok((info, maps)) = prog.info() {
            let time = load_nanos
                .get(i)
                .map(|&n| format!(" in {}", timing::Us(n)))
                .unwrap_or_default();
            out += &format!(
                "prog    id {:<5} {:<16} type {} tag {} verified insns {}{time} maps {:?}\n",
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
        out += &describe_attachment(a, cgroup);
    }
    out
}

/// One attachment, with its link id when a BPF link holds it.
fn describe_attachment(a: &Attachment, cgroup: Option<&Cgroup>) -> String {
    let target = cgroup
        .map(|c| c.path().display().to_string())
        .unwrap_or_default();
    match a.link().map(sys::link_info) {
        Some(Ok(info)) => format!(
            "link    id {:<5} {} -> {target} (attach type {})\n",
            info.id,
            a.program,
            AttachType(a.attach_type)
        ),
        _ => format!(
            "attach  legacy  {} -> {target} (attach type {})\n",
            a.program,
            AttachType(a.attach_type)
        ),
    }
}
