//! CO-RE, "compile once, run everywhere": fitting field offsets and type
//! facts compiled against one kernel's types to the kernel the program runs on.
//!
//! # The problem
//!
//! A program that reads `skb->len` is compiled to `r1 = *(u32 *)(r6 + 112)`:
//! the offset 112 comes from the `struct sk_buff` the compiler saw. Another
//! kernel (another version, another config) may keep `len` elsewhere, and the
//! program would silently read the wrong bytes.
//!
//! # What clang records
//!
//! With `__attribute__((preserve_access_index))` on a struct, or the
//! `__builtin_preserve_*` built-ins, clang still emits the offset it knows but
//! also writes a *CO-RE relocation* into `.BTF.ext` (`struct bpf_core_relo`):
//!
//! - `insn_off`: the instruction that holds the number (byte offset in its section);
//! - `type_id`: the *local* root type in the object's own BTF (`struct sk_buff`);
//! - `access_str_off`: an *access string* such as `"0:3:1"`;
//! - `kind`: which number the instruction holds (below).
//!
//! The access string is a path from the root type: the first number indexes
//! the root as an array (`p[0]`, almost always 0); each further number is a
//! member index of a struct/union (in BTF declaration order) or an element
//! index of an array. `"0:3:1"` on `struct a` is `a[0].<member 3>.<member 1>`.
//! Because members are found again *by name* in the target, the local
//! declaration only has to list the fields the program uses, in any order.
//!
//! # Kinds of relocation
//!
//! | kind | the instruction holds |
//! |---|---|
//! | FIELD_BYTE_OFFSET | the field's byte offset (a load's `off`, or an ALU `imm`) |
//! | FIELD_BYTE_SIZE | the field's size (for a bitfield: the bytes to load) |
//! | FIELD_EXISTS | 1 if the field exists in the target, else 0 |
//! | FIELD_SIGNED | 1 if the field is a signed integer or enum |
//! | FIELD_LSHIFT_U64, FIELD_RSHIFT_U64 | the shifts that extract a bitfield from a 64-bit load |
//! | TYPE_ID_LOCAL, TYPE_ID_TARGET | the type's BTF id in the object / in the kernel |
//! | TYPE_EXISTS, TYPE_MATCHES, TYPE_SIZE | whether the type exists (or matches strictly), its size |
//! | ENUMVAL_EXISTS, ENUMVAL_VALUE | whether an enumerator exists, its value |
//!
//! # Candidates and essential names
//!
//! The loader looks for the root type in the target BTF (the running kernel's
//! `/sys/kernel/btf/vmlinux`, or a file given with `--btf`) *by name*, of the
//! same kind. A name may carry a *flavour*: everything from a `___` on is
//! ignored, so `struct sk_buff___mine` looks for `struct sk_buff`. What is
//! left is the *essential name*. This lets one program carry several local
//! views of a type (an old and a new layout) and test which one exists.
//!
//! Every same-named type of the target is a *candidate*. The access path is
//! replayed on each: members are found by name (looking inside anonymous
//! structs and unions), arrays by index, and each field's type must be
//! *compatible* with the local one: integers with integers, pointers with
//! pointers, structs with structs or unions (their members are checked only
//! when accessed), enums with enums of the same essential name, arrays by
//! their element types. Candidates that match must agree on the result; if
//! two give different numbers the relocation is ambiguous and loading fails,
//! naming both.
//!
//! # Poisoning
//!
//! A field that does not exist in the target is not an error by itself: the
//! program may test `bpf_core_field_exists()` first and never reach the
//! access. So the instruction is *poisoned* instead: replaced by a call of
//! helper 0xbad2310 (libbpf's convention), which the verifier rejects only if
//! it can be reached ("invalid func unknown#195896080"). The existence kinds
//! give 0 instead, and TYPE_SIZE of a missing type is 0.
//!
//! # Patching
//!
//! Before patching, the number in the instruction must be the one the local
//! BTF gives (so a record that points at the wrong instruction is caught),
//! except where the compiler and the loader may legitimately disagree
//! (bitfields, target ids). ALU immediates, load/store offsets and the
//! 64-bit value of `ld_imm64` are rewritten. A load whose field changed size
//! gets its access size changed too, when that is safe (unsigned integers and
//! pointers); otherwise it is poisoned.
//!
//! This module is pure: the local BTF, the relocation records and the target
//! types come in, patched instructions go out. [`crate::kernel::btf`] reads the
//! kernel's types; the loader calls [`relocate_section`] on each program
//! section before sub-programs are linked.

use std::cell::Cell;

use rawbpf_asm::op::{BPF_B, BPF_DW, BPF_H, BPF_K, BPF_MEM, BPF_W};
use rawbpf_asm::{Class, Insn};

use crate::error::{Error, Result};
use crate::object::btf::{kind, Btf, CoreRelo};

