//! `rawbpf disasm` and `rawbpf inspect`: pure functions of the object, no
//! kernel and no root.

use std::collections::BTreeMap;
use std::path::Path;

use rawbpf::asm::Syntax;
use rawbpf::object::disasm::{self, Options};

/// Every number in `text` by value, in decimal: `0x10` and `16` compare equal.
fn numbers_by_value(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        out += &rest[..start];
        let tail = &rest[start..];
        let (value, len) = if let Some(hex) = tail.strip_prefix("0x") {
            let n = hex
                .find(|c: char| !c.is_ascii_hexdigit())
                .unwrap_or(hex.len());
            (u128::from_str_radix(&hex[..n], 16).unwrap(), n + 2)
        } else {
            let n = tail
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(tail.len());
            (tail[..n].parse::<u128>().unwrap(), n)
        };
        out += &value.to_string();
        rest = &tail[len..];
    }
    out + rest
}

/// `(section, offset, text)` of each instruction in an llvm-objdump listing,
/// the label after a jump (`<LBB0_4>`) dropped.
fn llvm_listing(listing: &str) -> Vec<(String, u64, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in listing.lines() {
        if let Some(name) = line.strip_prefix("Disassembly of section ") {
            section = name.trim_end_matches(':').to_string();
            continue;
        }
        let Some((off, text)) = line.split_once(":\t") else {
            continue;
        };
        let Ok(off) = off.trim().parse::<u64>() else {
            continue;
        };
        let text = match text.rfind(" <") {
            Some(i) if text.ends_with('>') && !text.starts_with('<') => &text[..i],
            _ => text,
        };
        out.push((section.clone(), off, numbers_by_value(text.trim())));
    }
    out
}

/// The same from `rawbpf disasm`, annotations dropped.
fn rawbpf_listing(text: &str) -> Vec<(String, u64, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("section ") {
            section = name.trim_end_matches(':').to_string();
            continue;
        }
        let Some((off, text)) = line.split_once(": ") else {
            continue;
        };
        let Ok(off) = off.trim().parse::<u64>() else {
            continue;
        };
        let text = text.split(" ; ").next().unwrap();
        out.push((section.clone(), off, numbers_by_value(text.trim())));
    }
    out
}

fn bpf_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/bpf"))
}

/// Each object of bpf/ with its llvm-objdump listing, embedded so that the
/// tests also run where the source tree is not (make vmtest).
macro_rules! object {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!("../bpf/", $name, ".bpf.o")).as_slice(),
            include_str!(concat!("../bpf/", $name, ".bpf.objdump")),
        )
    };
}

const OBJECTS: &[(&str, &[u8], &str)] = &[
    object!("arg_ctx"),
    object!("bad_callback"),
    object!("bad_map_in_map"),
    object!("bad_verifier"),
    object!("callback"),
    object!("configure_and_count"),
    object!("core"),
    object!("drop_egress"),
    object!("exceptions"),
    object!("externs"),
    object!("externs_missing"),
    object!("globals"),
    object!("hidden_subprog"),
    object!("insns"),
    object!("kfuncs"),
    object!("ksym_missing"),
    object!("ksym_typed"),
    object!("map_in_map"),
    object!("map_types"),
    object!("maps_only"),
    object!("multi"),
    object!("naked"),
    object!("no_btf"),
    object!("percpu"),
    object!("pin_by_name"),
    object!("sections"),
    object!("slow_verify"),
    object!("struct_ops"),
    object!("subprog"),
    object!("test_run"),
    object!("text_only"),
    object!("timer_cancel"),
    object!("timer_cases"),
    object!("timer_types"),
];

fn object_bytes(name: &str) -> &'static [u8] {
    OBJECTS.iter().find(|o| o.0 == name).unwrap().1
}

#[test]
fn every_object_in_bpf_is_in_the_golden_list() {
    let Ok(dir) = std::fs::read_dir(bpf_dir()) else {
        eprintln!("no bpf/ here (a VM): only the embedded objects are compared");
        return;
    };
    let mut on_disk: Vec<String> = dir
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".bpf.o").map(str::to_string)
        })
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = OBJECTS.iter().map(|o| o.0).collect();
    assert_eq!(
        on_disk, listed,
        "add new objects to OBJECTS in tests/tools.rs"
    );
}

