//! Map definitions in `.maps`, read from BTF (libbpf's convention, which
//! clang's BTF carries): each map is a global VAR of the `.maps` DATASEC
//! whose type is an anonymous struct, one member per attribute.
//! `__uint(max_entries, 1)` is a member `int (*max_entries)[1]` (the number
//! is an array length), `__type(key, int)` a member `int *key` (the type is
//! what it points to), `__array(values, struct inner)` a member
//! `struct inner *values[]`. The kernel never sees these structs: the
//! loader turns them into BPF_MAP_CREATE attrs ([`crate::object::maps`]).

use super::types::kind;
use super::{btf_err, btf_what, Btf};
use crate::error::Result;
use crate::uapi::MapType;

/// A map definition read from `.maps` BTF.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BtfMapDef {
    /// The map's name (its variable in `.maps`).
    pub name: String,
    /// `type`: the map type (`enum bpf_map_type`).
    pub map_type: u32,
    /// `key_size`, or the size of `key`'s type.
    pub key_size: u32,
    /// `value_size`, or the size of `value`'s type.
    pub value_size: u32,
    /// `max_entries`.
    pub max_entries: u32,
    /// `map_flags`.
    pub map_flags: u32,
    /// The NUMA node to allocate on (`numa_node`; used with BPF_F_NUMA_NODE).
    pub numa_node: u32,
    /// `pinning`: LIBBPF_PIN_BY_NAME (1) or none (0).
    pub pinning: u32,
    /// BTF ids of the key and value types, 0 when only a size was given.
    pub key_type_id: u32,
    /// The value's (see `key_type_id`).
    pub value_type_id: u32,
    /// `map_extra` (bloom filters: the number of hash functions).
    pub map_extra: u64,
    /// What `__array(values, ...)` says the values are, if present.
    pub values: Option<MapValues>,
    /// Byte offset of the `values` member in the definition: where the
    /// pointers of a static initialiser start in `.maps`.
    pub values_offset: u32,
}

/// The values of a map of maps or a program array, from `__array(values, T)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapValues {
    /// `T` is a map definition: the inner map's template (ARRAY_OF_MAPS,
    /// HASH_OF_MAPS).
    Maps(Box<BtfMapDef>),
    /// `T` is a function prototype: programs (PROG_ARRAY).
    Programs,
}

impl Btf {
    /// Reads every map definition of the `.maps` DATASEC.
    pub fn map_defs(&self) -> Result<Vec<BtfMapDef>> {
        let Some(maps) = self.find(kind::DATASEC, ".maps") else {
            return Ok(Vec::new());
        };
        let mut defs = Vec::new();
        for (var, _, _) in self.datasec_vars(maps)? {
            let v = self.get(var)?;
            let name = self.name(v.name_off)?.to_string();
            let def = self
                .map_def(&name, v.size_or_type, false)
                .map_err(|e| btf_err(format!("map '{name}': {}", btf_what(e))))?;
            defs.push(def);
        }
        Ok(defs)
    }

    /// One definition: its struct's members, then the checks that need
    /// them all.
    fn map_def(&self, name: &str, type_id: u32, inner: bool) -> Result<BtfMapDef> {
        let st = self.resolve(type_id)?;
        if self.get(st)?.kind != kind::STRUCT {
            return Err(btf_err("the definition is not a struct"));
        }
        let mut def = BtfMapDef {
            name: name.to_string(),
            ..Default::default()
        };
        for (member, ty, bit_offset) in self.members(st)? {
            self.read_member(&mut def, member, ty, bit_offset, inner)?;
        }
        if def.map_type == 0 {
            return Err(btf_err("no map type"));
        }
        if let Some(values) = &def.values {
            check_values(values, &def, self.value_is_fd(def.value_type_id)?)?;
            // The kernel stores maps and programs by fd: a 4-byte value.
            def.value_size = 4;
        }
        Ok(def)
    }

