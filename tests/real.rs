//! Objects libbpf loads and rawbpf once refused, one class each (issue
//! "real objects, round 2"): a `__hidden` global subprogram, several
//! kfuncs, a map of maps whose value is spelled `int`, a ring buffer of
//! an odd size, objects without programs, an exception callback, an
//! `__arg_ctx` argument, and struct_ops (refused on purpose, by name).
//!
//! The tests over bytes need no root; the kernel tests load the objects of
//! bpf/ and check what the kernel did (test runs, map reads,
//! OBJ_GET_INFO). Where a kernel lacks a construct (exceptions before 6.7,
//! arg tags before 6.8) they check the load fails saying so and print NOT
//! APPLICABLE.

mod common;

use std::io::Write;

use common::*;
use rawbpf::object::btf::types::scan_records;
use rawbpf::object::btf::{kind, Btf, Header, Type};
use rawbpf::object::externs::{self, Extern, ExternKind, Externs, Resolution, Sources};
use rawbpf::object::maps::{self, MapSource, SlotTarget};
use rawbpf::object::reloc;
use rawbpf::{Error, ErrorKind, ObjectSpec};

const HIDDEN: &[u8] = include_bytes!("../bpf/hidden_subprog.bpf.o");
const KFUNCS: &[u8] = include_bytes!("../bpf/kfuncs.bpf.o");
const MAPS_ONLY: &[u8] = include_bytes!("../bpf/maps_only.bpf.o");
const TEXT_ONLY: &[u8] = include_bytes!("../bpf/text_only.bpf.o");
const EXCEPTIONS: &[u8] = include_bytes!("../bpf/exceptions.bpf.o");
const ARG_CTX: &[u8] = include_bytes!("../bpf/arg_ctx.bpf.o");
const STRUCT_OPS: &[u8] = include_bytes!("../bpf/struct_ops.bpf.o");
const NAKED: &[u8] = include_bytes!("../bpf/naked.bpf.o");

fn not_applicable(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "NOT APPLICABLE: {test}: {why}");
}

/// The running kernel's BTF, parsed whole: the independent answer.
fn vmlinux() -> Btf {
    let bytes = std::fs::read("/sys/kernel/btf/vmlinux").expect("the kernel publishes its BTF");
    rawbpf::object::btf::Btf::parse(&bytes).unwrap()
}

fn u32_global(loaded: &rawbpf::Loaded, name: &str) -> u32 {
    let b = loaded.global(name).unwrap();
    u32::from_ne_bytes(b[..4].try_into().unwrap())
}

/// The linkage (0 static, 1 global) of the FUNC named `name`.
fn func_linkage(spec: &ObjectSpec<'_>, name: &str) -> u16 {
    let btf = spec.btf().unwrap();
    let id = btf.find(kind::FUNC, name).unwrap();
    btf.get(id).unwrap().vlen
}

// ---------------------------------------------------------------------------
// 1. __hidden global subprograms

#[test]
fn hidden_global_function_is_static_in_the_btf_the_kernel_gets() {
    let spec = ObjectSpec::parse(HIDDEN).unwrap();
    let f = spec.object().functions.iter().find(|f| f.name == "add_one");
    assert!(f.is_some_and(|f| f.global && f.hidden), "{f:?}");
    assert_eq!(func_linkage(&spec, "add_one"), 0, "made static");
    assert_eq!(
        func_linkage(&spec, "call_hidden"),
        1,
        "the program stays global"
    );
}

#[test]
fn hidden_global_function_is_verified_with_its_caller() {
    require_root();
    let loaded = load(HIDDEN).unwrap_or_else(|e| panic!("{e}"));
    let run = loaded.program("call_hidden").unwrap();
    assert_eq!(run.test_run(&udp_packet(), &[]).unwrap().retval, 0);
    assert_eq!(u32_global(&loaded, "result"), 42);
}

/// clang leaves a naked function's parameter unnamed; the kernel refuses
/// that in any FUNC, so it is named after the function.
#[test]
fn naked_function_parameters_are_named() {
    let raw = rawbpf::object::elf::Object::parse(NAKED)
        .unwrap()
        .btf
        .unwrap();
    let param_name = |btf: &Btf| {
        let func = btf
            .get(btf.find(kind::FUNC, "naked_prog").unwrap())
            .unwrap();
        let proto = btf.get(func.size_or_type).unwrap();
        btf.name(proto.param(0).unwrap().0).unwrap().to_string()
    };
    assert_eq!(param_name(&Btf::parse(raw).unwrap()), "");
    let spec = ObjectSpec::parse(NAKED).unwrap();
    assert_eq!(param_name(spec.btf().unwrap()), "naked_prog");
}

