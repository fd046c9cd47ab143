//! Step 5: plan the object's maps: the BPF_MAP_CREATE attr of each, and
//! what to write into it once it exists. The load layer creates them.
//!
//! Two sources of maps: definitions (`.maps` through BTF, or legacy
//! `struct bpf_map_def` in `maps`) and global data. Each `.rodata*`, `.data*`
//! and `.bss*` section becomes a one-entry ARRAY map whose single value is the
//! section's bytes (key 4 bytes, value = section size); programs reach a global
//! through a pointer into that value (BPF_PSEUDO_MAP_VALUE). `.rodata` is
//! created with BPF_F_RDONLY_PROG, written once and frozen (BPF_MAP_FREEZE), so
//! the verifier may treat its contents as constants.
//!
//! A data section holding at least one global (non-static) variable is also
//! created BPF_F_MMAPABLE, as libbpf does, so user space can map its bytes
//! (the load layer's `Map::mmap`) instead of going through lookups and
//! updates.
//!
//! A map whose value holds `struct bpf_timer` must carry BTF: the kernel looks
//! the timer up in the value type given by `btf_value_type_id`
//! (`map_check_btf` in kernel/bpf/syscall.c). Many map types refuse BTF key
//! and value ids outright (their `map_check_btf` is `map_check_no_btf`: the
//! kernel answers ENOTSUPP, 524): maps of fds and sockets, queues, stacks,
//! ring buffers. [`takes_btf`] knows them by type, so they are created with
//! sizes only and no retry or feature probe is needed.
//!
//! A ring buffer's `max_entries` is its size in bytes, which the kernel
//! wants a power of two and a multiple of the page size (`ringbuf_map_alloc`
//! in kernel/bpf/ringbuf.c answers EINVAL otherwise). As libbpf does
//! (`adjust_ringbuf_sz`), the plan rounds any other size up to the next
//! page size times a power of two ([`ringbuf_size`]): 1000 becomes 4096 on
//! 4 KB pages. The page size is the one fact the plan takes from the
//! system (`sysconf`, no system call).
//!
//! Maps of maps (ARRAY_OF_MAPS, HASH_OF_MAPS) need a template of their inner
//! maps at creation (`inner_map_fd`): rawbpf creates the inner definition
//! from `__array(values, struct inner)` as a throwaway map, passes it, and
//! closes it. Slots written in the object (`.values = { [0] = &other_map }`)
//! are filled with BPF_MAP_UPDATE_ELEM once every map exists; a PROG_ARRAY's
//! slots (`= { [0] = &prog }`) once the programs are loaded (the loader).

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::object::btf::{kind, Btf, BtfMapDef, MapValues};
use crate::object::elf::{DataKind, MapSymbol, Object, Section, SectionKind, Symbol};
use crate::sys::{self, MapCreateAttr, MapFlags};
use crate::uapi::MapType;

/// `BPF_MAP_TYPE_ARRAY`.
pub const MAP_TYPE_ARRAY: u32 = MapType::ARRAY.0;
/// `BPF_MAP_TYPE_SOCKMAP` (the selftest's sk_msg and sk_skb programs).
pub const MAP_TYPE_SOCKMAP: u32 = MapType::SOCKMAP.0;

/// Whether the kernel accepts BTF key/value type ids for this map type. The
/// types listed refuse them with ENOTSUPP (`map_check_no_btf`); libbpf's
/// `bpf_object__create_map` clears the ids for the same list (and retries
/// without BTF for the rest), so a map definition written for libbpf loads
/// here with sizes only.
pub fn takes_btf(map_type: u32) -> bool {
    !matches!(
        MapType(map_type),
        MapType::PROG_ARRAY
            | MapType::PERF_EVENT_ARRAY
            | MapType::STACK_TRACE
            | MapType::CGROUP_ARRAY
            | MapType::ARRAY_OF_MAPS
            | MapType::HASH_OF_MAPS
            | MapType::DEVMAP
            | MapType::SOCKMAP
            | MapType::CPUMAP
            | MapType::XSKMAP
            | MapType::SOCKHASH
            | MapType::REUSEPORT_SOCKARRAY
            | MapType::QUEUE
            | MapType::STACK
            | MapType::DEVMAP_HASH
            | MapType::RINGBUF
            | MapType::USER_RINGBUF
            | MapType::ARENA
    )
}

