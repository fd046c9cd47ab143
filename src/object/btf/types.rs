//! The one model of BTF types, for every BTF rawbpf reads: the object's own
//! ([`super::Btf`], a blob in memory) and the kernel's
//! ([`crate::kernel::btf`], read lean, a record at a time).
//!
//! A type section is a run of records, each a 12-byte `struct btf_type`
//! followed by as many kind-specific bytes as its kind and `vlen` say
//! (`btf_type_size`, checked by the kernel's `btf_check_all_metas`). Both
//! readers find records with [`scan_records`] and decode them with
//! [`Type::decode`]; both answer the questions the loader asks through
//! [`BtfSource`], whose walks (skipping typedefs and qualifiers, sizes) are
//! written once here, bounded against loops as the kernel bounds them
//! (`MAX_RESOLVE_DEPTH` in kernel/bpf/btf.c).

use std::borrow::Cow;

use crate::error::{Error, Result};

/// BTF kinds as the `u8` the `info` word holds (named in [`crate::uapi::BtfKind`]).
pub mod kind {
    use crate::uapi::BtfKind;

    /// `BTF_KIND_INT`.
    pub const INT: u8 = BtfKind::INT.0 as u8;
    /// `BTF_KIND_PTR`.
    pub const PTR: u8 = BtfKind::PTR.0 as u8;
    /// `BTF_KIND_ARRAY`.
    pub const ARRAY: u8 = BtfKind::ARRAY.0 as u8;
    /// `BTF_KIND_STRUCT`.
    pub const STRUCT: u8 = BtfKind::STRUCT.0 as u8;
    /// `BTF_KIND_UNION`.
    pub const UNION: u8 = BtfKind::UNION.0 as u8;
    /// `BTF_KIND_ENUM`.
    pub const ENUM: u8 = BtfKind::ENUM.0 as u8;
    /// `BTF_KIND_FWD`.
    pub const FWD: u8 = BtfKind::FWD.0 as u8;
    /// `BTF_KIND_TYPEDEF`.
    pub const TYPEDEF: u8 = BtfKind::TYPEDEF.0 as u8;
    /// `BTF_KIND_VOLATILE`.
    pub const VOLATILE: u8 = BtfKind::VOLATILE.0 as u8;
    /// `BTF_KIND_CONST`.
    pub const CONST: u8 = BtfKind::CONST.0 as u8;
    /// `BTF_KIND_RESTRICT`.
    pub const RESTRICT: u8 = BtfKind::RESTRICT.0 as u8;
    /// `BTF_KIND_FUNC`.
    pub const FUNC: u8 = BtfKind::FUNC.0 as u8;
    /// `BTF_KIND_FUNC_PROTO`.
    pub const FUNC_PROTO: u8 = BtfKind::FUNC_PROTO.0 as u8;
    /// `BTF_KIND_VAR`.
    pub const VAR: u8 = BtfKind::VAR.0 as u8;
    /// `BTF_KIND_DATASEC`.
    pub const DATASEC: u8 = BtfKind::DATASEC.0 as u8;
    /// `BTF_KIND_FLOAT`.
    pub const FLOAT: u8 = BtfKind::FLOAT.0 as u8;
    /// `BTF_KIND_DECL_TAG`.
    pub const DECL_TAG: u8 = BtfKind::DECL_TAG.0 as u8;
    /// `BTF_KIND_TYPE_TAG`.
    pub const TYPE_TAG: u8 = BtfKind::TYPE_TAG.0 as u8;
    /// `BTF_KIND_ENUM64`.
    pub const ENUM64: u8 = BtfKind::ENUM64.0 as u8;
}

/// How deep any walk over BTF types goes (modifier chains, arrays of
/// arrays, anonymous members) before it calls the types a loop: every walk
/// is bounded, so a hostile blob cannot overflow the stack or spin. The
/// kernel's own limit for modifier chains is 32 (`MAX_RESOLVE_DEPTH`).
pub const MAX_DEPTH: u32 = 32;

/// Length of the common `struct btf_type` header of every record.
pub const TYPE_HEADER_LEN: usize = 12;

/// `BTF_INT_SIGNED`, a bit of an INT's encoding.
pub const INT_SIGNED: u32 = 1;
/// `BTF_INT_CHAR`.
pub const INT_CHAR: u32 = 2;
/// `BTF_INT_BOOL`.
pub const INT_BOOL: u32 = 4;

