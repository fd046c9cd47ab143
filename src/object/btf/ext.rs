//! `.BTF.ext`: what clang records about the code, per ELF section, in
//! byte offsets of that section.
//!
//! - func_info (`struct bpf_func_info`): which BTF FUNC starts at which
//!   instruction; the kernel matches these against its own split of a
//!   program into subprograms (`check_btf_func`).
//! - line_info (`struct bpf_line_info`): the source line of an instruction,
//!   shown in verifier logs (`check_btf_line`).
//! - CO-RE relocations (`struct bpf_core_relo`): which instruction holds a
//!   number taken from a type, which [`crate::object::core`] fits to the
//!   running kernel.
//!
//! The relocation step turns func_info and line_info into the per-program
//! records BPF_PROG_LOAD wants. Every count and offset is checked against
//! the section: a hostile `.BTF.ext` costs time and memory linear in its
//! size, and gives [`Error::Btf`], never a panic.

use std::collections::BTreeMap;

use super::types::{u32_at, MAGIC};
use super::Btf;
use crate::error::{Error, Result};

/// A `struct bpf_func_info` record, with the offset still in bytes of its ELF section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncInfo {
    /// The instruction the record is for (an index into the program).
    pub insn_off: u32,
    /// The BTF id of the function's FUNC type.
    pub type_id: u32,
}

/// A `struct bpf_line_info` record, with the offset still in bytes of its ELF section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineInfo {
    /// The instruction the record is for (an index into the program).
    pub insn_off: u32,
    /// Offset of the source file name in the string section.
    pub file_name_off: u32,
    /// Offset of the source line's text in the string section.
    pub line_off: u32,
    /// Line number (upper 22 bits) and column (lower 10 bits).
    pub line_col: u32,
}

/// A `struct bpf_core_relo` record: "the instruction at `insn_off` (bytes
/// into its ELF section) uses some property (`kind`) of the type, field or
/// enumerator that access string `access` names, starting from local type
/// `type_id`". [`crate::object::core`] explains and applies them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreRelo {
    /// Byte offset of the instruction in its ELF section.
    pub insn_off: u32,
    /// The local BTF type id the access string starts from.
    pub type_id: u32,
    /// The access string, e.g. "0:1:3", already checked to be digits and colons.
    pub access: String,
    /// `enum bpf_core_relo_kind`, already checked to be one rawbpf knows.
    pub kind: u32,
}

/// The highest `enum bpf_core_relo_kind` value (BPF_CORE_TYPE_MATCHES).
pub const CORE_RELO_KIND_MAX: u32 = 12;

/// The parsed `.BTF.ext`: func_info, line_info and CO-RE relocations per ELF
/// section name.
#[derive(Clone, Debug, Default)]
pub struct BtfExt {
    /// Function records per section name, sorted by `insn_off`.
    pub func_info: BTreeMap<String, Vec<FuncInfo>>,
    /// Line records per section name, sorted by `insn_off`.
    pub line_info: BTreeMap<String, Vec<LineInfo>>,
    /// Per section, in the order the sections first appear.
    pub core_relos: Vec<(String, Vec<CoreRelo>)>,
}

fn ext_err(what: impl std::fmt::Display) -> Error {
    Error::Btf(format!(".BTF.ext: {what}"))
}

/// The `u32` at `pos` of a record or block.
fn word(data: &[u8], pos: usize) -> Result<u32> {
    u32_at(data, pos).ok_or_else(|| ext_err(format!("read past the end at offset {pos}")))
}

/// The three info blocks `struct btf_ext_header` points to.
struct Blocks<'d> {
    func: &'d [u8],
    line: &'d [u8],
    core: &'d [u8],
}

/// The header: magic, its own length, then `(offset, length)` of the
/// func_info, line_info and (in newer headers) CO-RE blocks, each inside
/// the section.
fn read_blocks(data: &[u8]) -> Result<Blocks<'_>> {
    if data.len() < 8 || u16::from_le_bytes([data[0], data[1]]) != MAGIC {
        return Err(ext_err("bad magic or too short"));
    }
    let hdr_len = word(data, 4)? as usize;
    if hdr_len < 24 || hdr_len > data.len() {
        return Err(ext_err(format!("header length {hdr_len} is wrong")));
    }
    // Older headers end before the CO-RE fields: those blocks are empty.
    let field = |pos: usize| -> Result<usize> {
        if pos + 4 > hdr_len {
            Ok(0)
        } else {
            Ok(word(data, pos)? as usize)
        }
    };
    let block = |at: usize| -> Result<&[u8]> {
        let (off, len) = (field(at)?, field(at + 4)?);
        hdr_len
            .checked_add(off)
            .and_then(|start| Some(start..start.checked_add(len)?))
            .and_then(|r| data.get(r))
            .ok_or_else(|| ext_err(format!("block {off}+{len} lies outside the section")))
    };
    Ok(Blocks {
        func: block(8)?,
        line: block(16)?,
        core: block(24)?,
    })
}

impl BtfExt {
    /// Parses `.BTF.ext`; section names are resolved through `btf`'s strings.
    pub fn parse(data: &[u8], btf: &Btf) -> Result<BtfExt> {
        let blocks = read_blocks(data)?;
        let mut ext = BtfExt::default();
        for (sec, recs) in info_blocks(blocks.func, 8, btf)? {
            let out = ext.func_info.entry(sec.to_string()).or_default();
            for rec in recs {
                out.push(FuncInfo {
                    insn_off: word(rec, 0)?,
                    type_id: word(rec, 4)?,
                });
            }
        }
        for (sec, recs) in info_blocks(blocks.line, 16, btf)? {
            let out = ext.line_info.entry(sec.to_string()).or_default();
            for rec in recs {
                out.push(LineInfo {
                    insn_off: word(rec, 0)?,
                    file_name_off: word(rec, 4)?,
                    line_off: word(rec, 8)?,
                    line_col: word(rec, 12)?,
                });
            }
        }
        ext.read_core_relos(blocks.core, btf)?;
        ext.sort_by_instruction();
        Ok(ext)
    }

