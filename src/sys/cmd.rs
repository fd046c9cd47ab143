//! The bpf() commands that create, fill, load, attach and pin kernel objects.

use std::ffi::CStr;
use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use super::{
    bpf, fd, len32, owned_fd, ptr, ptr_mut, AttachFlags, Cmd, ObjGetFlags, ProgFlags, TestRunFlags,
};

#[repr(C)]
#[derive(Default)]
struct BtfLoadAttr {
    btf: u64,
    btf_log_buf: u64,
    btf_size: u32,
    btf_log_size: u32,
    btf_log_level: u32,
    /// Sent as an explicit zero (a kernel that ends the command at
    /// `btf_log_level`, 5.10, refuses non-zero bytes after it, and implicit
    /// padding may hold garbage); since 6.4 the kernel writes the full size
    /// of its log here (`btf_log_true_size`).
    btf_log_true_size: u32,
}
layout!(BtfLoadAttr, size 32, btf @ 0, btf_log_buf @ 8, btf_size @ 16, btf_log_size @ 20,
    btf_log_level @ 24, btf_log_true_size @ 28);

/// BPF_BTF_LOAD: hands the kernel a BTF blob; `log`, when given, receives its
/// explanation of a rejection.
pub fn btf_load(btf: &[u8], log: Option<&mut [u8]>) -> io::Result<OwnedFd> {
    let mut attr = BtfLoadAttr {
        btf: ptr(btf),
        btf_size: len32(btf.len())?,
        ..Default::default()
    };
    if let Some(log) = log {
        attr.btf_log_size = len32(log.len())?;
        attr.btf_log_buf = ptr_mut(log);
        attr.btf_log_level = 1;
    }
    owned_fd(bpf(Cmd::BtfLoad, &mut attr)?)
}

// ---------------------------------------------------------------- maps

/// The fields of BPF_MAP_CREATE, up to `map_extra`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MapCreateAttr {
    /// `map_type` of BPF_MAP_CREATE.
    pub map_type: u32,
    /// `key_size` of BPF_MAP_CREATE.
    pub key_size: u32,
    /// `value_size` of BPF_MAP_CREATE.
    pub value_size: u32,
    /// `max_entries` of BPF_MAP_CREATE.
    pub max_entries: u32,
    /// `map_flags` of BPF_MAP_CREATE.
    pub map_flags: u32,
    /// `inner_map_fd` of BPF_MAP_CREATE.
    pub inner_map_fd: u32,
    /// `numa_node` of BPF_MAP_CREATE.
    pub numa_node: u32,
    /// `map_name` of BPF_MAP_CREATE.
    pub map_name: [u8; 16],
    /// `map_ifindex` of BPF_MAP_CREATE.
    pub map_ifindex: u32,
    /// `btf_fd` of BPF_MAP_CREATE.
    pub btf_fd: u32,
    /// `btf_key_type_id` of BPF_MAP_CREATE.
    pub btf_key_type_id: u32,
    /// `btf_value_type_id` of BPF_MAP_CREATE.
    pub btf_value_type_id: u32,
    /// Only for struct_ops maps, which rawbpf does not create; always 0.
    pub btf_vmlinux_value_type_id: u32,
    /// Bloom filters: the number of hash functions (Linux 5.16).
    pub map_extra: u64,
}
layout!(MapCreateAttr, size 72, map_type @ 0, key_size @ 4, value_size @ 8, max_entries @ 12,
    map_flags @ 16, inner_map_fd @ 20, numa_node @ 24, map_name @ 28, map_ifindex @ 44,
    btf_fd @ 48, btf_key_type_id @ 52, btf_value_type_id @ 56, btf_vmlinux_value_type_id @ 60,
    map_extra @ 64);

/// BPF_MAP_CREATE.
pub fn map_create(attr: &MapCreateAttr) -> io::Result<OwnedFd> {
    let mut attr = *attr;
    owned_fd(bpf(Cmd::MapCreate, &mut attr)?)
}

