//! Map-in-map, program arrays, map types that refuse BTF, per-CPU perf
//! arrays, mmapable data sections and `?` sections: what the loader plans
//! (no root), and what the kernel made of it (BPF_OBJ_GET_INFO_BY_FD, map
//! lookups, BPF_PROG_TEST_RUN).

mod common;

use common::{require_root, udp_packet};
use rawbpf::load::prepare;
use rawbpf::object::maps::{Slot, SlotTarget};
use rawbpf::sys::MapFlags;
use rawbpf::uapi::MapType;

const MAP_IN_MAP: &[u8] = include_bytes!("../bpf/map_in_map.bpf.o");
const MAP_TYPES: &[u8] = include_bytes!("../bpf/map_types.bpf.o");
const GLOBALS: &[u8] = include_bytes!("../bpf/globals.bpf.o");

fn u32_at(bytes: &[u8]) -> u32 {
    u32::from_ne_bytes(bytes[..4].try_into().unwrap())
}

#[test]
fn static_values_become_slots_and_inner_templates() {
    let p = prepare(MAP_IN_MAP).unwrap();
    let spec = |n: &str| p.maps.iter().find(|m| m.name == n).unwrap();
    let outer = spec("outer_array");
    assert_eq!(outer.attr.map_type, MapType::ARRAY_OF_MAPS.0);
    assert_eq!((outer.attr.key_size, outer.attr.value_size), (4, 4));
    assert_eq!(
        (outer.attr.btf_key_type_id, outer.attr.btf_value_type_id),
        (0, 0)
    );
    let inner = outer.inner.expect("an inner map template");
    assert_eq!(
        (
            inner.map_type,
            inner.key_size,
            inner.value_size,
            inner.max_entries
        ),
        (MapType::ARRAY.0, 4, 4, 1)
    );
    assert_ne!(
        inner.btf_value_type_id, 0,
        "an ARRAY template keeps its BTF"
    );
    assert_eq!(
        outer.slots,
        vec![
            Slot {
                index: 0,
                target: SlotTarget::Map("inner_a".into())
            },
            Slot {
                index: 1,
                target: SlotTarget::Map("inner_b".into())
            },
        ]
    );
    assert_eq!(
        spec("outer_hash").slots,
        vec![Slot {
            index: 3,
            target: SlotTarget::Map("inner_b".into())
        }]
    );
    let jump = spec("jump_table");
    assert_eq!(jump.attr.map_type, MapType::PROG_ARRAY.0);
    assert!(jump.inner.is_none());
    assert_eq!(
        jump.slots,
        vec![Slot {
            index: 1,
            target: SlotTarget::Program("tail_target".into())
        }]
    );
}

#[test]
fn types_that_refuse_btf_are_planned_with_sizes_only() {
    let p = prepare(MAP_TYPES).unwrap();
    for spec in p.maps.iter().filter(|m| !m.name.starts_with('.')) {
        let refuses = spec.name != "bloom";
        assert_eq!(
            rawbpf::object::maps::takes_btf(spec.attr.map_type),
            !refuses,
            "{}",
            spec.name
        );
        if refuses {
            assert_eq!(
                (spec.attr.btf_key_type_id, spec.attr.btf_value_type_id),
                (0, 0),
                "{}",
                spec.name
            );
        }
    }
    let perf = p.maps.iter().find(|m| m.name == "perf_events").unwrap();
    assert_eq!(
        (
            perf.attr.key_size,
            perf.attr.value_size,
            perf.attr.max_entries
        ),
        (4, 4, 0)
    );
    let bloom = p.maps.iter().find(|m| m.name == "bloom").unwrap();
    assert_eq!(bloom.attr.map_extra, 3);
    assert_ne!(bloom.attr.btf_value_type_id, 0);
}

#[test]
fn data_sections_with_globals_are_planned_mmapable() {
    let p = prepare(GLOBALS).unwrap();
    let flags = |n: &str| {
        MapFlags::from_bits_retain(p.maps.iter().find(|m| m.name == n).unwrap().attr.map_flags)
    };
    for n in [".data", ".bss", ".rodata"] {
        assert!(flags(n).contains(MapFlags::MMAPABLE), "{n}");
    }
    assert!(flags(".rodata").contains(MapFlags::RDONLY_PROG));
    // Only string literals, no variable to map.
    assert!(!flags(".rodata.str1.1").contains(MapFlags::MMAPABLE));
}

