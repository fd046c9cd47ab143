//! The system-call layer: the only module with `unsafe` in it.
//!
//! The kernel's single entry point is `bpf(cmd, attr, size)`, where `attr` is a
//! `union bpf_attr` whose meaning depends on `cmd` (include/uapi/linux/bpf.h).
//! Each command gets its own `#[repr(C)]` struct that stops at the last field we
//! use: the kernel requires every byte past the fields it knows to be zero
//! (`bpf_check_uarg_tail_zero` in kernel/bpf/syscall.c), so sending only what we
//! set keeps older kernels happy. Each wrapper only fills fields and calls; policy
//! (retry with a log, EAGAIN) lives one level up, in exactly one place each.
//!
//! Every file descriptor that comes back is an [`OwnedFd`], moved above fd 2
//! first: several attr fields read fd 0 as "none", and a tool started from an
//! initramfs may have stdio closed, so a kernel object must never sit on 0, 1 or 2.

use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use bitflags::bitflags;

/// The bpf() commands rawbpf uses (`enum bpf_cmd`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Cmd {
    MapCreate = 0,
    MapLookupElem = 1,
    MapUpdateElem = 2,
    MapDeleteElem = 3,
    MapGetNextKey = 4,
    ProgLoad = 5,
    ObjPin = 6,
    ObjGet = 7,
    ProgAttach = 8,
    ProgDetach = 9,
    ProgTestRun = 10,
    ProgGetFdById = 13,
    MapGetFdById = 14,
    ObjGetInfoByFd = 15,
    ProgQuery = 16,
    BtfLoad = 18,
    BtfGetFdById = 19,
    MapFreeze = 22,
    LinkCreate = 28,
    LinkGetFdById = 30,
    LinkDetach = 34,
}

impl Cmd {
    /// The uapi name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Cmd::MapCreate => "BPF_MAP_CREATE",
            Cmd::MapLookupElem => "BPF_MAP_LOOKUP_ELEM",
            Cmd::MapUpdateElem => "BPF_MAP_UPDATE_ELEM",
            Cmd::MapDeleteElem => "BPF_MAP_DELETE_ELEM",
            Cmd::MapGetNextKey => "BPF_MAP_GET_NEXT_KEY",
            Cmd::ProgLoad => "BPF_PROG_LOAD",
            Cmd::ObjPin => "BPF_OBJ_PIN",
            Cmd::ObjGet => "BPF_OBJ_GET",
            Cmd::ProgAttach => "BPF_PROG_ATTACH",
            Cmd::ProgDetach => "BPF_PROG_DETACH",
            Cmd::ProgTestRun => "BPF_PROG_TEST_RUN",
            Cmd::ProgGetFdById => "BPF_PROG_GET_FD_BY_ID",
            Cmd::MapGetFdById => "BPF_MAP_GET_FD_BY_ID",
            Cmd::ObjGetInfoByFd => "BPF_OBJ_GET_INFO_BY_FD",
            Cmd::ProgQuery => "BPF_PROG_QUERY",
            Cmd::BtfLoad => "BPF_BTF_LOAD",
            Cmd::BtfGetFdById => "BPF_BTF_GET_FD_BY_ID",
            Cmd::MapFreeze => "BPF_MAP_FREEZE",
            Cmd::LinkCreate => "BPF_LINK_CREATE",
            Cmd::LinkGetFdById => "BPF_LINK_GET_FD_BY_ID",
            Cmd::LinkDetach => "BPF_LINK_DETACH",
        }
    }
}

thread_local! {
    static CALL_LOG: RefCell<Option<Vec<Cmd>>> = const { RefCell::new(None) };
}

/// Starts recording, on this thread, every bpf() command issued.
pub fn start_call_log() {
    CALL_LOG.with(|log| *log.borrow_mut() = Some(Vec::new()));
}

/// Stops recording and returns the commands issued on this thread since
/// [`start_call_log`].
pub fn take_call_log() -> Vec<Cmd> {
    CALL_LOG.with(|log| log.borrow_mut().take().unwrap_or_default())
}