#[repr(C)]
struct MapFdAttr {
    map_fd: u32,
}

/// BPF_MAP_FREEZE: user space can no longer write the map.
pub fn map_freeze(map: BorrowedFd<'_>) -> io::Result<()> {
    bpf(Cmd::MapFreeze, &mut MapFdAttr { map_fd: fd(map) }).map(drop)
}

// ---------------------------------------------------------------- programs

/// The fields of BPF_PROG_LOAD, up to `attach_btf_id`.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    prog_btf_fd: u32,
    func_info_rec_size: u32,
    func_info: u64,
    func_info_cnt: u32,
    line_info_rec_size: u32,
    line_info: u64,
    line_info_cnt: u32,
    attach_btf_id: u32,
    attach_btf_obj_fd: u32,
    core_relo_cnt: u32,
    fd_array: u64,
}
layout!(ProgLoadAttr, size 128, prog_type @ 0, insn_cnt @ 4, insns @ 8, license @ 16,
    log_level @ 24, log_size @ 28, log_buf @ 32, kern_version @ 40, prog_flags @ 44,
    prog_name @ 48, prog_ifindex @ 64, expected_attach_type @ 68, prog_btf_fd @ 72,
    func_info_rec_size @ 76, func_info @ 80, func_info_cnt @ 88, line_info_rec_size @ 92,
    line_info @ 96, line_info_cnt @ 104, attach_btf_id @ 108, attach_btf_obj_fd @ 112,
    core_relo_cnt @ 116, fd_array @ 120);

/// What BPF_PROG_LOAD needs. `insns` is the encoded instruction stream;
/// `func_info` and `line_info` are packed kernel records (8 and 16 bytes each).
/// Made with [`ProgLoad::new`], then the fields a program needs are set.
#[non_exhaustive]
pub struct ProgLoad<'a> {
    /// `prog_type`.
    pub prog_type: u32,
    /// `expected_attach_type`.
    pub expected_attach_type: u32,
    /// The program's name (copied with [`object_name`]).
    pub name: &'a str,
    /// The encoded instructions.
    pub insns: &'a [u8],
    /// The license string.
    pub license: &'a CStr,
    /// `prog_flags`.
    pub flags: ProgFlags,
    /// The BTF that `func_info` and `line_info` refer to (`prog_btf_fd`).
    pub btf: Option<BorrowedFd<'a>>,
    /// Packed `struct bpf_func_info` records.
    pub func_info: &'a [u8],
    /// Packed `struct bpf_line_info` records.
    pub line_info: &'a [u8],
    /// `attach_btf_id`: the kernel BTF id of the attach target, or 0.
    pub attach_btf_id: u32,
    /// BTF object fds that kfunc calls name by index in `off` (module
    /// kfuncs); empty when there are none.
    pub fd_array: &'a [RawFd],
}

impl<'a> ProgLoad<'a> {
    /// A program of `prog_type` named `name`: no attach type, flags, BTF,
    /// attach target or `fd_array`.
    pub fn new(prog_type: u32, name: &'a str, insns: &'a [u8], license: &'a CStr) -> ProgLoad<'a> {
        ProgLoad {
            prog_type,
            expected_attach_type: 0,
            name,
            insns,
            license,
            flags: ProgFlags::empty(),
            btf: None,
            func_info: &[],
            line_info: &[],
            attach_btf_id: 0,
            fd_array: &[],
        }
    }
}

/// Kernel record sizes of `struct bpf_func_info` and `struct bpf_line_info`.
pub const FUNC_INFO_SIZE: usize = 8;
/// Size of `struct bpf_line_info`.
pub const LINE_INFO_SIZE: usize = 16;

/// Copies an object name into the kernel's 16-byte, NUL-terminated field,
/// keeping only the characters the kernel accepts (`bpf_obj_name_cpy`).
pub fn object_name(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    let valid = name
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.');
    for (slot, b) in out.iter_mut().take(15).zip(valid) {
        *slot = b;
    }
    out
}

/// An instruction that names an `fd_array` entry past the array's end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FdArrayOverrun {
    /// The instruction's index (in 8-byte slots).
    pub insn: usize,
    /// The `fd_array` index it uses.
    pub index: u32,
    /// How many entries `fd_array` has.
    pub len: usize,
}

