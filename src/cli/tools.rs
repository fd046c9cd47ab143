//! `rawbpf inspect` and `rawbpf disasm`: the object as the loader sees it,
//! without a kernel.

use rawbpf::Error;

use super::json::Json;
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
        rawbpf::ObjectSpec::parse(&bytes)?.disasm_relocated(&opts)?
    } else {
        rawbpf::object::disasm::object(&bytes, &opts)?
    };
    out!("{text}");
    Ok(())
}

/// `rawbpf inspect OBJECT [--json]`.
pub(super) fn inspect(args: &[String]) -> Result<(), Failure> {
    let (object, json) = match args {
        [object] => (object, false),
        [object, flag] | [flag, object] if flag == "--json" || flag == "-j" => (object, true),
        _ => return Err(Usage("inspect takes one OBJECT, and --json".into()).into()),
    };
    let bytes = read_object(object)?;
    if json {
        outln!(
            "{}",
            inspect_json(&rawbpf::ObjectSpec::parse(&bytes)?).render()
        );
    } else {
        out!("{}", rawbpf::object::inspect::inspect(&bytes)?);
    }
    Ok(())
}

/// The object as JSON: `{"license", "btf", "programs": [...], "maps": [...]}`.
fn inspect_json(spec: &rawbpf::ObjectSpec<'_>) -> Json {
    use rawbpf::uapi::{AttachType, ProgType};
    let programs = spec
        .programs()
        .map(|p| {
            let (prog_type, attach_type) = match p.kind() {
                Some(k) => (
                    Json::str(ProgType(k.prog_type).to_string()),
                    Json::str(AttachType(k.expected_attach_type).to_string()),
                ),
                None => (Json::Null, Json::Null),
            };
            Json::Obj(vec![
                ("name", Json::str(p.name())),
                ("section", Json::str(p.section())),
                ("type", prog_type),
                ("expected_attach_type", attach_type),
                ("autoload", Json::Bool(p.autoload())),
            ])
        })
        .collect();
    let maps = spec
        .maps()
        .map(|m| {
            Json::Obj(vec![
                ("name", Json::str(m.name())),
                ("type", Json::str(m.map_type().to_string())),
                ("key_size", Json::Num(m.key_size().into())),
                ("value_size", Json::Num(m.value_size().into())),
                ("max_entries", Json::Num(m.max_entries().into())),
                ("flags", Json::Num(m.flags().bits().into())),
                ("pin_by_name", Json::Bool(m.pin_by_name())),
            ])
        })
        .collect();
    let license = spec.object().license.to_string_lossy().into_owned();
    Json::Obj(vec![
        ("license", Json::str(license)),
        ("btf", Json::Bool(spec.btf().is_some())),
        ("programs", Json::Arr(programs)),
        ("maps", Json::Arr(maps)),
    ])
}