/// The size a ring buffer (RINGBUF, USER_RINGBUF) of `max_entries`
/// bytes is created with: unchanged if it is already a power-of-two
/// multiple of `page_size` (or 0, which the kernel should refuse by
/// itself), else the smallest `page_size` times a power of two above it
/// (libbpf's `adjust_ringbuf_sz`); unchanged if none fits in a u32.
pub fn ringbuf_size(max_entries: u32, page_size: u32) -> u32 {
    if max_entries == 0 || page_size == 0 {
        return max_entries;
    }
    if max_entries.is_multiple_of(page_size) && (max_entries / page_size).is_power_of_two() {
        return max_entries;
    }
    let mut size = page_size;
    while size <= max_entries {
        match size.checked_mul(2) {
            Some(next) => size = next,
            None => return max_entries,
        }
    }
    size
}

/// Whether `map_type` is a ring buffer, whose size [`ringbuf_size`] adjusts.
pub fn is_ringbuf(map_type: u32) -> bool {
    matches!(MapType(map_type), MapType::RINGBUF | MapType::USER_RINGBUF)
}

/// The system's page size as a u32 (ring buffer sizes are u32).
fn page_size() -> u32 {
    u32::try_from(sys::page_size()).unwrap_or(4096)
}

/// What a slot of a map of maps or program array is initialised with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotTarget {
    /// The map defined by this `.maps` symbol.
    Map(String),
    /// The program of this function name.
    Program(String),
}

/// One statically initialised slot: `.values = { [index] = &target }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// The slot's index (key) in the map.
    pub index: u32,
    /// The map or program whose fd goes in the slot.
    pub target: SlotTarget,
}

/// Where in the object a map comes from: what relocations point at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MapSource {
    /// A definition at `offset` in `.maps` or `maps` (section index `section`).
    Defined {
        /// The section's index.
        section: usize,
        /// The definition's offset in it.
        offset: u64,
    },
    /// The global-data section with this index.
    Data {
        /// The section's index.
        section: usize,
        /// `.data`, `.rodata` or `.bss`.
        kind: DataKind,
    },
    /// The `.kconfig` map holding the object's `__kconfig` extern values.
    Kconfig,
}

/// A map to create: the attr for BPF_MAP_CREATE and what to do after.
#[derive(Clone, Debug)]
pub struct MapSpec<'a> {
    /// The map's name.
    pub name: String,
    /// Where in the object it comes from.
    pub source: MapSource,
    /// What BPF_MAP_CREATE is given.
    pub attr: MapCreateAttr,
    /// Written to key 0 after creation (the bytes of `.data`/`.rodata`).
    pub initial: Option<std::borrow::Cow<'a, [u8]>>,
    /// Freeze after writing (`.rodata`).
    pub freeze: bool,
    /// For maps of maps: the inner map template, created only to be passed
    /// as `inner_map_fd` and closed after.
    pub inner: Option<MapCreateAttr>,
    /// Slots written in the object's `values` initialiser.
    pub slots: Vec<Slot>,
    /// `__uint(pinning, LIBBPF_PIN_BY_NAME)`: reuse or create a pin named
    /// after the map in the load's pin root (see `load::map::create_maps`).
    pub pin_by_name: bool,
}

impl<'a> MapSpec<'a> {
    /// A map created from `attr` and nothing more: no initial value, not
    /// frozen, no inner template, no slots, not pinned.
    pub fn new(name: &str, source: MapSource, attr: MapCreateAttr) -> MapSpec<'a> {
        MapSpec {
            name: name.to_string(),
            source,
            attr,
            initial: None,
            freeze: false,
            inner: None,
            slots: Vec::new(),
            pin_by_name: false,
        }
    }
}

/// `LIBBPF_PIN_BY_NAME`, the value of a map definition's `pinning` member.
pub const PIN_BY_NAME: u32 = 1;

pub(crate) fn map_err(map: &str, what: impl std::fmt::Display) -> Error {
    Error::Map {
        map: map.to_string(),
        what: what.to_string(),
    }
}

/// The sections whose variables are struct_ops maps: `SEC(".struct_ops")`
/// and `SEC(".struct_ops.link")` (registered through a BPF link).
pub const STRUCT_OPS_SECTIONS: [&str; 2] = [".struct_ops", ".struct_ops.link"];

/// The object's struct_ops maps, as (variable name, section name). rawbpf
/// does not create them (see the load layer): their value is a kernel ops
/// struct (`struct tcp_congestion_ops`, ...) laid out from the kernel's
/// BTF with a program fd per member (`bpf_struct_ops_map_update_elem` in
/// kernel/bpf/bpf_struct_ops.c), and creating one registers the ops
/// system-wide.
pub fn struct_ops_maps(obj: &Object<'_>) -> Vec<(String, String)> {
    obj.symbols
        .iter()
        .filter(|s| s.kind == object::elf::STT_OBJECT.0 && !s.name.is_empty())
        .filter_map(|s| {
            let section = &obj.sections[s.section?].name;
            STRUCT_OPS_SECTIONS
                .contains(&section.as_str())
                .then(|| (s.name.clone(), section.clone()))
        })
        .collect()
}

