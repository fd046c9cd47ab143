//! Element calls on one key: BPF_MAP_LOOKUP_ELEM, UPDATE_ELEM, DELETE_ELEM,
//! GET_NEXT_KEY, LOOKUP_AND_DELETE_ELEM; a queue's or stack's push, pop and
//! peek (the same commands with no key: `map_push_elem`, `map_pop_elem`,
//! `map_peek_elem` in kernel/bpf/queue_stack_maps.c); and the fds that
//! program arrays and maps of maps take in (`bpf_fd_array_map_update_elem`)
//! and the ids they give back.

use std::os::fd::{AsRawFd, BorrowedFd};

use super::{Kind, Map, UpdateFlags};
use crate::error::Result;
use crate::sys::holds_fds;
use crate::uapi::{Cmd, MapType};

impl Map {
    /// The value at `key` (`value_size` bytes), or None if there is none.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.require("lookup", &[Kind::Keyed])?;
        self.map
            .lookup(key)
            .map_err(self.failed("lookup", Cmd::MapLookupElem))
    }

    /// Sets `key` to `value`: `UpdateFlags::Any` creates or replaces,
    /// `NoExist` only creates (EEXIST), `Exist` only replaces (ENOENT).
    pub fn update(&self, key: &[u8], value: &[u8], flags: UpdateFlags) -> Result<()> {
        self.require("update", &[Kind::Keyed])?;
        self.map
            .update(key, value, flags)
            .map_err(self.failed("update", Cmd::MapUpdateElem))
    }

    /// Deletes `key`: true if it was there, false if not. (Arrays have no
    /// deletion: the kernel says EINVAL.)
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.require("delete", &[Kind::Keyed, Kind::PerCpu])?;
        self.map
            .delete(key)
            .map_err(self.failed("delete", Cmd::MapDeleteElem))
    }

    /// The key after `key` in the kernel's order (the first key for None),
    /// or None after the last. A hash map whose `key` was deleted starts
    /// again from its first key (`htab_map_get_next_key`); [`Map::keys`]
    /// bounds a walk for that reason.
    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>> {
        self.require("next_key", &[Kind::Keyed, Kind::PerCpu])?;
        self.map
            .next_key(key)
            .map_err(self.failed("next_key", Cmd::MapGetNextKey))
    }

    /// The value at `key`, removed from the map in the same call; None if
    /// there was none. Hash maps only (Linux 5.14).
    pub fn lookup_and_delete(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.require("lookup_and_delete", &[Kind::Keyed])?;
        self.map
            .lookup_and_delete(key)
            .map_err(self.failed("lookup_and_delete", Cmd::MapLookupAndDeleteElem))
    }

    /// Pushes `value` onto a queue or stack (E2BIG when full), or adds it
    /// to a bloom filter.
    pub fn push(&self, value: &[u8]) -> Result<()> {
        self.require("push", &[Kind::Queue, Kind::Bloom])?;
        self.map
            .update(&[], value, UpdateFlags::Any)
            .map_err(self.failed("push", Cmd::MapUpdateElem))
    }

    /// Takes the next value off a queue (the oldest) or stack (the newest);
    /// None if it is empty.
    pub fn pop(&self) -> Result<Option<Vec<u8>>> {
        self.require("pop", &[Kind::Queue])?;
        self.map
            .lookup_and_delete(&[])
            .map_err(self.failed("pop", Cmd::MapLookupAndDeleteElem))
    }

    /// The value [`pop`](Map::pop) would take, left in place.
    pub fn peek(&self) -> Result<Option<Vec<u8>>> {
        self.require("peek", &[Kind::Queue])?;
        self.map
            .lookup(&[])
            .map_err(self.failed("peek", Cmd::MapLookupElem))
    }

    /// Puts the object behind `fd` into slot `index`: a program into a
    /// PROG_ARRAY, a map into an ARRAY_OF_MAPS or HASH_OF_MAPS, a perf event,
    /// cgroup, socket or XDP socket into the maps that hold those. The
    /// kernel takes the fd and keeps a reference to the object.
    pub fn update_fd(&self, index: u32, fd: BorrowedFd<'_>) -> Result<()> {
        let call = "update_fd";
        let takes_fds = holds_fds(self.map_type())
            || matches!(
                self.map_type(),
                MapType::SOCKMAP
                    | MapType::SOCKHASH
                    | MapType::XSKMAP
                    | MapType::REUSEPORT_SOCKARRAY
            );
        if !takes_fds {
            return Err(self.err(format!(
                "{call}: a {} map's values are not file descriptors",
                self.map_type()
            )));
        }
        if self.key_size() != 4 {
            return Err(self.err(format!(
                "{call}: slots are 4-byte indexes, the map's key is {} bytes",
                self.key_size()
            )));
        }
        // A socket map may take its fd as a u64 (value_size 8,
        // `sock_map_update_elem_sys`); the others read a u32.
        let raw = fd.as_raw_fd();
        let value = match self.value_size() {
            8 if !holds_fds(self.map_type()) => (raw as u64).to_ne_bytes().to_vec(),
            _ => (raw as u32).to_ne_bytes().to_vec(),
        };
        self.map
            .update(&index.to_ne_bytes(), &value, UpdateFlags::Any)
            .map_err(self.failed(call, Cmd::MapUpdateElem))
    }

    /// The id of the program or map in slot `index` of a PROG_ARRAY,
    /// ARRAY_OF_MAPS or HASH_OF_MAPS (what the kernel hands out for the fd
    /// it took), or None for an empty slot.
    pub fn lookup_id(&self, index: u32) -> Result<Option<u32>> {
        let call = "lookup_id";
        if !matches!(
            self.map_type(),
            MapType::PROG_ARRAY | MapType::ARRAY_OF_MAPS | MapType::HASH_OF_MAPS
        ) {
            return Err(self.err(format!(
                "{call}: a {} map gives no program or map ids back",
                self.map_type()
            )));
        }
        let value = self
            .map
            .lookup(&index.to_ne_bytes())
            .map_err(self.failed(call, Cmd::MapLookupElem))?;
        Ok(value.and_then(|v| Some(u32::from_ne_bytes(v.get(..4)?.try_into().ok()?))))
    }
}
