//! What each fuzz target does with its input, in plain functions so that
//! `tests/regressions.rs` in the main crate replays the regression corpus
//! through exactly the same code (it includes this file as a module).
//!
//! The contract checked is the project's rule for hostile input: an error is
//! fine, a panic, a hang or unbounded memory is not. The decoder target also
//! checks that encoding is the exact inverse of decoding.

use std::sync::OnceLock;

use rawbpf::asm::{self, Insn};
use rawbpf::load::program::ProgKind;
use rawbpf::object::btf::{Btf, BtfExt};
use rawbpf::object::elf::Object;
use rawbpf::object::reloc;

/// Everything before the first system call: ELF, BTF and its DATASEC
/// fix-up, `.BTF.ext`, the map plan, then the relocation of every program
/// with a fake fd for every map.
pub fn prepare(data: &[u8]) {
    let Ok(p) = rawbpf::ObjectSpec::parse(data) else {
        return;
    };
    let externs = rawbpf::object::externs::Resolved::default();
    let targets = reloc::Targets {
        map_fd: &|_| Some(3),
        externs: &externs,
    };
    for &entry in &p.object().programs {
        let func = &p.object().functions[entry];
        let _ = ProgKind::from_section(&p.object().sections[func.section].name);
        if let Ok(linked) = reloc::assemble(p.object(), entry, p.btf_ext(), &targets) {
            let _ = linked.insn_bytes();
            let _ = linked.func_info_bytes();
            let _ = linked.line_info_bytes();
        }
    }
}

/// The seed object, parsed once: the ELF that fuzzed BTF is fixed up against.
fn seed_object() -> &'static Object<'static> {
    static SEED: OnceLock<Object<'static>> = OnceLock::new();
    SEED.get_or_init(|| Object::parse(rawbpf::SEED_OBJECT).expect("the seed object parses"))
}

/// The BTF parser alone, and every walk over what it parsed: map
/// definitions, sizes, members, the DATASEC fix-up (against the seed
/// object's sections and symbols) and `.BTF.ext` parsing of the same bytes.
pub fn btf(data: &[u8]) {
    let Ok(mut btf) = Btf::parse(data) else {
        return;
    };
    let _ = btf.map_defs();
    for id in 0..btf.len() as u32 {
        let _ = btf.type_name(id);
        let _ = btf.size_of(id);
        let _ = btf.members(id);
        let _ = btf.datasec_vars(id);
    }
    let _ = BtfExt::parse(data, &btf);
    if btf.fix_datasecs(seed_object()).is_ok() {
        let _ = btf.map_defs();
    }
}

/// The instruction decoder: what decodes re-encodes to the same bytes and
/// decodes to the same instructions, and every instruction disassembles.
pub fn decode(data: &[u8]) {
    let insns = match asm::decode(data) {
        Ok(insns) => insns,
        Err(e) => {
            let _ = e.to_string();
            let _ = e.index();
            return;
        }
    };
    let bytes = asm::encode(&insns);
    assert_eq!(bytes, data, "encode(decode(x)) != x");
    let again = asm::decode(&bytes).expect("re-encoded instructions decode");
    assert_eq!(again, insns, "decode(encode(decode(x))) != decode(x)");
    for (i, insn) in insns.iter().enumerate() {
        let _ = insn.to_string();
        let _ = insn.display_with(insns.get(i + 1)).to_string();
        let _ = Insn::from_bytes(insn.to_bytes());
    }
    let text = asm::disassemble(&insns);
    assert!(
        text.lines().count() <= insns.len(),
        "more disassembly lines than instructions"
    );
}