/// Issues `bpf(cmd, attr, sizeof(attr))`.
fn bpf<T>(cmd: Cmd, attr: &mut T) -> io::Result<i64> {
    CALL_LOG.with(|log| {
        if let Some(log) = log.borrow_mut().as_mut() {
            log.push(cmd);
        }
    });
    // SAFETY: `attr` is a live, initialised #[repr(C)] struct of exactly the
    // size we pass; every pointer inside it was set by a wrapper below from a
    // slice that outlives this call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as u32 as libc::c_long,
            attr as *mut T as *mut libc::c_void,
            size_of::<T>() as libc::c_long,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as i64)
    }
}

/// Takes ownership of a new fd, moving it above stdio first (see module doc).
fn owned_fd(raw: i64) -> io::Result<OwnedFd> {
    let raw = raw as RawFd;
    // SAFETY: the kernel just handed us this fd; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    if raw > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC only reads `fd`; on success the result is a new fd we own.
    let high = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if high < 0 {
        return Err(io::Error::last_os_error());
    }
    // `fd` (0, 1 or 2) is closed when it drops here.
    // SAFETY: `high` is a fresh fd from fcntl.
    Ok(unsafe { OwnedFd::from_raw_fd(high) })
}

fn ptr<T>(slice: &[T]) -> u64 {
    slice.as_ptr() as usize as u64
}

fn ptr_mut<T>(slice: &mut [T]) -> u64 {
    slice.as_mut_ptr() as usize as u64
}

fn fd(fd: BorrowedFd<'_>) -> u32 {
    fd.as_raw_fd() as u32
}

/// Asserts at compile time that a struct matches the uapi layout.
macro_rules! layout {
    ($ty:ty, size $size:expr, $($field:ident @ $off:expr),* $(,)?) => {
        const _: () = {
            assert!(size_of::<$ty>() == $size);
            $(assert!(offset_of!($ty, $field) == $off);)*
        };
    };
}

bitflags! {
    /// `map_flags` of BPF_MAP_CREATE.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct MapFlags: u32 {
        const NO_PREALLOC = 1 << 0;
        const RDONLY = 1 << 3;
        const WRONLY = 1 << 4;
        /// Programs may only read the map (a `.rodata` section).
        const RDONLY_PROG = 1 << 7;
        const WRONLY_PROG = 1 << 8;
        const MMAPABLE = 1 << 10;
        const _ = !0;
    }
}

bitflags! {
    /// `prog_flags` of BPF_PROG_LOAD.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct ProgFlags: u32 {
        const STRICT_ALIGNMENT = 1 << 0;
        const SLEEPABLE = 1 << 4;
        const XDP_HAS_FRAGS = 1 << 5;
        const _ = !0;
    }
}

bitflags! {
    /// `attach_flags` of BPF_PROG_ATTACH for cgroups.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct AttachFlags: u32 {
        const ALLOW_OVERRIDE = 1 << 0;
        const ALLOW_MULTI = 1 << 1;
        const REPLACE = 1 << 2;
        const _ = !0;
    }
}

bitflags! {
    /// `file_flags` of BPF_OBJ_GET.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct ObjGetFlags: u32 {
        const RDONLY = 1 << 3;
        const WRONLY = 1 << 4;
        const _ = !0;
    }
}

/// BPF_MAP_UPDATE_ELEM flags.
pub const BPF_ANY: u64 = 0;

// ---------------------------------------------------------------- BTF

#[repr(C)]
#[derive(Default)]
struct BtfLoadAttr {
    btf: u64,
    btf_log_buf: u64,
    btf_size: u32,
    btf_log_size: u32,
    btf_log_level: u32,
}
layout!(BtfLoadAttr, size 32, btf @ 0, btf_log_buf @ 8, btf_size @ 16, btf_log_size @ 20, btf_log_level @ 24);