fn btf_err(what: impl std::fmt::Display) -> Error {
    Error::Btf(what.to_string())
}

/// The little-endian `u32` at `pos` of `data`, if it is all there.
#[inline(always)]
pub(crate) fn u32_at(data: &[u8], pos: usize) -> Option<u32> {
    let b = data.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

// ---------------------------------------------------------------------------
// The blob's header.

/// `struct btf_header`: where the type and string sections lie, as offsets
/// from the end of the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// `hdr_len`: the header's own length (24 or more).
    pub hdr_len: u32,
    /// `type_off`: the type section's offset after the header.
    pub type_off: u32,
    /// `type_len`: the type section's length.
    pub type_len: u32,
    /// `str_off`: the string section's offset after the header.
    pub str_off: u32,
    /// `str_len`: the string section's length.
    pub str_len: u32,
}

/// The magic number of little-endian BTF.
pub const MAGIC: u16 = 0xeb9f;
/// The length of the header fields rawbpf reads.
pub const HEADER_LEN: usize = 24;

impl Header {
    /// Reads the header at the start of `data`: little-endian magic,
    /// version 1, and a header length of at least 24 (`btf_parse_hdr`).
    pub fn parse(data: &[u8]) -> std::result::Result<Header, String> {
        if data.len() < HEADER_LEN {
            return Err(format!(
                "{} bytes is too short for a BTF header",
                data.len()
            ));
        }
        let magic = u16::from_le_bytes([data[0], data[1]]);
        if magic != MAGIC {
            return Err(format!(
                "magic {magic:#06x} is not {MAGIC:#06x}: not little-endian BTF"
            ));
        }
        if data[2] != 1 {
            return Err(format!("version {} is not 1", data[2]));
        }
        let word = |pos| u32_at(data, pos).unwrap_or(0);
        let header = Header {
            hdr_len: word(4),
            type_off: word(8),
            type_len: word(12),
            str_off: word(16),
            str_len: word(20),
        };
        if (header.hdr_len as usize) < HEADER_LEN {
            return Err(format!("header length {} is wrong", header.hdr_len));
        }
        Ok(header)
    }

    /// Checks that both sections lie inside a blob of `total` bytes, the
    /// type section 4-byte aligned and the string section not empty
    /// (`btf_parse_type_sec`, `btf_parse_str_sec`).
    pub fn check_within(&self, total: u64) -> std::result::Result<(), String> {
        let body = total.checked_sub(u64::from(self.hdr_len));
        let body = body.ok_or_else(|| format!("header length {} is wrong", self.hdr_len))?;
        let fits = |off: u32, len: u32| u64::from(off) + u64::from(len) <= body;
        if !fits(self.type_off, self.type_len)
            || !fits(self.str_off, self.str_len)
            || !self.type_off.is_multiple_of(4)
        {
            return Err(format!(
                "type section {}+{} or string section {}+{} lies outside the {body} bytes after the header",
                self.type_off, self.type_len, self.str_off, self.str_len
            ));
        }
        if self.str_len == 0 {
            return Err("the string section is empty".into());
        }
        Ok(())
    }

    /// Where the type section starts in the blob.
    pub fn type_start(&self) -> u64 {
        u64::from(self.hdr_len) + u64::from(self.type_off)
    }

    /// Where the string section starts in the blob.
    pub fn str_start(&self) -> u64 {
        u64::from(self.hdr_len) + u64::from(self.str_off)
    }
}

// ---------------------------------------------------------------------------
// Records.

/// Per kind, the bytes of kind-specific data after the 12-byte header:
/// `(fixed, per vlen item)` (`btf_type_size` in kernel/bpf/btf.c); `None`
/// for a kind this code does not know. A table, not a match: the kernel's
/// BTF has 100,000+ records and every one is measured once.
const EXTRA_LEN: [Option<(u8, u8)>; 32] = {
    let mut t = [None; 32];
    let mut k = 0;
    let fixed_none = [
        kind::PTR,
        kind::FWD,
        kind::TYPEDEF,
        kind::VOLATILE,
        kind::CONST,
        kind::RESTRICT,
        kind::FUNC,
        kind::FLOAT,
        kind::TYPE_TAG,
    ];
    while k < fixed_none.len() {
        t[fixed_none[k] as usize] = Some((0, 0));
        k += 1;
    }
    t[kind::INT as usize] = Some((4, 0));
    t[kind::VAR as usize] = Some((4, 0));
    t[kind::DECL_TAG as usize] = Some((4, 0));
    t[kind::ARRAY as usize] = Some((12, 0));
    t[kind::STRUCT as usize] = Some((0, 12));
    t[kind::UNION as usize] = Some((0, 12));
    t[kind::DATASEC as usize] = Some((0, 12));
    t[kind::ENUM64 as usize] = Some((0, 12));
    t[kind::ENUM as usize] = Some((0, 8));
    t[kind::FUNC_PROTO as usize] = Some((0, 8));
    t
};

