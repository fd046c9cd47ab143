//! BPF instruction encoding, decoding and disassembly.
//!
//! This crate is the one place in rawbpf that knows how eBPF instructions are
//! laid out. It has no dependencies and does no I/O.
//!
//! # Instruction format
//!
//! A program is an array of 8-byte slots, each a `struct bpf_insn`:
//!
//! ```text
//! byte 0      code    opcode: class (3 low bits) + op/source or mode/size
//! byte 1      regs    dst in the low nibble, src in the high nibble
//! bytes 2-3   off     signed 16-bit offset (jumps, memory access), little-endian
//! bytes 4-7   imm     signed 32-bit immediate, little-endian
//! ```
//!
//! This is the little-endian (`bpfel`) encoding used by x86-64 and arm64
//! hosts: the register nibbles are in the order the kernel's
//! `dst_reg:4, src_reg:4` bitfields take on a little-endian machine. Big-endian
//! (`bpfeb`) objects swap the nibbles and byte order and are not handled here.
//!
//! # The 64-bit immediate load
//!
//! `BPF_LD | BPF_IMM | BPF_DW` (`0x18`, "ld_imm64") is the only instruction
//! that occupies two slots: the first carries the low 32 bits of the value in
//! `imm`, the second carries the high 32 bits in its `imm`. Every other field
//! of the second slot (code, dst, src, off) must be zero; the kernel verifier
//! rejects anything else. That rule is what makes the pair unambiguous: the
//! second slot is not an instruction of its own (code 0 would otherwise be
//! the legacy `BPF_LD | BPF_W | BPF_IMM`), and jump offsets, which count
//! slots, may never land on it.
//!
//! The first slot's `src` turns the load into a *pseudo* load that the kernel
//! rewrites at load time (see [`pseudo`]): a map fd becomes a map pointer, a
//! map fd plus the second slot's `imm` becomes a pointer into the map's value,
//! a relative instruction offset becomes a function pointer, and so on.
//!
//! Calls are similar: `src` of a `BPF_JMP | BPF_CALL` says whether `imm` is a
//! helper id (0), a pc-relative bpf-to-bpf call ([`pseudo::CALL`]) or a kernel
//! function BTF id ([`pseudo::KFUNC_CALL`]).
//!
//! Relative offsets (jumps, pseudo calls, function loads) count slots from the
//! slot *after* the instruction, so `goto +0` is a no-op.
//!
//! # What is (not) checked
//!
//! [`decode`] checks only the layout: whole slots and well-formed ld_imm64
//! pairs. It does not check opcodes, register numbers or jump targets; that is
//! the verifier's job. The disassembler accepts anything and prints
//! `invalid opcode 0x..` for codes it does not know. Its text is llvm-objdump's
//! (rawbpf tests it against llvm's listings of every object in bpf/).

use core::fmt;

mod disasm;
pub mod op;

pub use disasm::{disassemble, disassemble_with, InsnDisplay, Syntax};

use op::*;

/// Size of one instruction slot in bytes.
pub const INSN_SIZE: usize = 8;

/// `src` values that give ld_imm64 and call instructions their special
/// meaning (`BPF_PSEUDO_*` in `<linux/bpf.h>`).
pub mod pseudo {
    /// ld_imm64: first `imm` is a map fd; the kernel loads the map pointer.
    pub const MAP_FD: u8 = 1;
    /// ld_imm64: first `imm` is a map fd, second `imm` an offset into the
    /// value of element 0; the kernel loads the address (global data).
    pub const MAP_VALUE: u8 = 2;
    /// ld_imm64: first `imm` is the kernel BTF id of a variable (ksym).
    pub const BTF_ID: u8 = 3;
    /// ld_imm64: first `imm` is the pc-relative offset of a function
    /// (callbacks such as `bpf_loop`'s).
    pub const FUNC: u8 = 4;
    /// ld_imm64: like [`MAP_FD`] but `imm` indexes the `fd_array` load attribute.
    pub const MAP_IDX: u8 = 5;
    /// ld_imm64: like [`MAP_VALUE`] but `imm` indexes the `fd_array` load attribute.
    pub const MAP_IDX_VALUE: u8 = 6;
    /// call: `imm` is the pc-relative offset of a bpf-to-bpf callee.
    pub const CALL: u8 = 1;
    /// call: `imm` is the BTF id of a kernel function (kfunc).
    pub const KFUNC_CALL: u8 = 2;
}

