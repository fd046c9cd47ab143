//! BPF instructions: encoding, decoding and disassembly.
//!
//! A BPF program is an array of 8-byte slots (`struct bpf_insn` in
//! include/uapi/linux/bpf.h): an opcode byte, a byte holding the destination
//! register in its low nibble and the source register in its high nibble, a
//! signed 16-bit offset and a signed 32-bit immediate, both little-endian on
//! the little-endian targets the kernel and clang use for `bpfel`.
//!
//! One instruction needs two slots: `ld_imm64` (`BPF_LD | BPF_IMM | BPF_DW`)
//! loads a 64-bit constant, its low half in the first slot's `imm` and its
//! high half in the second slot's `imm`. Every other field of the second slot
//! must be zero — the kernel rejects it otherwise (`check_ld_imm` in
//! kernel/bpf/verifier.c) — so [`decode`] rejects such encodings up front. The
//! first slot's `src` register says what the constant means to the kernel: a
//! plain number, a map fd, a pointer into a map value, or a function
//! ([`pseudo`]); loaders rewrite those fields during relocation.
//!
//! This crate depends on nothing, so the loader, its tests and any tool can
//! share it.

use core::fmt;

/// Bytes per instruction slot.
pub const INSN_SIZE: usize = 8;

/// Opcode fields (`BPF_*` in include/uapi/linux/bpf_common.h and bpf.h).
pub mod op {
    // Classes: the low three bits.
    pub const LD: u8 = 0x00;
    pub const LDX: u8 = 0x01;
    pub const ST: u8 = 0x02;
    pub const STX: u8 = 0x03;
    pub const ALU: u8 = 0x04;
    pub const JMP: u8 = 0x05;
    pub const JMP32: u8 = 0x06;
    pub const ALU64: u8 = 0x07;

    // Load/store sizes and modes.
    pub const W: u8 = 0x00;
    pub const H: u8 = 0x08;
    pub const B: u8 = 0x10;
    pub const DW: u8 = 0x18;
    pub const IMM: u8 = 0x00;
    pub const ABS: u8 = 0x20;
    pub const IND: u8 = 0x40;
    pub const MEM: u8 = 0x60;
    pub const MEMSX: u8 = 0x80;
    pub const ATOMIC: u8 = 0xc0;

    // Source operand of ALU and JMP: immediate or register.
    pub const K: u8 = 0x00;
    pub const X: u8 = 0x08;

    // ALU operations: the high four bits.
    pub const ADD: u8 = 0x00;
    pub const SUB: u8 = 0x10;
    pub const MUL: u8 = 0x20;
    pub const DIV: u8 = 0x30;
    pub const OR: u8 = 0x40;
    pub const AND: u8 = 0x50;
    pub const LSH: u8 = 0x60;
    pub const RSH: u8 = 0x70;
    pub const NEG: u8 = 0x80;
    pub const MOD: u8 = 0x90;
    pub const XOR: u8 = 0xa0;
    pub const MOV: u8 = 0xb0;
    pub const ARSH: u8 = 0xc0;
    pub const END: u8 = 0xd0;

    // Jump operations.
    pub const JA: u8 = 0x00;
    pub const JEQ: u8 = 0x10;
    pub const JGT: u8 = 0x20;
    pub const JGE: u8 = 0x30;
    pub const JSET: u8 = 0x40;
    pub const JNE: u8 = 0x50;
    pub const JSGT: u8 = 0x60;
    pub const JSGE: u8 = 0x70;
    pub const CALL: u8 = 0x80;
    pub const EXIT: u8 = 0x90;
    pub const JLT: u8 = 0xa0;
    pub const JLE: u8 = 0xb0;
    pub const JSLT: u8 = 0xc0;
    pub const JSLE: u8 = 0xd0;

    // Atomic operations (in `imm`).
    pub const FETCH: i32 = 0x01;
    pub const XCHG: i32 = 0xe0 | FETCH;
    pub const CMPXCHG: i32 = 0xf0 | FETCH;

    /// `ld_imm64`: the two-slot 64-bit immediate load.
    pub const LD_IMM64: u8 = LD | IMM | DW;
    /// A helper, subprogram or kfunc call.
    pub const CALL_INSN: u8 = JMP | CALL;
    /// Return from the program or subprogram.
    pub const EXIT_INSN: u8 = JMP | EXIT;
}

