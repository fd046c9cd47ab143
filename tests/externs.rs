//! Kernel tests of extern resolution: `__kconfig` values, typed and typeless
//! `__ksym`s and a kfunc, each compared with what the running kernel really
//! has (uname, its configuration, its BTF, /proc/kallsyms). They need root.

mod common;

use common::*;
use rawbpf::object::externs::{self, Sources};
use rawbpf::Error;

const EXTERNS: &[u8] = include_bytes!("../bpf/externs.bpf.o");
const MISSING_KCONFIG: &[u8] = include_bytes!("../bpf/externs_missing.bpf.o");
const MISSING_KSYM: &[u8] = include_bytes!("../bpf/ksym_missing.bpf.o");
const KSYM_TYPED: &[u8] = include_bytes!("../bpf/ksym_typed.bpf.o");

/// The .bss of externs.bpf.o after a run, field by field (see its source).
struct Seen {
    version: u32,
    has_cookie: u32,
    syscall_wrapper: u32,
    bpf_syscall: u32,
    conntrack: u32,
    hz: i32,
    hostname: String,
    not_an_option: i32,
    prog_put: u64,
    dynptr_size: u32,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
}

/// Reads .bss by the symbols' offsets (clang orders globals as it likes).
fn parse_bss(obj: &[u8], b: &[u8]) -> Seen {
    let object = rawbpf::object::elf::Object::parse(obj).unwrap();
    let at = |name: &str| {
        let sym = object.symbols.iter().find(|s| s.name == name).unwrap();
        sym.value as usize
    };
    let u32_of = |name: &str| u32_at(b, at(name));
    let h = &b[at("hostname")..at("hostname") + 16];
    let len = h.iter().position(|&c| c == 0).unwrap_or(16);
    Seen {
        version: u32_of("version"),
        has_cookie: u32_of("has_cookie"),
        syscall_wrapper: u32_of("syscall_wrapper"),
        bpf_syscall: u32_of("bpf_syscall"),
        conntrack: u32_of("conntrack"),
        hz: u32_of("hz") as i32,
        hostname: String::from_utf8_lossy(&h[..len]).into_owned(),
        not_an_option: u32_of("not_an_option") as i32,
        prog_put: u64::from_ne_bytes(b[at("prog_put")..at("prog_put") + 8].try_into().unwrap()),
        dynptr_size: u32_of("dynptr_size"),
    }
}

/// The guest or host's kernel configuration, if it has one.
fn host_config() -> Option<std::collections::BTreeMap<String, String>> {
    rawbpf::kernel::externs::Host::default()
        .kernel_config()
        .ok()
        .map(|text| externs::parse_config(&text))
}

fn kernel_has(kind: u8, name: &str) -> bool {
    // A full parse, independent of the loader's lean reader.
    let bytes = std::fs::read("/sys/kernel/btf/vmlinux").unwrap();
    rawbpf::object::btf::Btf::parse(&bytes)
        .unwrap()
        .find(kind, name)
        .is_some()
}

