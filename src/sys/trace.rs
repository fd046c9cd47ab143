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
    if tracing() {
        let attr = Attr {
            base: attr as *const T as *const u8,
            len: std::mem::size_of::<T>(),
        };
        print_call(elapsed, cmd, &attr, ret);
    }
}

/// [`finish`]'s work, not generic: written once, not once per attr type.
#[inline(never)]
fn print_call(elapsed: Duration, cmd: Cmd, attr: &Attr, ret: &io::Result<i64>) {
    let line = format_call(cmd, attr, ret, elapsed);
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

/// The decoded fields of one call, in the order shown.
struct Fields<'a> {
    attr: &'a Attr,
    out: Vec<(&'static str, String)>,
}

impl Fields<'_> {
    /// The u32 at `off`, as a number.
    fn num(&mut self, name: &'static str, off: usize) {
        if let Some(v) = self.attr.u32(off) {
            self.out.push((name, v.to_string()));
        }
    }

    /// The u32 at `off`, shown by `show`, unless it is 0.
    fn nonzero(&mut self, name: &'static str, off: usize, show: impl Fn(u32) -> String) {
        if let Some(v) = self.attr.u32(off).filter(|&v| v != 0) {
            self.out.push((name, show(v)));
        }
    }

    /// The u32 at `off`, shown by `show`.
    fn named(&mut self, name: &'static str, off: usize, show: impl Fn(u32) -> String) {
        if let Some(v) = self.attr.u32(off) {
            self.out.push((name, show(v)));
        }
    }

    /// The object name (16 bytes) at `off`.
    fn object_name(&mut self, name: &'static str, off: usize) {
        if let Some(n) = self.attr.name(off) {
            self.out.push((name, format!("{n:?}")));
        }
    }
}

/// The fields of `cmd` worth showing, as `name value` pairs.
fn fields(cmd: Cmd, a: &Attr) -> Vec<(&'static str, String)> {
    let mut f = Fields {
        attr: a,
        out: Vec::new(),
    };
    match cmd {
        Cmd::MapCreate => map_create(&mut f),
        Cmd::MapLookupElem
        | Cmd::MapUpdateElem
        | Cmd::MapDeleteElem
        | Cmd::MapGetNextKey
        | Cmd::MapLookupAndDeleteElem => map_elem(&mut f, cmd),
        Cmd::MapFreeze => f.num("map_fd", 0),
        Cmd::MapLookupBatch
        | Cmd::MapLookupAndDeleteBatch
        | Cmd::MapUpdateBatch
        | Cmd::MapDeleteBatch => {
            // `batch`: count 32 (in, then out), map_fd 36.
            f.num("map_fd", 36);
            f.num("count", 32);
        }
        Cmd::ProgLoad => prog_load(&mut f),
        Cmd::BtfLoad => {
            f.num("btf_size", 16);
            f.num("btf_log_level", 24);
        }
        Cmd::ProgTestRun => {
            f.num("prog_fd", 0);
            f.num("data_size_in", 8);
            f.num("ctx_size_in", 40);
            f.num("repeat", 32);
            // Filled in by the kernel.
            f.num("-> retval", 4);
        }
        Cmd::LinkCreate | Cmd::LinkDetach | Cmd::ProgAttach | Cmd::ProgDetach | Cmd::ProgQuery => {
            attach(&mut f, cmd)
        }
        Cmd::ObjPin | Cmd::ObjGet => pin(&mut f, cmd),
        Cmd::ProgGetFdById | Cmd::MapGetFdById | Cmd::BtfGetFdById | Cmd::LinkGetFdById => {
            f.num("id", 0)
        }
        Cmd::ObjGetInfoByFd => {
            f.num("bpf_fd", 0);
            f.num("info_len", 4);
        }
        _ => {}
    }
    f.out
}

/// BPF_MAP_CREATE: type, sizes, flags, name, BTF ids.
fn map_create(f: &mut Fields<'_>) {
    f.named("map_type", 0, |t| MapType(t).to_string());
    f.num("key_size", 4);
    f.num("value_size", 8);
    f.num("max_entries", 12);
    f.nonzero("map_flags", 16, |v| flags(MapFlags::from_bits_retain(v)));
    f.nonzero("inner_map_fd", 20, |fd| fd.to_string());
    f.object_name("map_name", 28);
    if f.attr.u32(48).is_some_and(|fd| fd != 0) {
        f.num("btf_fd", 48);
        f.num("btf_key_type_id", 52);
        f.num("btf_value_type_id", 56);
    }
}

/// An element command: the map, and an update's flags by name.
fn map_elem(f: &mut Fields<'_>, cmd: Cmd) {
    f.num("map_fd", 0);
    if cmd == Cmd::MapUpdateElem {
        let name = match f.attr.u64(24).unwrap_or(0) {
            0 => "BPF_ANY".to_string(),
            1 => "BPF_NOEXIST".to_string(),
            2 => "BPF_EXIST".to_string(),
            4 => "BPF_F_LOCK".to_string(),
            v => format!("{v:#x}"),
        };
        f.out.push(("flags", name));
    }
}

/// BPF_PROG_LOAD: type, name, size, attach type, flags, BTF, log level.
fn prog_load(f: &mut Fields<'_>) {
    f.named("prog_type", 0, |t| ProgType(t).to_string());
    f.object_name("prog_name", 48);
    f.num("insn_cnt", 4);
    f.named("expected_attach_type", 68, |t| AttachType(t).to_string());
    f.nonzero("prog_flags", 44, |v| flags(ProgFlags::from_bits_retain(v)));
    if f.attr.u32(72).is_some_and(|fd| fd != 0) {
        f.num("prog_btf_fd", 72);
        f.num("func_info_cnt", 88);
        f.num("line_info_cnt", 104);
    }
    f.nonzero("attach_btf_id", 108, |id| id.to_string());
    f.num("log_level", 24);
}

/// Attaching, detaching and querying: targets, attach types, flags.
fn attach(f: &mut Fields<'_>, cmd: Cmd) {
    let attach_type = |t| AttachType(t).to_string();
    match cmd {
        Cmd::LinkCreate => {
            f.num("prog_fd", 0);
            f.num("target_fd", 4);
            f.named("attach_type", 8, attach_type);
            f.nonzero("flags", 12, |v| format!("{v:#x}"));
        }
        Cmd::LinkDetach => f.num("link_fd", 0),
        Cmd::ProgQuery => {
            f.num("target_fd", 0);
            f.named("attach_type", 4, attach_type);
            f.num("-> prog_cnt", 24);
        }
        _ => {
            f.num("target_fd", 0);
            f.num("attach_bpf_fd", 4);
            f.named("attach_type", 8, attach_type);
            f.nonzero("attach_flags", 12, |v| {
                flags(AttachFlags::from_bits_retain(v))
            });
        }
    }
}

/// BPF_OBJ_PIN and BPF_OBJ_GET: the path, and the fd or flags.
fn pin(f: &mut Fields<'_>, cmd: Cmd) {
    if let Some(path) = f.attr.c_str(0) {
        f.out.push(("pathname", format!("{path:?}")));
    }
    if cmd == Cmd::ObjPin {
        f.num("bpf_fd", 8);
    }
    f.nonzero("file_flags", 12, |v| {
        flags(ObjGetFlags::from_bits_retain(v))
    });
    if f.attr
        .u32(12)
        .is_some_and(|v| v & ObjGetFlags::PATH_FD.bits() != 0)
    {
        f.num("path_fd", 16);
    }
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