impl std::fmt::Display for FdArrayOverrun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "insn {} uses fd_array[{}], but fd_array has {} entries",
            self.insn, self.index, self.len
        )
    }
}

impl std::error::Error for FdArrayOverrun {}

/// The first instruction of `insns` (encoded) that makes the verifier read
/// `fd_array[index]` with `index >= fd_array_len`: a kfunc call whose `off`
/// names a module's BTF (`__find_kfunc_desc_btf` in kernel/bpf/verifier.c)
/// and an ld_imm64 of `BPF_PSEUDO_MAP_IDX` or `BPF_PSEUDO_MAP_IDX_VALUE`
/// (`resolve_pseudo_ldimm64`). Every slot is looked at, second halves of
/// ld_imm64 too: a false alarm there is a program the kernel refuses anyway.
pub fn fd_array_overrun(insns: &[u8], fd_array_len: usize) -> Option<FdArrayOverrun> {
    use rawbpf_asm::{pseudo, Insn, INSN_SIZE};
    insns
        .chunks_exact(INSN_SIZE)
        .enumerate()
        .find_map(|(i, slot)| {
            let mut bytes = [0u8; INSN_SIZE];
            bytes.copy_from_slice(slot);
            let insn = Insn::from_bytes(bytes);
            let index = if insn.is_kfunc_call() && insn.off > 0 {
                insn.off as u32
            } else if insn.is_ld_imm64()
                && matches!(insn.src, pseudo::MAP_IDX | pseudo::MAP_IDX_VALUE)
            {
                insn.imm as u32
            } else {
                return None;
            };
            (index as usize >= fd_array_len).then_some(FdArrayOverrun {
                insn: i,
                index,
                len: fd_array_len,
            })
        })
}

/// BPF_PROG_LOAD; `log`, when given, receives the verifier's log (level 1).
/// A program whose instructions index `fd_array` past its end is refused
/// first (InvalidInput, the error an [`FdArrayOverrun`]), as is one whose
/// instruction, func_info or line_info bytes are not whole records
/// (EINVAL).
pub fn prog_load(p: &ProgLoad<'_>, log: Option<&mut [u8]>) -> io::Result<OwnedFd> {
    if let Some(overrun) = fd_array_overrun(p.insns, p.fd_array.len()) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, overrun));
    }
    // SAFETY: every fd_array index the instructions use was just checked.
    unsafe { prog_load_unchecked(p, log) }
}

/// BPF_PROG_LOAD without the `fd_array` check of [`prog_load`].
///
/// # Safety
/// Every `fd_array` index the instructions use must be less than
/// `p.fd_array.len()`: the `off` of each kfunc call with a positive `off`,
/// and the `imm` of each ld_imm64 of `BPF_PSEUDO_MAP_IDX` or
/// `BPF_PSEUDO_MAP_IDX_VALUE` ([`fd_array_overrun`] finds the first that is
/// not). The kernel does not know the array's length and reads
/// `fd_array[index]` from this process's memory, past the slice if need be.
pub unsafe fn prog_load_unchecked(p: &ProgLoad<'_>, log: Option<&mut [u8]>) -> io::Result<OwnedFd> {
    let whole = |bytes: &[u8], record: usize| {
        if bytes.len().is_multiple_of(record) {
            len32(bytes.len() / record)
        } else {
            Err(io::Error::from_raw_os_error(libc::EINVAL))
        }
    };
    let mut attr = ProgLoadAttr {
        prog_type: p.prog_type,
        insn_cnt: whole(p.insns, rawbpf_asm::INSN_SIZE)?,
        insns: ptr(p.insns),
        license: p.license.as_ptr() as usize as u64,
        prog_flags: p.flags.bits(),
        prog_name: object_name(p.name),
        expected_attach_type: p.expected_attach_type,
        attach_btf_id: p.attach_btf_id,
        ..Default::default()
    };
    if let Some(btf) = p.btf {
        attr.prog_btf_fd = fd(btf);
        if !p.func_info.is_empty() {
            attr.func_info_rec_size = FUNC_INFO_SIZE as u32;
            attr.func_info = ptr(p.func_info);
            attr.func_info_cnt = whole(p.func_info, FUNC_INFO_SIZE)?;
        }
        if !p.line_info.is_empty() {
            attr.line_info_rec_size = LINE_INFO_SIZE as u32;
            attr.line_info = ptr(p.line_info);
            attr.line_info_cnt = whole(p.line_info, LINE_INFO_SIZE)?;
        }
    }
    if !p.fd_array.is_empty() {
        attr.fd_array = p.fd_array.as_ptr() as usize as u64;
    }
    if let Some(log) = log {
        attr.log_level = 1;
        attr.log_size = len32(log.len())?;
        attr.log_buf = ptr_mut(log);
    }
    owned_fd(bpf(Cmd::ProgLoad, &mut attr)?)
}