#[test]
fn disasm_matches_llvm_objdump_on_every_object() {
    let mut objects = 0;
    let mut total = 0;
    for &(name, bytes, listing) in OBJECTS {
        let command = listing.lines().next().unwrap();
        assert!(
            command.starts_with("# llvm-objdump -d --no-show-raw-insn"),
            "{command}"
        );
        let opts = Options {
            program: None,
            syntax: Syntax {
                alu32: command.contains("--mattr=+alu32"),
            },
        };
        let theirs = llvm_listing(listing);
        let ours = match disasm::object(bytes, &opts) {
            // An object of maps only: no code for either to list.
            Err(e) if theirs.is_empty() => {
                assert_eq!(
                    e.to_string(),
                    "bad ELF object: no code in the object",
                    "{name}"
                );
                continue;
            }
            listing => rawbpf_listing(&listing.unwrap()),
        };
        assert!(
            theirs.iter().all(|(_, _, t)| !t.contains("unknown")),
            "{name}: llvm could not decode an instruction; fix the listing's flags"
        );
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(
                a, b,
                "{name}: rawbpf (left) and llvm-objdump (right) differ"
            );
        }
        assert_eq!(
            ours.len(),
            theirs.len(),
            "{name}: instruction counts differ"
        );
        objects += 1;
        total += ours.len();
    }
    assert!(objects >= 10, "only {objects} objects compared");
    assert!(total > 500, "only {total} instructions compared");
}

#[test]
fn numbers_compare_by_value() {
    assert_eq!(numbers_by_value("call 0xac"), "call 172");
    assert_eq!(numbers_by_value("r1 += -0x4"), "r1 += -4");
    assert_eq!(
        numbers_by_value("if r6 == 0 goto +23"),
        "if r6 == 0 goto +23"
    );
}

/// Instruction texts by what kind of instruction they are, to show the
/// golden test covers atomics and JMP32 (insns.bpf.c).
#[test]
fn the_golden_objects_cover_atomics_and_jmp32() {
    let bytes = object_bytes("insns");
    let opts = Options {
        program: None,
        syntax: Syntax { alu32: true },
    };
    let text = disasm::object(bytes, &opts).unwrap();
    let mut seen = BTreeMap::new();
    for want in [
        "lock *(u64 *)",
        "lock *(u32 *)",
        "= atomic_fetch_add((u64 *)",
        "= atomic_fetch_add((u32 *)",
        "= atomic_fetch_or(",
        "= atomic_fetch_and(",
        "= atomic_fetch_xor(",
        "= xchg_64(",
        "= xchg32_32(",
        "= cmpxchg_64(",
        "= cmpxchg32_32(",
        "if w",
        " = be16 ",
        " = be64 ",
        "w6 /= ",
        "w0 ^= -1",
    ] {
        seen.insert(want, text.contains(want));
    }
    assert!(seen.values().all(|&v| v), "{seen:?}\n{text}");
}

#[test]
fn disasm_annotates_maps_helpers_and_functions() {
    let text = disasm::object(rawbpf::SEED_OBJECT, &Options::default()).unwrap();
    for want in [
        "section cgroup_skb/egress:\nbpf_prog1:\n",
        "     8: r1 = 0 ll ; map hmap\n",
        "call 172 ; bpf_timer_cancel\n",
        "call 2 ; bpf_map_update_elem\n",
        "     0: r1 = 0 ll ; data .rodata+0\n",
        "r2 = 0 ll ; func timer_callback\n",
        "    19: if r6 == 0 goto +23\n",
    ] {
        assert!(text.contains(want), "no {want:?} in\n{text}");
    }
}