/// `enum bpf_core_relo_kind`, with the names libbpf prints.
pub mod relo {
    /// `BPF_CORE_FIELD_BYTE_OFFSET`: the field's offset in bytes.
    pub const FIELD_BYTE_OFFSET: u32 = 0;
    /// `BPF_CORE_FIELD_BYTE_SIZE`: the field's size in bytes.
    pub const FIELD_BYTE_SIZE: u32 = 1;
    /// `BPF_CORE_FIELD_EXISTS`: 1 if the field exists in the target, else 0.
    pub const FIELD_EXISTS: u32 = 2;
    /// `BPF_CORE_FIELD_SIGNED`: 1 if the field is signed.
    pub const FIELD_SIGNED: u32 = 3;
    /// `BPF_CORE_FIELD_LSHIFT_U64`: the left shift that puts a bitfield's top bit at bit 63 of a u64.
    pub const FIELD_LSHIFT_U64: u32 = 4;
    /// `BPF_CORE_FIELD_RSHIFT_U64`: the right shift that then brings the bitfield down to bit 0.
    pub const FIELD_RSHIFT_U64: u32 = 5;
    /// `BPF_CORE_TYPE_ID_LOCAL`: the type's id in the object's own BTF.
    pub const TYPE_ID_LOCAL: u32 = 6;
    /// `BPF_CORE_TYPE_ID_TARGET`: the matching type's id in the target BTF.
    pub const TYPE_ID_TARGET: u32 = 7;
    /// `BPF_CORE_TYPE_EXISTS`: 1 if a compatible type exists in the target.
    pub const TYPE_EXISTS: u32 = 8;
    /// `BPF_CORE_TYPE_SIZE`: the target type's size in bytes.
    pub const TYPE_SIZE: u32 = 9;
    /// `BPF_CORE_ENUMVAL_EXISTS`: 1 if the enumerator exists in the target.
    pub const ENUMVAL_EXISTS: u32 = 10;
    /// `BPF_CORE_ENUMVAL_VALUE`: the enumerator's value in the target.
    pub const ENUMVAL_VALUE: u32 = 11;
    /// `BPF_CORE_TYPE_MATCHES`: 1 if the target type matches, a stricter test than TYPE_EXISTS.
    pub const TYPE_MATCHES: u32 = 12;

    /// The kind's name, e.g. "byte_off".
    pub fn name(kind: u32) -> &'static str {
        const NAMES: [&str; 13] = [
            "byte_off",
            "byte_sz",
            "field_exists",
            "signed",
            "lshift_u64",
            "rshift_u64",
            "local_type_id",
            "target_type_id",
            "type_exists",
            "type_size",
            "enumval_exists",
            "enumval_value",
            "type_matches",
        ];
        NAMES.get(kind as usize).copied().unwrap_or("unknown")
    }
}

/// The helper id a poisoned instruction calls: 0xbad2310 ("bad relo").
pub const POISON_HELPER: i32 = 0xbad2310;

/// How many types one relocation's walks may visit: with anonymous members
/// or struct members that nest both wide and deep, hostile BTF could
/// otherwise make them take exponential time.
const MAX_VISITS: u32 = 1 << 16;

fn spend(budget: &Cell<u32>) -> Result<()> {
    match budget.get().checked_sub(1) {
        Some(left) => {
            budget.set(left);
            Ok(())
        }
        None => Err(Error::Btf(format!(
            "more than {MAX_VISITS} types visited for one relocation"
        ))),
    }
}

/// Nesting the type walks follow before giving up (modifier chains,
/// anonymous members, pointer-to-pointer...): bounded against loops.
const MAX_DEPTH: u32 = 32;

/// One BTF type record as the engine reads it from either side.
#[derive(Clone, Debug, Default)]
pub struct TypeRec {
    /// `BTF_KIND_*`: bits 24-28 of the type's `info`.
    pub kind: u8,
    /// Offset of the type's name in the string section (0: anonymous).
    pub name_off: u32,
    /// Number of members, enumerators or parameters: bits 0-15 of `info`.
    pub vlen: u16,
    /// `kind_flag`, bit 31 of `info` (bitfield offsets, signed enum, union forward).
    pub kflag: bool,
    /// `size` for sized kinds, `type` for the others.
    pub size_or_type: u32,
    /// The kind-specific bytes after the header.
    pub extra: Vec<u8>,
}

/// A BTF the engine can read types from: the object's own (local) BTF, or
/// a target (the kernel's, read lazily by [`crate::kernel::btf`]).
pub trait BtfSource {
    /// Type `id`; id 0 is `void` (kind 0).
    fn type_rec(&self, id: u32) -> Result<TypeRec>;
    /// The string at offset `off`.
    fn string(&self, off: u32) -> Result<String>;
    /// Ids of every type whose name has essential name `essential`, any kind.
    fn candidates(&self, essential: &str) -> Result<Vec<u32>>;
    /// What to call this BTF in messages ("vmlinux", a file, a module).
    fn label(&self) -> String;
}

impl BtfSource for Btf {
    fn type_rec(&self, id: u32) -> Result<TypeRec> {
        if id == 0 {
            return Ok(TypeRec::default());
        }
        let t = self.get(id)?;
        Ok(TypeRec {
            kind: t.kind,
            name_off: t.name_off,
            vlen: t.vlen,
            kflag: t.kflag,
            size_or_type: t.size_or_type,
            extra: self.extra_bytes(id)?.to_vec(),
        })
    }

    fn string(&self, off: u32) -> Result<String> {
        self.name(off).map(str::to_string)
    }

    fn candidates(&self, essential: &str) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        for id in 1..self.len() as u32 {
            if essential_name(self.type_name(id)?) == essential {
                out.push(id);
            }
        }
        Ok(out)
    }

    fn label(&self) -> String {
        "target BTF".into()
    }
}

/// The essential name: `name` without its flavour, the part from the last
/// `X___Y` separator on (X and Y not underscores). `sk_buff___mine` gives
/// `sk_buff`; `__u32` and `a____b` stay as they are.
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

#[inline(never)]
fn u32_in(extra: &[u8], pos: usize) -> Result<u32> {
    extra
        .get(pos..pos + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| Error::Btf(format!("type data too short at {pos}")))
}

/// A struct/union member.
#[derive(Clone, Copy, Debug)]
struct Member {
    name_off: u32,
    type_id: u32,
    bit_offset: u32,
    /// Non-zero for a bitfield (only with kflag set on the struct).
    bit_size: u32,
}

#[inline(never)]
fn member(t: &TypeRec, i: u32) -> Result<Member> {
    let p = 12 * i as usize;
    let off = u32_in(&t.extra, p + 8)?;
    Ok(Member {
        name_off: u32_in(&t.extra, p)?,
        type_id: u32_in(&t.extra, p + 4)?,
        bit_offset: if t.kflag { off & 0x00ff_ffff } else { off },
        bit_size: if t.kflag { off >> 24 } else { 0 },
    })
}

