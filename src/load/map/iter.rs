//! Walking a map's keys with BPF_MAP_GET_NEXT_KEY, bounded.
//!
//! The kernel walks by "the key after this one". When a program deletes
//! that key in between, a hash map answers with its *first* key
//! (`htab_map_get_next_key` in kernel/bpf/hashtab.c), so a walk over a map
//! that keeps changing could go on for ever. A map holds at most
//! `max_entries` elements, so a walk here yields at most that many keys;
//! if the kernel still has another after that, the walk ends with an error
//! saying the map changed under it (start again, or take a batch). Maps
//! created with `max_entries` 0 (cgroup storage) are bounded at
//! [`UNSIZED_LIMIT`] keys instead. Keys may repeat when the kernel
//! restarted; none is skipped unless it was deleted or added meanwhile.

use super::{Kind, Map};
use crate::error::{Error, Result};

/// The bound of a walk over a map whose `max_entries` is 0.
pub const UNSIZED_LIMIT: u32 = 1 << 16;

/// The keys of a map, in the kernel's order; see the module doc for the
/// bound. Made by [`Map::keys`].
#[derive(Debug)]
pub struct Keys<'a> {
    map: &'a Map,
    prev: Option<Vec<u8>>,
    /// The most keys this walk yields.
    limit: u32,
    seen: u32,
    done: bool,
}

impl Iterator for Keys<'_> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Result<Vec<u8>>> {
        if self.done {
            return None;
        }
        let next = match self.map.next_key(self.prev.as_deref()) {
            Ok(Some(key)) => key,
            Ok(None) => {
                self.done = true;
                return None;
            }
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        if self.seen == self.limit {
            self.done = true;
            return Some(Err(self.map.err(format!(
                "keys: the kernel has more keys after {} (the most the map holds): \
                 the map changed during the walk",
                self.limit
            ))));
        }
        self.seen += 1;
        self.prev = Some(next.clone());
        Some(Ok(next))
    }
}

/// The keys and values of a map; a key deleted between the two calls is
/// left out. Made by [`Map::entries`].
#[derive(Debug)]
pub struct Entries<'a> {
    keys: Keys<'a>,
    /// Why the map has no entries to walk (a per-CPU map, a queue).
    refused: Option<Error>,
}

impl Iterator for Entries<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.refused.take() {
            self.keys.done = true;
            return Some(Err(e));
        }
        loop {
            let key = match self.keys.next()? {
                Ok(key) => key,
                Err(e) => return Some(Err(e)),
            };
            match self.keys.map.lookup(&key) {
                Ok(Some(value)) => return Some(Ok((key, value))),
                Ok(None) => continue,
                Err(e) => {
                    self.keys.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

impl Map {
    /// Every key of the map, at most `max_entries` of them (see the module
    /// doc of `map::iter`). Each item is a key or, once, the error that
    /// ended the walk.
    pub fn keys(&self) -> Keys<'_> {
        let limit = match self.max_entries() {
            0 => UNSIZED_LIMIT,
            n => n,
        };
        Keys {
            map: self,
            prev: None,
            limit,
            seen: 0,
            done: false,
        }
    }

    /// Every key with its value, as [`Map::keys`] bounds them. For a
    /// per-CPU map, walk [`Map::keys`] and call [`Map::lookup_percpu`].
    pub fn entries(&self) -> Entries<'_> {
        Entries {
            keys: self.keys(),
            refused: self.require("entries", &[Kind::Keyed]).err(),
        }
    }
}