/// Plans every map of `obj` (pure: no kernel involved). `btf` is the fixed-up
/// object BTF, if there is one; `btf_fd` is written into the attrs later.
pub fn plan<'a>(obj: &Object<'a>, btf: Option<&Btf>) -> Result<Vec<MapSpec<'a>>> {
    let btf_defs = match btf {
        Some(btf) => btf.map_defs()?,
        None => Vec::new(),
    };
    let defs = DefsByName::new(&btf_defs);
    let mut specs = Vec::new();
    for sym in &obj.maps {
        let spec = if obj.sections[sym.section].kind == SectionKind::LegacyMaps {
            plan_legacy_map(obj, sym)?
        } else {
            plan_btf_map(obj, sym, &defs, btf.is_none())?
        };
        specs.push(spec);
    }
    let datasecs = datasec_ids(btf)?;
    for (section, kind) in obj.data_sections() {
        specs.push(plan_data_map(section, kind, btf, &datasecs)?);
    }
    check_slot_targets(&specs)?;
    Ok(specs)
}

/// The `.maps` definitions read from BTF, searchable by name.
struct DefsByName<'d> {
    /// The definitions, in BTF order.
    defs: &'d [BtfMapDef],
    // Sorted by name (then by index: the first of a name is found first),
    // for a binary search per map; a scan per map would grow with the square
    // of their number.
    by_name: Vec<(&'d str, usize)>,
}

impl<'d> DefsByName<'d> {
    /// Indexes `defs` by name.
    fn new(defs: &'d [BtfMapDef]) -> Self {
        let mut by_name: Vec<(&str, usize)> = defs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.as_str(), i))
            .collect();
        by_name.sort();
        DefsByName { defs, by_name }
    }

    /// The first definition named `name`.
    fn get(&self, name: &str) -> Option<&'d BtfMapDef> {
        let first = self.by_name.partition_point(|&(n, _)| n < name);
        self.by_name
            .get(first)
            .filter(|&&(n, _)| n == name)
            .map(|&(_, i)| &self.defs[i])
    }
}

/// A legacy map in `maps`: five little-endian u32s of `struct bpf_map_def`
/// give BPF_MAP_CREATE's fields directly; there is no BTF and no way to say
/// what a map of maps holds.
fn plan_legacy_map<'a>(obj: &Object<'a>, sym: &MapSymbol) -> Result<MapSpec<'a>> {
    let section = &obj.sections[sym.section];
    let mut attr = MapCreateAttr {
        map_name: sys::object_name(&sym.name),
        ..Default::default()
    };
    // struct bpf_map_def { type, key_size, value_size, max_entries, map_flags }
    let field = |i: usize| -> Result<u32> {
        let at = usize::try_from(sym.offset)
            .ok()
            .and_then(|o| o.checked_add(4 * i));
        at.and_then(|at| section.data.get(at..at.checked_add(4)?))
            .filter(|_| sym.size >= 20)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| {
                map_err(
                    &sym.name,
                    "legacy definition in 'maps' is shorter than struct bpf_map_def",
                )
            })
    };
    attr.map_type = field(0)?;
    attr.key_size = field(1)?;
    attr.value_size = field(2)?;
    attr.max_entries = field(3)?;
    attr.map_flags = field(4)?;
    if is_ringbuf(attr.map_type) {
        attr.max_entries = ringbuf_size(attr.max_entries, page_size());
    }
    if attr.map_type == MapType::ARRAY_OF_MAPS.0 || attr.map_type == MapType::HASH_OF_MAPS.0 {
        return Err(map_err(
            &sym.name,
            "a map of maps needs its inner map's definition: define it in .maps with __array(values, struct inner)",
        ));
    }
    Ok(MapSpec::new(&sym.name, defined_source(sym), attr))
}