/// `(element type, number of elements)` of an ARRAY.
#[inline(never)]
fn array(t: &TypeRec) -> Result<(u32, u32)> {
    Ok((u32_in(&t.extra, 0)?, u32_in(&t.extra, 8)?))
}

/// `(name offset, value)` of enumerator `i` of an ENUM or ENUM64.
#[inline(never)]
fn enumerator(t: &TypeRec, i: u32) -> Result<(u32, u64)> {
    if t.kind == kind::ENUM64 {
        let p = 12 * i as usize;
        let lo = u64::from(u32_in(&t.extra, p + 4)?);
        let hi = u64::from(u32_in(&t.extra, p + 8)?);
        return Ok((u32_in(&t.extra, p)?, lo | hi << 32));
    }
    let p = 8 * i as usize;
    let v = u32_in(&t.extra, p + 4)?;
    // kflag on an enum means "signed values".
    let v = if t.kflag {
        v as i32 as i64 as u64
    } else {
        u64::from(v)
    };
    Ok((u32_in(&t.extra, p)?, v))
}

/// INT encoding bits: (signed, bit offset) from the 4 bytes after the header.
#[inline(never)]
fn int_info(t: &TypeRec) -> Result<(bool, u32)> {
    let v = u32_in(&t.extra, 0)?;
    Ok((v >> 24 & 1 == 1, v >> 16 & 0xff))
}

fn is_composite(k: u8) -> bool {
    k == kind::STRUCT || k == kind::UNION
}

fn is_enum(k: u8) -> bool {
    k == kind::ENUM || k == kind::ENUM64
}

/// Whether a target type of kind `t` can stand for a local one of kind `l`
/// (ENUM and ENUM64 may stand for each other).
fn kinds_compat(l: u8, t: u8) -> bool {
    l == t || (is_enum(l) && is_enum(t))
}

/// Skips const/volatile/restrict/type tags and typedefs.
#[inline(never)]
fn skip_mods(src: &dyn BtfSource, mut id: u32) -> Result<(u32, TypeRec)> {
    for _ in 0..MAX_DEPTH {
        let t = src.type_rec(id)?;
        match t.kind {
            kind::TYPEDEF | kind::VOLATILE | kind::CONST | kind::RESTRICT | kind::TYPE_TAG => {
                id = t.size_or_type
            }
            _ => return Ok((id, t)),
        }
    }
    Err(Error::Btf(format!(
        "{}: type {id}: modifier chain too long",
        src.label()
    )))
}

/// The size in bytes of a value of type `id`.
#[inline(never)]
fn size_of(src: &dyn BtfSource, id: u32) -> Result<u64> {
    let mut id = id;
    let mut mult: u64 = 1;
    for _ in 0..MAX_DEPTH {
        let (rid, t) = skip_mods(src, id)?;
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
                let (elem, n) = array(&t)?;
                mult = mult.saturating_mul(u64::from(n));
                id = elem;
                continue;
            }
            k => {
                return Err(Error::Btf(format!(
                    "{}: type {rid} (kind {k}) has no size",
                    src.label()
                )))
            }
        };
        return Ok(mult.saturating_mul(size));
    }
    Err(Error::Btf(format!(
        "{}: array nesting too deep",
        src.label()
    )))
}

#[inline(never)]
fn name_of(src: &dyn BtfSource, t: &TypeRec) -> Result<String> {
    src.string(t.name_off)
}

// ---------------------------------------------------------------------------
// Type compatibility, as the kernel and libbpf define it for CO-RE.

/// Field compatibility (libbpf's `bpf_core_fields_are_compat`): may a local
/// field of type `lid` be read from a target field of type `tid`?
#[inline(never)]
fn fields_compat(
    local: &dyn BtfSource,
    lid: u32,
    target: &dyn BtfSource,
    tid: u32,
) -> Result<bool> {
    let (mut lid, mut tid) = (lid, tid);
    for _ in 0..MAX_DEPTH {
        let (_, l) = skip_mods(local, lid)?;
        let (_, t) = skip_mods(target, tid)?;
        if is_composite(l.kind) && is_composite(t.kind) {
            return Ok(true);
        }
        if !kinds_compat(l.kind, t.kind) {
            return Ok(false);
        }
        return Ok(match l.kind {
            kind::PTR | kind::FLOAT => true,
            kind::FWD | kind::ENUM | kind::ENUM64 => {
                let (ln, tn) = (name_of(local, &l)?, name_of(target, &t)?);
                essential_name(&ln) == essential_name(&tn)
            }
            // Any integers, except old-style bitfield integers.
            kind::INT => int_info(&l)?.1 == 0 && int_info(&t)?.1 == 0,
            kind::ARRAY => {
                lid = array(&l)?.0;
                tid = array(&t)?.0;
                continue;
            }
            _ => false,
        });
    }
    Ok(false)
}