/// Instruction class, the low three bits of `code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Class {
    Ld = BPF_LD,
    Ldx = BPF_LDX,
    St = BPF_ST,
    Stx = BPF_STX,
    Alu = BPF_ALU,
    Jmp = BPF_JMP,
    Jmp32 = BPF_JMP32,
    Alu64 = BPF_ALU64,
}

impl Class {
    /// The class of an opcode byte; every byte has one.
    pub const fn from_code(code: u8) -> Class {
        match code & CLASS_MASK {
            BPF_LD => Class::Ld,
            BPF_LDX => Class::Ldx,
            BPF_ST => Class::St,
            BPF_STX => Class::Stx,
            BPF_ALU => Class::Alu,
            BPF_JMP => Class::Jmp,
            BPF_JMP32 => Class::Jmp32,
            _ => Class::Alu64,
        }
    }
}

/// One 8-byte instruction slot, exactly as the kernel sees it
/// (`struct bpf_insn`).
///
/// `dst` and `src` are 4-bit register numbers; [`Insn::to_bytes`] keeps only
/// their low nibble.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    /// An instruction from its raw fields.
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    /// Decodes one slot. Any 8 bytes are a valid slot; meaning is checked elsewhere.
    pub const fn from_bytes(b: [u8; 8]) -> Insn {
        Insn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// Encodes one slot.
    pub const fn to_bytes(&self) -> [u8; 8] {
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

    // ---- fields of the opcode byte ----

    pub const fn class(&self) -> Class {
        Class::from_code(self.code)
    }

    /// ALU/JMP operation bits (`BPF_ADD`, `BPF_JEQ`, ...).
    pub const fn op(&self) -> u8 {
        self.code & OP_MASK
    }

    /// ALU/JMP operand source bit (`BPF_K` or `BPF_X`).
    pub const fn source(&self) -> u8 {
        self.code & SRC_MASK
    }

    /// Load/store size bits (`BPF_W`, `BPF_H`, `BPF_B`, `BPF_DW`).
    pub const fn size(&self) -> u8 {
        self.code & SIZE_MASK
    }

    /// Load/store mode bits (`BPF_IMM`, `BPF_MEM`, `BPF_ATOMIC`, ...).
    pub const fn mode(&self) -> u8 {
        self.code & MODE_MASK
    }

    // ---- predicates ----

    /// First slot of a two-slot 64-bit immediate load.
    pub const fn is_ld_imm64(&self) -> bool {
        self.code == LD_IMM64
    }

    /// Any call: helper, bpf-to-bpf or kfunc.
    pub const fn is_call(&self) -> bool {
        self.code == CALL
    }

    /// Call of a helper; `imm` is the helper id.
    pub const fn is_helper_call(&self) -> bool {
        self.is_call() && self.src == 0
    }

    /// bpf-to-bpf call; `imm` is the callee's offset relative to the next slot.
    pub const fn is_pseudo_call(&self) -> bool {
        self.is_call() && self.src == pseudo::CALL
    }

    /// Call of a kernel function; `imm` is its BTF id.
    pub const fn is_kfunc_call(&self) -> bool {
        self.is_call() && self.src == pseudo::KFUNC_CALL
    }

    /// ld_imm64 of a map pointer by fd.
    pub const fn is_map_fd_load(&self) -> bool {
        self.is_ld_imm64() && self.src == pseudo::MAP_FD
    }

    /// ld_imm64 of an address inside a map value by fd (global data).
    pub const fn is_map_value_load(&self) -> bool {
        self.is_ld_imm64() && self.src == pseudo::MAP_VALUE
    }

    /// ld_imm64 of a function pointer; `imm` is relative to the next slot
    /// (i.e. the second half of the load).
    pub const fn is_func_load(&self) -> bool {
        self.is_ld_imm64() && self.src == pseudo::FUNC
    }

    /// ld_imm64 of a kernel variable's address by BTF id (typed ksym).
    pub const fn is_btf_id_load(&self) -> bool {
        self.is_ld_imm64() && self.src == pseudo::BTF_ID
    }

    pub const fn is_exit(&self) -> bool {
        self.code == EXIT
    }

    /// Whether this slot together with `next` forms a well-formed ld_imm64 pair.
    pub const fn is_ld_imm64_pair(&self, next: &Insn) -> bool {
        self.is_ld_imm64() && next.is_ld_imm64_tail()
    }

    /// Whether this slot can be the second half of an ld_imm64: everything but
    /// `imm` is zero.
    pub const fn is_ld_imm64_tail(&self) -> bool {
        self.code == 0 && self.dst == 0 && self.src == 0 && self.off == 0
    }

    /// The 64-bit value of an ld_imm64 pair: low half from `first.imm`, high
    /// half from `second.imm`.
    pub const fn imm64(first: &Insn, second: &Insn) -> u64 {
        (first.imm as u32 as u64) | ((second.imm as u32 as u64) << 32)
    }

    // ---- constructors ----

    pub const fn alu64_imm(op: u8, dst: u8, imm: i32) -> Insn {
        Insn::new(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm)
    }

    pub const fn alu64_reg(op: u8, dst: u8, src: u8) -> Insn {
        Insn::new(BPF_ALU64 | op | BPF_X, dst, src, 0, 0)
    }

    /// 32-bit ALU: operates on the low halves and zeroes the upper 32 bits of `dst`.
    pub const fn alu32_imm(op: u8, dst: u8, imm: i32) -> Insn {
        Insn::new(BPF_ALU | op | BPF_K, dst, 0, 0, imm)
    }

    pub const fn alu32_reg(op: u8, dst: u8, src: u8) -> Insn {
        Insn::new(BPF_ALU | op | BPF_X, dst, src, 0, 0)
    }

    /// `dst = imm` (sign-extended to 64 bits).
    pub const fn mov64_imm(dst: u8, imm: i32) -> Insn {
        Insn::alu64_imm(BPF_MOV, dst, imm)
    }

    pub const fn mov64_reg(dst: u8, src: u8) -> Insn {
        Insn::alu64_reg(BPF_MOV, dst, src)
    }

    pub const fn mov32_imm(dst: u8, imm: i32) -> Insn {
        Insn::alu32_imm(BPF_MOV, dst, imm)
    }

    pub const fn mov32_reg(dst: u8, src: u8) -> Insn {
        Insn::alu32_reg(BPF_MOV, dst, src)
    }

    /// Unconditional jump by `off` slots.
    pub const fn ja(off: i16) -> Insn {
        Insn::new(BPF_JMP | BPF_JA | BPF_K, 0, 0, off, 0)
    }

    /// `if dst <op> imm goto +off` (64-bit compare, `imm` sign-extended).
    pub const fn jmp_imm(op: u8, dst: u8, imm: i32, off: i16) -> Insn {
        Insn::new(BPF_JMP | op | BPF_K, dst, 0, off, imm)
    }

    pub const fn jmp_reg(op: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(BPF_JMP | op | BPF_X, dst, src, off, 0)
    }

    /// Like [`Insn::jmp_imm`] but comparing the low 32 bits.
    pub const fn jmp32_imm(op: u8, dst: u8, imm: i32, off: i16) -> Insn {
        Insn::new(BPF_JMP32 | op | BPF_K, dst, 0, off, imm)
    }

    pub const fn jmp32_reg(op: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(BPF_JMP32 | op | BPF_X, dst, src, off, 0)
    }

    pub const fn call_helper(id: i32) -> Insn {
        Insn::new(CALL, 0, 0, 0, id)
    }

    /// bpf-to-bpf call to the slot `rel + 1` after this one.
    pub const fn call_pseudo(rel: i32) -> Insn {
        Insn::new(CALL, 0, pseudo::CALL, 0, rel)
    }

    /// Call of the kernel function with BTF id `btf_id` in vmlinux.
    pub const fn call_kfunc(btf_id: i32) -> Insn {
        Insn::call_module_kfunc(btf_id, 0)
    }

    /// Call of a kernel function whose BTF id is in the BTF object at
    /// `fd_array[fd_array_index]` of the load (a module's BTF); index 0 means
    /// vmlinux. The index travels in `off`.
    pub const fn call_module_kfunc(btf_id: i32, fd_array_index: i16) -> Insn {
        Insn::new(CALL, 0, pseudo::KFUNC_CALL, fd_array_index, btf_id)
    }

    pub const fn exit() -> Insn {
        Insn::new(EXIT, 0, 0, 0, 0)
    }

    /// A two-slot 64-bit immediate load; `src` is 0 or a [`pseudo`] value.
    pub const fn ld_imm64(dst: u8, src: u8, value: u64) -> [Insn; 2] {
        [
            Insn::new(LD_IMM64, dst, src, 0, value as u32 as i32),
            Insn::new(0, 0, 0, 0, (value >> 32) as u32 as i32),
        ]
    }

    /// `dst = map pointer` for the map with file descriptor `fd`.
    pub const fn ld_map_fd(dst: u8, fd: i32) -> [Insn; 2] {
        Insn::ld_imm64(dst, pseudo::MAP_FD, fd as u32 as u64)
    }

    /// `dst = &value_of(map fd)[offset]`.
    pub const fn ld_map_value(dst: u8, fd: i32, offset: u32) -> [Insn; 2] {
        Insn::ld_imm64(
            dst,
            pseudo::MAP_VALUE,
            (fd as u32 as u64) | ((offset as u64) << 32),
        )
    }

    /// `dst = value`: a plain 64-bit constant (e.g. a kernel address).
    pub const fn ld_u64(dst: u8, value: u64) -> [Insn; 2] {
        Insn::ld_imm64(dst, 0, value)
    }

    /// `dst = &kernel variable`, the variable named by its BTF id in vmlinux
    /// (`btf_obj_fd` 0) or in the BTF object `btf_obj_fd` (a module's).
    /// The kernel keeps the type, so the program may dereference it
    /// (typed ksyms).
    pub const fn ld_btf_id(dst: u8, btf_id: i32, btf_obj_fd: i32) -> [Insn; 2] {
        Insn::ld_imm64(
            dst,
            pseudo::BTF_ID,
            (btf_id as u32 as u64) | ((btf_obj_fd as u32 as u64) << 32),
        )
    }

    /// `dst = &function` at `rel + 1` slots after the *first* slot of the load
    /// (so relative to the second slot).
    pub const fn ld_func(dst: u8, rel: i32) -> [Insn; 2] {
        Insn::ld_imm64(dst, pseudo::FUNC, rel as u32 as u64)
    }

    /// `dst = *(size *)(src + off)`; `size` is `BPF_W`/`BPF_H`/`BPF_B`/`BPF_DW`.
    pub const fn ldx_mem(size: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(BPF_LDX | BPF_MEM | size, dst, src, off, 0)
    }

    /// `dst = *(s<size> *)(src + off)`, sign-extending (W/H/B only).
    pub const fn ldx_memsx(size: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(BPF_LDX | BPF_MEMSX | size, dst, src, off, 0)
    }

    /// `*(size *)(dst + off) = src`.
    pub const fn stx_mem(size: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(BPF_STX | BPF_MEM | size, dst, src, off, 0)
    }

    /// `*(size *)(dst + off) = imm`.
    pub const fn st_mem(size: u8, dst: u8, off: i16, imm: i32) -> Insn {
        Insn::new(BPF_ST | BPF_MEM | size, dst, 0, off, imm)
    }

    /// Atomic operation on `*(size *)(dst + off)` with operand `src`;
    /// `atomic_op` is e.g. `BPF_ADD as i32`, `BPF_ADD as i32 | BPF_FETCH`,
    /// `BPF_XCHG` or `BPF_CMPXCHG`.
    pub const fn atomic(size: u8, atomic_op: i32, dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(BPF_STX | BPF_ATOMIC | size, dst, src, off, atomic_op)
    }
}

/// A malformed instruction stream, with the slot index where it goes wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The byte length is not a multiple of [`INSN_SIZE`]; `index` is the slot
    /// where the incomplete instruction starts.
    TrailingBytes { index: usize, len: usize },
    /// The ld_imm64 at `index` is the last slot, so its second half is missing.
    TruncatedLdImm64 { index: usize },
    /// The ld_imm64 at `index` is followed by a slot (`index + 1`) whose code,
    /// dst, src or off is not zero.
    BadLdImm64Tail { index: usize, tail: Insn },
}