#[test]
fn disasm_relocated_is_what_prog_load_receives() {
    let opts = Options {
        program: Some("bpf_prog1".into()),
        ..Default::default()
    };
    // The seed has neither CO-RE relocations nor externs: nothing to resolve.
    let p = rawbpf::ObjectSpec::parse(rawbpf::SEED_OBJECT).unwrap();
    let none = rawbpf::object::externs::Resolved::default();
    let text = disasm::relocated(&p, &none, &opts).unwrap();
    for want in [
        "program bpf_prog1 (section cgroup_skb/egress): 51 instructions, 2 func_info, ",
        "bpf_prog1: ; func_info type ",
        // fds as a real run gets them: BTF 3, hmap 4, .rodata 5.
        "     8: r1 = 4 ll ; map_fd hmap\n",
        "r2 = 11 ll ; func timer_callback\n",
        "timer_callback: ; func_info type ",
        "    45: r1 = 5 ll ; map_value .rodata+0\n",
        // line_info: the C source line of the instructions below it.
        "        ; bpf_timer_cancel(timer); [./timer_cancel.bpf.c:39:",
    ] {
        assert!(text.contains(want), "no {want:?} in\n{text}");
    }
    let err = disasm::relocated(
        &p,
        &none,
        &Options {
            program: Some("nope".into()),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("'nope'"), "{err}");
}

#[test]
fn inspect_the_seed() {
    let text = rawbpf::object::inspect::inspect(rawbpf::SEED_OBJECT).unwrap();
    for want in [
        "license: \"GPL\"\n",
        "  bpf_prog1  section cgroup_skb/egress  type CGROUP_SKB, expected attach type CGROUP_INET_EGRESS  45 insns (360 bytes)\n",
        "  timer_callback  section .text  6 insns\n",
        "  hmap  ARRAY  key int (4 bytes)  value struct elem (16 bytes)  max_entries 1  (defined in .maps)\n",
        "      struct elem {\n          struct bpf_timer t; /* offset 0 */\n      };\n",
        "  .rodata  ARRAY  key 4 bytes  value DATASEC .rodata (41 bytes)  max_entries 1  flags RDONLY_PROG  (global data of .rodata)\n",
        "      then BPF_MAP_UPDATE_ELEM of the section's bytes, then BPF_MAP_FREEZE\n",
        "      +0    const char timer_callback.____fmt[41]; (41 bytes)\n",
        "  map (ld_imm64 -> BPF_PSEUDO_MAP_FD): 3\n      bpf_prog1 8 -> hmap\n",
        "  global data (ld_imm64 -> BPF_PSEUDO_MAP_VALUE): 1\n      timer_callback 0 -> .rodata+0\n",
        "  callback (ld_imm64 -> BPF_PSEUDO_FUNC): 1\n      bpf_prog1 33 -> timer_callback\n",
        "  CO-RE (.BTF.ext field and type relocations): 0\n",
        "externs: none\n",
        "  DATASEC .rodata: size 0 -> 41 (the ELF section's size)\n",
    ] {
        assert!(text.contains(want), "no {want:?} in\n{text}");
    }
}

#[test]
fn inspect_globals_and_subprograms() {
    let text = rawbpf::object::inspect::inspect(object_bytes("globals")).unwrap();
    for want in [
        "      +16   char name_char; (1 bytes)\n",
        "      count_packets 9 -> last (.bss+8)\n",
        "  DATASEC .bss: VAR last offset 0 -> 8 (8 bytes, from its ELF symbol)\n",
    ] {
        assert!(text.contains(want), "no {want:?} in\n{text}");
    }
    let text = rawbpf::object::inspect::inspect(object_bytes("subprog")).unwrap();
    assert!(
        !text.contains("subprogram call (call -> BPF_PSEUDO_CALL): 0\n"),
        "{text}"
    );
    // Bad input is an error, not a panic.
    assert!(rawbpf::object::inspect::inspect(b"not an ELF file").is_err());
}

#[test]
fn co_re_relocations_are_shown_with_their_field_paths() {
    let core = object_bytes("core");
    let text = rawbpf::object::inspect::inspect(core).unwrap();
    assert!(
        text.contains("insn 4 -> FIELD_BYTE_OFFSET struct sk_buff___mine.len (0:1)"),
        "{text}"
    );
    assert!(
        text.contains("ENUMVAL_VALUE enum skb_drop_reason::SKB_DROP_REASON_NO_SOCKET (1)"),
        "{text}"
    );
    let listing = disasm::object(core, &Options::default()).unwrap();
    assert!(
        listing.contains("     0: r2 = 4 ; CO-RE FIELD_BYTE_OFFSET struct sk_buff.len (0:1)"),
        "{listing}"
    );
}
