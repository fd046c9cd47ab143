//! Disassembler in llvm-objdump's BPF syntax.
//!
//! The text of an instruction is what `llvm-objdump -d` prints for it:
//! registers as `rN` (64-bit) or `wN` (32-bit sub-register), memory operands
//! as `*(u32 *)(r1 + 4)`, immediates in signed decimal, relative offsets as
//! `+N`/`-N` slots from the next instruction, calls as `call IMM`. What llvm
//! leaves out — which map an ld_imm64 loads, that a call goes to a
//! subprogram — is [`Insn::note`], printed after `;` by [`disassemble`].
//!
//! llvm prints 8-, 16- and 32-bit loads and stores, and 32-bit atomics, with
//! `w` registers only when it decodes with the `alu32` feature (cpu v3, or
//! `--mattr=+alu32`); [`Syntax::alu32`] selects that form. Nothing here
//! validates beyond what is needed to pick a rendering: unknown encodings
//! print as `invalid opcode 0x..`, never panic.

use core::fmt::{self, Write};

use crate::op::*;
use crate::{pseudo, Class, Insn};

/// Which of llvm's two renderings of sub-register memory operations to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Syntax {
    /// `w1 = *(u32 *)(r1 + 0)` (llvm with alu32) instead of `r1 = ...`.
    pub alu32: bool,
}

impl fmt::Display for Insn {
    /// Renders this single slot. An ld_imm64 shown alone cannot know its upper
    /// half; use [`Insn::display_with`] or [`disassemble`] to show the full value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_insn(f, self, None, Syntax::default())
    }
}

/// Display adaptor returned by [`Insn::display_with`].
#[derive(Clone, Copy, Debug)]
pub struct InsnDisplay<'a> {
    insn: &'a Insn,
    next: Option<&'a Insn>,
    syntax: Syntax,
}

impl fmt::Display for InsnDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_insn(f, self.insn, self.next, self.syntax)
    }
}

impl InsnDisplay<'_> {
    /// The same instruction in the given syntax.
    pub fn syntax(self, syntax: Syntax) -> Self {
        InsnDisplay { syntax, ..self }
    }
}

impl Insn {
    /// Renders this slot, using `next` as the second half if this is an
    /// ld_imm64 (ignored otherwise).
    pub fn display_with<'a>(&'a self, next: Option<&'a Insn>) -> InsnDisplay<'a> {
        InsnDisplay {
            insn: self,
            next,
            syntax: Syntax::default(),
        }
    }

    /// What the llvm text of this instruction does not say: the pseudo
    /// source of an ld_imm64 or a call (`map_fd 5`, `map_value fd 5 + 16`,
    /// `func pc+10`, `call pc+3`, `kfunc btf_id 99`), a nonzero second imm
    /// where the kernel wants zero, a missing second slot. `next` is the
    /// second slot of an ld_imm64.
    pub fn note(&self, next: Option<&Insn>) -> Option<String> {
        if self.is_ld_imm64() {
            let Some(next) = next else {
                return Some("ld_imm64 without its second slot".into());
            };
            let (imm, hi) = (self.imm, next.imm);
            let note = match self.src {
                0 => return None,
                pseudo::MAP_FD => format!("map_fd {imm}"),
                pseudo::MAP_VALUE => return Some(format!("map_value fd {imm} + {}", hi as u32)),
                pseudo::BTF_ID => format!("ksym btf_id {imm}"),
                pseudo::FUNC => format!("func pc{imm:+}"),
                pseudo::MAP_IDX => format!("map_idx {imm}"),
                pseudo::MAP_IDX_VALUE => {
                    return Some(format!("map_value idx {imm} + {}", hi as u32))
                }
                src => return Some(format!("unknown pseudo source {src}")),
            };
            return Some(match hi {
                0 => note,
                hi => format!("{note}, second imm {:#x}", hi as u32),
            });
        }
        if self.class() == Class::Jmp && self.op() == BPF_CALL && self.source() == BPF_K {
            return match self.src {
                pseudo::CALL => Some(format!("call pc{:+}", self.imm)),
                pseudo::KFUNC_CALL if self.off == 0 => Some(format!("kfunc btf_id {}", self.imm)),
                pseudo::KFUNC_CALL => {
                    Some(format!("kfunc btf_id {} fd_idx {}", self.imm, self.off))
                }
                _ => None,
            };
        }
        None
    }
}

/// One numbered line per instruction in llvm's syntax, with [`Insn::note`]
/// after `;`: `   0: r1 = 5 ll ; map_fd 5`. Numbers are slot indices, so
/// the second slot of an ld_imm64 gets no line, and line numbers match jump
/// arithmetic and verifier messages.
///
/// An ld_imm64 whose next slot is not a valid second half is printed alone
/// and the next slot gets its own line, so malformed input stays visible.
pub fn disassemble(insns: &[Insn]) -> String {
    disassemble_with(insns, Syntax::default())
}

/// [`disassemble`] in the given [`Syntax`].
pub fn disassemble_with(insns: &[Insn], syntax: Syntax) -> String {
    let mut out = String::new();
    let mut i = 0;
    while let Some(insn) = insns.get(i) {
        let next = insns
            .get(i + 1)
            .filter(|n| insn.is_ld_imm64() && n.is_ld_imm64_tail());
        // Writing to a String cannot fail.
        let _ = write!(out, "{i:>4}: {}", insn.display_with(next).syntax(syntax));
        if let Some(note) = insn.note(next) {
            let _ = write!(out, " ; {note}");
        }
        out.push('\n');
        i += if next.is_some() { 2 } else { 1 };
    }
    out
}

