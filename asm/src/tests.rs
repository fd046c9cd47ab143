use super::*;

fn prog() -> Vec<Insn> {
    let mut p = Vec::new();
    p.extend(Insn::ld_map_fd(1, 5));
    p.push(Insn::mov64_reg(2, 10));
    p.push(Insn::alu64_imm(BPF_ADD, 2, -8));
    p.push(Insn::call_helper(1));
    p.push(Insn::jmp_imm(BPF_JEQ, 0, 0, 3));
    p.extend(Insn::ld_imm64(3, 0, 0x1122_3344_5566_7788));
    p.push(Insn::call_pseudo(1));
    p.push(Insn::exit());
    p.push(Insn::mov64_imm(0, 0));
    p.push(Insn::exit());
    p
}

#[test]
fn layout_of_map_fd_load() {
    let [a, b] = Insn::ld_map_fd(1, 5);
    assert_eq!(a.to_bytes(), [0x18, 0x11, 0, 0, 5, 0, 0, 0]);
    assert_eq!(b.to_bytes(), [0; 8]);
    assert_eq!(Insn::from_bytes([0x18, 0x11, 0, 0, 5, 0, 0, 0]), a);
}

#[test]
fn layout_little_endian_and_nibbles() {
    // r2 = *(u64 *)(r10 -8): dst in the low nibble, src in the high one.
    let i = Insn::ldx_mem(BPF_DW, 2, 10, -8);
    assert_eq!(i.to_bytes(), [0x79, 0xa2, 0xf8, 0xff, 0, 0, 0, 0]);
    let i = Insn::mov64_imm(0, -2);
    assert_eq!(i.to_bytes(), [0xb7, 0x00, 0, 0, 0xfe, 0xff, 0xff, 0xff]);
    let i = Insn::new(0x07, 1, 0, 0x1234, 0x1234_5678);
    assert_eq!(
        i.to_bytes(),
        [0x07, 0x01, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12]
    );
    // Register numbers are 4 bits: out-of-range bits are dropped, not smeared.
    assert_eq!(Insn::new(0, 0x1f, 0x2, 0, 0).to_bytes()[1], 0x2f);
}

#[test]
fn from_bytes_to_bytes_is_identity() {
    let mut rng = Lcg(1);
    for _ in 0..10_000 {
        let b = rng.next().to_le_bytes();
        assert_eq!(Insn::from_bytes(b).to_bytes(), b);
    }
}

#[test]
fn encode_decode_round_trip() {
    let p = prog();
    let bytes = encode(&p);
    assert_eq!(bytes.len(), p.len() * INSN_SIZE);
    assert_eq!(decode(&bytes).unwrap(), p);
    assert_eq!(decode(&[]).unwrap(), vec![]);
}

#[test]
fn ld_imm64_halves() {
    let [a, b] = Insn::ld_imm64(3, 0, 0x1122_3344_5566_7788);
    assert_eq!(a.imm as u32, 0x5566_7788);
    assert_eq!(b.imm as u32, 0x1122_3344);
    assert_eq!(Insn::imm64(&a, &b), 0x1122_3344_5566_7788);
    let [a, b] = Insn::ld_imm64(0, 0, u64::MAX);
    assert_eq!((a.imm, b.imm), (-1, -1));
    assert_eq!(Insn::imm64(&a, &b), u64::MAX);
    let [a, b] = Insn::ld_map_value(1, 7, 16);
    assert_eq!((a.src, a.imm, b.imm), (pseudo::MAP_VALUE, 7, 16));
}

#[test]
fn rejects_length_not_multiple_of_8() {
    let mut bytes = encode(&prog());
    bytes.extend([0x95, 0, 0, 0]);
    let err = decode(&bytes).unwrap_err();
    assert_eq!(
        err,
        DecodeError::TrailingBytes {
            index: 12,
            len: 100
        }
    );
    assert_eq!(err.index(), 12);
    assert!(err.to_string().contains("insn 12"), "{err}");
    assert!(decode(&[0; 7]).is_err());
}

#[test]
fn rejects_truncated_ld_imm64() {
    let mut p = vec![Insn::mov64_imm(0, 0)];
    p.push(Insn::ld_map_fd(1, 5)[0]);
    let err = decode(&encode(&p)).unwrap_err();
    assert_eq!(err, DecodeError::TruncatedLdImm64 { index: 1 });
    assert!(err.to_string().starts_with("insn 1:"), "{err}");
}