/// BPF_PROG_TEST_RUN's fields, to `batch_size` (Linux 5.18).
#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    /// Explicit zero (see `ProgQueryAttr::_pad`).
    _pad: u32,
}
layout!(TestRunAttr, size 80, prog_fd @ 0, retval @ 4, data_size_in @ 8, data_size_out @ 12,
    data_in @ 16, data_out @ 24, repeat @ 32, duration @ 36, ctx_size_in @ 40,
    ctx_size_out @ 44, ctx_in @ 48, ctx_out @ 56, flags @ 64, cpu @ 68, batch_size @ 72);

/// The buffers and settings of one BPF_PROG_TEST_RUN. The kernel reads
/// `data_in` and `ctx_in` and writes only into the `&mut` slices, at most
/// their length each; an empty slice is passed as "none" (a null pointer,
/// size 0). Made with `TestRunArgs::default()`, then the fields set.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct TestRunArgs<'a> {
    /// The packet (`data_in`).
    pub data_in: &'a [u8],
    /// Where the packet goes after the run (`data_out`). Its length is
    /// `data_size_out`, the most the kernel copies (`bpf_test_finish` in
    /// net/bpf/test_run.c); a size of 0 would mean "no limit", which is why
    /// an empty slice is passed as no buffer at all.
    pub data_out: &'a mut [u8],
    /// The context (`ctx_in`). Mutable: a syscall program's run writes the
    /// context back into it (`bpf_prog_test_run_syscall`).
    pub ctx_in: &'a mut [u8],
    /// Where the context goes after the run (`ctx_out`, `bpf_ctx_finish`).
    pub ctx_out: &'a mut [u8],
    /// How often to run the program (0 = once).
    pub repeat: u32,
    /// `flags`.
    pub flags: TestRunFlags,
    /// The CPU to run on, with [`TestRunFlags::ON_CPU`].
    pub cpu: u32,
}

/// What BPF_PROG_TEST_RUN reports back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestRunResult {
    /// The program's return value.
    pub retval: u32,
    /// Average run time in ns over `repeat` runs.
    pub duration_ns: u32,
    /// The size of the packet after the run, whether or not it fit.
    pub data_size_out: u32,
    /// The size of the context after the run, whether or not it fit
    /// (0 when no `ctx_out` was given).
    pub ctx_size_out: u32,
    /// The kernel answered ENOSPC: `data_out` or `ctx_out` was smaller
    /// than what it had, so it copied what fit; the sizes above say how
    /// much it had. Not an error here, so that the caller learns the sizes.
    pub no_space: bool,
}

