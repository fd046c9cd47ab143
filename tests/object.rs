//! Kernel-free tests: ELF parsing, BTF fix-up, map planning and relocation on
//! the committed objects, and bad input. No root needed.

use rawbpf::asm::{pseudo, Insn};

use rawbpf::object::btf::{kind, Btf};
use rawbpf::object::elf::{DataKind, Object, SectionKind};
use rawbpf::object::maps::MapSource;
use rawbpf::object::reloc;
use rawbpf::Error;

const SEED: &[u8] = rawbpf::SEED_OBJECT;
const SUBPROG: &[u8] = include_bytes!("../bpf/subprog.bpf.o");
const CALLBACK: &[u8] = include_bytes!("../bpf/callback.bpf.o");
const GLOBALS: &[u8] = include_bytes!("../bpf/globals.bpf.o");
const MULTI: &[u8] = include_bytes!("../bpf/multi.bpf.o");

/// Fake fds for relocation: 100 + the map's index in the plan.
/// Assembles program `entry` with fake map fds and no externs.
fn assemble(p: &rawbpf::ObjectSpec<'_>, entry: usize) -> rawbpf::Result<reloc::Assembled> {
    let targets = reloc::Targets {
        map_fd: &fake_fds(p),
        externs: &Default::default(),
    };
    reloc::assemble(p.object(), entry, p.btf_ext(), &targets)
}

fn fake_fds<'a>(p: &'a rawbpf::ObjectSpec<'a>) -> impl Fn(MapSource) -> Option<i32> + 'a {
    |source| {
        p.maps()
            .position(|m| m.source == source)
            .map(|i| 100 + i as i32)
    }
}

#[test]
fn seed_object_has_one_program_one_subprogram_and_two_maps() {
    let obj = Object::parse(SEED).unwrap();
    assert_eq!(obj.license.to_str().unwrap(), "GPL");
    assert_eq!(obj.programs.len(), 1);
    let prog = &obj.functions[obj.programs[0]];
    assert_eq!(prog.name, "bpf_prog1");
    assert_eq!(obj.sections[prog.section].name, "cgroup_skb/egress");
    assert_eq!(obj.sections[prog.section].kind, SectionKind::Program);
    let text: Vec<_> = obj
        .functions
        .iter()
        .filter(|f| obj.sections[f.section].kind == SectionKind::Text)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(text, ["timer_callback"]);
    assert_eq!(obj.maps.len(), 1);
    assert_eq!(obj.maps[0].name, "hmap");
    let data: Vec<_> = obj
        .data_sections()
        .map(|(s, k)| (s.name.as_str(), k))
        .collect();
    assert_eq!(data, [(".rodata", DataKind::Rodata)]);
    assert!(obj.btf.is_some() && obj.btf_ext.is_some());
}

#[test]
fn seed_btf_defines_hmap_with_a_timer_value() {
    let obj = Object::parse(SEED).unwrap();
    let btf = Btf::parse(obj.btf.unwrap()).unwrap();
    let defs = btf.map_defs().unwrap();
    assert_eq!(defs.len(), 1);
    let hmap = &defs[0];
    assert_eq!(
        (hmap.name.as_str(), hmap.map_type, hmap.max_entries),
        ("hmap", 2, 1)
    );
    assert_eq!((hmap.key_size, hmap.value_size), (4, 16));
    assert_eq!(btf.type_name(hmap.value_type_id).unwrap(), "elem");
    let members = btf
        .members(btf.resolve(hmap.value_type_id).unwrap())
        .unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(btf.type_name(members[0].1).unwrap(), "bpf_timer");
}

#[test]
fn datasec_fixup_fills_sizes_and_offsets_from_the_elf() {
    let obj = Object::parse(SEED).unwrap();
    let mut btf = Btf::parse(obj.btf.unwrap()).unwrap();
    let maps = btf.find(kind::DATASEC, ".maps").unwrap();
    assert_eq!(
        btf.get(maps).unwrap().size_or_type,
        0,
        "clang leaves DATASEC sizes 0"
    );
    btf.fix_datasecs(&obj).unwrap();
    for name in [".maps", ".rodata", "license"] {
        let id = btf.find(kind::DATASEC, name).unwrap();
        let section = obj.section_by_name(name).unwrap();
        assert_eq!(
            u64::from(btf.get(id).unwrap().size_or_type),
            section.size,
            "{name}"
        );
        let vars = btf.datasec_vars(id).unwrap();
        assert!(
            vars.windows(2).all(|w| w[0].1 + w[0].2 <= w[1].1),
            "{name}: sorted, no overlap"
        );
        assert!(
            vars.iter().all(|v| u64::from(v.1 + v.2) <= section.size),
            "{name}: inside"
        );
    }
    // The fixed blob still parses to the same number of types.
    assert_eq!(Btf::parse(btf.bytes()).unwrap().len(), btf.len());
}