#[test]
fn rejects_bad_second_slot() {
    let base = prog();
    // Slot 7 is the second half of the ld_imm64 at 6.
    assert!(base[6].is_ld_imm64());
    for corrupt in [
        |i: &mut Insn| i.code = 0x95,
        |i: &mut Insn| i.dst = 1,
        |i: &mut Insn| i.src = 1,
        |i: &mut Insn| i.off = -1,
    ] {
        let mut p = base.clone();
        corrupt(&mut p[7]);
        let err = decode(&encode(&p)).unwrap_err();
        assert_eq!(err.index(), 6, "{err}");
        assert!(
            matches!(err, DecodeError::BadLdImm64Tail { index: 6, tail } if tail == p[7]),
            "{err:?}"
        );
        assert!(err.to_string().contains("insn 7"), "{err}");
    }
    // A non-zero imm is the upper half and fine.
    let mut p = base.clone();
    p[7].imm = -1;
    assert!(decode(&encode(&p)).is_ok());
}

#[test]
fn ld_imm64_pairs_back_to_back() {
    // The second half must be skipped: if it were read as an instruction the
    // check would misalign. Here a tail is followed directly by another pair.
    let mut p = Vec::new();
    p.extend(Insn::ld_imm64(1, 0, 0x18 << 32));
    p.extend(Insn::ld_map_fd(2, 3));
    p.extend(Insn::ld_func(3, -5));
    assert_eq!(decode(&encode(&p)).unwrap(), p);
}

#[test]
fn predicates() {
    let [fd, _] = Insn::ld_map_fd(1, 5);
    let [val, _] = Insn::ld_map_value(1, 5, 0);
    let [func, _] = Insn::ld_func(2, 10);
    let [plain, tail] = Insn::ld_imm64(1, 0, 42);
    let helper = Insn::call_helper(172);
    let local = Insn::call_pseudo(10);
    let kfunc = Insn::call_kfunc(1234);

    for i in [fd, val, func, plain] {
        assert!(i.is_ld_imm64());
        assert_eq!(i.class(), Class::Ld);
        assert!(!i.is_call());
    }
    assert!(!tail.is_ld_imm64() && tail.is_ld_imm64_tail());
    assert!(plain.is_ld_imm64_pair(&tail));
    assert!(!plain.is_ld_imm64_pair(&Insn::exit()));

    assert!(fd.is_map_fd_load() && !fd.is_map_value_load() && !fd.is_func_load());
    assert!(val.is_map_value_load() && !val.is_map_fd_load());
    assert!(func.is_func_load() && !func.is_map_fd_load());
    assert!(!plain.is_map_fd_load() && !plain.is_map_value_load() && !plain.is_func_load());

    for c in [helper, local, kfunc] {
        assert!(c.is_call());
        assert_eq!(c.class(), Class::Jmp);
        assert!(!c.is_exit() && !c.is_ld_imm64());
    }
    assert!(helper.is_helper_call() && !helper.is_pseudo_call() && !helper.is_kfunc_call());
    assert!(local.is_pseudo_call() && !local.is_helper_call() && !local.is_kfunc_call());
    assert!(kfunc.is_kfunc_call() && !kfunc.is_helper_call() && !kfunc.is_pseudo_call());
    // BPF_PSEUDO_CALL and BPF_PSEUDO_MAP_FD share a value; the code tells them apart.
    assert!(!local.is_map_fd_load() && !fd.is_pseudo_call());

    assert!(Insn::exit().is_exit() && !Insn::exit().is_call());
    // JMP32 | EXIT is not exit.
    assert!(!Insn::new(BPF_JMP32 | BPF_EXIT, 0, 0, 0, 0).is_exit());
}

#[test]
fn class_of_every_code() {
    use Class::*;
    let classes = [Ld, Ldx, St, Stx, Alu, Jmp, Jmp32, Alu64];
    for code in 0..=255u8 {
        let c = Insn::new(code, 0, 0, 0, 0).class();
        assert_eq!(c, classes[usize::from(code & 7)]);
        assert_eq!(c as u8, code & 7);
    }
    assert_eq!(Insn::mov64_imm(0, 0).class(), Alu64);
    assert_eq!(Insn::mov32_imm(0, 0).class(), Alu);
    assert_eq!(Insn::jmp32_imm(BPF_JEQ, 0, 0, 0).class(), Jmp32);
}

