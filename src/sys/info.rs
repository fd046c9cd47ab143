//! Kernel objects by id, and what OBJ_GET_INFO_BY_FD says about them.

use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{BorrowedFd, OwnedFd};

use super::{bpf, fd, owned_fd, ptr_mut, Cmd};

/// Kinds of kernel object that have a global id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    /// Programs.
    Prog,
    /// Maps.
    Map,
    /// BTF objects.
    Btf,
    /// BPF links.
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

/// BPF_OBJ_GET_INFO_BY_FD into `info`: the kernel writes at most
/// `info_len` = `size_of::<T>()` bytes of it (a newer kernel's longer struct
/// is cut to ours), and through the pointers the struct carries at most the
/// count beside each; the callers set only pointers to buffers of that
/// count, the rest stay 0 (`T: Default`).
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
#[non_exhaustive]
pub struct ProgInfo {
    /// `bpf_prog_info.prog_type`.
    pub prog_type: u32,
    /// `bpf_prog_info.id`.
    pub id: u32,
    /// `bpf_prog_info.tag`.
    pub tag: [u8; 8],
    /// `bpf_prog_info.jited_prog_len`.
    pub jited_prog_len: u32,
    /// `bpf_prog_info.xlated_prog_len`.
    pub xlated_prog_len: u32,
    /// `bpf_prog_info.jited_prog_insns`.
    pub jited_prog_insns: u64,
    /// `bpf_prog_info.xlated_prog_insns`.
    pub xlated_prog_insns: u64,
    /// `bpf_prog_info.load_time`.
    pub load_time: u64,
    /// `bpf_prog_info.created_by_uid`.
    pub created_by_uid: u32,
    /// `bpf_prog_info.nr_map_ids`.
    pub nr_map_ids: u32,
    /// `bpf_prog_info.map_ids`.
    pub map_ids: u64,
    /// `bpf_prog_info.name`.
    pub name: [u8; 16],
    /// `bpf_prog_info.ifindex`.
    pub ifindex: u32,
    /// `bpf_prog_info.gpl_compatible`.
    pub gpl_compatible: u32,
    /// `bpf_prog_info.netns_dev`.
    pub netns_dev: u64,
    /// `bpf_prog_info.netns_ino`.
    pub netns_ino: u64,
    /// `bpf_prog_info.nr_jited_ksyms`.
    pub nr_jited_ksyms: u32,
    /// `bpf_prog_info.nr_jited_func_lens`.
    pub nr_jited_func_lens: u32,
    /// `bpf_prog_info.jited_ksyms`.
    pub jited_ksyms: u64,
    /// `bpf_prog_info.jited_func_lens`.
    pub jited_func_lens: u64,
    /// `bpf_prog_info.btf_id`.
    pub btf_id: u32,
    /// `bpf_prog_info.func_info_rec_size`.
    pub func_info_rec_size: u32,
    /// `bpf_prog_info.func_info`.
    pub func_info: u64,
    /// `bpf_prog_info.nr_func_info`.
    pub nr_func_info: u32,
    /// `bpf_prog_info.nr_line_info`.
    pub nr_line_info: u32,
    /// `bpf_prog_info.line_info`.
    pub line_info: u64,
    /// `bpf_prog_info.jited_line_info`.
    pub jited_line_info: u64,
    /// `bpf_prog_info.nr_jited_line_info`.
    pub nr_jited_line_info: u32,
    /// `bpf_prog_info.line_info_rec_size`.
    pub line_info_rec_size: u32,
    /// `bpf_prog_info.jited_line_info_rec_size`.
    pub jited_line_info_rec_size: u32,
    /// `bpf_prog_info.nr_prog_tags`.
    pub nr_prog_tags: u32,
    /// `bpf_prog_info.prog_tags`.
    pub prog_tags: u64,
    /// `bpf_prog_info.run_time_ns`.
    pub run_time_ns: u64,
    /// `bpf_prog_info.run_cnt`.
    pub run_cnt: u64,
    /// `bpf_prog_info.recursion_misses`.
    pub recursion_misses: u64,
    /// `bpf_prog_info.verified_insns`.
    pub verified_insns: u32,
    /// `bpf_prog_info.attach_btf_obj_id`.
    pub attach_btf_obj_id: u32,
    /// `bpf_prog_info.attach_btf_id`.
    pub attach_btf_id: u32,
    /// Padding, zero.
    pub _pad: u32,
}
layout!(ProgInfo, size 232, id @ 4, tag @ 8, xlated_prog_len @ 20, nr_map_ids @ 52,
    map_ids @ 56, name @ 64, btf_id @ 128, run_cnt @ 200, verified_insns @ 216,
    attach_btf_id @ 224);
impl Info for ProgInfo {}

/// BPF_OBJ_GET_INFO_BY_FD on a program, with the ids of the maps it uses.
/// The kernel copies at most `nr_map_ids` ids into `map_ids` and at most
/// `info_len` bytes of the struct (`bpf_prog_get_info_by_fd`); 64 ids are
/// every map a program can use (`MAX_USED_MAPS` in
/// include/linux/bpf_verifier.h).
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

/// The first field of `struct bpf_prog_info`: asking with `info_len` 4
/// makes the kernel fill in and copy only that (`bpf_prog_get_info_by_fd`).
#[repr(C)]
#[derive(Default)]
struct ProgTypeInfo {
    prog_type: u32,
}
impl Info for ProgTypeInfo {}