#[test]
fn seed_plan_is_hmap_with_btf_and_a_frozen_rodata() {
    let p = rawbpf::ObjectSpec::parse(SEED).unwrap();
    assert_eq!(p.maps().count(), 2);
    let hmap = p.maps().next().unwrap();
    assert_eq!(hmap.name, "hmap");
    assert!(hmap.attr.btf_key_type_id != 0 && hmap.attr.btf_value_type_id != 0);
    assert!(!hmap.freeze && hmap.initial.is_none());
    let rodata = p.maps().nth(1).unwrap();
    assert_eq!(rodata.name, ".rodata");
    assert_eq!(
        (
            rodata.attr.map_type,
            rodata.attr.key_size,
            rodata.attr.max_entries
        ),
        (2, 4, 1)
    );
    assert_eq!(
        u64::from(rodata.attr.value_size),
        p.object().section_by_name(".rodata").unwrap().size
    );
    assert_eq!(
        rodata.attr.map_flags,
        rawbpf::sys::MapFlags::RDONLY_PROG.bits()
    );
    assert!(rodata.freeze && rodata.initial.is_some());
}

#[test]
fn seed_relocation_patches_maps_and_appends_the_callback() {
    let p = rawbpf::ObjectSpec::parse(SEED).unwrap();
    let obj = &p.object();
    let assembled = assemble(&p, obj.programs[0]).unwrap();
    let prog_len = obj.functions[obj.programs[0]].len;
    let callback = obj
        .functions
        .iter()
        .position(|f| f.name == "timer_callback")
        .unwrap();
    assert_eq!(
        assembled.layout,
        [(obj.programs[0], 0), (callback, prog_len)]
    );
    assert_eq!(
        assembled.insns.len(),
        prog_len + obj.functions[callback].len
    );

    let mut map_loads = 0;
    let mut func_loads = 0;
    for (i, insn) in assembled.insns.iter().enumerate() {
        if insn.is_map_fd_load() {
            assert_eq!(insn.imm, 100, "hmap's fd at {i}");
            assert_eq!(assembled.insns[i + 1].imm, 0);
            map_loads += 1;
        }
        if insn.is_func_load() {
            // The callback now starts right after the program.
            assert_eq!(
                i as i64 + 1 + i64::from(insn.imm),
                prog_len as i64,
                "callback offset at {i}"
            );
            func_loads += 1;
        }
        if insn.is_map_value_load() {
            assert!(i >= prog_len, "only the callback reads .rodata");
            assert_eq!(insn.imm, 101);
            assert_eq!(
                assembled.insns[i + 1].imm,
                0,
                "the format string is at offset 0"
            );
        }
    }
    assert_eq!((map_loads, func_loads), (3, 1));
    // One func_info per function, at its first instruction of the final program.
    let offs: Vec<u32> = assembled.func_info.iter().map(|f| f.insn_off).collect();
    assert_eq!(offs, [0, prog_len as u32]);
    assert!(!assembled.line_info.is_empty());
    assert!(assembled
        .line_info
        .iter()
        .all(|l| (l.insn_off as usize) < assembled.insns.len()));
    assert!(assembled
        .line_info
        .windows(2)
        .all(|w| w[0].insn_off <= w[1].insn_off));
}

#[test]
fn nested_subprograms_are_appended_once_each() {
    let p = rawbpf::ObjectSpec::parse(SUBPROG).unwrap();
    let obj = &p.object();
    assert!(obj.programs.len() >= 2, "subprog.bpf.o has two programs");
    for &entry in &obj.programs {
        let assembled = assemble(&p, entry).unwrap();
        let mut placed: Vec<usize> = assembled.layout.iter().map(|l| l.0).collect();
        let n = placed.len();
        placed.sort();
        placed.dedup();
        assert_eq!(placed.len(), n, "a function placed twice");
        assert!(
            n >= 2,
            "program {} calls subprograms",
            obj.functions[entry].name
        );
        // Every bpf-to-bpf call lands on the first instruction of a placed function.
        let starts: Vec<usize> = assembled.layout.iter().map(|l| l.1).collect();
        for (i, insn) in assembled.insns.iter().enumerate() {
            if insn.is_pseudo_call() {
                let target = (i as i64 + 1 + i64::from(insn.imm)) as usize;
                assert!(starts.contains(&target), "call at {i} lands on {target}");
            }
        }
        assert_eq!(assembled.func_info.len(), n, "one func_info per function");
    }
}

#[test]
fn callbacks_become_pseudo_func_loads() {
    let p = rawbpf::ObjectSpec::parse(CALLBACK).unwrap();
    let obj = &p.object();
    let assembled = assemble(&p, obj.programs[0]).unwrap();
    let starts: Vec<usize> = assembled.layout.iter().map(|l| l.1).collect();
    let funcs: Vec<usize> = (0..assembled.insns.len())
        .filter(|&i| assembled.insns[i].is_func_load())
        .map(|i| (i as i64 + 1 + i64::from(assembled.insns[i].imm)) as usize)
        .collect();
    assert!(!funcs.is_empty());
    assert!(funcs.iter().all(|t| starts.contains(t)));
}