/// BPF_BTF_LOAD: hands the kernel a BTF blob; `log`, when given, receives its
/// explanation of a rejection.
pub fn btf_load(btf: &[u8], log: Option<&mut [u8]>) -> io::Result<OwnedFd> {
    let mut attr = BtfLoadAttr {
        btf: ptr(btf),
        btf_size: btf.len() as u32,
        ..Default::default()
    };
    if let Some(log) = log {
        attr.btf_log_buf = ptr_mut(log);
        attr.btf_log_size = log.len() as u32;
        attr.btf_log_level = 1;
    }
    owned_fd(bpf(Cmd::BtfLoad, &mut attr)?)
}

// ---------------------------------------------------------------- maps

/// The fields of BPF_MAP_CREATE, up to `btf_value_type_id`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MapCreateAttr {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub inner_map_fd: u32,
    pub numa_node: u32,
    pub map_name: [u8; 16],
    pub map_ifindex: u32,
    pub btf_fd: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
}
layout!(MapCreateAttr, size 60, map_type @ 0, key_size @ 4, value_size @ 8, max_entries @ 12,
    map_flags @ 16, inner_map_fd @ 20, numa_node @ 24, map_name @ 28, map_ifindex @ 44,
    btf_fd @ 48, btf_key_type_id @ 52, btf_value_type_id @ 56);

/// BPF_MAP_CREATE.
pub fn map_create(attr: &MapCreateAttr) -> io::Result<OwnedFd> {
    let mut attr = *attr;
    owned_fd(bpf(Cmd::MapCreate, &mut attr)?)
}

#[repr(C)]
#[derive(Default)]
struct MapElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}
layout!(MapElemAttr, size 32, map_fd @ 0, key @ 8, value @ 16, flags @ 24);

fn map_elem(cmd: Cmd, map: BorrowedFd<'_>, key: u64, value: u64, flags: u64) -> io::Result<()> {
    let mut attr = MapElemAttr {
        map_fd: fd(map),
        key,
        value,
        flags,
        ..Default::default()
    };
    bpf(cmd, &mut attr).map(drop)
}

/// BPF_MAP_UPDATE_ELEM. The caller makes the slices the map's key and value sizes.
pub fn map_update_elem(
    map: BorrowedFd<'_>,
    key: &[u8],
    value: &[u8],
    flags: u64,
) -> io::Result<()> {
    map_elem(Cmd::MapUpdateElem, map, ptr(key), ptr(value), flags)
}

/// BPF_MAP_LOOKUP_ELEM into `value`.
pub fn map_lookup_elem(map: BorrowedFd<'_>, key: &[u8], value: &mut [u8]) -> io::Result<()> {
    map_elem(Cmd::MapLookupElem, map, ptr(key), ptr_mut(value), 0)
}

/// BPF_MAP_DELETE_ELEM.
pub fn map_delete_elem(map: BorrowedFd<'_>, key: &[u8]) -> io::Result<()> {
    map_elem(Cmd::MapDeleteElem, map, ptr(key), 0, 0)
}

/// BPF_MAP_GET_NEXT_KEY: `key` None asks for the first key.
pub fn map_get_next_key(
    map: BorrowedFd<'_>,
    key: Option<&[u8]>,
    next: &mut [u8],
) -> io::Result<()> {
    map_elem(
        Cmd::MapGetNextKey,
        map,
        key.map_or(0, ptr),
        ptr_mut(next),
        0,
    )
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
}
layout!(ProgLoadAttr, size 112, prog_type @ 0, insn_cnt @ 4, insns @ 8, license @ 16,
    log_level @ 24, log_size @ 28, log_buf @ 32, kern_version @ 40, prog_flags @ 44,
    prog_name @ 48, prog_ifindex @ 64, expected_attach_type @ 68, prog_btf_fd @ 72,
    func_info_rec_size @ 76, func_info @ 80, func_info_cnt @ 88, line_info_rec_size @ 92,
    line_info @ 96, line_info_cnt @ 104, attach_btf_id @ 108);

/// What BPF_PROG_LOAD needs. `insns` is the encoded instruction stream;
/// `func_info` and `line_info` are packed kernel records (8 and 16 bytes each).
pub struct ProgLoad<'a> {
    pub prog_type: u32,
    pub expected_attach_type: u32,
    pub name: &'a str,
    pub insns: &'a [u8],
    pub license: &'a CStr,
    pub flags: ProgFlags,
    pub btf: Option<BorrowedFd<'a>>,
    pub func_info: &'a [u8],
    pub line_info: &'a [u8],
    pub attach_btf_id: u32,
}

