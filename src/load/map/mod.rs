//! Maps: creating an object's maps, and [`Map`], the safe handle to a map.
//!
//! The kernel alone decides how many bytes each map command copies to or
//! from user space: `key_size` bytes of key and `bpf_map_value_size` bytes
//! of value (kernel/bpf/syscall.c), which for the per-CPU maps is one value
//! per possible CPU, each rounded up to 8 bytes (`bpf_percpu_array_copy`).
//! So a [`Map`] knows its type and sizes, from its creation
//! (`bpf_map_init_from_attr` keeps the attr's) or from OBJ_GET_INFO_BY_FD
//! ([`Map::from_pin`], [`Map::from_fd`]); keeps them private, where no
//! caller can change them; and checks every buffer against them before
//! the call (in `sys::SizedMap`, the only way to the element commands).
//! A call that does not fit the map's kind (a plain lookup on a per-CPU
//! map, any lookup on a ring buffer) is refused by name before any system
//! call too.
//!
//! | map types | calls |
//! |---|---|
//! | ARRAY, HASH, LRU_HASH, LPM_TRIE, ... | [`lookup`](Map::lookup), [`update`](Map::update), [`delete`](Map::delete), [`keys`](Map::keys), [`entries`](Map::entries), [`lookup_and_delete`](Map::lookup_and_delete), batches, typed [`lookup_as`](Map::lookup_as) |
//! | PERCPU_ARRAY, PERCPU_HASH, LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE | [`lookup_percpu`](Map::lookup_percpu), [`update_percpu`](Map::update_percpu), delete, keys |
//! | QUEUE, STACK | [`push`](Map::push), [`pop`](Map::pop), [`peek`](Map::peek) |
//! | BLOOM_FILTER | push |
//! | PROG_ARRAY, *_OF_MAPS, SOCKMAP, ... | also [`update_fd`](Map::update_fd), [`lookup_id`](Map::lookup_id) |
//! | RINGBUF, USER_RINGBUF | none (a ring buffer has no elements) |

mod batch;
mod create;
mod elem;
mod iter;
mod percpu;
mod pod;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::error::{Error, Result};
use crate::kernel::bpffs::{self, fd_kind};
use crate::object::maps::MapSource;
use crate::sys::{self, MapCallError, MapCreateAttr, MapFlags, MapMmap, SizedMap};
use crate::uapi::{Cmd, MapType};

pub use crate::sys::{Pod, UpdateFlags};
pub use batch::{Batch, BatchToken};
pub use create::{create, create_maps, unpin_made, ByNamePin};
pub use iter::{Entries, Keys, UNSIZED_LIMIT};

/// A map in the kernel, with the type and sizes the kernel keeps for it.
#[derive(Debug)]
pub struct Map {
    /// The map's name: the object's, or the kernel's 15 characters of it
    /// for a map opened by pin or fd.
    pub(crate) name: String,
    /// Where in the object it comes from (None: opened by pin or fd, or
    /// created by [`Map::create`]).
    pub(crate) source: Option<MapSource>,
    /// Asked to be pinned by name (LIBBPF_PIN_BY_NAME).
    pub(crate) pin_by_name: bool,
    map: SizedMap,
}

/// What calls a map's type takes (see the module doc's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A key and one value.
    Keyed,
    /// A key and one value per possible CPU.
    PerCpu,
    /// No key: QUEUE, STACK.
    Queue,
    /// No key, and nothing to read back: BLOOM_FILTER.
    Bloom,
    /// No elements: RINGBUF, USER_RINGBUF.
    Stream,
}

impl Map {
    /// Creates a map without BTF: `name` (the kernel keeps 15 characters of
    /// letters, digits, `_` and `.`), type, sizes, entries and flags.
    pub fn create(
        name: &str,
        map_type: MapType,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
        flags: MapFlags,
    ) -> Result<Map> {
        let attr = MapCreateAttr {
            map_type: map_type.0,
            key_size,
            value_size,
            max_entries,
            map_flags: flags.bits(),
            map_name: sys::object_name(name),
            ..Default::default()
        };
        Map::create_with(name, &attr)
    }

    /// Creates a map from a whole BPF_MAP_CREATE attr: an inner map fd for a
    /// map of maps, BTF ids, a NUMA node. `attr.map_name` is sent as given.
    pub fn create_with(name: &str, attr: &MapCreateAttr) -> Result<Map> {
        let map = SizedMap::create(attr).map_err(create::create_error(attr, name))?;
        Ok(Map::new(name.to_string(), None, false, map))
    }

    pub(crate) fn new(
        name: String,
        source: Option<MapSource>,
        pin_by_name: bool,
        map: SizedMap,
    ) -> Map {
        Map {
            name,
            source,
            pin_by_name,
            map,
        }
    }

    /// Opens the map pinned at `path` in bpffs (BPF_OBJ_GET), with its type
    /// and sizes from the kernel (OBJ_GET_INFO_BY_FD).
    pub fn from_pin(path: impl AsRef<Path>) -> Result<Map> {
        let path = path.as_ref();
        let fd = bpffs::open_pinned(path)?;
        Map::open(fd, &path.display().to_string())
    }

    /// Takes a map fd (from another process, a pin, BPF_MAP_GET_FD_BY_ID),
    /// with its type and sizes from the kernel (OBJ_GET_INFO_BY_FD).
    pub fn from_fd(fd: OwnedFd) -> Result<Map> {
        Map::open(fd, "the fd")
    }

