//! What the kernel reads and writes stays inside Rust buffers: the answers
//! of BPF_PROG_TEST_RUN (the packet and context after the run), the
//! `fd_array` of BPF_PROG_LOAD, and the attr of BPF_PROG_QUERY. Programs in
//! bpf/test_run.bpf.c.

mod common;

use common::*;
use rawbpf::attach::cgroup::{attach, AttachMode};
use rawbpf::load::program::{self, LoadRequest, ProgKind, TestRunOptions};
use rawbpf::sys::{self, Cmd, ProgLoad, TestRunArgs};
use rawbpf::uapi::{attach_type, prog_type};

const OBJECT: &[u8] = include_bytes!("../bpf/test_run.bpf.o");
const XDP_PASS: u32 = 2;
/// What skb_grow adds to the packet: more than the page of room the
/// library gives the first run.
const SKB_GROWTH: usize = 5000;

/// The program `name` of test_run.bpf.o, loaded alone.
fn load_alone(name: &str) -> rawbpf::Loaded {
    require_root();
    common::load_selected(OBJECT, |n| n == name).expect("load test_run.bpf.o")
}

/// Whether the kernel is `since` or later; if not, the test is reported as
/// not applicable (`what` is the helper or program type it lacks).
fn kernel_has(since: (u32, u32), what: &str) -> bool {
    if rawbpf::selftest::kernel_version().is_some_and(|v| v < since) {
        use std::io::Write;
        let (major, minor) = since;
        let _ = writeln!(
            std::io::stderr(),
            "NOT APPLICABLE: needs {what} (Linux {major}.{minor})"
        );
        return false;
    }
    true
}

/// xdp_grow, where the kernel has bpf_xdp_store_bytes.
fn xdp_grow() -> Option<rawbpf::Loaded> {
    kernel_has((5, 18), "bpf_xdp_store_bytes").then(|| load_alone("xdp_grow"))
}

#[test]
fn an_xdp_frame_grown_at_both_ends_comes_back_whole() {
    let Some(loaded) = xdp_grow() else { return };
    let prog = loaded.program("xdp_grow").unwrap();
    let packet = udp_packet();
    let run = prog.test_run(&packet, &[]).unwrap();
    assert_eq!(run.retval, XDP_PASS);
    assert_eq!(run.data_out.len(), 4 + packet.len() + 16);
    assert_eq!(run.data_out[..4], [0xa1; 4]);
    assert_eq!(run.data_out[4..4 + packet.len()], packet[..]);
    assert_eq!(run.data_out[4 + packet.len()..], [0xb2; 16]);
    assert!(run.ctx_out.is_empty(), "no context given, none back");
}

#[test]
fn an_skb_grown_by_more_than_a_page_runs_again_into_a_buffer_its_size() {
    let loaded = load_alone("skb_grow");
    let prog = loaded.program("skb_grow").unwrap();
    let packet = udp_packet();
    // The start of struct __sk_buff (len, pkt_type, mark), all zero: the
    // kernel hands back the whole struct.
    let ctx = [0u8; 12];
    let run = prog.test_run(&packet, &ctx).unwrap();
    assert_eq!(run.retval, 0, "TC_ACT_OK");
    assert_eq!(run.data_out.len(), packet.len() + SKB_GROWTH);
    assert_eq!(run.data_out[..packet.len()], packet[..]);
    assert_eq!(run.data_out.last(), Some(&0xc3));
    let word = |off: usize| u32::from_ne_bytes(run.ctx_out[off..off + 4].try_into().unwrap());
    assert!(run.ctx_out.len() >= 52, "{} bytes", run.ctx_out.len());
    assert_eq!(word(8), 0x5eed, "__sk_buff.mark");
    // cb[0] is the run count: the first run's packet did not fit (ENOSPC),
    // the second did.
    assert_eq!(word(48), 2, "__sk_buff.cb[0]");
}

#[test]
fn a_syscall_program_writes_its_context_back_into_a_copy() {
    if !kernel_has((5, 14), "the syscall program type") {
        return;
    }
    let loaded = load_alone("syscall_double");
    let prog = loaded.program("syscall_double").unwrap();
    let ctx: Vec<u8> = [21u64, 0].iter().flat_map(|v| v.to_ne_bytes()).collect();
    let run = prog.test_run(&[], &ctx).unwrap();
    assert_eq!(run.retval, 0);
    let expected: Vec<u8> = [21u64, 42].iter().flat_map(|v| v.to_ne_bytes()).collect();
    assert_eq!(
        run.ctx_out, expected,
        "out = 2 * in, written back by the kernel"
    );
    assert_eq!(ctx[8..], [0; 8], "the caller's context is untouched");
    assert!(run.data_out.is_empty());
    // Syscall programs take no repeat: the kernel's EINVAL comes through.
    let err = prog
        .test_run_with(&[], &ctx, &TestRunOptions::new().repeat(2))
        .unwrap_err();
    assert_eq!(err.errno(), Some(libc::EINVAL), "{err}");
    assert_eq!(err.kind(), rawbpf::ErrorKind::InvalidInput, "{err}");
}

#[test]
fn the_kernel_writes_no_more_than_the_output_slice() {
    let Some(loaded) = xdp_grow() else { return };
    let prog = loaded.program("xdp_grow").unwrap();
    let packet = udp_packet();
    let mut buf = [0x55u8; 64];
    let (out, guard) = buf.split_at_mut(10);
    let mut args = TestRunArgs::default();
    args.data_in = &packet;
    args.data_out = out;
    let r = sys::prog_test_run(prog.fd(), &mut args).unwrap();
    assert!(r.no_space, "ENOSPC: the frame did not fit");
    assert_eq!(
        r.data_size_out as usize,
        packet.len() + 20,
        "the size it had"
    );
    assert_eq!(guard, [0x55; 54], "nothing past the slice");
    assert_eq!(buf[..4], [0xa1; 4], "the slice holds the frame's start");
    assert_eq!(buf[4..10], packet[..6]);
}