/// Kernel record sizes of `struct bpf_func_info` and `struct bpf_line_info`.
pub const FUNC_INFO_SIZE: usize = 8;
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

/// BPF_PROG_LOAD; `log`, when given, receives the verifier's log (level 1).
pub fn prog_load(p: &ProgLoad<'_>, log: Option<&mut [u8]>) -> io::Result<OwnedFd> {
    let mut attr = ProgLoadAttr {
        prog_type: p.prog_type,
        insn_cnt: (p.insns.len() / 8) as u32,
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
            attr.func_info_cnt = (p.func_info.len() / FUNC_INFO_SIZE) as u32;
        }
        if !p.line_info.is_empty() {
            attr.line_info_rec_size = LINE_INFO_SIZE as u32;
            attr.line_info = ptr(p.line_info);
            attr.line_info_cnt = (p.line_info.len() / LINE_INFO_SIZE) as u32;
        }
    }
    if let Some(log) = log {
        attr.log_level = 1;
        attr.log_buf = ptr_mut(log);
        attr.log_size = log.len() as u32;
    }
    owned_fd(bpf(Cmd::ProgLoad, &mut attr)?)
}

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
}
layout!(TestRunAttr, size 72, prog_fd @ 0, retval @ 4, data_size_in @ 8, data_size_out @ 12,
    data_in @ 16, data_out @ 24, repeat @ 32, duration @ 36, ctx_size_in @ 40,
    ctx_size_out @ 44, ctx_in @ 48, ctx_out @ 56, flags @ 64, cpu @ 68);

/// What BPF_PROG_TEST_RUN reports back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestRunResult {
    /// The program's return value.
    pub retval: u32,
    /// Average run time in ns over `repeat` runs.
    pub duration_ns: u32,
    /// Bytes written to `data_out`.
    pub data_size_out: u32,
}

