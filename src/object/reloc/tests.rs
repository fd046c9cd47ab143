//! Relocation on a small hand-built object: one program that references a
//! map, a global, a subprogram, a callback, a kfunc, a missing weak kfunc, a
//! kconfig value and a typeless ksym.

use std::collections::BTreeMap;
use std::ffi::CString;

use rawbpf_asm::Insn;

use super::*;
use crate::object::elf::{DataKind, Function, Reloc, Section};
use crate::object::externs::{Resolution, Resolved};

const PROG: usize = 1;
const TEXT: usize = 2;
const MAPS: usize = 3;
const BSS: usize = 4;

fn section(index: usize, name: &str, kind: SectionKind, insns: Vec<Insn>) -> Section<'static> {
    Section {
        index,
        name: name.into(),
        kind,
        data: &[],
        size: if insns.is_empty() {
            64
        } else {
            (insns.len() * 8) as u64
        },
        insns,
    }
}

fn symbol(name: &str, section: Option<usize>, value: u64) -> Symbol {
    Symbol {
        name: name.into(),
        section,
        value,
        size: 0,
        kind: 0,
        global: true,
        weak: false,
        hidden: false,
    }
}

/// The program, with the slot of each reference:
///
/// ```text
/// 0  r1 = my_map ll          map
/// 2  r2 = counter ll         global at byte 8 of .bss
/// 4  call helper             subprogram (symbol)
/// 5  r3 = .text + 16 ll      callback at .text slot 2 (section symbol)
/// 7  call bpf_kfunc          kfunc
/// 8  call weak_kfunc         missing weak kfunc
/// 9  r4 = CONFIG_HZ ll       kconfig
/// 11 r5 = some_symbol ll     typeless ksym
/// 13 exit
/// .text: 0 helper: r0 = 1; exit   2 cb: r0 = 0; exit
/// ```
fn object() -> Object<'static> {
    let mut prog = Vec::new();
    prog.extend(Insn::ld_imm64(1, 0, 0));
    prog.extend(Insn::ld_imm64(2, 0, 0));
    prog.push(Insn::call_pseudo(-1));
    prog.extend(Insn::ld_imm64(3, 0, 16));
    prog.push(Insn::call_pseudo(-1));
    prog.push(Insn::call_pseudo(-1));
    prog.extend(Insn::ld_imm64(4, 0, 0));
    prog.extend(Insn::ld_imm64(5, 0, 0));
    prog.push(Insn::exit());
    let text = vec![
        Insn::mov64_imm(0, 1),
        Insn::exit(),
        Insn::mov64_imm(0, 0),
        Insn::exit(),
    ];
    let prog_len = prog.len();
    let sections = vec![
        section(0, "", SectionKind::Other, vec![]),
        section(PROG, "cgroup_skb/egress", SectionKind::Program, prog),
        section(TEXT, ".text", SectionKind::Text, text),
        section(MAPS, ".maps", SectionKind::Maps, vec![]),
        section(BSS, ".bss", SectionKind::Data(DataKind::Bss), vec![]),
    ];
    let symbols = vec![
        symbol("", None, 0),
        symbol("my_map", Some(MAPS), 0),
        symbol("counter", Some(BSS), 8),
        symbol("helper", Some(TEXT), 0),
        symbol(".text", Some(TEXT), 0),
        symbol("bpf_kfunc", None, 0),
        symbol("weak_kfunc", None, 0),
        symbol("CONFIG_HZ", None, 0),
        symbol("some_symbol", None, 0),
    ];
    let reloc = |symbol, r_type| Reloc { symbol, r_type };
    let relocs = BTreeMap::from([
        ((PROG, 0), reloc(1, R_BPF_64_64)),
        ((PROG, 16), reloc(2, R_BPF_64_64)),
        ((PROG, 32), reloc(3, R_BPF_64_32)),
        ((PROG, 40), reloc(4, R_BPF_64_64)),
        ((PROG, 56), reloc(5, R_BPF_64_32)),
        ((PROG, 64), reloc(6, R_BPF_64_32)),
        ((PROG, 72), reloc(7, R_BPF_64_64)),
        ((PROG, 88), reloc(8, R_BPF_64_64)),
    ]);
    let function = |name: &str, section, start, len| Function {
        name: name.into(),
        section,
        start,
        len,
        global: true,
        hidden: false,
    };
    Object {
        sections,
        symbols,
        functions: vec![
            function("prog", PROG, 0, prog_len),
            function("helper", TEXT, 0, 2),
            function("cb", TEXT, 2, 2),
        ],
        programs: vec![0],
        maps: vec![],
        relocs,
        map_relocs: vec![],
        license: CString::new("GPL").unwrap(),
        btf: None,
        btf_ext: None,
    }
}

