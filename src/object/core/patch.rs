//! Writing a relocation's outcome into its instruction
//! (`bpf_core_patch_insn`): an ALU immediate, a load or store offset (and
//! maybe its access size), or the 64-bit value of an `ld_imm64`. Before
//! patching, the instruction must hold the number the object's own BTF
//! gives, so a record that points at the wrong instruction is caught.

use rawbpf_asm::op::{BPF_B, BPF_DW, BPF_H, BPF_K, BPF_MEM, BPF_W};
use rawbpf_asm::{Class, Insn};

use super::{Outcome, POISON_HELPER};

type Patched = std::result::Result<(), String>;

/// The access-size bits for a load/store of `n` bytes.
fn size_code(n: u64) -> Option<u8> {
    Some(match n {
        1 => BPF_B,
        2 => BPF_H,
        4 => BPF_W,
        8 => BPF_DW,
        _ => return None,
    })
}

/// Replaces the instruction at `i` (both slots of an ld_imm64) by a call of
/// the poison helper.
pub(super) fn poison(insns: &mut [Insn], i: usize) {
    if insns[i].is_ld_imm64() && i + 1 < insns.len() {
        insns[i + 1] = Insn::call_helper(POISON_HELPER);
    }
    insns[i] = Insn::call_helper(POISON_HELPER);
}

/// Writes an outcome into instruction `i`.
pub(super) fn patch(insns: &mut [Insn], i: usize, o: &Outcome) -> Patched {
    if o.poison {
        poison(insns, i);
        return Ok(());
    }
    let insn = insns[i];
    match insn.class() {
        Class::Alu | Class::Alu64 => patch_alu(&mut insns[i], o),
        Class::Ldx | Class::St | Class::Stx => patch_mem(insns, i, o),
        _ if insn.is_ld_imm64() => patch_ld_imm64(insns, i, o),
        _ => Err(format!(
            "instruction code {:#04x} cannot be relocated",
            insn.code
        )),
    }
}

fn mismatch(had: i64, o: &Outcome) -> String {
    format!(
        "the instruction holds {had}, but the object's BTF gives {}",
        o.local
    )
}

/// `r1 += 112`: the immediate, which must be a constant operand.
fn patch_alu(insn: &mut Insn, o: &Outcome) -> Patched {
    if insn.source() != BPF_K {
        return Err("an ALU relocation needs an immediate operand".into());
    }
    if o.validate && insn.imm as u32 as u64 != o.local && insn.imm as i64 as u64 != o.local {
        return Err(mismatch(insn.imm.into(), o));
    }
    insn.imm = i32::try_from(o.target as i64)
        .or_else(|_| u32::try_from(o.target).map(|v| v as i32))
        .map_err(|_| format!("value {} does not fit a 32-bit immediate", o.target))?;
    Ok(())
}

/// `r1 = *(u32 *)(r6 + 112)`: the offset, and the access size when the
/// field's size changed (poisoned when a load cannot follow the change).
fn patch_mem(insns: &mut [Insn], i: usize, o: &Outcome) -> Patched {
    let insn = insns[i];
    if o.validate && insn.off as i64 as u64 != o.local {
        return Err(mismatch(insn.off.into(), o));
    }
    let off = i16::try_from(o.target)
        .map_err(|_| format!("offset {} does not fit a 16-bit offset", o.target))?;
    if let Some(size) = o.new_mem_size {
        if insn.mode() != BPF_MEM {
            return Err("only plain loads and stores can change size".into());
        }
        if o.bad_mem_size {
            poison(insns, i);
            return Ok(());
        }
        let code =
            size_code(size).ok_or_else(|| format!("a field of {size} bytes cannot be loaded"))?;
        insns[i].code = (insn.code & !BPF_DW) | code;
    }
    insns[i].off = off;
    Ok(())
}

/// `r1 = 42 ll`: the 64-bit value across both slots.
fn patch_ld_imm64(insns: &mut [Insn], i: usize, o: &Outcome) -> Patched {
    let insn = insns[i];
    let Some(&next) = insns.get(i + 1) else {
        return Err("ld_imm64 without its second slot".into());
    };
    if o.validate && Insn::imm64(&insn, &next) != o.local {
        return Err(mismatch(Insn::imm64(&insn, &next) as i64, o));
    }
    insns[i].imm = o.target as u32 as i32;
    insns[i + 1].imm = (o.target >> 32) as u32 as i32;
    Ok(())
}