#[test]
fn externs_read_what_the_kernel_has() {
    require_root();
    let Some(config) = host_config() else {
        // Without a config source, a non-weak CONFIG_ must fail by name.
        let err = common::load(EXTERNS).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, Error::Extern { .. }) && msg.contains("CONFIG_"),
            "{msg}"
        );
        eprintln!("no kernel config on this machine: checked the error only: {msg}");
        return;
    };
    if not_applicable_without_syscall_programs("externs read by a syscall program", EXTERNS) {
        return;
    }
    let loaded = common::load(EXTERNS).unwrap();
    let prog = loaded.program("read_externs").unwrap();
    let run = prog.test_run(&[], &[]).unwrap();
    assert_eq!(run.retval, 0);
    let bss = loaded
        .map(".bss")
        .unwrap()
        .lookup(&0u32.to_ne_bytes())
        .unwrap()
        .unwrap();
    let seen = parse_bss(EXTERNS, &bss);

    // .kconfig: the kernel's own version and configuration.
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit());
    let mut next = || parts.next().unwrap().parse::<u32>().unwrap();
    let (a, b, c) = (next(), next(), next());
    assert_eq!(seen.version, (a << 16) | (b << 8) | c.min(255), "{release}");
    assert_eq!(seen.has_cookie, u32::from((a, b) >= (5, 15)));
    assert_eq!(config["CONFIG_BPF_SYSCALL"], "y");
    assert_eq!(seen.bpf_syscall, 1);
    let want_conntrack = match config.get("CONFIG_NF_CONNTRACK").map(String::as_str) {
        Some("y") => 1,
        Some("m") => 2,
        _ => 0,
    };
    assert_eq!(seen.conntrack, want_conntrack);
    assert_eq!(seen.hz.to_string(), config["CONFIG_HZ"]);
    let want_hostname = config
        .get("CONFIG_DEFAULT_HOSTNAME")
        .map(|v| v.trim_matches('"').chars().take(15).collect::<String>())
        .unwrap_or_default();
    assert_eq!(seen.hostname, want_hostname);
    assert_eq!(seen.not_an_option, 0);

    // Typeless ksym: the address /proc/kallsyms shows.
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    if cfg!(target_arch = "x86_64") {
        let wrapper = rawbpf::kernel::externs::kallsyms_lookup(&kallsyms, "__x64_sys_bpf").unwrap();
        assert_eq!(seen.syscall_wrapper, u32::from(wrapper.is_some()));
    }
    let want = rawbpf::kernel::externs::kallsyms_lookup(&kallsyms, "bpf_prog_put")
        .unwrap()
        .unwrap();
    assert_eq!(seen.prog_put, want);

    // Kfunc: called where the kernel has it, poisoned and skipped where not.
    if kernel_has(rawbpf::object::btf::kind::FUNC, "bpf_dynptr_size") {
        assert_eq!(seen.dynptr_size, 17);
    } else {
        assert_eq!(seen.dynptr_size, 0);
    }

    // The .kconfig map is what libbpf makes: read-only for programs and
    // mmapable (its VARs are allocated globals), frozen, and named after
    // the object (none here: the bare section name).
    let kconfig = loaded.map(".kconfig").unwrap();
    let info = kconfig.info().unwrap();
    let flags = rawbpf::sys::MapFlags::RDONLY_PROG | rawbpf::sys::MapFlags::MMAPABLE;
    assert_eq!(info.map_flags, flags.bits());
    assert_eq!(&info.name[..9], b".kconfig\0");
    assert_eq!(info.max_entries, 1);
}

/// Loading `object` fails on the missing non-weak extern `name`, with an
/// error naming it, before anything reached the kernel.
fn refused_naming(object: &[u8], name: &str) {
    require_root();
    rawbpf::sys::start_call_log();
    let err = common::load(object).unwrap_err();
    assert_eq!(rawbpf::sys::take_call_log(), []);
    let msg = err.to_string();
    assert!(matches!(err, Error::Extern { .. }), "{msg}");
    assert!(msg.contains(name), "{msg}");
}

#[test]
fn missing_non_weak_kconfig_is_an_error_naming_it() {
    refused_naming(MISSING_KCONFIG, "CONFIG_RAWBPF_MISSING");
}

#[test]
fn missing_non_weak_ksym_is_an_error_naming_it() {
    refused_naming(MISSING_KSYM, "rawbpf_no_such_symbol");
}

#[test]
fn typed_ksym_reads_the_kernel_variable() {
    require_root();
    if not_applicable_without_syscall_programs("a typed ksym read by a syscall program", KSYM_TYPED)
    {
        return;
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let cpu = cpus - 1;
    if !kernel_has(rawbpf::object::btf::kind::VAR, "cpu_number") {
        // Weak and missing: loads, and the branch that reads it is dead.
        let loaded = common::load(KSYM_TYPED).unwrap();
        let prog = loaded.program("read_cpu_number").unwrap();
        prog.test_run(&[], &cpu.to_ne_bytes()).unwrap();
        let bss = loaded
            .map(".bss")
            .unwrap()
            .lookup(&0u32.to_ne_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(u32_at(&bss, 0), 0);
        return;
    }
    let kallsyms_all = host_config()
        .and_then(|c| c.get("CONFIG_KALLSYMS_ALL").cloned())
        .unwrap_or_default();
    match common::load(KSYM_TYPED) {
        Ok(loaded) => {
            let prog = loaded.program("read_cpu_number").unwrap();
            prog.test_run(&[], &cpu.to_ne_bytes()).unwrap();
            let bss = loaded
                .map(".bss")
                .unwrap()
                .lookup(&0u32.to_ne_bytes())
                .unwrap()
                .unwrap();
            assert_eq!(u32_at(&bss, 0), cpu + 1, "cpu_number of CPU {cpu}");
        }
        // The kernel resolved our BTF id to the name `cpu_number` and then
        // found no address for it: variables are in kallsyms only with
        // CONFIG_KALLSYMS_ALL.
        Err(e) => {
            assert_ne!(kallsyms_all, "y", "{e}");
            assert!(
                e.verifier_log()
                    .unwrap_or_default()
                    .contains("failed to find the address for kernel symbol 'cpu_number'"),
                "{e}"
            );
        }
    }
}