/// Meanings of the `src` register in `ld_imm64` and `call` (uapi bpf.h).
pub mod pseudo {
    /// `ld_imm64`: imm is a map fd; the kernel turns it into the map's address.
    pub const MAP_FD: u8 = 1;
    /// `ld_imm64`: first imm a map fd, second imm an offset into its value.
    pub const MAP_VALUE: u8 = 2;
    /// `ld_imm64`: imm is a BTF id of a kernel variable.
    pub const BTF_ID: u8 = 3;
    /// `ld_imm64`: imm is a relative instruction offset to a function (callback).
    pub const FUNC: u8 = 4;
    /// `ld_imm64`: imm is an index into the fd array (map).
    pub const MAP_IDX: u8 = 5;
    /// `ld_imm64`: like MAP_VALUE, with a map index.
    pub const MAP_IDX_VALUE: u8 = 6;
    /// `call`: a bpf-to-bpf call; imm is the relative offset of the callee.
    pub const CALL: u8 = 1;
    /// `call`: a kernel function by BTF id.
    pub const KFUNC_CALL: u8 = 2;
}

/// The instruction class: the low three bits of the opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Ld,
    Ldx,
    St,
    Stx,
    Alu,
    Jmp,
    Jmp32,
    Alu64,
}

/// One 8-byte instruction slot, exactly as the kernel sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Insn {
    pub code: u8,
    /// Destination register, 0..=10 (4 bits).
    pub dst: u8,
    /// Source register, or a [`pseudo`] value for ld_imm64 and call (4 bits).
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    /// Decodes one slot (no validation beyond the layout).
    pub fn from_bytes(b: [u8; 8]) -> Insn {
        Insn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// Encodes one slot.
    pub fn to_bytes(&self) -> [u8; 8] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [
            self.code,
            (self.dst & 0x0f) | (self.src << 4),
            off[0],
            off[1],
            imm[0],
            imm[1],
            imm[2],
            imm[3],
        ]
    }

    pub fn class(&self) -> Class {
        match self.code & 0x07 {
            op::LD => Class::Ld,
            op::LDX => Class::Ldx,
            op::ST => Class::St,
            op::STX => Class::Stx,
            op::ALU => Class::Alu,
            op::JMP => Class::Jmp,
            op::JMP32 => Class::Jmp32,
            _ => Class::Alu64,
        }
    }

    /// The first slot of a two-slot 64-bit immediate load.
    pub fn is_ld_imm64(&self) -> bool {
        self.code == op::LD_IMM64
    }

    /// Any call: helper, bpf-to-bpf or kfunc.
    pub fn is_call(&self) -> bool {
        self.code == op::CALL_INSN
    }

    /// A call of a kernel helper (imm = helper id).
    pub fn is_helper_call(&self) -> bool {
        self.is_call() && self.src == 0
    }

    /// A call of another BPF function (imm = offset of its first insn - 1).
    pub fn is_pseudo_call(&self) -> bool {
        self.is_call() && self.src == pseudo::CALL
    }

    /// A call of a kernel function by BTF id.
    pub fn is_kfunc_call(&self) -> bool {
        self.is_call() && self.src == pseudo::KFUNC_CALL
    }

    /// A load of a map (by fd).
    pub fn is_map_fd_load(&self) -> bool {
        self.is_ld_imm64() && self.src == pseudo::MAP_FD
    }

    /// A load of a pointer into a map's value (global data).
    pub fn is_map_value_load(&self) -> bool {
        self.is_ld_imm64() && self.src == pseudo::MAP_VALUE
    }

    /// A load of a function pointer (a callback).
    pub fn is_func_load(&self) -> bool {
        self.is_ld_imm64() && self.src == pseudo::FUNC
    }

    pub fn is_exit(&self) -> bool {
        self.code == op::EXIT_INSN
    }

    /// `dst = imm` (64-bit).
    pub fn mov64_imm(dst: u8, imm: i32) -> Insn {
        Insn {
            code: op::ALU64 | op::MOV | op::K,
            dst,
            imm,
            ..Insn::default()
        }
    }

    /// `dst = src` (64-bit).
    pub fn mov64_reg(dst: u8, src: u8) -> Insn {
        Insn {
            code: op::ALU64 | op::MOV | op::X,
            dst,
            src,
            ..Insn::default()
        }
    }

    /// `dst op= imm` (64-bit), for `op` one of the [`op`] ALU operations.
    pub fn alu64_imm(operation: u8, dst: u8, imm: i32) -> Insn {
        Insn {
            code: op::ALU64 | operation | op::K,
            dst,
            imm,
            ..Insn::default()
        }
    }

    /// `if dst <jmp> imm goto +off`.
    pub fn jmp_imm(operation: u8, dst: u8, imm: i32, off: i16) -> Insn {
        Insn {
            code: op::JMP | operation | op::K,
            dst,
            off,
            imm,
            ..Insn::default()
        }
    }

    /// `dst = *(size *)(src + off)`, `size` one of [`op::W`], `H`, `B`, `DW`.
    pub fn ldx(size: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn {
            code: op::LDX | op::MEM | size,
            dst,
            src,
            off,
            imm: 0,
        }
    }

    /// `*(size *)(dst + off) = src`.
    pub fn stx(size: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn {
            code: op::STX | op::MEM | size,
            dst,
            src,
            off,
            imm: 0,
        }
    }

    pub fn exit() -> Insn {
        Insn {
            code: op::EXIT_INSN,
            ..Insn::default()
        }
    }

    /// `call <helper id>`.
    pub fn call_helper(id: i32) -> Insn {
        Insn {
            code: op::CALL_INSN,
            imm: id,
            ..Insn::default()
        }
    }

    /// The two slots of `dst = value ll` with source meaning `src`.
    pub fn ld_imm64(dst: u8, src: u8, value: u64) -> [Insn; 2] {
        [
            Insn {
                code: op::LD_IMM64,
                dst,
                src,
                off: 0,
                imm: value as u32 as i32,
            },
            Insn {
                imm: (value >> 32) as u32 as i32,
                ..Insn::default()
            },
        ]
    }

    /// The two slots loading map `fd` into `dst`.
    pub fn ld_map_fd(dst: u8, fd: i32) -> [Insn; 2] {
        Insn::ld_imm64(dst, pseudo::MAP_FD, fd as u32 as u64)
    }
}