impl DecodeError {
    /// Index of the offending instruction (for a bad second half, the index of
    /// the ld_imm64 it belongs to).
    pub fn index(&self) -> usize {
        match *self {
            DecodeError::TrailingBytes { index, .. }
            | DecodeError::TruncatedLdImm64 { index }
            | DecodeError::BadLdImm64Tail { index, .. } => index,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::TrailingBytes { index, len } => write!(
                f,
                "insn {index}: length {len} is not a multiple of {INSN_SIZE} ({} trailing bytes)",
                len % INSN_SIZE
            ),
            DecodeError::TruncatedLdImm64 { index } => write!(
                f,
                "insn {index}: ld_imm64 is the last slot, its second half is missing"
            ),
            DecodeError::BadLdImm64Tail { index, tail } => write!(
                f,
                "insn {index}: second slot of ld_imm64 (insn {}) must have zero code, dst, src and off, \
                 got code {:#04x} dst {} src {} off {}",
                index + 1,
                tail.code,
                tail.dst,
                tail.src,
                tail.off
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes a program or code section, checking that it consists of whole
/// slots and that every ld_imm64 has a well-formed second slot.
///
/// The result has one [`Insn`] per slot (an ld_imm64 stays two entries), so
/// indices match the kernel's instruction numbering and jump offsets.
pub fn decode(bytes: &[u8]) -> Result<Vec<Insn>, DecodeError> {
    let chunks = bytes.chunks_exact(INSN_SIZE);
    if !chunks.remainder().is_empty() {
        return Err(DecodeError::TrailingBytes {
            index: bytes.len() / INSN_SIZE,
            len: bytes.len(),
        });
    }
    let insns: Vec<Insn> = chunks
        .map(|c| {
            let mut b = [0u8; INSN_SIZE];
            b.copy_from_slice(c);
            Insn::from_bytes(b)
        })
        .collect();

    let mut i = 0;
    while let Some(insn) = insns.get(i) {
        if insn.is_ld_imm64() {
            let Some(tail) = insns.get(i + 1) else {
                return Err(DecodeError::TruncatedLdImm64 { index: i });
            };
            if !tail.is_ld_imm64_tail() {
                return Err(DecodeError::BadLdImm64Tail {
                    index: i,
                    tail: *tail,
                });
            }
            // Skip the tail: its code 0 must not be read as an instruction.
            i += 2;
        } else {
            i += 1;
        }
    }
    Ok(insns)
}

/// Encodes instructions into the byte form the kernel expects.
pub fn encode(insns: &[Insn]) -> Vec<u8> {
    // Sized once and filled eight bytes at a time: a byte-by-byte collect
    // grows the vector as it goes and costs more than the encoding.
    let mut out = Vec::with_capacity(insns.len() * 8);
    for insn in insns {
        out.extend_from_slice(&insn.to_bytes());
    }
    out
}

#[cfg(test)]
mod tests;