/// The two type relations of the TYPE_* kinds, in one walk.
///
/// Loose (`strict == false`, libbpf's `bpf_core_types_are_compat`, for
/// TYPE_EXISTS, TYPE_SIZE, TYPE_ID_TARGET): kinds agree (the root's name was
/// already matched), integers are not old-style bitfields, pointers and
/// arrays compare what they point to or hold, function prototypes parameter
/// by parameter.
///
/// Strict (TYPE_MATCHES, libbpf's `bpf_core_types_match`): names agree
/// too, every local member or enumerator exists in the target with a
/// matching type, integers agree in size and signedness, arrays in length;
/// behind a pointer, structs and unions only need the same name.
#[inline(never)]
#[allow(clippy::too_many_arguments)] // the two BTFs and the walk's state
fn types_match(
    local: &dyn BtfSource,
    lid: u32,
    target: &dyn BtfSource,
    tid: u32,
    strict: bool,
    behind_ptr: bool,
    depth: u32,
    budget: &Cell<u32>,
) -> Result<bool> {
    if depth > MAX_DEPTH {
        return Ok(false);
    }
    spend(budget)?;
    let (_, l) = skip_mods(local, lid)?;
    let (_, t) = skip_mods(target, tid)?;
    let again = |lid, tid, behind_ptr| {
        types_match(
            local,
            lid,
            target,
            tid,
            strict,
            behind_ptr,
            depth + 1,
            budget,
        )
    };
    if strict {
        let ln = name_of(local, &l)?;
        if !ln.is_empty() && essential_name(&ln) != essential_name(&name_of(target, &t)?) {
            return Ok(false);
        }
        // A forward declaration matches a struct/union of its flavour (kflag = union).
        if l.kind == kind::FWD || t.kind == kind::FWD {
            let is_union = |r: &TypeRec| {
                if r.kind == kind::FWD {
                    r.kflag
                } else {
                    r.kind == kind::UNION
                }
            };
            let ok = |r: &TypeRec| r.kind == kind::FWD || is_composite(r.kind);
            return Ok(ok(&l) && ok(&t) && is_union(&l) == is_union(&t));
        }
    }
    if !kinds_compat(l.kind, t.kind) {
        return Ok(false);
    }
    Ok(match l.kind {
        0 | kind::FWD => true,
        kind::INT if strict => {
            l.size_or_type == t.size_or_type && int_info(&l)?.0 == int_info(&t)?.0
        }
        kind::INT => int_info(&l)?.1 == 0 && int_info(&t)?.1 == 0,
        kind::FLOAT => !strict || l.size_or_type == t.size_or_type,
        kind::ENUM | kind::ENUM64 if strict => {
            if l.size_or_type != t.size_or_type {
                return Ok(false);
            }
            for i in 0..u32::from(l.vlen) {
                let name = local.string(enumerator(&l, i)?.0)?;
                let mut found = false;
                for j in 0..u32::from(t.vlen) {
                    if essential_name(&target.string(enumerator(&t, j)?.0)?)
                        == essential_name(&name)
                    {
                        found = true;
                        break;
                    }
                }
                if !found {
                    return Ok(false);
                }
            }
            true
        }
        kind::STRUCT | kind::UNION if strict && !behind_ptr => {
            for i in 0..u32::from(l.vlen) {
                let lm = member(&l, i)?;
                let name = local.string(lm.name_off)?;
                let mut found = false;
                for j in 0..u32::from(t.vlen) {
                    let tm = member(&t, j)?;
                    if target.string(tm.name_off)? == name {
                        found = lm.bit_size == tm.bit_size && again(lm.type_id, tm.type_id, false)?;
                        break;
                    }
                }
                if !found {
                    return Ok(false);
                }
            }
            true
        }
        kind::STRUCT | kind::UNION | kind::ENUM | kind::ENUM64 => true,
        kind::PTR => again(l.size_or_type, t.size_or_type, true)?,
        kind::ARRAY => {
            let ((le, ln), (te, tn)) = (array(&l)?, array(&t)?);
            (!strict || ln == tn) && again(le, te, behind_ptr)?
        }
        kind::FUNC_PROTO => {
            if l.vlen != t.vlen || !again(l.size_or_type, t.size_or_type, behind_ptr)? {
                return Ok(false);
            }
            for i in 0..u32::from(l.vlen) {
                let lp = u32_in(&l.extra, 8 * i as usize + 4)?;
                let tp = u32_in(&t.extra, 8 * i as usize + 4)?;
                if !again(lp, tp, behind_ptr)? {
                    return Ok(false);
                }
            }
            true
        }
        _ => false,
    })
}

// ---------------------------------------------------------------------------
// Access specs: an access string resolved against one BTF.

/// One step of an access path after the root.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    /// Array element (the first step always is one: `p[i]` on the root).
    Index(u32),
    /// A named member, with its local type so the target's can be checked.
    Member { name: String, local_type: u32 },
}

/// The field (or root) an access path ends at.
#[derive(Clone, Copy, Debug, Default)]
struct FieldEnd {
    /// Type id of the field (modifiers not skipped).
    type_id: u32,
    /// Bit size if the field is a bitfield member, else 0.
    bit_size: u32,
    /// Whether the path ended at a named member (not an array element).
    named: bool,
}

/// An access string resolved against one BTF.
#[derive(Clone, Debug)]
struct Spec {
    root: u32,
    steps: Vec<Step>,
    bit_offset: u64,
    end: FieldEnd,
    /// For enumerator relocations: the enumerator's name and value.
    enumval: Option<(String, u64)>,
}

#[inline(never)]
fn parse_access(access: &str) -> Result<Vec<u32>> {
    access
        .split(':')
        .map(|n| {
            n.parse::<u32>()
                .map_err(|_| Error::Btf(format!("access string {access:?} is not numbers")))
        })
        .collect()
}

fn is_field_kind(k: u32) -> bool {
    k <= relo::FIELD_RSHIFT_U64
}

fn is_enumval_kind(k: u32) -> bool {
    k == relo::ENUMVAL_EXISTS || k == relo::ENUMVAL_VALUE
}

/// The name of a relocation kind (`enum bpf_core_relo_kind` without its
/// `BPF_CORE_` prefix).
pub fn relo_name(kind: u32) -> &'static str {
    const NAMES: [&str; 13] = [
        "FIELD_BYTE_OFFSET",
        "FIELD_BYTE_SIZE",
        "FIELD_EXISTS",
        "FIELD_SIGNED",
        "FIELD_LSHIFT_U64",
        "FIELD_RSHIFT_U64",
        "TYPE_ID_LOCAL",
        "TYPE_ID_TARGET",
        "TYPE_EXISTS",
        "TYPE_SIZE",
        "ENUMVAL_EXISTS",
        "ENUMVAL_VALUE",
        "TYPE_MATCHES",
    ];
    NAMES.get(kind as usize).copied().unwrap_or("?")
}