/// A malformed instruction stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The byte length is not a multiple of 8.
    Length(usize),
    /// An `ld_imm64` at this slot is the last slot: its second half is missing.
    TruncatedLdImm64(usize),
    /// The second slot of the `ld_imm64` at this slot has a non-zero field
    /// other than `imm`.
    BadLdImm64(usize),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Length(n) => {
                write!(f, "{n} bytes is not a whole number of 8-byte instructions")
            }
            DecodeError::TruncatedLdImm64(i) => {
                write!(f, "ld_imm64 at insn {i} has no second slot")
            }
            DecodeError::BadLdImm64(i) => write!(
                f,
                "ld_imm64 at insn {i}: its second slot must have only the upper immediate set"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes a program or a code section, checking every two-slot load.
pub fn decode(bytes: &[u8]) -> Result<Vec<Insn>, DecodeError> {
    if bytes.len() % INSN_SIZE != 0 {
        return Err(DecodeError::Length(bytes.len()));
    }
    let insns: Vec<Insn> = bytes
        .chunks_exact(INSN_SIZE)
        .map(|c| Insn::from_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect();
    let mut i = 0;
    while i < insns.len() {
        if insns[i].is_ld_imm64() {
            let second = insns.get(i + 1).ok_or(DecodeError::TruncatedLdImm64(i))?;
            if second.code != 0 || second.dst != 0 || second.src != 0 || second.off != 0 {
                return Err(DecodeError::BadLdImm64(i));
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    Ok(insns)
}

/// Encodes instructions into the byte stream BPF_PROG_LOAD takes.
pub fn encode(insns: &[Insn]) -> Vec<u8> {
    insns.iter().flat_map(Insn::to_bytes).collect()
}

fn alu_op(code: u8) -> Option<&'static str> {
    Some(match code & 0xf0 {
        op::ADD => "+=",
        op::SUB => "-=",
        op::MUL => "*=",
        op::DIV => "/=",
        op::OR => "|=",
        op::AND => "&=",
        op::LSH => "<<=",
        op::RSH => ">>=",
        op::MOD => "%=",
        op::XOR => "^=",
        op::MOV => "=",
        op::ARSH => "s>>=",
        _ => return None,
    })
}

fn jmp_op(code: u8) -> Option<&'static str> {
    Some(match code & 0xf0 {
        op::JEQ => "==",
        op::JGT => ">",
        op::JGE => ">=",
        op::JSET => "&",
        op::JNE => "!=",
        op::JSGT => "s>",
        op::JSGE => "s>=",
        op::JLT => "<",
        op::JLE => "<=",
        op::JSLT => "s<",
        op::JSLE => "s<=",
        _ => return None,
    })
}

fn size_name(code: u8) -> &'static str {
    match code & 0x18 {
        op::W => "u32",
        op::H => "u16",
        op::B => "u8",
        _ => "u64",
    }
}

fn signed_size_name(code: u8) -> &'static str {
    match code & 0x18 {
        op::W => "s32",
        op::H => "s16",
        op::B => "s8",
        _ => "s64",
    }
}

/// `+4`, `-8`: offsets as the verifier log writes them.
struct Off(i16);

impl fmt::Display for Off {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            write!(f, "-{}", -(i32::from(self.0)))
        } else {
            write!(f, "+{}", self.0)
        }
    }
}

