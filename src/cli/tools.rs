//! `rawbpf inspect` and `rawbpf disasm`: the object as the loader sees it,
//! without a kernel.

use rawbpf::Error;

use super::{Failure, Usage};

/// An object file, read with the loader's checks (a regular file, capped).
#[cfg(feature = "tools")]
pub(super) fn read_object(path: &str) -> Result<Vec<u8>, Error> {
    rawbpf::load::read_object(std::path::Path::new(path))
}

/// `rawbpf disasm OBJECT [--relocated] [--alu32] [PROGRAM]`.
#[cfg(feature = "tools")]
pub(super) fn disasm(args: &[String]) -> Result<(), Failure> {
    let mut opts = rawbpf::object::disasm::Options::default();
    let (mut object, mut relocated) = (None, false);
    for arg in args {
        match arg.as_str() {
            "--relocated" => relocated = true,
            "--alu32" => opts.syntax.alu32 = true,
            a if a.starts_with('-') => return Err(Usage(format!("unknown option '{a}'")).into()),
            a if object.is_none() => object = Some(a.to_string()),
            a if opts.program.is_none() => opts.program = Some(a.to_string()),
            a => return Err(Usage(format!("unexpected argument '{a}'")).into()),
        }
    }
    let object = object.ok_or_else(|| Usage("disasm needs an OBJECT".into()))?;
    let bytes = read_object(&object)?;
    let text = if relocated {
        // CO-RE and externs against the running kernel, as `run` applies them.
        let mut p = rawbpf::load::prepare(&bytes)?;
        rawbpf::load::relocate_core(&mut p, None, &[])?;
        let resolved = rawbpf::kernel::externs::resolve(&p.externs)?;
        rawbpf::object::disasm::relocated(&p, &resolved, &opts)?
    } else {
        rawbpf::object::disasm::object(&bytes, &opts)?
    };
    out!("{text}");
    Ok(())
}
