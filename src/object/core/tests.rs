//! CO-RE on hand-built BTF: candidates, compatibility, every kind, patching,
//! and the failure cases.

use super::*;
use crate::object::btf::{testing, BtfExt};
use rawbpf_asm::op::{BPF_ADD, BPF_DW, BPF_W};

/// A tiny BTF writer for tests.
#[derive(Default)]
struct B {
    types: Vec<u32>,
    strings: Vec<u8>,
    n: u32,
}

impl B {
    fn new() -> B {
        B {
            strings: vec![0],
            ..B::default()
        }
    }

    fn s(&mut self, name: &str) -> u32 {
        if name.is_empty() {
            return 0;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        off
    }

    fn push(
        &mut self,
        name: &str,
        kind: u8,
        vlen: u16,
        kflag: bool,
        size_or_type: u32,
        extra: &[u32],
    ) -> u32 {
        let name_off = self.s(name);
        let info = testing::info(kind, u32::from(vlen), kflag);
        self.types.extend([name_off, info, size_or_type]);
        self.types.extend_from_slice(extra);
        self.n += 1;
        self.n
    }

    fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
        let enc = (u32::from(signed) << 24) | (size * 8);
        self.push(name, kind::INT, 0, false, size, &[enc])
    }

    fn ptr(&mut self, to: u32) -> u32 {
        self.push("", kind::PTR, 0, false, to, &[])
    }

    fn array(&mut self, elem: u32, n: u32) -> u32 {
        self.push("", kind::ARRAY, 0, false, 0, &[elem, elem, n])
    }

    fn typedef(&mut self, name: &str, to: u32) -> u32 {
        self.push(name, kind::TYPEDEF, 0, false, to, &[])
    }

    /// Members: (name, type, bit offset, bitfield size).
    fn composite(
        &mut self,
        k: u8,
        name: &str,
        size: u32,
        members: &[(&str, u32, u32, u32)],
    ) -> u32 {
        let kflag = members.iter().any(|m| m.3 != 0);
        let mut extra = Vec::new();
        for &(m, ty, off, bits) in members {
            extra.extend([self.s(m), ty, if kflag { bits << 24 | off } else { off }]);
        }
        self.push(name, k, members.len() as u16, kflag, size, &extra)
    }

    fn strukt(&mut self, name: &str, size: u32, members: &[(&str, u32, u32, u32)]) -> u32 {
        self.composite(kind::STRUCT, name, size, members)
    }

    /// With a negative value the enum is marked signed (kflag).
    fn enumeration(&mut self, name: &str, values: &[(&str, i32)]) -> u32 {
        let mut extra = Vec::new();
        for &(v, val) in values {
            extra.extend([self.s(v), val as u32]);
        }
        let signed = values.iter().any(|v| v.1 < 0);
        self.push(name, kind::ENUM, values.len() as u16, signed, 4, &extra)
    }

    fn btf(&self) -> Btf {
        Btf::parse(&testing::blob(&self.types, &self.strings)).unwrap()
    }
}

fn relo(type_id: u32, access: &str, kind: u32) -> CoreRelo {
    CoreRelo {
        insn_off: 0,
        type_id,
        access: access.into(),
        kind,
    }
}

/// Local: `struct s { int a; int b; }`, `struct s___v2 { int b; }`.
fn local() -> (Btf, u32, u32) {
    let mut b = B::new();
    let int = b.int("int", 4, true);
    let s = b.strukt("s", 8, &[("a", int, 0, 0), ("b", int, 32, 0)]);
    let v2 = b.strukt("s___v2", 4, &[("b", int, 0, 0)]);
    (b.btf(), s, v2)
}

/// Target: `struct s { long x; int b; int a; }` (b at 8, a at 12).
fn target() -> Btf {
    let mut b = B::new();
    let long = b.int("long", 8, true);
    let int = b.int("int", 4, true);
    b.strukt(
        "s",
        16,
        &[("x", long, 0, 0), ("b", int, 64, 0), ("a", int, 96, 0)],
    );
    b.btf()
}

fn decide1(local: &Btf, r: &CoreRelo, t: &Btf) -> Result<Outcome> {
    decide(local, r, &[t as &dyn BtfSource])
}

