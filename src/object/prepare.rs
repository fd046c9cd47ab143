//! The object layer's pipeline in one call: ELF bytes in, everything the
//! loader needs before its first system call out (the steps listed in
//! [`crate::object`], in their order).
//!
//! Order matters: externs are found in the BTF as clang wrote it, before the
//! fix-ups rewrite their types into what the kernel accepts
//! (`btf_datasec_check_meta`, `btf_var_check_meta`); `.BTF.ext` is read
//! against the fixed BTF's strings; maps are planned from the fixed BTF.
//! What needs the running kernel (CO-RE targets, extern values) comes after,
//! in the load layer, from [`crate::kernel`].

use crate::error::{Error, Result};
use crate::object::btf::{Btf, BtfExt};
use crate::object::elf::Object;
use crate::object::externs::Externs;
use crate::object::maps::{self, MapSpec};

/// What the kernel-free half of the pipeline makes of an object.
#[derive(Debug)]
pub struct Prepared<'a> {
    /// The parsed ELF object.
    pub object: Object<'a>,
    /// Its `.BTF`, parsed and fixed up.
    pub btf: Option<Btf>,
    /// Its `.BTF.ext`, parsed.
    pub ext: Option<BtfExt>,
    /// The maps to create.
    pub maps: Vec<MapSpec<'a>>,
    /// `__kconfig` and `__ksym` externs, resolved at load time.
    pub externs: Externs,
}

/// Parses the ELF, fixes up its BTF and plans its maps: everything before the
/// first system call.
pub fn prepare(bytes: &[u8]) -> Result<Prepared<'_>> {
    let object = Object::parse(bytes)?;
    if object.programs.is_empty() {
        return Err(Error::Elf(
            "no programs: no global function in an executable section other than .text".into(),
        ));
    }
    // Without .BTF (clang without -g) there is nothing to fix up and no
    // strings to read .BTF.ext with: those steps are skipped, and maps are
    // planned by size alone.
    let mut btf = object.btf.map(Btf::parse).transpose()?;
    // Externs are declared in BTF, before the fix-ups rewrite their types.
    let externs = Externs::collect(&object, btf.as_ref())?;
    if let Some(btf) = &mut btf {
        btf.fix_datasecs(&object)?;
        externs.fix_btf(btf)?;
    }
    let ext = match (object.btf_ext, &btf) {
        (Some(raw), Some(btf)) => Some(BtfExt::parse(raw, btf)?),
        _ => None,
    };
    let maps = maps::plan(&object, btf.as_ref())?;
    Ok(Prepared {
        object,
        btf,
        ext,
        maps,
        externs,
    })
}
