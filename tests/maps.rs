//! Map-in-map, program arrays, map types that refuse BTF, per-CPU perf
//! arrays, mmapable data sections and `?` sections: what the loader plans
//! (no root), and what the kernel made of it (BPF_OBJ_GET_INFO_BY_FD, map
//! lookups, BPF_PROG_TEST_RUN).

mod common;

use common::{require_root, udp_packet};

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
    let p = rawbpf::ObjectSpec::parse(MAP_IN_MAP).unwrap();
    let spec = |n: &str| p.maps().find(|m| m.name == n).unwrap();
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
    let p = rawbpf::ObjectSpec::parse(MAP_TYPES).unwrap();
    for spec in p.maps().filter(|m| !m.name.starts_with('.')) {
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
    let perf = p.maps().find(|m| m.name == "perf_events").unwrap();
    assert_eq!(
        (
            perf.attr.key_size,
            perf.attr.value_size,
            perf.attr.max_entries
        ),
        (4, 4, 0)
    );
    let bloom = p.maps().find(|m| m.name == "bloom").unwrap();
    assert_eq!(bloom.attr.map_extra, 3);
    assert_ne!(bloom.attr.btf_value_type_id, 0);
}

#[test]
fn data_sections_with_globals_are_planned_mmapable() {
    let p = rawbpf::ObjectSpec::parse(GLOBALS).unwrap();
    let flags = |n: &str| {
        MapFlags::from_bits_retain(p.maps().find(|m| m.name == n).unwrap().attr.map_flags)
    };
    for n in [".data", ".bss", ".rodata"] {
        assert!(flags(n).contains(MapFlags::MMAPABLE), "{n}");
    }
    assert!(flags(".rodata").contains(MapFlags::RDONLY_PROG));
    // Only string literals, no variable to map.
    assert!(!flags(".rodata.str1.1").contains(MapFlags::MMAPABLE));
}

