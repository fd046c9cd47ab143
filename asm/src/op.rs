//! Opcode constants, with the uapi names from `<linux/bpf_common.h>` and
//! `<linux/bpf.h>` so they can be grepped against the kernel headers.
//!
//! The `code` byte is split differently per class:
//!
//! ```text
//! ALU/ALU64/JMP/JMP32:  | op (4 bits) | source (1 bit) | class (3 bits) |
//! LD/LDX/ST/STX:        | mode (3 bits) | size (2 bits) | class (3 bits) |
//! ```

// Classes (low 3 bits).
pub const BPF_LD: u8 = 0x00;
pub const BPF_LDX: u8 = 0x01;
pub const BPF_ST: u8 = 0x02;
pub const BPF_STX: u8 = 0x03;
pub const BPF_ALU: u8 = 0x04;
pub const BPF_JMP: u8 = 0x05;
/// Conditional jumps comparing the low 32 bits of the operands.
pub const BPF_JMP32: u8 = 0x06;
pub const BPF_ALU64: u8 = 0x07;

// Load/store size (bits 3-4).
pub const BPF_W: u8 = 0x00;
pub const BPF_H: u8 = 0x08;
pub const BPF_B: u8 = 0x10;
pub const BPF_DW: u8 = 0x18;

// Load/store mode (bits 5-7).
pub const BPF_IMM: u8 = 0x00;
/// Legacy packet access (socket filters), `r0 = *(size *)skb[imm]`.
pub const BPF_ABS: u8 = 0x20;
/// Legacy packet access, `r0 = *(size *)skb[src + imm]`.
pub const BPF_IND: u8 = 0x40;
pub const BPF_MEM: u8 = 0x60;
/// Sign-extending load (LDX only).
pub const BPF_MEMSX: u8 = 0x80;
/// Atomic read-modify-write (STX only); the operation is in `imm`.
pub const BPF_ATOMIC: u8 = 0xc0;

// Operand source (bit 3) for ALU and JMP classes.
/// Operand is the 32-bit immediate.
pub const BPF_K: u8 = 0x00;
/// Operand is the `src` register.
pub const BPF_X: u8 = 0x08;

// ALU operations (bits 4-7).
pub const BPF_ADD: u8 = 0x00;
pub const BPF_SUB: u8 = 0x10;
pub const BPF_MUL: u8 = 0x20;
/// Unsigned division; signed when `off == 1`.
pub const BPF_DIV: u8 = 0x30;
pub const BPF_OR: u8 = 0x40;
pub const BPF_AND: u8 = 0x50;
pub const BPF_LSH: u8 = 0x60;
pub const BPF_RSH: u8 = 0x70;
pub const BPF_NEG: u8 = 0x80;
/// Unsigned modulo; signed when `off == 1`.
pub const BPF_MOD: u8 = 0x90;
pub const BPF_XOR: u8 = 0xa0;
/// Register move; with `BPF_X` and `off` 8/16/32 it sign-extends (movsx).
pub const BPF_MOV: u8 = 0xb0;
pub const BPF_ARSH: u8 = 0xc0;
/// Byte swap; in class ALU the source bit picks `BPF_TO_LE`/`BPF_TO_BE`,
/// in class ALU64 it is an unconditional swap. `imm` is the width (16/32/64).
pub const BPF_END: u8 = 0xd0;
pub const BPF_TO_LE: u8 = 0x00;
pub const BPF_TO_BE: u8 = 0x08;

// Jump operations (bits 4-7).
pub const BPF_JA: u8 = 0x00;
pub const BPF_JEQ: u8 = 0x10;
pub const BPF_JGT: u8 = 0x20;
pub const BPF_JGE: u8 = 0x30;
pub const BPF_JSET: u8 = 0x40;
pub const BPF_JNE: u8 = 0x50;
pub const BPF_JSGT: u8 = 0x60;
pub const BPF_JSGE: u8 = 0x70;
pub const BPF_CALL: u8 = 0x80;
pub const BPF_EXIT: u8 = 0x90;
pub const BPF_JLT: u8 = 0xa0;
pub const BPF_JLE: u8 = 0xb0;
pub const BPF_JSLT: u8 = 0xc0;
pub const BPF_JSLE: u8 = 0xd0;
/// Conditional pseudo jump; `src` selects the condition (`BPF_MAY_GOTO`).
pub const BPF_JCOND: u8 = 0xe0;
pub const BPF_MAY_GOTO: u8 = 0;

// Atomic operations, carried in `imm` of a `BPF_STX | BPF_ATOMIC` instruction.
/// Modifier: also return the old value in `src`.
pub const BPF_FETCH: i32 = 0x01;
pub const BPF_XCHG: i32 = 0xe0 | BPF_FETCH;
/// Compare `r0` with memory, store `src` if equal; old value lands in `r0`.
pub const BPF_CMPXCHG: i32 = 0xf0 | BPF_FETCH;
/// Newer kernels (6.15+): load with acquire semantics (any size).
pub const BPF_LOAD_ACQ: i32 = 0x100;
/// Newer kernels (6.15+): store with release semantics (any size).
pub const BPF_STORE_REL: i32 = 0x110;

/// `off` of an ALU64 `BPF_MOV | BPF_X` that converts between address spaces
/// (arena pointers); `imm` holds `dst_as << 16 | src_as`.
pub const BPF_ADDR_SPACE_CAST: i16 = 1;

// Field masks.
pub const CLASS_MASK: u8 = 0x07;
pub const SIZE_MASK: u8 = 0x18;
pub const MODE_MASK: u8 = 0xe0;
pub const OP_MASK: u8 = 0xf0;
pub const SRC_MASK: u8 = 0x08;

/// The complete code of the first slot of a 64-bit immediate load.
pub const LD_IMM64: u8 = BPF_LD | BPF_IMM | BPF_DW;
/// The complete code of a call (helper, bpf-to-bpf or kfunc).
pub const CALL: u8 = BPF_JMP | BPF_CALL;
/// The complete code of `exit`.
pub const EXIT: u8 = BPF_JMP | BPF_EXIT;