/// BPF_PROG_TEST_RUN: runs the program on `data` (a packet) and/or `ctx`.
pub fn prog_test_run(
    prog: BorrowedFd<'_>,
    data: &[u8],
    data_out: Option<&mut [u8]>,
    ctx: &[u8],
    repeat: u32,
) -> io::Result<TestRunResult> {
    let mut attr = TestRunAttr {
        prog_fd: fd(prog),
        data_size_in: data.len() as u32,
        data_in: if data.is_empty() { 0 } else { ptr(data) },
        ctx_size_in: ctx.len() as u32,
        ctx_in: if ctx.is_empty() { 0 } else { ptr(ctx) },
        repeat,
        ..Default::default()
    };
    if let Some(out) = data_out {
        attr.data_size_out = out.len() as u32;
        attr.data_out = ptr_mut(out);
    }
    bpf(Cmd::ProgTestRun, &mut attr)?;
    Ok(TestRunResult {
        retval: attr.retval,
        duration_ns: attr.duration,
        data_size_out: attr.data_size_out,
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

/// BPF_LINK_CREATE: attaches `prog` to `target` (a cgroup directory fd for
/// cgroup programs); the attachment lives as long as the returned link fd or
/// a pin of it.
pub fn link_create(
    prog: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    attach_type: u32,
) -> io::Result<OwnedFd> {
    let mut attr = LinkCreateAttr {
        prog_fd: fd(prog),
        target_fd: fd(target),
        attach_type,
        flags: 0,
    };
    owned_fd(bpf(Cmd::LinkCreate, &mut attr)?)
}

/// BPF_LINK_CREATE for a tracing program (fentry, fexit): the target is the
/// kernel function named by the program's attach_btf_id, so no target fd.
pub fn link_create_tracing(prog: BorrowedFd<'_>, attach_type: u32) -> io::Result<OwnedFd> {
    let mut attr = LinkCreateAttr {
        prog_fd: fd(prog),
        target_fd: 0,
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

#[repr(C)]
#[derive(Default)]
struct ProgQueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
}
layout!(ProgQueryAttr, size 32, target_fd @ 0, attach_type @ 4, query_flags @ 8,
    attach_flags @ 12, prog_ids @ 16, prog_cnt @ 24);

/// BPF_PROG_QUERY: the ids of the programs attached to `target` for
/// `attach_type`, and the attach flags in force.
pub fn prog_query(target: BorrowedFd<'_>, attach_type: u32) -> io::Result<(AttachFlags, Vec<u32>)> {
    let mut ids = vec![0u32; 64];
    let mut attr = ProgQueryAttr {
        target_fd: fd(target),
        attach_type,
        prog_ids: ptr_mut(&mut ids),
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    bpf(Cmd::ProgQuery, &mut attr)?;
    ids.truncate(attr.prog_cnt as usize);
    Ok((AttachFlags::from_bits_retain(attr.attach_flags), ids))
}

// ---------------------------------------------------------------- pins

#[repr(C)]
#[derive(Default)]
struct ObjAttr {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
}
layout!(ObjAttr, size 16, pathname @ 0, bpf_fd @ 8, file_flags @ 12);

/// BPF_OBJ_PIN: gives the object a name in a bpffs mount.
pub fn obj_pin(obj: BorrowedFd<'_>, path: &CStr) -> io::Result<()> {
    let mut attr = ObjAttr {
        pathname: path.as_ptr() as usize as u64,
        bpf_fd: fd(obj),
        file_flags: 0,
    };
    bpf(Cmd::ObjPin, &mut attr).map(drop)
}

/// BPF_OBJ_GET: opens a pinned object.
pub fn obj_get(path: &CStr, flags: ObjGetFlags) -> io::Result<OwnedFd> {
    let mut attr = ObjAttr {
        pathname: path.as_ptr() as usize as u64,
        bpf_fd: 0,
        file_flags: flags.bits(),
    };
    owned_fd(bpf(Cmd::ObjGet, &mut attr)?)
}

// ---------------------------------------------------------------- ids and info

/// Kinds of kernel object that have a global id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    Prog,
    Map,
    Btf,
    Link,
}

#[repr(C)]
#[derive(Default)]
struct GetFdByIdAttr {
    id: u32,
    next_id: u32,
    open_flags: u32,
}

/// BPF_{PROG,MAP,BTF,LINK}_GET_FD_BY_ID: ENOENT means the object is gone.
pub fn get_fd_by_id(kind: IdKind, id: u32) -> io::Result<OwnedFd> {
    let cmd = match kind {
        IdKind::Prog => Cmd::ProgGetFdById,
        IdKind::Map => Cmd::MapGetFdById,
        IdKind::Btf => Cmd::BtfGetFdById,
        IdKind::Link => Cmd::LinkGetFdById,
    };
    let mut attr = GetFdByIdAttr {
        id,
        ..Default::default()
    };
    owned_fd(bpf(cmd, &mut attr)?)
}

#[repr(C)]
#[derive(Default)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}
layout!(InfoAttr, size 16, bpf_fd @ 0, info_len @ 4, info @ 8);

/// Marker for the `bpf_*_info` structs: plain data, any bit pattern valid.
trait Info: Default {}

fn obj_info<T: Info>(obj: BorrowedFd<'_>, info: &mut T) -> io::Result<()> {
    let mut attr = InfoAttr {
        bpf_fd: fd(obj),
        info_len: size_of::<T>() as u32,
        info: info as *mut T as usize as u64,
    };
    bpf(Cmd::ObjGetInfoByFd, &mut attr).map(drop)
}

/// `struct bpf_prog_info`, up to `attach_btf_id`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ProgInfo {
    pub prog_type: u32,
    pub id: u32,
    pub tag: [u8; 8],
    pub jited_prog_len: u32,
    pub xlated_prog_len: u32,
    pub jited_prog_insns: u64,
    pub xlated_prog_insns: u64,
    pub load_time: u64,
    pub created_by_uid: u32,
    pub nr_map_ids: u32,
    pub map_ids: u64,
    pub name: [u8; 16],
    pub ifindex: u32,
    pub gpl_compatible: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub nr_jited_ksyms: u32,
    pub nr_jited_func_lens: u32,
    pub jited_ksyms: u64,
    pub jited_func_lens: u64,
    pub btf_id: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub nr_func_info: u32,
    pub nr_line_info: u32,
    pub line_info: u64,
    pub jited_line_info: u64,
    pub nr_jited_line_info: u32,
    pub line_info_rec_size: u32,
    pub jited_line_info_rec_size: u32,
    pub nr_prog_tags: u32,
    pub prog_tags: u64,
    pub run_time_ns: u64,
    pub run_cnt: u64,
    pub recursion_misses: u64,
    pub verified_insns: u32,
    pub attach_btf_obj_id: u32,
    pub attach_btf_id: u32,
    pub _pad: u32,
}
layout!(ProgInfo, size 232, id @ 4, tag @ 8, xlated_prog_len @ 20, nr_map_ids @ 52,
    map_ids @ 56, name @ 64, btf_id @ 128, run_cnt @ 200, verified_insns @ 216,
    attach_btf_id @ 224);
impl Info for ProgInfo {}

/// BPF_OBJ_GET_INFO_BY_FD on a program, with the ids of the maps it uses.
pub fn prog_info(prog: BorrowedFd<'_>) -> io::Result<(ProgInfo, Vec<u32>)> {
    let mut map_ids = vec![0u32; 64];
    let mut info = ProgInfo {
        nr_map_ids: map_ids.len() as u32,
        map_ids: ptr_mut(&mut map_ids),
        ..Default::default()
    };
    obj_info(prog, &mut info)?;
    map_ids.truncate((info.nr_map_ids as usize).min(64));
    info.map_ids = 0;
    Ok((info, map_ids))
}

/// `struct bpf_map_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MapInfo {
    pub map_type: u32,
    pub id: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub name: [u8; 16],
    pub ifindex: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub btf_id: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub _pad: u32,
    pub map_extra: u64,
}
layout!(MapInfo, size 88, map_type @ 0, id @ 4, max_entries @ 16, map_flags @ 20,
    name @ 24, btf_id @ 64, btf_key_type_id @ 68, btf_value_type_id @ 72, map_extra @ 80);
impl Info for MapInfo {}

/// BPF_OBJ_GET_INFO_BY_FD on a map.
pub fn map_info(map: BorrowedFd<'_>) -> io::Result<MapInfo> {
    let mut info = MapInfo::default();
    obj_info(map, &mut info)?;
    Ok(info)
}

/// `struct bpf_link_info` with the cgroup member of its union.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkInfo {
    pub link_type: u32,
    pub id: u32,
    pub prog_id: u32,
    pub _pad: u32,
    pub cgroup_id: u64,
    pub attach_type: u32,
    pub _rest: [u32; 5],
}
layout!(LinkInfo, size 48, link_type @ 0, id @ 4, prog_id @ 8, cgroup_id @ 16, attach_type @ 24);
impl Info for LinkInfo {}

/// BPF_OBJ_GET_INFO_BY_FD on a link.
pub fn link_info(link: BorrowedFd<'_>) -> io::Result<LinkInfo> {
    let mut info = LinkInfo::default();
    obj_info(link, &mut info)?;
    Ok(info)
}

/// `struct bpf_btf_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct BtfInfo {
    pub btf: u64,
    pub btf_size: u32,
    pub id: u32,
    pub name: u64,
    pub name_len: u32,
    pub kernel_btf: u32,
}
layout!(BtfInfo, size 32, btf @ 0, btf_size @ 8, id @ 12, name @ 16, kernel_btf @ 28);
impl Info for BtfInfo {}