impl Insn {
    fn fmt_alu(&self, f: &mut fmt::Formatter<'_>, r: char) -> fmt::Result {
        let operation = self.code & 0xf0;
        let x = self.code & op::X != 0;
        let src = |f: &mut fmt::Formatter<'_>| -> fmt::Result {
            if x {
                write!(f, "{r}{}", self.src)
            } else {
                write!(f, "{:#x}", self.imm)
            }
        };
        match operation {
            op::NEG => write!(f, "{r}{} = -{r}{}", self.dst, self.dst),
            op::END => {
                let kind = if self.class() == Class::Alu64 {
                    "bswap"
                } else if x {
                    "be"
                } else {
                    "le"
                };
                write!(f, "{r}{} = {kind}{} {r}{}", self.dst, self.imm, self.dst)
            }
            op::MOV if x && self.off != 0 => {
                write!(f, "{r}{} = (s{}){r}{}", self.dst, self.off, self.src)
            }
            op::DIV | op::MOD if self.off == 1 => {
                write!(f, "{r}{} s{} ", self.dst, alu_op(self.code).unwrap_or("?"))?;
                src(f)
            }
            _ => match alu_op(self.code) {
                Some(sym) => {
                    write!(f, "{r}{} {sym} ", self.dst)?;
                    src(f)
                }
                None => write!(f, "invalid opcode {:#04x}", self.code),
            },
        }
    }

    fn fmt_jmp(&self, f: &mut fmt::Formatter<'_>, r: char) -> fmt::Result {
        let operation = self.code & 0xf0;
        match (self.class(), operation) {
            (Class::Jmp, op::CALL) => match self.src {
                pseudo::CALL => write!(f, "call pc{}", Off(self.imm.clamp(-32768, 32767) as i16)),
                pseudo::KFUNC_CALL => write!(f, "call kfunc#{}", self.imm),
                _ => write!(f, "call {}", self.imm),
            },
            (Class::Jmp, op::EXIT) => f.write_str("exit"),
            (Class::Jmp, op::JA) => write!(f, "goto pc{}", Off(self.off)),
            (Class::Jmp32, op::JA) => write!(f, "gotol pc{}", self.imm),
            _ => match jmp_op(self.code) {
                Some(sym) => {
                    write!(f, "if {r}{} {sym} ", self.dst)?;
                    if self.code & op::X != 0 {
                        write!(f, "{r}{}", self.src)?;
                    } else {
                        write!(f, "{:#x}", self.imm)?;
                    }
                    write!(f, " goto pc{}", Off(self.off))
                }
                None => write!(f, "invalid opcode {:#04x}", self.code),
            },
        }
    }

    fn fmt_atomic(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = size_name(self.code);
        let r = if self.code & 0x18 == op::DW { 'r' } else { 'w' };
        let (dst, off, src) = (self.dst, Off(self.off), self.src);
        match self.imm {
            op::XCHG => write!(f, "{r}{src} = xchg(({size} *)(r{dst} {off}), {r}{src})"),
            op::CMPXCHG => write!(
                f,
                "{r}0 = cmpxchg(({size} *)(r{dst} {off}), {r}0, {r}{src})"
            ),
            imm => {
                let name = match imm & !op::FETCH {
                    0x00 => "+=",
                    0x40 => "|=",
                    0x50 => "&=",
                    0xa0 => "^=",
                    _ => return write!(f, "invalid atomic op {imm:#x}"),
                };
                if imm & op::FETCH != 0 {
                    let fname = match name {
                        "+=" => "add",
                        "|=" => "or",
                        "&=" => "and",
                        _ => "xor",
                    };
                    write!(
                        f,
                        "{r}{src} = atomic_fetch_{fname}(({size} *)(r{dst} {off}), {r}{src})"
                    )
                } else {
                    write!(f, "lock *({size} *)(r{dst} {off}) {name} {r}{src}")
                }
            }
        }
    }
}