#[test]
fn essential_names_drop_the_flavour() {
    assert_eq!(essential_name("sk_buff___mine"), "sk_buff");
    assert_eq!(essential_name("sk_buff___a___b"), "sk_buff___a");
    assert_eq!(essential_name("sk_buff"), "sk_buff");
    assert_eq!(essential_name("__sk_buff"), "__sk_buff");
    assert_eq!(essential_name("a____b"), "a____b"); // four underscores: no flavour
    assert_eq!(essential_name("x___"), "x___");
    assert_eq!(essential_name(""), "");
}

#[test]
fn field_offsets_follow_the_target_layout_by_name() {
    let (l, s, v2) = local();
    let t = target();
    let o = decide1(&l, &relo(s, "0:1", relo::FIELD_BYTE_OFFSET), &t).unwrap();
    assert_eq!((o.local, o.target, o.poison), (4, 8, false));
    let o = decide1(&l, &relo(s, "0:0", relo::FIELD_BYTE_OFFSET), &t).unwrap();
    assert_eq!((o.local, o.target), (0, 12));
    // The flavour finds struct s by its essential name.
    let o = decide1(&l, &relo(v2, "0:0", relo::FIELD_BYTE_OFFSET), &t).unwrap();
    assert_eq!((o.local, o.target), (0, 8));
    assert!(o.matched.contains("struct s"), "{}", o.matched);
    let o = decide1(&l, &relo(s, "0:1", relo::FIELD_BYTE_SIZE), &t).unwrap();
    assert_eq!(o.target, 4);
    let o = decide1(&l, &relo(s, "0:1", relo::FIELD_EXISTS), &t).unwrap();
    assert_eq!(o.target, 1);
    let o = decide1(&l, &relo(s, "0:1", relo::FIELD_SIGNED), &t).unwrap();
    assert_eq!(o.target, 1);
    // Root array index: s[2] is 2 * 16 bytes in the target.
    let o = decide1(&l, &relo(s, "2", relo::FIELD_BYTE_OFFSET), &t).unwrap();
    assert_eq!((o.local, o.target), (16, 32));
}

#[test]
fn members_inside_anonymous_unions_and_arrays_are_found() {
    let mut b = B::new();
    let int = b.int("int", 4, false);
    let arr = b.array(int, 4);
    let s = b.strukt("t", 20, &[("x", int, 0, 0), ("arr", arr, 32, 0)]);
    let l = b.btf();
    let mut b = B::new();
    let int = b.int("unsigned int", 4, false);
    let arr = b.array(int, 8);
    let anon = b.composite(kind::UNION, "", 32, &[("arr", arr, 0, 0)]);
    b.strukt(
        "t",
        48,
        &[("pad", int, 0, 0), ("", anon, 64, 0), ("x", int, 320, 0)],
    );
    let t = b.btf();
    let o = decide1(&l, &relo(s, "0:1:3", relo::FIELD_BYTE_OFFSET), &t).unwrap();
    assert_eq!((o.local, o.target), (16, 8 + 12));
    // Index 5 exists in the target's array of 8 but not the local array of 4.
    assert!(decide1(&l, &relo(s, "0:1:5", relo::FIELD_BYTE_OFFSET), &t).is_err());
    let o = decide1(&l, &relo(s, "0:0", relo::FIELD_BYTE_OFFSET), &t).unwrap();
    assert_eq!(o.target, 40);
}

#[test]
fn missing_fields_and_types_poison_or_give_zero() {
    let (l, s, _) = local();
    let mut b = B::new();
    let int = b.int("int", 4, true);
    b.strukt("s", 4, &[("a", int, 0, 0)]); // no b
    b.strukt("other", 4, &[("b", int, 0, 0)]);
    let t = b.btf();
    let off = decide1(&l, &relo(s, "0:1", relo::FIELD_BYTE_OFFSET), &t).unwrap();
    assert!(off.poison);
    let exists = decide1(&l, &relo(s, "0:1", relo::FIELD_EXISTS), &t).unwrap();
    assert_eq!((exists.target, exists.poison), (0, false));
    // No candidate at all for the root type.
    let mut b = B::new();
    b.int("int", 4, true);
    let none = b.btf();
    assert!(
        decide1(&l, &relo(s, "0:0", relo::FIELD_BYTE_OFFSET), &none)
            .unwrap()
            .poison
    );
    for k in [
        relo::TYPE_EXISTS,
        relo::TYPE_SIZE,
        relo::TYPE_MATCHES,
        relo::TYPE_ID_TARGET,
    ] {
        let o = decide1(&l, &relo(s, "0", k), &none).unwrap();
        assert_eq!((o.target, o.poison), (0, false), "{}", relo::name(k));
    }
}

