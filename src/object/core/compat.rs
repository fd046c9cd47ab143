//! When a target type may stand for a local one: the relations CO-RE
//! defines between the object's types and the kernel's, as the kernel's
//! own copy of relo_core.c and its btf.c define them
//! (`bpf_core_fields_are_compat`, `bpf_core_types_are_compat`,
//! `bpf_core_types_match`).
//!
//! Every walk is bounded twice: in depth ([`MAX_DEPTH`]) and in the types it
//! visits ([`Budget`]), so hostile BTF costs neither the stack nor
//! exponential time.

use super::Budget;
use crate::error::Result;
use crate::object::btf::{essential_name, kind, BtfSource, Type, MAX_DEPTH};

/// Whether a target type of kind `t` can stand for a local one of kind `l`
/// (ENUM and ENUM64 may stand for each other).
pub(super) fn kinds_compat(l: u8, t: u8) -> bool {
    let is_enum = |k| k == kind::ENUM || k == kind::ENUM64;
    l == t || (is_enum(l) && is_enum(t))
}

/// Field compatibility (`bpf_core_fields_are_compat`): may a local field of
/// type `lid` be read from a target field of type `tid`? Structs and unions
/// agree with each other (their members are checked only when accessed),
/// integers with integers, pointers with pointers, enums and forward
/// declarations by essential name, arrays by their element types.
pub(super) fn fields_compat(
    local: &dyn BtfSource,
    lid: u32,
    target: &dyn BtfSource,
    tid: u32,
) -> Result<bool> {
    let (mut lid, mut tid) = (lid, tid);
    for _ in 0..MAX_DEPTH {
        let (_, l) = local.skip_modifiers(lid)?;
        let (_, t) = target.skip_modifiers(tid)?;
        if l.is_composite() && t.is_composite() {
            return Ok(true);
        }
        if !kinds_compat(l.kind, t.kind) {
            return Ok(false);
        }
        return Ok(match l.kind {
            kind::PTR | kind::FLOAT => true,
            kind::FWD | kind::ENUM | kind::ENUM64 => {
                let (ln, tn) = (local.string(l.name_off)?, target.string(t.name_off)?);
                essential_name(&ln) == essential_name(&tn)
            }
            // Any integers, except old-style bitfield integers.
            kind::INT => l.int()?.offset == 0 && t.int()?.offset == 0,
            kind::ARRAY => {
                lid = l.array()?.0;
                tid = t.array()?.0;
                continue;
            }
            _ => false,
        });
    }
    Ok(false)
}

/// The two type relations of the TYPE_* kinds, in one walk.
///
/// Loose (`strict == false`, `bpf_core_types_are_compat`, for TYPE_EXISTS,
/// TYPE_SIZE, TYPE_ID_TARGET): kinds agree (the root's name was already
/// matched), integers are not old-style bitfields, pointers and arrays
/// compare what they point to or hold, function prototypes parameter by
/// parameter.
///
/// Strict (TYPE_MATCHES, `bpf_core_types_match`): names agree too, every
/// local member or enumerator exists in the target with a matching type,
/// integers agree in size and signedness, arrays in length; behind a
/// pointer, structs and unions only need the same name.
pub(super) struct Matcher<'w> {
    /// The object's BTF.
    pub local: &'w dyn BtfSource,
    /// The candidate's BTF.
    pub target: &'w dyn BtfSource,
    /// TYPE_MATCHES rather than the looser TYPE_EXISTS relation.
    pub strict: bool,
    /// What the walk may still visit.
    pub budget: &'w Budget,
}