fn write_insn(
    f: &mut fmt::Formatter<'_>,
    i: &Insn,
    next: Option<&Insn>,
    syn: Syntax,
) -> fmt::Result {
    match i.class() {
        Class::Alu => alu(f, i, false),
        Class::Alu64 => alu(f, i, true),
        Class::Jmp => jmp(f, i, false),
        Class::Jmp32 => jmp(f, i, true),
        Class::Ld => ld(f, i, next),
        Class::Ldx => ldx(f, i, syn),
        Class::St => st(f, i),
        Class::Stx => stx(f, i, syn),
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

/// `(u32 *)(r1 + 4)`: the pointer part of a memory operand.
struct Ptr {
    ty: &'static str,
    reg: u8,
    off: i16,
}

impl fmt::Display for Ptr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({} *)({})", self.ty, Addr(self.reg, self.off))
    }
}

/// `r1 + 4`, `r10 - 8`: a register plus offset, as llvm spaces it.
struct Addr(u8, i16);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (reg, off) = (self.0, self.1);
        if off < 0 {
            write!(f, "r{reg} - {}", off.unsigned_abs())
        } else {
            write!(f, "r{reg} + {off}")
        }
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
        write!(f, "if {r}{d} {cmp} {} goto {off:+}", i.imm)
    }
}

fn call(f: &mut fmt::Formatter<'_>, i: &Insn) -> fmt::Result {
    // llvm prints the immediate for every kind; Insn::note says which kind.
    match i.src {
        0 | pseudo::CALL | pseudo::KFUNC_CALL => write!(f, "call {}", i.imm),
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
                "r0 = *({} *)skb[{}]",
                ty(size, false),
                Addr(i.src, i.imm as i16)
            )
        }
        _ => invalid(f, i),
    }
}

fn ld_imm64(f: &mut fmt::Formatter<'_>, i: &Insn, next: Option<&Insn>) -> fmt::Result {
    let d = i.dst;
    match i.src {
        // llvm prints the 64-bit value, signed.
        0 => match next {
            Some(n) => write!(f, "r{d} = {} ll", Insn::imm64(i, n) as i64),
            None => write!(f, "r{d} = {} ll", i.imm),
        },
        // A pseudo source: the first imm is an fd, index or offset (see
        // Insn::note), and that is what the kernel reads.
        pseudo::MAP_FD..=pseudo::MAP_IDX_VALUE => write!(f, "r{d} = {} ll", i.imm),
        s => invalid_because(f, i, format_args!("ld_imm64 src {s}")),
    }
}

/// `r` or, with alu32 and a sub-register size, `w`.
fn reg_for(size: u8, syn: Syntax) -> char {
    if syn.alu32 && size != BPF_DW {
        'w'
    } else {
        'r'
    }
}

fn ldx(f: &mut fmt::Formatter<'_>, i: &Insn, syn: Syntax) -> fmt::Result {
    let (signed, r) = match (i.mode(), i.size()) {
        (BPF_MEM, size) => (false, reg_for(size, syn)),
        // Sign-extending loads fill all 64 bits.
        (BPF_MEMSX, size) if size != BPF_DW => (true, 'r'),
        _ => return invalid(f, i),
    };
    let ptr = Ptr {
        ty: ty(i.size(), signed),
        reg: i.src,
        off: i.off,
    };
    write!(f, "{r}{} = *{ptr}", i.dst)
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

fn stx(f: &mut fmt::Formatter<'_>, i: &Insn, syn: Syntax) -> fmt::Result {
    let ptr = Ptr {
        ty: ty(i.size(), false),
        reg: i.dst,
        off: i.off,
    };
    match i.mode() {
        BPF_MEM => write!(f, "*{ptr} = {}{}", reg_for(i.size(), syn), i.src),
        BPF_ATOMIC => atomic(f, i, ptr, syn),
        _ => invalid(f, i),
    }
}

fn atomic(f: &mut fmt::Formatter<'_>, i: &Insn, ptr: Ptr, syn: Syntax) -> fmt::Result {
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
    // xchg and cmpxchg name the width twice: value and memory.
    let width = match size {
        BPF_DW => "64",
        BPF_W => "32_32",
        _ => return invalid(f, i),
    };
    let addr = Addr(ptr.reg, ptr.off);
    match i.imm {
        BPF_XCHG if size == BPF_DW => return write!(f, "{r}{s} = xchg_{width}({addr}, {r}{s})"),
        BPF_XCHG => return write!(f, "{r}{s} = xchg{width}({addr}, {r}{s})"),
        // r0 holds the expected value and receives the old one.
        BPF_CMPXCHG if size == BPF_DW => {
            return write!(f, "{r}0 = cmpxchg_{width}({addr}, {r}0, {r}{s})")
        }
        BPF_CMPXCHG => return write!(f, "{r}0 = cmpxchg{width}({addr}, {r}0, {r}{s})"),
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
        write!(f, "{r}{s} = atomic_fetch_{name}({ptr}, {r}{s})")
    } else {
        // Without alu32 llvm shows the 32-bit source as rN.
        let r = reg_for(size, syn);
        write!(f, "lock *{ptr} {sym} {r}{s}")
    }
}