#[test]
fn cpu_lists_count_like_libbpf() {
    use rawbpf::kernel::cpus::parse_cpu_list;
    assert_eq!(parse_cpu_list("0\n"), Some(1));
    assert_eq!(parse_cpu_list("0-3\n"), Some(4));
    assert_eq!(parse_cpu_list("0-1,4,6-7"), Some(5));
    assert_eq!(parse_cpu_list(""), None);
    assert_eq!(parse_cpu_list("3-1"), None);
    assert_eq!(parse_cpu_list("0-4294967295"), None);
}

#[test]
fn outer_maps_hold_the_inner_maps_and_the_tail_call_happens() {
    require_root();
    let loaded = rawbpf::load(MAP_IN_MAP).unwrap();
    let map = |n: &str| loaded.map(n).unwrap();
    let id = |n: &str| map(n).info().unwrap().id;
    let info = map("outer_array").info().unwrap();
    assert_eq!(info.map_type, MapType::ARRAY_OF_MAPS.0);
    assert_eq!(
        map("outer_hash").info().unwrap().map_type,
        MapType::HASH_OF_MAPS.0
    );
    // From user space, a lookup in a map of maps gives the inner map's id.
    let slot = |outer: &str, k: u32| {
        map(outer)
            .lookup(&k.to_ne_bytes())
            .unwrap()
            .map(|v| u32_at(&v))
    };
    assert_eq!(slot("outer_array", 0), Some(id("inner_a")));
    assert_eq!(slot("outer_array", 1), Some(id("inner_b")));
    assert_eq!(slot("outer_hash", 3), Some(id("inner_b")));
    assert_eq!(slot("outer_hash", 0), None);
    // ... and in a program array, the program's id.
    let target = loaded.program("tail_target").unwrap();
    assert_eq!(
        map("jump_table").info().unwrap().map_type,
        MapType::PROG_ARRAY.0
    );
    assert_eq!(slot("jump_table", 1), Some(target.info().unwrap().0.id));
    assert_eq!(slot("jump_table", 0), None);
    let caller = loaded.program("tail_caller").unwrap();
    let run = caller.test_run(&udp_packet(), &[]).unwrap();
    assert_eq!(run.retval, 42, "the tail call reached tail_target");
    // The caller wrote through both outer maps into the inner maps.
    let inner = |n: &str| u32_at(&map(n).lookup(&0u32.to_ne_bytes()).unwrap().unwrap());
    assert_eq!((inner("inner_a"), inner("inner_b")), (11, 22));
}

#[test]
fn question_mark_sections_load_only_when_asked() {
    require_root();
    let loaded = rawbpf::load(MAP_IN_MAP).unwrap();
    let mut names: Vec<_> = loaded.programs.iter().map(|p| p.name()).collect();
    names.sort();
    assert_eq!(
        names,
        ["tail_caller", "tail_target"],
        "not_by_default is in '?tc'"
    );
    let loaded = rawbpf::load::load_also(MAP_IN_MAP, &["not_by_default"]).unwrap();
    let prog = loaded.program("not_by_default").expect("loaded when asked");
    assert_eq!(prog.section(), "?tc");
    assert_eq!(prog.test_run(&udp_packet(), &[]).unwrap().retval, 7);
}

/// Whether the running kernel is Linux `major.minor` or later.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    rawbpf::selftest::kernel_version().is_some_and(|v| v >= (major, minor))
}

/// Says on stderr (past the harness's capture) that part of a test does
/// not apply to this kernel, and what was checked instead.
fn not_applicable(what: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "NOT APPLICABLE: {what}");
}

