//! Step 6: CO-RE, "compile once, run everywhere": fitting field offsets and
//! type facts compiled against one kernel's types to the kernel the program
//! runs on.
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
//!
//! # Where each rule lives
//!
//! The kernel itself applies CO-RE relocations for programs loaded with
//! them (BPF_PROG_LOAD's `core_relos`), from a copy of libbpf's relo_core.c
//! built into kernel/bpf: the functions named below are that file's.
//! rawbpf applies them itself, before the load, as libbpf does:
//!
//! | step | here | relo_core.c |
//! |---|---|---|
//! | resolve the access string locally | `spec` | `bpf_core_parse_spec` |
//! | replay it on each candidate | `spec` | `bpf_core_spec_match` |
//! | compatible fields and types | `compat` | `bpf_core_fields_are_compat`, `bpf_core_types_are_compat`, `bpf_core_types_match` |
//! | the number on each side | `value` | `bpf_core_calc_field_relo` and its kin |
//! | choose among candidates | [`decide`] | `bpf_core_calc_relo_insn` |
//! | patch the instruction | `patch` | `bpf_core_patch_insn` |
//!
//! This module is pure: the local BTF, the relocation records and the target
//! types (any [`BtfSource`]) come in, patched instructions go out.
//! [`crate::kernel::btf`] reads the kernel's types; the loader calls
//! [`relocate_section`] on each program section before sub-programs are
//! assembled.

mod compat;
mod patch;
mod spec;
#[cfg(test)]
mod tests;
mod value;

use std::cell::Cell;

use rawbpf_asm::Insn;

use crate::error::{Error, Result};
use crate::object::btf::{btf_what, essential_name, kind, Btf, BtfSource, CoreRelo, Type};
use spec::{local_spec, match_spec, Spec, Step};
use value::{value_of, Value};

/// `enum bpf_core_relo_kind`.
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

    /// Each kind's short name (as libbpf prints it) and its enum name
    /// without the `BPF_CORE_` prefix, by value.
    const NAMES: [(&str, &str); 13] = [
        ("byte_off", "FIELD_BYTE_OFFSET"),
        ("byte_sz", "FIELD_BYTE_SIZE"),
        ("field_exists", "FIELD_EXISTS"),
        ("signed", "FIELD_SIGNED"),
        ("lshift_u64", "FIELD_LSHIFT_U64"),
        ("rshift_u64", "FIELD_RSHIFT_U64"),
        ("local_type_id", "TYPE_ID_LOCAL"),
        ("target_type_id", "TYPE_ID_TARGET"),
        ("type_exists", "TYPE_EXISTS"),
        ("type_size", "TYPE_SIZE"),
        ("enumval_exists", "ENUMVAL_EXISTS"),
        ("enumval_value", "ENUMVAL_VALUE"),
        ("type_matches", "TYPE_MATCHES"),
    ];

    /// The kind's short name, e.g. "byte_off".
    pub fn name(kind: u32) -> &'static str {
        NAMES.get(kind as usize).map_or("unknown", |n| n.0)
    }

    /// The kind's enum name without its `BPF_CORE_` prefix, e.g. "FIELD_BYTE_OFFSET".
    pub fn enum_name(kind: u32) -> &'static str {
        NAMES.get(kind as usize).map_or("?", |n| n.1)
    }
}

/// The helper id a poisoned instruction calls: 0xbad2310 ("bad relo").
pub const POISON_HELPER: i32 = 0xbad2310;

/// How many types one relocation's walks may visit: with anonymous members
/// or struct members that nest both wide and deep, hostile BTF could
/// otherwise make them take exponential time.
const MAX_VISITS: u32 = 1 << 16;

/// What one relocation's walks may still visit (see [`MAX_VISITS`]).
struct Budget(Cell<u32>);

impl Budget {
    fn new() -> Budget {
        Budget(Cell::new(MAX_VISITS))
    }

