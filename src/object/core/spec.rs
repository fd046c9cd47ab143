//! Access specs: an access string resolved against one BTF, first the
//! object's (`bpf_core_parse_spec`), then replayed on each target candidate
//! (`bpf_core_spec_match`).
//!
//! The first number of `"0:3:1"` indexes the root as an array; each further
//! number is a member index of a struct or union, or an element index of an
//! array. Locally the path is followed by index; in the target, members are
//! found again by name (looking inside anonymous members), so the local
//! declaration only has to list the fields the program uses.

use super::compat::{fields_compat, Matcher};
use super::{is_enumval_kind, is_field_kind, relo, Budget};
use crate::error::{Error, Result};
use crate::object::btf::{essential_name, kind, BtfSource, CoreRelo, Member, MAX_DEPTH};

/// One step of an access path after the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Array element (the first step always is one: `p[i]` on the root).
    Index(u32),
    /// A named member, with its local type so the target's can be checked.
    Member { name: String, local_type: u32 },
}

/// The field (or root) an access path ends at.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct FieldEnd {
    /// Type id of the field (modifiers not skipped).
    pub type_id: u32,
    /// Bit size if the field is a bitfield member, else 0.
    pub bit_size: u32,
    /// Whether the path ended at a named member (not an array element).
    pub named: bool,
}

/// An access string resolved against one BTF.
#[derive(Clone, Debug)]
pub(super) struct Spec {
    /// The root type the path starts from.
    pub root: u32,
    /// The path: array indexes and named members.
    pub steps: Vec<Step>,
    /// Where the field lies, in bits from the start of the root.
    pub bit_offset: u64,
    /// The field the path ends at.
    pub end: FieldEnd,
    /// For enumerator relocations: the enumerator's name and value.
    pub enumval: Option<(String, u64)>,
}

impl Spec {
    /// A path that has not left its root yet.
    fn at_root(root: u32) -> Spec {
        Spec {
            root,
            steps: Vec::new(),
            bit_offset: 0,
            end: FieldEnd {
                type_id: root,
                ..FieldEnd::default()
            },
            enumval: None,
        }
    }

    /// Moves the field `index` elements of `size` bytes further.
    fn skip_elements(&mut self, index: u32, size: u64) -> Result<()> {
        let bits = u64::from(index)
            .checked_mul(size)
            .and_then(|b| b.checked_mul(8));
        self.skip_bits(bits.ok_or_else(|| Error::Btf("field offset too large".into()))?)
    }

    /// Moves the field `bits` further.
    fn skip_bits(&mut self, bits: u64) -> Result<()> {
        self.bit_offset = self
            .bit_offset
            .checked_add(bits)
            .ok_or_else(|| Error::Btf("field offset too large".into()))?;
        Ok(())
    }

    /// The path now ends at element type `elem` of an array.
    fn end_at_element(&mut self, elem: u32) {
        self.end = FieldEnd {
            type_id: elem,
            bit_size: 0,
            named: false,
        };
    }

    /// The path now ends at member `m`.
    fn end_at_member(&mut self, m: &Member) {
        self.end = FieldEnd {
            type_id: m.type_id,
            bit_size: m.bit_size,
            named: true,
        };
    }
}

fn parse_access(access: &str) -> Result<Vec<u32>> {
    access
        .split(':')
        .map(|n| {
            n.parse::<u32>()
                .map_err(|_| Error::Btf(format!("access string {access:?} is not numbers")))
        })
        .collect()
}

/// Resolves the local access string (`bpf_core_parse_spec`).
pub(super) fn local_spec(local: &dyn BtfSource, r: &CoreRelo) -> Result<Spec> {
    let idx = parse_access(&r.access)?;
    let bad = |what: String| Error::Btf(format!("access string {:?}: {what}", r.access));
    let mut spec = Spec::at_root(r.type_id);
    if !is_field_kind(r.kind) {
        if idx.len() != 1 || (!is_enumval_kind(r.kind) && idx[0] != 0) {
            return Err(bad("a type or enum relocation takes one number".into()));
        }
        if is_enumval_kind(r.kind) {
            spec.enumval = Some(local_enumerator(local, r.type_id, idx[0])?.map_err(bad)?);
        }
        return Ok(spec);
    }
    spec.skip_elements(idx[0], local.size_of(r.type_id)?)?;
    spec.steps.push(Step::Index(idx[0]));
    let mut id = r.type_id;
    for &i in &idx[1..] {
        id = local_step(local, id, i, &mut spec)?.map_err(bad)?;
    }
    Ok(spec)
}

/// `(name, value)` of enumerator `i` of local enum `id`.
fn local_enumerator(
    local: &dyn BtfSource,
    id: u32,
    i: u32,
) -> Result<std::result::Result<(String, u64), String>> {
    let (_, t) = local.skip_modifiers(id)?;
    if !t.is_enum() || i >= u32::from(t.vlen) {
        return Ok(Err(format!("type {id} has no enumerator {i}")));
    }
    let (name_off, value) = t.enumerator(i)?;
    Ok(Ok((local.string(name_off)?.into_owned(), value)))
}