/// How many bytes of kind-specific data follow a type's 12-byte header, or
/// `None` for a kind this code does not know.
#[inline(always)]
pub fn extra_len(kind: u8, vlen: u16) -> Option<usize> {
    let (fixed, per_item) = EXTRA_LEN.get(usize::from(kind)).copied().flatten()?;
    Some(usize::from(fixed) + usize::from(per_item) * usize::from(vlen))
}

/// The fields of a record's `info` word: `(kind, vlen, kind_flag)`.
#[inline(always)]
fn split_info(info: u32) -> (u8, u16, bool) {
    (
        ((info >> 24) & 0x1f) as u8,
        (info & 0xffff) as u16,
        info >> 31 == 1,
    )
}

/// The kind in a record's `info` word.
#[inline(always)]
pub fn kind_of(info: u32) -> u8 {
    split_info(info).0
}

/// The whole length of the record whose `info` word is `info`, header
/// included; `Err(kind)` for a kind this code does not know.
#[inline(always)]
pub fn record_len(info: u32) -> std::result::Result<usize, u8> {
    let (kind, vlen, _) = split_info(info);
    Ok(TYPE_HEADER_LEN + extra_len(kind, vlen).ok_or(kind)?)
}

/// Walks the records laid end to end in `data`, calling `each(position,
/// name_off)` for every one that `data` holds whole, and returns how many
/// bytes those took: where a record cut short by the end of `data` starts.
/// `Err(kind)` for a kind this code does not know.
#[inline(always)]
pub fn scan_records(
    data: &[u8],
    mut each: impl FnMut(usize, u32),
) -> std::result::Result<usize, u8> {
    let mut pos = 0usize;
    while let (Some(name_off), Some(info)) = (u32_at(data, pos), u32_at(data, pos + 4)) {
        let len = record_len(info)?;
        if data.len() - pos < len {
            break;
        }
        each(pos, name_off);
        pos += len;
    }
    Ok(pos)
}

/// One BTF type: the common 12-byte `struct btf_type`, decoded, and the
/// kind-specific bytes after it (members, enumerators, array info...),
/// borrowed from a blob in memory or owned when read from a file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Type<'a> {
    /// Offset of the type's name in the string section (0: anonymous).
    pub name_off: u32,
    /// The `BTF_KIND_*` of the type (see [`kind`]); 0 for `void`.
    pub kind: u8,
    /// How many members, parameters, enumerators or variables follow the header.
    pub vlen: u16,
    /// The header's kind flag (bitfield members, a signed enum, a forward union).
    pub kflag: bool,
    /// `size` for sized kinds, `type` for the rest.
    pub size_or_type: u32,
    /// The kind-specific bytes after the header.
    pub extra: Cow<'a, [u8]>,
}

/// A struct or union member (`struct btf_member`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// Offset of the member's name in the string section (0: anonymous).
    pub name_off: u32,
    /// The member's type.
    pub type_id: u32,
    /// The member's offset in bits from the start of the struct.
    pub bit_offset: u32,
    /// Non-zero for a bitfield (only with the struct's kind flag set).
    pub bit_size: u32,
}

/// An INT's encoding word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Int {
    /// [`INT_SIGNED`], [`INT_CHAR`], [`INT_BOOL`] bits.
    pub encoding: u32,
    /// Bit offset (old-style bitfield integers; 0 for every other).
    pub offset: u32,
    /// Number of bits.
    pub bits: u32,
}

impl Int {
    /// Whether the integer is signed.
    pub fn signed(&self) -> bool {
        self.encoding & INT_SIGNED != 0
    }
}