impl fmt::Display for Insn {
    /// One slot in the verifier log's notation. An `ld_imm64` shows only its
    /// low 32 bits here; [`disassemble`] shows the whole 64-bit value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        LdImm64(self, 0).fmt(f)
    }
}

/// An instruction with the upper half of a 64-bit immediate.
struct LdImm64<'a>(&'a Insn, u32);

impl fmt::Display for LdImm64<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let insn = self.0;
        let (dst, src, off) = (insn.dst, insn.src, Off(insn.off));
        match insn.class() {
            Class::Alu64 => insn.fmt_alu(f, 'r'),
            Class::Alu => insn.fmt_alu(f, 'w'),
            Class::Jmp => insn.fmt_jmp(f, 'r'),
            Class::Jmp32 => insn.fmt_jmp(f, 'w'),
            Class::Ldx => match insn.code & 0xe0 {
                op::MEM => write!(f, "r{dst} = *({} *)(r{src} {off})", size_name(insn.code)),
                op::MEMSX => write!(
                    f,
                    "r{dst} = *({} *)(r{src} {off})",
                    signed_size_name(insn.code)
                ),
                _ => write!(f, "invalid opcode {:#04x}", insn.code),
            },
            Class::St => match insn.code & 0xe0 {
                op::MEM => write!(
                    f,
                    "*({} *)(r{dst} {off}) = {:#x}",
                    size_name(insn.code),
                    insn.imm
                ),
                _ => write!(f, "invalid opcode {:#04x}", insn.code),
            },
            Class::Stx => match insn.code & 0xe0 {
                op::MEM => write!(f, "*({} *)(r{dst} {off}) = r{src}", size_name(insn.code)),
                op::ATOMIC => insn.fmt_atomic(f),
                _ => write!(f, "invalid opcode {:#04x}", insn.code),
            },
            Class::Ld => match insn.code & 0xe0 {
                op::IMM if insn.is_ld_imm64() => {
                    let value = u64::from(self.1) << 32 | u64::from(insn.imm as u32);
                    match src {
                        pseudo::MAP_FD => write!(f, "r{dst} = map[fd:{}] ll", insn.imm),
                        pseudo::MAP_VALUE => {
                            write!(f, "r{dst} = map_value[fd:{}]+{} ll", insn.imm, self.1)
                        }
                        pseudo::FUNC => write!(
                            f,
                            "r{dst} = func pc{} ll",
                            Off(insn.imm.clamp(-32768, 32767) as i16)
                        ),
                        pseudo::BTF_ID => write!(f, "r{dst} = btf_id[{}] ll", insn.imm),
                        pseudo::MAP_IDX => write!(f, "r{dst} = map[idx:{}] ll", insn.imm),
                        pseudo::MAP_IDX_VALUE => {
                            write!(f, "r{dst} = map_value[idx:{}]+{} ll", insn.imm, self.1)
                        }
                        _ => write!(f, "r{dst} = {value:#x} ll"),
                    }
                }
                op::ABS => write!(f, "r0 = *({} *)skb[{}]", size_name(insn.code), insn.imm),
                op::IND => write!(
                    f,
                    "r0 = *({} *)skb[r{src} + {}]",
                    size_name(insn.code),
                    insn.imm
                ),
                _ => write!(f, "invalid opcode {:#04x}", insn.code),
            },
        }
    }
}