#[test]
fn naked_function_loads_with_its_btf() {
    require_root();
    let loaded = load(NAKED).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.btf.is_some());
    let prog = loaded.program("naked_prog").unwrap();
    assert_eq!(prog.test_run(&udp_packet(), &[]).unwrap().retval, 1);
}

// ---------------------------------------------------------------------------
// 2. kfuncs

/// The kfuncs of one BTF: FUNCs tagged `bpf_kfunc` (pahole 1.25 on), else
/// every FUNC named `bpf_*`, each with the id of the first FUNC of its
/// name (what a lookup by name finds), in one pass. `ty(i)` is the i-th
/// type of the file, `name` reads a name, ids start at `first_id`.
fn kfuncs_of(
    count: usize,
    first_id: u32,
    ty: &dyn Fn(usize) -> Type<'static>,
    name: &dyn Fn(u32) -> Option<String>,
) -> Vec<(String, u32)> {
    let mut first_func = std::collections::BTreeMap::new();
    let (mut tagged, mut bpf_funcs) = (Vec::new(), Vec::new());
    for i in 0..count {
        let t = ty(i);
        let Some(n) = name(t.name_off) else { continue };
        if t.kind == kind::FUNC {
            first_func.entry(n.clone()).or_insert(first_id + i as u32);
            if n.starts_with("bpf_") {
                bpf_funcs.push(n);
            }
        } else if t.kind == kind::DECL_TAG && n == "bpf_kfunc" {
            tagged.push(t.size_or_type);
        }
    }
    let mut names: Vec<String> = tagged
        .iter()
        .filter_map(|&id| id.checked_sub(first_id))
        .filter_map(|i| name(ty(i as usize).name_off))
        .collect();
    if names.is_empty() {
        names = bpf_funcs;
    }
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|n| Some((first_func.get(&n).copied()?, n)))
        .map(|(id, n)| (n, id))
        .collect()
}

/// vmlinux's kfuncs, from a full parse.
fn kernel_kfuncs(btf: &Btf) -> Vec<(String, u32)> {
    let ty = |i: usize| btf.get(i as u32 + 1).unwrap().into_owned();
    let name = |off| btf.name(off).ok().map(str::to_string);
    kfuncs_of(btf.len() - 1, 1, &ty, &name)
}

/// The kfuncs of every loaded module's split BTF that vmlinux lacks:
/// (module, name, id). A module's ids continue vmlinux's, and its string
/// offsets continue vmlinux's string section.
fn module_kfuncs(vmlinux: &Btf) -> Vec<(String, String, u32)> {
    let base = std::fs::read("/sys/kernel/btf/vmlinux").unwrap();
    let base_strs = Header::parse(&base).unwrap().str_len;
    // vmlinux's FUNC names, once: a name vmlinux has resolves there.
    let mut in_vmlinux = std::collections::BTreeSet::new();
    for id in 1..vmlinux.len() as u32 {
        let t = vmlinux.get(id).unwrap();
        if t.kind == kind::FUNC {
            in_vmlinux.insert(vmlinux.name(t.name_off).unwrap().to_string());
        }
    }
    // In name order, as the loader searches them: the first module wins.
    let mut modules: Vec<String> = std::fs::read_dir("/sys/kernel/btf")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|m| m != "vmlinux")
        .collect();
    modules.sort();
    let mut out: Vec<(String, String, u32)> = Vec::new();
    for module in modules {
        let bytes = std::fs::read(format!("/sys/kernel/btf/{module}")).unwrap();
        let h = Header::parse(&bytes).unwrap();
        let types = &bytes[h.type_start() as usize..][..h.type_len as usize];
        let strs = &bytes[h.str_start() as usize..][..h.str_len as usize];
        let mut at = Vec::new();
        scan_records(types, |pos, _| at.push(pos)).unwrap();
        let ty = |i: usize| Type::decode(&types[at[i]..]).unwrap().into_owned();
        let name = |off: u32| {
            if off < base_strs {
                return vmlinux.name(off).ok().map(str::to_string);
            }
            let s = strs.get((off - base_strs) as usize..)?;
            let end = s.iter().position(|&b| b == 0)?;
            Some(String::from_utf8_lossy(&s[..end]).into_owned())
        };
        for (n, id) in kfuncs_of(at.len(), vmlinux.len() as u32, &ty, &name) {
            if !in_vmlinux.contains(&n) && !out.iter().any(|o| o.1 == n) {
                out.push((module.clone(), n, id));
            }
        }
    }
    out
}

