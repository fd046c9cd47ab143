//! Kernel objects by id, and what OBJ_GET_INFO_BY_FD says about them.

use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{BorrowedFd, OwnedFd};

use super::{bpf, fd, owned_fd, ptr_mut, Cmd};

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

/// BPF_{PROG,MAP,BTF,LINK}_GET_NEXT_ID: the smallest id of that kind
/// greater than `after`, or None at the end of the list.
pub fn next_id(kind: IdKind, after: u32) -> io::Result<Option<u32>> {
    let cmd = match kind {
        IdKind::Prog => Cmd::ProgGetNextId,
        IdKind::Map => Cmd::MapGetNextId,
        IdKind::Btf => Cmd::BtfGetNextId,
        IdKind::Link => Cmd::LinkGetNextId,
    };
    let mut attr = GetFdByIdAttr {
        id: after,
        ..Default::default()
    };
    match bpf(cmd, &mut attr) {
        Ok(_) => Ok(Some(attr.next_id)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every id of `kind` the kernel holds now, in increasing order.
pub fn all_ids(kind: IdKind) -> io::Result<Vec<u32>> {
    let mut ids = Vec::new();
    let mut last = 0;
    while let Some(id) = next_id(kind, last)? {
        ids.push(id);
        last = id;
    }
    Ok(ids)
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

/// `struct bpf_link_info`: the common head, then a union whose member
/// depends on `link_type`, kept as raw words and read by the methods below.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkInfo {
    pub link_type: u32,
    pub id: u32,
    pub prog_id: u32,
    pub _pad: u32,
    pub target: [u32; 8],
}
layout!(LinkInfo, size 48, link_type @ 0, id @ 4, prog_id @ 8, target @ 16);

/// `enum bpf_link_type` values of the links rawbpf creates.
pub mod link_type {
    pub const TRACING: u32 = 2;
    pub const CGROUP: u32 = 3;
    pub const NETNS: u32 = 5;
    pub const XDP: u32 = 6;
    pub const TCX: u32 = 11;
}

impl LinkInfo {
    /// A cgroup link's cgroup id (`cgroup.cgroup_id`, a u64 at offset 16).
    pub fn cgroup_id(&self) -> u64 {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&self.target[0].to_ne_bytes());
        bytes[4..].copy_from_slice(&self.target[1].to_ne_bytes());
        u64::from_ne_bytes(bytes)
    }

    /// A netns link's namespace inode (`netns.netns_ino`).
    pub fn netns_ino(&self) -> u32 {
        self.target[0]
    }

    /// An XDP or TCX link's device (`xdp.ifindex`, `tcx.ifindex`).
    pub fn ifindex(&self) -> u32 {
        self.target[0]
    }

    /// The attach type, for the link types whose info has one.
    pub fn attach_type(&self) -> Option<u32> {
        match self.link_type {
            link_type::CGROUP => Some(self.target[2]),
            link_type::NETNS | link_type::TCX => Some(self.target[1]),
            _ => None,
        }
    }
}
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