/// A map in `.maps`: its definition is the BTF struct of the same name in the
/// `.maps` DATASEC; a map of maps needs its inner definition for
/// `inner_map_fd`, and `pinning` must be 0 or LIBBPF_PIN_BY_NAME.
fn plan_btf_map<'a>(
    obj: &Object<'a>,
    sym: &MapSymbol,
    defs: &DefsByName<'_>,
    no_btf: bool,
) -> Result<MapSpec<'a>> {
    let def = defs.get(&sym.name).ok_or_else(|| {
        map_err(
            &sym.name,
            if no_btf {
                "maps in '.maps' are defined through BTF, but the object has no .BTF (compile with clang -g)"
            } else {
                "no definition in the .maps DATASEC of .BTF"
            },
        )
    })?;
    let attr = btf_attr(def, &sym.name);
    let mut inner_attr = None;
    match &def.values {
        Some(MapValues::Maps(inner)) => {
            inner_attr = Some(btf_attr(inner, &format!("{}.inner", sym.name)));
        }
        _ if matches!(
            MapType(def.map_type),
            MapType::ARRAY_OF_MAPS | MapType::HASH_OF_MAPS
        ) =>
        {
            return Err(map_err(
                &sym.name,
                "a map of maps needs its inner map's definition: __array(values, struct inner)",
            ));
        }
        _ => {}
    }
    let slots = plan_slots(obj, sym, def)?;
    let pin_by_name = match def.pinning {
        0 => false,
        PIN_BY_NAME => true,
        other => {
            return Err(map_err(
                &sym.name,
                format!("pinning {other} is unknown (0 = none, 1 = LIBBPF_PIN_BY_NAME)"),
            ))
        }
    };
    Ok(MapSpec {
        inner: inner_attr,
        slots,
        pin_by_name,
        ..MapSpec::new(&sym.name, defined_source(sym), attr)
    })
}

/// Where a defined map's relocations point: its symbol's section and offset.
fn defined_source(sym: &MapSymbol) -> MapSource {
    MapSource::Defined {
        section: sym.section,
        offset: sym.offset,
    }
}

/// Each DATASEC's BTF id by name, the value type the kernel expects for a
/// global-data array.
fn datasec_ids(btf: Option<&Btf>) -> Result<BTreeMap<&str, u32>> {
    // Each DATASEC's id by name (the first of a name wins, as in
    // `Btf::find`), found in one pass over the types instead of one pass per
    // data section, which was quadratic in the number of sections.
    let mut datasecs = BTreeMap::new();
    if let Some(btf) = btf {
        for id in btf.ids_of_kind(kind::DATASEC) {
            if let Ok(name) = btf.name(btf.get(id)?.name_off) {
                datasecs.entry(name).or_insert(id);
            }
        }
    }
    Ok(datasecs)
}

/// A global-data section: a one-entry ARRAY map, key 4 bytes, value the
/// section's bytes; `.rodata` is read-only for programs and frozen.
fn plan_data_map<'a>(
    section: &Section<'a>,
    kind: DataKind,
    btf: Option<&Btf>,
    datasecs: &BTreeMap<&str, u32>,
) -> Result<MapSpec<'a>> {
    let value_size = u32::try_from(section.size)
        .map_err(|_| map_err(&section.name, "section too large for a map value"))?;
    let mut attr = MapCreateAttr {
        map_type: MAP_TYPE_ARRAY,
        key_size: 4,
        value_size,
        max_entries: 1,
        map_name: sys::object_name(&section.name),
        ..Default::default()
    };
    if kind == DataKind::Rodata {
        attr.map_flags = MapFlags::RDONLY_PROG.bits();
    }
    // Keyless BTF (key id 0, value = the DATASEC) is what the kernel
    // accepts for global-data arrays (`array_map_check_btf`).
    if let (Some(btf), Some(&id)) = (btf, datasecs.get(section.name.as_str())) {
        attr.btf_value_type_id = id;
        // libbpf's rule: mmapable when user space has a global to see.
        if btf.datasec_has_global_var(id)? {
            attr.map_flags |= MapFlags::MMAPABLE.bits();
        }
    }
    let has_bytes = kind != DataKind::Bss && section.data.iter().any(|&b| b != 0);
    let source = MapSource::Data {
        section: section.index,
        kind,
    };
    Ok(MapSpec {
        // .rodata is always written, so it can always be frozen.
        initial: (has_bytes || kind == DataKind::Rodata).then_some(section.data.into()),
        freeze: kind == DataKind::Rodata,
        ..MapSpec::new(&section.name, source, attr)
    })
}