    /// The CO-RE block: each record checked ([`core_relo`]), grouped by
    /// section in the order the sections first appear.
    fn read_core_relos(&mut self, block: &[u8], btf: &Btf) -> Result<()> {
        for (sec, recs) in info_blocks(block, 16, btf)? {
            let mut relos = Vec::with_capacity(recs.len());
            for rec in recs {
                relos.push(core_relo(rec, btf).map_err(|what| {
                    let insn_off = u32_at(rec, 0).unwrap_or(0);
                    ext_err(format!(
                        "CO-RE relocation for section '{sec}' at insn {}: {what}",
                        insn_off / 8
                    ))
                })?);
            }
            match self.core_relos.iter_mut().find(|(s, _)| s == sec) {
                Some((_, old)) => old.extend(relos),
                None => self.core_relos.push((sec.to_string(), relos)),
            }
        }
        Ok(())
    }

    /// In instruction order, as clang writes them (a hostile object need
    /// not): relocation then finds each function's records by binary
    /// search. The kernel wants them strictly increasing anyway.
    fn sort_by_instruction(&mut self) {
        for v in self.func_info.values_mut() {
            if !v.is_sorted_by_key(|r| r.insn_off) {
                v.sort_unstable_by_key(|r| r.insn_off);
            }
        }
        for v in self.line_info.values_mut() {
            if !v.is_sorted_by_key(|r| r.insn_off) {
                v.sort_unstable_by_key(|r| r.insn_off);
            }
        }
    }
}

/// One section's records of an info block: its name and each record.
type InfoSection<'b, 'd> = (&'b str, Vec<&'d [u8]>);

/// Reads and checks one `struct bpf_core_relo`: the type id must exist in
/// the object's BTF, the access string must be in the string section and be
/// `N(:N)*`, and the kind must be one of `enum bpf_core_relo_kind`.
fn core_relo(rec: &[u8], btf: &Btf) -> std::result::Result<CoreRelo, String> {
    let field = |pos| u32_at(rec, pos).ok_or_else(|| "record too short".to_string());
    let (insn_off, type_id, access_off, kind) = (field(0)?, field(4)?, field(8)?, field(12)?);
    if insn_off % 8 != 0 {
        return Err(format!(
            "insn_off {insn_off} is not on an instruction boundary"
        ));
    }
    if type_id == 0 || type_id as usize >= btf.len() {
        return Err(format!("type id {type_id} does not exist"));
    }
    if kind > CORE_RELO_KIND_MAX {
        return Err(format!("unknown relocation kind {kind}"));
    }
    let access = btf
        .name(access_off)
        .map_err(|_| format!("access string offset {access_off} is out of range"))?;
    let well_formed = !access.is_empty()
        && access.len() <= 256
        && access
            .split(':')
            .all(|n| !n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit()));
    if !well_formed {
        return Err(format!(
            "access string {access:?} is not a list of numbers such as \"0:1:2\""
        ));
    }
    Ok(CoreRelo {
        insn_off,
        type_id,
        access: access.to_string(),
        kind,
    })
}

/// Splits one info block (`u32 rec_size`, then per section `{sec_name_off,
/// num_info, records}`) into `(section name, its records)`, leaving out
/// sections without records. Names are borrowed and each record is one
/// slice, so memory stays linear in the block's size whatever the counts
/// and names say.
fn info_blocks<'d, 'b>(
    data: &'d [u8],
    min_rec: usize,
    btf: &'b Btf,
) -> Result<Vec<InfoSection<'b, 'd>>> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let rec_size = word(data, 0)? as usize;
    if rec_size < min_rec || !rec_size.is_multiple_of(4) {
        return Err(ext_err(format!(
            "record size {rec_size} is invalid (need at least {min_rec})"
        )));
    }
    let mut out = Vec::new();
    let mut pos = 4;
    let mut names = NameBudget::new(data.len());
    while pos < data.len() {
        let sec = btf.name(word(data, pos)?)?;
        names.spend(sec)?;
        let count = word(data, pos + 4)? as usize;
        pos += 8;
        let len = count
            .checked_mul(rec_size)
            .filter(|&len| pos.checked_add(len).is_some_and(|end| end <= data.len()))
            .ok_or_else(|| ext_err(format!("{count} records for '{sec}' run past the block")))?;
        if count > 0 {
            out.push((sec, data[pos..pos + len].chunks_exact(rec_size).collect()));
        }
        pos += len;
    }
    Ok(out)
}

/// Section names may overlap in the string section, so reading and copying
/// them could cost far more than the block's own bytes: their total length
/// is capped, generously, to keep time and memory linear.
struct NameBudget {
    left: usize,
    budget: usize,
}

impl NameBudget {
    /// 16 bytes of names per byte of the block, and 64 KiB.
    fn new(block_len: usize) -> NameBudget {
        let budget = block_len.saturating_mul(16).saturating_add(64 * 1024);
        NameBudget {
            left: budget,
            budget,
        }
    }

    fn spend(&mut self, name: &str) -> Result<()> {
        self.left = self.left.checked_sub(name.len() + 1).ok_or_else(|| {
            ext_err(format!(
                "section names take more than {} bytes (16 per byte of the block)",
                self.budget
            ))
        })?;
        Ok(())
    }
}
