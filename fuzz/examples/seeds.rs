//! Writes seed corpora from BPF objects: `seeds OUT_DIR OBJECT...`.
//!
//! Each object goes whole into OUT_DIR/prepare; its `.BTF` and `.BTF.ext`
//! into OUT_DIR/btf; each code section into OUT_DIR/decode.

use std::path::Path;

use rawbpf::object::elf::{Object, SectionKind};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((out, objects)) = args.split_first() else {
        eprintln!("usage: seeds OUT_DIR OBJECT...");
        std::process::exit(2);
    };
    let out = Path::new(out);
    for dir in ["prepare", "btf", "decode"] {
        std::fs::create_dir_all(out.join(dir)).expect("create corpus directory");
    }
    for path in objects {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let stem = Path::new(path)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("object")
            .trim_end_matches(".bpf.o")
            .to_string();
        let write = |dir: &str, name: String, data: &[u8]| {
            std::fs::write(out.join(dir).join(name), data).expect("write seed");
        };
        write("prepare", format!("{stem}.o"), &bytes);
        let obj = match Object::parse(&bytes) {
            Ok(obj) => obj,
            Err(e) => {
                eprintln!("{path}: {e} (only the whole object is a seed)");
                continue;
            }
        };
        if let Some(btf) = obj.btf {
            write("btf", format!("{stem}.BTF"), btf);
        }
        if let Some(ext) = obj.btf_ext {
            write("btf", format!("{stem}.BTF.ext"), ext);
        }
        for s in &obj.sections {
            if matches!(s.kind, SectionKind::Program | SectionKind::Text) {
                let name = s.name.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
                write("decode", format!("{stem}.{}{name}", s.index), s.data);
            }
        }
    }
}
