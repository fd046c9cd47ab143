//! `--trace`: every bpf() call on stderr as it happens, decoded.
//!
//! One line per call: the command by name, the `union bpf_attr` fields that
//! matter for it (types and flags by name, object names, fds), then the
//! result — the new fd, 0, or the errno by name — and how long the kernel
//! took. For example:
//!
//! ```text
//! bpf(BPF_MAP_CREATE, map_type ARRAY, key_size 4, value_size 4, max_entries 1, map_name "hmap", btf_fd 3, ...) = 4 (31.2 us)
//! bpf(BPF_LINK_CREATE, prog_fd 6, target_fd 7, attach_type CGROUP_INET_EGRESS) = 8 (12.0 us)
//! ```
//!
//! The decoder reads the attr by the uapi's field offsets, and only offsets
//! where rawbpf's own attr structs have a field (their `layout!` checks pin
//! those offsets), never their padding.

use std::fmt::Write as _;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::uapi::{AttachType, Cmd, Errno, MapType, ProgType};

use super::{AttachFlags, MapFlags, ObjGetFlags, ProgFlags};

static TRACE: AtomicBool = AtomicBool::new(false);

/// Turns the trace of bpf() calls on stderr on or off, for every thread.
pub fn set_trace(on: bool) {
    TRACE.store(on, Ordering::Relaxed);
}

/// Whether [`set_trace`] turned the trace on.
pub fn tracing() -> bool {
    TRACE.load(Ordering::Relaxed)
}