/// Externs declaring `names` as kfuncs, as an object would.
fn kfunc_externs<'a>(names: impl Iterator<Item = &'a String>) -> Externs {
    Externs {
        list: names
            .map(|name| Extern {
                name: name.clone(),
                kind: ExternKind::Kfunc,
                weak: false,
                btf_id: 0,
            })
            .collect(),
        kconfig_size: 0,
    }
}

#[test]
fn every_kfunc_of_the_kernel_resolves_to_the_id_a_full_parse_gives() {
    require_root();
    let btf = vmlinux();
    let kfuncs = kernel_kfuncs(&btf);
    assert!(kfuncs.len() > 1, "{} kfuncs", kfuncs.len());
    // What a load does: one Host for the object, every extern in turn.
    let externs = kfunc_externs(kfuncs.iter().map(|k| &k.0));
    let mut host = rawbpf::kernel::externs::Host::new(&externs);
    let resolved = externs::resolve(&externs, &mut host).unwrap();
    for (name, id) in &kfuncs {
        let want = Resolution::Kfunc {
            btf_id: *id,
            fd_array_index: 0,
        };
        assert_eq!(resolved.get(name), Some(&want), "{name}");
    }
    // Modules' kfuncs: their module's id, its BTF in fd_array.
    let modules = module_kfuncs(&btf);
    let externs = kfunc_externs(modules.iter().map(|m| &m.1));
    let mut host = rawbpf::kernel::externs::Host::new(&externs);
    let resolved = externs::resolve(&externs, &mut host).unwrap();
    for (module, name, id) in &modules {
        let got = resolved.get(name);
        assert!(
            matches!(got, Some(Resolution::Kfunc { btf_id, fd_array_index }) if btf_id == id && *fd_array_index > 0),
            "{module} {name}: {got:?}, not {id}"
        );
    }
    // A name asked for after the first lookup is found too (indexed anew).
    let (last, id) = kfuncs.last().unwrap();
    let mut host = rawbpf::kernel::externs::Host::default();
    let first = host.kernel_btf_id(kind::FUNC, &kfuncs[0].0).unwrap();
    assert_eq!(first.unwrap().id, kfuncs[0].1);
    assert_eq!(
        host.kernel_btf_id(kind::FUNC, last).unwrap().unwrap().id,
        *id
    );
    let _ = writeln!(
        std::io::stderr(),
        "{} kfuncs of vmlinux and {} of modules resolved",
        kfuncs.len(),
        modules.len()
    );
}

/// Whether the kernel has FUNC `name` in vmlinux or a loaded module's BTF.
fn kernel_has_func(btf: &Btf, name: &str) -> bool {
    if btf.find(kind::FUNC, name).is_some() {
        return true;
    }
    let mut host = rawbpf::kernel::externs::Host::default();
    host.kernel_btf_id(kind::FUNC, name).unwrap().is_some()
}

#[test]
fn two_conntrack_kfuncs_are_both_found_and_called() {
    const TEST: &str = "two_conntrack_kfuncs_are_both_found_and_called";
    require_root();
    let btf = vmlinux();
    let result = load(KFUNCS);
    if !kernel_has_func(&btf, "bpf_skb_ct_lookup") {
        let err = result.expect_err("conntrack kfuncs loaded on a kernel without them");
        assert!(
            matches!(&err, Error::Extern { name, .. } if name.starts_with("bpf_")),
            "{err}"
        );
        return not_applicable(TEST, "no conntrack kfuncs in this kernel's BTF (nf_conntrack not built in, its module not loaded); the load failed naming the kfunc");
    }
    let loaded = result.unwrap_or_else(|e| panic!("{e}"));
    let prog = loaded.program("ct_lookup").unwrap();
    assert_eq!(prog.test_run(&udp_packet(), &[]).unwrap().retval, 0);
    // No connection has the all-zero tuple: -ENOENT, nothing to release.
    assert_eq!(u32_global(&loaded, "lookup_error") as i32, -libc::ENOENT);
    assert_eq!(u32_global(&loaded, "found"), 0);
}