/// Numbered lines, one per instruction; an `ld_imm64` takes two slots but
/// one line, like the kernel's verifier log.
pub fn disassemble(insns: &[Insn]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < insns.len() {
        let insn = &insns[i];
        if insn.is_ld_imm64() {
            let high = insns.get(i + 1).map_or(0, |n| n.imm as u32);
            out += &format!("{i:4}: {}\n", LdImm64(insn, high));
            i += 2;
        } else {
            out += &format!("{i:4}: {insn}\n");
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_little_endian_with_registers_in_nibbles() {
        let [first, second] = Insn::ld_map_fd(1, 5);
        assert_eq!(first.to_bytes(), [0x18, 0x11, 0, 0, 5, 0, 0, 0]);
        assert_eq!(second.to_bytes(), [0; 8]);
        let insn = Insn::from_bytes([0x63, 0x1a, 0xfc, 0xff, 0, 0, 0, 0]);
        assert_eq!((insn.dst, insn.src, insn.off), (10, 1, -4));
        assert_eq!(insn.to_string(), "*(u32 *)(r10 -4) = r1");
    }

    #[test]
    fn round_trip() {
        let mut prog = vec![Insn::mov64_imm(0, -1), Insn::call_helper(172)];
        prog.extend(Insn::ld_imm64(2, 0, 0x1234_5678_9abc_def0));
        prog.push(Insn::stx(op::DW, 10, 1, -8));
        prog.push(Insn::exit());
        assert_eq!(decode(&encode(&prog)).unwrap(), prog);
    }

    #[test]
    fn malformed_encodings_are_rejected_at_decode() {
        assert_eq!(decode(&[0; 7]), Err(DecodeError::Length(7)));
        let [first, mut second] = Insn::ld_imm64(1, 0, 1);
        assert_eq!(
            decode(&first.to_bytes()),
            Err(DecodeError::TruncatedLdImm64(0))
        );
        second.dst = 1;
        let bytes = encode(&[Insn::exit(), first, second]);
        assert_eq!(decode(&bytes), Err(DecodeError::BadLdImm64(1)));
        assert!(DecodeError::BadLdImm64(1).to_string().contains("insn 1"));
    }

    #[test]
    fn predicates_name_kernel_concepts() {
        let [map, _] = Insn::ld_map_fd(1, 3);
        assert!(map.is_ld_imm64() && map.is_map_fd_load() && !map.is_func_load());
        let [value, _] = Insn::ld_imm64(1, pseudo::MAP_VALUE, 3);
        assert!(value.is_map_value_load());
        let [func, _] = Insn::ld_imm64(2, pseudo::FUNC, 10);
        assert!(func.is_func_load());
        let helper = Insn::call_helper(1);
        assert!(helper.is_call() && helper.is_helper_call() && !helper.is_pseudo_call());
        let local = Insn {
            src: pseudo::CALL,
            ..helper
        };
        assert!(local.is_pseudo_call() && !local.is_kfunc_call());
        assert!(Insn::exit().is_exit());
        assert_eq!(Insn::exit().class(), Class::Jmp);
    }

    #[test]
    fn disassembly_reads_like_the_verifier_log() {
        let mut prog = vec![Insn::mov64_reg(6, 1)];
        prog.extend(Insn::ld_map_fd(1, 5));
        prog.extend(Insn::ld_imm64(2, pseudo::FUNC, 10));
        prog.extend(Insn::ld_imm64(3, 0, 0x1_0000_0002));
        prog.push(Insn::jmp_imm(op::JEQ, 0, 0, 3));
        prog.push(Insn {
            src: pseudo::CALL,
            ..Insn::call_helper(10)
        });
        prog.push(Insn::call_helper(172));
        prog.push(Insn::ldx(op::W, 2, 1, 4));
        prog.push(Insn {
            code: op::STX | op::ATOMIC | op::DW,
            dst: 1,
            src: 2,
            ..Insn::default()
        });
        prog.push(Insn::exit());
        let text = disassemble(&prog);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "   0: r6 = r1",
                "   1: r1 = map[fd:5] ll",
                "   3: r2 = func pc+10 ll",
                "   5: r3 = 0x100000002 ll",
                "   7: if r0 == 0x0 goto pc+3",
                "   8: call pc+10",
                "   9: call 172",
                "  10: r2 = *(u32 *)(r1 +4)",
                "  11: lock *(u64 *)(r1 +0) += r2",
                "  12: exit",
            ]
        );
    }

    #[test]
    fn unknown_opcodes_print_instead_of_panicking() {
        for code in 0..=255u8 {
            for src in [0u8, 1, 2, 4, 9] {
                let insn = Insn {
                    code,
                    src,
                    dst: 1,
                    off: -1,
                    imm: -1,
                };
                assert!(!insn.to_string().is_empty());
            }
        }
        assert!(Insn {
            code: 0xff,
            ..Insn::default()
        }
        .to_string()
        .starts_with("invalid"));
    }
}