#[test]
fn globals_get_one_map_per_data_section() {
    let p = rawbpf::ObjectSpec::parse(GLOBALS).unwrap();
    let kinds: Vec<DataKind> = p
        .maps()
        .filter_map(|m| match m.source {
            MapSource::Data { kind, .. } => Some(kind),
            _ => None,
        })
        .collect();
    for k in [DataKind::Rodata, DataKind::Data, DataKind::Bss] {
        assert!(kinds.contains(&k), "{k:?} section missing from {kinds:?}");
    }
    let obj = &p.object();
    let assembled = assemble(&p, obj.programs[0]).unwrap();
    assert!(assembled.insns.iter().any(Insn::is_map_value_load));
}

#[test]
fn every_program_of_a_multi_program_object_links() {
    let p = rawbpf::ObjectSpec::parse(MULTI).unwrap();
    assert!(p.object().programs.len() >= 4);
    for &entry in &p.object().programs {
        let assembled = assemble(&p, entry).unwrap();
        assert!(assembled
            .insns
            .iter()
            .any(|i| i.is_map_fd_load() && i.src == pseudo::MAP_FD));
    }
}

#[test]
fn truncated_objects_give_errors_not_panics() {
    for len in 0..SEED.len() {
        match rawbpf::ObjectSpec::parse(&SEED[..len]) {
            Err(Error::Elf(_) | Error::Btf(_) | Error::Map { .. } | Error::Reloc { .. }) => {}
            Err(other) => panic!("truncated at {len}: unexpected error kind {other}"),
            Ok(_) => panic!("truncated at {len}: parsed"),
        }
    }
}

/// Every committed object, the broken ones included.
const ALL: &[(&str, &[u8])] = &[
    ("timer_cancel", SEED),
    ("subprog", SUBPROG),
    ("callback", CALLBACK),
    ("globals", GLOBALS),
    ("multi", MULTI),
    ("bad_callback", include_bytes!("../bpf/bad_callback.bpf.o")),
    ("bad_verifier", include_bytes!("../bpf/bad_verifier.bpf.o")),
    ("no_btf", include_bytes!("../bpf/no_btf.bpf.o")),
    ("drop_egress", include_bytes!("../bpf/drop_egress.bpf.o")),
    ("timer_cases", rawbpf::selftest::TIMER_CASES),
    ("timer_types", rawbpf::selftest::TIMER_TYPES),
    ("maps_only", include_bytes!("../bpf/maps_only.bpf.o")),
    ("text_only", include_bytes!("../bpf/text_only.bpf.o")),
    ("exceptions", include_bytes!("../bpf/exceptions.bpf.o")),
    ("struct_ops", include_bytes!("../bpf/struct_ops.bpf.o")),
];

#[test]
fn corrupted_objects_never_panic() {
    // Corrupt each byte in turn (every byte of the seed, every 7th of the
    // others, to keep the debug build fast); any result is fine except a
    // panic, or an arithmetic overflow, which panics in this debug build.
    for (name, object) in ALL {
        let stride = if *name == "timer_cancel" { 1 } else { 7 };
        let mut bytes = object.to_vec();
        for i in (0..bytes.len()).step_by(stride) {
            let original = bytes[i];
            for corrupt in [original ^ 0xff, 0xff, original.wrapping_add(1)] {
                bytes[i] = corrupt;
                let _ = rawbpf::ObjectSpec::parse(&bytes);
            }
            bytes[i] = original;
        }
        assert_eq!(bytes, *object, "{name}");
    }
}

#[test]
fn every_committed_object_prepares() {
    for (name, object) in ALL {
        rawbpf::ObjectSpec::parse(object).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn not_bpf_elf_is_named_as_such() {
    let err = rawbpf::ObjectSpec::parse(b"\x7fELF\x02\x01\x01")
        .unwrap_err()
        .to_string();
    assert!(err.contains("ELF"), "{err}");
    let mut wrong_machine = SEED.to_vec();
    wrong_machine[18] = 62; // EM_X86_64
    let err = rawbpf::ObjectSpec::parse(&wrong_machine)
        .unwrap_err()
        .to_string();
    assert!(err.contains("EM_BPF"), "{err}");
}

#[test]
fn btf_with_bogus_offsets_is_rejected_by_name() {
    let obj = Object::parse(SEED).unwrap();
    let raw = obj.btf.unwrap();
    for (field, value, expect) in [
        (8usize, 0x7fff_0000u32, "outside"), // type_off
        (16, 0x7fff_0000, "outside"),        // str_off
        (4, 3, "header length"),             // hdr_len
    ] {
        let mut bad = raw.to_vec();
        bad[field..field + 4].copy_from_slice(&value.to_le_bytes());
        let err = Btf::parse(&bad).unwrap_err().to_string();
        assert!(err.contains(expect), "field {field}: {err}");
    }
    let mut bad = raw.to_vec();
    bad[0] = 0;
    assert!(Btf::parse(&bad).unwrap_err().to_string().contains("magic"));
}