/// One step `i` of the local path from type `id`: member `i` of a struct
/// or union, element `i` of an array. Returns the type the step reaches, or
/// why the step does not fit the type.
fn local_step(
    local: &dyn BtfSource,
    id: u32,
    i: u32,
    spec: &mut Spec,
) -> Result<std::result::Result<u32, String>> {
    let (_, t) = local.skip_modifiers(id)?;
    if t.is_composite() {
        if i >= u32::from(t.vlen) {
            return Ok(Err(format!("member {i} of a type with {} members", t.vlen)));
        }
        let m = t.member(i)?;
        spec.skip_bits(u64::from(m.bit_offset))?;
        let name = local.string(m.name_off)?;
        if !name.is_empty() {
            spec.steps.push(Step::Member {
                name: name.into_owned(),
                local_type: m.type_id,
            });
        }
        spec.end_at_member(&m);
        return Ok(Ok(m.type_id));
    }
    if t.kind == kind::ARRAY {
        let (elem, n) = t.array()?;
        if i >= n && n != 0 {
            return Ok(Err(format!("index {i} of an array of {n}")));
        }
        spec.skip_elements(i, local.size_of(elem)?)?;
        spec.steps.push(Step::Index(i));
        spec.end_at_element(elem);
        return Ok(Ok(elem));
    }
    Ok(Err(format!(
        "step {i} into a type of kind {} (not a struct, union or array)",
        t.kind
    )))
}

/// Replays a local spec on target candidate `root` (`bpf_core_spec_match`);
/// `None` if it does not fit.
pub(super) fn match_spec(
    local: &dyn BtfSource,
    ls: &Spec,
    kind_: u32,
    target: &dyn BtfSource,
    root: u32,
) -> Result<Option<Spec>> {
    let budget = Budget::new();
    let ts = Spec::at_root(root);
    if is_field_kind(kind_) {
        return match_field(local, ls, target, ts, &budget);
    }
    if let Some((name, _)) = &ls.enumval {
        return match_enumerator(name, target, ts);
    }
    let matcher = Matcher {
        local,
        target,
        strict: kind_ == relo::TYPE_MATCHES,
        budget: &budget,
    };
    Ok(matcher.types(ls.root, root, false, 0)?.then_some(ts))
}

/// The target enum's enumerator of the same essential name.
fn match_enumerator(name: &str, target: &dyn BtfSource, mut ts: Spec) -> Result<Option<Spec>> {
    let (_, t) = target.skip_modifiers(ts.root)?;
    if !t.is_enum() {
        return Ok(None);
    }
    for i in 0..u32::from(t.vlen) {
        let (off, value) = t.enumerator(i)?;
        let tname = target.string(off)?;
        if essential_name(&tname) == essential_name(name) {
            ts.enumval = Some((tname.into_owned(), value));
            return Ok(Some(ts));
        }
    }
    Ok(None)
}

/// The local path's steps, one by one, in the target.
fn match_field(
    local: &dyn BtfSource,
    ls: &Spec,
    target: &dyn BtfSource,
    mut ts: Spec,
    budget: &Budget,
) -> Result<Option<Spec>> {
    let mut id = ts.root;
    for (n, step) in ls.steps.iter().enumerate() {
        let reached = match step {
            Step::Index(i) if n == 0 => {
                ts.skip_elements(*i, target.size_of(id)?)?;
                Some(id)
            }
            Step::Index(i) => target_element(target, id, *i, &mut ts)?,
            Step::Member { name, local_type } => {
                let Some(m) = target_member(target, id, name, &mut ts, budget)? else {
                    return Ok(None);
                };
                fields_compat(local, *local_type, target, m.type_id)?.then_some(m.type_id)
            }
        };
        let Some(next) = reached else {
            return Ok(None);
        };
        id = next;
        ts.steps.push(step.clone());
    }
    Ok(Some(ts))
}

/// Element `i` of target array `id`, if it is an array that long.
fn target_element(target: &dyn BtfSource, id: u32, i: u32, ts: &mut Spec) -> Result<Option<u32>> {
    let (_, t) = target.skip_modifiers(id)?;
    if t.kind != kind::ARRAY {
        return Ok(None);
    }
    let (elem, len) = t.array()?;
    if i >= len && len != 0 {
        return Ok(None);
    }
    ts.skip_elements(i, target.size_of(elem)?)?;
    ts.end_at_element(elem);
    Ok(Some(elem))
}

/// Member `name` of target type `id`, found by name.
fn target_member(
    target: &dyn BtfSource,
    id: u32,
    name: &str,
    ts: &mut Spec,
    budget: &Budget,
) -> Result<Option<Member>> {
    let Some((off, m)) = find_member(target, id, name, 0, budget)? else {
        return Ok(None);
    };
    ts.skip_bits(off)?;
    ts.end_at_member(&m);
    Ok(Some(m))
}

/// Finds member `name` in target composite `id`, looking inside anonymous
/// struct/union members; returns its bit offset (from `id`) and member.
fn find_member(
    target: &dyn BtfSource,
    id: u32,
    name: &str,
    depth: u32,
    budget: &Budget,
) -> Result<Option<(u64, Member)>> {
    if depth > MAX_DEPTH {
        return Ok(None);
    }
    budget.spend()?;
    let (_, t) = target.skip_modifiers(id)?;
    if !t.is_composite() {
        return Ok(None);
    }
    for m in t.members() {
        let m = m?;
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