/// Whether the kernel reads a context of this program type as plain data
/// in a test run. Only STRUCT_OPS does not: `bpf_struct_ops_test_run`
/// (net/bpf/bpf_dummy_struct_ops.c) reads a user address from the context
/// and writes a state struct there. An allowlist, so that a type added
/// later is refused until someone reads its test run.
pub(super) fn ctx_is_plain_data(prog_type: u32) -> bool {
    use crate::uapi::prog_type as pt;
    matches!(
        prog_type,
        pt::SOCKET_FILTER
            | pt::SCHED_CLS
            | pt::SCHED_ACT
            | pt::XDP
            | pt::CGROUP_SKB
            | pt::LWT_IN
            | pt::LWT_OUT
            | pt::LWT_XMIT
            | pt::LWT_SEG6LOCAL
            | pt::RAW_TRACEPOINT
            | pt::FLOW_DISSECTOR
            | pt::TRACING
            | pt::SK_LOOKUP
            | pt::SYSCALL
            | pt::NETFILTER
    )
}

/// BPF_PROG_TEST_RUN: runs `prog` on the buffers of `args`. With a context,
/// the program's type is asked first (OBJ_GET_INFO_BY_FD), and a type
/// whose test run reads pointers from the context is refused
/// (InvalidInput).
pub fn prog_test_run(
    prog: BorrowedFd<'_>,
    args: &mut TestRunArgs<'_>,
) -> io::Result<TestRunResult> {
    if !args.ctx_in.is_empty() {
        let prog_type = super::prog_type(prog)?;
        if !ctx_is_plain_data(prog_type) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "BPF_PROG_TEST_RUN with a context: the test run of {} programs reads pointers from it",
                    crate::uapi::ProgType(prog_type)
                ),
            ));
        }
    }
    // SAFETY: no context, or one the program's type reads as plain data.
    unsafe { prog_test_run_unchecked(prog, args) }
}

/// BPF_PROG_TEST_RUN without the program-type check of [`prog_test_run`].
///
/// # Safety
/// `prog` must not be a program whose test run reads addresses from the
/// context: with a non-empty `ctx_in`, a STRUCT_OPS program's test run
/// (`bpf_struct_ops_test_run`) writes to the address its first eight bytes
/// hold. Every other buffer is bounded by its slice.
pub unsafe fn prog_test_run_unchecked(
    prog: BorrowedFd<'_>,
    args: &mut TestRunArgs<'_>,
) -> io::Result<TestRunResult> {
    let in_ptr = |s: &[u8]| if s.is_empty() { 0 } else { ptr(s) };
    let out_ptr = |s: &mut [u8]| if s.is_empty() { 0 } else { ptr_mut(s) };
    let mut attr = TestRunAttr {
        prog_fd: fd(prog),
        data_size_in: len32(args.data_in.len())?,
        data_in: in_ptr(args.data_in),
        data_size_out: len32(args.data_out.len())?,
        data_out: out_ptr(args.data_out),
        ctx_size_in: len32(args.ctx_in.len())?,
        ctx_in: out_ptr(args.ctx_in),
        ctx_size_out: len32(args.ctx_out.len())?,
        ctx_out: out_ptr(args.ctx_out),
        repeat: args.repeat,
        flags: args.flags.bits(),
        cpu: args.cpu,
        ..Default::default()
    };
    let no_space = match bpf(Cmd::ProgTestRun, &mut attr) {
        Ok(_) => false,
        Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => true,
        Err(e) => return Err(e),
    };
    Ok(TestRunResult {
        retval: attr.retval,
        duration_ns: attr.duration,
        data_size_out: attr.data_size_out,
        ctx_size_out: if args.ctx_out.is_empty() {
            0
        } else {
            attr.ctx_size_out
        },
        no_space,
    })
}

// ---------------------------------------------------------------- attach

#[repr(C)]
#[derive(Default)]
struct LinkCreateAttr {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
}
layout!(LinkCreateAttr, size 16, prog_fd @ 0, target_fd @ 4, attach_type @ 8, flags @ 12);