impl Matcher<'_> {
    /// Whether target type `tid` matches local type `lid`; `behind_ptr`
    /// once the walk went through a pointer.
    pub fn types(&self, lid: u32, tid: u32, behind_ptr: bool, depth: u32) -> Result<bool> {
        if depth > MAX_DEPTH {
            return Ok(false);
        }
        self.budget.spend()?;
        let (_, l) = self.local.skip_modifiers(lid)?;
        let (_, t) = self.target.skip_modifiers(tid)?;
        if self.strict {
            if let Some(answer) = self.names_and_forwards(&l, &t)? {
                return Ok(answer);
            }
        }
        if !kinds_compat(l.kind, t.kind) {
            return Ok(false);
        }
        let again = |lid, tid, behind_ptr| self.types(lid, tid, behind_ptr, depth + 1);
        Ok(match l.kind {
            0 | kind::FWD => true,
            kind::INT if self.strict => {
                l.size_or_type == t.size_or_type && l.int()?.signed() == t.int()?.signed()
            }
            kind::INT => l.int()?.offset == 0 && t.int()?.offset == 0,
            kind::FLOAT => !self.strict || l.size_or_type == t.size_or_type,
            kind::ENUM | kind::ENUM64 if self.strict => self.enumerators(&l, &t)?,
            kind::STRUCT | kind::UNION if self.strict && !behind_ptr => {
                self.members(&l, &t, depth)?
            }
            kind::STRUCT | kind::UNION | kind::ENUM | kind::ENUM64 => true,
            kind::PTR => again(l.size_or_type, t.size_or_type, true)?,
            kind::ARRAY => {
                let ((le, ln), (te, tn)) = (l.array()?, t.array()?);
                (!self.strict || ln == tn) && again(le, te, behind_ptr)?
            }
            kind::FUNC_PROTO => self.prototypes(&l, &t, behind_ptr, depth)?,
            _ => false,
        })
    }

    /// Strict matching starts with names: a named local type needs a target
    /// of the same essential name, and a forward declaration matches a
    /// struct or union of its flavour (kind flag: union). `Some` when that
    /// decides it.
    fn names_and_forwards(&self, l: &Type<'_>, t: &Type<'_>) -> Result<Option<bool>> {
        let ln = self.local.string(l.name_off)?;
        if !ln.is_empty() && essential_name(&ln) != essential_name(&self.target.string(t.name_off)?)
        {
            return Ok(Some(false));
        }
        if l.kind != kind::FWD && t.kind != kind::FWD {
            return Ok(None);
        }
        let is_union = |r: &Type<'_>| {
            if r.kind == kind::FWD {
                r.kflag
            } else {
                r.kind == kind::UNION
            }
        };
        let ok = |r: &Type<'_>| r.kind == kind::FWD || r.is_composite();
        Ok(Some(ok(l) && ok(t) && is_union(l) == is_union(t)))
    }

    /// Strict enums: the same size, and every local enumerator's essential
    /// name among the target's.
    fn enumerators(&self, l: &Type<'_>, t: &Type<'_>) -> Result<bool> {
        if l.size_or_type != t.size_or_type {
            return Ok(false);
        }
        for i in 0..u32::from(l.vlen) {
            let name = self.local.string(l.enumerator(i)?.0)?;
            let mut found = false;
            for j in 0..u32::from(t.vlen) {
                let tname = self.target.string(t.enumerator(j)?.0)?;
                if essential_name(&tname) == essential_name(&name) {
                    found = true;
                    break;
                }
            }
            if !found {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Strict structs and unions: every local member is a target member of
    /// the same name, bitfield size and matching type.
    fn members(&self, l: &Type<'_>, t: &Type<'_>, depth: u32) -> Result<bool> {
        for lm in l.members() {
            let lm = lm?;
            let name = self.local.string(lm.name_off)?;
            let mut found = false;
            for tm in t.members() {
                let tm = tm?;
                if self.target.string(tm.name_off)? == name {
                    found = lm.bit_size == tm.bit_size
                        && self.types(lm.type_id, tm.type_id, false, depth + 1)?;
                    break;
                }
            }
            if !found {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Function prototypes: as many parameters, and the return type and
    /// each parameter's type matching.
    fn prototypes(&self, l: &Type<'_>, t: &Type<'_>, behind_ptr: bool, depth: u32) -> Result<bool> {
        if l.vlen != t.vlen || !self.types(l.size_or_type, t.size_or_type, behind_ptr, depth + 1)? {
            return Ok(false);
        }
        for i in 0..u32::from(l.vlen) {
            let (lp, tp) = (l.param(i)?.1, t.param(i)?.1);
            if !self.types(lp, tp, behind_ptr, depth + 1)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