/// Prints one traced call (the hook in `bpf()`): `attr` is the attr struct
/// the call used, after the call, so output fields are filled in.
pub(super) fn finish<T>(elapsed: Duration, cmd: Cmd, attr: &T, ret: &io::Result<i64>) {
    if !tracing() {
        return;
    }
    let attr = Attr {
        base: attr as *const T as *const u8,
        len: std::mem::size_of::<T>(),
    };
    let line = format_call(cmd, &attr, ret, elapsed);
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// A view of an attr struct that reads fields at uapi offsets.
pub(super) struct Attr {
    base: *const u8,
    len: usize,
}

impl Attr {
    /// A view of a plain byte buffer (for tests).
    #[cfg(test)]
    fn of(bytes: &[u8]) -> Attr {
        Attr {
            base: bytes.as_ptr(),
            len: bytes.len(),
        }
    }

    fn u32(&self, off: usize) -> Option<u32> {
        if off + 4 > self.len {
            return None;
        }
        // SAFETY: in bounds of the live attr struct (checked above), and
        // every offset the decoder passes is a u32 field of it.
        Some(unsafe { self.base.add(off).cast::<u32>().read_unaligned() })
    }

    fn u64(&self, off: usize) -> Option<u64> {
        if off + 8 > self.len {
            return None;
        }
        // SAFETY: as in `u32`, for the u64 fields.
        Some(unsafe { self.base.add(off).cast::<u64>().read_unaligned() })
    }

    /// A NUL-padded 16-byte name field (`map_name`, `prog_name`).
    fn name(&self, off: usize) -> Option<String> {
        if off + 16 > self.len {
            return None;
        }
        // SAFETY: in bounds; the name fields are [u8; 16] arrays.
        let bytes = unsafe { std::slice::from_raw_parts(self.base.add(off), 16) };
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(16);
        Some(String::from_utf8_lossy(&bytes[..end]).into_owned())
    }

    /// A C string the attr points to (`pathname`); the pointer was set by a
    /// wrapper from a CStr that lives across the call and so across this.
    fn c_str(&self, off: usize) -> Option<String> {
        let ptr = self.u64(off)? as usize as *const libc::c_char;
        if ptr.is_null() {
            return None;
        }
        // SAFETY: see above; the trace runs inside bpf(), before the
        // wrapper that built the attr returns.
        let s = unsafe { std::ffi::CStr::from_ptr(ptr) };
        Some(s.to_string_lossy().into_owned())
    }
}

/// The fields of `cmd` worth showing, as `name value` pairs.
fn fields(cmd: Cmd, a: &Attr) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let num = |out: &mut Vec<_>, name, off| {
        if let Some(v) = a.u32(off) {
            out.push((name, v.to_string()));
        }
    };
    match cmd {
        Cmd::MapCreate => {
            if let Some(t) = a.u32(0) {
                out.push(("map_type", MapType(t).to_string()));
            }
            num(&mut out, "key_size", 4);
            num(&mut out, "value_size", 8);
            num(&mut out, "max_entries", 12);
            if let Some(f) = a.u32(16).filter(|&f| f != 0) {
                out.push(("map_flags", flags(MapFlags::from_bits_retain(f))));
            }
            if let Some(fd) = a.u32(20).filter(|&fd| fd != 0) {
                out.push(("inner_map_fd", fd.to_string()));
            }
            if let Some(name) = a.name(28) {
                out.push(("map_name", format!("{name:?}")));
            }
            if let Some(fd) = a.u32(48).filter(|&fd| fd != 0) {
                out.push(("btf_fd", fd.to_string()));
                num(&mut out, "btf_key_type_id", 52);
                num(&mut out, "btf_value_type_id", 56);
            }
        }
        Cmd::MapLookupElem
        | Cmd::MapUpdateElem
        | Cmd::MapDeleteElem
        | Cmd::MapGetNextKey
        | Cmd::MapLookupAndDeleteElem => {
            num(&mut out, "map_fd", 0);
            if cmd == Cmd::MapUpdateElem {
                let f = a.u64(24).unwrap_or(0);
                let name = match f {
                    0 => "BPF_ANY".to_string(),
                    1 => "BPF_NOEXIST".to_string(),
                    2 => "BPF_EXIST".to_string(),
                    4 => "BPF_F_LOCK".to_string(),
                    f => format!("{f:#x}"),
                };
                out.push(("flags", name));
            }
        }
        Cmd::MapFreeze => num(&mut out, "map_fd", 0),
        Cmd::MapLookupBatch
        | Cmd::MapLookupAndDeleteBatch
        | Cmd::MapUpdateBatch
        | Cmd::MapDeleteBatch => {
            // `batch`: count 32 (in, then out), map_fd 36.
            num(&mut out, "map_fd", 36);
            num(&mut out, "count", 32);
        }
        Cmd::ProgLoad => {
            if let Some(t) = a.u32(0) {
                out.push(("prog_type", ProgType(t).to_string()));
            }
            if let Some(name) = a.name(48) {
                out.push(("prog_name", format!("{name:?}")));
            }
            num(&mut out, "insn_cnt", 4);
            if let Some(t) = a.u32(68) {
                out.push(("expected_attach_type", AttachType(t).to_string()));
            }
            if let Some(f) = a.u32(44).filter(|&f| f != 0) {
                out.push(("prog_flags", flags(ProgFlags::from_bits_retain(f))));
            }
            if let Some(fd) = a.u32(72).filter(|&fd| fd != 0) {
                out.push(("prog_btf_fd", fd.to_string()));
                num(&mut out, "func_info_cnt", 88);
                num(&mut out, "line_info_cnt", 104);
            }
            if let Some(id) = a.u32(108).filter(|&id| id != 0) {
                out.push(("attach_btf_id", id.to_string()));
            }
            num(&mut out, "log_level", 24);
        }
        Cmd::BtfLoad => {
            num(&mut out, "btf_size", 16);
            num(&mut out, "btf_log_level", 24);
        }
        Cmd::ProgTestRun => {
            num(&mut out, "prog_fd", 0);
            num(&mut out, "data_size_in", 8);
            num(&mut out, "ctx_size_in", 40);
            num(&mut out, "repeat", 32);
            // Filled in by the kernel.
            num(&mut out, "-> retval", 4);
        }
        Cmd::LinkCreate => {
            num(&mut out, "prog_fd", 0);
            num(&mut out, "target_fd", 4);
            if let Some(t) = a.u32(8) {
                out.push(("attach_type", AttachType(t).to_string()));
            }
            if let Some(f) = a.u32(12).filter(|&f| f != 0) {
                out.push(("flags", format!("{f:#x}")));
            }
        }
        Cmd::LinkDetach => num(&mut out, "link_fd", 0),
        Cmd::ProgAttach | Cmd::ProgDetach => {
            num(&mut out, "target_fd", 0);
            num(&mut out, "attach_bpf_fd", 4);
            if let Some(t) = a.u32(8) {
                out.push(("attach_type", AttachType(t).to_string()));
            }
            if let Some(f) = a.u32(12).filter(|&f| f != 0) {
                out.push(("attach_flags", flags(AttachFlags::from_bits_retain(f))));
            }
        }
        Cmd::ProgQuery => {
            num(&mut out, "target_fd", 0);
            if let Some(t) = a.u32(4) {
                out.push(("attach_type", AttachType(t).to_string()));
            }
            num(&mut out, "-> prog_cnt", 24);
        }
        Cmd::ObjPin | Cmd::ObjGet => {
            if let Some(path) = a.c_str(0) {
                out.push(("pathname", format!("{path:?}")));
            }
            if cmd == Cmd::ObjPin {
                num(&mut out, "bpf_fd", 8);
            } else if let Some(f) = a.u32(12).filter(|&f| f != 0) {
                out.push(("file_flags", flags(ObjGetFlags::from_bits_retain(f))));
            }
        }
        Cmd::ProgGetFdById | Cmd::MapGetFdById | Cmd::BtfGetFdById | Cmd::LinkGetFdById => {
            num(&mut out, "id", 0)
        }
        Cmd::ObjGetInfoByFd => {
            num(&mut out, "bpf_fd", 0);
            num(&mut out, "info_len", 4);
        }
        _ => {}
    }
    out
}