/// What BPF_LINK_CREATE attaches to. The kernel reads `target_fd` and
/// `target_ifindex` from the same four bytes; the attach type says which.
#[derive(Clone, Copy, Debug)]
pub enum LinkTarget<'a> {
    /// A cgroup directory (cgroup programs) or a network namespace
    /// (sk_lookup, flow_dissector), by fd.
    Fd(BorrowedFd<'a>),
    /// A network device of the calling thread's namespace (XDP, TCX).
    Ifindex(u32),
    /// No target: a tracing program's kernel function is the attach_btf_id
    /// it was loaded with.
    LoadedWith,
}

/// BPF_LINK_CREATE: attaches `prog` to `target`; the attachment lives as
/// long as the returned link fd or a pin of it.
pub fn link_create(
    prog: BorrowedFd<'_>,
    target: LinkTarget<'_>,
    attach_type: u32,
) -> io::Result<OwnedFd> {
    let mut attr = LinkCreateAttr {
        prog_fd: fd(prog),
        target_fd: match target {
            LinkTarget::Fd(target) => fd(target),
            LinkTarget::Ifindex(ifindex) => ifindex,
            LinkTarget::LoadedWith => 0,
        },
        attach_type,
        flags: 0,
    };
    owned_fd(bpf(Cmd::LinkCreate, &mut attr)?)
}

#[repr(C)]
struct LinkDetachAttr {
    link_fd: u32,
}

/// BPF_LINK_DETACH: detaches a link even while pins or fds still hold it.
pub fn link_detach(link: BorrowedFd<'_>) -> io::Result<()> {
    bpf(Cmd::LinkDetach, &mut LinkDetachAttr { link_fd: fd(link) }).map(drop)
}

#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}
layout!(ProgAttachAttr, size 16, target_fd @ 0, attach_bpf_fd @ 4, attach_type @ 8, attach_flags @ 12);

/// BPF_PROG_ATTACH (the pre-link interface): the attachment outlives every fd
/// until BPF_PROG_DETACH.
pub fn prog_attach(
    prog: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    attach_type: u32,
    flags: AttachFlags,
) -> io::Result<()> {
    let mut attr = ProgAttachAttr {
        target_fd: fd(target),
        attach_bpf_fd: fd(prog),
        attach_type,
        attach_flags: flags.bits(),
    };
    bpf(Cmd::ProgAttach, &mut attr).map(drop)
}

/// BPF_PROG_DETACH of one program from `target`.
pub fn prog_detach(
    prog: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    attach_type: u32,
) -> io::Result<()> {
    let mut attr = ProgAttachAttr {
        target_fd: fd(target),
        attach_bpf_fd: fd(prog),
        attach_type,
        attach_flags: 0,
    };
    bpf(Cmd::ProgDetach, &mut attr).map(drop)
}

/// BPF_PROG_QUERY's fields, to `revision`: the kernel writes `attach_flags`,
/// `prog_cnt` and `revision` back (`__cgroup_bpf_query`, `bpf_mprog_query`),
/// and the ids into `prog_ids`, at most `prog_cnt` of them.
#[repr(C)]
#[derive(Default)]
struct ProgQueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    /// Explicit zero: implicit padding may hold garbage, and a kernel
    /// refuses (EINVAL) non-zero bytes past the fields it knows.
    _pad: u32,
    prog_attach_flags: u64,
    link_ids: u64,
    link_attach_flags: u64,
    revision: u64,
}
layout!(ProgQueryAttr, size 64, target_fd @ 0, attach_type @ 4, query_flags @ 8,
    attach_flags @ 12, prog_ids @ 16, prog_cnt @ 24, prog_attach_flags @ 32,
    link_ids @ 40, link_attach_flags @ 48, revision @ 56);

/// What BPF_PROG_QUERY reports for one attach point.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProgQuery {
    /// The attach flags in force (cgroups; 0 for tcx and netkit).
    pub attach_flags: AttachFlags,
    /// The ids of the programs attached, in run order.
    pub prog_ids: Vec<u32>,
    /// A counter of the attach point's changes (Linux 6.15 for cgroups,
    /// 6.6 for tcx); 0 from a kernel that has none.
    pub revision: u64,
}