/// What a relocation asks, for people: its kind and the access string
/// resolved to names against the object's own BTF, such as
/// `FIELD_BYTE_OFFSET struct sk_buff___mine.len (0:2)` or
/// `ENUMVAL_VALUE enum skb_drop_reason::SKB_DROP_REASON_NOT_SPECIFIED (2)`.
pub fn describe_relo(local: &Btf, r: &CoreRelo) -> String {
    let head = format!("{} ", relo_name(r.kind));
    let spec = match local_spec(local, r) {
        Ok(spec) => spec,
        Err(e) => return format!("{head}({}): {e}", r.access),
    };
    let root = local.get(spec.root).ok();
    let keyword = match root.map(|t| t.kind) {
        Some(kind::STRUCT) => "struct ",
        Some(kind::UNION) => "union ",
        Some(kind::ENUM | kind::ENUM64) => "enum ",
        _ => "",
    };
    let name = local.type_name(spec.root).unwrap_or_default();
    let name = if name.is_empty() { "(anon)" } else { name };
    let mut path = format!("{keyword}{name}");
    if let Some((enumerator, _)) = &spec.enumval {
        path += &format!("::{enumerator}");
    }
    for (i, step) in spec.steps.iter().enumerate() {
        match step {
            // `p[0]` on the root is just the root.
            Step::Index(0) if i == 0 => {}
            Step::Index(n) => path += &format!("[{n}]"),
            Step::Member { name, .. } if name.is_empty() => path += ".(anon)",
            Step::Member { name, .. } => path += &format!(".{name}"),
        }
    }
    format!("{head}{path} ({})", r.access)
}

/// Resolves the local access string (libbpf's `bpf_core_parse_spec`).
#[inline(never)]
fn local_spec(local: &Btf, r: &CoreRelo) -> Result<Spec> {
    let idx = parse_access(&r.access)?;
    let bad = |what: String| Error::Btf(format!("access string {:?}: {what}", r.access));
    let mut spec = Spec {
        root: r.type_id,
        steps: Vec::new(),
        bit_offset: 0,
        end: FieldEnd {
            type_id: r.type_id,
            ..FieldEnd::default()
        },
        enumval: None,
    };
    if !is_field_kind(r.kind) {
        if idx.len() != 1 || (!is_enumval_kind(r.kind) && idx[0] != 0) {
            return Err(bad("a type or enum relocation takes one number".into()));
        }
        if is_enumval_kind(r.kind) {
            let (_, t) = skip_mods(local, r.type_id)?;
            if !is_enum(t.kind) || idx[0] >= u32::from(t.vlen) {
                return Err(bad(format!(
                    "type {} has no enumerator {}",
                    r.type_id, idx[0]
                )));
            }
            let (name_off, value) = enumerator(&t, idx[0])?;
            spec.enumval = Some((local.string(name_off)?, value));
        }
        return Ok(spec);
    }
    let mut id = r.type_id;
    spec.bit_offset = u64::from(idx[0]) * size_of(local, id)? * 8;
    spec.steps.push(Step::Index(idx[0]));
    for &i in &idx[1..] {
        let (_, t) = skip_mods(local, id)?;
        if is_composite(t.kind) {
            if i >= u32::from(t.vlen) {
                return Err(bad(format!("member {i} of a type with {} members", t.vlen)));
            }
            let m = member(&t, i)?;
            spec.bit_offset += u64::from(m.bit_offset);
            let name = local.string(m.name_off)?;
            id = m.type_id;
            if !name.is_empty() {
                spec.steps.push(Step::Member {
                    name,
                    local_type: id,
                });
            }
            spec.end = FieldEnd {
                type_id: id,
                bit_size: m.bit_size,
                named: true,
            };
        } else if t.kind == kind::ARRAY {
            let (elem, n) = array(&t)?;
            if i >= n && n != 0 {
                return Err(bad(format!("index {i} of an array of {n}")));
            }
            spec.bit_offset += u64::from(i) * size_of(local, elem)? * 8;
            spec.steps.push(Step::Index(i));
            id = elem;
            spec.end = FieldEnd {
                type_id: id,
                bit_size: 0,
                named: false,
            };
        } else {
            return Err(bad(format!(
                "step {i} into a type of kind {} (not a struct, union or array)",
                t.kind
            )));
        }
    }
    Ok(spec)
}

/// Finds member `name` in target composite `id`, looking inside anonymous
/// struct/union members; returns its bit offset (from `id`) and member.
#[inline(never)]
fn find_member(
    target: &dyn BtfSource,
    id: u32,
    name: &str,
    depth: u32,
    budget: &Cell<u32>,
) -> Result<Option<(u64, Member)>> {
    if depth > MAX_DEPTH {
        return Ok(None);
    }
    spend(budget)?;
    let (_, t) = skip_mods(target, id)?;
    if !is_composite(t.kind) {
        return Ok(None);
    }
    for i in 0..u32::from(t.vlen) {
        let m = member(&t, i)?;
        let mname = target.string(m.name_off)?;
        if mname.is_empty() {
            if let Some((off, inner)) = find_member(target, m.type_id, name, depth + 1, budget)? {
                return Ok(Some((off + u64::from(m.bit_offset), inner)));
            }
        } else if mname == name {
            return Ok(Some((u64::from(m.bit_offset), m)));
        }
    }
    Ok(None)
}