#[test]
fn ambiguous_candidates_are_an_error_naming_both() {
    let (l, s, _) = local();
    let mut b = B::new();
    let int = b.int("int", 4, true);
    b.strukt("s", 8, &[("a", int, 0, 0), ("b", int, 32, 0)]);
    b.strukt("s___other", 8, &[("b", int, 0, 0), ("a", int, 32, 0)]);
    let t = b.btf();
    let err = decide1(&l, &relo(s, "0:1", relo::FIELD_BYTE_OFFSET), &t).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("ambiguous") && msg.contains("struct s (") && msg.contains("s___other"),
        "{msg}"
    );
    // Candidates that agree are fine.
    let mut b = B::new();
    let int = b.int("int", 4, true);
    b.strukt("s", 8, &[("a", int, 0, 0), ("b", int, 32, 0)]);
    b.strukt("s___same", 8, &[("a", int, 0, 0), ("b", int, 32, 0)]);
    let o = decide1(&l, &relo(s, "0:1", relo::FIELD_BYTE_OFFSET), &b.btf()).unwrap();
    assert_eq!(o.target, 4);
}

#[test]
fn incompatible_kinds_do_not_match() {
    let (l, s, _) = local();
    // The root has the right name but is a union: not a candidate.
    let mut b = B::new();
    let int = b.int("int", 4, true);
    b.composite(kind::UNION, "s", 4, &[("a", int, 0, 0), ("b", int, 0, 0)]);
    assert!(
        decide1(&l, &relo(s, "0:1", relo::FIELD_BYTE_OFFSET), &b.btf())
            .unwrap()
            .poison
    );
    // The field is a struct where the local one is an int.
    let mut b = B::new();
    let int = b.int("int", 4, true);
    let inner = b.strukt("inner", 4, &[("z", int, 0, 0)]);
    b.strukt("s", 8, &[("a", int, 0, 0), ("b", inner, 32, 0)]);
    let t = b.btf();
    assert!(
        decide1(&l, &relo(s, "0:1", relo::FIELD_BYTE_OFFSET), &t)
            .unwrap()
            .poison
    );
    assert_eq!(
        decide1(&l, &relo(s, "0:1", relo::FIELD_EXISTS), &t)
            .unwrap()
            .target,
        0
    );
    // An int matches a typedef of an int.
    let mut b = B::new();
    let int = b.int("int", 4, true);
    let td = b.typedef("s32", int);
    b.strukt("s", 8, &[("a", int, 0, 0), ("b", td, 32, 0)]);
    let o = decide1(&l, &relo(s, "0:1", relo::FIELD_BYTE_OFFSET), &b.btf()).unwrap();
    assert_eq!((o.target, o.poison), (4, false));
    // A pointer matches any pointer, but not an integer.
    let mut b = B::new();
    let int = b.int("int", 4, true);
    let p = b.ptr(int);
    let ls = b.strukt("p", 8, &[("q", p, 0, 0)]);
    let lp = b.btf();
    let mut b = B::new();
    let long = b.int("long", 8, true);
    let pp = b.ptr(long);
    b.strukt("p", 16, &[("x", long, 0, 0), ("q", pp, 64, 0)]);
    let o = decide1(&lp, &relo(ls, "0:0", relo::FIELD_BYTE_OFFSET), &b.btf()).unwrap();
    assert_eq!(o.target, 8);
    let mut b = B::new();
    let long = b.int("long", 8, true);
    b.strukt("p", 8, &[("q", long, 0, 0)]);
    assert!(
        decide1(&lp, &relo(ls, "0:0", relo::FIELD_BYTE_OFFSET), &b.btf())
            .unwrap()
            .poison
    );
}

#[test]
fn bad_access_strings_are_errors() {
    let (l, s, _) = local();
    let t = target();
    for (access, kind) in [
        ("0:2", relo::FIELD_BYTE_OFFSET),   // struct s has two members
        ("0:1:0", relo::FIELD_BYTE_OFFSET), // int has no members
        ("1", relo::TYPE_SIZE),             // type relocations take "0"
        ("0:0", relo::TYPE_EXISTS),
        ("0", relo::ENUMVAL_VALUE), // s is not an enum
        ("x", relo::FIELD_BYTE_OFFSET),
    ] {
        let err = decide1(&l, &relo(s, access, kind), &t).unwrap_err();
        assert!(err.to_string().contains("access string"), "{access}: {err}");
    }
}

