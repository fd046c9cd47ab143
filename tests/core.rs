//! CO-RE on the running kernel: bpf/core.bpf.o, compiled once, is relocated
//! against /sys/kernel/btf/vmlinux, loaded, run, and every number it stored
//! is compared with what the kernel's BTF says, computed here independently
//! of rawbpf's CO-RE code (a full parse with `btf::Btf` and plain walks).
//! The same test runs in `make vmtest` on 5.10, 6.1 and 6.12, whose layouts
//! and enum values differ from the host's (5.10 has no enum skb_drop_reason).

mod common;

use common::*;
use rawbpf::attach::cgroup::{self, AttachMode};
use rawbpf::object::btf::{kind, Btf};
use rawbpf::sys::SendOutcome;

const CORE: &[u8] = include_bytes!("../bpf/core.bpf.o");

/// Reads the u64 global `name` of `object` from its section's map.
fn global(loaded: &rawbpf::Loaded, name: &str) -> u64 {
    let obj = rawbpf::object::elf::Object::parse(CORE).unwrap();
    let sym = obj.symbols.iter().find(|s| s.name == name).unwrap();
    let section = &obj.sections[sym.section.unwrap()].name;
    let value = loaded
        .map(section)
        .unwrap()
        .lookup(&0u32.to_ne_bytes())
        .unwrap()
        .unwrap();
    let at = sym.value as usize;
    u64::from_ne_bytes(value[at..at + 8].try_into().unwrap())
}

fn vmlinux() -> Btf {
    let bytes = std::fs::read("/sys/kernel/btf/vmlinux").expect("the kernel has BTF");
    Btf::parse(&bytes).unwrap()
}

/// `(bit offset, bit size, type)` of member `name` of struct `id`, looking
/// inside anonymous members (sk_buff keeps many fields in anonymous unions).
fn field(btf: &Btf, id: u32, name: &str) -> Option<(u32, u32, u32)> {
    let t = btf.get(id).unwrap();
    let extra = btf.extra_bytes(id).unwrap();
    for (i, (mname, ty, bit_off)) in btf.members(id).unwrap().into_iter().enumerate() {
        let raw = u32::from_le_bytes(extra[12 * i + 8..12 * i + 12].try_into().unwrap());
        let bit_size = if t.kflag { raw >> 24 } else { 0 };
        if mname == name {
            return Some((bit_off, bit_size, ty));
        }
        let inner = btf.resolve(ty).unwrap();
        if mname.is_empty() && matches!(btf.get(inner).unwrap().kind, kind::STRUCT | kind::UNION) {
            if let Some((off, size, ty)) = field(btf, inner, name) {
                return Some((bit_off + off, size, ty));
            }
        }
    }
    None
}

fn enum_value(btf: &Btf, enum_name: &str, name: &str) -> Option<u64> {
    let id = btf.find(kind::ENUM, enum_name)?;
    let extra = btf.extra_bytes(id).unwrap();
    extra.chunks_exact(8).find_map(|e| {
        let off = u32::from_le_bytes(e[0..4].try_into().unwrap());
        let val = u32::from_le_bytes(e[4..8].try_into().unwrap());
        (btf.name(off).unwrap() == name).then_some(u64::from(val))
    })
}

fn int_signed(btf: &Btf, ty: u32) -> u64 {
    let id = btf.resolve(ty).unwrap();
    let extra = btf.extra_bytes(id).unwrap();
    u64::from(extra[3] & 1)
}