fn resolved() -> Resolved {
    Resolved {
        by_name: BTreeMap::from([
            (
                "bpf_kfunc".to_string(),
                Resolution::Kfunc {
                    btf_id: 4242,
                    fd_array_index: 0,
                },
            ),
            ("weak_kfunc".to_string(), Resolution::Missing { number: 3 }),
            ("CONFIG_HZ".to_string(), Resolution::Kconfig { byte: 12 }),
            (
                "some_symbol".to_string(),
                Resolution::Address(0xffff_ffff_8100_1000),
            ),
        ]),
        ..Default::default()
    }
}

fn fd_of(source: MapSource) -> Option<RawFd> {
    match source {
        MapSource::Defined {
            section: MAPS,
            offset: 0,
        } => Some(10),
        MapSource::Data { section: BSS, .. } => Some(11),
        MapSource::Kconfig => Some(12),
        _ => None,
    }
}

fn assemble_test_object(obj: &Object<'_>, externs: &Resolved) -> Result<Assembled> {
    let targets = Targets {
        map_fd: &fd_of,
        externs,
    };
    assemble(obj, 0, None, &targets)
}

#[test]
fn every_kind_of_reference_becomes_its_instruction() {
    let obj = object();
    let a = assemble_test_object(&obj, &resolved()).unwrap();
    let i = &a.insns;
    // The program, then the subprogram, then the callback.
    assert_eq!(a.layout, [(0, 0), (1, 14), (2, 16)]);
    assert_eq!(i.len(), 18);
    assert_eq!(i[0..2], Insn::ld_map_fd(1, 10));
    assert_eq!(i[2..4], Insn::ld_map_value(2, 11, 8));
    assert_eq!(i[4], Insn::call_pseudo(14 - 5));
    assert_eq!(i[5..7], Insn::ld_func(3, 16 - 6));
    assert_eq!(i[7], Insn::call_kfunc(4242));
    assert_eq!(i[8], Insn::call_helper(POISONED_KFUNC_CALL + 3));
    assert_eq!(i[9..11], Insn::ld_map_value(4, 12, 12));
    assert_eq!(i[11..13], Insn::ld_u64(5, 0xffff_ffff_8100_1000));
    assert!(i[13].is_exit());
    assert_eq!(i[14..18], obj.sections[TEXT].insns[..]);
    assert!(a.fd_array.is_empty());
}

#[test]
fn a_module_kfunc_carries_its_fd_array_index_and_the_array() {
    let obj = object();
    let mut externs = resolved();
    externs.by_name.insert(
        "bpf_kfunc".into(),
        Resolution::Kfunc {
            btf_id: 77,
            fd_array_index: 1,
        },
    );
    externs.fd_array = vec![0, 33];
    let a = assemble_test_object(&obj, &externs).unwrap();
    assert_eq!(a.insns[7], Insn::call_module_kfunc(77, 1));
    assert_eq!(a.fd_array, [0, 33]);
}

#[test]
fn typed_ksym_becomes_a_btf_id_load() {
    let obj = object();
    let mut externs = resolved();
    externs.by_name.insert(
        "some_symbol".into(),
        Resolution::TypedKsym {
            btf_id: 99,
            btf_obj_fd: 0,
        },
    );
    let a = assemble_test_object(&obj, &externs).unwrap();
    assert_eq!(a.insns[11..13], Insn::ld_btf_id(5, 99, 0));
}

#[test]
fn an_unresolved_extern_is_an_error_naming_it() {
    let obj = object();
    let mut externs = resolved();
    externs.by_name.remove("CONFIG_HZ");
    let e = assemble_test_object(&obj, &externs).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("'CONFIG_HZ'") && msg.contains("insn 9"),
        "{msg}"
    );
}

#[test]
fn an_extern_on_the_wrong_instruction_is_an_error() {
    // A kconfig value used as a call target.
    let obj = object();
    let mut externs = resolved();
    externs
        .by_name
        .insert("bpf_kfunc".into(), Resolution::Kconfig { byte: 0 });
    let msg = assemble_test_object(&obj, &externs)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("'bpf_kfunc'") && msg.contains("not a kernel function"),
        "{msg}"
    );
}

#[test]
fn a_global_past_its_section_is_an_error() {
    let mut obj = object();
    obj.symbols[2].value = 64;
    let msg = assemble_test_object(&obj, &resolved())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("byte 64 of 'counter' is past its section"),
        "{msg}"
    );
}

#[test]
fn a_call_into_the_middle_of_a_function_is_an_error() {
    let mut obj = object();
    obj.symbols[3].value = 8; // slot 1 of .text: inside `helper`
    let msg = assemble_test_object(&obj, &resolved())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("not the start of a function"), "{msg}");
}

#[test]
fn slots_and_bytes() {
    assert_eq!(byte_of_slot(3), 24);
    assert_eq!(slot_of_byte(24), Some(3));
    assert_eq!(slot_of_byte(25), None);
}