/// `RDONLY_PROG|MMAPABLE`, or the number for bits without a name.
fn flags<F: bitflags::Flags<Bits = u32>>(f: F) -> String {
    let mut names: Vec<String> = f.iter_names().map(|(n, _)| n.to_string()).collect();
    let known = F::all().bits();
    let unknown = f.bits() & !F::from_bits_truncate(known).bits();
    if unknown != 0 || names.is_empty() {
        names.push(format!("{unknown:#x}"));
    }
    names.join("|")
}

/// One trace line.
pub(super) fn format_call(cmd: Cmd, attr: &Attr, ret: &io::Result<i64>, took: Duration) -> String {
    let mut line = format!("bpf({cmd}");
    for (name, value) in fields(cmd, attr) {
        let _ = write!(line, ", {name} {value}");
    }
    match ret {
        Ok(v) => {
            let _ = write!(line, ") = {v}");
        }
        Err(e) => {
            let name = Errno::of(e).and_then(Errno::name).unwrap_or("?");
            let _ = write!(line, ") = -1 {name} ({e})");
        }
    }
    // Integer arithmetic: float formatting would add 10 KB to the binary.
    let tenths = took.as_nanos() / 100;
    let _ = write!(line, " <{}.{} us>", tenths / 10, tenths % 10);
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{object_name, MapCreateAttr};

    #[test]
    fn map_create_is_decoded_with_names() {
        let attr = MapCreateAttr {
            map_type: 2,
            key_size: 4,
            value_size: 8,
            max_entries: 1,
            map_flags: (MapFlags::RDONLY_PROG | MapFlags::MMAPABLE).bits(),
            map_name: object_name(".rodata"),
            btf_fd: 3,
            btf_value_type_id: 7,
            ..Default::default()
        };
        // The same fields as plain bytes, in uapi order.
        let bytes: Vec<u8> = [
            attr.map_type,
            attr.key_size,
            attr.value_size,
            attr.max_entries,
            attr.map_flags,
            0,
            0,
        ]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .chain(attr.map_name)
        .chain([0u32, 3, 0, 7].iter().flat_map(|v| v.to_ne_bytes()))
        .collect();
        let line = format_call(
            Cmd::MapCreate,
            &Attr::of(&bytes),
            &Ok(5),
            Duration::from_micros(12),
        );
        assert_eq!(
            line,
            "bpf(BPF_MAP_CREATE, map_type ARRAY, key_size 4, value_size 8, max_entries 1, \
             map_flags RDONLY_PROG|MMAPABLE, map_name \".rodata\", btf_fd 3, btf_key_type_id 0, \
             btf_value_type_id 7) = 5 <12.0 us>"
        );
    }

    #[test]
    fn errors_and_attach_types_by_name() {
        let bytes: Vec<u8> = [9u32, 6, 1, 0]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        let line = format_call(
            Cmd::LinkCreate,
            &Attr::of(&bytes),
            &Err(io::Error::from_raw_os_error(524)),
            Duration::ZERO,
        );
        assert!(
            line.starts_with(
                "bpf(BPF_LINK_CREATE, prog_fd 9, target_fd 6, attach_type CGROUP_INET_EGRESS) = -1 ENOTSUPP ("
            ),
            "{line}"
        );
        // A short attr (fewer fields than the decoder knows) shows what it has.
        let line = format_call(
            Cmd::ProgLoad,
            &Attr::of(&[8, 0, 0, 0]),
            &Ok(4),
            Duration::ZERO,
        );
        assert_eq!(
            line,
            "bpf(BPF_PROG_LOAD, prog_type CGROUP_SKB) = 4 <0.0 us>"
        );
    }
}