// ---------------------------------------------------------------------------
// 3, 4, 5. A map of maps with `__type(value, int)`, a ring buffer of 1000
// bytes, objects without programs

fn page_size() -> u32 {
    rawbpf::sys::page_size() as u32
}

#[test]
fn maps_only_object_plans_its_maps_as_libbpf_would() {
    let spec = ObjectSpec::parse(MAPS_ONLY).unwrap();
    assert_eq!(spec.programs().count(), 0);
    let map = |name: &str| spec.maps().find(|m| m.name() == name).unwrap();
    // 1000 is not a power-of-two multiple of the page: rounded up.
    assert_eq!(map("events").max_entries(), page_size());
    assert_eq!(maps::ringbuf_size(1000, 4096), 4096);
    let outer = map("outer");
    assert_eq!(outer.value_size(), 4, "the inner map's fd");
    assert!(outer.inner.is_some(), "the inner template");
    assert_eq!(outer.slots[0].target, SlotTarget::Map("inner".into()));
    assert!(matches!(map(".data").source, MapSource::Data { .. }));
}

#[test]
fn objects_without_programs_load_their_maps() {
    require_root();
    let loaded = load(MAPS_ONLY).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.programs.is_empty());
    let events = loaded.map("events").unwrap().info().unwrap();
    assert_eq!(events.max_entries, page_size());
    assert_eq!(events.map_type, rawbpf::uapi::MapType::RINGBUF.0);
    // The outer map's slot 0 holds the inner map: a lookup gives its id.
    let inner = loaded.map("inner").unwrap().info().unwrap();
    let slot = loaded.map("outer").unwrap().lookup(&0u32.to_ne_bytes());
    let slot = slot.unwrap().expect("slot 0 is filled");
    assert_eq!(u32::from_ne_bytes(slot[..4].try_into().unwrap()), inner.id);
    assert_eq!(u32_global(&loaded, "config"), 7);

    let loaded = load(TEXT_ONLY).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.programs.is_empty());
    assert_eq!(u32_global(&loaded, "counter"), 3);
}

#[test]
fn run_of_an_object_without_programs_pins_its_maps_and_attaches_nothing() {
    require_root();
    let object = ObjectFile::new(MAPS_ONLY);
    let pin = PinDir::new("maps-only");
    let dir = pin.path().to_str().unwrap();
    let out = rawbpf_ok(&["run", object.path(), "--pin", dir]);
    assert!(out.contains("nothing to attach"), "{out}");
    for name in ["events", "outer", "inner"] {
        let map = rawbpf::Map::from_pin(pin.path().join(format!("map_{name}"))).unwrap();
        assert_eq!(map.name(), name);
    }
    rawbpf_ok(&["detach", "--pin", dir]);
    assert!(!pin.path().join("map_events").exists());
}

// ---------------------------------------------------------------------------
// 6. Exception callbacks and __arg_ctx

/// The kernel's release as (major, minor).
fn kernel_version() -> (u32, u32) {
    rawbpf::selftest::kernel_version().expect("uname")
}

#[test]
fn exception_callback_is_appended_with_its_func_info() {
    let spec = ObjectSpec::parse(EXCEPTIONS).unwrap();
    let btf = spec.btf().unwrap();
    assert_eq!(
        btf.exception_callback("throwing").unwrap().as_deref(),
        Some("exception_cb")
    );
    let prog = spec.programs().next().unwrap();
    let cb = prog.exception_callback().expect("the callback's function");
    let obj = spec.object();
    assert_eq!(obj.functions[cb].name, "exception_cb");
    // bpf_throw as a stand-in kfunc id: relocation needs no kernel.
    let mut resolved = externs::Resolved::default();
    let throw = Resolution::Kfunc {
        btf_id: 1,
        fd_array_index: 0,
    };
    resolved.by_name.insert("bpf_throw".into(), throw);
    let targets = reloc::Targets {
        map_fd: &|_| Some(100),
        externs: &resolved,
    };
    let asm = reloc::assemble_with(obj, prog_entry(&spec), Some(cb), spec.btf_ext(), &targets);
    let asm = asm.unwrap();
    // Nothing calls the callback, yet it is placed after the program...
    let placed: Vec<&str> = asm
        .layout
        .iter()
        .map(|&(f, _)| obj.functions[f].name.as_str())
        .collect();
    assert_eq!(placed, ["throwing", "exception_cb"]);
    // ... and has its func_info record, where the kernel looks for it.
    let starts: Vec<u32> = asm.layout.iter().map(|&(_, at)| at as u32).collect();
    let infos: Vec<u32> = asm.func_info.iter().map(|f| f.insn_off).collect();
    assert_eq!(infos, starts);
    assert_eq!(
        asm.func_info[1].type_id,
        btf.find(kind::FUNC, "exception_cb").unwrap()
    );
    // Without it (plain assemble) the program has no callback.
    let plain = reloc::assemble(obj, prog_entry(&spec), spec.btf_ext(), &targets).unwrap();
    assert_eq!(plain.layout.len(), 1);
}