/// Every map named in a `values` slot must be a map defined in this object:
/// its fd is written there with BPF_MAP_UPDATE_ELEM once all maps exist.
fn check_slot_targets(specs: &[MapSpec<'_>]) -> Result<()> {
    for spec in specs {
        for slot in &spec.slots {
            if let SlotTarget::Map(target) = &slot.target {
                let inner = specs.iter().find(|s| &s.name == target);
                if inner.is_none_or(|s| !matches!(s.source, MapSource::Defined { .. })) {
                    return Err(map_err(
                        &spec.name,
                        format!(
                            "slot {} names '{target}', which is not a map of this object",
                            slot.index
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The BPF_MAP_CREATE attr of a BTF map definition. Types that refuse BTF
/// get sizes only.
fn btf_attr(def: &BtfMapDef, name: &str) -> MapCreateAttr {
    let btf_ok = takes_btf(def.map_type);
    let max_entries = if is_ringbuf(def.map_type) {
        ringbuf_size(def.max_entries, page_size())
    } else {
        def.max_entries
    };
    MapCreateAttr {
        map_type: def.map_type,
        key_size: def.key_size,
        value_size: def.value_size,
        max_entries,
        map_flags: def.map_flags,
        numa_node: def.numa_node,
        map_name: sys::object_name(name),
        btf_key_type_id: if btf_ok { def.key_type_id } else { 0 },
        btf_value_type_id: if btf_ok { def.value_type_id } else { 0 },
        map_extra: def.map_extra,
        ..Default::default()
    }
}

/// The slots of `def`'s static `values` initialiser: each relocation in
/// `.maps` inside the definition's `values` member is one pointer, slot
/// (offset - start of `values`) / 8, to a map or a program.
fn plan_slots(obj: &Object<'_>, sym: &MapSymbol, def: &BtfMapDef) -> Result<Vec<Slot>> {
    let end = sym.offset.saturating_add(sym.size);
    obj.map_relocs
        .iter()
        .filter(|r| (sym.offset..end).contains(&r.offset))
        .map(|r| {
            let target = &obj.symbols[r.symbol];
            let Some(values) = &def.values else {
                return Err(map_err(
                    &sym.name,
                    format!(
                        "a pointer to '{}' in a definition without `values`",
                        target.name
                    ),
                ));
            };
            let index = slot_index(sym, def, r.offset - sym.offset)?;
            let target = slot_target(obj, sym, values, index, target)?;
            Ok(Slot { index, target })
        })
        .collect()
}

/// The slot a pointer at byte `rel` of the definition fills: it must lie in
/// `values`, on an 8-byte boundary, below max_entries.
fn slot_index(sym: &MapSymbol, def: &BtfMapDef, rel: u64) -> Result<u32> {
    let index = rel
        .checked_sub(u64::from(def.values_offset))
        .filter(|d| d % 8 == 0)
        .and_then(|d| u32::try_from(d / 8).ok())
        .ok_or_else(|| {
            map_err(
                &sym.name,
                format!("a pointer at byte {rel} of the definition is not in `values`"),
            )
        })?;
    if index >= def.max_entries {
        return Err(map_err(
            &sym.name,
            format!(
                "`values` slot {index} is past max_entries {}",
                def.max_entries
            ),
        ));
    }
    Ok(index)
}

/// What a slot points to must be what `values` says: a map in `.maps`, or
/// a program (a function in a program section).
fn slot_target(
    obj: &Object<'_>,
    sym: &MapSymbol,
    values: &MapValues,
    index: u32,
    target: &Symbol,
) -> Result<SlotTarget> {
    let section_kind = target.section.map(|i| obj.sections[i].kind);
    match (values, section_kind) {
        (MapValues::Maps(_), Some(SectionKind::Maps)) => Ok(SlotTarget::Map(target.name.clone())),
        (MapValues::Programs, Some(SectionKind::Program))
            if target.kind == object::elf::STT_FUNC.0 =>
        {
            Ok(SlotTarget::Program(target.name.clone()))
        }
        _ => Err(map_err(
            &sym.name,
            format!(
                "`values` slot {index} points to '{}', which is not a {}",
                target.name,
                if matches!(values, MapValues::Maps(_)) {
                    "map in .maps"
                } else {
                    "program"
                }
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::ringbuf_size;

    /// libbpf's `adjust_ringbuf_sz`: a power-of-two multiple of the page
    /// passes, anything else rounds up to the next one.
    #[test]
    fn ring_buffer_sizes_round_up_to_a_power_of_two_of_pages() {
        let page = 4096;
        for (asked, created) in [
            (1000, 4096),
            (4096, 4096),
            (4097, 8192),
            (8192, 8192),
            (12288, 16384), // 3 pages: a multiple, not a power of two
            (1 << 20, 1 << 20),
            (0, 0), // left for the kernel to refuse
        ] {
            assert_eq!(ringbuf_size(asked, page), created, "{asked}");
        }
        assert_eq!(ringbuf_size(100, 65536), 65536, "64 KB pages");
        // Nothing fits in a u32: the size stays, for the kernel to refuse.
        assert_eq!(ringbuf_size(u32::MAX - 5, page), u32::MAX - 5);
    }
}