/// BPF_OBJ_GET_INFO_BY_FD on a BTF object.
pub fn btf_info(btf: BorrowedFd<'_>) -> io::Result<BtfInfo> {
    let mut info = BtfInfo::default();
    obj_info(btf, &mut info)?;
    Ok(info)
}

// ---------------------------------------------------------------- the rest of the system

/// The effective user id (0 = root).
pub fn geteuid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

fn cstring(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// mount(2) of a pseudo file system (`cgroup2`, `bpf`) with no options.
pub fn mount_fs(fstype: &str, target: &str) -> io::Result<()> {
    let fstype = cstring(fstype)?;
    let target = cstring(target)?;
    // SAFETY: all three strings are NUL-terminated and live across the call.
    let ret = unsafe {
        libc::mount(
            fstype.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Opens `path` with `flags` (O_CLOEXEC added), keeping the fd above stdio.
pub fn open(path: &str, flags: i32) -> io::Result<OwnedFd> {
    let c = cstring(path)?;
    // SAFETY: `c` is NUL-terminated and outlives the call.
    let ret = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    owned_fd(ret as i64)
}

/// How a datagram sent from inside a cgroup fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// send() succeeded.
    Sent,
    /// send() failed with this errno (EPERM when a cgroup program dropped it).
    Failed(i32),
}

/// What a child process does from inside a cgroup, so that the cgroup's
/// programs see real events: always one UDP datagram (socket, connect, send:
/// sock_create, connect4 and egress hooks); optionally a getsockopt, a TCP
/// connect (sock_ops), opening /dev/null (device hook) and reading a sysctl.
#[derive(Clone, Debug)]
pub struct Probe {
    pub udp: std::net::SocketAddr,
    pub tcp: Option<std::net::SocketAddr>,
    pub touch_files: bool,
}

/// Forks a child that moves itself into the cgroup whose `cgroup.procs` is
/// open as `procs`, does what `probe` says and exits; returns what its UDP
/// send() saw. The child only makes async-signal-safe system calls on memory
/// prepared before the fork, so this is sound in a multi-threaded process.
pub fn probe_from_cgroup(procs: BorrowedFd<'_>, probe: &Probe) -> io::Result<SendOutcome> {
    const JOIN_FAILED: i32 = 250;
    const SOCKET_FAILED: i32 = 251;
    const CONNECT_FAILED: i32 = 252;
    let (udp, udp_len, udp_family) = sockaddr(probe.udp);
    let tcp = probe.tcp.map(sockaddr);
    let dev_null = c"/dev/null";
    let sysctl = c"/proc/sys/kernel/ostype";
    let payload = b"rawbpf";
    // SAFETY: after fork the child only calls write, open, read, close,
    // socket, getsockopt, connect, send and _exit on memory prepared before
    // the fork; the parent waits for it below.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: see above; every pointer refers to this process's copy of
        // memory set up before fork, with the lengths given.
        unsafe {
            // Writing "0" moves the writing process itself into the cgroup.
            if libc::write(procs.as_raw_fd(), b"0".as_ptr().cast(), 1) != 1 {
                libc::_exit(JOIN_FAILED);
            }
            if probe.touch_files {
                let mut buf = [0u8; 16];
                for path in [dev_null, sysctl] {
                    let fd = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                    if fd >= 0 {
                        libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
                        libc::close(fd);
                    }
                }
            }
            let s = libc::socket(udp_family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
            if s < 0 {
                libc::_exit(SOCKET_FAILED);
            }
            let mut ty: libc::c_int = 0;
            let mut ty_len = size_of::<libc::c_int>() as libc::socklen_t;
            libc::getsockopt(
                s,
                libc::SOL_SOCKET,
                libc::SO_TYPE,
                (&mut ty as *mut libc::c_int).cast(),
                &mut ty_len,
            );
            if libc::connect(s, (&udp as *const libc::sockaddr_storage).cast(), udp_len) < 0 {
                libc::_exit(CONNECT_FAILED);
            }
            let sent = libc::send(s, payload.as_ptr().cast(), payload.len(), 0);
            let code = if sent < 0 {
                *libc::__errno_location()
            } else {
                0
            };
            if let Some((tcp, tcp_len, tcp_family)) = &tcp {
                let t = libc::socket(*tcp_family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
                if t >= 0 {
                    libc::connect(t, (tcp as *const libc::sockaddr_storage).cast(), *tcp_len);
                    libc::close(t);
                }
            }
            libc::_exit(code.clamp(0, 249));
        }
    }
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child; `status` is a valid out pointer.
        let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
        if ret == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    if !libc::WIFEXITED(status) {
        return Err(io::Error::other("the probing child was killed"));
    }
    match libc::WEXITSTATUS(status) {
        0 => Ok(SendOutcome::Sent),
        JOIN_FAILED => Err(io::Error::other("the child could not join the cgroup")),
        SOCKET_FAILED => Err(io::Error::other("the child could not open a UDP socket")),
        CONNECT_FAILED => Err(io::Error::other("the child's UDP connect() failed")),
        errno => Ok(SendOutcome::Failed(errno)),
    }
}

fn sockaddr(addr: std::net::SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t, i32) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        std::net::SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage, which is aligned for it.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in, sin) };
            (
                storage,
                size_of::<libc::sockaddr_in>() as u32,
                libc::AF_INET,
            )
        }
        std::net::SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage, which is aligned for it.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in6, sin6) };
            (
                storage,
                size_of::<libc::sockaddr_in6>() as u32,
                libc::AF_INET6,
            )
        }
    }
}