/// Replays a local spec on target candidate `root` (libbpf's
/// `bpf_core_spec_match`); `None` if it does not fit.
#[inline(never)]
fn match_spec(
    local: &Btf,
    ls: &Spec,
    kind_: u32,
    target: &dyn BtfSource,
    root: u32,
) -> Result<Option<Spec>> {
    let budget = Cell::new(MAX_VISITS);
    let mut ts = Spec {
        root,
        steps: Vec::new(),
        bit_offset: 0,
        end: FieldEnd {
            type_id: root,
            ..FieldEnd::default()
        },
        enumval: None,
    };
    if kind_ == relo::TYPE_MATCHES {
        return Ok(
            types_match(local, ls.root, target, root, true, false, 0, &budget)?.then_some(ts),
        );
    }
    if !is_field_kind(kind_) && !is_enumval_kind(kind_) {
        return Ok(
            types_match(local, ls.root, target, root, false, false, 0, &budget)?.then_some(ts),
        );
    }
    if let Some((name, _)) = &ls.enumval {
        let (_, t) = skip_mods(target, root)?;
        if !is_enum(t.kind) {
            return Ok(None);
        }
        for i in 0..u32::from(t.vlen) {
            let (off, value) = enumerator(&t, i)?;
            let tname = target.string(off)?;
            if essential_name(&tname) == essential_name(name) {
                ts.enumval = Some((tname, value));
                return Ok(Some(ts));
            }
        }
        return Ok(None);
    }
    let mut id = root;
    for (n, step) in ls.steps.iter().enumerate() {
        match step {
            Step::Index(i) if n == 0 => {
                ts.bit_offset = u64::from(*i) * size_of(target, root)? * 8;
            }
            Step::Index(i) => {
                let (_, t) = skip_mods(target, id)?;
                if t.kind != kind::ARRAY {
                    return Ok(None);
                }
                let (elem, len) = array(&t)?;
                if *i >= len && len != 0 {
                    return Ok(None);
                }
                ts.bit_offset += u64::from(*i) * size_of(target, elem)? * 8;
                id = elem;
                ts.end = FieldEnd {
                    type_id: elem,
                    bit_size: 0,
                    named: false,
                };
            }
            Step::Member { name, local_type } => {
                let Some((off, m)) = find_member(target, id, name, 0, &budget)? else {
                    return Ok(None);
                };
                if !fields_compat(local, *local_type, target, m.type_id)? {
                    return Ok(None);
                }
                ts.bit_offset += off;
                id = m.type_id;
                ts.end = FieldEnd {
                    type_id: id,
                    bit_size: m.bit_size,
                    named: true,
                };
            }
        }
        ts.steps.push(step.clone());
    }
    Ok(Some(ts))
}

// ---------------------------------------------------------------------------
// The numbers.

/// What one relocation computes for one side (local or target).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Value {
    val: u64,
    /// For a plain field's byte offset: the field's size and type (to adjust
    /// a load's access size).
    mem: Option<(u64, u32)>,
    /// Whether the instruction's current number must equal the local value.
    validate: bool,
}

/// libbpf's `bpf_core_calc_field_relo`, `_type_relo` and `_enumval_relo`
/// for a spec that exists.
#[inline(never)]
fn value_of(src: &dyn BtfSource, s: &Spec, k: u32) -> Result<Value> {
    let mut v = Value {
        validate: true,
        ..Value::default()
    };
    let unsupported = || {
        Error::Btf(format!(
            "relocation kind {} cannot be applied to an array element",
            relo::name(k)
        ))
    };
    v.val = match k {
        relo::FIELD_EXISTS | relo::TYPE_EXISTS | relo::TYPE_MATCHES | relo::ENUMVAL_EXISTS => 1,
        relo::TYPE_ID_LOCAL | relo::TYPE_ID_TARGET => {
            v.validate = k == relo::TYPE_ID_LOCAL;
            u64::from(s.root)
        }
        relo::TYPE_SIZE => size_of(src, s.root)?,
        relo::ENUMVAL_VALUE => s.enumval.as_ref().map_or(0, |e| e.1),
        _ if !s.end.named => {
            let size = size_of(src, s.end.type_id)?;
            match k {
                relo::FIELD_BYTE_OFFSET => {
                    v.mem = Some((size, s.end.type_id));
                    s.bit_offset / 8
                }
                relo::FIELD_BYTE_SIZE => size,
                _ => return Err(unsupported()),
            }
        }
        _ => {
            let (mid, mt) = skip_mods(src, s.end.type_id)?;
            let bit_off = s.bit_offset;
            let (byte_off, byte_sz, bit_sz) = if s.end.bit_size > 0 {
                // The smallest aligned load, of at least the field's declared
                // integer size, that covers the whole bitfield.
                let bit_sz = u64::from(s.end.bit_size);
                let mut byte_sz = u64::from(mt.size_or_type).max(1);
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
                // Compiler and loader may choose differently for bitfields.
                v.validate = false;
                (byte_off, byte_sz, bit_sz)
            } else {
                let sz = size_of(src, mid)?;
                (bit_off / 8, sz, sz * 8)
            };
            match k {
                relo::FIELD_BYTE_OFFSET => {
                    if s.end.bit_size == 0 {
                        v.mem = Some((byte_sz, s.end.type_id));
                    }
                    byte_off
                }
                relo::FIELD_BYTE_SIZE => byte_sz,
                relo::FIELD_SIGNED => {
                    v.validate = true;
                    let signed = (is_enum(mt.kind) && mt.kflag)
                        || (mt.kind == kind::INT && int_info(&mt)?.0);
                    u64::from(signed)
                }
                relo::FIELD_LSHIFT_U64 => 64 - (bit_off + bit_sz - byte_off * 8),
                relo::FIELD_RSHIFT_U64 => {
                    v.validate = true;
                    64 - bit_sz
                }
                _ => return Err(unsupported()),
            }
        }
    };
    Ok(v)
}

