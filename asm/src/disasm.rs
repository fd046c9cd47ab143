//! Disassembler in the style of the kernel verifier log and bpftool.
//!
//! Registers print as `rN` (64-bit) or `wN` (low 32 bits); relative offsets as
//! `+N`/`-N` slots from the next instruction; jump immediates in hex like the
//! verifier, ALU and store immediates in decimal. Nothing here validates beyond
//! what is needed to pick a rendering: unknown encodings print as
//! `invalid opcode 0x..`, never panic.

use core::fmt::{self, Write};

use crate::op::*;
use crate::{pseudo, Class, Insn};

impl fmt::Display for Insn {
    /// Renders this single slot. An ld_imm64 shown alone cannot know its upper
    /// half; use [`Insn::display_with`] or [`disassemble`] to show the full value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_insn(f, self, None)
    }
}

/// Display adaptor returned by [`Insn::display_with`].
#[derive(Clone, Copy, Debug)]
pub struct InsnDisplay<'a> {
    insn: &'a Insn,
    next: Option<&'a Insn>,
}

impl fmt::Display for InsnDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_insn(f, self.insn, self.next)
    }
}

impl Insn {
    /// Renders this slot, using `next` as the second half if this is an
    /// ld_imm64 (ignored otherwise).
    pub fn display_with<'a>(&'a self, next: Option<&'a Insn>) -> InsnDisplay<'a> {
        InsnDisplay { insn: self, next }
    }
}

/// One numbered line per instruction, e.g. `   0: r1 = 0x0 ll`. Numbers are
/// slot indices, so the second slot of an ld_imm64 is skipped rather than
/// printed, and line numbers match jump arithmetic and verifier messages.
///
/// An ld_imm64 whose next slot is not a valid second half is printed alone
/// and the next slot gets its own line, so malformed input stays visible.
pub fn disassemble(insns: &[Insn]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while let Some(insn) = insns.get(i) {
        let next = insns
            .get(i + 1)
            .filter(|n| insn.is_ld_imm64() && n.is_ld_imm64_tail());
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{i:>4}: {}", insn.display_with(next));
        i += if next.is_some() { 2 } else { 1 };
    }
    out
}

fn write_insn(f: &mut fmt::Formatter<'_>, i: &Insn, next: Option<&Insn>) -> fmt::Result {
    match i.class() {
        Class::Alu => alu(f, i, false),
        Class::Alu64 => alu(f, i, true),
        Class::Jmp => jmp(f, i, false),
        Class::Jmp32 => jmp(f, i, true),
        Class::Ld => ld(f, i, next),
        Class::Ldx => ldx(f, i),
        Class::St => st(f, i),
        Class::Stx => stx(f, i),
    }
}

fn invalid(f: &mut fmt::Formatter<'_>, i: &Insn) -> fmt::Result {
    write!(f, "invalid opcode {:#04x}", i.code)
}

/// For codes that are fine on their own but whose other fields select
/// nothing known (e.g. an unknown atomic operation in `imm`).
fn invalid_because(f: &mut fmt::Formatter<'_>, i: &Insn, why: fmt::Arguments<'_>) -> fmt::Result {
    write!(f, "invalid opcode {:#04x} ({why})", i.code)
}

/// Jump comparands: hex like the verifier log, but with a sign so that a
/// negative immediate (sign-extended in 64-bit compares) reads correctly.
struct Hex(i32);

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            write!(f, "-{:#x}", self.0.unsigned_abs())
        } else {
            write!(f, "{:#x}", self.0)
        }
    }
}

/// `(u32 *)(r1 +4)`: the pointer part of a memory operand.
struct Ptr {
    ty: &'static str,
    reg: u8,
    off: i16,
}

impl fmt::Display for Ptr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({} *)(r{} {:+})", self.ty, self.reg, self.off)
    }
}

fn ty(size: u8, signed: bool) -> &'static str {
    match (size, signed) {
        (BPF_W, false) => "u32",
        (BPF_H, false) => "u16",
        (BPF_B, false) => "u8",
        (BPF_W, true) => "s32",
        (BPF_H, true) => "s16",
        (BPF_B, true) => "s8",
        (_, false) => "u64",
        (_, true) => "s64",
    }
}

fn alu(f: &mut fmt::Formatter<'_>, i: &Insn, is64: bool) -> fmt::Result {
    let r = if is64 { 'r' } else { 'w' };
    let (d, s) = (i.dst, i.src);
    let x = i.source() == BPF_X;
    let (sign, sym) = match i.op() {
        BPF_END => return end(f, i, is64),
        BPF_MOV => return mov(f, i, is64),
        BPF_NEG if !x => return write!(f, "{r}{d} = -{r}{d}"),
        BPF_ADD => ("", "+="),
        BPF_SUB => ("", "-="),
        BPF_MUL => ("", "*="),
        BPF_OR => ("", "|="),
        BPF_AND => ("", "&="),
        BPF_LSH => ("", "<<="),
        BPF_RSH => ("", ">>="),
        BPF_XOR => ("", "^="),
        BPF_ARSH => ("s", ">>="),
        // off selects signedness for division (cpu v4).
        BPF_DIV | BPF_MOD => {
            let sign = match i.off {
                0 => "",
                1 => "s",
                off => return invalid_because(f, i, format_args!("off {off}")),
            };
            (sign, if i.op() == BPF_DIV { "/=" } else { "%=" })
        }
        _ => return invalid(f, i),
    };
    if x {
        write!(f, "{r}{d} {sign}{sym} {r}{s}")
    } else {
        write!(f, "{r}{d} {sign}{sym} {}", i.imm)
    }
}