impl<'a> Type<'a> {
    /// `void`, the type of id 0.
    pub const VOID: Type<'static> = Type {
        name_off: 0,
        kind: 0,
        vlen: 0,
        kflag: false,
        size_or_type: 0,
        extra: Cow::Borrowed(&[]),
    };

    /// Decodes the record at the start of `bytes`: its header and, borrowed,
    /// its kind-specific bytes. An error if the kind is unknown or the
    /// record is cut short.
    pub fn decode(bytes: &'a [u8]) -> Result<Type<'a>> {
        let word = |pos| u32_at(bytes, pos).ok_or_else(|| btf_err("type record cut short"));
        let (kind, vlen, kflag) = split_info(word(4)?);
        let len = extra_len(kind, vlen).ok_or_else(|| btf_err(format!("unknown kind {kind}")))?;
        let extra = bytes
            .get(TYPE_HEADER_LEN..TYPE_HEADER_LEN + len)
            .ok_or_else(|| btf_err("type record cut short"))?;
        Ok(Type {
            name_off: word(0)?,
            kind,
            vlen,
            kflag,
            size_or_type: word(8)?,
            extra: Cow::Borrowed(extra),
        })
    }

    /// The same type, owning its bytes.
    pub fn into_owned(self) -> Type<'static> {
        Type {
            extra: Cow::Owned(self.extra.into_owned()),
            ..self
        }
    }

    /// The `u32` at `pos` of the kind-specific bytes.
    fn word(&self, pos: usize) -> Result<u32> {
        u32_at(&self.extra, pos).ok_or_else(|| btf_err(format!("type data too short at {pos}")))
    }

    /// A typedef or a qualifier (const, volatile, restrict, type tag): a
    /// name for another type, which walks look through.
    pub fn is_modifier(&self) -> bool {
        matches!(
            self.kind,
            kind::TYPEDEF | kind::VOLATILE | kind::CONST | kind::RESTRICT | kind::TYPE_TAG
        )
    }

    /// A struct or a union.
    pub fn is_composite(&self) -> bool {
        self.kind == kind::STRUCT || self.kind == kind::UNION
    }

    /// An enum of 32 or 64-bit values.
    pub fn is_enum(&self) -> bool {
        self.kind == kind::ENUM || self.kind == kind::ENUM64
    }

    /// Member `i` of a STRUCT or UNION. With the kind flag set, the offset
    /// word holds the bitfield size in its top 8 bits.
    pub fn member(&self, i: u32) -> Result<Member> {
        let p = 12 * i as usize;
        let off = self.word(p + 8)?;
        Ok(Member {
            name_off: self.word(p)?,
            type_id: self.word(p + 4)?,
            bit_offset: if self.kflag { off & 0x00ff_ffff } else { off },
            bit_size: if self.kflag { off >> 24 } else { 0 },
        })
    }

    /// Every member of a STRUCT or UNION, in declaration order.
    pub fn members(&self) -> impl Iterator<Item = Result<Member>> + '_ {
        (0..u32::from(self.vlen)).map(|i| self.member(i))
    }

    /// `(element type, number of elements)` of an ARRAY.
    pub fn array(&self) -> Result<(u32, u32)> {
        Ok((self.word(0)?, self.word(8)?))
    }

    /// `(name offset, value)` of enumerator `i` of an ENUM or ENUM64; the
    /// kind flag on an ENUM means its values are signed.
    pub fn enumerator(&self, i: u32) -> Result<(u32, u64)> {
        if self.kind == kind::ENUM64 {
            let p = 12 * i as usize;
            let (lo, hi) = (self.word(p + 4)?, self.word(p + 8)?);
            return Ok((self.word(p)?, u64::from(lo) | u64::from(hi) << 32));
        }
        let p = 8 * i as usize;
        let v = self.word(p + 4)?;
        let v = if self.kflag {
            v as i32 as i64 as u64
        } else {
            u64::from(v)
        };
        Ok((self.word(p)?, v))
    }

    /// `(name offset, type)` of parameter `i` of a FUNC_PROTO.
    pub fn param(&self, i: u32) -> Result<(u32, u32)> {
        let p = 8 * i as usize;
        Ok((self.word(p)?, self.word(p + 4)?))
    }

    /// `(var type id, offset, size)` of entry `i` of a DATASEC.
    pub fn datasec_var(&self, i: u32) -> Result<(u32, u32, u32)> {
        let p = 12 * i as usize;
        Ok((self.word(p)?, self.word(p + 4)?, self.word(p + 8)?))
    }

    /// The encoding word of an INT.
    pub fn int(&self) -> Result<Int> {
        let v = self.word(0)?;
        Ok(Int {
            encoding: (v >> 24) & 0x0f,
            offset: (v >> 16) & 0xff,
            bits: v & 0xff,
        })
    }

    /// The linkage of a VAR (0 static, 1 global, 2 extern).
    pub fn linkage(&self) -> Result<u32> {
        self.word(0)
    }

    /// The `component_idx` of a DECL_TAG: -1 for the declaration itself,
    /// else the member or parameter it tags.
    pub fn component_idx(&self) -> Result<i32> {
        Ok(self.word(0)? as i32)
    }
}