#[test]
fn bitfields_give_the_load_and_the_shifts() {
    let mut b = B::new();
    let u8_ = b.int("unsigned char", 1, false);
    let int = b.int("int", 4, true);
    let s = b.strukt("bf", 4, &[("kind", u8_, 0, 3), ("level", int, 3, 5)]);
    let l = b.btf();
    // Target: kind moved to bits 13..16 of a 4-byte word; level is signed.
    let mut b = B::new();
    let u8_ = b.int("unsigned char", 1, false);
    let int = b.int("int", 4, true);
    b.strukt(
        "bf",
        8,
        &[
            ("pad", int, 0, 0),
            ("level", int, 40, 5),
            ("kind", u8_, 45, 3),
        ],
    );
    let t = b.btf();
    let get = |idx: &str, k| decide1(&l, &relo(s, idx, k), &t).unwrap().target;
    // kind: bits 45..48 → byte 5, a 1-byte load covers them.
    assert_eq!(get("0:0", relo::FIELD_BYTE_OFFSET), 5);
    assert_eq!(get("0:0", relo::FIELD_BYTE_SIZE), 1);
    assert_eq!(get("0:0", relo::FIELD_LSHIFT_U64), 64 - (45 + 3 - 40));
    assert_eq!(get("0:0", relo::FIELD_RSHIFT_U64), 61);
    assert_eq!(get("0:0", relo::FIELD_SIGNED), 0);
    // level: bits 40..45 of an int container → bytes 4..8.
    assert_eq!(get("0:1", relo::FIELD_BYTE_OFFSET), 4);
    assert_eq!(get("0:1", relo::FIELD_BYTE_SIZE), 4);
    assert_eq!(get("0:1", relo::FIELD_SIGNED), 1);
    // The shifts extract the field from a little-endian load of that size.
    let word: u64 = 0b10110 << (40 - 32);
    assert_eq!(
        (word << get("0:1", relo::FIELD_LSHIFT_U64)) >> get("0:1", relo::FIELD_RSHIFT_U64),
        0b10110
    );
}

#[test]
fn enum_values_come_from_the_target() {
    let mut b = B::new();
    let e = b.enumeration("color", &[("RED", 0), ("GREEN", 1), ("PURPLE___new", 2)]);
    let l = b.btf();
    let mut b = B::new();
    b.enumeration("color___k", &[("GREEN", 7), ("RED", -3)]);
    let t = b.btf();
    let get = |idx: &str, k| decide1(&l, &relo(e, idx, k), &t).unwrap();
    assert_eq!(get("1", relo::ENUMVAL_VALUE).target, 7);
    assert_eq!(get("0", relo::ENUMVAL_VALUE).target, -3i64 as u64);
    assert_eq!(get("0", relo::ENUMVAL_EXISTS).target, 1);
    assert_eq!(get("2", relo::ENUMVAL_EXISTS).target, 0);
    assert!(get("2", relo::ENUMVAL_VALUE).poison);
    assert!(decide1(&l, &relo(e, "3", relo::ENUMVAL_VALUE), &t).is_err());
}

#[test]
fn type_ids_sizes_existence_and_matches() {
    let (l, s, _) = local();
    let t = target();
    let get = |k| decide1(&l, &relo(s, "0", k), &t).unwrap();
    assert_eq!(get(relo::TYPE_ID_LOCAL).target, u64::from(s));
    assert_eq!(get(relo::TYPE_ID_TARGET).target, 3);
    assert_eq!(get(relo::TYPE_EXISTS).target, 1);
    assert_eq!(get(relo::TYPE_SIZE).target, 16);
    // TYPE_MATCHES: every local member must exist with a matching type.
    assert_eq!(get(relo::TYPE_MATCHES).target, 1);
    let mut b = B::new();
    let short = b.int("short", 2, true);
    b.strukt("s", 4, &[("a", short, 0, 0), ("b", short, 16, 0)]);
    let narrow = b.btf();
    assert_eq!(
        decide1(&l, &relo(s, "0", relo::TYPE_MATCHES), &narrow)
            .unwrap()
            .target,
        0
    );
    // ...while TYPE_EXISTS only needs the name and kind.
    assert_eq!(
        decide1(&l, &relo(s, "0", relo::TYPE_EXISTS), &narrow)
            .unwrap()
            .target,
        1
    );
}