#[test]
fn core_object_relocates_to_the_running_kernels_types() {
    require_root();
    let k = vmlinux();
    let skb = k.find(kind::STRUCT, "sk_buff").unwrap();
    let (len_bits, _, _) = field(&k, skb, "len").unwrap();
    let (data_len_bits, _, _) = field(&k, skb, "data_len").unwrap();
    let (_, _, iif_ty) = field(&k, skb, "skb_iif").unwrap();
    let (pkt_bit_off, pkt_bit_size, _) = field(&k, skb, "pkt_type").unwrap();
    assert_eq!(pkt_bit_size, 3, "the kernel's pkt_type is a 3-bit bitfield");

    let loaded = common::load(CORE).unwrap();
    let prog = loaded.program("core_skb").unwrap();
    // mark (offset 8 of struct __sk_buff) is one of the fields a test run may set.
    let mut ctx = [0u8; 12];
    ctx[8..12].copy_from_slice(&0x0123_4567u32.to_ne_bytes());
    let packet = udp_packet();
    assert_eq!(prog.test_run(&packet, &ctx).unwrap().retval, 1);
    let g = |name| global(&loaded, name);

    // Field offsets: the flavour with fields in another order gets the kernel's.
    assert_eq!(g("len_off"), u64::from(len_bits / 8));
    assert_eq!(g("len_off_mine"), u64::from(len_bits / 8));
    assert_eq!(g("data_len_off_mine"), u64::from(data_len_bits / 8));
    assert_eq!(g("len_size"), 4);
    assert_eq!(g("len_exists"), 1);
    assert_eq!(g("no_field_exists"), 0);
    assert_eq!(g("iif_signed"), int_signed(&k, iif_ty));
    assert_eq!(g("iif_signed"), 1, "skb_iif is an int");
    assert_eq!(g("len_signed"), 0);

    // The bitfield: a load of byte_size bytes at byte_off, shifted left then
    // right, must give exactly the field's bits.
    let (off, size) = (g("pkt_type_off"), g("pkt_type_size"));
    let (lshift, rshift) = (g("pkt_type_lshift"), g("pkt_type_rshift"));
    assert!(
        [1, 2, 4, 8].contains(&size) && off % size == 0,
        "{off} {size}"
    );
    let start = u64::from(pkt_bit_off) - off * 8;
    assert!(u64::from(pkt_bit_off) >= off * 8 && start + 3 <= size * 8);
    let container: u64 = 0b101 << start;
    assert_eq!((container << lshift) >> rshift, 0b101);
    assert_eq!(rshift, 61);

    // Types.
    assert_eq!(g("skb_size"), k.size_of(skb).unwrap());
    assert_eq!(g("skb_exists"), 1);
    assert_eq!(g("no_type_exists"), 0);
    assert_eq!(g("skb_kernel_id"), u64::from(skb));
    let local = Btf::parse(
        rawbpf::object::elf::Object::parse(CORE)
            .unwrap()
            .btf
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        g("skb_local_id"),
        u64::from(local.find(kind::STRUCT, "sk_buff").unwrap())
    );

    // Enumerators: the kernel's values, not the object's made-up 1000 and 1001.
    if k.find(kind::ENUM, "skb_drop_reason").is_some() {
        let reason = |n| enum_value(&k, "skb_drop_reason", n).unwrap();
        assert_eq!(g("not_specified"), reason("SKB_DROP_REASON_NOT_SPECIFIED"));
        assert_eq!(g("no_socket"), reason("SKB_DROP_REASON_NO_SOCKET"));
        assert_eq!(g("not_specified_exists"), 1);
    } else {
        // Before 5.17 there is no such enum: the existence checks say so
        // and the poisoned value relocations behind them never ran.
        assert_eq!(g("not_specified"), u64::MAX, "NO_ENUM_VALUE");
        assert_eq!(g("no_socket"), u64::MAX, "NO_ENUM_VALUE");
        assert_eq!(g("not_specified_exists"), 0);
    }
    assert_eq!(g("no_reason_exists"), 0);

    // Real context loads through the relocated flavour of __sk_buff: len
    // moved from offset 4 to 0, mark narrowed from 64 to 32 bits.
    assert_eq!(
        g("ctx_len"),
        (packet.len() - 14) as u64,
        "skb->len of the test packet"
    );
    assert_eq!(g("ctx_len_mine"), g("ctx_len"));
    assert_eq!(g("ctx_mark_mine"), 0x0123_4567);
    assert_eq!(g("ctx_unreached"), 7, "the poisoned load is dead code");
}

#[test]
fn core_program_attached_to_a_cgroup_sees_real_traffic() {
    let cg = test_cgroup();
    let rx = Receiver::new();
    let loaded = common::load(CORE).unwrap();
    let prog = loaded.program("core_skb").unwrap();
    let _attachment = cgroup::attach(prog, &cg, AttachMode::Link).unwrap();
    assert_eq!(common::send_udp(&cg, rx.addr()).unwrap(), SendOutcome::Sent);
    assert!(rx.received());
    let len = global(&loaded, "ctx_len");
    assert!(len > 28, "an IPv4 UDP packet: {len}");
    assert_eq!(global(&loaded, "ctx_len_mine"), len);
}

#[test]
fn core_relocates_against_a_btf_file() {
    require_root();
    // The running kernel's BTF as a file: the same result as without --btf.
    let dir = std::env::temp_dir().join(format!("rawbpf-core-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("vmlinux.btf");
    std::fs::copy("/sys/kernel/btf/vmlinux", &file).unwrap();
    let loaded = rawbpf::ObjectSpec::parse(CORE)
        .unwrap()
        .load(&rawbpf::LoadOptions::default().target_btf(&file));
    let _ = std::fs::remove_dir_all(&dir);
    let loaded = loaded.unwrap();
    let k = vmlinux();
    let skb = k.find(kind::STRUCT, "sk_buff").unwrap();
    let prog = loaded.program("core_skb").unwrap();
    assert_eq!(prog.test_run(&udp_packet(), &[]).unwrap().retval, 1);
    assert_eq!(
        global(&loaded, "len_off"),
        u64::from(field(&k, skb, "len").unwrap().0 / 8)
    );
}

#[test]
fn a_btf_file_that_is_not_btf_is_an_error_before_any_bpf_call() {
    let dir = std::env::temp_dir().join(format!("rawbpf-core-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("not.btf");
    std::fs::write(&file, b"this is not BTF at all, not even close").unwrap();
    let err = rawbpf::ObjectSpec::parse(CORE)
        .unwrap()
        .load(&rawbpf::LoadOptions::default().target_btf(&file))
        .unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(err.to_string().contains("not little-endian BTF"), "{err}");
}

#[test]
fn run_with_a_missing_btf_file_names_it() {
    require_root();
    let dir = std::env::temp_dir().join(format!("rawbpf-core-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let object = dir.join("core.bpf.o");
    std::fs::write(&object, CORE).unwrap();
    let out = std::process::Command::new(rawbpf_bin())
        .arg("run")
        .arg(&object)
        .args(["--btf", "/nonexistent/vmlinux.btf"])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("/nonexistent/vmlinux.btf"), "{stderr}");
}