/// How often a query is repeated when programs were attached between the
/// kernel's count and its copy (ENOSPC).
const QUERY_TRIES: usize = 4;

/// BPF_PROG_QUERY: the programs attached to `target` for `attach_type`.
/// The id buffer starts at 64 (the kernel's limit per cgroup attach type,
/// `BPF_CGROUP_MAX_PROGS`) and grows to the count the kernel reports.
pub fn prog_query_full(target: BorrowedFd<'_>, attach_type: u32) -> io::Result<ProgQuery> {
    let mut ids = vec![0u32; 64];
    for _ in 0..QUERY_TRIES {
        let mut attr = ProgQueryAttr {
            target_fd: fd(target),
            attach_type,
            prog_ids: ptr_mut(&mut ids),
            prog_cnt: len32(ids.len())?,
            ..Default::default()
        };
        match bpf(Cmd::ProgQuery, &mut attr) {
            Ok(_) => {
                // The kernel wrote at most `ids.len()` ids; it reports how many.
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ProgQuery {
                    attach_flags: AttachFlags::from_bits_retain(attr.attach_flags),
                    prog_ids: ids,
                    revision: attr.revision,
                });
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                ids = vec![0u32; (attr.prog_cnt as usize).max(ids.len() + 1)];
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ENOSPC))
}

/// BPF_PROG_QUERY: the ids of the programs attached to `target` for
/// `attach_type`, and the attach flags in force.
pub fn prog_query(target: BorrowedFd<'_>, attach_type: u32) -> io::Result<(AttachFlags, Vec<u32>)> {
    prog_query_full(target, attach_type).map(|q| (q.attach_flags, q.prog_ids))
}

// ---------------------------------------------------------------- pins

#[repr(C)]
#[derive(Default)]
struct ObjAttr {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
    /// With BPF_F_PATH_FD (Linux 6.5), the directory `pathname` is
    /// relative to; 0 otherwise, as kernels without the field require.
    path_fd: i32,
    /// Sent as an explicit zero: the kernel refuses non-zero bytes after
    /// the fields it knows.
    pad: u32,
}
layout!(ObjAttr, size 24, pathname @ 0, bpf_fd @ 8, file_flags @ 12, path_fd @ 16);

/// BPF_OBJ_PIN: gives the object a name in a bpffs mount.
pub fn obj_pin(obj: BorrowedFd<'_>, path: &CStr) -> io::Result<()> {
    let mut attr = ObjAttr {
        pathname: path.as_ptr() as usize as u64,
        bpf_fd: fd(obj),
        ..Default::default()
    };
    bpf(Cmd::ObjPin, &mut attr).map(drop)
}

/// BPF_OBJ_PIN as `name` inside the directory open as `dir`
/// (BPF_F_PATH_FD, Linux 6.5): the kernel looks up one name where a whole
/// path costs a lookup per component (for /sys/fs/bpf/..., sysfs dentries
/// it revalidates each time), a third of a pin. Older kernels refuse the
/// flag with EINVAL.
pub fn obj_pin_in(obj: BorrowedFd<'_>, dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    let mut attr = ObjAttr {
        pathname: name.as_ptr() as usize as u64,
        bpf_fd: fd(obj),
        file_flags: ObjGetFlags::PATH_FD.bits(),
        path_fd: dir.as_raw_fd(),
        pad: 0,
    };
    bpf(Cmd::ObjPin, &mut attr).map(drop)
}

/// BPF_OBJ_GET: opens a pinned object.
pub fn obj_get(path: &CStr, flags: ObjGetFlags) -> io::Result<OwnedFd> {
    let mut attr = ObjAttr {
        pathname: path.as_ptr() as usize as u64,
        file_flags: flags.bits(),
        ..Default::default()
    };
    owned_fd(bpf(Cmd::ObjGet, &mut attr)?)
}