/// Pins the calling thread to one CPU (for tests that need two CPUs to race).
pub fn pin_thread_to_cpu(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_SET writes inside it; the call
    // reads it for the current thread (pid 0).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Sends `signal` to process `pid` (kill(2)).
pub fn send_signal(pid: u32, signal: i32) -> io::Result<()> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: kill only reads its two integer arguments.
    if unsafe { libc::kill(pid, signal) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes `cmd` start its program with fds 0, 1 and 2 closed, as an early-boot
/// environment may (used by the tests to check rawbpf copes).
pub fn close_stdio_on_exec(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only calls
    // close(2), which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            for fd in 0..3 {
                libc::close(fd);
            }
            Ok(())
        });
    }
}

/// A set of signals blocked on this thread so that they can be waited for
/// synchronously instead of killing the process.
pub struct BlockedSignals(libc::sigset_t);

/// Blocks `signals` (e.g. SIGINT, SIGTERM) on the calling thread; threads
/// started afterwards inherit the mask.
pub fn block_signals(signals: &[i32]) -> io::Result<BlockedSignals> {
    // SAFETY: sigset_t is plain data initialised by sigemptyset; the calls
    // only read and write it and the thread's signal mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in signals {
            libc::sigaddset(&mut set, sig);
        }
        let ret = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if ret != 0 {
            return Err(io::Error::from_raw_os_error(ret));
        }
        Ok(BlockedSignals(set))
    }
}