fn mov(f: &mut fmt::Formatter<'_>, i: &Insn, is64: bool) -> fmt::Result {
    let r = if is64 { 'r' } else { 'w' };
    let (d, s) = (i.dst, i.src);
    if i.source() == BPF_K {
        return write!(f, "{r}{d} = {}", i.imm);
    }
    match (is64, i.off) {
        (_, 0) => write!(f, "{r}{d} = {r}{s}"),
        (true, BPF_ADDR_SPACE_CAST) => {
            let imm = i.imm as u32;
            write!(
                f,
                "r{d} = addr_space_cast(r{s}, {}, {})",
                imm >> 16,
                imm & 0xffff
            )
        }
        // movsx: off is the source width to sign-extend from.
        (_, 8 | 16) | (true, 32) => write!(f, "{r}{d} = (s{}){r}{s}", i.off),
        (_, off) => invalid_because(f, i, format_args!("mov off {off}")),
    }
}

fn end(f: &mut fmt::Formatter<'_>, i: &Insn, is64: bool) -> fmt::Result {
    let d = i.dst;
    let name = match (is64, i.source()) {
        (false, BPF_TO_LE) => "le",
        (false, _) => "be",
        (true, BPF_K) => "bswap",
        (true, _) => return invalid(f, i),
    };
    match i.imm {
        16 | 32 | 64 => write!(f, "r{d} = {name}{} r{d}", i.imm),
        w => invalid_because(f, i, format_args!("swap width {w}")),
    }
}

fn jmp(f: &mut fmt::Formatter<'_>, i: &Insn, is32: bool) -> fmt::Result {
    let x = i.source() == BPF_X;
    let only64 = !is32 && !x;
    let cmp = match i.op() {
        BPF_JA if !x => {
            // The 32-bit class variant ("gotol") keeps its longer offset in imm.
            return if is32 {
                write!(f, "gotol {:+}", i.imm)
            } else {
                write!(f, "goto {:+}", i.off)
            };
        }
        BPF_CALL if only64 => return call(f, i),
        BPF_EXIT if only64 => return f.write_str("exit"),
        BPF_JCOND if only64 => {
            return match i.src {
                BPF_MAY_GOTO => write!(f, "may_goto {:+}", i.off),
                s => invalid_because(f, i, format_args!("jcond src {s}")),
            };
        }
        BPF_JEQ => "==",
        BPF_JGT => ">",
        BPF_JGE => ">=",
        BPF_JSET => "&",
        BPF_JNE => "!=",
        BPF_JSGT => "s>",
        BPF_JSGE => "s>=",
        BPF_JLT => "<",
        BPF_JLE => "<=",
        BPF_JSLT => "s<",
        BPF_JSLE => "s<=",
        _ => return invalid(f, i),
    };
    let r = if is32 { 'w' } else { 'r' };
    let (d, s, off) = (i.dst, i.src, i.off);
    if x {
        write!(f, "if {r}{d} {cmp} {r}{s} goto {off:+}")
    } else {
        write!(f, "if {r}{d} {cmp} {} goto {off:+}", Hex(i.imm))
    }
}

fn call(f: &mut fmt::Formatter<'_>, i: &Insn) -> fmt::Result {
    match i.src {
        0 => write!(f, "call {}", i.imm),
        pseudo::CALL => write!(f, "call pc{:+}", i.imm),
        // off != 0 selects a module BTF through the fd_array.
        pseudo::KFUNC_CALL if i.off == 0 => write!(f, "call kfunc[btf_id:{}]", i.imm),
        pseudo::KFUNC_CALL => write!(f, "call kfunc[btf_id:{},fd_idx:{}]", i.imm, i.off),
        s => invalid_because(f, i, format_args!("call src {s}")),
    }
}

fn ld(f: &mut fmt::Formatter<'_>, i: &Insn, next: Option<&Insn>) -> fmt::Result {
    match (i.mode(), i.size()) {
        (BPF_IMM, BPF_DW) => ld_imm64(f, i, next),
        (BPF_ABS, size) if size != BPF_DW => {
            write!(f, "r0 = *({} *)skb[{}]", ty(size, false), i.imm)
        }
        (BPF_IND, size) if size != BPF_DW => {
            write!(
                f,
                "r0 = *({} *)skb[r{} {:+}]",
                ty(size, false),
                i.src,
                i.imm
            )
        }
        _ => invalid(f, i),
    }
}