// ---------------------------------------------------------------------------
// Reading types, whatever holds them.

/// A BTF the loader reads types from: the object's own ([`super::Btf`]), or
/// the kernel's (read lean by [`crate::kernel::btf`]).
pub trait BtfSource {
    /// Type `id`; id 0 is `void` ([`Type::VOID`]).
    fn ty(&self, id: u32) -> Result<Type<'_>>;
    /// The string at offset `off` of the string section.
    fn string(&self, off: u32) -> Result<Cow<'_, str>>;
    /// Ids of every type whose name has essential name `essential` (see
    /// [`essential_name`]), any kind.
    fn candidates(&self, essential: &str) -> Result<Vec<u32>>;
    /// What to call this BTF in messages ("vmlinux", a file, a module).
    fn label(&self) -> String;

    /// The type `id` names once typedefs and qualifiers are looked
    /// through, and its id; `void` is an answer.
    fn skip_modifiers(&self, id: u32) -> Result<(u32, Type<'_>)> {
        let mut id = id;
        for _ in 0..MAX_DEPTH {
            let t = self.ty(id)?;
            if !t.is_modifier() {
                return Ok((id, t));
            }
            id = t.size_or_type;
        }
        Err(btf_err(format!(
            "{} type {id}: modifier chain longer than {MAX_DEPTH} (a loop?)",
            self.label()
        )))
    }

    /// The size in bytes of a value of type `id` (`btf_resolve_size`).
    /// Iterative: an array of arrays multiplies its way down, at most
    /// [`MAX_DEPTH`] levels, so a hostile ARRAY whose element is itself is
    /// an error, not a stack overflow.
    fn size_of(&self, id: u32) -> Result<u64> {
        let too_large = || btf_err(format!("{} array type {id} is too large", self.label()));
        let (mut elem, mut factor) = (id, 1u64);
        for _ in 0..MAX_DEPTH {
            let (rid, t) = self.skip_modifiers(elem)?;
            let size = match t.kind {
                kind::INT
                | kind::STRUCT
                | kind::UNION
                | kind::ENUM
                | kind::ENUM64
                | kind::FLOAT
                | kind::DATASEC => u64::from(t.size_or_type),
                kind::PTR => 8,
                kind::ARRAY => {
                    let (next, n) = t.array()?;
                    factor = factor.checked_mul(u64::from(n)).ok_or_else(too_large)?;
                    elem = next;
                    continue;
                }
                k => {
                    return Err(btf_err(format!(
                        "{} type {rid} (kind {k}) has no size",
                        self.label()
                    )))
                }
            };
            return size.checked_mul(factor).ok_or_else(too_large);
        }
        Err(btf_err(format!(
            "{} type {id}: arrays nested deeper than {MAX_DEPTH} levels (a loop?)",
            self.label()
        )))
    }
}

/// The essential name: `name` without its flavour, the part from the last
/// `X___Y` separator on (X and Y not underscores). `sk_buff___mine` gives
/// `sk_buff`; `__u32` and `a____b` stay as they are. CO-RE finds a type in
/// the kernel by its essential name (libbpf's `bpf_core_essential_name_len`),
/// so one program may carry several local views of one kernel type.
pub fn essential_name(name: &str) -> &str {
    let b = name.as_bytes();
    if b.len() >= 5 {
        for i in (0..=b.len() - 5).rev() {
            if b[i] != b'_' && &b[i + 1..i + 4] == b"___" && b[i + 4] != b'_' {
                return &name[..=i];
            }
        }
    }
    name
}