/// The decision for one relocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The value the local BTF gives (what the compiler put in).
    pub local: u64,
    /// The value for the target; meaningless when `poison`.
    pub target: u64,
    /// No target field/enumerator: the instruction becomes a poisoned call.
    pub poison: bool,
    /// Check the instruction holds `local` before patching.
    validate: bool,
    /// Load/store size change: Some(new size) when the field's size changed.
    new_mem_size: Option<u64>,
    /// The size changed in a way a load cannot follow (poison loads).
    bad_mem_size: bool,
    /// What was matched, for messages: "struct sk_buff (vmlinux id 4242)".
    pub matched: String,
}

/// Finds candidates for a relocation and computes its outcome
/// (libbpf's `bpf_core_calc_relo_insn`).
#[inline(never)]
pub fn decide(local: &Btf, r: &CoreRelo, targets: &[&dyn BtfSource]) -> Result<Outcome> {
    let ls = local_spec(local, r)?;
    let lv = value_of(local, &ls, r.kind)?;
    if r.kind == relo::TYPE_ID_LOCAL {
        return Ok(Outcome {
            local: lv.val,
            target: lv.val,
            poison: false,
            validate: true,
            new_mem_size: None,
            bad_mem_size: false,
            matched: "the object's own BTF".into(),
        });
    }
    let root = local.type_rec(ls.root)?;
    let root_name = local.string(root.name_off)?;
    let essential = essential_name(&root_name);
    if essential.is_empty() {
        return Err(Error::Btf(format!(
            "the relocation's root type {} has no name to look for",
            ls.root
        )));
    }
    // Candidates come from the first target (vmlinux) if it has any of the
    // right kind; otherwise from all the others (modules), as in libbpf.
    let mut matched: Option<(Spec, Value, u32, usize)> = None;
    for (ti, target) in targets.iter().enumerate() {
        let mut found_any = false;
        for cand in target.candidates(essential)? {
            let t = target.type_rec(cand)?;
            if !kinds_compat(root.kind, t.kind) {
                continue;
            }
            found_any = true;
            let Some(ts) = match_spec(local, &ls, r.kind, *target, cand)? else {
                continue;
            };
            let tv = value_of(*target, &ts, r.kind)?;
            match &matched {
                None => matched = Some((ts, tv, cand, ti)),
                Some((ms, mv, mcand, mti)) => {
                    if mv.val != tv.val || (is_field_kind(r.kind) && ms.bit_offset != ts.bit_offset)
                    {
                        return Err(Error::Btf(format!(
                            "ambiguous CO-RE relocation {} of {root_name:?} access {:?}: candidates {} gives {} but {} gives {}",
                            relo::name(r.kind),
                            r.access,
                            describe(targets[*mti], *mcand),
                            mv.val,
                            describe(*target, cand),
                            tv.val
                        )));
                    }
                }
            }
        }
        if found_any && ti == 0 {
            break;
        }
    }
    let Some((_, tv, cand, ti)) = matched else {
        // Nothing fits: existence kinds say 0; type size 0; the rest poison.
        let (target, poison) = match r.kind {
            relo::FIELD_EXISTS
            | relo::TYPE_EXISTS
            | relo::TYPE_MATCHES
            | relo::TYPE_SIZE
            | relo::TYPE_ID_TARGET
            | relo::ENUMVAL_EXISTS => (0, false),
            _ => (0, true),
        };
        return Ok(Outcome {
            local: lv.val,
            target,
            poison,
            validate: lv.validate,
            new_mem_size: None,
            bad_mem_size: false,
            matched: format!("no {essential:?} in the target"),
        });
    };
    let mut out = Outcome {
        local: lv.val,
        target: tv.val,
        poison: false,
        validate: lv.validate,
        new_mem_size: None,
        bad_mem_size: false,
        matched: describe(targets[ti], cand),
    };
    if let (Some((lsz, lty)), Some((tsz, tty))) = (lv.mem, tv.mem) {
        if lsz != tsz {
            out.new_mem_size = Some(tsz);
            // Only zero-extended values survive a narrower or wider load:
            // pointers (32-bit kernels) and unsigned integers.
            let (_, l) = skip_mods(local, lty)?;
            let (_, t) = skip_mods(targets[ti], tty)?;
            let unsigned_int =
                |r: &TypeRec| -> Result<bool> { Ok(r.kind == kind::INT && !int_info(r)?.0) };
            let ok = (l.kind == kind::PTR && t.kind == kind::PTR)
                || (unsigned_int(&l)? && unsigned_int(&t)?);
            out.bad_mem_size = !ok;
        }
    }
    Ok(out)
}

/// "struct sk_buff (vmlinux id 4242)", for messages.
#[inline(never)]
fn describe(target: &dyn BtfSource, id: u32) -> String {
    let (k, name) = match target.type_rec(id) {
        Ok(t) => (t.kind, target.string(t.name_off).unwrap_or_default()),
        Err(_) => (0, String::new()),
    };
    format!("{} {name} ({} id {id})", kind_name(k), target.label())
}

fn kind_name(k: u8) -> &'static str {
    match k {
        kind::STRUCT => "struct",
        kind::UNION => "union",
        kind::ENUM | kind::ENUM64 => "enum",
        kind::TYPEDEF => "typedef",
        kind::INT => "int",
        kind::PTR => "pointer",
        kind::ARRAY => "array",
        kind::FUNC_PROTO => "func_proto",
        kind::FWD => "fwd",
        kind::FLOAT => "float",
        _ => "type",
    }
}

// ---------------------------------------------------------------------------
// Patching instructions.

/// The access-size bits for a load/store of `n` bytes.
fn size_code(n: u64) -> Option<u8> {
    Some(match n {
        1 => BPF_B,
        2 => BPF_H,
        4 => BPF_W,
        8 => BPF_DW,
        _ => return None,
    })
}