/// Instructions that use local `s.b` (offset 4) in each patchable way.
fn insns() -> Vec<Insn> {
    let mut v = vec![
        Insn::ldx_mem(BPF_W, 1, 2, 4),  // 0: r1 = *(u32 *)(r2 + 4)
        Insn::alu64_imm(BPF_ADD, 1, 4), // 1: r1 += 4
        Insn::ldx_mem(BPF_DW, 1, 2, 4), // 2: r1 = *(u64 *)(r2 + 4)
    ];
    v.extend(Insn::ld_imm64(1, 0, 4)); // 3, 4: r1 = 4 ll
    v.push(Insn::exit()); // 5
    v
}

fn relo_at(insn: usize, type_id: u32, access: &str, kind: u32) -> CoreRelo {
    CoreRelo {
        insn_off: insn as u32 * 8,
        ..relo(type_id, access, kind)
    }
}

#[test]
fn patching_rewrites_offsets_immediates_and_ld_imm64() {
    let (l, s, _) = local();
    let t = target();
    let mut code = insns();
    let relos: Vec<_> = [0, 1, 3]
        .iter()
        .map(|&i| relo_at(i, s, "0:1", relo::FIELD_BYTE_OFFSET))
        .collect();
    let applied = relocate_section("sec", &mut code, &relos, &l, &[&t]).unwrap();
    assert_eq!(applied.len(), 3);
    assert_eq!(code[0], Insn::ldx_mem(BPF_W, 1, 2, 8));
    assert_eq!(code[1], Insn::alu64_imm(BPF_ADD, 1, 8));
    assert_eq!(&code[3..5], &Insn::ld_imm64(1, 0, 8));
}

#[test]
fn a_wider_local_field_narrows_the_load_or_poisons_it() {
    // Local `struct m { u64 v; }`, target `struct m { u32 v; }`.
    let mk = |size: u32, signed: bool| {
        let mut b = B::new();
        let i = b.int("n", size, signed);
        b.strukt("m", size, &[("v", i, 0, 0)]);
        b.btf()
    };
    let (l, t) = (mk(8, false), mk(4, false));
    let mut code = vec![Insn::ldx_mem(BPF_DW, 1, 2, 0), Insn::exit()];
    relocate_section(
        "sec",
        &mut code,
        &[relo_at(0, 2, "0:0", relo::FIELD_BYTE_OFFSET)],
        &l,
        &[&t],
    )
    .unwrap();
    assert_eq!(code[0], Insn::ldx_mem(BPF_W, 1, 2, 0));
    // A signed value cannot be narrowed: poisoned.
    let (l, t) = (mk(8, true), mk(4, true));
    let mut code = vec![Insn::ldx_mem(BPF_DW, 1, 2, 0), Insn::exit()];
    relocate_section(
        "sec",
        &mut code,
        &[relo_at(0, 2, "0:0", relo::FIELD_BYTE_OFFSET)],
        &l,
        &[&t],
    )
    .unwrap();
    assert_eq!(code[0], Insn::call_helper(POISON_HELPER));
}

#[test]
fn poisoning_replaces_both_slots_of_ld_imm64() {
    let (l, s, _) = local();
    let mut b = B::new();
    b.int("int", 4, true);
    let none = b.btf();
    let mut code = insns();
    relocate_section(
        "sec",
        &mut code,
        &[relo_at(3, s, "0:1", relo::FIELD_BYTE_OFFSET)],
        &l,
        &[&none],
    )
    .unwrap();
    assert_eq!(code[3], Insn::call_helper(POISON_HELPER));
    assert_eq!(code[4], Insn::call_helper(POISON_HELPER));
    assert_eq!(code[5], Insn::exit());
}