fn ld_imm64(f: &mut fmt::Formatter<'_>, i: &Insn, next: Option<&Insn>) -> fmt::Result {
    let (d, imm) = (i.dst, i.imm);
    let hi = next.map(|n| n.imm);
    match i.src {
        0 => {
            return match next {
                Some(n) => write!(f, "r{d} = {:#x} ll", Insn::imm64(i, n)),
                None => write!(f, "r{d} = {:#x} ll (low 32 bits)", imm as u32),
            };
        }
        // For value loads the second imm is the offset into the value.
        pseudo::MAP_VALUE | pseudo::MAP_IDX_VALUE => {
            let key = if i.src == pseudo::MAP_VALUE {
                "fd"
            } else {
                "idx"
            };
            return match hi {
                Some(off) => write!(f, "r{d} = map_value[{key}:{imm}]+{} ll", off as u32),
                None => write!(f, "r{d} = map_value[{key}:{imm}]+? ll"),
            };
        }
        pseudo::MAP_FD => write!(f, "r{d} = map[fd:{imm}] ll")?,
        pseudo::MAP_IDX => write!(f, "r{d} = map[idx:{imm}] ll")?,
        pseudo::BTF_ID => write!(f, "r{d} = ksym[btf_id:{imm}] ll")?,
        pseudo::FUNC => write!(f, "r{d} = func pc{imm:+} ll")?,
        s => return invalid_because(f, i, format_args!("ld_imm64 src {s}")),
    }
    // These kinds require a zero upper half; show it if it is not.
    match hi {
        Some(hi) if hi != 0 => write!(f, " (second imm {:#x})", hi as u32),
        _ => Ok(()),
    }
}

fn ldx(f: &mut fmt::Formatter<'_>, i: &Insn) -> fmt::Result {
    let signed = match (i.mode(), i.size()) {
        (BPF_MEM, _) => false,
        (BPF_MEMSX, size) if size != BPF_DW => true,
        _ => return invalid(f, i),
    };
    let ptr = Ptr {
        ty: ty(i.size(), signed),
        reg: i.src,
        off: i.off,
    };
    write!(f, "r{} = *{ptr}", i.dst)
}

fn st(f: &mut fmt::Formatter<'_>, i: &Insn) -> fmt::Result {
    if i.mode() != BPF_MEM {
        return invalid(f, i);
    }
    let ptr = Ptr {
        ty: ty(i.size(), false),
        reg: i.dst,
        off: i.off,
    };
    write!(f, "*{ptr} = {}", i.imm)
}

fn stx(f: &mut fmt::Formatter<'_>, i: &Insn) -> fmt::Result {
    let ptr = Ptr {
        ty: ty(i.size(), false),
        reg: i.dst,
        off: i.off,
    };
    match i.mode() {
        BPF_MEM => write!(f, "*{ptr} = r{}", i.src),
        BPF_ATOMIC => atomic(f, i, ptr),
        _ => invalid(f, i),
    }
}

fn atomic(f: &mut fmt::Formatter<'_>, i: &Insn, ptr: Ptr) -> fmt::Result {
    const ADD: i32 = BPF_ADD as i32;
    const OR: i32 = BPF_OR as i32;
    const AND: i32 = BPF_AND as i32;
    const XOR: i32 = BPF_XOR as i32;

    let size = i.size();
    let r = if size == BPF_DW { 'r' } else { 'w' };
    let (d, s) = (i.dst, i.src);
    match i.imm {
        // Acquire/release work on every size; the address is in src for the load.
        BPF_LOAD_ACQ => {
            let ptr = Ptr { reg: s, ..ptr };
            return write!(f, "{r}{d} = load_acquire({ptr})");
        }
        BPF_STORE_REL => return write!(f, "store_release({ptr}, {r}{s})"),
        _ => {}
    }
    let a = match size {
        BPF_DW => "atomic64",
        BPF_W => "atomic",
        _ => return invalid(f, i),
    };
    match i.imm {
        BPF_XCHG => return write!(f, "{r}{s} = {a}_xchg({ptr}, {r}{s})"),
        // r0 holds the expected value and receives the old one.
        BPF_CMPXCHG => return write!(f, "{r}0 = {a}_cmpxchg({ptr}, {r}0, {r}{s})"),
        _ => {}
    }
    let (sym, name) = match i.imm & !BPF_FETCH {
        ADD => ("+=", "add"),
        OR => ("|=", "or"),
        AND => ("&=", "and"),
        XOR => ("^=", "xor"),
        _ => return invalid_because(f, i, format_args!("atomic op {:#x}", i.imm)),
    };
    if i.imm & BPF_FETCH != 0 {
        write!(f, "{r}{s} = {a}_fetch_{name}({ptr}, {r}{s})")
    } else {
        write!(f, "lock *{ptr} {sym} {r}{s}")
    }
}
