//! The number a relocation computes for one side, local or target, once its
//! spec exists there (`bpf_core_calc_field_relo`, `bpf_core_calc_type_relo`,
//! `bpf_core_calc_enumval_relo`).

use super::relo;
use super::spec::Spec;
use crate::error::{Error, Result};
use crate::object::btf::{kind, BtfSource, Type};

/// What one relocation computes for one side (local or target).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Value {
    pub val: u64,
    /// For a plain field's byte offset: the field's size and type (to adjust
    /// a load's access size).
    pub mem: Option<(u64, u32)>,
    /// Whether the instruction's current number must equal the local value.
    pub validate: bool,
}

/// The value of relocation kind `k` for spec `s` in `src`.
pub(super) fn value_of(src: &dyn BtfSource, s: &Spec, k: u32) -> Result<Value> {
    let mut v = Value {
        validate: true,
        ..Value::default()
    };
    v.val = match k {
        relo::FIELD_EXISTS | relo::TYPE_EXISTS | relo::TYPE_MATCHES | relo::ENUMVAL_EXISTS => 1,
        relo::TYPE_ID_LOCAL | relo::TYPE_ID_TARGET => {
            v.validate = k == relo::TYPE_ID_LOCAL;
            u64::from(s.root)
        }
        relo::TYPE_SIZE => src.size_of(s.root)?,
        relo::ENUMVAL_VALUE => s.enumval.as_ref().map_or(0, |e| e.1),
        _ if !s.end.named => element_value(src, s, k, &mut v)?,
        _ => field_value(src, s, k, &mut v)?,
    };
    Ok(v)
}

fn unsupported(k: u32) -> Error {
    Error::Btf(format!(
        "relocation kind {} cannot be applied to an array element",
        relo::name(k)
    ))
}

/// A path that ends at an array element: only its offset and size.
fn element_value(src: &dyn BtfSource, s: &Spec, k: u32, v: &mut Value) -> Result<u64> {
    let size = src.size_of(s.end.type_id)?;
    match k {
        relo::FIELD_BYTE_OFFSET => {
            v.mem = Some((size, s.end.type_id));
            Ok(s.bit_offset / 8)
        }
        relo::FIELD_BYTE_SIZE => Ok(size),
        _ => Err(unsupported(k)),
    }
}

/// Where a field is loaded from: the load's byte offset and size, and the
/// field's size in bits.
struct Load {
    byte_off: u64,
    byte_sz: u64,
    bit_sz: u64,
}

/// A path that ends at a named member, bitfield or not.
fn field_value(src: &dyn BtfSource, s: &Spec, k: u32, v: &mut Value) -> Result<u64> {
    let (mid, mt) = src.skip_modifiers(s.end.type_id)?;
    let load = if s.end.bit_size > 0 {
        // Compiler and loader may choose differently for bitfields.
        v.validate = false;
        bitfield_load(s.bit_offset, u64::from(s.end.bit_size), &mt)?
    } else {
        let sz = src.size_of(mid)?;
        Load {
            byte_off: s.bit_offset / 8,
            byte_sz: sz,
            bit_sz: sz.saturating_mul(8),
        }
    };
    Ok(match k {
        relo::FIELD_BYTE_OFFSET => {
            if s.end.bit_size == 0 {
                v.mem = Some((load.byte_sz, s.end.type_id));
            }
            load.byte_off
        }
        relo::FIELD_BYTE_SIZE => load.byte_sz,
        relo::FIELD_SIGNED => {
            v.validate = true;
            let signed = (mt.is_enum() && mt.kflag) || (mt.kind == kind::INT && mt.int()?.signed());
            u64::from(signed)
        }
        // In u64 arithmetic that wraps, as the kernel's does in u32: a shift of a
        // field wider than 64 bits is meaningless, not a reason to panic.
        relo::FIELD_LSHIFT_U64 => {
            let end = (s.bit_offset.wrapping_add(load.bit_sz)).wrapping_sub(load.byte_off * 8);
            64u64.wrapping_sub(end)
        }
        relo::FIELD_RSHIFT_U64 => {
            v.validate = true;
            64u64.wrapping_sub(load.bit_sz)
        }
        _ => return Err(unsupported(k)),
    })
}

/// The smallest aligned load, of at least the field's declared integer
/// size, that covers the whole bitfield of `bit_sz` bits at `bit_off`.
fn bitfield_load(bit_off: u64, bit_sz: u64, declared: &Type<'_>) -> Result<Load> {
    let mut byte_sz = u64::from(declared.size_or_type).max(1);
    let mut byte_off = bit_off / 8 / byte_sz * byte_sz;
    while bit_off + bit_sz - byte_off * 8 > byte_sz * 8 {
        if byte_sz >= 8 {
            return Err(Error::Btf(
                "bitfield cannot be read with one 64-bit load".into(),
            ));
        }
        byte_sz *= 2;
        byte_off = bit_off / 8 / byte_sz * byte_sz;
    }
    Ok(Load {
        byte_off,
        byte_sz,
        bit_sz,
    })
}