/// Replaces the instruction at `i` (both slots of an ld_imm64) by a call of
/// the poison helper.
#[inline(never)]
fn poison(insns: &mut [Insn], i: usize) {
    if insns[i].is_ld_imm64() && i + 1 < insns.len() {
        insns[i + 1] = Insn::call_helper(POISON_HELPER);
    }
    insns[i] = Insn::call_helper(POISON_HELPER);
}

/// Writes an outcome into instruction `i` (libbpf's `bpf_core_patch_insn`).
#[inline(never)]
fn patch(insns: &mut [Insn], i: usize, o: &Outcome) -> std::result::Result<(), String> {
    if o.poison {
        poison(insns, i);
        return Ok(());
    }
    let insn = insns[i];
    let mismatch = |had: i64| {
        format!(
            "the instruction holds {had}, but the object's BTF gives {}",
            o.local
        )
    };
    match insn.class() {
        Class::Alu | Class::Alu64 => {
            if insn.source() != BPF_K {
                return Err("an ALU relocation needs an immediate operand".into());
            }
            if o.validate && insn.imm as u32 as u64 != o.local && insn.imm as i64 as u64 != o.local
            {
                return Err(mismatch(insn.imm.into()));
            }
            let imm = i32::try_from(o.target as i64)
                .or_else(|_| u32::try_from(o.target).map(|v| v as i32))
                .map_err(|_| format!("value {} does not fit a 32-bit immediate", o.target))?;
            insns[i].imm = imm;
        }
        Class::Ldx | Class::St | Class::Stx => {
            if o.validate && insn.off as i64 as u64 != o.local {
                return Err(mismatch(insn.off.into()));
            }
            let off = i16::try_from(o.target)
                .map_err(|_| format!("offset {} does not fit a 16-bit offset", o.target))?;
            if let Some(size) = o.new_mem_size {
                if insn.mode() != BPF_MEM {
                    return Err("only plain loads and stores can change size".into());
                }
                if o.bad_mem_size {
                    poison(insns, i);
                    return Ok(());
                }
                let code = size_code(size)
                    .ok_or_else(|| format!("a field of {size} bytes cannot be loaded"))?;
                insns[i].code = (insn.code & !BPF_DW) | code;
            }
            insns[i].off = off;
        }
        _ if insn.is_ld_imm64() => {
            let Some(&next) = insns.get(i + 1) else {
                return Err("ld_imm64 without its second slot".into());
            };
            if o.validate && Insn::imm64(&insn, &next) != o.local {
                return Err(mismatch(Insn::imm64(&insn, &next) as i64));
            }
            insns[i].imm = o.target as u32 as i32;
            insns[i + 1].imm = (o.target >> 32) as u32 as i32;
        }
        _ => {
            return Err(format!(
                "instruction code {:#04x} cannot be relocated",
                insn.code
            ))
        }
    }
    Ok(())
}

/// One applied relocation, for `--verbose` style reports and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// Instruction index in the section.
    pub insn: usize,
    /// `enum bpf_core_relo_kind` (see [`relo`]).
    pub kind: u32,
    /// The relocation's access string, e.g. "0:1:3".
    pub access: String,
    /// What [`decide`] found, which the instruction was patched with.
    pub outcome: Outcome,
}

/// Applies the CO-RE relocations of one ELF section to its instructions.
/// Errors name the section and the instruction.
pub fn relocate_section(
    section: &str,
    insns: &mut [Insn],
    relos: &[CoreRelo],
    local: &Btf,
    targets: &[&dyn BtfSource],
) -> Result<Vec<Applied>> {
    // Second halves of ld_imm64 are not instructions of their own.
    let mut tail = vec![false; insns.len()];
    let mut j = 0;
    while j < insns.len() {
        if insns[j].is_ld_imm64() && j + 1 < insns.len() {
            tail[j + 1] = true;
            j += 1;
        }
        j += 1;
    }
    let mut applied = Vec::with_capacity(relos.len());
    for r in relos {
        let i = (r.insn_off / 8) as usize;
        let err = |what: String| Error::Reloc {
            section: section.to_string(),
            insn: i,
            what: format!(
                "CO-RE {} of type {} access {:?}: {what}",
                relo::name(r.kind),
                r.type_id,
                r.access
            ),
        };
        if i >= insns.len() || tail[i] || r.insn_off % 8 != 0 {
            return Err(err(format!(
                "insn_off {} is not an instruction of the section ({} instructions)",
                r.insn_off,
                insns.len()
            )));
        }
        let outcome = decide(local, r, targets).map_err(|e| err(strip(e)))?;
        patch(insns, i, &outcome).map_err(err)?;
        applied.push(Applied {
            insn: i,
            kind: r.kind,
            access: r.access.clone(),
            outcome,
        });
    }
    Ok(applied)
}

fn strip(e: Error) -> String {
    match e {
        Error::Btf(what) => what,
        other => other.to_string(),
    }
}

/// The essential names of the root types the relocations of `relos` look up
/// in a target: what [`crate::kernel::btf`] needs to index, and nothing else.
/// TYPE_ID_LOCAL needs no target.
pub fn wanted_names<'r>(
    local: &Btf,
    relos: impl Iterator<Item = &'r CoreRelo>,
) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for r in relos.filter(|r| r.kind != relo::TYPE_ID_LOCAL) {
        let name = essential_name(local.type_name(r.type_id)?);
        if !name.is_empty() {
            insert_sorted(&mut names, name);
        }
    }
    Ok(names)
}

/// Adds `name` to the sorted, duplicate-free `names` (a few dozen at most:
/// cheaper in code than a general sort).
pub fn insert_sorted(names: &mut Vec<String>, name: &str) {
    if let Err(at) = names.binary_search_by(|n| n.as_str().cmp(name)) {
        names.insert(at, name.to_string());
    }
}

#[cfg(test)]
mod tests;