/// The kernel names the global-data maps after the object, as libbpf does;
/// the object keeps calling them by their sections' names.
#[test]
fn data_maps_take_the_object_name_for_the_kernel() {
    let mut p = rawbpf::ObjectSpec::parse(GLOBALS).unwrap();
    let kernel_name = |p: &rawbpf::ObjectSpec<'_>, n: &str| {
        let raw = p.maps().find(|m| m.name == n).unwrap().attr.map_name;
        let len = raw.iter().position(|&b| b == 0).unwrap_or(16);
        String::from_utf8(raw[..len].to_vec()).unwrap()
    };
    assert_eq!(p.name(), "");
    assert_eq!(kernel_name(&p, ".rodata"), ".rodata");
    p.set_name(&rawbpf::object::spec::object_name(
        "bpf/globals.bpf.o".as_ref(),
    ));
    assert_eq!(p.name(), "globals");
    for (section, kernel) in [
        (".data", "globals.data"),
        (".bss", "globals.bss"),
        (".rodata", "globals.rodata"),
        (".rodata.str1.1", ".rodata.str1.1"),
    ] {
        assert_eq!(kernel_name(&p, section), kernel);
    }
    assert!(
        p.map_mut(".rodata").is_some(),
        "found by its section's name"
    );
    p.set_name("a_long_object_name_indeed");
    assert_eq!(p.name(), "a_long_object_n");
    assert_eq!(kernel_name(&p, ".bss"), "a_long_o.bss");
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
    let loaded = common::load(MAP_IN_MAP).unwrap();
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
    let loaded = common::load(MAP_IN_MAP).unwrap();
    let mut names: Vec<_> = loaded.programs.iter().map(|p| p.name()).collect();
    names.sort();
    assert_eq!(
        names,
        ["tail_caller", "tail_target"],
        "not_by_default is in '?tc'"
    );
    let loaded = {
        let mut spec = rawbpf::ObjectSpec::parse(MAP_IN_MAP).unwrap();
        spec.program_mut("not_by_default")
            .unwrap()
            .set_autoload(true);
        spec.load(&rawbpf::LoadOptions::default()).unwrap()
    };
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
        let Err(err) = common::load(MAP_TYPES) else {
            panic!("a bloom filter map created before 5.16");
        };
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
        assert!(
            err.to_string()
                .contains("map 'bloom', type BLOOM_FILTER, key 0 B, value 4 B, 16 entries"),
            "{err}"
        );
        let plan = rawbpf::ObjectSpec::parse(MAP_TYPES).unwrap();
        let specs: Vec<_> = plan.maps().filter(|m| m.name != "bloom").cloned().collect();
        let maps = rawbpf::load::map::create(&specs, None).unwrap();
        assert_eq!(maps.len(), 14);
        for map in &maps {
            let info = map.info().unwrap();
            assert_eq!(MapType(info.map_type), map.map_type(), "{}", map.name());
            assert_eq!((info.btf_key_type_id, info.btf_value_type_id), (0, 0));
            if map.name() == "perf_events" {
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
    let loaded = common::load(MAP_TYPES).unwrap();
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
    let loaded = common::load(GLOBALS).unwrap();
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
    let e = rawbpf::ObjectSpec::parse(BAD).unwrap_err().to_string();
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
        let Err(err) = common::load_selected(SECTIONS, |n| n == "on_migrate") else {
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
        common::load(SECTIONS).unwrap()
    } else {
        common::load_selected(SECTIONS, |n| n != "on_migrate").unwrap()
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

// ---------------------------------------------------------------- one test per kind of map
//
// Each creates its maps through `Map::create`, shows that every buffer of
// the wrong length is refused by name before any system call (the call log
// stays empty), and reads back what the kernel holds.

use rawbpf::sys::{self, PossibleCpus};
use rawbpf::{Map, UpdateFlags};

/// `f`'s error, which must be a length or kind refusal naming every one of
/// `words`, made without any bpf() call.
fn refused<T: std::fmt::Debug>(f: impl FnOnce() -> rawbpf::Result<T>, words: &[&str]) {
    sys::start_call_log();
    let result = f();
    let calls = sys::take_call_log();
    let err = result.expect_err("refused");
    assert!(matches!(err, rawbpf::Error::Map { .. }), "{err}");
    let text = err.to_string();
    for w in words {
        assert!(text.contains(w), "'{w}' not in: {text}");
    }
    assert_eq!(calls, [], "refused before any system call: {text}");
}

fn cpus() -> PossibleCpus {
    sys::possible_cpus().unwrap()
}

fn errno<T: std::fmt::Debug>(r: rawbpf::Result<T>) -> Option<i32> {
    r.unwrap_err().raw_os_error()
}

/// The kernel's "not supported" for a map type without the operation.
const ENOTSUPP: i32 = 524;

/// Whether BPF_MAP_LOOKUP_AND_DELETE_ELEM takes hash maps (Linux 5.14;
/// before, only queues and stacks, and ENOTSUPP for the rest). Says so on
/// stderr where it does not.
fn lookup_and_delete_on_hash() -> bool {
    let yes = kernel_at_least(5, 14);
    if !yes {
        not_applicable(
            "lookup_and_delete on hash maps needs Linux 5.14; checked that the kernel says ENOTSUPP",
        );
    }
    yes
}

/// Every wrong length or call on an ARRAY of 4-byte keys and 12-byte values, refused.
fn array_refusals(map: &Map, key: &[u8]) {
    refused(
        || map.lookup(&[0; 3]),
        &["t_array", "lookup", "key is 3 bytes", "takes 4"],
    );
    refused(|| map.lookup(&[0; 8]), &["key is 8 bytes", "takes 4"]);
    refused(
        || map.update(key, &[7; 11], UpdateFlags::Any),
        &["update", "value is 11 bytes", "takes 12"],
    );
    refused(
        || map.update(key, &[7; 16], UpdateFlags::Any),
        &["value is 16 bytes"],
    );
    refused(
        || map.lookup_percpu(key),
        &["lookup_percpu", "ARRAY", "lookup and update"],
    );
    refused(|| map.push(&[0; 12]), &["push", "one value per key"]);
    refused(
        || map.lookup_as::<u64, [u8; 12]>(&1),
        &["lookup_as", "u64", "8 bytes"],
    );
    refused(
        || map.lookup_as::<u32, u64>(&1),
        &["lookup_as", "value type u64"],
    );
}

#[test]
fn array_lengths_are_checked_and_values_are_the_kernels() {
    require_root();
    let map = Map::create("t_array", MapType::ARRAY, 4, 12, 3, MapFlags::empty()).unwrap();
    assert_eq!(
        (
            map.map_type(),
            map.key_size(),
            map.value_size(),
            map.max_entries()
        ),
        (MapType::ARRAY, 4, 12, 3)
    );
    assert!(!map.is_per_cpu());
    let key = 1u32.to_ne_bytes();
    array_refusals(&map, &key);

    let value: Vec<u8> = (1..=12).collect();
    map.update(&key, &value, UpdateFlags::Any).unwrap();
    assert_eq!(map.lookup(&key).unwrap(), Some(value.clone()));
    assert_eq!(map.lookup(&0u32.to_ne_bytes()).unwrap(), Some(vec![0; 12]));
    assert_eq!(
        map.lookup(&3u32.to_ne_bytes()).unwrap(),
        None,
        "past max_entries"
    );
    // Arrays have every element: NOEXIST is refused, and there is no delete.
    assert_eq!(
        errno(map.update(&key, &value, UpdateFlags::NoExist)),
        Some(libc::EEXIST)
    );
    assert_eq!(errno(map.delete(&key)), Some(libc::EINVAL));
    // Typed access reads the same bytes.
    map.update_as(&2u32, &[9u32, 8, 7], UpdateFlags::Exist)
        .unwrap();
    assert_eq!(map.lookup_as::<u32, [u32; 3]>(&2).unwrap(), Some([9, 8, 7]));
    let raw = map.lookup(&2u32.to_ne_bytes()).unwrap().unwrap();
    assert_eq!(u32_at(&raw[4..]), 8);
    // Every key, once, and the entries with them.
    let keys: Vec<_> = map.keys().map(|k| u32_at(&k.unwrap())).collect();
    assert_eq!(keys, [0, 1, 2]);
    let entries: Vec<_> = map.entries().map(Result::unwrap).collect();
    assert_eq!(entries[1], (key.to_vec(), value.clone()));
    // A batch sees the same.
    let batch = map.lookup_batch(None, 3).unwrap();
    assert_eq!(batch.keys.len(), 3);
    assert_eq!(batch.values[1], value);
    assert_eq!(batch.values[2], raw);
}

/// Every wrong length on a HASH of 8-byte keys and 4-byte values, refused.
fn hash_refusals(map: &Map) {
    let k = |n: u64| n.to_ne_bytes();
    refused(
        || map.lookup(&[0; 4]),
        &["t_hash", "lookup", "key is 4 bytes", "takes 8"],
    );
    refused(|| map.delete(&[0; 4]), &["delete", "key is 4 bytes"]);
    refused(
        || map.next_key(Some(&[0; 9])),
        &["next_key", "key is 9 bytes"],
    );
    refused(
        || map.lookup_and_delete(&[0; 2]),
        &["lookup_and_delete", "key is 2"],
    );
    refused(
        || map.update(&k(1), &[0; 8], UpdateFlags::Any),
        &["value is 8 bytes", "takes 4"],
    );
    refused(
        || map.update_batch(&[k(1), k(2)], &[[0u8; 4].as_slice(), &[0; 3]]),
        &["update_batch", "value 1 is 3 bytes", "takes 4"],
    );
    refused(
        || map.delete_batch(&[[0u8; 7]]),
        &["delete_batch", "key 0 is 7 bytes"],
    );
}

#[test]
fn hash_lengths_are_checked_and_elements_come_and_go() {
    require_root();
    let map = Map::create("t_hash", MapType::HASH, 8, 4, 16, MapFlags::empty()).unwrap();
    let k = |n: u64| n.to_ne_bytes();
    hash_refusals(&map);

    assert_eq!(map.lookup(&k(1)).unwrap(), None);
    map.update(&k(1), &10u32.to_ne_bytes(), UpdateFlags::NoExist)
        .unwrap();
    assert_eq!(
        errno(map.update(&k(1), &11u32.to_ne_bytes(), UpdateFlags::NoExist)),
        Some(libc::EEXIST)
    );
    assert_eq!(
        errno(map.update(&k(2), &11u32.to_ne_bytes(), UpdateFlags::Exist)),
        Some(libc::ENOENT)
    );
    assert_eq!(map.lookup_as::<u64, u32>(&1).unwrap(), Some(10));
    // Batches: five in, all five back, two deleted.
    let keys: Vec<[u8; 8]> = (10..15).map(k).collect();
    let values: Vec<[u8; 4]> = (10..15u32).map(|v| (v * 100).to_ne_bytes()).collect();
    assert_eq!(map.update_batch(&keys, &values).unwrap(), 5);
    let batch = map.lookup_batch(None, 16).unwrap();
    assert!(batch.next.is_none(), "one batch of 16 reaches the end");
    let mut got: Vec<(u64, u32)> = batch
        .keys
        .iter()
        .zip(&batch.values)
        .map(|(k, v)| (u64::from_ne_bytes(k[..].try_into().unwrap()), u32_at(v)))
        .collect();
    got.sort();
    let mut want: Vec<(u64, u32)> = (10..15).map(|n| (n, n as u32 * 100)).collect();
    want.insert(0, (1, 10));
    assert_eq!(got, want);
    assert_eq!(map.delete_batch(&keys[..2]).unwrap(), 2);
    assert_eq!(map.lookup(&k(10)).unwrap(), None);
    // lookup_and_delete takes it out; delete says whether there was one.
    if lookup_and_delete_on_hash() {
        assert_eq!(
            map.lookup_and_delete(&k(12)).unwrap(),
            Some(1200u32.to_ne_bytes().to_vec())
        );
    } else {
        assert_eq!(errno(map.lookup_and_delete(&k(12))), Some(ENOTSUPP));
        assert!(map.delete(&k(12)).unwrap());
    }
    assert_eq!(map.lookup(&k(12)).unwrap(), None);
    assert!(map.delete(&k(13)).unwrap());
    assert!(!map.delete(&k(13)).unwrap());
    let mut left: Vec<u64> = map
        .keys()
        .map(|key| u64::from_ne_bytes(key.unwrap()[..].try_into().unwrap()))
        .collect();
    left.sort();
    assert_eq!(left, [1, 14]);
}

#[test]
fn a_walk_over_a_map_that_keeps_changing_ends() {
    require_root();
    let map = Map::create("t_churn", MapType::HASH, 4, 4, 4, MapFlags::empty()).unwrap();
    for n in 0..4u32 {
        map.update(&n.to_ne_bytes(), &n.to_ne_bytes(), UpdateFlags::Any)
            .unwrap();
    }
    // Each key seen is replaced by a new one: the kernel restarts the walk
    // from its first key every time, and the map is never empty.
    let mut fresh = 100u32;
    let mut seen = 0;
    let mut end = None;
    for key in map.keys() {
        match key {
            Ok(key) => {
                seen += 1;
                assert!(map.delete(&key).unwrap());
                map.update(&fresh.to_ne_bytes(), &[0; 4], UpdateFlags::NoExist)
                    .unwrap();
                fresh += 1;
                assert!(seen <= 4, "the walk goes past max_entries");
            }
            Err(e) => end = Some(e.to_string()),
        }
    }
    assert_eq!(seen, 4);
    let end = end.expect("the walk ends with an error");
    assert!(end.contains("changed during the walk"), "{end}");
}

#[test]
fn lru_hash_keeps_at_most_max_entries() {
    require_root();
    let map = Map::create("t_lru", MapType::LRU_HASH, 4, 8, 32, MapFlags::empty()).unwrap();
    refused(
        || map.lookup(&[0; 8]),
        &["t_lru", "key is 8 bytes", "takes 4"],
    );
    refused(
        || map.update(&[0; 4], &[0; 4], UpdateFlags::Any),
        &["value is 4 bytes", "takes 8"],
    );
    for n in 0..200u32 {
        map.update_as(&n, &u64::from(n * 3), UpdateFlags::Any)
            .unwrap();
    }
    let keys: Vec<u32> = map.keys().map(|k| u32_at(&k.unwrap())).collect();
    assert!(!keys.is_empty() && keys.len() <= 32, "{} keys", keys.len());
    assert!(keys.contains(&199), "the newest stays: {keys:?}");
    for k in keys {
        assert_eq!(
            map.lookup_as::<u32, u64>(&k).unwrap(),
            Some(u64::from(k * 3))
        );
    }
}

/// The position of `cpu` among the possible CPUs: where the kernel puts its
/// value (`for_each_possible_cpu`).
fn possible_index(cpu: usize) -> usize {
    let list = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap();
    let mut index = 0;
    for part in list.trim().split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
        if (a..=b).contains(&cpu) {
            return index + cpu - a;
        }
        index += b - a + 1;
    }
    panic!("CPU {cpu} is not possible: {list}");
}

/// Every wrong length or call on a PERCPU_ARRAY of 4-byte values, refused.
fn percpu_array_refusals(map: &Map, n: usize, key: &[u8]) {
    refused(
        || map.lookup(key),
        &["t_pcpu_arr", "lookup", "per possible CPU", "lookup_percpu"],
    );
    refused(
        || map.update(key, &[0; 4], UpdateFlags::Any),
        &["update", "update_percpu"],
    );
    refused(
        || map.entries().next().unwrap(),
        &["entries", "per possible CPU"],
    );
    refused(
        || map.lookup_percpu(&[0; 2]),
        &["lookup_percpu", "key is 2 bytes", "takes 4"],
    );
    refused(
        || map.update_percpu(key, &vec![[0u8; 4]; n + 1], UpdateFlags::Any),
        &[
            "update_percpu",
            &format!("{} values", n + 1),
            &format!("{n} possible CPUs"),
        ],
    );
    let mut short = vec![vec![0u8; 4]; n];
    short[n - 1] = vec![0; 8];
    refused(
        || map.update_percpu(key, &short, UpdateFlags::Any),
        &[&format!("value for CPU {}", n - 1), "8 bytes", "takes 4"],
    );
    refused(
        || map.lookup_percpu_as::<u32, u64>(&1),
        &["lookup_percpu_as", "value type u64", "takes 4"],
    );
}

#[test]
fn percpu_array_values_are_one_per_possible_cpu() {
    require_root();
    // 4-byte values: the kernel lays them 8 bytes apart.
    let map = Map::create(
        "t_pcpu_arr",
        MapType::PERCPU_ARRAY,
        4,
        4,
        2,
        MapFlags::empty(),
    )
    .unwrap();
    assert!(map.is_per_cpu());
    let n = cpus().count as usize;
    let key = 1u32.to_ne_bytes();
    percpu_array_refusals(&map, n, &key);

    let values: Vec<Vec<u8>> = (0..n as u32)
        .map(|c| (c * 10 + 1).to_ne_bytes().to_vec())
        .collect();
    map.update_percpu(&key, &values, UpdateFlags::Any).unwrap();
    assert_eq!(map.lookup_percpu(&key).unwrap(), Some(values.clone()));
    let typed: Vec<u32> = (0..n as u32).map(|c| c * 10 + 1).collect();
    assert_eq!(map.lookup_percpu_as::<u32, u32>(&1).unwrap(), Some(typed));
    assert_eq!(
        map.lookup_percpu(&0u32.to_ne_bytes()).unwrap(),
        Some(vec![vec![0; 4]; n]),
        "the other element is untouched"
    );
    map.update_percpu_as(&0u32, &vec![7u32; n], UpdateFlags::Exist)
        .unwrap();
    assert_eq!(
        map.lookup_percpu_as::<u32, u32>(&0).unwrap(),
        Some(vec![7; n])
    );
    let keys: Vec<u32> = map.keys().map(|k| u32_at(&k.unwrap())).collect();
    assert_eq!(keys, [0, 1]);
}

#[test]
fn percpu_hash_values_are_one_per_possible_cpu() {
    require_root();
    let map = Map::create(
        "t_pcpu_hash",
        MapType::PERCPU_HASH,
        4,
        12,
        8,
        MapFlags::empty(),
    )
    .unwrap();
    let n = cpus().count as usize;
    let key = 5u32.to_ne_bytes();
    refused(
        || map.lookup(&key),
        &["t_pcpu_hash", "PERCPU_HASH", "lookup_percpu"],
    );
    refused(
        || map.lookup_and_delete(&key),
        &["lookup_and_delete", "per possible CPU"],
    );
    refused(
        || map.lookup_batch(None, 8),
        &["lookup_batch", "per possible CPU"],
    );
    refused(
        || map.update_percpu(&key, &vec![[0u8; 8]; n], UpdateFlags::Any),
        &["value for CPU 0 is 8 bytes", "takes 12"],
    );
    assert_eq!(map.lookup_percpu(&key).unwrap(), None);
    // 12-byte values: 16 apart in the kernel's layout, 12 each here.
    let values: Vec<Vec<u8>> = (0..n as u8).map(|c| vec![c + 1; 12]).collect();
    map.update_percpu(&key, &values, UpdateFlags::NoExist)
        .unwrap();
    assert_eq!(map.lookup_percpu(&key).unwrap(), Some(values.clone()));
    assert_eq!(
        map.keys().map(Result::unwrap).collect::<Vec<_>>(),
        [key.to_vec()]
    );
    if lookup_and_delete_on_hash() {
        assert_eq!(map.lookup_and_delete_percpu(&key).unwrap(), Some(values));
    } else {
        assert_eq!(errno(map.lookup_and_delete_percpu(&key)), Some(ENOTSUPP));
        assert!(map.delete(&key).unwrap());
    }
    assert_eq!(map.lookup_percpu(&key).unwrap(), None);
    assert!(!map.delete(&key).unwrap());
}

#[test]
fn queue_and_stack_push_pop_and_peek_in_order() {
    require_root();
    for (map_type, name, order) in [
        (MapType::QUEUE, "t_queue", [1u32, 2, 3]),
        (MapType::STACK, "t_stack", [3u32, 2, 1]),
    ] {
        let map = Map::create(name, map_type, 0, 4, 3, MapFlags::empty()).unwrap();
        refused(|| map.lookup(&[]), &[name, "no keys", "push, pop and peek"]);
        refused(
            || map.update(&[], &[0; 4], UpdateFlags::Any),
            &["update", "no keys"],
        );
        refused(|| map.keys().next().unwrap(), &["next_key", "no keys"]);
        refused(|| map.lookup_percpu(&[]), &["lookup_percpu", "no keys"]);
        refused(
            || map.push(&[0; 5]),
            &["push", "value is 5 bytes", "takes 4"],
        );
        assert_eq!(map.peek().unwrap(), None, "{name}");
        assert_eq!(map.pop().unwrap(), None, "{name}");
        for v in 1..=3u32 {
            map.push(&v.to_ne_bytes()).unwrap();
        }
        assert_eq!(
            errno(map.push(&4u32.to_ne_bytes())),
            Some(libc::E2BIG),
            "{name} is full"
        );
        assert_eq!(map.peek().unwrap(), Some(order[0].to_ne_bytes().to_vec()));
        let popped: Vec<u32> = std::iter::from_fn(|| map.pop().unwrap())
            .map(|v| u32_at(&v))
            .collect();
        assert_eq!(popped, order, "{name}");
    }
}

#[test]
fn ringbuf_has_no_elements_to_look_up() {
    require_root();
    let page = sys::page_size() as u32;
    let map = Map::create("t_ring", MapType::RINGBUF, 0, 0, page, MapFlags::empty()).unwrap();
    assert_eq!(map.info().unwrap().map_type, MapType::RINGBUF.0);
    for (call, result) in [
        ("lookup", map.lookup(&[]).map(drop)),
        ("update", map.update(&[], &[], UpdateFlags::Any)),
        ("push", map.push(&[])),
        ("pop", map.pop().map(drop)),
        ("next_key", map.next_key(None).map(drop)),
        ("lookup_batch", map.lookup_batch(None, 1).map(drop)),
    ] {
        let text = result.unwrap_err().to_string();
        assert!(
            text.contains(call) && text.contains("ring buffer"),
            "{text}"
        );
    }
    refused(
        || map.lookup_percpu(&[]),
        &["t_ring", "RINGBUF", "ring buffer"],
    );
    refused(|| map.mmap(false), &["mmap", "only an ARRAY"]);
}

#[test]
fn prog_array_and_array_of_maps_take_fds_and_give_ids() {
    require_root();
    let loaded = common::load(PERCPU).unwrap();
    let prog = loaded.program("count_per_cpu").unwrap();
    let prog_id = prog.info().unwrap().0.id;
    let jumps = Map::create("t_jumps", MapType::PROG_ARRAY, 4, 4, 2, MapFlags::empty()).unwrap();
    assert_eq!(jumps.lookup_id(1).unwrap(), None);
    jumps.update_fd(1, prog.fd()).unwrap();
    assert_eq!(jumps.lookup_id(1).unwrap(), Some(prog_id));
    assert_eq!(
        jumps.lookup(&1u32.to_ne_bytes()).unwrap(),
        Some(prog_id.to_ne_bytes().to_vec())
    );
    assert_eq!(errno(jumps.update_fd(2, prog.fd())), Some(libc::E2BIG));
    refused(|| jumps.lookup(&[0; 8]), &["t_jumps", "key is 8 bytes"]);

    let inner = Map::create("t_inner", MapType::ARRAY, 4, 8, 1, MapFlags::empty()).unwrap();
    let outer = Map::create_with(
        "t_outer",
        &sys::MapCreateAttr {
            map_type: MapType::ARRAY_OF_MAPS.0,
            key_size: 4,
            value_size: 4,
            max_entries: 2,
            inner_map_fd: std::os::fd::AsRawFd::as_raw_fd(&inner.fd()) as u32,
            map_name: sys::object_name("t_outer"),
            ..Default::default()
        },
    )
    .unwrap();
    outer.update_fd(0, inner.fd()).unwrap();
    assert_eq!(outer.lookup_id(0).unwrap(), Some(inner.info().unwrap().id));
    assert_eq!(outer.lookup_id(1).unwrap(), None);
    // A program is no map: the kernel refuses it (`__bpf_map_get`).
    assert_eq!(errno(outer.update_fd(1, prog.fd())), Some(libc::EINVAL));
    // Maps whose values are not fds are refused by name.
    refused(
        || inner.update_fd(0, prog.fd()),
        &["update_fd", "ARRAY", "not file descriptors"],
    );
    refused(
        || inner.lookup_id(0),
        &["lookup_id", "gives no program or map ids"],
    );
}

const PERCPU: &[u8] = include_bytes!("../bpf/percpu.bpf.o");

#[test]
fn a_program_counts_per_cpu_and_lookup_percpu_sees_each_cpu() {
    require_root();
    let loaded = common::load(PERCPU).unwrap();
    let prog = loaded.program("count_per_cpu").unwrap();
    let counts = loaded.map("counts").unwrap();
    let per_key = loaded.map("per_key").unwrap();
    assert_eq!(
        (counts.map_type(), counts.value_size()),
        (MapType::PERCPU_ARRAY, 4)
    );
    assert_eq!(per_key.map_type(), MapType::PERCPU_HASH);
    // Run it 1 time on the first allowed CPU, 2 on the second, ...
    let allowed = sys::CpuSet::of_this_thread().unwrap().cpus();
    let used: Vec<usize> = allowed.iter().copied().take(4).collect();
    let packet = udp_packet();
    for (i, &cpu) in used.iter().enumerate() {
        std::thread::scope(|s| {
            s.spawn(|| {
                sys::pin_thread_to_cpu(cpu).unwrap();
                for _ in 0..=i {
                    assert_eq!(prog.test_run(&packet, &[]).unwrap().retval, 0);
                }
            });
        });
    }
    let n = cpus().count as usize;
    let mut want = vec![0u32; n];
    for (i, &cpu) in used.iter().enumerate() {
        want[possible_index(cpu)] = i as u32 + 1;
    }
    assert_eq!(
        counts.lookup_percpu_as::<u32, u32>(&0).unwrap(),
        Some(want.clone())
    );
    assert_eq!(
        counts.lookup_percpu_as::<u32, u32>(&1).unwrap(),
        Some(vec![0; n]),
        "key 1 untouched"
    );
    let want64: Vec<u64> = want.iter().map(|&c| u64::from(c)).collect();
    assert_eq!(
        per_key.lookup_percpu_as::<u32, u64>(&7).unwrap(),
        Some(want64)
    );
    refused(
        || counts.lookup(&0u32.to_ne_bytes()),
        &["counts", "lookup_percpu"],
    );
}

#[test]
fn a_pinned_percpu_map_reopens_knowing_it_is_per_cpu() {
    require_root();
    let pins = common::PinDir::new("maps");
    std::fs::create_dir(pins.path()).unwrap();
    let path = pins.path().join("pcpu");
    let n = cpus().count as usize;
    let values: Vec<u64> = (0..n as u64).map(|c| 1000 + c).collect();
    let id = {
        let map = Map::create(
            "t_pinned",
            MapType::PERCPU_ARRAY,
            4,
            8,
            4,
            MapFlags::empty(),
        )
        .unwrap();
        map.update_percpu_as(&3u32, &values, UpdateFlags::Any)
            .unwrap();
        map.pin(&path).unwrap();
        map.info().unwrap().id
    };
    // The creating handle is gone; the pin holds the map.
    let map = Map::from_pin(&path).unwrap();
    assert_eq!(map.info().unwrap().id, id);
    assert!(map.is_per_cpu());
    assert_eq!(
        (
            map.name(),
            map.map_type(),
            map.key_size(),
            map.value_size(),
            map.max_entries()
        ),
        ("t_pinned", MapType::PERCPU_ARRAY, 4, 8, 4)
    );
    refused(
        || map.lookup(&3u32.to_ne_bytes()),
        &["t_pinned", "lookup_percpu"],
    );
    assert_eq!(map.lookup_percpu_as::<u32, u64>(&3).unwrap(), Some(values));
    // from_fd of a program is refused by name.
    let loaded = common::load(PERCPU).unwrap();
    let prog = loaded.program("count_per_cpu").unwrap();
    let err = Map::from_fd(prog.fd().try_clone_to_owned().unwrap()).unwrap_err();
    assert!(err.to_string().contains("not a map"), "{err}");
}

#[test]
fn mmap_reads_and_writes_stay_inside_the_values() {
    require_root();
    let map = Map::create("t_mmap", MapType::ARRAY, 4, 12, 3, MapFlags::MMAPABLE).unwrap();
    let m = map.mmap(true).unwrap();
    // 3 values of 12 bytes, each rounded up to 16: 48 bytes, in one page.
    assert_eq!(m.len(), 48);
    let mut buf = [0u8; 4];
    assert_eq!(
        m.read(48, &mut buf).unwrap_err().raw_os_error(),
        Some(libc::ERANGE)
    );
    assert_eq!(
        m.read(46, &mut buf).unwrap_err().raw_os_error(),
        Some(libc::ERANGE)
    );
    assert_eq!(
        m.write(usize::MAX, &buf).unwrap_err().raw_os_error(),
        Some(libc::ERANGE)
    );
    m.write(16, &0xabcdu32.to_ne_bytes()).unwrap();
    assert_eq!(
        map.lookup_as::<u32, [u32; 3]>(&1).unwrap(),
        Some([0xabcd, 0, 0])
    );
    m.read(16, &mut buf).unwrap();
    assert_eq!(u32::from_ne_bytes(buf), 0xabcd);
    let plain = Map::create("t_nommap", MapType::ARRAY, 4, 4, 1, MapFlags::empty()).unwrap();
    refused(
        || plain.mmap(false),
        &["t_nommap", "mmap", "without BPF_F_MMAPABLE"],
    );
}