    fn open(fd: OwnedFd, what: &str) -> Result<Map> {
        // Where /proc tells: the same info call would also answer for a
        // program or a link (with the wrong meaning; sound all the same,
        // see `SizedMap::from_fd`, but a person wants to hear it).
        if let Ok(kind) = fd_kind(fd.as_fd()) {
            if kind != bpffs::MAP_INODE {
                return Err(Error::Map {
                    map: what.to_string(),
                    what: format!("it is {kind}, not a map"),
                });
            }
        }
        let (map, info) = SizedMap::from_fd(fd).map_err(Error::sys(Cmd::ObjGetInfoByFd, what))?;
        let len = info.name.iter().position(|&b| b == 0).unwrap_or(16);
        let name = String::from_utf8_lossy(&info.name[..len]).into_owned();
        Ok(Map::new(name, None, false, map))
    }

    /// Pins the map at `path` in bpffs (BPF_OBJ_PIN): it outlives this
    /// process until the pin is removed.
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<()> {
        bpffs::pin(self.fd(), path.as_ref())
    }

    /// The map's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where in the object the map comes from; None for a map opened by
    /// pin or fd or made by [`Map::create`].
    pub fn source(&self) -> Option<MapSource> {
        self.source
    }

    /// Whether the object asked for it to be pinned by name.
    pub fn pin_by_name(&self) -> bool {
        self.pin_by_name
    }

    /// The map's type.
    pub fn map_type(&self) -> MapType {
        self.map.map_type()
    }

    /// Bytes of a key.
    pub fn key_size(&self) -> u32 {
        self.map.key_size()
    }

    /// Bytes of a value (of one CPU's value, for a per-CPU map).
    pub fn value_size(&self) -> u32 {
        self.map.value_size()
    }

    /// `max_entries`.
    pub fn max_entries(&self) -> u32 {
        self.map.max_entries()
    }

    /// The map's `map_flags`.
    pub fn flags(&self) -> MapFlags {
        self.map.flags()
    }

    /// Whether an element holds one value per possible CPU.
    pub fn is_per_cpu(&self) -> bool {
        self.map.is_per_cpu()
    }

    /// The map's fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.map.fd()
    }

    /// The kernel's view of the map (OBJ_GET_INFO_BY_FD).
    pub fn info(&self) -> Result<sys::MapInfo> {
        sys::map_info(self.fd()).map_err(Error::sys(Cmd::ObjGetInfoByFd, self.what()))
    }

    /// Maps the values of a BPF_F_MMAPABLE array (a data section with
    /// globals: `.data`, `.bss`, `.rodata`) into memory, read-only unless
    /// `writable`. A frozen map such as `.rodata` maps only read-only.
    pub fn mmap(&self, writable: bool) -> Result<MapMmap> {
        if !self.flags().contains(MapFlags::MMAPABLE) || self.map_type() != MapType::ARRAY {
            return Err(self.err(format!(
                "mmap: only an ARRAY created BPF_F_MMAPABLE is mapped, this is a {}{}",
                self.map_type(),
                if self.flags().contains(MapFlags::MMAPABLE) {
                    ""
                } else {
                    " without BPF_F_MMAPABLE"
                }
            )));
        }
        self.map
            .mmap(writable)
            .map_err(|e| Error::os(format!("mmap of {}", self.what()), e))
    }

    fn kind(&self) -> Kind {
        match self.map_type() {
            t if sys::is_per_cpu(t) => Kind::PerCpu,
            MapType::QUEUE | MapType::STACK => Kind::Queue,
            MapType::BLOOM_FILTER => Kind::Bloom,
            MapType::RINGBUF | MapType::USER_RINGBUF => Kind::Stream,
            _ => Kind::Keyed,
        }
    }

    /// Refuses `call` unless the map is of one of the kinds in `allowed`,
    /// saying which calls the map does take.
    fn require(&self, call: &str, allowed: &[Kind]) -> Result<()> {
        let kind = self.kind();
        if allowed.contains(&kind) {
            return Ok(());
        }
        let t = self.map_type();
        let why = match kind {
            Kind::Keyed => format!("a {t} map holds one value per key: use lookup and update"),
            Kind::PerCpu => format!(
                "a {t} map holds one value per possible CPU: use lookup_percpu and update_percpu"
            ),
            Kind::Queue => format!("a {t} map has no keys: use push, pop and peek"),
            Kind::Bloom => format!("a {t} map has no keys and gives no values back: use push"),
            Kind::Stream => {
                format!("a {t} map is a ring buffer: it has no elements to look up or update")
            }
        };
        Err(self.err(format!("{call}: {why}")))
    }

    fn what(&self) -> String {
        format!("map '{}'", self.name)
    }

    fn err(&self, what: String) -> Error {
        Error::Map {
            map: self.name.clone(),
            what,
        }
    }

    /// A checked call's failure: a buffer of the wrong length (no system
    /// call made), or the kernel's errno for `cmd`.
    fn failed<'a>(&'a self, call: &'a str, cmd: Cmd) -> impl FnOnce(MapCallError) -> Error + 'a {
        move |e| match e {
            MapCallError::Length { what, len, want } => self.err(format!(
                "{call}: the {what} is {len} bytes, where the map takes {want}"
            )),
            MapCallError::Os(e) => Error::sys(cmd, format!("{call} on {}", self.what()))(e),
        }
    }
}

impl AsFd for Map {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd()
    }
}