#[test]
fn bad_records_name_the_section_and_instruction() {
    let (l, s, _) = local();
    let t = target();
    let cases = [
        (
            relo_at(4, s, "0:1", relo::FIELD_BYTE_OFFSET),
            "not an instruction",
        ), // ld_imm64 tail
        (
            relo_at(60, s, "0:1", relo::FIELD_BYTE_OFFSET),
            "not an instruction",
        ),
        (
            relo_at(5, s, "0:1", relo::FIELD_BYTE_OFFSET),
            "cannot be relocated",
        ), // exit
        (relo_at(0, s, "0:0", relo::FIELD_BYTE_OFFSET), "holds 4"), // local says 0
        (
            relo_at(0, 99, "0:0", relo::FIELD_BYTE_OFFSET),
            "does not exist",
        ),
    ];
    for (r, want) in cases {
        let mut code = insns();
        let err = relocate_section(
            "cgroup_skb/egress",
            &mut code,
            std::slice::from_ref(&r),
            &l,
            &[&t],
        )
        .unwrap_err();
        let msg = err.to_string();
        let at = format!("at insn {}", r.insn_off / 8);
        assert!(
            msg.contains("cgroup_skb/egress") && msg.contains(&at) && msg.contains(want),
            "{msg}"
        );
        assert_eq!(code, insns(), "nothing patched on error");
    }
}

/// A `.BTF.ext` with one CO-RE record in section `sec`.
fn ext_with(b: &mut B, rec: [u32; 4]) -> Vec<u8> {
    let sec = b.s("sec");
    let mut core = vec![16u32, sec, 1];
    core.extend(rec);
    let core: Vec<u8> = core.iter().flat_map(|w| w.to_le_bytes()).collect();
    let mut out = Vec::new();
    out.extend_from_slice(&0xeb9fu16.to_le_bytes());
    out.extend_from_slice(&[1, 0]);
    for w in [32u32, 0, 0, 0, 0, 0, core.len() as u32] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out.extend(core);
    out
}

#[test]
fn malformed_core_relo_records_are_typed_errors() {
    for (name, rec, want) in [
        ("bad kind", [8, 1, 0, 13], "unknown relocation kind 13"),
        ("bad type", [8, 77, 0, 0], "type id 77 does not exist"),
        ("type 0", [8, 0, 0, 0], "type id 0 does not exist"),
        ("misaligned", [5, 1, 0, 0], "instruction boundary"),
        ("string out of range", [8, 1, 9999, 0], "out of range"),
        ("not digits", [8, 1, u32::MAX, 0], "list of numbers"),
    ] {
        let mut b = B::new();
        b.int("int", 4, true);
        let access = b.s("0:x");
        let rec = rec.map(|w| if w == u32::MAX { access } else { w });
        let ext = ext_with(&mut b, rec);
        let btf = b.btf();
        let err = BtfExt::parse(&ext, &btf).unwrap_err().to_string();
        assert!(err.contains("'sec'") && err.contains(want), "{name}: {err}");
    }
    let mut b = B::new();
    b.int("int", 4, true);
    let access = b.s("0:1");
    let ext = ext_with(&mut b, [16, 1, access, 0]);
    let parsed = BtfExt::parse(&ext, &b.btf()).unwrap();
    assert_eq!(
        parsed.core_relos,
        [("sec".to_string(), vec![relo_at(2, 1, "0:1", 0)])]
    );
}

#[test]
fn wanted_names_are_the_essential_root_names() {
    let (l, s, v2) = local();
    let relos = [
        relo(s, "0:0", relo::FIELD_BYTE_OFFSET),
        relo(v2, "0:0", relo::FIELD_BYTE_OFFSET),
        relo(s, "0", relo::TYPE_ID_LOCAL),
    ];
    assert_eq!(wanted_names(&l, relos.iter()).unwrap(), ["s"]);
}

#[test]
fn hostile_nesting_is_bounded() {
    let mut b = B::new();
    let int = b.int("int", 4, true);
    let s = b.strukt("t", 4, &[("x", int, 0, 0)]);
    let l = b.btf();
    // Target: t holds two anonymous structs, each holding two of the next,
    // 30 levels deep, and no `x` anywhere: 2^31 paths to search.
    let mut b = B::new();
    let int = b.int("int", 4, true);
    let n = 30;
    let first = b.n + 1;
    for k in 0..n {
        let next = first + k + 1;
        if k + 1 == n {
            b.strukt("", 4, &[("y", int, 0, 0)]);
        } else {
            b.strukt("", 4, &[("", next, 0, 0), ("", next, 0, 0)]);
        }
    }
    b.strukt("t", 4, &[("", first, 0, 0), ("", first, 0, 0)]);
    let err = decide1(&l, &relo(s, "0:0", relo::FIELD_BYTE_OFFSET), &b.btf()).unwrap_err();
    assert!(err.to_string().contains("types visited"), "{err}");
}