    /// One attribute of a definition: `__uint`s, `__type`s and `values`.
    fn read_member(
        &self,
        def: &mut BtfMapDef,
        member: &str,
        ty: u32,
        bit_offset: u32,
        inner: bool,
    ) -> Result<()> {
        let uint = || self.uint_member(member, ty);
        match member {
            "type" => def.map_type = uint()?,
            "max_entries" => def.max_entries = uint()?,
            "map_flags" => def.map_flags = uint()?,
            "numa_node" => def.numa_node = uint()?,
            "pinning" => def.pinning = uint()?,
            "key_size" => def.key_size = uint()?,
            "value_size" => def.value_size = uint()?,
            "map_extra" => def.map_extra = u64::from(uint()?),
            "key" => (def.key_type_id, def.key_size) = self.type_member(member, ty)?,
            "value" => (def.value_type_id, def.value_size) = self.type_member(member, ty)?,
            "values" if inner => {
                return Err(btf_err("an inner map cannot itself hold maps or programs"))
            }
            "values" => {
                def.values = Some(self.map_values(&def.name, ty)?);
                def.values_offset = bit_offset / 8;
            }
            other => return Err(btf_err(format!("unknown member '{other}'"))),
        }
        Ok(())
    }

    /// Whether `__type(value, T)` spells the fd a map of maps or program
    /// array holds: no type at all, or a 4-byte integer (`__type(value,
    /// int)` beside `__array(values, ...)`, as libbpf accepts).
    fn value_is_fd(&self, value_type_id: u32) -> Result<bool> {
        if value_type_id == 0 {
            return Ok(true);
        }
        let t = self.get(self.resolve(value_type_id)?)?;
        Ok(t.kind == kind::INT && t.size_or_type == 4)
    }

    /// What member `member` of type `ty` points to.
    fn pointee(&self, member: &str, ty: u32) -> Result<u32> {
        let t = self.get(self.resolve(ty)?)?;
        if t.kind != kind::PTR {
            return Err(btf_err(format!("member '{member}' is not a pointer")));
        }
        Ok(t.size_or_type)
    }

    /// `__uint(name, N)`: `int (*name)[N]`, whose number is the array's length.
    fn uint_member(&self, member: &str, ty: u32) -> Result<u32> {
        Ok(self.array(self.resolve(self.pointee(member, ty)?)?)?.1)
    }

    /// `__type(name, T)`: `T *name`; the type and its size.
    fn type_member(&self, member: &str, ty: u32) -> Result<(u32, u32)> {
        let id = self.pointee(member, ty)?;
        let size = u32::try_from(self.size_of(id)?)
            .map_err(|_| btf_err(format!("the type of member '{member}' is too large")))?;
        Ok((id, size))
    }

    /// `__array(values, T)` is a member `T *values[]`: an ARRAY of PTR to
    /// either a map definition STRUCT or a FUNC_PROTO.
    fn map_values(&self, name: &str, ty: u32) -> Result<MapValues> {
        let array = self.resolve(ty)?;
        if self.get(array)?.kind != kind::ARRAY {
            return Err(btf_err(
                "member 'values' is not an array (use __array(values, T))",
            ));
        }
        let ptr = self.resolve(self.array(array)?.0)?;
        let p = self.get(ptr)?;
        if p.kind != kind::PTR {
            return Err(btf_err("member 'values' is not an array of pointers"));
        }
        let target = self.resolve(p.size_or_type)?;
        match self.get(target)?.kind {
            kind::STRUCT => {
                let inner = self
                    .map_def(&format!("{name}.inner"), target, true)
                    .map_err(|e| btf_err(format!("inner map: {}", btf_what(e))))?;
                Ok(MapValues::Maps(Box::new(inner)))
            }
            kind::FUNC_PROTO => Ok(MapValues::Programs),
            k => Err(btf_err(format!(
                "member 'values' points to BTF kind {k}, neither a map definition nor a function"
            ))),
        }
    }
}

/// `values` of maps fit a map of maps, `values` of programs a program
/// array, and neither a value type or size other than the fd's 4 bytes
/// (`fd_value`: the value type, if any, is a 4-byte integer).
fn check_values(values: &MapValues, def: &BtfMapDef, fd_value: bool) -> Result<()> {
    let (fits, what) = match values {
        MapValues::Maps(_) => (
            matches!(
                MapType(def.map_type),
                MapType::ARRAY_OF_MAPS | MapType::HASH_OF_MAPS
            ),
            "maps",
        ),
        MapValues::Programs => (def.map_type == MapType::PROG_ARRAY.0, "programs"),
    };
    if !fits {
        return Err(btf_err(format!(
            "`values` of {what} does not fit map type {}",
            def.map_type
        )));
    }
    if !fd_value || (def.value_size != 0 && def.value_size != 4) {
        return Err(btf_err(
            "`values` and a value type or size other than a 4-byte int (the fd) contradict each other",
        ));
    }
    Ok(())
}