#[test]
fn disassemble_program() {
    // The second ld_imm64 slots (1 and 7) get no line of their own.
    let expected = [
        "   0: r1 = 5 ll ; map_fd 5",
        "   2: r2 = r10",
        "   3: r2 += -8",
        "   4: call 1",
        "   5: if r0 == 0 goto +3",
        "   6: r3 = 1234605616436508552 ll",
        "   8: call 1 ; call pc+1",
        "   9: exit",
        "  10: r0 = 0",
        "  11: exit",
        "",
    ]
    .join("\n");
    assert_eq!(disassemble(&prog()), expected);
}

#[test]
fn disassemble_keeps_malformed_tail_visible() {
    let p = [Insn::ld_imm64(1, 0, 7)[0], Insn::exit()];
    assert_eq!(
        disassemble(&p),
        "   0: r1 = 7 ll ; ld_imm64 without its second slot\n   1: exit\n"
    );
    assert_eq!(
        disassemble(&[Insn::ld_map_value(1, 5, 0)[0]]),
        "   0: r1 = 5 ll ; ld_imm64 without its second slot\n"
    );
}

#[test]
fn display_single_instructions() {
    let pair = |p: [Insn; 2]| p[0].display_with(Some(&p[1])).to_string();
    let cases: &[(Insn, &str)] = &[
        // ALU64 / ALU32
        (Insn::alu64_reg(BPF_ADD, 1, 2), "r1 += r2"),
        (Insn::alu64_imm(BPF_SUB, 1, 4), "r1 -= 4"),
        (Insn::alu64_imm(BPF_MUL, 1, 3), "r1 *= 3"),
        (Insn::alu64_reg(BPF_DIV, 1, 2), "r1 /= r2"),
        (Insn::alu32_reg(BPF_MOD, 1, 2), "w1 %= w2"),
        (Insn::alu32_imm(BPF_OR, 1, 255), "w1 |= 255"),
        (Insn::alu64_imm(BPF_AND, 1, -1), "r1 &= -1"),
        (Insn::alu64_imm(BPF_LSH, 1, 32), "r1 <<= 32"),
        (Insn::alu64_imm(BPF_RSH, 1, 32), "r1 >>= 32"),
        (Insn::alu64_imm(BPF_ARSH, 1, 63), "r1 s>>= 63"),
        (Insn::alu32_reg(BPF_XOR, 3, 3), "w3 ^= w3"),
        (Insn::alu64_imm(BPF_NEG, 4, 0), "r4 = -r4"),
        (Insn::alu32_imm(BPF_NEG, 4, 0), "w4 = -w4"),
        (Insn::mov32_reg(0, 6), "w0 = w6"),
        (Insn::mov32_imm(0, -1), "w0 = -1"),
        (Insn::new(0x3f, 1, 2, 1, 0), "r1 s/= r2"),
        (Insn::new(0x97, 1, 0, 1, 7), "r1 s%= 7"),
        (Insn::new(0x3f, 1, 2, 2, 0), "invalid opcode 0x3f (off 2)"),
        (Insn::new(0xbf, 1, 2, 8, 0), "r1 = (s8)r2"),
        (Insn::new(0xbf, 1, 2, 32, 0), "r1 = (s32)r2"),
        (Insn::new(0xbc, 1, 2, 16, 0), "w1 = (s16)w2"),
        (
            Insn::new(0xbc, 1, 2, 32, 0),
            "invalid opcode 0xbc (mov off 32)",
        ),
        (
            Insn::new(0xbf, 1, 2, 1, 1),
            "r1 = addr_space_cast(r2, 0, 1)",
        ),
        (Insn::new(0xd4, 1, 0, 0, 16), "r1 = le16 r1"),
        (Insn::new(0xdc, 1, 0, 0, 32), "r1 = be32 r1"),
        (Insn::new(0xd7, 1, 0, 0, 64), "r1 = bswap64 r1"),
        (
            Insn::new(0xdc, 1, 0, 0, 24),
            "invalid opcode 0xdc (swap width 24)",
        ),
        (Insn::new(0xdf, 1, 0, 0, 16), "invalid opcode 0xdf"),
        (Insn::new(0x8c, 1, 2, 0, 0), "invalid opcode 0x8c"),
        (Insn::new(0xe7, 1, 0, 0, 0), "invalid opcode 0xe7"),
        // JMP / JMP32
        (Insn::ja(-3), "goto -3"),
        (Insn::ja(0), "goto +0"),
        (Insn::new(0x06, 0, 0, 0, 70000), "gotol +70000"),
        (Insn::jmp_reg(BPF_JNE, 1, 2, 5), "if r1 != r2 goto +5"),
        (Insn::jmp_imm(BPF_JGT, 1, 16, 2), "if r1 > 16 goto +2"),
        (Insn::jmp_imm(BPF_JGE, 1, 0, 2), "if r1 >= 0 goto +2"),
        (Insn::jmp_imm(BPF_JSET, 1, 4, 2), "if r1 & 4 goto +2"),
        (Insn::jmp_imm(BPF_JSGT, 1, -1, -7), "if r1 s> -1 goto -7"),
        (Insn::jmp_reg(BPF_JSGE, 1, 2, 1), "if r1 s>= r2 goto +1"),
        (Insn::jmp_reg(BPF_JLT, 1, 2, 1), "if r1 < r2 goto +1"),
        (Insn::jmp_reg(BPF_JLE, 1, 2, 1), "if r1 <= r2 goto +1"),
        (Insn::jmp_imm(BPF_JSLT, 1, 0, 1), "if r1 s< 0 goto +1"),
        (Insn::jmp_imm(BPF_JSLE, 1, 0, 1), "if r1 s<= 0 goto +1"),
        (Insn::jmp32_imm(BPF_JEQ, 1, 3, 4), "if w1 == 3 goto +4"),
        (Insn::jmp32_reg(BPF_JSLT, 1, 2, -4), "if w1 s< w2 goto -4"),
        (Insn::new(0xe5, 0, 0, 5, 0), "may_goto +5"),
        (
            Insn::new(0xe5, 0, 1, 5, 0),
            "invalid opcode 0xe5 (jcond src 1)",
        ),
        (Insn::new(0x96, 0, 0, 0, 0), "invalid opcode 0x96"),
        (Insn::new(0x86, 0, 0, 0, 1), "invalid opcode 0x86"),
        (Insn::new(0x0d, 0, 0, 0, 1), "invalid opcode 0x0d"),
        (Insn::new(0xf5, 0, 0, 0, 1), "invalid opcode 0xf5"),
        (Insn::call_helper(172), "call 172"),
        (Insn::call_pseudo(10), "call 10"),
        (Insn::call_pseudo(-4), "call -4"),
        (Insn::call_kfunc(1234), "call 1234"),
        (
            Insn::new(0x85, 0, 3, 0, 1),
            "invalid opcode 0x85 (call src 3)",
        ),
        (Insn::exit(), "exit"),
        // LD (legacy packet access)
        (Insn::new(0x30, 0, 0, 0, 23), "r0 = *(u8 *)skb[23]"),
        (Insn::new(0x28, 0, 0, 0, 12), "r0 = *(u16 *)skb[12]"),
        (Insn::new(0x40, 0, 7, 0, 4), "r0 = *(u32 *)skb[r7 + 4]"),
        (Insn::new(0x38, 0, 0, 0, 0), "invalid opcode 0x38"),
        (Insn::new(0x00, 0, 0, 0, 0), "invalid opcode 0x00"),
        // LDX / ST / STX
        (Insn::ldx_mem(BPF_W, 2, 1, 4), "r2 = *(u32 *)(r1 + 4)"),
        (Insn::ldx_mem(BPF_B, 2, 1, 0), "r2 = *(u8 *)(r1 + 0)"),
        (Insn::ldx_memsx(BPF_H, 2, 1, -2), "r2 = *(s16 *)(r1 - 2)"),
        (Insn::new(0x99, 2, 1, 0, 0), "invalid opcode 0x99"),
        (Insn::stx_mem(BPF_DW, 10, 1, -8), "*(u64 *)(r10 - 8) = r1"),
        (Insn::st_mem(BPF_H, 10, -2, -5), "*(u16 *)(r10 - 2) = -5"),
        // ATOMIC
        (
            Insn::atomic(BPF_DW, BPF_ADD as i32, 1, 2, 0),
            "lock *(u64 *)(r1 + 0) += r2",
        ),
        (
            Insn::atomic(BPF_W, BPF_XOR as i32, 1, 2, 8),
            "lock *(u32 *)(r1 + 8) ^= r2",
        ),
        (
            Insn::atomic(BPF_DW, BPF_OR as i32 | BPF_FETCH, 1, 2, 0),
            "r2 = atomic_fetch_or((u64 *)(r1 + 0), r2)",
        ),
        (
            Insn::atomic(BPF_W, BPF_AND as i32 | BPF_FETCH, 1, 2, -4),
            "w2 = atomic_fetch_and((u32 *)(r1 - 4), w2)",
        ),
        (
            Insn::atomic(BPF_DW, BPF_XCHG, 1, 2, 0),
            "r2 = xchg_64(r1 + 0, r2)",
        ),
        (
            Insn::atomic(BPF_DW, BPF_CMPXCHG, 1, 2, 0),
            "r0 = cmpxchg_64(r1 + 0, r0, r2)",
        ),
        (
            Insn::atomic(BPF_B, BPF_LOAD_ACQ, 3, 1, 0),
            "w3 = load_acquire((u8 *)(r1 + 0))",
        ),
        (
            Insn::atomic(BPF_DW, BPF_STORE_REL, 1, 2, 8),
            "store_release((u64 *)(r1 + 8), r2)",
        ),
        (
            Insn::atomic(BPF_DW, 0x10, 1, 2, 0),
            "invalid opcode 0xdb (atomic op 0x10)",
        ),
        (
            Insn::atomic(BPF_H, BPF_ADD as i32, 1, 2, 0),
            "invalid opcode 0xcb",
        ),
        (Insn::new(0xc2, 1, 0, 0, 0), "invalid opcode 0xc2"),
    ];
    for (insn, want) in cases {
        assert_eq!(insn.to_string(), *want, "{insn:?}");
    }

    assert_eq!(pair(Insn::ld_imm64(1, 0, 0)), "r1 = 0 ll");
    assert_eq!(pair(Insn::ld_imm64(1, 0, -1i64 as u64)), "r1 = -1 ll");
    // llvm prints the first imm of a pseudo load; Insn::note says what it is.
    let note = |p: [Insn; 2]| (pair(p), p[0].note(Some(&p[1])).unwrap_or_default());
    let cases: &[([Insn; 2], &str, &str)] = &[
        (Insn::ld_map_fd(1, 5), "r1 = 5 ll", "map_fd 5"),
        (
            Insn::ld_map_value(1, 5, 16),
            "r1 = 5 ll",
            "map_value fd 5 + 16",
        ),
        (Insn::ld_func(2, 10), "r2 = 10 ll", "func pc+10"),
        (
            Insn::ld_imm64(1, pseudo::MAP_IDX, 2),
            "r1 = 2 ll",
            "map_idx 2",
        ),
        (
            Insn::ld_imm64(1, pseudo::MAP_IDX_VALUE, 2 | (8 << 32)),
            "r1 = 2 ll",
            "map_value idx 2 + 8",
        ),
        (
            Insn::ld_imm64(1, pseudo::BTF_ID, 99),
            "r1 = 99 ll",
            "ksym btf_id 99",
        ),
        (
            Insn::ld_imm64(1, pseudo::MAP_FD, 5 | (1 << 32)),
            "r1 = 5 ll",
            "map_fd 5, second imm 0x1",
        ),
        (
            Insn::ld_imm64(1, 9, 0),
            "invalid opcode 0x18 (ld_imm64 src 9)",
            "unknown pseudo source 9",
        ),
    ];
    for &(p, text, want_note) in cases {
        assert_eq!(note(p), (text.to_string(), want_note.to_string()), "{p:?}");
    }
    assert_eq!(
        Insn::call_pseudo(-4).note(None).as_deref(),
        Some("call pc-4")
    );
    assert_eq!(
        Insn::call_kfunc(7).note(None).as_deref(),
        Some("kfunc btf_id 7")
    );
    assert_eq!(Insn::call_helper(7).note(None), None);
}