/// The type (`enum bpf_prog_type`) of the program `prog`.
pub fn prog_type(prog: BorrowedFd<'_>) -> io::Result<u32> {
    let mut info = ProgTypeInfo::default();
    obj_info(prog, &mut info)?;
    Ok(info.prog_type)
}

/// The first three fields of `struct bpf_prog_info`: type, id and tag.
#[repr(C)]
#[derive(Default)]
struct ProgIdentInfo {
    prog_type: u32,
    id: u32,
    tag: [u8; 8],
}
impl Info for ProgIdentInfo {}
layout!(ProgIdentInfo, size 16, prog_type @ 0, id @ 4, tag @ 8);

/// The id and tag of the program `prog`: one BPF_OBJ_GET_INFO_BY_FD with
/// `info_len` 16, so the kernel copies out only those (about a microsecond;
/// reading `/proc/self/fdinfo/FD` takes ten, and needs /proc).
pub fn prog_id_tag(prog: BorrowedFd<'_>) -> io::Result<(u32, [u8; 8])> {
    let mut info = ProgIdentInfo::default();
    obj_info(prog, &mut info)?;
    Ok((info.id, info.tag))
}

/// `struct bpf_map_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct MapInfo {
    /// `bpf_map_info.map_type`.
    pub map_type: u32,
    /// `bpf_map_info.id`.
    pub id: u32,
    /// `bpf_map_info.key_size`.
    pub key_size: u32,
    /// `bpf_map_info.value_size`.
    pub value_size: u32,
    /// `bpf_map_info.max_entries`.
    pub max_entries: u32,
    /// `bpf_map_info.map_flags`.
    pub map_flags: u32,
    /// `bpf_map_info.name`.
    pub name: [u8; 16],
    /// `bpf_map_info.ifindex`.
    pub ifindex: u32,
    /// `bpf_map_info.btf_vmlinux_value_type_id`.
    pub btf_vmlinux_value_type_id: u32,
    /// `bpf_map_info.netns_dev`.
    pub netns_dev: u64,
    /// `bpf_map_info.netns_ino`.
    pub netns_ino: u64,
    /// `bpf_map_info.btf_id`.
    pub btf_id: u32,
    /// `bpf_map_info.btf_key_type_id`.
    pub btf_key_type_id: u32,
    /// `bpf_map_info.btf_value_type_id`.
    pub btf_value_type_id: u32,
    /// Padding, zero.
    pub _pad: u32,
    /// `bpf_map_info.map_extra`.
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
#[non_exhaustive]
pub struct LinkInfo {
    /// `bpf_link_info.link_type`.
    pub link_type: u32,
    /// `bpf_link_info.id`.
    pub id: u32,
    /// `bpf_link_info.prog_id`.
    pub prog_id: u32,
    /// Padding, zero.
    pub _pad: u32,
    /// The link-type-specific union, as raw words (read by the methods below).
    pub target: [u32; 8],
}
layout!(LinkInfo, size 48, link_type @ 0, id @ 4, prog_id @ 8, target @ 16);

/// `enum bpf_link_type` values of the links rawbpf creates, as the plain
/// numbers of [`LinkInfo::link_type`] (names: [`crate::uapi::LinkType`]).
pub mod link_type {
    use crate::uapi::LinkType;
    /// `BPF_LINK_TYPE_TRACING`.
    pub const TRACING: u32 = LinkType::TRACING.0;
    /// `BPF_LINK_TYPE_CGROUP`.
    pub const CGROUP: u32 = LinkType::CGROUP.0;
    /// `BPF_LINK_TYPE_NETNS`.
    pub const NETNS: u32 = LinkType::NETNS.0;
    /// `BPF_LINK_TYPE_XDP`.
    pub const XDP: u32 = LinkType::XDP.0;
    /// `BPF_LINK_TYPE_TCX`.
    pub const TCX: u32 = LinkType::TCX.0;
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
#[non_exhaustive]
pub struct BtfInfo {
    /// `bpf_btf_info.btf`.
    pub btf: u64,
    /// `bpf_btf_info.btf_size`.
    pub btf_size: u32,
    /// `bpf_btf_info.id`.
    pub id: u32,
    /// `bpf_btf_info.name`.
    pub name: u64,
    /// `bpf_btf_info.name_len`.
    pub name_len: u32,
    /// `bpf_btf_info.kernel_btf`.
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

/// BPF_BTF_GET_NEXT_ID: the next BTF object id after `start`, None at the end.
pub fn btf_get_next_id(start: u32) -> io::Result<Option<u32>> {
    let mut attr = GetFdByIdAttr {
        id: start,
        ..Default::default()
    };
    match bpf(Cmd::BtfGetNextId, &mut attr) {
        Ok(_) => Ok(Some(attr.next_id)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The kernel's BTF object of module `module` (as named in
/// /sys/kernel/btf/), found by walking every BTF id and asking its name.
pub fn module_btf_fd(module: &str) -> io::Result<Option<OwnedFd>> {
    let mut id = 0;
    while let Some(next) = btf_get_next_id(id)? {
        id = next;
        let btf = match get_fd_by_id(IdKind::Btf, id) {
            Ok(fd) => fd,
            // Freed between the two calls.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(e),
        };
        let mut name = [0u8; 64];
        let mut info = BtfInfo {
            name: name.as_mut_ptr() as usize as u64,
            name_len: name.len() as u32,
            ..Default::default()
        };
        obj_info(std::os::fd::AsFd::as_fd(&btf), &mut info)?;
        let len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        if info.kernel_btf != 0 && &name[..len] == module.as_bytes() {
            return Ok(Some(btf));
        }
    }
    Ok(None)
}