#[test]
fn an_empty_output_slice_is_no_buffer_not_an_unlimited_one() {
    let Some(loaded) = xdp_grow() else { return };
    let prog = loaded.program("xdp_grow").unwrap();
    let packet = udp_packet();
    let mut args = TestRunArgs::default();
    args.data_in = &packet;
    let r = sys::prog_test_run(prog.fd(), &mut args).unwrap();
    assert!(!r.no_space, "no buffer given, none too small");
    assert_eq!(r.retval, XDP_PASS);
    assert_eq!(r.data_size_out as usize, packet.len() + 20);
}

/// `r1 = <map by fd_array index>; r0 = 0; exit`, as a socket filter.
fn map_idx_program(index: u32) -> Vec<u8> {
    use rawbpf::asm::{pseudo, Insn};
    let mut insns = Insn::ld_imm64(1, pseudo::MAP_IDX, u64::from(index)).to_vec();
    insns.extend([Insn::mov64_imm(0, 0), Insn::exit()]);
    rawbpf::asm::encode(&insns)
}

fn socket_filter<'a>(insns: &'a [u8], fd_array: &'a [std::os::fd::RawFd]) -> ProgLoad<'a> {
    let mut load = ProgLoad::new(prog_type::SOCKET_FILTER, "fd_array", insns, c"GPL");
    load.fd_array = fd_array;
    load
}

fn array_map() -> std::os::fd::OwnedFd {
    sys::map_create(&sys::MapCreateAttr {
        map_type: rawbpf::uapi::MapType::ARRAY.0,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        ..Default::default()
    })
    .expect("an array map")
}

#[test]
fn an_fd_array_index_past_the_end_is_refused_before_the_syscall() {
    require_root();
    use std::os::fd::AsRawFd;
    let map = array_map();
    let fds = [map.as_raw_fd()];
    // Index 1 of a one-entry array: refused, and the kernel never asked.
    let insns = map_idx_program(1);
    sys::start_call_log();
    let err = sys::prog_load(&socket_filter(&insns, &fds), None).unwrap_err();
    assert_eq!(sys::take_call_log(), [], "no system call");
    let overrun = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<sys::FdArrayOverrun>())
        .expect("an FdArrayOverrun");
    assert_eq!((overrun.insn, overrun.index, overrun.len), (0, 1, 1));
    if !kernel_has((5, 14), "BPF_PROG_LOAD's fd_array") {
        return;
    }
    // Index 0: the kernel reads fd_array[0] and binds that very map.
    let insns = map_idx_program(0);
    sys::start_call_log();
    let prog = sys::prog_load(&socket_filter(&insns, &fds), None).expect("load");
    assert_eq!(sys::take_call_log(), [Cmd::ProgLoad]);
    let (_, map_ids) = sys::prog_info(std::os::fd::AsFd::as_fd(&prog)).unwrap();
    let map_id = sys::map_info(std::os::fd::AsFd::as_fd(&map)).unwrap().id;
    assert_eq!(map_ids, [map_id]);
}

#[test]
fn the_loader_names_the_instruction_that_overruns_fd_array() {
    require_root();
    use std::os::fd::AsRawFd;
    let map = array_map();
    let mut assembled = rawbpf::object::reloc::Assembled::default();
    let insns = map_idx_program(3);
    assembled.insns = rawbpf::asm::decode(&insns).unwrap();
    assembled.fd_array = vec![map.as_raw_fd(); 2];
    let kind = ProgKind::parse("socket").unwrap();
    let request = LoadRequest::new("overrun", "socket", &kind, &assembled, c"GPL");
    sys::start_call_log();
    let err = program::load(&request).unwrap_err();
    assert_eq!(sys::take_call_log(), [], "no system call");
    assert_eq!(err.kind(), rawbpf::ErrorKind::BadObject, "{err}");
    assert_eq!(
        err.to_string(),
        "program 'overrun': section 'socket': insn 0 uses fd_array[3], but fd_array has 2 entries"
    );
}

#[test]
fn a_cgroup_query_reads_the_revision_the_kernel_writes_at_offset_56() {
    let cg = test_cgroup();
    let egress = attach_type::CGROUP_INET_EGRESS;
    let before = sys::prog_query_full(cg.fd(), egress).unwrap();
    assert!(before.prog_ids.is_empty());
    let loaded = common::load(DROP_EGRESS).unwrap();
    let prog = loaded.program("bpf_prog1").unwrap();
    let attachment = attach(prog, &cg, AttachMode::Link).unwrap();
    let after = sys::prog_query_full(cg.fd(), egress).unwrap();
    let id = prog.info().unwrap().0.id;
    assert_eq!(after.prog_ids, [id]);
    // Cgroups count their changes since Linux 6.15 (`__cgroup_bpf_query`
    // writes query.revision), and so do stable kernels it was backported
    // to (Debian's 6.12 does); a kernel without it leaves the field 0.
    let writes = (before.revision, after.revision) != (0, 0);
    if writes || rawbpf::selftest::kernel_version().is_some_and(|v| v >= (6, 15)) {
        assert!(
            after.revision > before.revision,
            "{} then {}",
            before.revision,
            after.revision
        );
    }
    attachment.detach().unwrap();
    assert!(sys::prog_query_full(cg.fd(), egress)
        .unwrap()
        .prog_ids
        .is_empty());
}