/// llvm prints sub-register loads, stores and atomics with `w` registers
/// only with its alu32 feature.
#[test]
fn alu32_syntax() {
    let alu32 = |i: Insn| {
        i.display_with(None)
            .syntax(Syntax { alu32: true })
            .to_string()
    };
    assert_eq!(
        alu32(Insn::ldx_mem(BPF_W, 2, 1, 4)),
        "w2 = *(u32 *)(r1 + 4)"
    );
    assert_eq!(
        alu32(Insn::ldx_mem(BPF_DW, 2, 1, 4)),
        "r2 = *(u64 *)(r1 + 4)"
    );
    assert_eq!(
        alu32(Insn::ldx_memsx(BPF_B, 2, 1, 0)),
        "r2 = *(s8 *)(r1 + 0)"
    );
    assert_eq!(
        alu32(Insn::stx_mem(BPF_B, 10, 1, -1)),
        "*(u8 *)(r10 - 1) = w1"
    );
    assert_eq!(
        alu32(Insn::atomic(BPF_W, BPF_ADD as i32, 1, 2, 0)),
        "lock *(u32 *)(r1 + 0) += w2"
    );
    assert_eq!(
        alu32(Insn::atomic(BPF_W, BPF_XCHG, 1, 2, 0)),
        "w2 = xchg32_32(r1 + 0, w2)"
    );
    assert_eq!(
        alu32(Insn::atomic(BPF_W, BPF_CMPXCHG, 1, 2, 0)),
        "w0 = cmpxchg32_32(r1 + 0, w0, w2)"
    );
}