#[test]
fn map_types_that_refuse_btf_are_created() {
    require_root();
    if !kernel_at_least(5, 16) {
        // No bloom filter maps before 5.16: the load stops at it with the
        // kernel's EINVAL, naming it. Every other map is created as the
        // loader plans it, and checked as below.
        let Err(err) = rawbpf::load(MAP_TYPES) else {
            panic!("a bloom filter map created before 5.16");
        };
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
        assert!(
            err.to_string()
                .contains("map 'bloom', type BLOOM_FILTER, key 0 B, value 4 B, 16 entries"),
            "{err}"
        );
        let plan = prepare(MAP_TYPES).unwrap();
        let specs: Vec<_> = plan
            .maps
            .into_iter()
            .filter(|m| m.name != "bloom")
            .collect();
        let maps = rawbpf::load::map::create(&specs, None).unwrap();
        assert_eq!(maps.len(), 14);
        for map in &maps {
            let info = map.info().unwrap();
            assert_eq!(info.map_type, map.map_type, "{}", map.name);
            assert_eq!((info.btf_key_type_id, info.btf_value_type_id), (0, 0));
            if map.name == "perf_events" {
                assert_eq!(
                    info.max_entries,
                    rawbpf::kernel::cpus::possible_cpus().unwrap()
                );
            }
        }
        not_applicable(
            "map_types_that_refuse_btf_are_created: bloom filter maps need Linux 5.16; \
             checked that MAP_CREATE refuses it with EINVAL and that the other 14 types are created",
        );
        return;
    }
    let loaded = rawbpf::load(MAP_TYPES).unwrap();
    let expect = [
        ("sock_map", MapType::SOCKMAP.0),
        ("sock_hash", MapType::SOCKHASH.0),
        ("dev_map", MapType::DEVMAP.0),
        ("dev_map_hash", MapType::DEVMAP_HASH.0),
        ("cpu_map", MapType::CPUMAP.0),
        ("xsk_map", MapType::XSKMAP.0),
        ("reuseport_array", MapType::REUSEPORT_SOCKARRAY.0),
        ("cgroup_array", MapType::CGROUP_ARRAY.0),
        ("stack_traces", MapType::STACK_TRACE.0),
        ("prog_array", MapType::PROG_ARRAY.0),
        ("perf_events", MapType::PERF_EVENT_ARRAY.0),
        ("ring", MapType::RINGBUF.0),
        ("queue", MapType::QUEUE.0),
        ("stack", MapType::STACK.0),
        ("bloom", MapType::BLOOM_FILTER.0),
    ];
    for (name, ty) in expect {
        let info = loaded
            .map(name)
            .unwrap_or_else(|| panic!("{name}"))
            .info()
            .unwrap();
        assert_eq!(info.map_type, ty, "{name}");
        if ty != MapType::BLOOM_FILTER.0 {
            assert_eq!(
                (info.btf_key_type_id, info.btf_value_type_id),
                (0, 0),
                "{name}"
            );
        }
    }
    let bloom = loaded.map("bloom").unwrap().info().unwrap();
    assert_eq!(bloom.map_extra, 3, "map_extra reached the kernel");
    assert_ne!(bloom.btf_value_type_id, 0, "the bloom filter keeps its BTF");
    let cpus = rawbpf::kernel::cpus::possible_cpus().unwrap();
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap();
    assert!(cpus >= 1, "{text}");
    assert_eq!(
        loaded
            .map("perf_events")
            .unwrap()
            .info()
            .unwrap()
            .max_entries,
        cpus,
        "one perf event slot per possible CPU ({})",
        text.trim()
    );
}

/// The byte offset of global `name` in its section.
fn offset_of(name: &str) -> usize {
    let obj = rawbpf::object::elf::Object::parse(GLOBALS).unwrap();
    obj.symbols.iter().find(|s| s.name == name).unwrap().value as usize
}