    /// One more type visited; an error once [`MAX_VISITS`] are.
    fn spend(&self) -> Result<()> {
        match self.0.get().checked_sub(1) {
            Some(left) => {
                self.0.set(left);
                Ok(())
            }
            None => Err(Error::Btf(format!(
                "more than {MAX_VISITS} types visited for one relocation"
            ))),
        }
    }
}

fn is_field_kind(k: u32) -> bool {
    k <= relo::FIELD_RSHIFT_U64
}

fn is_enumval_kind(k: u32) -> bool {
    k == relo::ENUMVAL_EXISTS || k == relo::ENUMVAL_VALUE
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

impl Outcome {
    /// What the local value alone decides: `target` for the instruction.
    fn from_local(lv: &Value, target: u64, poison: bool, matched: String) -> Outcome {
        Outcome {
            local: lv.val,
            target,
            poison,
            validate: lv.validate,
            new_mem_size: None,
            bad_mem_size: false,
            matched,
        }
    }
}

/// The candidate a relocation settled on.
struct Found {
    spec: Spec,
    value: Value,
    /// Its type id in its target.
    id: u32,
    /// Which of the targets it is in.
    target: usize,
}

/// Finds candidates for a relocation and computes its outcome
/// (`bpf_core_calc_relo_insn`).
pub fn decide(local: &Btf, r: &CoreRelo, targets: &[&dyn BtfSource]) -> Result<Outcome> {
    let ls = local_spec(local, r)?;
    let lv = value_of(local, &ls, r.kind)?;
    if r.kind == relo::TYPE_ID_LOCAL {
        let mut out = Outcome::from_local(&lv, lv.val, false, "the object's own BTF".into());
        out.validate = true;
        return Ok(out);
    }
    let root = local.get(ls.root)?;
    let essential = essential_name(local.name(root.name_off)?);
    if essential.is_empty() {
        return Err(Error::Btf(format!(
            "the relocation's root type {} has no name to look for",
            ls.root
        )));
    }
    let Some(found) = find_candidate(local, r, &ls, (root.kind, essential), targets)? else {
        return Ok(not_found(r.kind, &lv, essential));
    };
    let mut out = Outcome::from_local(
        &lv,
        found.value.val,
        false,
        describe(targets[found.target], found.id),
    );
    if let (Some((lsz, lty)), Some((tsz, tty))) = (lv.mem, found.value.mem) {
        if lsz != tsz {
            out.new_mem_size = Some(tsz);
            out.bad_mem_size = !load_may_change_size(local, lty, targets[found.target], tty)?;
        }
    }
    Ok(out)
}

/// Nothing fits: existence kinds say 0, a type's size and id are 0, the
/// rest poison their instruction.
fn not_found(kind: u32, lv: &Value, essential: &str) -> Outcome {
    let poison = !matches!(
        kind,
        relo::FIELD_EXISTS
            | relo::TYPE_EXISTS
            | relo::TYPE_MATCHES
            | relo::TYPE_SIZE
            | relo::TYPE_ID_TARGET
            | relo::ENUMVAL_EXISTS
    );
    Outcome::from_local(lv, 0, poison, format!("no {essential:?} in the target"))
}

/// Only zero-extended values survive a narrower or wider load: pointers
/// (32-bit kernels) and unsigned integers.
fn load_may_change_size(
    local: &dyn BtfSource,
    lty: u32,
    target: &dyn BtfSource,
    tty: u32,
) -> Result<bool> {
    let (_, l) = local.skip_modifiers(lty)?;
    let (_, t) = target.skip_modifiers(tty)?;
    let unsigned_int =
        |r: &Type<'_>| -> Result<bool> { Ok(r.kind == kind::INT && !r.int()?.signed()) };
    Ok((l.kind == kind::PTR && t.kind == kind::PTR) || (unsigned_int(&l)? && unsigned_int(&t)?))
}

/// Every candidate named `essential` of a kind compatible with the root's
/// whose spec matches; they must agree. Candidates come from the first target (vmlinux) if it
/// has any of the right kind; otherwise from all the others (modules), as
/// in libbpf.
fn find_candidate(
    local: &Btf,
    r: &CoreRelo,
    ls: &Spec,
    (root_kind, essential): (u8, &str),
    targets: &[&dyn BtfSource],
) -> Result<Option<Found>> {
    let mut found: Option<Found> = None;
    for (ti, target) in targets.iter().enumerate() {
        let mut any_of_kind = false;
        for id in target.candidates(essential)? {
            if !compat::kinds_compat(root_kind, target.ty(id)?.kind) {
                continue;
            }
            any_of_kind = true;
            let Some(spec) = match_spec(local, ls, r.kind, *target, id)? else {
                continue;
            };
            let value = value_of(*target, &spec, r.kind)?;
            let next = Found {
                spec,
                value,
                id,
                target: ti,
            };
            match &found {
                None => found = Some(next),
                Some(first) => check_agree(local, r, targets, first, &next)?,
            }
        }
        if any_of_kind && ti == 0 {
            break;
        }
    }
    Ok(found)
}

/// Two matching candidates must give the same number (and, for fields, the
/// same offset); else the relocation is ambiguous, and both are named.
fn check_agree(
    local: &Btf,
    r: &CoreRelo,
    targets: &[&dyn BtfSource],
    a: &Found,
    b: &Found,
) -> Result<()> {
    if a.value.val == b.value.val
        && (!is_field_kind(r.kind) || a.spec.bit_offset == b.spec.bit_offset)
    {
        return Ok(());
    }
    Err(Error::Btf(format!(
        "ambiguous CO-RE relocation {} of {:?} access {:?}: candidates {} gives {} but {} gives {}",
        relo::name(r.kind),
        local.type_name(r.type_id).unwrap_or_default(),
        r.access,
        describe(targets[a.target], a.id),
        a.value.val,
        describe(targets[b.target], b.id),
        b.value.val
    )))
}

/// "struct sk_buff (vmlinux id 4242)", for messages.
fn describe(target: &dyn BtfSource, id: u32) -> String {
    let (k, name) = match target.ty(id) {
        Ok(t) => (
            t.kind,
            target.string(t.name_off).unwrap_or_default().into_owned(),
        ),
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

/// What a relocation asks, for people: its kind and the access string
/// resolved to names against the object's own BTF, such as
/// `FIELD_BYTE_OFFSET struct sk_buff___mine.len (0:2)` or
/// `ENUMVAL_VALUE enum skb_drop_reason::SKB_DROP_REASON_NOT_SPECIFIED (2)`.
pub fn describe_relo(local: &Btf, r: &CoreRelo) -> String {
    let head = format!("{} ", relo::enum_name(r.kind));
    let spec = match local_spec(local, r) {
        Ok(spec) => spec,
        Err(e) => return format!("{head}({}): {e}", r.access),
    };
    let keyword = match local.get(spec.root).map(|t| t.kind) {
        Ok(kind::STRUCT) => "struct ",
        Ok(kind::UNION) => "union ",
        Ok(kind::ENUM | kind::ENUM64) => "enum ",
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

/// Which instructions are the second halves of an ld_imm64: not
/// instructions of their own, so no relocation may point at one.
fn second_halves(insns: &[Insn]) -> Vec<bool> {
    let mut tail = vec![false; insns.len()];
    let mut j = 0;
    while j < insns.len() {
        if insns[j].is_ld_imm64() && j + 1 < insns.len() {
            tail[j + 1] = true;
            j += 1;
        }
        j += 1;
    }
    tail
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
    let tail = second_halves(insns);
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
        let outcome = decide(local, r, targets).map_err(|e| err(btf_what(e)))?;
        patch::patch(insns, i, &outcome).map_err(err)?;
        applied.push(Applied {
            insn: i,
            kind: r.kind,
            access: r.access.clone(),
            outcome,
        });
    }
    Ok(applied)
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