/// Tiny deterministic generator so the no-panic tests need no dependencies.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 ^ (self.0 >> 29)
    }
}

#[test]
fn never_panics_on_any_opcode() {
    let fields: &[(u8, i16, i32)] = &[
        (0x00, 0, 0),
        (0xff, -1, -1),
        (0x1a, 1, 1),
        (0x21, 8, 16),
        (0x40, 16, 32),
        (0x7f, 32, 64),
        (0x0f, i16::MIN, i32::MIN),
        (0xf0, i16::MAX, i32::MAX),
        (0x00, 0, 0x100),
        (0x00, 0, 0x110),
        (0x00, 0, 0xe1),
        (0x00, 0, 0xf1),
    ];
    for code in 0..=255u8 {
        for &(regs, off, imm) in fields {
            let i = Insn::from_bytes({
                let mut b = [code, regs, 0, 0, 0, 0, 0, 0];
                b[2..4].copy_from_slice(&off.to_le_bytes());
                b[4..].copy_from_slice(&imm.to_le_bytes());
                b
            });
            assert!(!i.to_string().is_empty());
            let tail = Insn::new(0, 0, 0, 0, imm);
            assert!(!i.display_with(Some(&tail)).to_string().is_empty());
        }
    }
}

#[test]
fn never_panics_on_random_bytes() {
    let mut rng = Lcg(42);
    for round in 0..2_000 {
        let len = (rng.next() % 80) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Make ld_imm64 frequent so both its accept and reject paths run.
        if round % 2 == 0 {
            for chunk in bytes.chunks_mut(16) {
                chunk[0] = LD_IMM64;
            }
        }
        match decode(&bytes) {
            Ok(insns) => {
                assert_eq!(encode(&insns), bytes);
                let _ = disassemble(&insns);
            }
            Err(e) => {
                assert!(e.index() <= bytes.len() / INSN_SIZE);
                let _ = e.to_string();
            }
        }
        // The disassembler must also cope with undecoded (unvalidated) slots.
        let raw: Vec<Insn> = bytes
            .chunks_exact(INSN_SIZE)
            .map(|c| Insn::from_bytes(c.try_into().unwrap()))
            .collect();
        let _ = disassemble(&raw);
    }
}

#[test]
fn extern_constructors() {
    // A kfunc in a module: BTF id in imm, fd_array index in off.
    let k = Insn::call_module_kfunc(777, 2);
    assert!(k.is_kfunc_call() && !k.is_pseudo_call() && !k.is_helper_call());
    assert_eq!((k.imm, k.off), (777, 2));
    assert_eq!(Insn::call_kfunc(777).off, 0);

    // A typed ksym: BTF id in the first imm, the BTF object's fd in the second.
    let [a, b] = Insn::ld_btf_id(3, 4242, 9);
    assert!(a.is_btf_id_load() && a.is_ld_imm64_pair(&b));
    assert_eq!((a.dst, a.imm, b.imm), (3, 4242, 9));

    // A plain address: src 0, both halves of the value.
    let [a, b] = Insn::ld_u64(1, 0xffff_ffff_8100_0000);
    assert!(a.is_ld_imm64() && a.src == 0 && !a.is_btf_id_load());
    assert_eq!(Insn::imm64(&a, &b), 0xffff_ffff_8100_0000);
}