#[test]
fn data_sections_are_mmapable_and_shared_with_programs() {
    require_root();
    let loaded = rawbpf::load(GLOBALS).unwrap();
    for n in [".data", ".bss", ".rodata"] {
        let info = loaded.map(n).unwrap().info().unwrap();
        assert!(
            MapFlags::from_bits_retain(info.map_flags).contains(MapFlags::MMAPABLE),
            "{n}"
        );
    }
    let data = loaded.map(".data").unwrap().mmap(true).unwrap();
    let bss = loaded.map(".bss").unwrap().mmap(false).unwrap();
    let rodata = loaded.map(".rodata").unwrap().mmap(false).unwrap();
    let read = |m: &rawbpf::sys::MapMmap, name: &str, n: usize| {
        let mut b = vec![0u8; n];
        m.read(offset_of(name), &mut b).unwrap();
        b
    };
    // The initial bytes of the object.
    assert_eq!(u32_at(&read(&data, "thirty_five", 4)), 35);
    assert_eq!(u32_at(&read(&rodata, "seven", 4)), 7);
    // The frozen .rodata cannot be mapped writable.
    assert!(loaded.map(".rodata").unwrap().mmap(true).is_err());
    // A write through the mapping is what the program reads.
    data.write(offset_of("thirty_five"), &100u32.to_ne_bytes())
        .unwrap();
    let prog = &loaded.programs[0];
    assert_eq!(prog.test_run(&udp_packet(), &[]).unwrap().retval, 1);
    let last = u64::from_ne_bytes(read(&bss, "last", 8).try_into().unwrap());
    assert_eq!(last, 107, ".rodata 7 + the 100 written through mmap");
    let counter = u64::from_ne_bytes(read(&bss, "counter", 8).try_into().unwrap());
    assert_eq!(counter, 1, "the program's .bss write is seen through mmap");
    // And the same value through a map lookup.
    let value = loaded
        .map(".data")
        .unwrap()
        .lookup(&0u32.to_ne_bytes())
        .unwrap()
        .unwrap();
    assert_eq!(u32_at(&value[offset_of("thirty_five")..]), 100);
}

#[test]
fn a_slot_past_max_entries_is_refused_by_name() {
    const BAD: &[u8] = include_bytes!("../bpf/bad_map_in_map.bpf.o");
    let e = prepare(BAD).unwrap_err().to_string();
    assert!(
        e.contains("too_small") && e.contains("slot 3 is past max_entries 2"),
        "{e}"
    );
}

#[test]
fn section_names_give_the_attach_types_the_verifier_needs() {
    require_root();
    const SECTIONS: &[u8] = include_bytes!("../bpf/sections.bpf.o");
    // sk_reuseport/migrate's context field migrating_sk came in 5.14.
    let migrate = kernel_at_least(5, 14);
    if !migrate {
        let Err(err) = rawbpf::load::load_selected(SECTIONS, &|n| n == "on_migrate") else {
            panic!("on_migrate loaded before 5.14");
        };
        assert_eq!(err.raw_os_error(), Some(libc::EACCES), "{err}");
        assert!(
            err.verifier_log()
                .unwrap_or_default()
                .contains("invalid bpf_context access off=48 size=8"),
            "{err}"
        );
        not_applicable(
            "section_names_give_the_attach_types_the_verifier_needs: sk_reuseport/migrate \
             needs Linux 5.14; checked that the verifier refuses ctx->migrating_sk; the other sections load",
        );
    }
    let loaded = if migrate {
        rawbpf::load(SECTIONS).unwrap()
    } else {
        rawbpf::load::load_selected(SECTIONS, &|n| n != "on_migrate").unwrap()
    };
    // (function, kernel program type): XDP 6, CGROUP_SOCK_ADDR 18,
    // SK_REUSEPORT 21, SCHED_CLS 3, SK_SKB 14, CGROUP_SOCK 9.
    let expect = [
        ("on_devmap", 6),
        ("on_sendmsg4", 18),
        ("on_migrate", 21),
        ("on_getsockname4", 18),
        ("on_tcx_ingress", 3),
        ("on_verdict", 14),
        ("on_release", 9),
    ];
    let expect: Vec<_> = expect
        .into_iter()
        .filter(|&(name, _)| migrate || name != "on_migrate")
        .collect();
    assert_eq!(loaded.programs.len(), expect.len());
    for (name, prog_type) in expect {
        let prog = loaded
            .program(name)
            .unwrap_or_else(|| panic!("{name} loaded"));
        assert_eq!(prog.info().unwrap().0.prog_type, prog_type, "{name}");
    }
    if migrate {
        assert_eq!(
            loaded
                .program("on_migrate")
                .unwrap()
                .kind()
                .expected_attach_type,
            40
        );
    }
    assert_eq!(
        loaded
            .program("on_devmap")
            .unwrap()
            .kind()
            .expected_attach_type,
        33
    );
}