fn prog_entry(spec: &ObjectSpec<'_>) -> usize {
    spec.object().programs[0]
}

#[test]
fn exception_callback_runs_when_the_program_throws() {
    const TEST: &str = "exception_callback_runs_when_the_program_throws";
    require_root();
    let result = load(EXCEPTIONS);
    if !kernel_has_func(&vmlinux(), "bpf_throw") {
        let err = result.expect_err("bpf_throw called on a kernel without it");
        assert!(
            matches!(&err, Error::Extern { name, .. } if name == "bpf_throw"),
            "{err}"
        );
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        return not_applicable(
            TEST,
            "no bpf_throw kfunc (exceptions arrived in 6.7); the load failed naming it",
        );
    }
    let loaded = result.unwrap_or_else(|e| panic!("{e}"));
    let prog = loaded.program("throwing").unwrap();
    // throws 7; the callback returns 7 + 100, and so does the run.
    assert_eq!(prog.test_run(&udp_packet(), &[]).unwrap().retval, 107);
}

#[test]
fn arg_ctx_argument_is_the_programs_context() {
    const TEST: &str = "arg_ctx_argument_is_the_programs_context";
    require_root();
    let result = load(ARG_CTX);
    if kernel_version() < (5, 16) {
        // Before 5.16 the kernel refuses the object's BTF itself: it does
        // not know the DECL_TAG kind the tag is written in.
        let err = result.expect_err("DECL_TAG accepted before 5.16");
        assert!(
            matches!(&err, Error::Rejected { log, .. } if log.contains("Invalid btf_info")),
            "{err}"
        );
        assert!(err.to_string().contains("DECL_TAG"), "{err}");
        return not_applicable(
            TEST,
            "this kernel knows no BTF DECL_TAG (5.16); the error names it",
        );
    }
    if kernel_version() < (6, 8) {
        // The kernel ignores the tag: a void * argument of unknown size.
        let err = result.expect_err("__arg_ctx honoured before 6.8");
        assert!(
            matches!(&err, Error::Rejected { log, .. } if log.contains("size cannot be determined")),
            "{err}"
        );
        assert!(err.to_string().contains("__arg_ctx"), "{err}");
        return not_applicable(TEST, "arg:ctx tags are read by kernels from 6.8; the verifier refused the untagged void * and the error names __arg_ctx");
    }
    let loaded = result.unwrap_or_else(|e| panic!("{e}"));
    let packet = udp_packet();
    let prog = loaded.program("pass_ctx").unwrap();
    assert_eq!(prog.test_run(&packet, &[]).unwrap().retval, 0);
    assert_eq!(u32_global(&loaded, "seen_len") as usize, packet.len());
}

// ---------------------------------------------------------------------------
// 7. struct_ops: refused by name, before any system call

#[test]
fn struct_ops_map_is_refused_by_name_before_any_system_call() {
    let spec = ObjectSpec::parse(STRUCT_OPS).unwrap();
    assert_eq!(
        maps::struct_ops_maps(spec.object()),
        [("rawbpf_cc".to_string(), ".struct_ops".to_string())]
    );
    rawbpf::sys::start_call_log();
    let err = spec.load(&Default::default()).unwrap_err();
    assert_eq!(rawbpf::sys::take_call_log(), [] as [rawbpf::uapi::Cmd; 0]);
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let text = err.to_string();
    assert!(
        text.contains("map 'rawbpf_cc' is a struct_ops map"),
        "{text}"
    );
    assert!(text.contains("whole system"), "{text}");
}