impl BlockedSignals {
    /// Waits until one of the blocked signals arrives and returns its number.
    pub fn wait(&self) -> io::Result<i32> {
        loop {
            // SAFETY: `self.0` is an initialised sigset; a null info pointer is allowed.
            let sig = unsafe { libc::sigwaitinfo(&self.0, std::ptr::null_mut()) };
            if sig >= 0 {
                return Ok(sig);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_keep_only_what_the_kernel_accepts() {
        assert_eq!(&object_name("hmap")[..5], b"hmap\0");
        assert_eq!(&object_name(".rodata.str1.1")[..15], b".rodata.str1.1\0");
        // 15 characters at most, always NUL-terminated.
        let long = object_name("a_very_long_program_name");
        assert_eq!(&long[..15], b"a_very_long_pro");
        assert_eq!(long[15], 0);
        assert_eq!(&object_name("x-y/z")[..4], b"xyz\0");
    }

    #[test]
    fn cmd_numbers_match_the_uapi_enum() {
        assert_eq!(Cmd::MapCreate as u32, 0);
        assert_eq!(Cmd::ProgLoad as u32, 5);
        assert_eq!(Cmd::ObjGetInfoByFd as u32, 15);
        assert_eq!(Cmd::BtfLoad as u32, 18);
        assert_eq!(Cmd::MapFreeze as u32, 22);
        assert_eq!(Cmd::LinkCreate as u32, 28);
        assert_eq!(Cmd::LinkDetach as u32, 34);
    }
}
